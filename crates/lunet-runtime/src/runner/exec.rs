//! The execution of a state's [`Plan`], on the state's own thread: enter its namespace, run
//! the body, load and attach its compiled hooks, start their print reader, bind one queue per
//! group, install the rules; replace the script in place ([`Attached::reload`]); and, when the
//! state stops, take it all down again.
//!
//! Every step that can fail comes before the first one that changes what the kernel does, or
//! is undone when a later one fails: a `run` that fails leaves no program, pin, rule or queue,
//! and a `reload` that fails leaves the old version running untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use lunet_lua::{AbortHandle, Log, State};
use lunet_netfilter::{Backend, Installed, QueueSocket};
use lunet_types::Overload;

use super::copies::{self, Copy, CopyReady};
use super::error::StartError;
use super::flows;
use super::load::{load, Loaded};
use super::packets::Group;
use super::plan::{Place, Plan};
use super::ready::{ready, Executed, Ready};
use super::spec::RunSpec;
use crate::kernel;

/// Queue numbers handed out by this process; a number another process holds is skipped.
static NEXT_QUEUE: AtomicU16 = AtomicU16::new(20_000);

/// A compiled hook in the kernel: its program and the link that attaches it.
struct InKernel {
    _prog: lunet_bpf::prog::ProgFd,
    /// One link (XDP), or one per family (netfilter).
    _links: Vec<lunet_bpf::link::LinkFd>,
    /// Where the first link is pinned: the hook's key across reloads.
    pin: PathBuf,
    /// Where the others are (a netfilter hook's IPv6 link for family INET).
    more_pins: Vec<PathBuf>,
    /// Netfilter links: a reload lets go of their fds before it attaches the new program
    /// (the kernel takes one link per hook and priority; see kernel::attach_netfilter).
    netfilter: bool,
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
    plan: Plan,
    queues: Vec<u16>,
    placements: Vec<lunet_netfilter::Placement>,
    installed: Option<Installed>,
    in_kernel: Vec<InKernel>,
    /// Per-CPU copies 1, 2, ... and what they last reported.
    copies: Vec<(Copy, CopyReady)>,
    /// The flow map and its programs, when the script gives flow verdicts.
    flows: Option<flows::Flows>,
}

/// Undoes a setup that fails: removes the state's pins first, then closes its compiled
/// hooks' links, so each detaches at once (a link whose last holder is a removed pin is freed
/// later, by the kernel's deferred work: the program would outlive the failed `run`).
struct Undo<'a> {
    dir: &'a Path,
    kernel: KernelHooks,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = lunet_lua::maps::unpin_dir(self.dir);
        }
        self.kernel.clear();
    }
}

pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(Backend::detect)
}

/// Binds the next `count` consecutive free queue numbers, fail-open or not: the first
/// number and a socket per queue.
fn bind_queues(fail_open: bool, count: u16) -> Result<(u16, Vec<QueueSocket>), StartError> {
    let mut last = None;
    'range: for _ in 0..64 {
        let first = NEXT_QUEUE.fetch_add(count, Ordering::Relaxed);
        if first.checked_add(count).is_none() {
            break;
        }
        let mut sockets = Vec::with_capacity(count as usize);
        for n in first..first + count {
            match QueueSocket::bind_with(n, fail_open) {
                Ok(q) => sockets.push(q),
                Err(e) => {
                    last = Some(e);
                    continue 'range;
                }
            }
        }
        return Ok((first, sockets));
    }
    Err(StartError::NoQueue(last.unwrap_or_else(|| {
        lunet_netfilter::Error::Invalid("no free range of queue numbers".into())
    })))
}

/// A state's compiled hooks by hook id.
type KernelHooks = BTreeMap<usize, InKernel>;

/// Compiles and loads every XDP hook of `l` (nothing attached yet), then attaches them: a
/// link already pinned at a hook's pin on its device gets the new program atomically
/// (a reload, a restarted daemon), any other is attached and pinned anew.
fn attach_kernel_hooks(
    l: &mut Loaded,
    in_kernel: &mut KernelHooks,
) -> Result<BTreeMap<usize, usize>, StartError> {
    let mut loaded = Vec::new();
    for (h, p) in l.specs.iter().zip(&l.plan.hooks) {
        if matches!(p.place, Place::Xdp { .. } | Place::Netfilter { .. }) {
            let k = match l.compiled.remove(&h.id) {
                Some(k) => k,
                None => {
                    kernel::compile_and_load(&l.state, h, &l.script).map_err(StartError::Kernel)?
                }
            };
            loaded.push((h, &p.place, k));
        }
    }
    let mut insns = BTreeMap::new();
    for (h, place, k) in loaded {
        let kernel::Loaded {
            program,
            prog,
            counters,
            print,
            ..
        } = k;
        let (links, pin, more_pins) = match place {
            Place::Xdp { dev, pin } => (
                vec![kernel::attach_or_update_xdp(&prog, dev, pin).map_err(StartError::Kernel)?],
                pin.clone(),
                Vec::new(),
            ),
            Place::Netfilter {
                hook,
                priority,
                pins,
                ..
            } => {
                let links = kernel::attach_netfilter(&prog, *hook, *priority, pins)
                    .map_err(StartError::Kernel)?;
                let mut paths = pins.iter().map(|(_, p)| p.clone());
                let first = paths.next().unwrap_or_default();
                (links, first, paths.collect())
            }
            Place::Queue { .. } => continue,
        };
        let prints = print
            .map(|maps| kernel::HookPrints::new(&h.name, maps, program.prints))
            .transpose()
            .map_err(StartError::Kernel)?;
        insns.insert(h.id, program.insns.len());
        in_kernel.insert(
            h.id,
            InKernel {
                _prog: prog,
                _links: links,
                pin,
                more_pins,
                netfilter: matches!(place, Place::Netfilter { .. }),
                counters: Arc::new(counters),
                prints,
                _printer: None,
            },
        );
    }
    Ok(insns)
}

/// Enters the namespace, runs the body, plans its hooks and carries the plan out. With
/// `adopt` (a daemon restarted after a crash), what the previous daemon left for this state
/// is taken over instead of removed: its pinned maps with their entries, its compiled hooks'
/// links (updated in place, so they never stop filtering); its rules are made anew.
pub fn setup(
    spec: &RunSpec,
    log: &Log,
    abort: AbortHandle,
    memory: &AtomicUsize,
    adopt: bool,
) -> Result<(Attached, Ready), StartError> {
    if let Some(ns) = &spec.netns {
        lunet_netns::enter(ns).map_err(|source| StartError::Netns {
            ns: ns.clone(),
            source,
        })?;
    }
    if adopt {
        // The previous daemon's rules for this state feed queues nobody reads.
        let _ = lunet_netfilter::remove_state(&spec.name);
    } else {
        // A directory left by a state of this name that was not stopped goes first.
        lunet_lua::maps::unpin_dir(&spec.pin_dir).map_err(|source| StartError::StalePins {
            dir: spec.pin_dir.clone(),
            source,
        })?;
    }
    let mut undo = Undo {
        dir: &spec.pin_dir,
        kernel: BTreeMap::new(),
        armed: true,
    };
    let mut l = load(spec, log, abort.clone(), adopt)?;
    l.plan.copies = spec.copies.max(1);
    memory.store(l.state.memory_used(), Ordering::Relaxed);
    let insns = attach_kernel_hooks(&mut l, &mut undo.kernel)?;
    start_printer(&spec.name, log, &mut undo.kernel)?;

    let mut groups = Vec::new();
    let mut queues = Vec::new();
    // The queues of copies 1, 2, ...: one per group each.
    let mut others: Vec<Vec<(u16, QueueSocket)>> = (1..l.plan.copies).map(|_| Vec::new()).collect();
    for g in &l.plan.groups {
        let (first, sockets) = bind_queues(g.overload == Overload::Pass, l.plan.copies)?;
        let mut sockets = sockets.into_iter();
        queues.push(first);
        if let Some(own) = sockets.next() {
            groups.push(Group::new(
                own,
                g.running_order(&l.specs),
                g.xdp_dev.is_some(),
            ));
        }
        for (k, (q, other)) in sockets.zip(others.iter_mut()).enumerate() {
            other.push((first + 1 + k as u16, q));
        }
    }
    if let Some(cpu) = copies::cpu_of(spec, 0) {
        if let Err(e) = lunet_netns::pin_thread(0, cpu as usize) {
            log.push(
                lunet_lua::Stream::Error,
                format!("the state cannot be pinned to CPU {cpu}: {e}"),
            );
        }
    }
    // The flow map comes before the copies, which open it.
    let flows = if flows::used_by(&l.script.source) && !l.plan.groups.is_empty() {
        Some(flows::Flows::create(&spec.pin_dir).map_err(|e| StartError::Flows(e.to_string()))?)
    } else {
        None
    };
    for g in &mut groups {
        g.flows = flows.as_ref().map(|f| f.map.clone());
    }
    // Every copy serves before a rule sends it a packet; one that fails stops the others.
    let mut started = Vec::new();
    for (k, queues) in others.into_iter().enumerate() {
        started.push(Copy::start(
            spec,
            &l.plan,
            k as u16 + 1,
            queues,
            log,
            abort.clone(),
            l.rcu.clone(),
        )?);
    }
    let rules = l.plan.rules(&queues);
    let (mut installed, placements) = if rules.is_empty() {
        (None, Vec::new())
    } else {
        let (i, p) =
            lunet_netfilter::install(backend(), &spec.name, &rules).map_err(StartError::Install)?;
        (Some(i), p)
    };
    if let (Some(i), Some(f)) = (&installed, &flows) {
        if let Err(e) = i.guard_flows(&f.drop_pin, &f.accept_pin) {
            if let Some(i) = installed.take() {
                let _ = i.remove();
            }
            return Err(StartError::Flows(e.to_string()));
        }
    }
    undo.armed = false;
    let in_kernel: Vec<InKernel> = std::mem::take(&mut undo.kernel).into_values().collect();
    remove_other_pins(&spec.pin_dir, &l.state, &in_kernel);
    let ready = ready(Executed {
        spec,
        state: &l.state,
        specs: &l.specs,
        plan: &l.plan,
        queues: &queues,
        placements: &placements,
        insns: &insns,
        kernel: in_kernel
            .iter()
            .map(|k| (k.pin.as_path(), k.counters.clone()))
            .collect(),
        groups: &groups,
        copies: &started,
        flows: flows.is_some(),
    });
    let attached = Attached {
        state: l.state,
        groups,
        plan: l.plan,
        queues,
        placements,
        installed,
        in_kernel,
        copies: started,
        flows,
    };
    Ok((attached, ready))
}

/// Removes the pins under `dir` that are neither a map of `state` nor a link of `in_kernel`:
/// what an earlier version of the script pinned and this one does not declare.
fn remove_other_pins(dir: &Path, state: &State, in_kernel: &[InKernel]) {
    let keep: Vec<PathBuf> = state
        .maps()
        .into_iter()
        .filter_map(|m| m.pinned)
        .chain(
            in_kernel
                .iter()
                .flat_map(|k| std::iter::once(&k.pin).chain(&k.more_pins).cloned()),
        )
        .chain(flows::Flows::pins(dir))
        .collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if !keep.contains(&p) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Why a reload was refused (the old version keeps running).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("the new script puts its netfilter hooks elsewhere ({0}): reload keeps a state's queues and rules, so stop the state and run the new script instead")]
    Moved(String),
}

/// Where a plan's netfilter hooks sit: what a reload must keep.
fn placement_key(p: &Plan) -> Vec<(String, i32, Vec<u32>, Overload)> {
    p.groups
        .iter()
        .map(|g| {
            (
                format!("{} {} {}", g.family, g.hook, g.table),
                g.priority,
                g.marks.clone(),
                g.overload,
            )
        })
        .collect()
}

impl Attached {
    /// Replaces the running script with `spec`'s, between two batches: its body runs and its
    /// hooks compile first, and only then does anything switch (compiled hooks by an atomic
    /// link update, Lua-tier hooks as the next batch is judged by the new state), so every
    /// packet is judged by one version. Maps whose layout is unchanged keep their entries.
    /// On error the old version runs on, untouched.
    pub fn reload(
        &mut self,
        spec: &RunSpec,
        log: &Log,
        abort: AbortHandle,
        memory: &AtomicUsize,
    ) -> Result<Ready, ReloadError> {
        let mut l = load(spec, log, abort, true)?;
        l.plan.copies = self.plan.copies;
        let (old, new) = (placement_key(&self.plan), placement_key(&l.plan));
        if old != new {
            let show = |k: &[(String, i32, Vec<u32>, Overload)]| {
                k.iter()
                    .map(|(at, prio, marks, _)| format!("{at} priority {prio} marks {marks:?}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(ReloadError::Moved(format!(
                "was: {}; now: {}",
                show(&old),
                show(&new)
            )));
        }
        // The running netfilter links stay attached through their pins alone from here: the
        // new program's link can only be made once the old one is released.
        for k in self.in_kernel.iter_mut().filter(|k| k.netfilter) {
            k._links.clear();
        }
        let mut in_kernel = BTreeMap::new();
        let attached = attach_kernel_hooks(&mut l, &mut in_kernel)
            .and_then(|insns| start_printer(&spec.name, log, &mut in_kernel).map(|()| insns));
        let insns = match attached {
            Ok(insns) => insns,
            Err(e) => {
                // The new links this reload made go (their pins first, so they detach at
                // once); the ones it updated keep their new program.
                for k in in_kernel.values() {
                    if !self.in_kernel.iter().any(|o| o.pin == k.pin) {
                        let _ = std::fs::remove_file(&k.pin);
                        k.more_pins
                            .iter()
                            .for_each(|p| drop(std::fs::remove_file(p)));
                    }
                }
                return Err(e.into());
            }
        };
        // From here on nothing fails: switch.
        for (g, pg) in self.groups.iter_mut().zip(&l.plan.groups) {
            g.hooks = pg.running_order(&l.specs);
        }
        let in_kernel: Vec<InKernel> = in_kernel.into_values().collect();
        // The old compiled hooks' links are the new ones where the pin is the same; the
        // others are unpinned now, which detaches them.
        let old_kernel = std::mem::replace(&mut self.in_kernel, in_kernel);
        for k in &old_kernel {
            if !self.in_kernel.iter().any(|n| n.pin == k.pin) {
                let _ = std::fs::remove_file(&k.pin);
                k.more_pins
                    .iter()
                    .for_each(|p| drop(std::fs::remove_file(p)));
            }
        }
        drop(old_kernel);
        let old_state = std::mem::replace(&mut self.state, l.state);
        drop(old_state);
        remove_other_pins(&spec.pin_dir, &self.state, &self.in_kernel);
        memory.store(self.state.memory_used(), Ordering::Relaxed);
        self.plan = l.plan;
        // The copies follow; one whose new body fails keeps the old version and says so.
        let wait = spec.limits.body_time + std::time::Duration::from_secs(5);
        for (c, last) in &mut self.copies {
            match c.reload(spec, &self.plan, &l.rcu, wait) {
                Ok(r) => *last = r,
                Err(e) => log.push(
                    lunet_lua::Stream::Error,
                    format!("copy {} kept the old version: {e}", c.index),
                ),
            }
        }
        Ok(ready(Executed {
            spec,
            state: &self.state,
            specs: &l.specs,
            plan: &self.plan,
            queues: &self.queues,
            placements: &self.placements,
            insns: &insns,
            kernel: self
                .in_kernel
                .iter()
                .map(|k| (k.pin.as_path(), k.counters.clone()))
                .collect(),
            groups: &self.groups,
            copies: &self.copies,
            flows: self.flows.is_some(),
        }))
    }

    /// Removes the rules, unbinds the queues, detaches the compiled hooks and removes the
    /// state's pins.
    pub fn stop(self, spec: &RunSpec, log: &Log) {
        let Attached {
            state,
            mut groups,
            installed,
            in_kernel,
            copies,
            ..
        } = self;
        if let Some(i) = installed {
            if let Err(e) = i.remove() {
                tracing::error!(state = %spec.name, "removing rules failed: {e}");
            }
        }
        // Each copy judges what its queues hold and ends.
        for (c, _) in copies {
            c.stop();
        }
        // No packet enters the queues now: judge those they hold before closing them.
        super::packets::drain(&state, &mut groups, log);
        drop(groups);
        // The pins go first, then the links' last fds: each compiled hook detaches before
        // `stop` returns.
        if let Err(e) = lunet_lua::maps::unpin_dir(&spec.pin_dir) {
            tracing::error!(state = %spec.name, "removing map pins failed: {e}");
        }
        drop(in_kernel);
        drop(state);
    }
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
