//! Why the compiler's benchmark stopped. Every message is what the harness prints after
//! `vs_clang: `.

use std::io;
use std::path::PathBuf;

use lunet_runtime::kernel::KernelError;

/// Why the benchmark stopped before its table.
#[derive(Debug, thiserror::Error)]
pub enum VsClangError {
    #[error("needs root: BPF_PROG_TEST_RUN and loading XDP programs need CAP_BPF and CAP_NET_ADMIN (run scripts/bench-compiler.sh as root)")]
    NotRoot,
    #[error("no rounds or no repeats: nothing to time")]
    NothingToTime,
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The script's body did not load or run.
    #[error("{file}: the body failed: {source}")]
    Body {
        file: String,
        source: lunet_lua::ScriptError,
    },
    #[error("{file}: no xdp.attach")]
    NoXdpHook { file: String },
    /// lunet did not compile the hook, or the verifier refused every program of the policy:
    /// the compiler's rendered diagnostic, or the runtime's message.
    #[error("{}", .0.report())]
    Lunet(#[source] KernelError),
    #[error(transparent)]
    Object(#[from] lunet_bpf::elf::ElfError),
    #[error("{obj}: the verifier refused the C program: {source}")]
    CRefused {
        obj: String,
        source: lunet_bpf::LoadError,
    },
    /// The empty program the floor is timed with did not load.
    #[error(transparent)]
    Floor(lunet_bpf::LoadError),
    #[error(transparent)]
    Packet(#[from] lunet_gen::PacketError),
    #[error("BPF_PROG_TEST_RUN: {0}")]
    TestRun(#[source] io::Error),
    #[error("{filter} {kind}: lunet's verdict {got}, expected {want}")]
    Expected {
        filter: &'static str,
        kind: &'static str,
        got: u32,
        want: u32,
    },
    /// The programs are not the same logic: `shown` lists up to ten of the frames, one per
    /// line.
    #[error("{filter}: VERDICTS DIFFER on {differ} of {frames} frames; the programs are not the same logic, nothing was timed:\n{shown}")]
    Differ {
        filter: &'static str,
        differ: usize,
        frames: usize,
        shown: String,
    },
    #[error("{filter} {kind} {who}: interpreter: {source}")]
    Interp {
        filter: &'static str,
        kind: &'static str,
        who: &'static str,
        source: super::InterpError,
    },
    #[error("cannot pin to CPU {cpu}: {source}")]
    Pin { cpu: usize, source: io::Error },
    #[error("clock_gettime(CLOCK_THREAD_CPUTIME_ID): {0}")]
    Clock(#[source] io::Error),
    #[error("verdict {got} during timing, expected {want}")]
    TimedVerdict { got: u32, want: u32 },
}
