//! The Lua tier end to end, as root, with real rules and real packets in namespaces the tests
//! create: verdicts counted at the receiver, marks, rewrites, bypass when the daemon dies, and
//! nothing left behind by `stop`.

mod support;

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use support::*;

const WAIT: Duration = Duration::from_millis(800);

#[test]
fn port_filter_drops_and_accepts_as_the_script_says_and_stop_leaves_nothing() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = examples_dir().join("port-filter.lua");
    let out = d.run_ok(&script, bed.receiver_ns(), &["--name", "fw"]);
    assert!(
        out.contains("iptables filter/INPUT"),
        "placement reported: {out}"
    );
    assert!(out.contains("lua tier"), "tier reported: {out}");

    assert_eq!(send_and_count(&bed, 9, 20, WAIT), 0, "port 9 is dropped");
    assert_eq!(send_and_count(&bed, 53, 20, WAIT), 20, "port 53 passes");

    let stats = d.stats_json("fw");
    let hook = &stats["hooks"][0];
    assert_eq!(hook["name"], "port-filter");
    assert_eq!(hook["verdicts"]["DROP"], 20);
    assert_eq!(hook["verdicts"]["ACCEPT"], 20);
    assert_eq!(hook["errors"], 0);

    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["name"], "fw");
    assert_eq!(list[0]["packets"], 40);

    assert!(!lunet_rules(bed.receiver_ns()).is_empty());
    assert!(!bound_queues(bed.receiver_ns()).is_empty());
    let o = d.cli(&["stop", "fw"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        lunet_rules(bed.receiver_ns()),
        Vec::<String>::new(),
        "stop removes every rule and chain"
    );
    assert_eq!(
        bound_queues(bed.receiver_ns()),
        Vec::<u16>::new(),
        "stop unbinds every queue"
    );
    assert_eq!(
        send_and_count(&bed, 9, 5, WAIT),
        5,
        "after stop nothing filters"
    );
    assert_eq!(
        d.cli(&["stats", "fw"]).status.code(),
        Some(5),
        "a stopped state is gone"
    );
}

#[test]
fn marks_select_hooks_and_a_new_mark_reaches_the_next_hook() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(
        d.dir.path(),
        "marks.lua",
        r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
-- Early hook: marks UDP to port 9 with 5.
netfilter.register{ name = "marker", pf = nf.proto.IPV4, hooknum = nf.inet.PRE_ROUTING, priority = nf.ip.pri.RAW,
  hook = function(skb)
    if skb:getuint8(9) == 17 and b.ntoh16(skb:getuint16((skb:getuint8(0) & 15) * 4 + 2)) == 9 then
      return nf.action.ACCEPT, 5
    end
    return nf.action.ACCEPT
  end }
-- Late hook: sees only packets marked 5, and drops them.
netfilter.register{ name = "dropper", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, mark = 5,
  hook = function(skb) return nf.action.DROP end }
"#,
    );
    d.run_ok(&script, bed.receiver_ns(), &["--name", "marks"]);
    assert_eq!(
        send_and_count(&bed, 9, 15, WAIT),
        0,
        "marked packets are dropped by the mark-5 hook"
    );
    assert_eq!(
        send_and_count(&bed, 53, 15, WAIT),
        15,
        "unmarked packets never reach it"
    );
    let stats = d.stats_json("marks");
    let by_name = |n: &str| {
        stats["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("marker")["packets"], 30);
    assert_eq!(
        by_name("dropper")["packets"],
        15,
        "only mark-5 packets are queued to it"
    );
    assert_eq!(by_name("dropper")["verdicts"]["DROP"], 15);
}

#[test]
fn a_packet_rewritten_by_a_setter_arrives_rewritten() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(
        d.dir.path(),
        "rewrite.lua",
        r#"
local netfilter = require("netfilter")
local checksum = require("checksum")
local nf = require("linux").nf
netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  local l4 = (skb:getuint8(0) & 15) * 4
  if skb:getuint8(9) == 17 and #skb >= l4 + 12 and skb:getstring(l4 + 8, 4) == "ping" then
    skb:setstring(l4 + 8, "PONG")
    checksum.transport(skb)
  end
  return nf.action.ACCEPT
end }
"#,
    );
    d.run_ok(&script, bed.receiver_ns(), &[]);
    let dst = SocketAddrV4::new(bed.receiver_addr(), 7000);
    let sink = UdpSink::bind(bed.receiver_ns(), dst).unwrap();
    udp_send(
        bed.sender_ns(),
        dst,
        &[b"ping 1".to_vec(), b"ping 2".to_vec(), b"other".to_vec()],
    )
    .unwrap();
    let got = sink.recv_for(WAIT, 3).unwrap();
    let mut got: Vec<String> = got
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    got.sort();
    // A bad UDP checksum would make the kernel discard the datagram: arrival proves it was fixed.
    assert_eq!(got, ["PONG 1", "PONG 2", "other"]);
}

#[test]
fn traffic_passes_while_the_daemon_is_dead_and_a_restart_resumes_filtering() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    let script = examples_dir().join("port-filter.lua");
    d.run_ok(&script, bed.receiver_ns(), &["--name", "fw"]);
    assert_eq!(send_and_count(&bed, 9, 10, WAIT), 0);

    d.kill();
    assert!(
        !lunet_rules(bed.receiver_ns()).is_empty(),
        "a killed daemon cannot remove its rules"
    );
    assert_eq!(
        send_and_count(&bed, 9, 10, WAIT),
        10,
        "--queue-bypass passes traffic with no reader"
    );

    d.spawn();
    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    assert_eq!(
        list[0]["name"], "fw",
        "the new daemon restored the state: {list}"
    );
    assert_eq!(
        send_and_count(&bed, 9, 10, WAIT),
        0,
        "filtering resumed as it was"
    );
    assert!(d.cli(&["stop", "fw"]).status.success());
    assert_eq!(lunet_rules(bed.receiver_ns()), Vec::<String>::new());
    assert_eq!(send_and_count(&bed, 9, 10, WAIT), 10);
}

#[test]
fn an_endless_hook_costs_its_budget_while_the_daemon_keeps_answering() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(
        d.dir.path(),
        "spin.lua",
        r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
netfilter.register{ name = "spin", tier = "lua", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  if skb:getuint8(9) == 17 then
    while true do end
  end
  return nf.action.DROP
end }
"#,
    );
    d.run_ok(&script, bed.receiver_ns(), &["--budget", "1000000"]);
    let sink = UdpSink::bind(bed.receiver_ns(), SocketAddrV4::new(bed.receiver_addr(), 9)).unwrap();
    let sender = {
        let ns = bed.sender_ns().to_string();
        let dst = SocketAddrV4::new(bed.receiver_addr(), 9);
        std::thread::spawn(move || {
            for i in 0..30u8 {
                udp_send(&ns, dst, &[vec![i]]).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let t = Instant::now();
        let o = d.cli(&["list"]);
        slowest = slowest.max(t.elapsed());
        assert!(o.status.success());
    }
    sender.join().unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "lunet list took {slowest:?} while a hook spun"
    );
    assert_eq!(
        sink.recv_for(Duration::from_secs(3), 30).unwrap().len(),
        30,
        "the default verdict ACCEPT let every packet through"
    );
    let stats = d.stats_json("spin");
    let hook = &stats["hooks"][0];
    assert_eq!(hook["budget_hits"], 30);
    assert_eq!(hook["verdicts"]["ACCEPT"], 30);
    let last = hook["last_error"].as_str().unwrap();
    assert!(
        last.contains("spin.lua:6: instruction budget of 1000000 exhausted"),
        "{last}"
    );
    let logs = stdout(&d.cli(&["logs", "spin"]));
    assert!(logs.contains("error: hook spin:"), "{logs}");
}

#[test]
fn memory_bombs_hit_the_cap_and_are_reported() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let body = write_script(
        d.dir.path(),
        "bomb.lua",
        "local t = {}\nfor i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end\n",
    );
    let o = d.cli(&[
        "run",
        body.to_str().unwrap(),
        "--netns",
        bed.receiver_ns(),
        "--mem",
        "8M",
    ]);
    assert_eq!(o.status.code(), Some(3), "a script error");
    assert!(
        stderr(&o)
            .contains("bomb.lua:2: not enough memory: the state's memory cap of 8388608 bytes"),
        "{}",
        stderr(&o)
    );

    let hook = write_script(
        d.dir.path(),
        "hookbomb.lua",
        r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
netfilter.register{ name = "bomb", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  local t = {}
  for i = 1, 1e9 do t[i] = ('y'):rep(100) .. i end
end }
"#,
    );
    d.run_ok(
        &hook,
        bed.receiver_ns(),
        // A time limit the bomb cannot reach first, however loaded the machine.
        &["--mem", "8M", "--budget", "100000000", "--timeout", "1000"],
    );
    assert_eq!(
        send_and_count(&bed, 9, 3, Duration::from_secs(5)),
        3,
        "default verdict ACCEPT"
    );
    let stats = d.stats_json("hookbomb");
    assert_eq!(stats["hooks"][0]["memory_hits"], 3);
    assert!(d.cli(&["list"]).status.success(), "the daemon is fine");
}

#[test]
fn a_syntax_error_is_reported_as_file_and_line() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let bad = write_script(
        d.dir.path(),
        "bad.lua",
        "local nf = require('netfilter')\n\nnf.register{ hook = function() return 1 end\n",
    );
    let o = d.cli(&["run", bad.to_str().unwrap(), "--netns", bed.receiver_ns()]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(
        err.contains("bad.lua:3:") || err.contains("bad.lua:4:"),
        "{err}"
    );
    assert_eq!(
        lunet_rules(bed.receiver_ns()),
        Vec::<String>::new(),
        "a failed start leaves no rules"
    );
}

#[test]
fn one_states_failures_leave_another_states_verdicts_intact() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    d.run_ok(
        &examples_dir().join("port-filter.lua"),
        bed.receiver_ns(),
        &["--name", "fw"],
    );
    let broken = write_script(
        d.dir.path(),
        "broken.lua",
        r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
netfilter.register{ name = "boom", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, priority = nf.ip.pri.MANGLE,
  hook = function(skb) error("boom") end }
"#,
    );
    d.run_ok(&broken, bed.receiver_ns(), &["--name", "broken"]);
    let dead = write_script(d.dir.path(), "dead.lua", "error('cannot start')\n");
    assert_eq!(
        d.cli(&["run", dead.to_str().unwrap(), "--netns", bed.receiver_ns()])
            .status
            .code(),
        Some(3)
    );

    assert_eq!(
        send_and_count(&bed, 9, 20, WAIT),
        0,
        "fw still drops port 9"
    );
    assert_eq!(
        send_and_count(&bed, 53, 20, WAIT),
        20,
        "fw still accepts port 53"
    );
    assert_eq!(
        d.stats_json("broken")["hooks"][0]["errors"],
        40,
        "every packet passed the broken hook first"
    );
    assert_eq!(d.stats_json("fw")["hooks"][0]["verdicts"]["DROP"], 20);
    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "the state whose body failed is not listed"
    );
}

#[test]
fn logs_follow_streams_until_the_state_stops() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    d.run_ok(
        &examples_dir().join("port-filter.lua"),
        bed.receiver_ns(),
        &["--name", "fw"],
    );
    let follower = std::process::Command::new(lunet_bin())
        .args([
            "logs",
            "fw",
            "--follow",
            "--socket",
            d.socket.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    send_and_count(&bed, 9, 3, Duration::from_millis(300));
    send_and_count(&bed, 7777, 3, Duration::from_millis(300));
    assert!(d.cli(&["stop", "fw"]).status.success());
    let out = follower.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("dropping UDP to port 9: discard service"),
        "{text}"
    );
    assert!(text.contains("dropping UDP to port 7777"), "{text}");
    assert!(
        stderr(&out).contains("state 'fw' stopped"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_foreground_filters_until_interrupted_then_cleans_up() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let script = examples_dir().join("port-filter.lua");
    let mut child = std::process::Command::new(lunet_bin())
        .args([
            "run",
            script.to_str().unwrap(),
            "--foreground",
            "--netns",
            bed.receiver_ns(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lunet_rules(bed.receiver_ns()).is_empty() {
        assert!(Instant::now() < deadline, "foreground state never attached");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(send_and_count(&bed, 9, 10, WAIT), 0);
    assert_eq!(send_and_count(&bed, 53, 10, WAIT), 10);
    // SAFETY: kill(2) on the PID of the child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out}");
    assert!(
        out.contains("verdicts: ACCEPT 10, DROP 10"),
        "final stats printed: {out}"
    );
    assert_eq!(
        lunet_rules(bed.receiver_ns()),
        Vec::<String>::new(),
        "Ctrl-C removes the rules"
    );
}

#[test]
fn maps_are_shared_by_the_hook_and_the_shell() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(
        d.dir.path(),
        "count.lua",
        r#"
local map = require("bpf.map")
local netfilter = require("netfilter")
local b = require("byteorder")
local nf = require("linux").nf
local seen = map.hash{ name = "seen", key = "I2", value = "I8", entries = 64 }
local block = map.hash{ name = "block", key = "I2", value = "B", entries = 64 }
netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
  local port = b.ntoh16(skb:getuint16((skb:getuint8(0) & 15) * 4 + 2))
  seen[port] = (seen[port] or 0) + 1
  if block[port] then return nf.action.DROP end
  return nf.action.ACCEPT
end }
"#,
    );
    let out = d.run_ok(&script, bed.receiver_ns(), &["--name", "ports"]);
    assert!(out.contains("ports"), "{out}");
    assert_eq!(send_and_count(&bed, 5000, 4, WAIT), 4);

    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["map", "ports", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["name"], "seen");
    assert_eq!(list[0]["key"], "I2");
    let pinned = list[0]["pinned"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&pinned).exists(), "pinned at {pinned}");

    let get: serde_json::Value = serde_json::from_slice(
        &d.cli(&["map", "ports", "seen", "get", "5000", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(get["value"], 4, "the shell reads what the hook counted");

    // The shell writes what the hook reads: block port 5000.
    assert!(d
        .cli(&["map", "ports", "block", "set", "5000", "1"])
        .status
        .success());
    assert_eq!(
        send_and_count(&bed, 5000, 3, WAIT),
        0,
        "blocked through the map"
    );
    let dump = stdout(&d.cli(&["map", "ports", "seen"]));
    assert!(dump.contains("5000 = 7"), "{dump}");

    assert!(d
        .cli(&["map", "ports", "block", "del", "5000"])
        .status
        .success());
    assert_eq!(send_and_count(&bed, 5000, 2, WAIT), 2, "unblocked");
    let o = d.cli(&["map", "ports", "nosuch"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("has no map 'nosuch' (its maps: seen, block)"),
        "{}",
        stderr(&o)
    );
    let o = d.cli(&["map", "ports", "seen", "get", "notanumber"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    assert!(d.cli(&["stop", "ports"]).status.success());
    assert!(
        !std::path::Path::new(&pinned).exists(),
        "stop removes the pins"
    );
}
