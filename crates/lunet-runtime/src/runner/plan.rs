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
mod tests {
    use super::*;
    use lunet_types::nf::priority as pri;

    const PINS: &str = "/sys/fs/bpf/lunet/fw";

    fn nf_hook(id: usize, family: Family, hook: Hook, priority: i32, mark: u32) -> HookSpec {
        HookSpec {
            id,
            name: format!("h{id}"),
            attach: Attach::Netfilter {
                family,
                hook,
                priority,
                mark,
            },
            default_verdict: 1,
            tier: Tier::Auto,
            defined_at: format!("fw.lua:{}", 10 + id),
            budget: None,
            timeout: None,
            overload: lunet_types::Overload::Pass,
        }
    }

    fn local_in(id: usize, priority: i32, mark: u32) -> HookSpec {
        nf_hook(id, Family::Ipv4, Hook::LocalIn, priority, mark)
    }

    fn xdp_hook(id: usize, name: &str, dev: Option<&str>) -> HookSpec {
        HookSpec {
            name: name.into(),
            attach: Attach::Xdp {
                dev: dev.map(String::from),
            },
            default_verdict: 2,
            ..local_in(id, 0, 0)
        }
    }

    fn planned(specs: &[HookSpec], cli: Tier) -> Result<Plan, PlanError> {
        plan(
            specs,
            cli,
            Path::new(PINS),
            IptablesVariant::Legacy,
            &BTreeMap::new(),
            &BTreeSet::new(),
        )
    }

    #[test]
    fn hooks_of_one_family_hook_and_table_share_one_queue_and_run_in_priority_order() {
        let specs = [
            local_in(0, 10, 0),
            local_in(1, -5, 0),
            local_in(2, pri::FILTER, 0),
            // The same hook in another table (mangle), and in another family: other queues.
            local_in(3, pri::MANGLE, 0),
            nf_hook(4, Family::Ipv6, Hook::LocalIn, 0, 0),
        ];
        let p = planned(&specs, Tier::Auto).unwrap();
        assert_eq!(p.groups.len(), 3, "{:?}", p.groups);
        let filter = p
            .groups
            .iter()
            .position(|g| g.table == "filter" && g.family == Family::Ipv4);
        let filter = filter.expect("an IPv4 filter group");
        let g = &p.groups[filter];
        assert_eq!(g.hooks, [(1, 0), (2, 0), (0, 0)], "by priority: -5, 0, 10");
        assert_eq!(
            g.priority, -5,
            "the group's rule sits at its first hook's priority"
        );
        for id in 0..3 {
            assert_eq!(p.hooks[id].place, Place::Queue { group: filter });
        }
        for id in 3..5 {
            assert_ne!(
                p.hooks[id].place,
                Place::Queue { group: filter },
                "hook {id}"
            );
        }
        assert!(p.hooks.iter().all(|h| h.tier == Tier::Lua));
    }

    #[test]
    fn marks_give_one_rule_each() {
        let specs = [local_in(0, 0, 0), local_in(1, 5, 7), local_in(2, 9, 0)];
        let p = planned(&specs, Tier::Auto).unwrap();
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].marks, [0, 7]);
        let rules = p.rules(&[20_001]);
        let rule = |mark| QueueRule {
            family: Family::Ipv4,
            hook: Hook::LocalIn,
            priority: 0,
            mark,
            queue: 20_001,
            queues: 1,
            in_dev: None,
        };
        assert_eq!(rules, [rule(0), rule(7)]);
    }

    #[test]
    fn an_xdp_hook_goes_to_the_kernel_tier_on_its_device_with_a_reason() {
        let specs = [
            xdp_hook(0, "sni-blocklist", Some("veth1")),
            local_in(1, 0, 0),
        ];
        let p = planned(&specs, Tier::Auto).unwrap();
        let pin = PathBuf::from(PINS).join("xdp_sni_blocklist");
        assert_eq!(
            p.hooks[0],
            HookPlan {
                id: 0,
                tier: Tier::Kernel,
                reason: Reason::Compiled,
                place: Place::Xdp {
                    dev: "veth1".into(),
                    pin: pin.clone()
                },
            }
        );
        assert_eq!(p.groups.len(), 1, "XDP hooks have no queue");
        let reports = p.reports(&specs, &[20_000], &[], &BTreeMap::from([(0, 42)]));
        assert_eq!(
            reports[0].tier_reason,
            "compiled to 42 eBPF instructions and accepted by the kernel's verifier"
        );
        assert_eq!(
            reports[0].placement,
            [format!("XDP on veth1, link pinned at {}", pin.display())]
        );
        assert_eq!(reports[0].queue, None);
        assert_eq!(reports[1].queue, Some(20_000));
        assert_eq!(
            reports[1].tier_reason,
            "the kernel tier cannot take this netfilter hook, so it runs in Lua through NFQUEUE: \
             it was not compiled"
        );
    }

    #[test]
    fn a_compiled_netfilter_hook_gets_links_at_its_hook_and_priority_and_no_queue() {
        let specs = [
            nf_hook(0, Family::Inet, Hook::PreRouting, pri::FILTER, 5),
            local_in(1, 10, 0),
            HookSpec {
                tier: Tier::Lua,
                ..local_in(2, 20, 0)
            },
        ];
        let compiled = BTreeSet::from([0, 2]);
        let p = plan(
            &specs,
            Tier::Auto,
            Path::new(PINS),
            IptablesVariant::Legacy,
            &BTreeMap::from([(1, "line 3: a packet write".to_string())]),
            &compiled,
        )
        .unwrap();
        let pins = vec![
            (Family::Ipv4, Path::new(PINS).join("nf4_h0")),
            (Family::Ipv6, Path::new(PINS).join("nf6_h0")),
        ];
        assert_eq!(p.hooks[0].tier, Tier::Kernel);
        assert_eq!(
            p.hooks[0].place,
            Place::Netfilter {
                family: Family::Inet,
                hook: Hook::PreRouting,
                priority: pri::FILTER,
                pins
            }
        );
        // The one that did not compile, and the one demanding Lua, share a queue.
        assert_eq!(p.hooks[1].tier, Tier::Lua);
        assert_eq!(p.hooks[2].tier, Tier::Lua);
        assert_eq!(p.hooks[2].reason, Reason::LuaDemanded);
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].hooks, [(1, 0), (2, 0)]);
        assert!(p.hooks[1]
            .reason
            .text(None)
            .ends_with("NFQUEUE: line 3: a packet write"));
        let reports = p.reports(&specs, &[7], &[], &BTreeMap::from([(0, 30)]));
        assert_eq!(reports[0].queue, None);
        assert_eq!(reports[0].placement.len(), 2, "{:?}", reports[0].placement);
    }

    #[test]
    fn a_demanded_tier_that_cannot_be_had_is_an_error() {
        let mut in_kernel = local_in(0, 0, 0);
        in_kernel.tier = Tier::Kernel;
        assert_eq!(
            planned(&[in_kernel.clone()], Tier::Auto),
            Err(PlanError::NetfilterInKernel {
                at: "fw.lua:10".into(),
                hook: "h0".into()
            })
        );
        let err = planned(&[xdp_hook(0, "x", None)], Tier::Auto).unwrap_err();
        assert!(err
            .to_string()
            .contains("has no device: start the script with --dev IFACE"));
        // The first hook that cannot be had is the error.
        let err = planned(
            &[local_in(0, 0, 0), xdp_hook(1, "x", None), in_kernel],
            Tier::Auto,
        );
        assert!(matches!(err, Err(PlanError::NoDevice { .. })), "{err:?}");
    }

    #[test]
    fn an_xdp_hook_in_the_lua_tier_is_fed_from_its_devices_raw_prerouting_first() {
        // Demanded.
        let p = planned(&[xdp_hook(0, "x", Some("veth1"))], Tier::Lua).unwrap();
        assert_eq!(p.hooks[0].tier, Tier::Lua);
        assert_eq!(p.hooks[0].place, Place::Queue { group: 0 });
        let g = &p.groups[0];
        assert_eq!(
            (g.family, g.hook, g.table),
            (Family::Inet, Hook::PreRouting, "raw")
        );
        assert_eq!(g.xdp_dev.as_deref(), Some("veth1"));
        let r = p.rules(&[7]);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].in_dev.map(|d| d.as_str().to_string()),
            Some("veth1".into())
        );
        // "auto" and the compiler refused it: Lua, with the compiler's reason.
        let refused = BTreeMap::from([(0, "line 3: `select` with a variable n".to_string())]);
        let p = plan(
            &[xdp_hook(0, "x", Some("veth1")), local_in(1, 0, 0)],
            Tier::Auto,
            Path::new(PINS),
            IptablesVariant::Legacy,
            &refused,
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(p.hooks[0].tier, Tier::Lua);
        assert!(p.hooks[0]
            .reason
            .text(None)
            .contains("`select` with a variable n"));
        assert_eq!(
            p.groups.len(),
            2,
            "its own group, apart from the netfilter hook's"
        );
        // "auto" and it compiled: the kernel tier, as before.
        let p = planned(&[xdp_hook(0, "x", Some("veth1"))], Tier::Auto).unwrap();
        assert_eq!(p.hooks[0].tier, Tier::Kernel);
    }

    #[test]
    fn a_registration_s_tier_wins_over_the_command_line() {
        let mut lua = local_in(0, 0, 0);
        lua.tier = Tier::Lua;
        let p = planned(&[lua], Tier::Kernel).unwrap();
        assert_eq!(
            (p.hooks[0].tier, p.hooks[0].reason.clone()),
            (Tier::Lua, Reason::LuaDemanded)
        );
        let p = planned(&[local_in(0, 0, 0)], Tier::Lua).unwrap();
        assert_eq!(p.hooks[0].reason, Reason::LuaDemanded);
        assert!(planned(&[local_in(0, 0, 0)], Tier::Kernel).is_err());
    }

    fn placement(backend: &str, family: Family, hook: Hook, table: &str, prio: i32) -> Placement {
        Placement {
            backend: backend.into(),
            family,
            hook,
            table: table.into(),
            chain: hook.iptables_chain().into(),
            table_priority: 0,
            requested_priority: prio,
        }
    }

    /// An INET rule under iptables has two placements (iptables and ip6tables); each hook's
    /// report lists the placements of its own rules only.
    #[test]
    fn each_hook_reports_the_placements_of_its_own_rules() {
        let specs = [
            local_in(0, 0, 0),
            local_in(1, 0, 7),
            nf_hook(2, Family::Inet, Hook::LocalOut, 0, 0),
        ];
        let p = planned(&specs, Tier::Auto).unwrap();
        let queues: Vec<u16> = (0..p.groups.len() as u16).map(|i| 20_000 + i).collect();
        let rules = p.rules(&queues);
        let placements: Vec<Placement> = rules
            .iter()
            .flat_map(|r| {
                let tools: &[&str] = match r.family {
                    Family::Inet => &["iptables", "ip6tables"],
                    _ => &["iptables"],
                };
                tools
                    .iter()
                    .map(|t| placement(t, r.family, r.hook, "filter", r.priority))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(placements.len(), 4);
        let reports = p.reports(&specs, &queues, &placements, &BTreeMap::new());
        let shown = |p: &Placement| p.to_string();
        let of = |family, hook, tool| shown(&placement(tool, family, hook, "filter", 0));
        assert_eq!(
            reports[0].placement,
            [of(Family::Ipv4, Hook::LocalIn, "iptables")]
        );
        assert_eq!(
            reports[1].placement,
            [of(Family::Ipv4, Hook::LocalIn, "iptables")]
        );
        assert_eq!(
            reports[2].placement,
            [
                of(Family::Inet, Hook::LocalOut, "iptables"),
                of(Family::Inet, Hook::LocalOut, "ip6tables")
            ]
        );
        assert_eq!(reports[0].queue, reports[1].queue, "one group, one queue");
        assert_ne!(reports[0].queue, reports[2].queue);
        let per_rule = placements_per_rule(&rules, &placements);
        for (r, ps) in rules.iter().zip(&per_rule) {
            let want = if r.family == Family::Inet { 2 } else { 1 };
            assert_eq!(ps.len(), want, "{r:?}");
        }
    }
}
