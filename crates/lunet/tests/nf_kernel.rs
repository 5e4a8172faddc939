//! Netfilter hooks in the kernel tier, end to end as root: a hook that compiles runs as a
//! netfilter eBPF program at its hook and priority (no NFQUEUE rule), drops and accepts real
//! traffic between namespaces the test creates (198.18.0.0/15), sees only packets of its
//! registration's mark, and is counted by `lunet stats`; one that does not compile runs in
//! the Lua tier and says why.

mod support;

use std::time::Duration;

use support::*;

const WAIT: Duration = Duration::from_millis(800);

const PORT_FILTER: &str = r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{ name = "ports", pf = nf.proto.IPV4, hooknum = nf.inet.PRE_ROUTING,
  priority = nf.ip.pri.FILTER, hook = function(skb)
    if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
    local port = b.ntoh16(skb:getuint16((skb:getuint8(0) & 15) * 4 + 2))
    if port == 9 then return nf.action.DROP end
    return nf.action.ACCEPT
  end }
"#;

fn hook_stats(stats: &serde_json::Value, name: &str) -> serde_json::Value {
    stats["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no hook {name} in {stats}"))
        .clone()
}

#[test]
fn a_compiled_netfilter_hook_drops_and_accepts_in_the_kernel_and_is_counted() {
    lunet_testkit::require_root!("namespaces, netfilter eBPF links");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    // Family INET: one link for IPv4 and one for IPv6, the same program.
    let script = write_script(
        d.dir.path(),
        "nfk.lua",
        &PORT_FILTER.replace("nf.proto.IPV4", "nf.proto.INET"),
    );
    let out = d.run_ok(&script, bed.receiver_ns(), &["--name", "nfk"]);
    assert!(out.contains("kernel tier"), "tier reported: {out}");
    for family in ["IPV4", "IPV6"] {
        assert!(
            out.contains(&format!("netfilter eBPF {family} PRE_ROUTING priority 0")),
            "{family} placement reported: {out}"
        );
    }
    assert!(d.pin_root.join("nfk/nf4_ports").exists());
    assert!(d.pin_root.join("nfk/nf6_ports").exists());
    assert!(
        lunet_rules(bed.receiver_ns()).is_empty(),
        "no NFQUEUE rule for a compiled hook"
    );
    assert!(bound_queues(bed.receiver_ns()).is_empty(), "no queue bound");

    assert_eq!(send_and_count(&bed, 9, 20, WAIT), 0, "port 9 is dropped");
    assert_eq!(send_and_count(&bed, 53, 20, WAIT), 20, "port 53 passes");

    let h = hook_stats(&d.stats_json("nfk"), "ports");
    assert_eq!(h["verdicts"]["DROP"], 20, "{h}");
    assert!(
        h["verdicts"]["ACCEPT"].as_i64().unwrap_or(0) >= 20,
        "the 20 datagrams to port 53 and whatever else arrived: {h}"
    );
    let out = d.cli(&["stop", "nfk"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        send_and_count(&bed, 9, 5, WAIT),
        5,
        "stopped: nothing drops"
    );
}

#[test]
fn a_compiled_netfilter_hook_sees_only_packets_of_its_mark() {
    lunet_testkit::require_root!("namespaces, netfilter eBPF links and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    // The marker sets a mark (only the Lua tier can); the dropper, compiled, sees mark 5 only.
    let script = write_script(
        d.dir.path(),
        "nfmark.lua",
        r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{ name = "marker", pf = nf.proto.IPV4, hooknum = nf.inet.PRE_ROUTING, priority = nf.ip.pri.RAW,
  hook = function(skb)
    if skb:getuint8(9) == 17 and b.ntoh16(skb:getuint16((skb:getuint8(0) & 15) * 4 + 2)) == 9 then
      return nf.action.ACCEPT, 5
    end
    return nf.action.ACCEPT
  end }
netfilter.register{ name = "dropper", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, mark = 5,
  hook = function(skb) return nf.action.DROP end }
"#,
    );
    let out = d.run_ok(&script, bed.receiver_ns(), &["--name", "nfmark"]);
    assert!(
        out.contains("cannot set the packet's mark"),
        "the marker's reason for the Lua tier: {out}"
    );
    assert!(
        out.contains("netfilter eBPF IPV4 LOCAL_IN"),
        "the dropper is compiled: {out}"
    );
    assert_eq!(
        send_and_count(&bed, 9, 15, WAIT),
        0,
        "marked packets dropped"
    );
    assert_eq!(send_and_count(&bed, 53, 15, WAIT), 15, "unmarked pass");
    let stats = d.stats_json("nfmark");
    let dropper = hook_stats(&stats, "dropper");
    assert_eq!(dropper["verdicts"]["DROP"], 15, "{dropper}");
    assert_eq!(
        dropper["packets"], 15,
        "packets of another mark are not the hook's: {dropper}"
    );
}

#[test]
fn a_netfilter_hook_outside_the_subset_runs_in_the_lua_tier_and_says_why() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(
        d.dir.path(),
        "nfwrite.lua",
        r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
netfilter.register{ name = "writer", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  if skb:getuint8(9) == 17 then skb:setuint8(8, 63) end
  return nf.action.ACCEPT
end }
"#,
    );
    let out = d.run_ok(&script, bed.receiver_ns(), &["--name", "nfwrite"]);
    assert!(out.contains("lua tier"), "tier reported: {out}");
    assert!(
        out.contains("cannot change the packet"),
        "the reason reported: {out}"
    );
    assert!(
        !lunet_rules(bed.receiver_ns()).is_empty(),
        "an NFQUEUE rule"
    );
    assert_eq!(send_and_count(&bed, 53, 10, WAIT), 10, "accepted");
    let h = hook_stats(&d.stats_json("nfwrite"), "writer");
    assert!(h["packets"].as_i64().unwrap_or(0) >= 10, "{h}");
}

#[test]
fn check_reports_a_netfilter_hook_s_tier_and_why() {
    if std::fs::read(lunet_bpf::btf::VMLINUX).is_err() {
        eprintln!("SKIP: no readable {} here", lunet_bpf::btf::VMLINUX);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        "both.lua",
        &format!(
            "{PORT_FILTER}\nnetfilter.register{{ name = \"writer\", pf = nf.proto.IPV4, \
             hooknum = nf.inet.LOCAL_IN, hook = function(skb)\n  skb:setuint8(8, 63)\n  \
             return nf.action.ACCEPT\nend }}\n"
        ),
    );
    let o = lunet(&["check", script.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let hooks = v["hooks"].as_array().unwrap();
    assert_eq!(hooks[0]["tier"], "kernel", "{:#}", hooks[0]);
    assert_eq!(hooks[1]["tier"], "lua", "{:#}", hooks[1]);
    let why = hooks[1]["reasons"].to_string();
    assert!(
        why.contains("NFQUEUE") && why.contains("cannot change the packet"),
        "{why}"
    );
}

#[test]
fn a_compiled_netfilter_hook_survives_reload_and_a_killed_daemon() {
    lunet_testkit::require_root!("namespaces, netfilter eBPF links");
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    let v1 = write_script(d.dir.path(), "v1.lua", PORT_FILTER);
    d.run_ok(&v1, bed.receiver_ns(), &["--name", "nfr"]);
    assert_eq!(send_and_count(&bed, 9, 10, WAIT), 0, "v1 drops port 9");

    // v2 drops port 10 instead: the reload swaps the program under the same pin.
    let v2 = write_script(
        d.dir.path(),
        "v2.lua",
        &PORT_FILTER.replace("port == 9", "port == 10"),
    );
    let o = d.cli(&["reload", "nfr", v2.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(send_and_count(&bed, 9, 10, WAIT), 10, "v2 passes port 9");
    assert_eq!(send_and_count(&bed, 10, 10, WAIT), 0, "v2 drops port 10");
    let pins: Vec<_> = std::fs::read_dir(d.pin_root.join("nfr"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nf"))
        .collect();
    assert_eq!(pins, ["nf4_ports"], "one link pinned, the old one gone");

    // A killed daemon leaves the pinned link filtering; the next one adopts it.
    d.kill();
    assert_eq!(
        send_and_count(&bed, 10, 10, WAIT),
        0,
        "the pinned program filters on with no daemon"
    );
    d.spawn();
    assert_eq!(
        send_and_count(&bed, 10, 10, WAIT),
        0,
        "adopted: still drops"
    );
    assert_eq!(send_and_count(&bed, 9, 10, WAIT), 10, "and passes the rest");
    let h = hook_stats(&d.stats_json("nfr"), "ports");
    assert!(h["verdicts"]["DROP"].as_i64().unwrap_or(0) >= 10, "{h}");
    assert!(d.cli(&["stop", "nfr"]).status.success());
    assert!(!d.pin_root.join("nfr").exists(), "stop removes the pins");
    assert_eq!(
        send_and_count(&bed, 10, 10, WAIT),
        10,
        "stopped: nothing drops"
    );
}
