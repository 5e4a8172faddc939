//! The kernel tier's glue: a hook of a state compiled (lunet-compile), loaded into the kernel
//! (the verifier's word reported with the Lua line it refused), attached with a pinned link,
//! or run on test packets with `BPF_PROG_TEST_RUN`; and the reader that moves what compiled
//! hooks `print` from their ring buffers into the state's log ([`print`]).
//!
//! [`compile_and_load`] is lunet's one loading policy (run, replay, check and the bench load
//! through it; the compiler's benchmark through [`load_first_accepted`], its core): loops
//! bounded with `may_goto` first; when the verifier gives up on that program as too complex
//! ([`lunet_bpf::LoadError::too_complex`]), compiled again with per-loop counters and loaded
//! once more. Without root, `check` compiles as the policy's first step does
//! ([`compile_unloaded`]).
//!

mod error;
mod maps;
mod print;

use std::os::fd::AsRawFd;
use std::path::Path;

use lunet_bpf::link::{self, LinkFd};
use lunet_bpf::map::Map;
use lunet_bpf::prog::{self, LoadOptions, ProgFd, XdpMd};
use lunet_compile::{HookInput, LoopBound, Options, Program, Target};
use lunet_lua::{HookSpec, MapBacking, State};
use lunet_types::Attach;

pub use error::KernelError;
use maps::create_map;
pub use maps::read_counters;
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
        Attach::Netfilter { mark, .. } => Target::Netfilter(lunet_compile::Netfilter {
            mark,
            kernel: nf_kernel()?,
        }),
    };
    let lunet_lua::CompileInput { function, upvalues } = state
        .compile_input(spec.id)
        .map_err(KernelError::Snapshot)?;
    Ok(HookInput {
        file: script.file.clone(),
        source: script.source.clone(),
        function,
        upvalues,
        target,
        default_verdict: spec.default_verdict as i32,
    })
}

/// What netfilter programs need from the running kernel's BTF, read once per process.
pub fn nf_kernel() -> Result<lunet_compile::NfKernel, KernelError> {
    static FOUND: std::sync::OnceLock<Result<lunet_compile::NfKernel, String>> =
        std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            std::fs::read(lunet_bpf::btf::VMLINUX)
                .map_err(|e| format!("{}: {e}", lunet_bpf::btf::VMLINUX))
                .and_then(|b| lunet_compile::NfKernel::from_btf(&b).map_err(|e| e.to_string()))
        })
        .clone()
        .map_err(|e| KernelError::NoNetfilterBtf(std::io::Error::other(e)))
}

/// A compiler diagnostic as a [`KernelError`], rendered against the script's text.
pub fn unsupported(d: lunet_compile::Diagnostic, script: &Script) -> KernelError {
    KernelError::Unsupported {
        rendered: d.render(&script.source),
        line: d.to_string(),
        constructs: d
            .all()
            .map(|c| format!("{}:{}:{}: {}", c.file, c.line, c.col, c.message))
            .collect(),
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

/// Compiles hook `spec` the way [`compile_and_load`] first does, for a look at the program
/// without loading it (no root).
pub fn compile_unloaded(
    state: &State,
    spec: &HookSpec,
    script: &Script,
) -> Result<Program, KernelError> {
    compile(
        state,
        spec,
        script,
        &Options {
            loop_bound: LOOP_BOUNDS[0],
        },
    )
}

/// The loop bounds [`compile_and_load`] tries, in order.
pub const LOOP_BOUNDS: [LoopBound; 2] = [LoopBound::MayGoto, LoopBound::Counter];

/// Compiles and loads an XDP hook: with `may_goto` loop bounds first, and when the verifier
/// finds that program too complex, again with per-loop counters ([`load_first_accepted`]).
/// The program counts its verdicts; a hook that prints gets its ring buffer and lost-records
/// counter ([`PrintMaps`]).
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
    let (program, prog, loop_bound) = load_first_accepted(state, spec, script, "", |program| {
        if !program.prints.is_empty() && print.is_none() {
            let p = PrintMaps::create()?;
            fds.push((lunet_compile::PRINT_MAP_ID, p.ring.as_raw_fd()));
            fds.push((lunet_compile::PRINT_LOST_MAP_ID, p.lost.as_raw_fd()));
            print = Some(p);
        }
        program
            .count_verdicts()
            .and_then(|()| program.patch_map_fds(&fds))
            .map_err(|source| KernelError::Patch {
                at: spec.defined_at.clone(),
                hook: spec.name.clone(),
                source,
            })
    })?;
    Ok(Loaded {
        program,
        prog,
        counters,
        print,
        loop_bound,
    })
}

/// The loading policy on its own: compiles hook `spec` with each loop bound of
/// [`LOOP_BOUNDS`] in turn, lets `finish` complete the program (map fds, verdict counters),
/// and loads it as XDP, named `name` (empty: no name); the first program the verifier
/// accepts wins ([`first_accepted`]). [`compile_and_load`] is this with lunet's counters and
/// maps; the compiler's benchmark loads the bare program.
pub fn load_first_accepted(
    state: &State,
    spec: &HookSpec,
    script: &Script,
    name: &str,
    mut finish: impl FnMut(&mut Program) -> Result<(), KernelError>,
) -> Result<(Program, ProgFd, LoopBound), KernelError> {
    first_accepted(&spec.name, |loop_bound| {
        let mut program = compile(state, spec, script, &Options { loop_bound })?;
        finish(&mut program)?;
        let (prog_type, expected_attach_type) = program.load_type();
        let load = prog::load_with(&LoadOptions {
            prog_type,
            insns: &program.insns,
            license: "GPL",
            expected_attach_type,
            name,
        });
        match load {
            Ok(prog) => Ok((program, prog, loop_bound)),
            Err(load) => Err(refusal(&program, spec, script, load)),
        }
    })
}

/// The policy: `attempt` compiles and loads with one loop bound of [`LOOP_BOUNDS`], in order.
/// The first program the verifier accepts wins. A verifier that gave up as too complex
/// ([`KernelError::verifier_gave_up`]) gets the next bound; any other error ends the tries.
/// The error is the last attempt's.
fn first_accepted<T>(
    hook: &str,
    mut attempt: impl FnMut(LoopBound) -> Result<T, KernelError>,
) -> Result<T, KernelError> {
    let mut last = None;
    for bound in LOOP_BOUNDS {
        match attempt(bound) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let again = e.verifier_gave_up();
                last = Some(e);
                if !again {
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| KernelError::NotLoaded {
        hook: hook.to_string(),
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
    pin_link(&l, pin)?;
    Ok(l)
}

/// Pins link `l` at `pin`, in the state's directory (made private on bpffs if missing).
fn pin_link(l: &LinkFd, pin: &Path) -> Result<(), KernelError> {
    if let Some(dir) = pin.parent() {
        lunet_bpf::pin::ensure_bpffs().map_err(KernelError::Bpffs)?;
        lunet_bpf::pin::make_state_dir(dir).map_err(|e| KernelError::PinDir {
            dir: dir.to_path_buf(),
            source: e.into(),
        })?;
    }
    lunet_bpf::pin::pin(l, pin).map_err(|source| KernelError::Pin {
        pin: pin.to_path_buf(),
        source,
    })
}

/// Puts `prog` at XDP on `dev`: through the link already pinned at `pin` when it attaches to
/// that device (its program is replaced atomically, so the device is never without one: a
/// reload, a restarted daemon), else through a new link pinned there.
pub fn attach_or_update_xdp(prog: &ProgFd, dev: &str, pin: &Path) -> Result<LinkFd, KernelError> {
    if let Ok(fd) = lunet_bpf::pin::get(pin) {
        let old = LinkFd::from_owned(fd);
        let ifindex = link::ifindex(dev).map_err(|source| KernelError::NoDevice {
            dev: dev.to_string(),
            source,
        })?;
        if link::xdp_ifindex(&old).ok() == Some(ifindex) {
            link::link_update(&old, prog).map_err(|source| KernelError::Attach {
                dev: dev.to_string(),
                source,
            })?;
            return Ok(old);
        }
        // Pinned for another device (or not an XDP link): the pin goes, and with it that
        // attachment.
        let _ = std::fs::remove_file(pin);
    }
    attach_xdp(prog, dev, pin)
}

/// Attaches the netfilter program `prog` at `hook` with `priority`, one link per
/// `(family, pin)` of `pins` (in the calling thread's network namespace), each pinned.
///
/// A link already pinned there (a reload, a restarted daemon) must go first: the kernel
/// refuses a second BPF netfilter link at the same family, hook and priority (`EBUSY`) and
/// cannot swap a netfilter link's program (`BPF_LINK_UPDATE` gives `EOPNOTSUPP`, Linux
/// 6.18). So its pin is removed and the new link made as soon as the kernel has released
/// the old one: for that moment the hook has no program and packets pass it unfiltered. The
/// pin's link is held open while its pin goes and closed after, which releases it at once
/// (an unpinned link's last reference otherwise goes from a deferred work item); `EBUSY` is
/// retried for up to [`NF_RELINK_WAIT`] all the same. The caller must hold no other fd of
/// the old link (a reload lets go of its own first).
pub fn attach_netfilter(
    prog: &ProgFd,
    hook: lunet_types::Hook,
    priority: i32,
    pins: &[(lunet_types::Family, std::path::PathBuf)],
) -> Result<Vec<LinkFd>, KernelError> {
    let mut links = Vec::new();
    for (family, pin) in pins {
        let old = lunet_bpf::pin::get(pin).ok();
        let _ = std::fs::remove_file(pin);
        drop(old);
        let start = std::time::Instant::now();
        let l = loop {
            match link::link_create_netfilter(prog, *family, hook, priority, 0) {
                Err(e)
                    if e.raw_os_error() == Some(libc::EBUSY)
                        && start.elapsed() < NF_RELINK_WAIT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                r => {
                    break r.map_err(|source| KernelError::AttachNetfilter {
                        at: format!("{family} {hook} priority {priority}"),
                        source,
                    })?
                }
            }
        };
        pin_link(&l, pin)?;
        links.push(l);
    }
    Ok(links)
}

/// How long [`attach_netfilter`] waits for the kernel to release a replaced link.
pub const NF_RELINK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs the netfilter program `prog` once on the Ethernet frame `frame` (an IPv4 packet, or
/// IPv6 when `v6`) as at PRE_ROUTING, and gives its verdict. The test run hands the program
/// the skb from the IP header on, with mark 0.
pub fn test_run_netfilter(prog: &ProgFd, frame: &[u8], v6: bool) -> Result<u32, KernelError> {
    let mut ctx = [0u8; 48]; // struct nf_hook_state: hook (PRE_ROUTING = 0), pf
    ctx[1] = if v6 { 10 } else { 2 };
    prog::test_run(prog, frame, 1, Some(&ctx), 0, 0)
        .map(|r| r.retval)
        .map_err(KernelError::TestRun)
}

/// Runs `prog` once on `frame` and gives the action it returned.
pub fn test_run_xdp(prog: &ProgFd, frame: &[u8]) -> Result<u32, KernelError> {
    let ctx = XdpMd::for_packet(frame.len(), 0).to_bytes();
    prog::test_run(prog, frame, 1, Some(&ctx), 0, 0)
        .map(|r| r.retval)
        .map_err(KernelError::TestRun)
}

/// Where a state's maps live when its compiled hooks are loaded only to be verified or
/// run on test packets (check as root, replay in the kernel tier): real kernel maps the
/// programs can use, unpinned; in process memory when no program is loaded.
pub fn unpinned_maps(loading: bool) -> MapBacking {
    if loading {
        MapBacking::Kernel {
            pin_dir: None,
            adopt: false,
        }
    } else {
        MapBacking::Memory
    }
}

/// Whether this process may load programs (root); the reason when not.
pub fn can_load() -> Result<(), KernelError> {
    if lunet_netns::is_root() {
        Ok(())
    } else {
        Err(KernelError::NotRoot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(errno: i32, log: &str) -> KernelError {
        KernelError::Refused {
            at: "x.lua:3: ".into(),
            hook: "h".into(),
            tail: log.into(),
            load: lunet_bpf::LoadError {
                errno,
                log: log.into(),
                log_truncated: false,
            },
        }
    }

    /// Runs the policy with `answers` as what each attempt gives; returns the bounds tried
    /// and the outcome (the bound that was accepted, or the error's text).
    fn run(answers: Vec<Result<(), KernelError>>) -> (Vec<LoopBound>, Result<LoopBound, String>) {
        let mut tried = Vec::new();
        let mut answers = answers.into_iter();
        let r = first_accepted("h", |bound| {
            tried.push(bound);
            answers.next().unwrap_or(Ok(())).map(|()| bound)
        });
        (tried, r.map_err(|e| e.to_string()))
    }

    #[test]
    fn may_goto_first_and_counters_only_when_the_verifier_gave_up() {
        let (tried, r) = run(vec![Ok(())]);
        assert_eq!(
            (tried, r),
            (vec![LoopBound::MayGoto], Ok(LoopBound::MayGoto))
        );

        let (tried, r) = run(vec![Err(refused(libc::E2BIG, "")), Ok(())]);
        assert_eq!(tried, LOOP_BOUNDS, "E2BIG: a million instructions walked");
        assert_eq!(r, Ok(LoopBound::Counter));

        let too_complex = "The sequence of 8193 jumps is too complex.";
        let (tried, _) = run(vec![Err(refused(libc::EFAULT, too_complex)), Ok(())]);
        assert_eq!(tried, LOOP_BOUNDS);
    }

    #[test]
    fn a_program_found_unsafe_is_not_tried_again() {
        let (tried, r) = run(vec![
            Err(refused(libc::EACCES, "R1 invalid mem access")),
            Ok(()),
        ]);
        assert_eq!(tried, [LoopBound::MayGoto]);
        let e = r.unwrap_err();
        assert!(
            e.starts_with("x.lua:3: the kernel's verifier refused hook 'h'"),
            "{e}"
        );
        // Neither is a failure that is not the verifier's (a map that cannot be made).
        let no_map = KernelError::CreateMap {
            what: "the verdict counters",
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        let (tried, _) = run(vec![Err(no_map), Ok(())]);
        assert_eq!(tried, [LoopBound::MayGoto]);
    }

    #[test]
    fn when_every_bound_is_too_complex_the_last_refusal_is_the_error() {
        let (tried, r) = run(vec![
            Err(refused(libc::E2BIG, "first")),
            Err(refused(libc::E2BIG, "second")),
        ]);
        assert_eq!(tried, LOOP_BOUNDS);
        assert!(r.unwrap_err().ends_with("second"));
    }
}
