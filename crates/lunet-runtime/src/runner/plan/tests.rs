//! The plan's decisions, without a kernel.
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
