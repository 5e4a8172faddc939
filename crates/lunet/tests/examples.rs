//! The examples in examples/, each with real traffic in namespaces, counted at the receiver.

mod support;

use std::net::SocketAddrV4;
use std::process::Command;
use std::time::Duration;

use support::*;

const WAIT: Duration = Duration::from_millis(800);

/// The query name of a DNS query payload, dotted.
fn qname(payload: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut at = 12;
    while let Some(&len) = payload.get(at) {
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(&payload[at + 1..at + 1 + len as usize]).into_owned());
        at += 1 + len as usize;
    }
    labels.join(".")
}

#[test]
fn dns_blocklist_drops_queries_for_listed_names_and_their_subdomains() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    // LOCAL_OUT: the filter runs where the queries are sent from.
    d.run_ok(
        &examples_dir().join("dns-blocklist.lua"),
        bed.sender_ns(),
        &["--name", "dns"],
    );
    let dst = SocketAddrV4::new(bed.receiver_addr(), 53);
    let sink = UdpSink::bind(bed.receiver_ns(), dst).unwrap();
    let names = [
        ("blocked.example", false),
        ("www.blocked.example", false),
        ("WWW.Blocked.EXAMPLE", false),
        ("a.b.c.ads.test", false),
        ("tracker.invalid", false),
        ("allowed.example", true),
        ("notblocked.example", true), // a suffix, but not a parent domain
        ("example", true),            // the parent of a listed name is not listed
        ("blocked.example.org", true),
    ];
    let queries: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, (n, _))| dns_query(i as u16, n))
        .collect();
    udp_send(bed.sender_ns(), dst, &queries).unwrap();
    let mut arrived: Vec<String> = sink
        .recv_for(WAIT, names.len())
        .unwrap()
        .iter()
        .map(|p| qname(p))
        .collect();
    arrived.sort();
    let mut expected: Vec<String> = names
        .iter()
        .filter(|(_, pass)| *pass)
        .map(|(n, _)| n.to_string())
        .collect();
    expected.sort();
    assert_eq!(arrived, expected);
    let stats = d.stats_json("dns");
    assert_eq!(stats["hooks"][0]["verdicts"]["DROP"], 5);
    let logs = stdout(&d.cli(&["logs", "dns"]));
    assert!(
        logs.contains("blocked DNS query for www.blocked.example"),
        "{logs}"
    );
}

#[test]
fn rate_limit_lets_a_burst_per_source_through_and_drops_the_rest() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    d.run_ok(
        &examples_dir().join("rate-limit.lua"),
        bed.receiver_ns(),
        &["--name", "rl"],
    );
    let dst = SocketAddrV4::new(bed.receiver_addr(), 7000);
    let burst: Vec<Vec<u8>> = (0..60).map(|i| vec![i]).collect();

    let sink = UdpSink::bind(bed.receiver_ns(), dst).unwrap();
    udp_send(bed.sender_ns(), dst, &burst).unwrap();
    let first = sink.recv_for(WAIT, 60).unwrap().len();
    // BURST = 10 tokens, refilled at 20/s: a 60-packet burst sent in a few ms gets 10 through,
    // 11 or 12 if the burst took longer than 50 ms.
    assert!((10..=12).contains(&first), "first source got {first} of 60");

    // A second source address has a bucket of its own.
    let ok = Command::new("ip")
        .args([
            "-n",
            bed.sender_ns(),
            "addr",
            "add",
            "198.18.0.3/24",
            "dev",
            bed.sender_if(),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let second_src = SocketAddrV4::new("198.18.0.3".parse().unwrap(), 0);
    lunet_netns::udp_send_from(bed.sender_ns(), second_src, dst, &burst).unwrap();
    let second = sink.recv_for(WAIT, 60).unwrap().len();
    assert!(
        (10..=12).contains(&second),
        "second source got {second} of 60"
    );

    let stats = d.stats_json("rl");
    let drops = stats["hooks"][0]["verdicts"]["DROP"].as_u64().unwrap();
    assert_eq!(
        drops as usize,
        120 - first - second,
        "every packet not received was dropped by the script"
    );
}

#[test]
fn the_demo_runs_and_removes_everything_it_made() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let o = lunet(&["demo", "--count", "5"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    let rows: Vec<Vec<String>> = out
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|w| w.len() >= 3 && w[0].parse::<u16>().is_ok())
        .collect();
    let row = |port: &str| {
        rows.iter()
            .find(|w| w[0] == port)
            .unwrap_or_else(|| panic!("no row for {port}: {out}"))
    };
    assert_eq!(&row("53")[1..3], ["5", "5"], "{out}");
    assert_eq!(&row("9")[1..3], ["5", "0"], "{out}");
    assert_eq!(&row("7777")[1..3], ["5", "0"], "{out}");
    assert!(
        row("9").join(" ").contains("dropped by the script"),
        "{out}"
    );
    // The first line names the namespaces the demo made: they must be gone.
    let first = out.lines().next().unwrap();
    let listed = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    for word in first.split_whitespace().filter(|w| w.starts_with("lt")) {
        assert!(!listed.contains(word), "namespace {word} left behind");
    }
}
