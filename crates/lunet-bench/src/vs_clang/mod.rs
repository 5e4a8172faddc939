//! The kernel tier's benchmark against clang: ns per packet from `BPF_PROG_TEST_RUN` for the
//! SNI and DNS blocklist filters compiled by lunet (`examples/xdp-*-blocklist.lua`) and for the
//! same logic written in C (`crates/lunet-bench/c/{sni,dns}.c`) and compiled with
//! `clang -O2 -target bpf`, measured side by side in one run. A benchmark, not a test: run it
//! with `scripts/bench-compiler.sh`, which builds the C objects and then runs
//!
//! ```text
//! cargo run --release -p lunet-bench --example vs_clang -- --obj-dir DIR [--rounds 20]
//!     [--repeat 1000000] [--cpu N] [--json FILE] [--asm-dir DIR]
//! ```
//!
//! Needs root (`bpf(2)`). What it does:
//! 1. Loads each Lua script in a lunet-lua state, takes its XDP hook's input as the runtime
//!    does (`lunet_runtime::kernel`), compiles and loads it with the runtime's loading policy
//!    (`may_goto` first, per-loop counters when the verifier finds that too complex), without
//!    the verdict counters `lunet run` adds; reads the C program's instructions from the
//!    `xdp` section of its object (`lunet_bpf::elf`, no libbpf); loads both ([`load`]).
//! 2. Checks that the two programs, and the Lua tier, give the same verdict on every benchmark
//!    frame and on a corpus of other names, truncations and byte mutations of them; any
//!    mismatch ends the run with an error before anything is timed ([`corpus`]). The
//!    interpreter of [`interp`] runs both programs on the same corpus to count the
//!    instructions each executes per frame, and must agree with the kernel too.
//! 3. Anchors every program in the kernel's XDP dispatcher ([`lunet_gen::Anchor`]: a
//!    generic-mode attachment to `lo` of a private, empty network namespace): a
//!    `BPF_PROG_TEST_RUN` with `repeat > 1` of an unattached XDP program otherwise costs about
//!    22 ms of dispatcher update per call (`docs/kernel-notes.md`). That cost is outside the
//!    kernel's timed loop but inside the call's CPU time measured here (22 ns per run at 10^6
//!    repeats); with the anchor the per-call setup is microseconds.
//! 4. For `--rounds` rounds, for every filter and frame kind, runs lunet's and the C program
//!    `--repeat` times each, one right after the other, alternating which goes first; pinned
//!    to one CPU ([`timing`]). Reports medians over the rounds ([`table`]).
//!
//! ns/pkt is the CPU time the calling thread spent in one `BPF_PROG_TEST_RUN` call
//! (`CLOCK_THREAD_CPUTIME_ID`) divided by its repeat count. The kernel's own `duration` is
//! the same loop in whole nanoseconds (printed beside it): too coarse for ratios of programs
//! that take 20-60 ns. Wall time would count the time the thread sits preempted when other
//! work shares the CPU; thread CPU time, like the kernel's timer, does not. The per-call
//! overhead it keeps (one syscall, copying one frame) is a few microseconds per million runs.
//!
//! Progress and the verifier's statistics go to stderr, the table to stdout.

mod corpus;
mod error;
mod interp;
mod load;
mod profile;
mod table;
mod timing;

use std::path::PathBuf;
use std::time::Instant;

pub use error::VsClangError;
pub use interp::{InterpError, Run};

/// What the benchmark is asked for (the harness's command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Holds `sni.o` and `dns.o`, from `clang -O2 -target bpf -c crates/lunet-bench/c/{sni,dns}.c`.
    pub obj_dir: PathBuf,
    /// Holds `xdp-sni-blocklist.lua` and `xdp-dns-blocklist.lua`.
    pub examples: PathBuf,
    /// Timed rounds (at least 1).
    pub rounds: usize,
    /// Runs per `BPF_PROG_TEST_RUN` call (at least 1).
    pub repeat: u32,
    /// The CPU to pin to; the last one when not given.
    pub cpu: Option<usize>,
    /// Where the results go as JSON.
    pub json: Option<PathBuf>,
    /// Where lunet's listings go (`FILTER.lunet.asm`).
    pub asm_dir: Option<PathBuf>,
    /// Where both programs' listings with per-frame execution counts go ([`profile`]).
    pub profile_dir: Option<PathBuf>,
    /// The C compiler and its flags, as the table names them.
    pub compiler: Option<String>,
    /// Seconds to keep the programs loaded after timing (for `bpftool prog dump jited`).
    pub hold: u64,
    /// Where the C programs' whole verifier log (level 1) goes, for debugging a refusal.
    pub c_verifier_log: Option<PathBuf>,
}

/// The two filters: name, Lua example, C object.
const FILTERS: [(&str, &str, &str); 2] = [
    ("sni", "xdp-sni-blocklist.lua", "sni.o"),
    ("dns", "xdp-dns-blocklist.lua", "dns.o"),
];

/// Runs the benchmark: loads, checks, times, prints the table (and writes what `opts` asks).
pub fn run(opts: &Options) -> Result<(), VsClangError> {
    if opts.rounds == 0 || opts.repeat == 0 {
        return Err(VsClangError::NothingToTime);
    }
    if !lunet_netns::is_root() {
        return Err(VsClangError::NotRoot);
    }
    let started = Instant::now();

    // 1. Compile and load.
    let filters = FILTERS
        .iter()
        .map(|&(name, lua, obj)| load::Filter::load(name, lua, obj, opts))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(dir) = &opts.asm_dir {
        profile::write_listings(dir, &filters)?;
    }
    if let Some(dir) = &opts.profile_dir {
        profile::write_profiles(dir, &filters)?;
    }

    // 2. Same verdicts everywhere, and the expected ones on the timed frames.
    let checked = corpus::check(&filters)?;

    // 3. and 4. Anchor, pin, time.
    let timed = timing::time(&filters, opts)?;

    // 5. Report.
    table::report(opts, &filters, &timed, checked, started)
}
