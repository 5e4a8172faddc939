//! The execution of a state's [`Plan`], on the state's own thread: enter its namespace, run
//! the body, load and attach its compiled hooks, start their print reader, bind one queue per
//! group, install the rules; and, when the state stops, take it all down again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use lunet_lua::{AbortHandle, HookSpec, HookStats, Log, MapBacking, State, StateOptions};
use lunet_netfilter::{Backend, Installed, IptablesVariant, QueueSocket};
use lunet_types::Overload;

use super::error::StartError;
use super::packets::{Group, QueueCounters};
use super::plan::{self, Place};
use super::spec::RunSpec;
use crate::kernel::{self, Script};
use crate::protocol::{HookReport, StateReport};

/// Queue numbers handed out by this process; a number another process holds is skipped.
static NEXT_QUEUE: AtomicU16 = AtomicU16::new(20_000);

/// What the state's thread reports when its hooks are attached.
pub struct Ready {
    pub report: StateReport,
    pub hooks: Vec<HookCounters>,
    pub queues: Vec<QueueInfo>,
}

/// One of the state's queues, as `stats` reads it from another thread.
#[derive(Clone)]
pub struct QueueInfo {
    pub queue: u16,
    pub overload: Overload,
    pub counters: Arc<QueueCounters>,
}

/// Where a hook's counters are: the Lua tier's, or a compiled hook's per-CPU map.
pub struct HookCounters {
    pub report: HookReport,
    pub lua: Arc<HookStats>,
    pub names: &'static [&'static str],
    pub kernel: Option<Arc<lunet_bpf::map::Map>>,
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

/// Everything a started state holds; [`Attached::stop`] takes it down.
pub struct Attached {
    pub state: State,
    pub groups: Vec<Group>,
    installed: Option<Installed>,
    in_kernel: Vec<InKernel>,
}

/// Removes the state's pin directory unless disarmed: a setup that fails leaves no pins.
struct PinGuard<'a> {
    dir: &'a Path,
    armed: bool,
}

impl Drop for PinGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = lunet_lua::maps::unpin_dir(self.dir);
        }
    }
}

pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(Backend::detect)
}

/// Binds the next free queue number, fail-open or not.
fn bind_queue(fail_open: bool) -> Result<(u16, QueueSocket), StartError> {
    let mut last = None;
    for _ in 0..64 {
        let n = NEXT_QUEUE.fetch_add(1, Ordering::Relaxed);
        match QueueSocket::bind_with(n, fail_open) {
            Ok(q) => return Ok((n, q)),
            Err(e) => last = Some(e),
        }
    }
    Err(StartError::NoQueue(last.unwrap_or_else(|| {
        lunet_netfilter::Error::Invalid("no queue number tried".into())
    })))
}

/// Enters the namespace, runs the body, plans its hooks and carries the plan out.
pub fn setup(
    spec: &RunSpec,
    log: &Log,
    abort: AbortHandle,
    memory: &AtomicUsize,
) -> Result<(Attached, Ready), StartError> {
    if let Some(ns) = &spec.netns {
        lunet_netns::enter(ns).map_err(|source| StartError::Netns {
            ns: ns.clone(),
            source,
        })?;
    }
    // A directory left by a state of this name that was not stopped (a crash) goes first.
    lunet_lua::maps::unpin_dir(&spec.pin_dir).map_err(|source| StartError::StalePins {
        dir: spec.pin_dir.clone(),
        source,
    })?;
    let mut pins = PinGuard {
        dir: &spec.pin_dir,
        armed: true,
    };
    let opts = StateOptions {
        limits: spec.limits,
        dev: spec.dev.clone(),
        log: log.clone(),
        maps: MapBacking::Kernel {
            pin_dir: Some(spec.pin_dir.clone()),
        },
        abort,
    };
    let state = State::load(&spec.script, opts)?;
    memory.store(state.memory_used(), Ordering::Relaxed);
    let specs = state.hooks();
    let variant = IptablesVariant::detect().unwrap_or(IptablesVariant::Nft);
    let plan = plan::plan(&specs, spec.tier, &spec.pin_dir, variant)?;
    let script = Script::read(&spec.script).map_err(StartError::Kernel)?;

    let mut in_kernel: BTreeMap<usize, InKernel> = BTreeMap::new();
    let mut insns = BTreeMap::new();
    for (h, p) in specs.iter().zip(&plan.hooks) {
        if let Place::Xdp { dev, pin } = &p.place {
            let (k, n) = attach_kernel(&state, h, dev, pin, &script)?;
            in_kernel.insert(h.id, k);
            insns.insert(h.id, n);
        }
    }
    start_printer(&spec.name, log, &mut in_kernel)?;

    let mut groups = Vec::new();
    let mut queues = Vec::new();
    for g in &plan.groups {
        let (num, queue) = bind_queue(g.overload == Overload::Pass)?;
        queues.push(num);
        let hooks = g
            .hooks
            .iter()
            .map(|&(id, mark)| (id, mark, specs[id].default_verdict))
            .collect();
        groups.push(Group::new(queue, hooks));
    }
    let rules = plan.rules(&queues);
    let (installed, placements) = if rules.is_empty() {
        (None, Vec::new())
    } else {
        let (i, p) =
            lunet_netfilter::install(backend(), &spec.name, &rules).map_err(StartError::Install)?;
        (Some(i), p)
    };

    let reports = plan.reports(&specs, &queues, &placements, &insns);
    let mut ready = ready(spec, &state, &specs, reports, &in_kernel);
    ready.queues = plan
        .groups
        .iter()
        .zip(&queues)
        .zip(&groups)
        .map(|((pg, &queue), g)| QueueInfo {
            queue,
            overload: pg.overload,
            counters: g.counters.clone(),
        })
        .collect();
    pins.armed = false;
    let attached = Attached {
        state,
        groups,
        installed,
        in_kernel: in_kernel.into_values().collect(),
    };
    Ok((attached, ready))
}

/// Loads XDP hook `h`, attaches it on `dev` and pins its link at `pin`; gives it with its
/// instruction count.
fn attach_kernel(
    state: &State,
    h: &HookSpec,
    dev: &str,
    pin: &Path,
    script: &Script,
) -> Result<(InKernel, usize), StartError> {
    let kernel::Loaded {
        program,
        prog,
        counters,
        print,
        ..
    } = kernel::compile_and_load(state, h, script).map_err(StartError::Kernel)?;
    let link = kernel::attach_xdp(&prog, dev, pin).map_err(StartError::Kernel)?;
    let prints = print
        .map(|maps| kernel::HookPrints::new(&h.name, maps, program.prints))
        .transpose()
        .map_err(StartError::Kernel)?;
    let k = InKernel {
        _prog: prog,
        _link: link,
        counters: Arc::new(counters),
        prints,
        _printer: None,
    };
    Ok((k, program.insns.len()))
}

/// One reader per state moves what its compiled hooks print into the log.
fn start_printer(
    state: &str,
    log: &Log,
    in_kernel: &mut BTreeMap<usize, InKernel>,
) -> Result<(), StartError> {
    let printing: Vec<kernel::HookPrints> = in_kernel
        .values_mut()
        .filter_map(|k| k.prints.take())
        .collect();
    if printing.is_empty() {
        return Ok(());
    }
    let reader =
        kernel::PrintReader::start(state, log.clone(), printing).map_err(StartError::Printer)?;
    let reader = Arc::new(reader);
    in_kernel
        .values_mut()
        .for_each(|k| k._printer = Some(reader.clone()));
    Ok(())
}

/// The state's report, with the hooks' `reports`, and where each hook's counters are.
fn ready(
    spec: &RunSpec,
    state: &State,
    specs: &[HookSpec],
    reports: Vec<HookReport>,
    in_kernel: &BTreeMap<usize, InKernel>,
) -> Ready {
    let hooks = specs
        .iter()
        .zip(&reports)
        .filter_map(|(h, report)| {
            Some(HookCounters {
                report: report.clone(),
                // Hook ids index the state's hooks.
                lua: state.stats(h.id)?,
                names: h.attach.verdict_names(),
                kernel: in_kernel.get(&h.id).map(|k| k.counters.clone()),
            })
        })
        .collect();
    Ready {
        report: StateReport {
            name: spec.name.clone(),
            script: spec.script.clone(),
            netns: spec.netns.clone(),
            hooks: reports,
            memory_cap: spec.limits.memory,
            hook_budget: spec.limits.hook_budget,
            maps: state.maps(),
        },
        hooks,
        queues: Vec::new(),
    }
}

impl Attached {
    /// Removes the rules, unbinds the queues, detaches the compiled hooks and removes the
    /// state's pins.
    pub fn stop(self, spec: &RunSpec) {
        let Attached {
            state,
            groups,
            installed,
            in_kernel,
        } = self;
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
        drop(state);
    }
}
