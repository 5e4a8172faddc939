//! lunet-runtime: what runs lunet's scripts, for the `lunet` binary and the benchmark.
//!
//! - [`runner`]: a started script on its own thread: its Lua state, its rules and queues, its
//!   compiled hooks ([`runner::Running`]).
//! - [`kernel`]: the kernel tier's loader: compile a hook, load it (the one policy for loop
//!   bounds), attach it, run it on test packets, read what it prints.
//! - [`daemon`]: the daemon's server, holding the running states and answering [`protocol`]
//!   requests on a Unix socket.
//! - [`replay`] and [`check`]: a script's hooks over a pcap file, and what a script would
//!   become, as reports the binary prints.
//!
//! Errors are typed; the binary turns them into exit codes and messages.

pub mod check;
pub mod daemon;
pub mod kernel;
mod mapops;
pub mod protocol;
pub mod replay;
pub mod runner;
