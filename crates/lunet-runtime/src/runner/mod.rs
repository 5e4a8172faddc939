//! A running script: its own thread, in its own network namespace, owning its Lua state, its
//! rules and its queues. The daemon, `run --foreground`, `demo` and the bench all start
//! scripts here.
//!
//! Packets flow one way: kernel hook -> lunet's rule -> NFQUEUE -> this thread -> Lua hook(s)
//! -> verdict (+ mark, + rewritten bytes) -> kernel. On its thread a state is set up in two
//! steps: the [`plan`] (pure: which hook goes to which tier and queue group, which rules, what
//! the report says) and its execution ([`exec`]: queues bound, rules installed, programs
//! loaded and attached); then [`packets`] serves the queues until the state is stopped.

mod error;
mod exec;
mod packets;
pub mod plan;
mod spec;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use lunet_lua::{AbortHandle, Log};

use crate::kernel;
use crate::protocol::{HookStatsReport, QueueReport, StateReport, StatsReport};

pub use error::StartError;
use exec::{HookCounters, QueueInfo, Ready};
pub use plan::PlanError;
pub use spec::{default_name, RunSpec, PIN_ROOT};

/// A started script, as its owner holds it.
pub struct Running {
    pub report: StateReport,
    hooks: Vec<HookCounters>,
    queues: Vec<QueueInfo>,
    pub log: Log,
    stop: Arc<AtomicBool>,
    /// Ends the state's Lua calls, its body's included, at their next check.
    abort: AbortHandle,
    done: Arc<AtomicBool>,
    memory: Arc<AtomicUsize>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Running {
    /// Starts `spec` on a new thread and waits until its hooks are attached or it failed.
    pub fn start(spec: RunSpec) -> Result<Running, StartError> {
        let log = Log::new(2000);
        let stop = Arc::new(AtomicBool::new(false));
        let abort = AbortHandle::new();
        let done = Arc::new(AtomicBool::new(false));
        let memory = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let thread = {
            let (log, stop, done, memory, abort) = (
                log.clone(),
                stop.clone(),
                done.clone(),
                memory.clone(),
                abort.clone(),
            );
            std::thread::Builder::new()
                .name(format!("lunet-{}", spec.name))
                .spawn(move || {
                    state_thread(spec, log, abort, &stop, &memory, tx);
                    done.store(true, Ordering::SeqCst);
                })
                .map_err(StartError::Thread)?
        };
        match rx.recv() {
            Ok(Ok(ready)) => Ok(Running {
                report: ready.report,
                hooks: ready.hooks,
                queues: ready.queues,
                log,
                stop,
                abort,
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
            queues: self.queue_reports(),
        }
    }

    /// The state's queues with the kernel's counters and its rules' (read in the state's
    /// namespace), and what the consumer counted.
    fn queue_reports(&self) -> Vec<QueueReport> {
        if self.queues.is_empty() {
            return Vec::new();
        }
        let read = || {
            let kernel = lunet_netfilter::kernel_queue_stats().unwrap_or_default();
            let queued = lunet_netfilter::queued_packets(exec::backend())
                .ok()
                .flatten();
            (kernel, queued)
        };
        // What was judged is read first: a packet judged meanwhile then counts once, as
        // waiting, instead of twice.
        let judged: Vec<u64> = self
            .queues
            .iter()
            .map(|q| q.counters.judged.load(Ordering::Relaxed))
            .collect();
        let (kernel, queued) = match &self.report.netns {
            Some(ns) => lunet_netns::in_netns(ns, read).unwrap_or_default(),
            None => read(),
        };
        self.queues
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

/// The state's thread: sets the state up and reports how that went to `tx`, serves its
/// queues until `stop`, then takes it down.
fn state_thread(
    spec: RunSpec,
    log: Log,
    abort: AbortHandle,
    stop: &AtomicBool,
    memory: &AtomicUsize,
    tx: mpsc::Sender<Result<Ready, StartError>>,
) {
    let mut attached = match exec::setup(&spec, &log, abort, memory) {
        Ok((attached, ready)) => {
            if tx.send(Ok(ready)).is_err() {
                // Nobody waits for the state any more.
                attached.stop(&spec);
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
    packets::serve(&attached.state, &mut attached.groups, &log, stop, memory);
    attached.stop(&spec);
    tracing::info!(state = %spec.name, "stopped");
}
