//! Per-CPU copies of a state's Lua tier (`run --cpus N`).
//!
//! The state's own thread is copy 0: it runs the body first (so the maps are created and
//! pinned), loads the compiled hooks, binds `N` consecutive queues per group and installs the
//! rules, which spread packets over those queues by a hash of the flow. Copies 1 to N-1 are
//! started here, each on its own thread pinned to its CPU, with its own Lua state (the body
//! runs again in each; maps are the pinned ones, taken over) and its own queue of each group.
//! What copies share is what lives in the kernel (maps) and the `rcu` tables' booleans and
//! integers (one [`RcuShared`] per version of the script). Other Lua values (globals,
//! upvalues, tables a hook fills) are each copy's own.
//!
//! Stopping goes in order: copy 0 removes the rules, then tells the copies to stop, each
//! judges what its queues still hold and ends, then copy 0 drains its own and unpins.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use lunet_lua::{AbortHandle, HookStats, Log, MapBacking, RcuShared, State, StateOptions, Stream};
use lunet_netfilter::QueueSocket;

use super::error::StartError;
use super::packets::{self, Group, QueueCounters};
use super::plan::Plan;
use super::spec::RunSpec;
use super::Control;

/// What a copy reports when it is serving, and after a reload.
pub struct CopyReady {
    /// Its Lua-tier hooks' counters, by hook id (`None` for a hook it has no stats for).
    pub hooks: Vec<Option<Arc<HookStats>>>,
    /// Its queues' counters, one per group.
    pub queues: Vec<Arc<QueueCounters>>,
}

/// A copy as copy 0 holds it.
pub struct Copy {
    pub index: u16,
    /// The queue number of each group this copy reads.
    pub queues: Vec<u16>,
    pub cpu: Option<u32>,
    pub memory: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    control: mpsc::Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

/// The CPU copy `index` runs on: the spec's list, else copy k on CPU k modulo the CPUs
/// online; a state of one copy is not pinned.
pub fn cpu_of(spec: &RunSpec, index: u16) -> Option<u32> {
    if let Some(c) = spec.cpu_list.get(index as usize) {
        return Some(*c);
    }
    if spec.copies <= 1 {
        return None;
    }
    Some(index as u32 % lunet_netns::online_cpus() as u32)
}

impl Copy {
    /// Starts copy `index` of `spec` on `queues` (number and socket, one per group of
    /// `plan`) and waits until it serves or failed.
    pub fn start(
        spec: &RunSpec,
        plan: &Plan,
        index: u16,
        queues: Vec<(u16, QueueSocket)>,
        log: &Log,
        abort: AbortHandle,
        rcu: Arc<RcuShared>,
    ) -> Result<(Copy, CopyReady), StartError> {
        let (queues, sockets): (Vec<u16>, Vec<QueueSocket>) = queues.into_iter().unzip();
        let stop = Arc::new(AtomicBool::new(false));
        let memory = Arc::new(AtomicUsize::new(0));
        let (control, orders) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        let cpu = cpu_of(spec, index);
        let thread = {
            let (spec, plan, log) = (spec.clone(), plan.clone(), log.for_copy(index));
            let (stop, memory) = (stop.clone(), memory.clone());
            std::thread::Builder::new()
                .name(format!("lunet-{}-{index}", spec.name))
                .spawn(move || {
                    let job = Job {
                        spec,
                        plan,
                        rcu,
                        log,
                        abort,
                        stop,
                        memory,
                        cpu,
                    };
                    job.run(sockets, tx, orders)
                })
                .map_err(StartError::Thread)?
        };
        let (ready, thread) = super::error::first_report(&rx, thread)?;
        Ok((
            Copy {
                index,
                queues,
                cpu,
                memory,
                stop,
                control,
                thread: Some(thread),
            },
            ready,
        ))
    }

    /// Has the copy run `spec`'s script from now on (its body runs first; on error the copy
    /// keeps the old version and the error says why).
    pub fn reload(
        &self,
        spec: &RunSpec,
        plan: &Plan,
        rcu: &Arc<RcuShared>,
        wait: Duration,
    ) -> Result<CopyReady, String> {
        let (reply, answer) = mpsc::channel();
        self.control
            .send(Control::ReloadCopy(
                spec.clone(),
                plan.clone(),
                rcu.clone(),
                reply,
            ))
            .map_err(|_| "the copy's thread is gone".to_string())?;
        answer
            .recv_timeout(wait)
            .map_err(|_| "the copy did not answer".to_string())?
    }

    /// Stops the copy once the rules are gone: it judges what its queues hold and ends.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A copy's thread's part.
struct Job {
    spec: RunSpec,
    plan: Plan,
    /// Copy 0's rcu tables, shared.
    rcu: Arc<RcuShared>,
    log: Log,
    abort: AbortHandle,
    stop: Arc<AtomicBool>,
    memory: Arc<AtomicUsize>,
    cpu: Option<u32>,
}

impl Job {
    fn load(&self) -> Result<State, StartError> {
        let opts = StateOptions {
            limits: self.spec.limits,
            dev: self.spec.dev.clone(),
            log: self.log.clone(),
            maps: MapBacking::Kernel {
                pin_dir: Some(self.spec.pin_dir.clone()),
                adopt: true,
            },
            abort: self.abort.clone(),
            paths: self.spec.path.clone(),
            rcu: self.rcu.clone(),
        };
        Ok(State::load(&self.spec.script, opts)?)
    }

    fn run(
        mut self,
        sockets: Vec<QueueSocket>,
        tx: mpsc::Sender<Result<CopyReady, StartError>>,
        orders: mpsc::Receiver<Control>,
    ) {
        if let Some(ns) = &self.spec.netns {
            if let Err(source) = lunet_netns::enter(ns) {
                let _ = tx.send(Err(StartError::Netns {
                    ns: ns.clone(),
                    source,
                }));
                return;
            }
        }
        if let Some(cpu) = self.cpu {
            if let Err(e) = lunet_netns::pin_thread(0, cpu as usize) {
                self.log.push(
                    Stream::Error,
                    format!("copy cannot be pinned to CPU {cpu}: {e}"),
                );
            }
        }
        let mut state = match self.load() {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let specs = state.hooks();
        let flows = super::flows::open(&self.spec.pin_dir);
        let mut groups: Vec<Group> = sockets
            .into_iter()
            .zip(&self.plan.groups)
            .map(|(q, g)| {
                let mut g = Group::new(q, g.running_order(&specs), g.xdp_dev.is_some());
                g.flows = flows.clone();
                g
            })
            .collect();
        let report = |state: &State, groups: &[Group]| CopyReady {
            hooks: (0..state.hooks().len()).map(|id| state.stats(id)).collect(),
            queues: groups.iter().map(|g| g.counters.clone()).collect(),
        };
        if tx.send(Ok(report(&state, &groups))).is_err() {
            return;
        }
        while let Some(order) = packets::serve(
            &state,
            &mut groups,
            &self.log,
            &self.stop,
            &self.memory,
            &orders,
        ) {
            match order {
                Control::ReloadCopy(spec, plan, rcu, reply) => {
                    self.spec = spec;
                    self.plan = plan;
                    self.rcu = rcu;
                    let result = self.load().map_err(|e| e.to_string()).map(|new| {
                        let specs = new.hooks();
                        for (g, pg) in groups.iter_mut().zip(&self.plan.groups) {
                            g.hooks = pg.running_order(&specs);
                        }
                        state = new;
                        report(&state, &groups)
                    });
                    let _ = reply.send(result);
                }
                // Copy 0's orders never come here.
                Control::Reload(..) => {}
            }
        }
        packets::drain(&state, &mut groups, &self.log);
    }
}
