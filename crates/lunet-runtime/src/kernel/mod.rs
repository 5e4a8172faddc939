//! The kernel tier's glue: a hook of a state compiled (lunet-compile), loaded into the kernel
//! (the verifier's word reported with the Lua line it refused), attached with a pinned link,
//! or run on test packets with `BPF_PROG_TEST_RUN`; and the reader that moves what compiled
//! hooks `print` from their ring buffers into the state's log ([`print`]).
//!

mod error;
mod print;

use std::os::fd::AsRawFd;
use std::path::Path;

use lunet_bpf::link::{self, LinkFd};
use lunet_bpf::map::Map;
use lunet_bpf::prog::{self, prog_type, ProgFd, XdpMd};
use lunet_compile::{HookInput, LoopBound, Options, Program, Target};
use lunet_lua::{HookSpec, State};
use lunet_types::{Attach, MapRef};

pub use error::KernelError;
pub use print::{HookPrints, PrintMaps, PrintReader};

/// The script's path and text, as the compiler and its messages need them.
pub struct Script {
    pub file: String,
    pub source: String,
}

impl Script {
    pub fn read(path: &Path) -> Result<Script, KernelError> {
        let source = std::fs::read_to_string(path).map_err(|source| KernelError::ReadScript {
            path: path.to_path_buf(),
            source,
        })?;
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
            return Err(KernelError::NotXdp {
                at: spec.defined_at.clone(),
                hook: spec.name.clone(),
            })
        }
    };
    let lunet_lua::CompileInput { function, upvalues } = state
        .compile_input(spec.id)
        .map_err(|e| KernelError::Snapshot(e.to_string()))?;
    Ok(HookInput {
        file: script.file.clone(),
        source: script.source.clone(),
        function,
        upvalues,
        target,
        default_verdict: spec.default_verdict as i32,
    })
}

/// A compiler diagnostic as a [`KernelError`], rendered against the script's text.
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

/// The loop bounds [`compile_and_load`] tries, in order.
pub const LOOP_BOUNDS: [LoopBound; 2] = [LoopBound::MayGoto, LoopBound::Counter];

/// Compiles and loads an XDP hook: with `may_goto` loop bounds first, and when the verifier
/// finds that program too complex, again with per-loop counters. A hook that prints gets its
/// ring buffer and lost-records counter ([`PrintMaps`]).
pub fn compile_and_load(
    state: &State,
    spec: &HookSpec,
    script: &Script,
) -> Result<Loaded, KernelError> {
    let counters = create_map(
        &lunet_compile::verdict_counter_map(),
        "the verdict counters",
    )?;
    let mut fds = state.map_fds();
    fds.push((lunet_compile::COUNTER_MAP_ID, counters.as_raw_fd()));
    let mut print: Option<PrintMaps> = None;
    let mut refused = None;
    for loop_bound in LOOP_BOUNDS {
        let mut program = compile(state, spec, script, &Options { loop_bound })?;
        if !program.prints.is_empty() && print.is_none() {
            let p = PrintMaps::create()?;
            fds.push((lunet_compile::PRINT_MAP_ID, p.ring.as_raw_fd()));
            fds.push((lunet_compile::PRINT_LOST_MAP_ID, p.lost.as_raw_fd()));
            print = Some(p);
        }
        let ready = program
            .count_verdicts()
            .and_then(|()| program.patch_map_fds(&fds));
        if let Err(m) = ready {
            return Err(KernelError::Patch {
                at: spec.defined_at.clone(),
                hook: spec.name.clone(),
                message: m.to_string(),
            });
        }
        match prog::load(prog_type::XDP, &program.insns, "GPL", None) {
            Ok(prog) => {
                return Ok(Loaded {
                    program,
                    prog,
                    counters,
                    print,
                    loop_bound,
                })
            }
            Err(load) => {
                let too_complex =
                    load.log.contains("too complex") || load.log.contains("too large");
                refused = Some(refusal(&program, spec, script, load));
                if !too_complex {
                    break;
                }
            }
        }
    }
    Err(refused.unwrap_or(KernelError::NotLoaded {
        hook: spec.name.clone(),
    }))
}

/// The verifier's refusal of `program`, placed at the Lua line it refused when it says one.
fn refusal(
    program: &Program,
    spec: &HookSpec,
    script: &Script,
    load: lunet_bpf::LoadError,
) -> KernelError {
    let at = program
        .verifier_line(&load.log)
        .map(|(_, line)| format!("{}:{line}: ", script.file))
        .unwrap_or_else(|| format!("{}: ", script.file));
    let tail: Vec<&str> = load.log.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    KernelError::Refused {
        at,
        hook: spec.name.clone(),
        tail: tail.join(" | "),
        load,
    }
}

/// A compiled hook in the kernel, with the per-CPU map it counts its verdicts in and, when it
/// prints, its print maps.
pub struct Loaded {
    pub program: Program,
    pub prog: ProgFd,
    pub counters: Map,
    pub print: Option<PrintMaps>,
    /// The loop bound of the program the verifier accepted.
    pub loop_bound: LoopBound,
}

fn create_map(r: &MapRef, what: &'static str) -> Result<Map, KernelError> {
    Map::create(
        lunet_bpf::map::map_type::of(r.decl.kind),
        r.decl.key.size as u32,
        r.decl.value.size as u32,
        r.decl.entries,
        &r.decl.name,
    )
    .map_err(|source| KernelError::CreateMap { what, source })
}

/// Slot `slot` (a host-order `u32` key) of a per-CPU array of `u64`s, summed over the CPUs.
fn per_cpu_sum(map: &Map, slot: u32) -> u64 {
    map.lookup(&slot.to_ne_bytes())
        .ok()
        .flatten()
        .map(|per_cpu| {
            per_cpu
                .chunks(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .sum()
        })
        .unwrap_or(0)
}

/// The verdict counts of a compiled hook (summed over CPUs), by verdict value.
pub fn read_counters(counters: &Map) -> Vec<u64> {
    (0..lunet_compile::COUNTER_SLOTS)
        .map(|slot| per_cpu_sum(counters, slot))
        .collect()
}

/// Attaches `prog` at XDP on `dev` (in the calling thread's network namespace) and pins the
/// link at `pin`, so the hook stays attached until the pin is removed.
pub fn attach_xdp(prog: &ProgFd, dev: &str, pin: &Path) -> Result<LinkFd, KernelError> {
    let ifindex = link::ifindex(dev).map_err(|source| KernelError::NoDevice {
        dev: dev.to_string(),
        source,
    })?;
    let l = link::link_create_xdp(prog, ifindex, 0).map_err(|source| KernelError::Attach {
        dev: dev.to_string(),
        source,
    })?;
    if let Some(dir) = pin.parent() {
        lunet_bpf::pin::ensure_bpffs().map_err(KernelError::Bpffs)?;
        std::fs::create_dir_all(dir).map_err(|source| KernelError::PinDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    lunet_bpf::pin::pin(&l, pin).map_err(|source| KernelError::Pin {
        pin: pin.to_path_buf(),
        source,
    })?;
    Ok(l)
}

/// Runs `prog` once on `frame` and gives the action it returned.
pub fn test_run_xdp(prog: &ProgFd, frame: &[u8]) -> Result<u32, KernelError> {
    let ctx = XdpMd::for_packet(frame.len(), 0).to_bytes();
    prog::test_run(prog, frame, 1, Some(&ctx), 0, 0)
        .map(|r| r.retval)
        .map_err(KernelError::TestRun)
}

/// Whether this process may load programs (root); the reason when not.
pub fn can_load() -> Result<(), KernelError> {
    if lunet_netns::is_root() {
        Ok(())
    } else {
        Err(KernelError::NotRoot)
    }
}
