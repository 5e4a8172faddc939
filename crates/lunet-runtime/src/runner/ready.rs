//! What a started (or reloaded) state reports of itself: its report, and where `stats` finds
//! the counters of each hook, queue and per-CPU copy.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use lunet_bpf::map::Map;
use lunet_lua::{HookSpec, HookStats, State};
use lunet_types::Overload;

use super::copies::{Copy, CopyReady};
use super::flows;
use super::packets::{Group, QueueCounters};
use super::plan::Plan;
use super::spec::RunSpec;
use crate::protocol::{HookReport, StateReport};

/// What the state's thread reports when its hooks are attached.
pub struct Ready {
    pub report: StateReport,
    pub hooks: Vec<HookCounters>,
    pub queues: Vec<QueueInfo>,
    /// Per-CPU copies 1, 2, ...: index, CPU, memory figure and queues.
    pub copies: Vec<CopyInfo>,
}

/// A per-CPU copy as `stats` reads it.
#[derive(Clone)]
pub struct CopyInfo {
    pub index: u16,
    pub cpu: Option<u32>,
    pub memory: Arc<std::sync::atomic::AtomicUsize>,
    pub queues: Vec<u16>,
}

/// One of the state's queues, as `stats` reads it from another thread.
#[derive(Clone)]
pub struct QueueInfo {
    pub queue: u16,
    pub overload: Overload,
    pub counters: Arc<QueueCounters>,
    /// The copy that reads it (0: the state's own thread).
    pub copy: u16,
}

/// Where a hook's counters are: the Lua tier's, or a compiled hook's per-CPU map.
pub struct HookCounters {
    pub report: HookReport,
    pub lua: Arc<HookStats>,
    /// The same hook's counters in the state's per-CPU copies 1, 2, ...
    pub copies: Vec<Arc<HookStats>>,
    pub names: &'static [&'static str],
    pub kernel: Option<Arc<Map>>,
}

/// What the execution did, for [`ready`].
pub(super) struct Executed<'a> {
    pub spec: &'a RunSpec,
    pub state: &'a State,
    pub specs: &'a [HookSpec],
    pub plan: &'a Plan,
    /// The first queue of each group.
    pub queues: &'a [u16],
    pub placements: &'a [lunet_netfilter::Placement],
    /// A compiled hook's instruction count, by hook id.
    pub insns: &'a BTreeMap<usize, usize>,
    /// Each compiled hook's pin and verdict counters.
    pub kernel: Vec<(&'a Path, Arc<Map>)>,
    pub groups: &'a [Group],
    pub copies: &'a [(Copy, CopyReady)],
    /// Whether the state has a flow map (its hooks give flow verdicts).
    pub flows: bool,
}

/// The state's report and where each hook's counters are, from what the execution did.
pub(super) fn ready(e: Executed<'_>) -> Ready {
    let Executed {
        spec,
        state,
        specs,
        plan,
        queues,
        placements,
        insns,
        kernel,
        groups,
        copies,
        flows: has_flows,
    } = e;
    let reports = plan.reports(specs, queues, placements, insns);
    let kernel_counters = |id: usize| -> Option<Arc<Map>> {
        let p = &plan.hooks.get(id)?.place;
        let pin = *p.pins().first()?;
        kernel
            .iter()
            .find(|(k, _)| *k == pin)
            .map(|(_, c)| c.clone())
    };
    let hooks = specs
        .iter()
        .zip(&reports)
        .filter_map(|(h, report)| {
            Some(HookCounters {
                report: report.clone(),
                // Hook ids index the state's hooks.
                lua: state.stats(h.id)?,
                copies: copies
                    .iter()
                    .filter_map(|(_, r)| r.hooks.get(h.id).cloned().flatten())
                    .collect(),
                names: h.attach.verdict_names(),
                kernel: kernel_counters(h.id),
            })
        })
        .collect();
    let queues = plan
        .groups
        .iter()
        .zip(queues)
        .zip(groups)
        .enumerate()
        .flat_map(|(i, ((pg, &queue), g))| {
            let own = QueueInfo {
                queue,
                overload: pg.overload,
                counters: g.counters.clone(),
                copy: 0,
            };
            let theirs = copies.iter().filter_map(move |(c, r)| {
                Some(QueueInfo {
                    queue: *c.queues.get(i)?,
                    overload: pg.overload,
                    counters: r.queues.get(i)?.clone(),
                    copy: c.index,
                })
            });
            std::iter::once(own).chain(theirs)
        })
        .collect();
    let copies = copies
        .iter()
        .map(|(c, _)| CopyInfo {
            index: c.index,
            cpu: c.cpu,
            memory: c.memory.clone(),
            queues: c.queues.clone(),
        })
        .collect();
    Ready {
        copies,
        report: StateReport {
            name: spec.name.clone(),
            script: spec.script.clone(),
            netns: spec.netns.clone(),
            hooks: reports,
            memory_cap: spec.limits.memory,
            hook_budget: spec.limits.hook_budget,
            maps: {
                let mut maps = state.maps();
                if has_flows {
                    maps.push(flows::map_info(&spec.pin_dir));
                }
                maps
            },
            copies: plan.copies,
        },
        hooks,
        queues,
    }
}
