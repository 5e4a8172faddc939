//! Why a hook did not make it into (or could not be run in) the kernel.

use std::io;
use std::path::PathBuf;

/// Why a hook did not make it into the kernel. The message names the hook and, where the
/// compiler or the verifier says one, the Lua line.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Outside the kernel-tier subset: the compiler's diagnostics, rendered (codespan style),
    /// as one line (the error's message), and each construct as `file:line:col: message`.
    #[error("{line}")]
    Unsupported {
        rendered: String,
        line: String,
        constructs: Vec<String>,
    },
    #[error("{}: cannot read script: {source}", path.display())]
    ReadScript { path: PathBuf, source: io::Error },
    /// The running kernel's BTF lacks what netfilter programs need (kfuncs, `sk_buff`).
    #[error("the kernel tier's netfilter programs need the kernel's BTF: {0}")]
    NoNetfilterBtf(#[source] io::Error),
    /// The hook's upvalues could not be snapshotted for the compiler.
    #[error("{0}")]
    Snapshot(#[source] lunet_lua::CompileInputError),
    /// The compiled program's map references or verdict counters could not be set up.
    #[error("{at}: hook '{hook}': {source}")]
    Patch {
        at: String,
        hook: String,
        #[source]
        source: lunet_compile::ProgramError,
    },
    /// The verifier refused every program tried; `at` is `file:line: ` (or `file: `).
    #[error("{at}the kernel's verifier refused hook '{hook}' ({}): {tail}", load.io_error())]
    Refused {
        at: String,
        hook: String,
        /// The last lines of the verifier's log, joined by ` | `.
        tail: String,
        #[source]
        load: lunet_bpf::LoadError,
    },
    /// No program was tried (cannot happen: [`super::LOOP_BOUNDS`] is not empty).
    #[error("hook '{hook}' was not loaded")]
    NotLoaded { hook: String },
    #[error("creating {what} failed: {source}")]
    CreateMap {
        what: &'static str,
        source: io::Error,
    },
    #[error("no device '{dev}' in this network namespace: {source}")]
    NoDevice { dev: String, source: io::Error },
    #[error("attaching XDP on '{dev}' failed: {source}")]
    Attach { dev: String, source: io::Error },
    /// `at` is where: `netfilter ipv4 PRE_ROUTING priority 0`.
    #[error("attaching the netfilter program at {at} failed: {source}")]
    AttachNetfilter { at: String, source: io::Error },
    #[error("bpffs is not available: {0}")]
    Bpffs(io::Error),
    #[error("cannot create {}: {source}", dir.display())]
    PinDir { dir: PathBuf, source: io::Error },
    #[error("pinning the link at {} failed: {source}", pin.display())]
    Pin { pin: PathBuf, source: io::Error },
    #[error("hook '{hook}': mapping the print ring buffer failed: {source}")]
    PrintRing { hook: String, source: io::Error },
    #[error("cannot start the print reader: {0}")]
    PrintThread(io::Error),
    #[error("BPF_PROG_TEST_RUN failed: {0}")]
    TestRun(io::Error),
    #[error("loading eBPF programs needs root")]
    NotRoot,
}

impl KernelError {
    /// The verifier gave up on the program as too complex, rather than finding it unsafe.
    pub fn verifier_gave_up(&self) -> bool {
        matches!(self, KernelError::Refused { load, .. } if load.too_complex())
    }

    /// What a person reads: the rendered diagnostic for a hook outside the kernel-tier
    /// subset, the message otherwise.
    pub fn report(&self) -> String {
        match self {
            KernelError::Unsupported { rendered, .. } => rendered.clone(),
            other => other.to_string(),
        }
    }
}
