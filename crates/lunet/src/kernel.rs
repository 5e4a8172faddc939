//! The kernel tier's glue: a hook of a running state compiled (lunet-compile), loaded into the
//! kernel (the verifier's word reported with the Lua line it refused), attached with a pinned
//! link, or run on test packets with `BPF_PROG_TEST_RUN`.

use std::path::Path;

use std::os::fd::AsRawFd;

use lunet_bpf::link::{self, LinkFd};
use lunet_bpf::map::Map;
use lunet_bpf::prog::{self, prog_type, ProgFd, XdpMd};
use lunet_compile::{HookInput, LoopBound, Options, Program, Target};
use lunet_lua::{Attach, HookSpec, State};

/// Why a hook did not make it into the kernel.
#[derive(Debug)]
pub enum KernelError {
    /// Outside the kernel-tier subset: the rendered diagnostic (codespan style) and its one line.
    Unsupported { rendered: String, line: String },
    /// Anything else: the verifier refused it, a device is missing, ...
    Failed(String),
}

impl KernelError {
    pub fn line(&self) -> &str {
        match self {
            KernelError::Unsupported { line, .. } | KernelError::Failed(line) => line,
        }
    }
}

/// The script's path and text, as the compiler and its messages need them.
pub struct Script {
    pub file: String,
    pub source: String,
}

impl Script {
    pub fn read(path: &Path) -> Result<Script, String> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read script: {e}", path.display()))?;
        Ok(Script {
            file: path.display().to_string(),
            source,
        })
    }
}

/// What the compiler is given for hook `spec` of `state`.
pub fn input(state: &State, spec: &HookSpec, script: &Script) -> Result<HookInput, KernelError> {
    let target = match spec.attach {
        Attach::Xdp { .. } => Target::Xdp,
        Attach::Netfilter { .. } => {
            return Err(KernelError::Failed(format!(
                "{}: hook '{}': the kernel tier compiles XDP hooks only, for now",
                spec.defined_at, spec.name
            )))
        }
    };
    let lunet_lua::CompileInput { function, upvalues } =
        state.compile_input(spec.id).map_err(KernelError::Failed)?;
    Ok(HookInput {
        file: script.file.clone(),
        source: script.source.clone(),
        function,
        upvalues,
        target,
        default_verdict: spec.default_verdict as i32,
    })
}

pub fn unsupported(d: lunet_compile::Diagnostic, script: &Script) -> KernelError {
    KernelError::Unsupported {
        rendered: d.render(&script.source),
        line: d.to_string(),
    }
}

/// Compiles hook `spec` of `state` with `options`.
pub fn compile(
    state: &State,
    spec: &HookSpec,
    script: &Script,
    options: &Options,
) -> Result<Program, KernelError> {
    let input = input(state, spec, script)?;
    lunet_compile::compile_with(&input, options).map_err(|d| unsupported(d, script))
}

/// Compiles and loads an XDP hook. Loops are bounded with `may_goto` first; a program the
/// verifier finds too complex that way is compiled again with per-loop counters.
pub fn compile_and_load(
    state: &State,
    spec: &HookSpec,
    script: &Script,
) -> Result<Loaded, KernelError> {
    let counters = counter_map().map_err(KernelError::Failed)?;
    let mut fds = state.map_fds();
    fds.push((lunet_compile::COUNTER_MAP_ID, counters.as_raw_fd()));
    let mut last = String::new();
    for loop_bound in [LoopBound::MayGoto, LoopBound::Counter] {
        let mut program = compile(state, spec, script, &Options { loop_bound })?;
        let ready = program
            .count_verdicts()
            .and_then(|()| program.patch_map_fds(&fds));
        if let Err(m) = ready {
            return Err(KernelError::Failed(format!(
                "{}: hook '{}': {m}",
                spec.defined_at, spec.name
            )));
        }
        match prog::load(prog_type::XDP, &program.insns, "GPL", None) {
            Ok(prog) => {
                return Ok(Loaded {
                    program,
                    prog,
                    counters,
                })
            }
            Err(e) => {
                let at = program
                    .verifier_line(&e.log)
                    .map(|(_, line)| format!("{}:{line}: ", script.file))
                    .unwrap_or_else(|| format!("{}: ", script.file));
                let tail: Vec<&str> = e.log.lines().rev().take(3).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                last = format!(
                    "{at}the kernel's verifier refused hook '{}' ({}): {}",
                    spec.name,
                    e.io_error(),
                    tail.join(" | ")
                );
                let complex = e.log.contains("too complex") || e.log.contains("too large");
                if !complex {
                    break;
                }
            }
        }
    }
    Err(KernelError::Failed(last))
}

/// A compiled hook in the kernel, with the per-CPU map it counts its verdicts in.
pub struct Loaded {
    pub program: Program,
    pub prog: ProgFd,
    pub counters: Map,
}

fn counter_map() -> Result<Map, String> {
    let r = lunet_compile::verdict_counter_map();
    Map::create(
        r.kind.map_type(),
        r.key.size as u32,
        r.value.size as u32,
        r.entries,
        &r.name,
    )
    .map_err(|e| format!("creating the verdict counters failed: {e}"))
}

/// The verdict counts of a compiled hook (summed over CPUs), by verdict value.
pub fn read_counters(counters: &Map) -> Vec<u64> {
    (0..lunet_compile::COUNTER_SLOTS)
        .map(|slot| {
            counters
                .lookup(&slot.to_ne_bytes())
                .ok()
                .flatten()
                .map(|per_cpu| {
                    per_cpu
                        .chunks(8)
                        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                        .sum()
                })
                .unwrap_or(0)
        })
        .collect()
}

/// Attaches `prog` at XDP on `dev` (in the calling thread's network namespace) and pins the
/// link at `pin`, so the hook stays attached until the pin is removed.
pub fn attach_xdp(prog: &ProgFd, dev: &str, pin: &Path) -> Result<LinkFd, String> {
    let ifindex = link::ifindex(dev)
        .map_err(|e| format!("no device '{dev}' in this network namespace: {e}"))?;
    let l = link::link_create_xdp(prog, ifindex, 0)
        .map_err(|e| format!("attaching XDP on '{dev}' failed: {e}"))?;
    if let Some(dir) = pin.parent() {
        lunet_bpf::pin::ensure_bpffs().map_err(|e| format!("bpffs is not available: {e}"))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    lunet_bpf::pin::pin(&l, pin)
        .map_err(|e| format!("pinning the XDP link at {} failed: {e}", pin.display()))?;
    Ok(l)
}

/// Runs `prog` once on `frame` and gives the action it returned.
pub fn test_run_xdp(prog: &ProgFd, frame: &[u8]) -> Result<u32, String> {
    let ctx = XdpMd::for_packet(frame.len(), 0).to_bytes();
    prog::test_run(prog, frame, 1, Some(&ctx), 0, 0)
        .map(|r| r.retval)
        .map_err(|e| format!("BPF_PROG_TEST_RUN failed: {e}"))
}

/// Whether this process may load programs (root); the reason when not.
pub fn can_load() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("loading eBPF programs needs root".into());
    }
    Ok(())
}
