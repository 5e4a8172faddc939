//! lunet-bench: `lunet bench` (how fast each method filters, measured on this machine) and
//! `lunet gen` (its traffic generator on its own), as a library the binary calls.
//!
//! The files, from the bottom up:
//!
//! - [`filters`]: what each filter must drop, its traffic, and how iptables, nft and Lua
//!   express it; the hand-written C of the `ebpf-c-*` methods is in `c/` ([`cprog`] builds
//!   it with clang).
//! - [`testbed`]: the two namespaces, the veth pair, the generator thread ([`sender`]) and
//!   the commands run in the receiver namespace; [`counters`]: the counting rules.
//! - [`methods`]: each method installed, and what it counted; [`xdp`]: `BPF_PROG_TEST_RUN`
//!   timings of the eBPF methods.
//! - [`measure`]: one run and its check; [`row`]: a (filter, method) result; [`ratios`],
//!   [`report`] (the table, the JSON) and [`docs`] (the Markdown page and its chart).
//! - [`bench`]: the driver, round by round; [`gen`]: `lunet gen`.
//!
//! And [`vs_clang`], the compiler's benchmark against clang (`BPF_PROG_TEST_RUN` of lunet's
//! program and the hand-written C of two filters, side by side): a developer's tool, run by
//! `scripts/bench-compiler.sh` through this crate's example `vs_clang`, not a `lunet` command.

mod bench;
mod counters;
mod cprog;
mod cpu;
mod docs;
mod filters;
pub mod gen;
mod measure;
mod methods;
mod ratios;
mod report;
mod row;
mod rules;
mod scripts;
mod sender;
mod testbed;
pub mod vs_clang;
mod xdp;

pub use bench::{run, BenchError, Options};
pub use filters::Filter;
pub use methods::Method;
