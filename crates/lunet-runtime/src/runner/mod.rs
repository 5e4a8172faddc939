//! A running script: its own thread, in its own network namespace, owning its Lua state, its
//! rules and its queues. The daemon, `run --foreground`, `demo` and the bench all start
//! scripts here.
//!
//! Packets flow one way: kernel hook -> lunet's rule -> NFQUEUE -> this thread -> Lua hook(s)
//! -> verdict (+ mark, + rewritten bytes) -> kernel. On its thread a state is set up in two
//! steps: the [`plan`] (pure: which hook goes to which tier and queue group, which rules, what
//! the report says) and its execution ([`exec`]: queues bound, rules installed, programs
//! loaded and attached); then [`packets`] serves the queues until the state is stopped, or
//! asked to [`Running::reload`] between two batches.

mod connmarks;
mod copies;
mod error;
mod exec;
mod flows;
mod link;
mod load;
mod packets;
mod ready;
pub use packets::MAX_REPEATS;
pub mod plan;
mod spec;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use lunet_lua::{AbortHandle, Log};

use crate::kernel;
use crate::protocol::{CopyReport, HookStatsReport, QueueReport, StateReport, StatsReport};

pub use error::StartError;
pub use exec::ReloadError;
pub use plan::PlanError;
use ready::{CopyInfo, HookCounters, QueueInfo, Ready};
pub use spec::{default_name, parse_size, RunSpec, SizeError, PIN_ROOT};

/// What the state's thread is asked to do between two batches.
pub(crate) enum Control {
    Reload(RunSpec, mpsc::Sender<Result<Ready, ReloadError>>),
    /// To a per-CPU copy: run this script (planned so) from now on.
    ReloadCopy(
        RunSpec,
        plan::Plan,
        Arc<lunet_lua::RcuShared>,
        mpsc::Sender<Result<copies::CopyReady, String>>,
    ),
}

/// What the state reports of itself; replaced by a reload.
struct Current {
    spec: RunSpec,
    report: StateReport,
    hooks: Vec<HookCounters>,
    queues: Vec<QueueInfo>,
    copies: Vec<CopyInfo>,
}

impl Current {
    fn new(spec: RunSpec, ready: Ready) -> Current {
        Current {
            spec,
            report: ready.report,
            hooks: ready.hooks,
            queues: ready.queues,
            copies: ready.copies,
        }
    }

    fn take(&mut self, spec: RunSpec, ready: Ready) {
        *self = Current::new(spec, ready);
    }
}

/// A started script, as its owner holds it.
pub struct Running {
    current: Mutex<Current>,
    pub log: Log,
    stop: Arc<AtomicBool>,
    /// Ends the state's Lua calls, its body's included, at their next check.
    abort: AbortHandle,
    done: Arc<AtomicBool>,
    memory: Arc<AtomicUsize>,
    control: Mutex<mpsc::Sender<Control>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Running {
    /// Starts `spec` on a new thread and waits until its hooks are attached or it failed.
    pub fn start(spec: RunSpec) -> Result<Running, StartError> {
        Running::launch(spec, false)
    }

    /// Starts `spec` again after its daemon died: its pinned maps (with their entries) and
    /// its compiled hooks' links are taken over, not removed, so those hooks never stopped
    /// filtering; its Lua-tier hooks get fresh rules and queues.
    pub fn adopt(spec: RunSpec) -> Result<Running, StartError> {
        Running::launch(spec, true)
    }

    fn launch(spec: RunSpec, adopt: bool) -> Result<Running, StartError> {
        let log = Log::new(2000);
        let stop = Arc::new(AtomicBool::new(false));
        let abort = AbortHandle::new();
        let done = Arc::new(AtomicBool::new(false));
        let memory = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (control, orders) = mpsc::channel();
        let thread = {
            let ctx = Context {
                log: log.clone(),
                abort: abort.clone(),
                stop: stop.clone(),
                memory: memory.clone(),
            };
            let done = done.clone();
            let spec = spec.clone();
            std::thread::Builder::new()
                .name(format!("lunet-{}", spec.name))
                .spawn(move || {
                    state_thread(spec, ctx, adopt, tx, orders);
                    done.store(true, Ordering::SeqCst);
                })
                .map_err(StartError::Thread)?
        };
        let (ready, thread) = error::first_report(&rx, thread)?;
        Ok(Running {
            current: Mutex::new(Current::new(spec, ready)),
            log,
            stop,
            abort,
            done,
            memory,
            control: Mutex::new(control),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `run` printed, as it is now (after a reload: the new script's).
    pub fn report(&self) -> StateReport {
        self.current().report.clone()
    }

    /// What the state was started with.
    pub fn spec(&self) -> RunSpec {
        self.current().spec.clone()
    }

    pub fn is_running(&self) -> bool {
        !self.done.load(Ordering::SeqCst)
    }

    /// Replaces the state's script with the one at `script`, keeping its name, namespace,
    /// device, tier, limits, queues, rules and the maps whose layout is unchanged. No packet
    /// is lost and each is judged by one version (see [`exec::Attached::reload`]); on error
    /// the old version runs on and the error says why.
    pub fn reload(&self, script: PathBuf) -> Result<StateReport, ReloadError> {
        let spec = RunSpec {
            script,
            ..self.spec()
        };
        let (reply, answer) = mpsc::channel();
        self.control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Control::Reload(spec.clone(), reply))
            .map_err(|_| ReloadError::Start(StartError::ThreadGone))?;
        // The body's time limit bounds the new version's start; the rest is loading.
        let wait = spec.limits.body_time + Duration::from_secs(30);
        let ready = answer
            .recv_timeout(wait)
            .map_err(|_| ReloadError::Start(StartError::ThreadGone))??;
        let mut current = self.current();
        current.take(spec, ready);
        Ok(current.report.clone())
    }

    pub fn stats(&self) -> StatsReport {
        let current = self.current();
        let own_memory = self.memory.load(Ordering::Relaxed);
        let copies: Vec<CopyReport> = if current.copies.is_empty() {
            Vec::new()
        } else {
            let own = CopyReport {
                copy: 0,
                cpu: copies::cpu_of(&current.spec, 0),
                memory_used: own_memory,
                queues: current
                    .queues
                    .iter()
                    .filter(|q| q.copy == 0)
                    .map(|q| q.queue)
                    .collect(),
            };
            std::iter::once(own)
                .chain(current.copies.iter().map(|c| CopyReport {
                    copy: c.index,
                    cpu: c.cpu,
                    memory_used: c.memory.load(Ordering::Relaxed),
                    queues: c.queues.clone(),
                }))
                .collect()
        };
        StatsReport {
            name: current.report.name.clone(),
            memory_used: if copies.is_empty() {
                own_memory
            } else {
                copies.iter().map(|c| c.memory_used).sum()
            },
            copies,
            hooks: current
                .hooks
                .iter()
                .map(|h| HookStatsReport {
                    per_copy: if h.kernel.is_none() && !h.copies.is_empty() {
                        std::iter::once(&h.lua)
                            .chain(&h.copies)
                            .map(|s| s.snapshot(h.names))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    hook: h.report.clone(),
                    stats: match &h.kernel {
                        None => {
                            let mut sum = h.lua.snapshot(h.names);
                            for c in &h.copies {
                                sum.add(&c.snapshot(h.names));
                            }
                            sum
                        }
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
            queues: queue_reports(&current.queues, current.report.netns.as_deref()),
        }
    }

    /// Stops the state: its rules and queues are gone when this returns. A hook call in
    /// progress ends at its next check (a millisecond or so), with its default verdict.
    pub fn stop(&self) {
        self.abort.abort();
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

/// The state's queues with the kernel's counters and its rules' (read in the state's
/// namespace `netns`), and what the consumer counted.
fn queue_reports(queues: &[QueueInfo], netns: Option<&str>) -> Vec<QueueReport> {
    if queues.is_empty() {
        return Vec::new();
    }
    // What was judged is read first: a packet judged meanwhile then counts once, as
    // waiting, instead of twice.
    let judged: Vec<u64> = queues
        .iter()
        .map(|q| q.counters.judged.load(Ordering::Relaxed))
        .collect();
    let read = || {
        let kernel = lunet_netfilter::kernel_queue_stats().unwrap_or_default();
        let queued = lunet_netfilter::queued_packets(exec::backend())
            .ok()
            .flatten();
        (kernel, queued)
    };
    let (kernel, queued) = match netns {
        Some(ns) => lunet_netns::in_netns(ns, read).unwrap_or_default(),
        None => read(),
    };
    queues
        .iter()
        .zip(judged)
        .map(|(q, judged)| {
            let k = kernel
                .iter()
                .find(|k| k.queue == q.queue)
                .copied()
                .unwrap_or_default();
            let queued = queued
                .as_ref()
                .map(|m| m.get(&q.queue).copied().unwrap_or(0));
            QueueReport {
                queue: q.queue,
                copy: q.copy,
                overload: q.overload,
                queued,
                judged,
                waiting: k.waiting,
                dropped: k.dropped(),
                unseen: queued.map(|n| n.saturating_sub(judged + k.waiting + k.dropped())),
                repeats_cut: q.counters.repeats_cut.load(Ordering::Relaxed),
            }
        })
        .collect()
}

/// What the state's thread shares with its owner.
struct Context {
    log: Log,
    abort: AbortHandle,
    stop: Arc<AtomicBool>,
    memory: Arc<AtomicUsize>,
}

/// The state's thread: sets the state up and reports how that went to `tx`, serves its
/// queues until `stop` (reloading between batches when asked), then takes it down.
fn state_thread(
    spec: RunSpec,
    ctx: Context,
    adopt: bool,
    tx: mpsc::Sender<Result<Ready, StartError>>,
    orders: mpsc::Receiver<Control>,
) {
    let mut spec = spec;
    let mut attached = match exec::setup(&spec, &ctx.log, ctx.abort.clone(), &ctx.memory, adopt) {
        Ok((attached, ready)) => {
            if tx.send(Ok(ready)).is_err() {
                // Nobody waits for the state any more.
                attached.stop(&spec, &ctx.log);
                return;
            }
            attached
        }
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    tracing::info!(state = %spec.name, "running");
    while let Some(order) = packets::serve(
        &attached.state,
        &mut attached.groups,
        &ctx.log,
        &ctx.stop,
        &ctx.memory,
        &orders,
    ) {
        match order {
            Control::Reload(new, reply) => {
                let result = attached.reload(&new, &ctx.log, ctx.abort.clone(), &ctx.memory);
                match &result {
                    Ok(_) => {
                        tracing::info!(state = %new.name, script = %new.script.display(), "reloaded");
                        spec = new;
                    }
                    Err(e) => tracing::warn!(state = %spec.name, "reload refused: {e}"),
                }
                let _ = reply.send(result);
            }
            Control::ReloadCopy(..) => {}
        }
    }
    attached.stop(&spec, &ctx.log);
    tracing::info!(state = %spec.name, "stopped");
}
