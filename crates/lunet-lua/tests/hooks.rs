//! A state as a script author sees it: hooks give verdicts and marks, setters rewrite the
//! packet, and every failure inside a hook gives the default verdict with a `file:line` reason.

mod common;

use common::*;
use lunet_lua::{HookError, Limits};
use lunet_types::{Attach, Family, Hook};

fn register(body: &str, extra: &str) -> String {
    format!(
        "{PRELUDE}\nnetfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, {extra} hook = function(skb)\n{body}\nend }}\n"
    )
}

#[test]
fn a_port_filter_drops_only_its_port() {
    let (st, _s) = start(&register(
        "local ihl = (skb:getuint8(0) & 0x0f) * 4\n\
         local dport = require('byteorder').ntoh16(skb:getuint16(ihl + 2))\n\
         if dport == 9 then return nf.action.DROP end\n\
         return nf.action.ACCEPT",
        "",
    ));
    assert_eq!(st.run_netfilter(0, udp4(9, b"x").nf()).verdict, 0);
    assert_eq!(st.run_netfilter(0, udp4(53, b"x").nf()).verdict, 1);
    let stats = st.stats(0).unwrap().snapshot(&["DROP", "ACCEPT"]);
    assert_eq!(stats.packets, 2);
    assert_eq!(stats.verdicts["DROP"], 1);
    assert_eq!(stats.verdicts["ACCEPT"], 1);
}

#[test]
fn registration_is_reported_with_its_attach_point_and_default_name() {
    let (st, _s) = start(&register(
        "return nf.action.ACCEPT",
        "priority = nf.ip.pri.RAW, mark = 7,",
    ));
    let hooks = st.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].attach,
        Attach::Netfilter {
            family: Family::Ipv4,
            hook: Hook::LocalIn,
            priority: -300,
            mark: 7
        }
    );
    assert_eq!(
        hooks[0].attach.to_string(),
        "netfilter IPV4 LOCAL_IN priority -300 mark 7"
    );
    assert!(hooks[0].name.starts_with("LOCAL_IN:"), "{}", hooks[0].name);
    assert!(
        hooks[0].defined_at.ends_with("script.lua:6"),
        "{}",
        hooks[0].defined_at
    );
}

#[test]
fn a_hook_returns_a_new_mark() {
    let (st, _s) = start(&register("return nf.action.ACCEPT, skb:mark() + 41", ""));
    let mut p = udp4(1, b"");
    p.mark = 1;
    let out = st.run_netfilter(0, p.nf());
    assert_eq!((out.verdict, out.mark, out.error), (1, Some(42), None));
}

#[test]
fn setters_rewrite_the_packet_and_untouched_packets_are_not_resent() {
    let (st, _s) = start(&register(
        "local d = skb:data('net')\n\
         if #d > 28 then d:setstring(28, 'HI') ; require('checksum').transport(d) end\n\
         return nf.action.ACCEPT",
        "",
    ));
    let out = st.run_netfilter(0, udp4(5, b"hello").nf());
    let bytes = out.rewritten.expect("packet was rewritten");
    assert_eq!(&bytes[28..], b"HIllo");
    // The packet lunet-gen builds with that data: the same bytes, the checksum recomputed.
    assert_eq!(bytes, udp4(5, b"HIllo").net, "checksum filled in");
    assert_eq!(st.run_netfilter(0, udp4(5, b"").nf()).rewritten, None);
}

#[test]
fn the_mac_layer_is_writable_as_lunatiks_and_only_packet_bytes_go_back() {
    let (st, _s) = start(&register(
        "local mac = skb:data('mac')\n\
         assert(#mac == #skb + 14)\n\
         assert(mac:getuint8(14) == 0x45, 'IP header follows the link header')\n\
         mac:setuint8(0, 1)\n\
         assert(mac:getuint8(0) == 1)\n\
         if #skb > 28 then mac:setuint8(14 + 28, 0x41) end\n\
         return nf.action.ACCEPT",
        "",
    ));
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    assert_eq!(out.error, None);
    assert_eq!(
        out.rewritten, None,
        "a write to the header alone changes no packet byte"
    );
    let out = st.run_netfilter(0, udp4(5, b"x").nf());
    assert_eq!(out.error, None);
    assert_eq!(out.rewritten.expect("rewritten")[28], 0x41);

    // A packet with no link-layer header (a local process sent it) has no `mac` layer.
    let mut pkt = udp4(5, b"");
    pkt.link_header.clear();
    let out = st.run_netfilter(0, pkt.nf());
    let err = out.error.expect("no mac layer");
    assert!(err.message().contains("MAC header not set"), "{err}");
    assert!(err.message().contains("script.lua:"), "{err}");
}

#[test]
fn out_of_bounds_reads_give_the_default_verdict_with_the_line() {
    let (st, _s) = start(&register(
        "return skb:getuint32(#skb - 2)",
        "default = nf.action.DROP,",
    ));
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    assert_eq!(out.verdict, 0, "default verdict DROP");
    match out.error {
        Some(HookError::Runtime(m)) => {
            assert!(m.contains("out of bounds"), "{m}");
            assert!(m.contains("script.lua:7:"), "{m}");
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
    let stats = st.stats(0).unwrap().snapshot(&["DROP", "ACCEPT"]);
    assert_eq!(stats.errors, 1);
    assert!(stats.last_error.unwrap().contains("out of bounds"));
}

#[test]
fn an_endless_hook_costs_its_budget_and_the_state_keeps_working() {
    let limits = Limits {
        hook_budget: 50_000,
        ..Limits::default()
    };
    let (st, _s) = start_with(
        &register(
            "if skb:getuint8(9) == 17 then while true do end end\nreturn nf.action.DROP",
            "",
        ),
        limits,
    )
    .unwrap();
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    assert_eq!(out.verdict, 1, "default ACCEPT");
    match &out.error {
        Some(HookError::Budget(m)) => assert!(m.contains("instruction budget of 50000"), "{m}"),
        other => panic!("expected a budget error, got {other:?}"),
    }
    // The same state still runs its hook to completion on the next packet.
    let tcp = tcp4(5, b"");
    assert_eq!(st.run_netfilter(0, tcp.nf()).verdict, 0);
    assert_eq!(st.stats(0).unwrap().snapshot(&[]).budget_hits, 1);
}

#[test]
fn pcall_and_coroutines_cannot_swallow_a_budget_stop() {
    let limits = Limits {
        hook_budget: 20_000,
        ..Limits::default()
    };
    for body in [
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function(e) return e end) end",
        "local co = coroutine.create(function() while true do end end)\nwhile true do coroutine.resume(co) end",
        "local f = coroutine.wrap(function() while true do end end)\nf()",
    ] {
        let (st, _s) = start_with(&register(body, ""), limits).unwrap();
        let out = st.run_netfilter(0, udp4(5, b"").nf());
        assert!(matches!(out.error, Some(HookError::Budget(_))), "{body}: {:?}", out.error);
    }
}

#[test]
fn a_memory_bomb_in_a_hook_hits_the_cap_and_the_state_survives() {
    let limits = Limits {
        memory: 4 << 20,
        hook_budget: 50_000_000,
        // A time limit the bomb cannot reach first, however loaded the machine.
        hook_time: std::time::Duration::from_secs(1),
        ..Limits::default()
    };
    let (st, _s) = start_with(
        &register(
            "if skb:getuint8(9) == 17 then local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end end\n\
             return nf.action.DROP",
            "",
        ),
        limits,
    )
    .unwrap();
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    assert_eq!(out.verdict, 1);
    match &out.error {
        Some(HookError::Memory(m)) => assert!(m.contains("memory cap of 4194304"), "{m}"),
        other => panic!("expected a memory error, got {other:?}"),
    }
    let tcp = tcp4(5, b"");
    assert_eq!(
        st.run_netfilter(0, tcp.nf()).verdict,
        0,
        "state still answers"
    );
    assert!(st.memory_used() < 4 << 20);
}

#[test]
fn bad_return_values_are_errors_not_verdicts() {
    for (body, needle) in [
        ("return 'ACCEPT'", "returned \"ACCEPT\""),
        ("return", "returned nothing"),
        ("return 9", "returned 9"),
    ] {
        let (st, _s) = start(&register(body, ""));
        let out = st.run_netfilter(0, udp4(5, b"").nf());
        assert_eq!(out.verdict, 1);
        match out.error {
            Some(HookError::Verdict(m)) => assert!(m.contains(needle), "{m}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn a_view_kept_after_its_hook_returned_refuses_to_read() {
    let (st, _s) = start(&register(
        "if saved then return saved:getuint8(0) end\nsaved = skb:data('net')\nreturn nf.action.ACCEPT",
        "",
    ));
    assert_eq!(st.run_netfilter(0, udp4(5, b"").nf()).error, None);
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    assert!(out
        .error
        .unwrap()
        .message()
        .contains("after its hook returned"));
}

/// As in Lunatik, a hook's `skb` is one object reset for every packet: kept, it shows the
/// packet of its hook's current call, and raises in another hook's call.
#[test]
fn a_kept_skb_shows_its_hooks_current_packet_and_nothing_elsewhere() {
    let (st, _s) = start(&format!(
        "{PRELUDE}
        netfilter.register{{ pf = 2, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
          kept = kept or skb
          return kept:getuint8(23) == 9 and nf.action.DROP or nf.action.ACCEPT
        end }}
        netfilter.register{{ pf = 2, hooknum = nf.inet.LOCAL_OUT, hook = function(skb)
          return kept:getuint8(0)
        end }}
        "
    ));
    let port = |p: &lunet_lua::Outcome| p.verdict;
    assert_eq!(port(&st.run_netfilter(0, udp4(5, b"").nf())), 1);
    assert_eq!(
        port(&st.run_netfilter(0, udp4(9, b"").nf())),
        0,
        "this call's packet"
    );
    let out = st.run_netfilter(1, udp4(9, b"").nf());
    assert!(
        out.error
            .as_ref()
            .is_some_and(|e| e.message().contains("after its hook returned")),
        "{out:?}"
    );
}

#[test]
fn lunatik_style_scripts_run_unchanged() {
    let (st, _s) = start(
        r#"
        local nf = require("netfilter")
        local family, action, hooks, priority = nf.family, nf.action, nf.inet_hooks, nf.ip_priority
        local function hook(skb)
            local proto = skb:getuint8(9)
            return proto == 17 and action.DROP or action.ACCEPT
        end
        nf.register{ hook = hook, pf = family.INET, hooknum = hooks.LOCAL_OUT, priority = priority.MANGLE + 1 }
        "#,
    );
    assert_eq!(st.run_netfilter(0, udp4(1, b"").nf()).verdict, 0);
}

#[test]
fn xdp_hooks_see_the_frame_and_return_actions() {
    let (st, _s) = start(
        r#"
        local xdp = require("xdp")
        xdp.attach(function(packet, arg)
            assert(#arg == 0)
            return packet:getuint16(12) == 0x0008 and xdp.DROP or xdp.PASS
        end, { name = "v4drop" })
        "#,
    );
    let hooks = st.hooks();
    assert_eq!(hooks[0].name, "v4drop");
    assert!(matches!(hooks[0].attach, Attach::Xdp { dev: None }));
    let mut frame = vec![0u8; 14];
    frame[12] = 0x08;
    assert_eq!(st.run_xdp(0, &frame).verdict, 1);
    frame[12] = 0x86;
    assert_eq!(st.run_xdp(0, &frame).verdict, 2);
}

#[test]
fn unregistered_hooks_are_not_reported() {
    let (st, _s) = start(&format!(
        "{}\nlocal h = netfilter.register{{ pf = 2, hooknum = 1, hook = function() return 0 end }}\nh:unregister()",
        register("return 1", "name = 'kept',")
    ));
    let hooks = st.hooks();
    assert_eq!(
        hooks.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["kept"]
    );
    assert_eq!(hooks[0].id, 0);
}

#[test]
fn unregistering_the_first_hook_keeps_ids_and_stats_aligned() {
    let (st, _s) = start(&format!(
        "{PRELUDE}\nlocal h = netfilter.register{{ pf = 2, hooknum = 1, hook = function() return 0 end }}\n\
         netfilter.register{{ pf = 2, hooknum = 1, name = 'second', hook = function() return 1 end }}\nh:unregister()\n"
    ));
    let hooks = st.hooks();
    assert_eq!(
        (hooks.len(), hooks[0].id, hooks[0].name.as_str()),
        (1, 0, "second")
    );
    assert_eq!(
        st.run_netfilter(0, udp4(1, b"").nf()).verdict,
        1,
        "runs the hook that is left"
    );
    assert_eq!(
        st.stats(0).unwrap().snapshot(&["DROP", "ACCEPT"]).verdicts["ACCEPT"],
        1
    );
}

#[test]
fn a_registration_may_set_its_own_budget() {
    let limits = Limits {
        hook_budget: 10_000_000,
        ..Limits::default()
    };
    let (st, _s) = start_with(&register("while true do end", "budget = 5000,"), limits).unwrap();
    assert_eq!(st.hooks()[0].budget, Some(5000));
    match st.run_netfilter(0, udp4(5, b"").nf()).error {
        Some(HookError::Budget(m)) => {
            assert!(m.contains("instruction budget of 5000 exhausted"), "{m}")
        }
        other => panic!("expected the hook's own budget to stop it: {other:?}"),
    }
    let err = start_with(&register("return 1", "budget = -1,"), Limits::default())
        .err()
        .unwrap();
    assert!(
        err.message.contains("budget must be a positive number"),
        "{}",
        err.message
    );
}

/// The `skb`'s getters (C closures, see src/skb.rs) report like every other accessor: the
/// script's file and line, the offset; a getter taken to another hook raises there.
#[test]
fn skb_getters_raise_with_the_scripts_line() {
    let (st, s) = start(&format!(
        "{PRELUDE}
        netfilter.register{{ pf = 2, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
          get = skb.getuint16
          if #skb > 100 then return skb:getuint8('x') end
          return skb:getuint32(#skb - 2)
        end }}
        netfilter.register{{ pf = 2, hooknum = nf.inet.LOCAL_OUT, hook = function(skb)
          return get(skb, 0)
        end }}
        "
    ));
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    let msg = out.error.unwrap().message().to_string();
    let file = s.path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        msg.contains(&format!(
            "{file}:9: out of bounds (offset 26, size 4, length 28)"
        )),
        "{msg}"
    );
    let out = st.run_netfilter(0, udp4(5, &[0; 100]).nf());
    let msg = out.error.unwrap().message().to_string();
    assert!(
        msg.contains(":8: ") && msg.contains("number expected"),
        "{msg}"
    );
    let out = st.run_netfilter(1, udp4(5, b"").nf());
    let msg = out.error.unwrap().message().to_string();
    assert!(
        msg.contains(":12: ") && msg.contains("after its hook returned"),
        "{msg}"
    );
}

/// The copies of a per-CPU state share one abort handle but run on threads of their own: an
/// endless hook in each is stopped at its budget, whichever copy started last (each has its
/// own watch: with one shared watch only the last copy to start was ever signalled, and the
/// others' endless calls never ended).
#[test]
fn copies_sharing_an_abort_handle_each_have_their_endless_hooks_stopped() {
    use lunet_lua::{AbortHandle, State, StateOptions};
    use std::sync::{mpsc, Arc, Barrier};
    use std::time::Duration;

    const COPIES: usize = 3;
    let abort = AbortHandle::new();
    let s = script(&register("while true do end", ""));
    let started = Arc::new(Barrier::new(COPIES));
    let (tx, rx) = mpsc::channel();
    for copy in 0..COPIES {
        let (abort, path, started, tx) =
            (abort.clone(), s.path.clone(), started.clone(), tx.clone());
        std::thread::spawn(move || {
            let opts = StateOptions {
                limits: Limits {
                    hook_budget: 50_000,
                    ..Limits::default()
                },
                abort,
                ..StateOptions::default()
            };
            let st = State::load(&path, opts).unwrap();
            // Every copy has started before any runs its hook.
            started.wait();
            let out = st.run_netfilter(0, udp4(5, b"").nf());
            let _ = tx.send((copy, out.verdict, out.error));
        });
    }
    drop(tx);
    let mut done = Vec::new();
    while done.len() < COPIES {
        let Ok((copy, verdict, error)) = rx.recv_timeout(Duration::from_secs(10)) else {
            panic!("copies {done:?} ended; the others' endless hooks were never stopped");
        };
        assert_eq!(verdict, 1, "copy {copy}: the default ACCEPT");
        assert!(
            matches!(error, Some(HookError::Budget(_))),
            "copy {copy}: {error:?}"
        );
        done.push(copy);
    }
    assert!(!abort.aborted());
}
