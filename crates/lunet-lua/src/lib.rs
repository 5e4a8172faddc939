//! lunet's Lua tier: one sandboxed Lua 5.4 state per script.
//!
//! A script's body runs once ([`State::load`]) and registers hooks with Lunatik's API
//! (`netfilter.register`, `xdp.attach`); each hook then runs per packet ([`State::run_netfilter`],
//! [`State::run_xdp`]) and always yields a verdict: its own, or its default one when it errors,
//! runs out of its instruction budget, or reaches the state's memory cap.
//!
//! This crate makes no system calls of its own beyond reading script files, `getrandom(2)` for
//! `linux.random` and what lunet-bpf does for it: packets come in as bytes and verdicts go out as
//! numbers. How packets reach it (NFQUEUE, a pcap file) is the caller's business.

pub mod api;
mod args;
mod bounded;
mod budget;
mod clock;
pub mod data;
mod datamod;
mod error;
pub mod flows;
mod hook;
mod inet_checksum;
mod limits;
pub mod log;
pub mod maps;
mod missing;
mod modules;
mod registry;
mod sandbox;
mod skb;
mod skbops;
mod snapshot;
mod source;
mod state;
mod watchdog;

pub use budget::AbortHandle;
pub use error::{describe, CompileInputError, HookError, ScriptError, ScriptErrorKind, MAX_ERROR};
pub use hook::{HookSpec, HookStats, StatsSnapshot};
pub use inet_checksum::{refresh_transport, transport_verifies};
pub use limits::{LimitError, Limits};
pub use log::{Line, Log, Stream};
pub use maps::{MapBacking, MapError, MapInfo};
pub use modules::rcu::RcuShared;
pub use modules::{resolve_script, Roots};
pub use skbops::{ConnMarks, Forwarded};
pub use source::{read_source, SourceError, MAX_SOURCE};
pub use state::{CompileInput, NfPacket, Outcome, State, StateOptions};
