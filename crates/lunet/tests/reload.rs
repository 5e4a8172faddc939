//! Replacing a script and surviving a crash, with a sequence-numbered stream counted at the
//! receiver: `lunet reload` loses no packet and judges each by exactly one version (issue #14
//! item 6), and a daemon killed with SIGKILL comes back with its states and their filtering as
//! they were.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use support::*;

/// The stream: `COUNT` datagrams numbered 0.. to port `PORT`, at `RATE` per second.
const PORT: u16 = 7000;
const RATE: u64 = 5000;
const COUNT: u32 = 10_000;

/// A netfilter hook dropping the stream's packets whose number `% 3 == rest`.
fn nf_script(rest: u32) -> String {
    format!(
        r#"local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{{ tier = "lua", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "seq", hook = function(skb)
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  if skb:getuint8(9) ~= 17 or b.ntoh16(skb:getuint16(ihl + 2)) ~= {PORT} then return nf.action.ACCEPT end
  if b.ntoh32(skb:getuint32(ihl + 8)) % 3 == {rest} then return nf.action.DROP end
  return nf.action.ACCEPT
end }}
"#
    )
}

/// The same at XDP, compiled to eBPF by lunet.
fn xdp_script(rest: u32) -> String {
    format!(
        r#"local xdp = require("xdp")
local b = require("byteorder")
xdp.attach(function(p)
  if #p < 42 or b.ntoh16(p:getuint16(12)) ~= 0x0800 or p:getuint8(23) ~= 17 then return xdp.action.PASS end
  local ihl = (p:getuint8(14) & 0x0f) * 4
  local udp = 14 + ihl
  if #p < udp + 12 or b.ntoh16(p:getuint16(udp + 2)) ~= {PORT} then return xdp.action.PASS end
  if b.ntoh32(p:getuint32(udp + 8)) % 3 == {rest} then return xdp.action.DROP end
  return xdp.action.PASS
end, {{ name = "seq" }})
"#
    )
}

/// Sends the stream from the sender while `during` runs (after a quarter of it went out);
/// gives the numbers that arrived.
fn stream_while(bed: &Testbed, during: impl FnOnce()) -> BTreeSet<u32> {
    let sink = UdpSink::bind(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), PORT),
    )
    .unwrap();
    let dst = SocketAddrV4::new(bed.receiver_addr(), PORT);
    let sock = lunet_netns::udp_socket(bed.sender_ns(), "0.0.0.0:0".parse().unwrap()).unwrap();
    let sender = std::thread::spawn(move || {
        let start = Instant::now();
        for seq in 0..COUNT {
            // Paced: packet `seq` leaves at seq / RATE seconds.
            let due = start + Duration::from_micros(seq as u64 * 1_000_000 / RATE);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut p = seq.to_be_bytes().to_vec();
            p.extend_from_slice(&[0; 28]);
            sock.send_to(&p, dst).unwrap();
        }
    });
    let receiver = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(COUNT as u64 / RATE + 5);
        sink.recv_until(deadline, COUNT as usize).unwrap()
    });
    std::thread::sleep(Duration::from_millis(COUNT as u64 * 250 / RATE));
    during();
    sender.join().unwrap();
    receiver
        .join()
        .unwrap()
        .iter()
        .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
        .collect()
}

/// Checks that the numbers that `arrived` are what version `a` (dropping `% 3 == a`) let
/// through up to some packet and version `b` after it: nothing lost, nothing let through
/// wrongly, one switch. Gives the first number `b` judged.
fn one_switch(arrived: &BTreeSet<u32>, a: u32, b: u32) -> u32 {
    let passes = |v: u32, seq: u32| seq % 3 != v;
    // The first packet whose fate only `b` explains, and the last only `a` explains.
    let only = |v: u32, seq: u32| passes(v, seq) == arrived.contains(&seq);
    let first_b = (0..COUNT)
        .find(|&s| only(b, s) && !only(a, s))
        .unwrap_or(COUNT);
    let last_a = (0..COUNT).rev().find(|&s| only(a, s) && !only(b, s));
    if let Some(last_a) = last_a {
        assert!(
            last_a < first_b,
            "packet {last_a} was judged by the old version after {first_b} was judged by the new one"
        );
    }
    for seq in 0..COUNT {
        let v = if seq < first_b { a } else { b };
        assert_eq!(
            arrived.contains(&seq),
            passes(v, seq),
            "packet {seq}: {} (judged by version {v}, the switch was at {first_b})",
            if arrived.contains(&seq) {
                "arrived, but its version drops it"
            } else {
                "lost"
            }
        );
    }
    first_b
}

#[test]
fn a_reloaded_lua_hook_loses_no_packet_and_judges_each_once() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let v1 = write_script(d.dir.path(), "v1.lua", &nf_script(0));
    let v2 = write_script(d.dir.path(), "v2.lua", &nf_script(1));
    d.run_ok(&v1, bed.receiver_ns(), &["--name", "seq"]);
    let queues = bound_queues(bed.receiver_ns());
    let arrived = stream_while(&bed, || {
        let o = d.cli(&["reload", "seq", v2.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    });
    let at = one_switch(&arrived, 0, 1);
    eprintln!(
        "switched at packet {at} of {COUNT}; {} arrived",
        arrived.len()
    );
    assert!(
        at > 0 && at < COUNT,
        "the switch happened during the stream (at {at})"
    );
    assert_eq!(
        bound_queues(bed.receiver_ns()),
        queues,
        "the same queue served both"
    );
    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    assert!(
        list[0]["script"].as_str().unwrap().ends_with("v2.lua"),
        "{list}"
    );
}

#[test]
fn a_reloaded_compiled_hook_switches_atomically_at_xdp() {
    lunet_testkit::require_root!("namespaces and XDP");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let v1 = write_script(d.dir.path(), "x1.lua", &xdp_script(0));
    let v2 = write_script(d.dir.path(), "x2.lua", &xdp_script(2));
    let out = d.run_ok(
        &v1,
        bed.receiver_ns(),
        &["--name", "xseq", "--dev", bed.receiver_if()],
    );
    assert!(out.contains("kernel tier"), "{out}");
    let arrived = stream_while(&bed, || {
        let o = d.cli(&["reload", "xseq", v2.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    });
    let at = one_switch(&arrived, 0, 2);
    eprintln!(
        "switched at packet {at} of {COUNT}; {} arrived",
        arrived.len()
    );
    assert!(
        at > 0 && at < COUNT,
        "the switch happened during the stream (at {at})"
    );
}

#[test]
fn a_broken_new_version_is_refused_and_the_old_one_runs_on() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let v1 = write_script(d.dir.path(), "v1.lua", &nf_script(0));
    d.run_ok(&v1, bed.receiver_ns(), &["--name", "seq"]);
    for (name, source, needle) in [
        ("syntax.lua", "netfilter.register{", "syntax.lua:1"),
        ("body.lua", "error('no')", "body.lua:1: no"),
        (
            "moved.lua",
            &nf_script(1).replace("LOCAL_IN", "PRE_ROUTING"),
            "puts its netfilter hooks elsewhere",
        ),
    ] {
        let bad = write_script(d.dir.path(), name, source);
        let o = d.cli(&["reload", "seq", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", text(&o));
        assert!(stderr(&o).contains(needle), "{name}: {}", text(&o));
    }
    let arrived = stream_while(&bed, || {});
    assert_eq!(
        one_switch(&arrived, 0, 0),
        COUNT,
        "version 1 judged everything"
    );
}

#[test]
fn a_killed_daemon_comes_back_with_its_states_and_their_filtering() {
    lunet_testkit::require_root!("namespaces, XDP, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    // One state with a compiled XDP hook counting what it drops in a map, and a Lua-tier hook.
    let both = write_script(
        d.dir.path(),
        "both.lua",
        r#"local map = require("bpf.map")
local xdp = require("xdp")
local nf = require("linux").nf
local b = require("byteorder")
local drops = map.array{ key = "I4", value = "I8", entries = 1, name = "drops" }
xdp.attach(function(p)
  if #p < 42 or b.ntoh16(p:getuint16(12)) ~= 0x0800 or p:getuint8(23) ~= 17 then return xdp.action.PASS end
  local ihl = (p:getuint8(14) & 0x0f) * 4
  if #p < 14 + ihl + 4 or b.ntoh16(p:getuint16(14 + ihl + 2)) ~= 9 then return xdp.action.PASS end
  drops[0] = (drops[0] or 0) + 1
  return xdp.action.DROP
end, { name = "p9" })
require("netfilter").register{ tier = "lua", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "p10", hook = function(skb)
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  if skb:getuint8(9) == 17 and b.ntoh16(skb:getuint16(ihl + 2)) == 10 then return nf.action.DROP end
  return nf.action.ACCEPT
end }
"#,
    );
    d.run_ok(
        &both,
        bed.receiver_ns(),
        &["--name", "both", "--dev", bed.receiver_if()],
    );
    assert_eq!(send_and_count(&bed, 9, 20, Duration::from_millis(500)), 0);
    assert_eq!(send_and_count(&bed, 10, 20, Duration::from_millis(500)), 0);

    d.kill();
    assert_eq!(
        send_and_count(&bed, 9, 20, Duration::from_millis(500)),
        0,
        "the compiled hook filters on with no daemon"
    );
    assert_eq!(
        send_and_count(&bed, 10, 20, Duration::from_millis(500)),
        20,
        "the Lua-tier hook's traffic passes (bypass) while no daemon reads its queue"
    );

    d.spawn();
    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["name"], "both", "the state is back: {list}");
    assert_eq!(
        send_and_count(&bed, 10, 20, Duration::from_millis(500)),
        0,
        "Lua tier filters again"
    );
    assert_eq!(
        send_and_count(&bed, 9, 20, Duration::from_millis(500)),
        0,
        "XDP still filters"
    );
    let o = d.cli(&["map", "both", "drops", "get", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("60"),
        "the pinned map kept its count across the crash (20 + 20 + 20): {}",
        text(&o)
    );
    assert!(d.cli(&["stop", "both"]).status.success());
    assert!(lunet_rules(bed.receiver_ns()).is_empty());
    assert!(!d.pin_root.join("both").exists());
}

#[test]
fn a_state_that_cannot_come_back_is_cleaned_up() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    let s = write_script(d.dir.path(), "gone.lua", &nf_script(0));
    d.run_ok(&s, bed.receiver_ns(), &["--name", "gone"]);
    d.kill();
    std::fs::remove_file(&s).unwrap();
    d.spawn();
    assert_eq!(d.cli(&["list", "--json"]).stdout, b"[]\n");
    assert!(
        lunet_rules(bed.receiver_ns()).is_empty(),
        "its rules were removed"
    );
}
