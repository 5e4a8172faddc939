//! `lunet daemon --metrics`: the page scraped while real traffic flows through a Lua-tier
//! state and a compiled XDP state in a namespace test bed, and found equal to `lunet stats`
//! once the traffic stopped; the server's bounds; and the refusal of a non-loopback address.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

/// One sample: its name and labels (as written, sorted) -> its value.
type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// The samples of an OpenMetrics text page.
fn parse(page: &str) -> Samples {
    let mut out = Samples::new();
    for line in page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut ls: Vec<(String, String)> = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        ls.sort();
        out.insert((name.to_string(), ls), value.parse().unwrap());
    }
    out
}

fn sample(s: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut ls: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ls.sort();
    s.get(&(name.to_string(), ls)).copied()
}

const LUA: &str = r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "ports",
  hook = function(skb)
    if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
    local ihl = (skb:getuint8(0) & 0x0f) * 4
    local port = b.ntoh16(skb:getuint16(ihl + 2))
    if port == 7 then return nf.action.DROP end
    if port == 13 then error("port 13 is unlucky") end
    return nf.action.ACCEPT
  end }
"#;

/// Every counter `lunet stats --json` gives for `state`, with its value on the page.
fn compare_with_stats(d: &Daemon, page: &Samples, state: &str) -> usize {
    let stats = d.stats_json(state);
    let mut compared = 0;
    let mut eq = |name: &str, labels: &[(&str, &str)], want: &serde_json::Value| {
        let got = sample(page, name, labels);
        match want.as_u64() {
            Some(w) => assert_eq!(
                got,
                Some(w as f64),
                "{name}{labels:?}: the page says {got:?}, stats say {w}\n{stats:#}"
            ),
            None => assert!(
                want.is_null() && got.is_none(),
                "{name}{labels:?}: {got:?} vs {want}"
            ),
        }
        compared += 1;
    };
    eq(
        "lunet_state_memory_bytes",
        &[("state", state)],
        &stats["memory_used"],
    );
    for h in stats["hooks"].as_array().unwrap() {
        let hook = h["name"].as_str().unwrap();
        let tier = h["tier"].as_str().unwrap();
        let l = [("state", state), ("hook", hook), ("tier", tier)];
        for (metric, field) in [
            ("lunet_hook_packets_total", "packets"),
            ("lunet_hook_errors_total", "errors"),
            ("lunet_hook_budget_hits_total", "budget_hits"),
            ("lunet_hook_time_hits_total", "time_hits"),
            ("lunet_hook_memory_hits_total", "memory_hits"),
        ] {
            eq(metric, &l, &h[field]);
        }
        for (verdict, n) in h["verdicts"].as_object().unwrap() {
            let mut lv = l.to_vec();
            lv.push(("verdict", verdict));
            eq("lunet_hook_verdicts_total", &lv, n);
        }
    }
    for q in stats["queues"].as_array().unwrap() {
        let number = q["queue"].to_string();
        let overload = q["overload"].as_str().unwrap();
        let l = [("state", state), ("queue", &number), ("overload", overload)];
        for (metric, field) in [
            ("lunet_queue_queued_total", "queued"),
            ("lunet_queue_judged_total", "judged"),
            ("lunet_queue_waiting", "waiting"),
            ("lunet_queue_dropped_total", "dropped"),
            ("lunet_queue_unseen", "unseen"),
            ("lunet_queue_repeats_cut_total", "repeats_cut"),
        ] {
            eq(metric, &l, &q[field]);
        }
    }
    compared
}

#[test]
fn metrics_scraped_during_real_traffic_equal_lunet_stats() {
    lunet_testkit::require_root!("namespaces, netfilter rules, NFQUEUE and XDP");
    let bed = Arc::new(Testbed::create().unwrap());
    let log = tempfile::NamedTempFile::new().unwrap();
    let d = Daemon::start_with(&["--metrics", "127.0.0.1:0"], log.path());
    let addr = metrics_addr(log.path());
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let lua = write_script(d.dir.path(), "ports.lua", LUA);
    d.run_ok(&lua, bed.receiver_ns(), &["--name", "lua", "--tier", "lua"]);
    d.run_ok(
        &examples_dir().join("xdp-port-filter.lua"),
        bed.receiver_ns(),
        &["--dev", bed.receiver_if(), "--name", "xdp"],
    );

    // Traffic to port 9 (dropped by the compiled hook), 7 (dropped by the Lua hook), 13 (the
    // Lua hook errs: ACCEPT by default) and 5000 (passed by both), until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = {
        let (bed, stop) = (bed.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            let to = |port| SocketAddrV4::new(bed.receiver_addr(), port);
            while !stop.load(Ordering::SeqCst) && rounds < 400 {
                for (port, n) in [(9, 5), (7, 3), (13, 1), (5000, 4)] {
                    let payloads: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 32]).collect();
                    udp_send(bed.sender_ns(), to(port), &payloads).unwrap();
                }
                rounds += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            rounds
        })
    };

    // Scraped while it flows: every scrape is a page, and no counter goes back.
    let mut last: Option<Samples> = None;
    let mut grew = false;
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(1100));
        let (status, head, body) = http_get(addr, "/metrics");
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("application/openmetrics-text"), "{head}");
        assert!(body.ends_with("# EOF\n"));
        let now = parse(&body);
        if let Some(prev) = &last {
            for (k, v) in prev.iter().filter(|(k, _)| k.0.ends_with("_total")) {
                let n = now.get(k).copied().unwrap_or(0.0);
                assert!(n >= *v, "{k:?} went back from {v} to {n}");
                grew |= n > *v;
            }
        }
        last = Some(now);
    }
    assert!(grew, "the counters grew while traffic flowed");
    stop.store(true, Ordering::SeqCst);
    let rounds = sent.join().unwrap();

    // Quiet: every packet judged. The page is at most a second old: wait that out.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, _, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200);
    let page = parse(&body);
    let compared = compare_with_stats(&d, &page, "lua") + compare_with_stats(&d, &page, "xdp");
    assert!(compared >= 15, "compared {compared} counters");

    // And they are the traffic's: each round sent 5 to port 9, 3 to 7, 1 to 13, 4 to 5000.
    let hook_name = d.stats_json("xdp")["hooks"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let xdp = [
        ("state", "xdp"),
        ("hook", hook_name.as_str()),
        ("tier", "kernel"),
    ];
    let mut drop = xdp.to_vec();
    drop.push(("verdict", "DROP"));
    assert_eq!(
        sample(&page, "lunet_hook_verdicts_total", &drop),
        Some((rounds * 5) as f64)
    );
    let lua_hook = [("state", "lua"), ("hook", "ports"), ("tier", "lua")];
    let mut lua_drop = lua_hook.to_vec();
    lua_drop.push(("verdict", "DROP"));
    assert_eq!(
        sample(&page, "lunet_hook_verdicts_total", &lua_drop),
        Some((rounds * 3) as f64)
    );
    assert_eq!(
        sample(&page, "lunet_hook_errors_total", &lua_hook),
        Some(rounds as f64)
    );
    assert_eq!(sample(&page, "lunet_states", &[]), Some(2.0));
    assert!(sample(&page, "lunet_daemon_uptime_seconds", &[]).unwrap() > 4.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&page, "lunet_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert!(
        !page.keys().any(|k| k.0 == "lunet_script_file_broken"),
        "no scripts directory, no such family"
    );
}

#[test]
fn the_metrics_server_answers_only_its_page_and_outlasts_clients_that_stall() {
    lunet_testkit::require_root!("a daemon");
    let log = tempfile::NamedTempFile::new().unwrap();
    let d = Daemon::start_with(&["--metrics", "127.0.0.1:0"], log.path());
    let addr = metrics_addr(log.path());
    assert_eq!(http_get(addr, "/").0, 404);
    assert_eq!(http_get(addr, "/metrics?x=1").0, 200);
    let mut post = TcpStream::connect(addr).unwrap();
    write!(post, "POST /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    post.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");

    // A head that never ends is cut at 8 KiB.
    let mut long = TcpStream::connect(addr).unwrap();
    let _ =
        long.write_all(format!("GET /metrics HTTP/1.1\r\nX: {}", "a".repeat(20_000)).as_bytes());
    let mut answer = String::new();
    let _ = long.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // A client that connects and says nothing holds the page at most its deadline (5 s),
    // and the daemon's socket is served meanwhile.
    let stall = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let asked = Instant::now();
    let o = d.cli(&["list"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the control socket waited"
    );
    let (status, _, _) = http_get(addr, "/metrics");
    assert_eq!(status, 200);
    let waited = asked.elapsed();
    assert!(
        waited < Duration::from_secs(7),
        "a scrape behind a stalled client took {waited:?}"
    );
    drop(stall);
}

#[test]
fn a_metrics_address_off_loopback_is_refused_unless_allowed() {
    lunet_testkit::require_root!("lunet daemon");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let o = lunet(&[
        "daemon",
        "--metrics",
        "0.0.0.0:9750",
        "--socket",
        socket.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("--metrics-allow-remote"),
        "{}",
        text(&o)
    );
    assert!(!socket.exists(), "nothing was started");
}
