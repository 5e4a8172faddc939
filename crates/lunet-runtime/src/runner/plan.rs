//! The plan of a state: pure decisions over the hooks its body registered, made before any
//! queue is bound, rule installed or program loaded, and the report built from what the
//! execution then did.
//!
//! - Each hook gets a tier and the reason for it ([`HookPlan`]): a hook that compiled runs in
//!   the kernel tier, an XDP hook on its device, a netfilter hook as a netfilter eBPF program
//!   at its exact hook and priority, each with its link(s) pinned in the state's directory; a
//!   hook that does not compile (or demands Lua) runs in the Lua tier. A demanded tier that
//!   cannot be had is a [`PlanError`].
//! - Netfilter hooks are grouped by (family, hook, iptables table) ([`QueueGroup`]): one
//!   queue per group, its hooks run in priority order, one rule per distinct mark. (An
//!   NFQUEUE ACCEPT resumes at the next *table*, so two queues in one table would see a
//!   packet only once between them.)
//! - [`Plan::reports`] says, per hook, what `run` prints: tier, reason, where it went.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lunet_lua::HookSpec;
use lunet_netfilter::{Family, Hook, IptablesVariant, Placement, QueueRule};
use lunet_types::{Attach, Overload, Tier};

use crate::protocol::HookReport;

/// Why a hook cannot have the tier it asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{at}: XDP hook '{hook}' has no device: start the script with --dev IFACE, or pass {{dev = ...}}")]
    NoDevice { at: String, hook: String },
    #[error("{at}: hook '{hook}' demands the kernel tier, which cannot take it (use tier = \"lua\" or \"auto\")")]
    NetfilterInKernel { at: String, hook: String },
}

/// Why a hook runs in its tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A hook whose registration (or the command line) demanded the Lua tier.
    LuaDemanded,
    /// An XDP hook that does not compile (or that the verifier refused): it runs in the Lua
    /// tier, fed from the device's netfilter PRE_ROUTING (the error says why).
    XdpNotCompiled(String),
    /// A netfilter hook the kernel tier cannot take (the error says why): it runs in the Lua
    /// tier through NFQUEUE.
    NetfilterNotCompiled(String),
    /// Compiled, and accepted by the verifier (the execution says how long).
    Compiled,
}

impl Reason {
    /// The report's `tier_reason`; `insns` is a compiled hook's instruction count.
    pub fn text(&self, insns: Option<usize>) -> String {
        match self {
            Reason::LuaDemanded => "the Lua tier was demanded".into(),
            Reason::XdpNotCompiled(why) => format!(
                "the kernel tier cannot take this XDP hook, so it runs in Lua, fed from \
                 PRE_ROUTING on its device: {why}"
            ),
            Reason::NetfilterNotCompiled(why) => format!(
                "the kernel tier cannot take this netfilter hook, so it runs in Lua through \
                 NFQUEUE: {why}"
            ),
            Reason::Compiled => format!(
                "compiled to {} eBPF instructions and accepted by the kernel's verifier",
                insns.unwrap_or(0)
            ),
        }
    }
}

/// Where one hook goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Fed by the queue of [`Plan::groups`]`[group]`.
    Queue { group: usize },
    /// Compiled, loaded and attached at XDP on `dev`, with its link pinned at `pin`.
    Xdp { dev: String, pin: PathBuf },
    /// Compiled to a netfilter eBPF program attached at `hook` with `priority`, one link per
    /// family (IPv4 and IPv6 for `INET`), pinned at `pins` in that order.
    Netfilter {
        family: Family,
        hook: Hook,
        priority: i32,
        pins: Vec<(Family, PathBuf)>,
    },
}

impl Place {
    /// The pins of a compiled hook's links (none for a queued hook).
    pub fn pins(&self) -> Vec<&Path> {
        match self {
            Place::Queue { .. } => Vec::new(),
            Place::Xdp { pin, .. } => vec![pin.as_path()],
            Place::Netfilter { pins, .. } => pins.iter().map(|(_, p)| p.as_path()).collect(),
        }
    }
}

/// One hook's tier, the reason, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPlan {
    /// The hook's id ([`HookSpec::id`]).
    pub id: usize,
    pub tier: Tier,
    pub reason: Reason,
    pub place: Place,
}

/// The netfilter hooks of one (family, hook, iptables table): one queue feeds them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup {
    pub family: Family,
    pub hook: Hook,
    /// The iptables table the group's priority falls in.
    pub table: &'static str,
    /// The priority of the group's rules: that of its first hook.
    pub priority: i32,
    /// `(hook id, mark it wants)`, in the order they run: by priority, then registration.
    pub hooks: Vec<(usize, u32)>,
    /// The marks of the group's rules, one rule each, in the order first seen.
    pub marks: Vec<u32>,
    /// What the group's queue does when full: `drop` if any of its hooks asks for it (a
    /// hook that must see every packet or none wins over one that lets them pass).
    pub overload: Overload,
    /// A group of XDP hooks in the Lua tier: the device whose incoming packets it takes
    /// (at raw PRE_ROUTING, before any other table), each hook given the whole frame.
    pub xdp_dev: Option<String>,
}

impl QueueGroup {
    /// The group's `(hook id, mark, default verdict)` in running order.
    pub fn running_order(&self, specs: &[HookSpec]) -> Vec<(usize, u32, u32)> {
        self.hooks
            .iter()
            .map(|&(id, mark)| (id, mark, specs[id].default_verdict))
            .collect()
    }

    /// The group's rules, feeding queue `queue`.
    /// The group's rules, queueing to `queue` and the `copies - 1` queues after it.
    pub fn rules(&self, queue: u16, copies: u16) -> Vec<QueueRule> {
        self.marks
            .iter()
            .map(|&mark| QueueRule {
                family: self.family,
                hook: self.hook,
                priority: self.priority,
                mark,
                queue,
                queues: copies,
                in_dev: self
                    .xdp_dev
                    .as_deref()
                    .and_then(lunet_netfilter::IfName::new),
            })
            .collect()
    }
}

/// What a state's hooks become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per hook, in hook id order.
    pub hooks: Vec<HookPlan>,
    pub groups: Vec<QueueGroup>,
    /// Copies of the state serving each group, one per CPU (`run --cpus`); 1 unless set.
    pub copies: u16,
}

/// The tier a hook asks for: its registration's, else the command line's.
pub fn demanded(spec: &HookSpec, cli: Tier) -> Tier {
    if spec.tier != Tier::Auto {
        spec.tier
    } else {
        cli
    }
}

/// Plans the hooks `specs` (in id order) of a state whose command line asked for `cli_tier`
/// and which pins in `pin_dir`; `variant` decides the iptables tables' priorities. The first
/// hook (by id) that cannot have its tier is the error.
///
/// `not_compiled` holds the hooks that do not compile, with why: an XDP hook whose tier is
/// "auto" runs in the Lua tier instead. A netfilter hook runs in the kernel tier only when it
/// is in `nf_compiled` (the loader compiled it) and does not demand Lua.
pub fn plan(
    specs: &[HookSpec],
    cli_tier: Tier,
    pin_dir: &Path,
    variant: IptablesVariant,
    not_compiled: &BTreeMap<usize, String>,
    nf_compiled: &BTreeSet<usize>,
) -> Result<Plan, PlanError> {
    type Key = (Family, Hook, &'static str, Option<String>);
    let mut by_key: BTreeMap<Key, Vec<&HookSpec>> = BTreeMap::new();
    for h in specs {
        match &h.attach {
            Attach::Netfilter { .. } if nf_in_kernel(h, cli_tier, nf_compiled) => {}
            Attach::Netfilter {
                family,
                hook,
                priority,
                ..
            } => {
                let table = lunet_netfilter::iptables_table_for(*hook, *priority, variant).0;
                by_key
                    .entry((*family, *hook, table, None))
                    .or_default()
                    .push(h);
            }
            Attach::Xdp { dev: Some(dev) } if xdp_in_lua(h, cli_tier, not_compiled) => {
                let table = lunet_netfilter::iptables_table_for(
                    Hook::PreRouting,
                    XDP_IN_LUA_PRIORITY,
                    variant,
                )
                .0;
                by_key
                    .entry((Family::Inet, Hook::PreRouting, table, Some(dev.clone())))
                    .or_default()
                    .push(h);
            }
            Attach::Xdp { .. } => {}
        }
    }
    let mut groups = Vec::new();
    let mut group_of = BTreeMap::new();
    for ((family, hook, table, xdp_dev), mut members) in by_key {
        members.sort_by_key(|h| priority(h));
        let mut g = QueueGroup {
            family,
            hook,
            table,
            priority: priority(members[0]),
            hooks: Vec::new(),
            marks: Vec::new(),
            overload: Overload::Pass,
            xdp_dev,
        };
        for h in members {
            if h.overload == Overload::Drop {
                g.overload = Overload::Drop;
            }
            // An XDP hook sees every packet its device takes in: those a host sees there
            // have mark 0.
            let mark = match h.attach {
                Attach::Netfilter { mark, .. } => mark,
                Attach::Xdp { .. } => 0,
            };
            g.hooks.push((h.id, mark));
            if !g.marks.contains(&mark) {
                g.marks.push(mark);
            }
            group_of.insert(h.id, groups.len());
        }
        groups.push(g);
    }
    let hooks = specs
        .iter()
        .map(|h| {
            hook_plan(
                h,
                cli_tier,
                pin_dir,
                group_of.get(&h.id).copied(),
                not_compiled.get(&h.id),
                nf_in_kernel(h, cli_tier, nf_compiled),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(Plan {
        hooks,
        groups,
        copies: 1,
    })
}

/// Where the Lua tier's XDP hooks sit: before every other hook of PRE_ROUTING, as XDP is.
pub const XDP_IN_LUA_PRIORITY: i32 = i32::MIN + 1;

/// Whether XDP hook `h` runs in the Lua tier: demanded, or "auto" and it does not compile.
fn xdp_in_lua(h: &HookSpec, cli: Tier, not_compiled: &BTreeMap<usize, String>) -> bool {
    match demanded(h, cli) {
        Tier::Lua => true,
        Tier::Auto => not_compiled.contains_key(&h.id),
        Tier::Kernel => false,
    }
}

/// Whether netfilter hook `h` runs in the kernel tier: compiled, and Lua not demanded.
fn nf_in_kernel(h: &HookSpec, cli: Tier, nf_compiled: &BTreeSet<usize>) -> bool {
    demanded(h, cli) != Tier::Lua && nf_compiled.contains(&h.id)
}

/// The pin of a compiled hook's link: `{kind}_{name}`, the name made path-safe.
fn pin_of(pin_dir: &Path, kind: &str, name: &str) -> PathBuf {
    pin_dir.join(format!(
        "{kind}_{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ))
}

fn priority(h: &HookSpec) -> i32 {
    match h.attach {
        Attach::Netfilter { priority, .. } => priority,
        Attach::Xdp { .. } => XDP_IN_LUA_PRIORITY,
    }
}

fn hook_plan(
    h: &HookSpec,
    cli: Tier,
    pin_dir: &Path,
    group: Option<usize>,
    not_compiled: Option<&String>,
    nf_kernel: bool,
) -> Result<HookPlan, PlanError> {
    let (at, hook) = (h.defined_at.clone(), h.name.clone());
    let (tier, reason, place) = match (&h.attach, demanded(h, cli)) {
        (Attach::Xdp { dev: None }, _) => return Err(PlanError::NoDevice { at, hook }),
        (Attach::Xdp { .. }, Tier::Lua) => (
            Tier::Lua,
            Reason::LuaDemanded,
            Place::Queue {
                group: group.unwrap_or_default(),
            },
        ),
        (Attach::Xdp { .. }, Tier::Auto) if not_compiled.is_some() => (
            Tier::Lua,
            Reason::XdpNotCompiled(not_compiled.cloned().unwrap_or_default()),
            Place::Queue {
                group: group.unwrap_or_default(),
            },
        ),
        (Attach::Xdp { dev: Some(dev) }, _) => (
            Tier::Kernel,
            Reason::Compiled,
            Place::Xdp {
                dev: dev.clone(),
                pin: pin_of(pin_dir, "xdp", &h.name),
            },
        ),
        (
            Attach::Netfilter {
                family,
                hook,
                priority,
                ..
            },
            _,
        ) if nf_kernel => {
            let pin = |f: Family| {
                let kind = match f {
                    Family::Ipv6 => "nf6",
                    _ => "nf4",
                };
                (f, pin_of(pin_dir, kind, &h.name))
            };
            let pins = match family {
                Family::Inet => vec![pin(Family::Ipv4), pin(Family::Ipv6)],
                f => vec![pin(*f)],
            };
            (
                Tier::Kernel,
                Reason::Compiled,
                Place::Netfilter {
                    family: *family,
                    hook: *hook,
                    priority: *priority,
                    pins,
                },
            )
        }
        (Attach::Netfilter { .. }, Tier::Kernel) => {
            return Err(PlanError::NetfilterInKernel { at, hook })
        }
        (Attach::Netfilter { .. }, demanded) => (
            Tier::Lua,
            if demanded == Tier::Lua {
                Reason::LuaDemanded
            } else {
                Reason::NetfilterNotCompiled(
                    not_compiled
                        .cloned()
                        .unwrap_or_else(|| "it was not compiled".to_string()),
                )
            },
            // Every netfilter hook is in a group: the grouping above saw them all.
            Place::Queue {
                group: group.unwrap_or_default(),
            },
        ),
    };
    Ok(HookPlan {
        id: h.id,
        tier,
        reason,
        place,
    })
}

impl Plan {
    /// Every group's rules in group order, group `i` feeding queue `queues[i]`.
    /// The rules of every group: group `i` queues to `queues[i]` and, for a state with
    /// per-CPU copies, to the `copies - 1` numbers after it.
    pub fn rules(&self, queues: &[u16]) -> Vec<QueueRule> {
        self.groups
            .iter()
            .zip(queues)
            .flat_map(|(g, &q)| g.rules(q, self.copies))
            .collect()
    }

    /// The report of each hook (in id order), from what the execution did: `queues[i]` is
    /// the queue bound for group `i`; `placements` are where the rules of
    /// [`Plan::rules`] went, in their order; `insns` a compiled hook's instruction count
    /// by hook id.
    pub fn reports(
        &self,
        specs: &[HookSpec],
        queues: &[u16],
        placements: &[Placement],
        insns: &BTreeMap<usize, usize>,
    ) -> Vec<HookReport> {
        let rules = self.rules(queues);
        let per_rule = placements_per_rule(&rules, placements);
        specs
            .iter()
            .zip(&self.hooks)
            .map(|(h, p)| {
                let (queue, placement) = match &p.place {
                    Place::Queue { group } => {
                        let queue = queues.get(*group).copied();
                        let mark = match h.attach {
                            Attach::Netfilter { mark, .. } => Some(mark),
                            Attach::Xdp { .. } => None,
                        };
                        let placement = rules
                            .iter()
                            .zip(&per_rule)
                            .filter(|(r, _)| Some(r.queue) == queue && Some(r.mark) == mark)
                            .flat_map(|(_, ps)| ps.iter().map(ToString::to_string))
                            .collect();
                        (queue, placement)
                    }
                    Place::Xdp { dev, pin } => (
                        None,
                        vec![format!("XDP on {dev}, link pinned at {}", pin.display())],
                    ),
                    Place::Netfilter {
                        hook,
                        priority,
                        pins,
                        ..
                    } => (
                        None,
                        pins.iter()
                            .map(|(f, pin)| {
                                format!(
                                    "netfilter eBPF {f} {hook} priority {priority}, link pinned at {}",
                                    pin.display()
                                )
                            })
                            .collect(),
                    ),
                };
                HookReport {
                    name: h.name.clone(),
                    tier: p.tier,
                    tier_reason: p.reason.text(insns.get(&h.id).copied()),
                    attach: h.attach.to_string(),
                    placement,
                    queue,
                    budget: h.budget,
                    defined_at: h.defined_at.clone(),
                }
            })
            .collect()
    }
}

/// The placements of each rule. The backend gives them in the order of the rules, one per
/// rule and tool: a rule of family INET under iptables has two (`iptables`, `ip6tables`).
/// So a rule takes the next placements of its family, hook and priority while their tools
/// are new to it.
fn placements_per_rule<'a>(
    rules: &[QueueRule],
    placements: &'a [Placement],
) -> Vec<Vec<&'a Placement>> {
    let mut rest = placements.iter().peekable();
    rules
        .iter()
        .map(|r| {
            let mut mine = Vec::new();
            let mut tools = BTreeSet::new();
            while let Some(p) = rest.peek() {
                let same = p.family == r.family
                    && p.hook == r.hook
                    && p.requested_priority == r.priority
                    && !tools.contains(p.backend.as_str());
                if !same {
                    break;
                }
                tools.insert(p.backend.as_str());
                mine.extend(rest.next());
            }
            mine
        })
        .collect()
}

#[cfg(test)]
mod tests;
