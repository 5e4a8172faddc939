//! The daemon under hostile scripts and overload, with real traffic in namespaces: each test
//! reproduces a failure the security probe of issue #14 found (items 4-7) and proves it gone.

mod support;

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use support::*;

const WAIT: Duration = Duration::from_millis(600);

const PRELUDE: &str = r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
local function dport(skb)
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  if skb:getuint8(9) ~= 17 then return -1 end
  return b.ntoh16(skb:getuint16(ihl + 2))
end
"#;

fn script(d: &Daemon, name: &str, body: &str) -> std::path::PathBuf {
    write_script(d.dir.path(), name, &format!("{PRELUDE}\n{body}"))
}

#[test]
fn a_pathological_pattern_on_one_port_does_not_hold_the_packets_of_another() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    // Port 7 runs a pattern Lua's own matcher backtracks on for years; port 9 is dropped.
    let s = script(
        &d,
        "pat.lua",
        r#"netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
             local p = dport(skb)
             if p == 7 then string.rep("a", 5000):find(".-.-.-.-.-b") end
             if p == 9 then return nf.action.DROP end
             return nf.action.ACCEPT
           end }"#,
    );
    d.run_ok(&s, bed.receiver_ns(), &["--name", "pat", "--timeout", "50"]);
    assert_eq!(
        send_and_count(&bed, 7, 3, Duration::from_secs(2)),
        3,
        "the stopped calls give the default verdict (ACCEPT), on time"
    );
    assert_eq!(
        send_and_count(&bed, 9, 10, WAIT),
        0,
        "packets behind them are judged by the script: dropped"
    );
    let stats = d.stats_json("pat");
    let hook = &stats["hooks"][0];
    assert_eq!(hook["time_hits"], 3, "{stats}");
    assert_eq!(hook["verdicts"]["DROP"], 10, "{stats}");
    let t = Instant::now();
    let o = d.cli(&["stop", "pat"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t.elapsed()
    );
    assert!(lunet_rules(bed.receiver_ns()).is_empty());
}

#[test]
fn sigterm_ends_a_daemon_whose_hook_is_stuck_in_a_pattern_within_seconds() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    let s = script(
        &d,
        "stuck.lua",
        r#"netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, timeout = 1000,
             hook = function(skb)
               if dport(skb) == 7 then string.rep("a", 5000):find(".-.-.-.-.-b") end
               return nf.action.ACCEPT
             end }"#,
    );
    d.run_ok(&s, bed.receiver_ns(), &["--name", "stuck"]);
    // A backlog of calls each a second long, and one of them running now.
    flood(&bed, 7, 50);
    let t = Instant::now();
    d.stop_now();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "SIGTERM took {took:?}");
    assert!(
        lunet_rules(bed.receiver_ns()).is_empty(),
        "its rules are gone"
    );
}

#[test]
fn a_hook_that_always_repeats_gives_its_default_verdict_after_a_bound() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let s = script(
        &d,
        "rep.lua",
        r#"netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
             if dport(skb) == 7 then return nf.action.REPEAT end
             return nf.action.ACCEPT
           end }"#,
    );
    d.run_ok(&s, bed.receiver_ns(), &["--name", "rep"]);
    assert_eq!(
        send_and_count(&bed, 7, 5, Duration::from_secs(2)),
        5,
        "each packet gets the hook's default verdict (ACCEPT) after its last REPEAT"
    );
    let stats = d.stats_json("rep");
    assert_eq!(stats["queues"][0]["repeats_cut"], 5, "{stats}");
    let hook = &stats["hooks"][0];
    assert_eq!(hook["errors"], 5, "{stats}");
    assert_eq!(hook["verdicts"]["ACCEPT"], 5, "{stats}");
    // Each packet was judged MAX_REPEATS times, the last of them overruled.
    assert_eq!(hook["verdicts"]["REPEAT"], 5 * 15, "{stats}");
    assert!(
        hook["last_error"]
            .as_str()
            .unwrap()
            .contains("REPEAT 16 times"),
        "{stats}"
    );
}

/// Sends `n` datagrams to `port` as fast as the sender goes; returns how many arrived.
fn flood(bed: &Testbed, port: u16, n: usize) -> usize {
    let sink = UdpSink::bind(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), port),
    )
    .unwrap();
    let payloads: Vec<Vec<u8>> = (0..n).map(|i| i.to_be_bytes().to_vec()).collect();
    udp_send(
        bed.sender_ns(),
        SocketAddrV4::new(bed.receiver_addr(), port),
        &payloads,
    )
    .unwrap();
    sink.recv_for(Duration::from_secs(2), n).unwrap().len()
}

fn overload_script(d: &Daemon, overload: &str) -> std::path::PathBuf {
    // About a millisecond per packet: far slower than the sender.
    script(
        d,
        &format!("slow-{overload}.lua"),
        &format!(
            r#"netfilter.register{{ tier = "lua", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,
                 overload = "{overload}", budget = 100000000, timeout = 500, hook = function(skb)
                 if dport(skb) == 7 then local x = 0 for i = 1, 100000 do x = x + i end end
                 return nf.action.ACCEPT
               end }}"#
        ),
    )
}

#[test]
fn overload_is_counted_and_follows_the_hooks_policy() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let n = 12_000;
    for overload in ["pass", "drop"] {
        let bed = Testbed::create().unwrap();
        let d = Daemon::start();
        d.run_ok(
            &overload_script(&d, overload),
            bed.receiver_ns(),
            &["--name", "slow"],
        );
        let arrived = flood(&bed, 7, n);
        // The backlog drains (a millisecond a packet) before the books are checked.
        let deadline = Instant::now() + Duration::from_secs(20);
        let stats = loop {
            let s = d.stats_json("slow");
            if s["queues"][0]["waiting"] == 0 || Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let q = &stats["queues"][0];
        assert_eq!(q["overload"], overload, "{stats}");
        let (queued, judged, waiting, dropped, unseen) = (
            q["queued"].as_u64().unwrap(),
            q["judged"].as_u64().unwrap(),
            q["waiting"].as_u64().unwrap(),
            q["dropped"].as_u64().unwrap(),
            q["unseen"].as_u64().unwrap(),
        );
        assert_eq!(queued, n as u64, "every datagram met the rule: {stats}");
        assert_eq!(
            queued,
            judged + waiting + dropped + unseen,
            "every queued packet is accounted for: {stats}"
        );
        assert_eq!(waiting, 0, "the backlog drained: {stats}");
        assert!(judged < queued, "the queue overflowed: {stats}");
        assert_eq!(
            stats["hooks"][0]["packets"], judged,
            "the hook saw what was judged: {stats}"
        );
        match overload {
            "pass" => {
                assert_eq!(dropped, 0, "{stats}");
                // (What arrived also depends on the receiving socket's buffer, which a burst
                // this size overflows: the queue's accounting is what is checked.)
                assert!(unseen > 0, "{stats}");
            }
            _ => {
                assert_eq!(unseen, 0, "{stats}");
                assert!(dropped > 0, "{stats}");
                assert!(
                    (arrived as u64) <= n as u64 - dropped,
                    "dropped packets did not arrive: {arrived} {stats}"
                );
            }
        }
        // A full backlog (seconds of work) does not hold a stop: the calls left end at once,
        // with the default verdict.
        flood(&bed, 7, 6000);
        let t = Instant::now();
        assert!(d.cli(&["stop", "slow"]).status.success());
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "stop took {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn a_run_that_fails_leaves_no_program_pin_or_rule() {
    lunet_testkit::require_root!("namespaces, XDP, netfilter rules");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    // The probe's way to make the rules fail after the XDP hook is attached: the state's
    // chain exists already.
    let chain = lunet_netfilter::iptables_chain_name("both", lunet_types::Hook::LocalIn);
    let made = lunet_netns::in_netns(bed.receiver_ns(), move || {
        std::process::Command::new("iptables")
            .args(["-t", "filter", "-N", &chain])
            .status()
    })
    .unwrap()
    .unwrap();
    assert!(made.success());
    let s = script(
        &d,
        "both.lua",
        r#"local xdp = require("xdp")
           xdp.attach(function(p) return xdp.action.PASS end)
           netfilter.register{ tier = "lua", pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,
             hook = function(skb) return nf.action.ACCEPT end }"#,
    );
    let o = d.cli(&[
        "run",
        s.to_str().unwrap(),
        "--netns",
        bed.receiver_ns(),
        "--dev",
        bed.receiver_if(),
        "--name",
        "both",
    ]);
    assert!(!o.status.success(), "the run fails: {}", text(&o));
    let link = lunet_netns::in_netns(bed.receiver_ns(), {
        let dev = bed.receiver_if().to_string();
        move || {
            std::process::Command::new("ip")
                .args(["link", "show", "dev", &dev])
                .output()
        }
    })
    .unwrap()
    .unwrap();
    let shown = String::from_utf8_lossy(&link.stdout);
    assert!(
        !shown.contains("xdp"),
        "no XDP program is left attached: {shown}"
    );
    assert!(
        !d.pin_root.join("both").exists(),
        "no pins are left in {}",
        d.pin_root.display()
    );
    assert_eq!(
        d.cli(&["list", "--json"]).stdout,
        b"[]\n",
        "no state owns anything"
    );
}
