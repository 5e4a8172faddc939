//! The kernel tier's glue: a hook of a running state compiled (lunet-compile), loaded into the
//! kernel (the verifier's word reported with the Lua line it refused), attached with a pinned
//! link, or run on test packets with `BPF_PROG_TEST_RUN`; and the reader that moves what
//! compiled hooks `print` from their ring buffers into the state's log ([`PrintReader`]).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use lunet_bpf::link::{self, LinkFd};
use lunet_bpf::map::Map;
use lunet_bpf::prog::{self, prog_type, ProgFd, XdpMd};
use lunet_bpf::ringbuf::{self, RingBuf};
use lunet_compile::{HookInput, LoopBound, Options, PrintSite, Program, Target};
use lunet_lua::{HookSpec, Log, State, Stream};
use lunet_types::{Attach, MapRef};

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
    let lunet_lua::CompileInput { function, upvalues } = state
        .compile_input(spec.id)
        .map_err(|e| KernelError::Failed(e.to_string()))?;
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
/// verifier finds too complex that way is compiled again with per-loop counters. A hook that
/// prints gets its ring buffer and lost-records counter ([`PrintMaps`]).
pub fn compile_and_load(
    state: &State,
    spec: &HookSpec,
    script: &Script,
) -> Result<Loaded, KernelError> {
    let counters = create_map(
        &lunet_compile::verdict_counter_map(),
        "the verdict counters",
    )
    .map_err(KernelError::Failed)?;
    let mut fds = state.map_fds();
    fds.push((lunet_compile::COUNTER_MAP_ID, counters.as_raw_fd()));
    let mut print: Option<PrintMaps> = None;
    let mut last = String::new();
    for loop_bound in [LoopBound::MayGoto, LoopBound::Counter] {
        let mut program = compile(state, spec, script, &Options { loop_bound })?;
        if !program.prints.is_empty() && print.is_none() {
            let p = PrintMaps::create().map_err(KernelError::Failed)?;
            fds.push((lunet_compile::PRINT_MAP_ID, p.ring.as_raw_fd()));
            fds.push((lunet_compile::PRINT_LOST_MAP_ID, p.lost.as_raw_fd()));
            print = Some(p);
        }
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
                    print,
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

/// A compiled hook in the kernel, with the per-CPU map it counts its verdicts in and, when it
/// prints, its print maps.
pub struct Loaded {
    pub program: Program,
    pub prog: ProgFd,
    pub counters: Map,
    pub print: Option<PrintMaps>,
}

/// The maps a printing hook writes: its ring buffer of records and the per-CPU count of
/// records the full ring refused.
pub struct PrintMaps {
    pub ring: Map,
    pub lost: Map,
}

impl PrintMaps {
    fn create() -> Result<PrintMaps, String> {
        Ok(PrintMaps {
            ring: create_map(&lunet_compile::print_ring_map(), "the print ring buffer")?,
            lost: create_map(&lunet_compile::print_lost_map(), "the lost-print counter")?,
        })
    }
}

fn create_map(r: &MapRef, what: &str) -> Result<Map, String> {
    Map::create(
        lunet_bpf::map::map_type::of(r.decl.kind),
        r.decl.key.size as u32,
        r.decl.value.size as u32,
        r.decl.entries,
        &r.decl.name,
    )
    .map_err(|e| format!("creating {what} failed: {e}"))
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

/// A printing hook's side of the log: its ring buffer, mapped for reading, its lost-records
/// counter and its print sites (to decode the records).
pub struct HookPrints {
    hook: String,
    ring: RingBuf,
    lost: Map,
    sites: Vec<PrintSite>,
    lost_seen: u64,
}

impl HookPrints {
    pub fn new(hook: &str, maps: PrintMaps, sites: Vec<PrintSite>) -> Result<HookPrints, String> {
        let ring = RingBuf::new(maps.ring)
            .map_err(|e| format!("hook '{hook}': mapping the print ring buffer failed: {e}"))?;
        Ok(HookPrints {
            hook: hook.to_string(),
            ring,
            lost: maps.lost,
            sites,
            lost_seen: 0,
        })
    }

    /// Moves every record into `log` as a `print` line; returns how many.
    fn drain(&mut self, log: &Log) -> usize {
        let sites = &self.sites;
        self.ring
            .consume(|r| log.push(Stream::Print, lunet_compile::decode_print(r, sites)))
    }

    /// Says in `log` how many more records the full ring refused since the last look.
    fn report_lost(&mut self, log: &Log) {
        let lost = per_cpu_sum(&self.lost, 0);
        if lost > self.lost_seen {
            log.push(
                Stream::Error,
                format!(
                    "hook '{}': {} print line(s) lost: the ring buffer was full",
                    self.hook,
                    lost - self.lost_seen
                ),
            );
            self.lost_seen = lost;
        }
    }
}

/// How long the reader waits for records before it looks at the stop flag again.
const PRINT_POLL: Duration = Duration::from_millis(100);

/// One thread per state that waits on its printing hooks' ring buffers (`poll(2)` on their
/// fds) and writes each record, decoded, into the state's log with [`Stream::Print`]; lost
/// records are reported there too. Dropping it stops the thread after a last read.
pub struct PrintReader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrintReader {
    pub fn start(state: &str, log: Log, hooks: Vec<HookPrints>) -> Result<PrintReader, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("lunet-{state}-print"))
                .spawn(move || read_prints(hooks, &log, &stop))
                .map_err(|e| format!("cannot start the print reader: {e}"))?
        };
        Ok(PrintReader {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for PrintReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_prints(mut hooks: Vec<HookPrints>, log: &Log, stop: &AtomicBool) {
    let mut looked = Instant::now();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let rings: Vec<&RingBuf> = hooks.iter().map(|h| &h.ring).collect();
        if let Err(e) = ringbuf::wait_any(&rings, Some(PRINT_POLL)) {
            log.push(
                Stream::Error,
                format!("waiting for print lines failed: {e}"),
            );
            std::thread::sleep(PRINT_POLL);
        }
        let mut read = 0;
        for h in &mut hooks {
            read += h.drain(log);
        }
        if stopping || looked.elapsed() >= PRINT_POLL {
            hooks.iter_mut().for_each(|h| h.report_lost(log));
            looked = Instant::now();
        }
        if stopping {
            return;
        }
        if read == 0 && hooks.iter().any(|h| h.ring.pending() > 0) {
            // A record reserved and not committed yet: poll says readable until it is.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn lost_print_lines_are_reported_once_each() {
        if can_load().is_err() {
            eprintln!("SKIP: needs root for bpf(2)");
            return;
        }
        let maps = PrintMaps::create().unwrap();
        let slots = maps.lost.lookup_len().unwrap();
        let set = |lost: &Map, n: u64| {
            let mut v = vec![0u8; slots];
            v[..8].copy_from_slice(&n.to_ne_bytes());
            lost.update(&0u32.to_ne_bytes(), &v, 0).unwrap();
        };
        let lost = Map::from_fd(maps.lost.as_fd().try_clone_to_owned().unwrap()).unwrap();
        let mut h = HookPrints::new("h", maps, Vec::new()).unwrap();
        let log = Log::new(10);
        h.report_lost(&log);
        set(&lost, 3);
        h.report_lost(&log);
        h.report_lost(&log);
        set(&lost, 5);
        h.report_lost(&log);
        let texts: Vec<String> = log.since(0).into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            [
                "hook 'h': 3 print line(s) lost: the ring buffer was full",
                "hook 'h': 2 print line(s) lost: the ring buffer was full"
            ]
        );
        assert_eq!(h.drain(&log), 0, "an empty ring gives nothing");
    }
}
