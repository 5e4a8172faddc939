//! A running script: its own thread, in its own network namespace, owning its Lua state, its
//! rules and its queues. The daemon, `run --foreground` and `demo` all start scripts here.
//!
//! Packets flow one way: kernel hook -> lunet's rule -> NFQUEUE -> this thread -> Lua hook(s)
//! -> verdict (+ mark, + rewritten bytes) -> kernel. Hooks of one state that land on the same
//! (family, hook, table) share one queue and run in priority order within it, because an
//! NFQUEUE ACCEPT resumes at the next table, not at the next rule.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use lunet_lua::{
    HookSpec, HookStats, Limits, Log, MapBacking, NfPacket, State, StateOptions, Stream,
};
use lunet_netfilter::{
    Backend, Family, Hook, Installed, Poller, QueueRule, QueueSocket, QueuedPacket, Verdict,
    RECV_BATCH,
};
use lunet_types::{nf, Attach, Tier};

use crate::kernel::{self, Script};
use crate::protocol::{HookReport, HookStatsReport, RunRequest, StateReport, StatsReport};

/// What to start.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub name: String,
    pub script: PathBuf,
    pub netns: Option<String>,
    pub dev: Option<String>,
    pub tier: Tier,
    pub limits: Limits,
    /// Where the state's maps are pinned (`<pin root>/<name>`); removed when it stops.
    pub pin_dir: PathBuf,
}

/// Where states pin their maps unless told otherwise.
pub const PIN_ROOT: &str = "/sys/fs/bpf/lunet";

impl RunSpec {
    /// The spec a `run` request asks for, with lunet's defaults where it is silent.
    pub fn from_request(r: RunRequest, pin_root: &std::path::Path) -> RunSpec {
        let defaults = Limits::default();
        let name = r.name.unwrap_or_else(|| default_name(&r.script));
        RunSpec {
            pin_dir: pin_root.join(&name),
            name,
            script: r.script,
            netns: r.netns,
            dev: r.dev,
            tier: r.tier,
            limits: Limits {
                memory: r.mem.unwrap_or(defaults.memory),
                hook_budget: r.budget.unwrap_or(defaults.hook_budget),
                ..defaults
            },
        }
    }
}

/// The state name `run` picks when none is given: the script's file stem.
pub fn default_name(script: &std::path::Path) -> String {
    script
        .file_stem()
        .map(|s| {
            s.to_string_lossy().replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "-",
            )
        })
        .unwrap_or_else(|| "script".into())
}

mod error;

pub use error::StartError;

/// A started script, as its owner holds it.
pub struct Running {
    pub report: StateReport,
    hooks: Vec<HookCounters>,
    pub log: Log,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    memory: Arc<AtomicUsize>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Queue numbers handed out by this process; a number another process holds is skipped.
static NEXT_QUEUE: AtomicU16 = AtomicU16::new(20_000);
/// Longest the state's thread sleeps in poll(2) before it looks at its stop flag again.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Batches taken from one queue before the next queue's turn.
const DRAIN_BATCHES: usize = 16;
/// The memory figure is refreshed after this many packets, or this long.
const MEMORY_PACKETS: u64 = 1024;
const MEMORY_EVERY: Duration = Duration::from_millis(100);

/// One queue and the hooks it feeds, in the order they run.
struct Group {
    queue: QueueSocket,
    hooks: Vec<(usize, u32)>, // (hook id, mark it wants)
}

struct Ready {
    report: StateReport,
    hooks: Vec<HookCounters>,
}

/// Where a hook's counters are: the Lua tier's, or a compiled hook's per-CPU map.
struct HookCounters {
    report: HookReport,
    lua: Arc<HookStats>,
    names: &'static [&'static str],
    kernel: Option<Arc<lunet_bpf::map::Map>>,
}

impl Running {
    /// Starts `spec` on a new thread and waits until its hooks are attached or it failed.
    pub fn start(spec: RunSpec) -> Result<Running, StartError> {
        let log = Log::new(2000);
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let memory = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let thread = {
            let (log, stop, done, memory) =
                (log.clone(), stop.clone(), done.clone(), memory.clone());
            std::thread::Builder::new()
                .name(format!("lunet-{}", spec.name))
                .spawn(move || {
                    state_thread(spec, log, &stop, &memory, tx);
                    done.store(true, Ordering::SeqCst);
                })
                .map_err(StartError::Thread)?
        };
        match rx.recv() {
            Ok(Ok(ready)) => Ok(Running {
                report: ready.report,
                hooks: ready.hooks,
                log,
                stop,
                done,
                memory,
                thread: Mutex::new(Some(thread)),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(StartError::ThreadGone)
            }
        }
    }

    pub fn is_running(&self) -> bool {
        !self.done.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> StatsReport {
        StatsReport {
            name: self.report.name.clone(),
            memory_used: self.memory.load(Ordering::Relaxed),
            hooks: self
                .hooks
                .iter()
                .map(|h| HookStatsReport {
                    hook: h.report.clone(),
                    stats: match &h.kernel {
                        None => h.lua.snapshot(h.names),
                        Some(map) => {
                            let counts = kernel::read_counters(map);
                            lunet_lua::StatsSnapshot {
                                packets: counts.iter().sum(),
                                verdicts: h
                                    .names
                                    .iter()
                                    .zip(&counts)
                                    .filter(|(_, n)| **n > 0)
                                    .map(|(name, n)| (name.to_string(), *n))
                                    .collect(),
                                ..Default::default()
                            }
                        }
                    },
                })
                .collect(),
        }
    }

    /// Stops the state: its rules and queues are gone when this returns.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The tier a hook asks for: its registration's, else the command line's.
fn demanded(spec: &HookSpec, cli: Tier) -> Tier {
    if spec.tier != Tier::Auto {
        spec.tier
    } else {
        cli
    }
}

/// A compiled hook in the kernel: its program and the link that attaches it.
struct InKernel {
    _prog: lunet_bpf::prog::ProgFd,
    _link: lunet_bpf::link::LinkFd,
    counters: Arc<lunet_bpf::map::Map>,
    /// What the hook prints, until `setup` hands it to the state's print reader.
    prints: Option<kernel::HookPrints>,
    /// The state's print reader, held by each of its compiled hooks: it stops (after a last
    /// read) when the last of them is dropped.
    _printer: Option<Arc<kernel::PrintReader>>,
}

/// Puts XDP hook `h` in the kernel: compiled, verified, attached on its device with a pinned
/// link. Gives the report's reason and placement.
fn attach_kernel(
    state: &State,
    h: &HookSpec,
    spec: &RunSpec,
    script: &Script,
) -> Result<(InKernel, String, Vec<String>), StartError> {
    if demanded(h, spec.tier) == Tier::Lua {
        return Err(StartError::Plan(format!(
            "{}: XDP hook '{}' cannot run in the Lua tier (it is fed by NFQUEUE at netfilter); use tier \"auto\" or \"kernel\"",
            h.defined_at, h.name
        )));
    }
    let Attach::Xdp { dev } = &h.attach else {
        unreachable!("only XDP hooks are compiled")
    };
    let dev = dev.clone().ok_or_else(|| {
        StartError::Plan(format!("{}: XDP hook '{}' has no device: start the script with --dev IFACE, or pass {{dev = ...}}", h.defined_at, h.name))
    })?;
    let kernel::Loaded {
        program,
        prog,
        counters,
        print,
        ..
    } = kernel::compile_and_load(state, h, script).map_err(StartError::Kernel)?;
    let pin = spec.pin_dir.join(format!(
        "xdp_{}",
        h.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ));
    let link = kernel::attach_xdp(&prog, &dev, &pin).map_err(StartError::Kernel)?;
    let reason = format!(
        "compiled to {} eBPF instructions and accepted by the kernel's verifier",
        program.insns.len()
    );
    let placement = vec![format!("XDP on {dev}, link pinned at {}", pin.display())];
    let prints = print
        .map(|maps| kernel::HookPrints::new(&h.name, maps, program.prints))
        .transpose()
        .map_err(StartError::Kernel)?;
    Ok((
        InKernel {
            _prog: prog,
            _link: link,
            counters: Arc::new(counters),
            prints,
            _printer: None,
        },
        reason,
        placement,
    ))
}

/// The tier of a netfilter hook, and why; or why it cannot run.
fn netfilter_tier(spec: &HookSpec, cli: Tier) -> Result<(Tier, String), StartError> {
    match demanded(spec, cli) {
        Tier::Kernel => Err(StartError::Plan(format!(
            "{}: hook '{}' demands the kernel tier, which compiles XDP hooks only for now \
             (use tier = \"lua\" or \"auto\")",
            spec.defined_at, spec.name
        ))),
        Tier::Lua => Ok((Tier::Lua, "the Lua tier was demanded".into())),
        Tier::Auto => Ok((
            Tier::Lua,
            "the kernel tier compiles XDP hooks only, for now".into(),
        )),
    }
}

fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(Backend::detect)
}

/// Binds the next free queue number.
fn bind_queue() -> Result<(u16, QueueSocket), StartError> {
    let mut last = None;
    for _ in 0..64 {
        let n = NEXT_QUEUE.fetch_add(1, Ordering::Relaxed);
        match QueueSocket::bind(n) {
            Ok(q) => return Ok((n, q)),
            Err(e) => last = Some(e),
        }
    }
    Err(StartError::NoQueue(last.unwrap_or_else(|| {
        lunet_netfilter::Error::Invalid("no queue number tried".into())
    })))
}

fn state_thread(
    spec: RunSpec,
    log: Log,
    stop: &AtomicBool,
    memory: &AtomicUsize,
    tx: mpsc::Sender<Result<Ready, StartError>>,
) {
    let (state, mut groups, installed, in_kernel) = match setup(&spec, &log, memory, &tx) {
        Some(v) => v,
        None => return,
    };
    tracing::info!(state = %spec.name, "running");
    let mut poller = Poller::new();
    let mut batch: Vec<QueuedPacket> = Vec::with_capacity(RECV_BATCH);
    let mut since_memory: u64 = 0;
    let mut memory_at = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Asleep in poll(2) until a queue has packets (or POLL_TIMEOUT passes, for the stop
        // flag); packets a queue already holds (received while binding) need no waiting.
        let buffered = groups.iter().any(|g| g.queue.buffered() > 0);
        let timeout = if buffered {
            Duration::ZERO
        } else {
            POLL_TIMEOUT
        };
        let fds = groups.iter().map(|g| g.queue.as_fd());
        if let Err(e) = poller.wait(fds, timeout) {
            log.push(Stream::Error, format!("waiting for packets failed: {e}"));
            std::thread::sleep(POLL_TIMEOUT);
            continue;
        }
        for (i, g) in groups.iter_mut().enumerate() {
            if !poller.is_ready(i) && g.queue.buffered() == 0 {
                continue;
            }
            // Batches until the queue is empty (at most DRAIN_BATCHES, so that one busy queue
            // cannot starve another): one recvmmsg(2) per batch, the hooks, then the batch's
            // verdicts in one send(2).
            for _ in 0..DRAIN_BATCHES {
                let n = match g.queue.recv_batch(&mut batch, RECV_BATCH) {
                    Ok(n) => n,
                    Err(e) => {
                        log.push(Stream::Error, format!("queue receive failed: {e}"));
                        break;
                    }
                };
                for pkt in batch.drain(..) {
                    decide(&state, g, pkt);
                }
                if let Err(e) = g.queue.flush_verdicts() {
                    log.push(Stream::Error, format!("sending verdicts failed: {e}"));
                }
                since_memory += n as u64;
                if n < RECV_BATCH {
                    break;
                }
            }
        }
        if since_memory >= MEMORY_PACKETS || memory_at.elapsed() >= MEMORY_EVERY {
            memory.store(state.memory_used(), Ordering::Relaxed);
            since_memory = 0;
            memory_at = std::time::Instant::now();
        }
    }
    if let Some(i) = installed {
        if let Err(e) = i.remove() {
            tracing::error!(state = %spec.name, "removing rules failed: {e}");
        }
    }
    drop(groups);
    // Unpinning the links detaches the compiled hooks.
    drop(in_kernel);
    if let Err(e) = lunet_lua::maps::unpin_dir(&spec.pin_dir) {
        tracing::error!(state = %spec.name, "removing map pins failed: {e}");
    }
    tracing::info!(state = %spec.name, "stopped");
}

type Setup = (State, Vec<Group>, Option<Installed>, Vec<InKernel>);

/// Enters the namespace, runs the body, binds queues and installs rules; reports to `tx`.
fn setup(
    spec: &RunSpec,
    log: &Log,
    memory: &AtomicUsize,
    tx: &mpsc::Sender<Result<Ready, StartError>>,
) -> Option<Setup> {
    let fail = |e: StartError| {
        let _ = tx.send(Err(e));
        None
    };
    if let Some(ns) = &spec.netns {
        if let Err(source) = lunet_netns::enter(ns) {
            return fail(StartError::Netns {
                ns: ns.clone(),
                source,
            });
        }
    }
    // A directory left by a state of this name that was not stopped (a crash) goes first.
    if let Err(source) = lunet_lua::maps::unpin_dir(&spec.pin_dir) {
        return fail(StartError::StalePins {
            dir: spec.pin_dir.clone(),
            source,
        });
    }
    let opts = StateOptions {
        limits: spec.limits,
        dev: spec.dev.clone(),
        log: log.clone(),
        maps: MapBacking::Kernel {
            pin_dir: Some(spec.pin_dir.clone()),
        },
    };
    let state = match State::load(&spec.script, opts) {
        Ok(s) => s,
        Err(e) => return fail(StartError::Body(e)),
    };
    memory.store(state.memory_used(), Ordering::Relaxed);
    let specs = state.hooks();
    let mut tiers = Vec::new();
    let mut kernel_placements = vec![Vec::new(); specs.len()];
    let mut kernel_counters = vec![None; specs.len()];
    let mut in_kernel = Vec::new();
    let script = match Script::read(&spec.script) {
        Ok(s) => s,
        Err(e) => return fail(StartError::Kernel(e)),
    };
    for h in &specs {
        let planned = match h.attach {
            Attach::Netfilter { .. } => netfilter_tier(h, spec.tier),
            Attach::Xdp { .. } => {
                attach_kernel(&state, h, spec, &script).map(|(k, reason, placement)| {
                    kernel_counters[h.id] = Some(k.counters.clone());
                    in_kernel.push(k);
                    kernel_placements[h.id] = placement;
                    (Tier::Kernel, reason)
                })
            }
        };
        match planned {
            Ok(t) => tiers.push(t),
            Err(e) => {
                let _ = lunet_lua::maps::unpin_dir(&spec.pin_dir);
                return fail(e);
            }
        }
    }
    // One reader per state moves what its compiled hooks print into the log.
    let printing: Vec<kernel::HookPrints> = in_kernel
        .iter_mut()
        .filter_map(|k| k.prints.take())
        .collect();
    if !printing.is_empty() {
        match kernel::PrintReader::start(&spec.name, log.clone(), printing) {
            Ok(r) => {
                let r = Arc::new(r);
                in_kernel
                    .iter_mut()
                    .for_each(|k| k._printer = Some(r.clone()));
            }
            Err(e) => {
                let _ = lunet_lua::maps::unpin_dir(&spec.pin_dir);
                return fail(StartError::Printer(e));
            }
        }
    }

    // Group hooks by (family, hook, table), each group in priority order.
    let variant =
        lunet_netfilter::IptablesVariant::detect().unwrap_or(lunet_netfilter::IptablesVariant::Nft);
    let mut by_key: BTreeMap<(Family, Hook, &'static str), Vec<&HookSpec>> = BTreeMap::new();
    for h in &specs {
        if let Attach::Netfilter {
            family,
            hook,
            priority,
            ..
        } = h.attach
        {
            let table = lunet_netfilter::iptables_table_for(hook, priority, variant).0;
            by_key.entry((family, hook, table)).or_default().push(h);
        }
    }
    let mut groups = Vec::new();
    let mut rules = Vec::new();
    let mut queue_of = vec![None; specs.len()];
    for ((family, hook, _), mut hooks) in by_key {
        hooks.sort_by_key(|h| match h.attach {
            Attach::Netfilter { priority, .. } => priority,
            Attach::Xdp { .. } => 0,
        });
        let (num, queue) = match bind_queue() {
            Ok(q) => q,
            Err(e) => return fail(e),
        };
        let mut marks = Vec::new();
        let mut members = Vec::new();
        let first_priority = match hooks[0].attach {
            Attach::Netfilter { priority, .. } => priority,
            Attach::Xdp { .. } => 0,
        };
        for h in &hooks {
            if let Attach::Netfilter { mark, .. } = h.attach {
                members.push((h.id, mark));
                queue_of[h.id] = Some(num);
                if !marks.contains(&mark) {
                    marks.push(mark);
                    rules.push(QueueRule {
                        family,
                        hook,
                        priority: first_priority,
                        mark,
                        queue: num,
                    });
                }
            }
        }
        groups.push(Group {
            queue,
            hooks: members,
        });
    }

    let (installed, placements) = if rules.is_empty() {
        (None, Vec::new())
    } else {
        match lunet_netfilter::install(backend(), &spec.name, &rules) {
            Ok((i, p)) => (Some(i), p),
            Err(e) => return fail(StartError::Install(e)),
        }
    };

    let mut reports = Vec::new();
    let mut hooks = Vec::new();
    for (h, (tier, reason)) in specs.iter().zip(tiers) {
        let mut placement: Vec<String> = rules
            .iter()
            .zip(&placements)
            .filter(|(r, _)| Some(r.queue) == queue_of[h.id])
            .filter(|(r, _)| matches!(h.attach, Attach::Netfilter { mark, .. } if mark == r.mark))
            .map(|(_, p)| p.to_string())
            .collect();
        placement.append(&mut kernel_placements[h.id]);
        let report = HookReport {
            name: h.name.clone(),
            tier,
            tier_reason: reason,
            attach: h.attach.to_string(),
            placement,
            queue: queue_of[h.id],
            budget: h.budget,
            defined_at: h.defined_at.clone(),
        };
        let stats = state.stats(h.id).expect("hook ids index the state's hooks");
        hooks.push(HookCounters {
            report: report.clone(),
            lua: stats,
            names: h.attach.verdict_names(),
            kernel: kernel_counters[h.id].take(),
        });
        reports.push(report);
    }
    let report = StateReport {
        name: spec.name.clone(),
        script: spec.script.clone(),
        netns: spec.netns.clone(),
        hooks: reports,
        memory_cap: spec.limits.memory,
        hook_budget: spec.limits.hook_budget,
        maps: state.maps(),
    };
    if tx.send(Ok(Ready { report, hooks })).is_err() {
        if let Some(i) = installed {
            let _ = i.remove();
        }
        let _ = lunet_lua::maps::unpin_dir(&spec.pin_dir);
        return None;
    }
    Some((state, groups, installed, in_kernel))
}

/// Runs a queued packet through its group's hooks and adds its verdict to the queue's batch.
fn decide(state: &State, g: &mut Group, pkt: QueuedPacket) {
    let first_mark = pkt.mark();
    let mut mark = first_mark;
    let mut rewritten: Option<Vec<u8>> = None;
    let mut verdict = nf::action::ACCEPT;
    let link_header = link_header(&pkt);
    let ifindex = if pkt.indev() != 0 {
        pkt.indev()
    } else {
        pkt.outdev()
    };
    for &(id, wants) in &g.hooks {
        if wants != mark {
            continue;
        }
        // Each hook sees the bytes as the hooks before it left them.
        let out = state.run_netfilter(
            id,
            NfPacket {
                net: rewritten.as_deref().unwrap_or(pkt.payload()),
                link_header: &link_header,
                ifindex,
                mark,
            },
        );
        if let Some(bytes) = out.rewritten {
            rewritten = Some(bytes);
        }
        if let Some(m) = out.mark {
            mark = m;
        }
        if out.verdict != nf::action::ACCEPT {
            verdict = out.verdict;
            break;
        }
    }
    // The kernel refuses STOLEN from userspace, and QUEUE would send the packet back to a
    // queue: a hook that steals a packet drops it, one that queues it accepts it.
    let v = match verdict {
        0 | 2 => Verdict::Drop,
        4 => Verdict::Repeat,
        5 => Verdict::Stop,
        _ => Verdict::Accept,
    };
    let new_mark = (mark != first_mark).then_some(mark);
    if let Err(e) = g.queue.push_verdict(pkt, v, new_mark, rewritten) {
        state
            .log()
            .push(Stream::Error, format!("giving a verdict failed: {e}"));
    }
}

/// The `mac` layer NFQUEUE lets us know: destination unknown (zeros), the source hardware
/// address when the kernel gave one, and the EtherType.
fn link_header(pkt: &QueuedPacket) -> [u8; 14] {
    let mut h = [0u8; 14];
    if let Some(src) = pkt.hw_source() {
        h[6..12].copy_from_slice(&src);
    }
    let proto = match pkt.hw_protocol() {
        0 => match pkt.payload().first().map(|b| b >> 4) {
            Some(6) => 0x86dd,
            _ => 0x0800,
        },
        p => p,
    };
    h[12..14].copy_from_slice(&proto.to_be_bytes());
    h
}
