//! `lunet gen` end to end: the mix it builds (as a pcap that `lunet replay` reads, no root),
//! and real traffic through the testbed it creates and removes (root only).

mod support;

use std::process::Command;

use support::{lunet, namespaces_left, text};

/// The pcap of a weighted mix holds one cycle, and the port filter's verdicts on it are the
/// weights: two frames to port 9 dropped, the DNS query passed.
#[test]
fn the_mix_written_as_pcap_gets_the_verdicts_its_weights_say() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("mix.pcap");
    let o = lunet(&[
        "gen",
        "udp:9@2",
        "dns:www.blocked.example",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/xdp-port-filter.lua"
    );
    let o = lunet(&["replay", example, pcap.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report[0]["packets"], 3, "{report:#}");
    assert_eq!(report[0]["verdicts"]["DROP"], 2, "{report:#}");
    assert_eq!(report[0]["verdicts"]["PASS"], 1, "{report:#}");
}

#[test]
fn bad_specs_and_limits_are_usage_errors() {
    for args in [
        &["gen", "tcp:80"][..],
        &["gen", "udp:9@0"],
        &["gen", "dns:"],
        &["gen", "--duration", "0"],
        &["gen", "--rate", "0"],
    ] {
        let o = lunet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
}

/// Runs `lunet gen ARGS --json` and returns its report, after checking it left nothing.
fn gen_json(args: &[&str]) -> serde_json::Value {
    let child = Command::new(support::lunet_bin())
        .arg("gen")
        .args(args)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        namespaces_left(pid).is_empty(),
        "{:?}",
        namespaces_left(pid)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

/// A count limit sends exactly that many frames at the rate asked for, and they reach the
/// receiver's veth (at least: its counter also sees the sender stack's own few frames).
#[test]
fn gen_sends_the_frames_it_counts_and_the_receiver_sees_them() {
    lunet_testkit::require_root!("namespaces and the XDP generator");
    let r = gen_json(&[
        "udp:9",
        "sni:www.blocked.example",
        "--count",
        "20000",
        "--rate",
        "100000",
        "--duration",
        "10",
    ]);
    assert_eq!(r["sent"], 20000, "{r:#}");
    assert_eq!(r["receiver"], "stack");
    let received = r["received"].as_u64().unwrap();
    let lost = r["ring_lost"].as_u64().unwrap();
    assert!(received + lost >= 20000 && received < 20100, "{r:#}");
    // 20,000 frames at 100 kpps take about 0.2 s.
    let secs = r["seconds"].as_f64().unwrap();
    assert!((0.15..2.0).contains(&secs), "{r:#}");

    // At full speed into an XDP drop, bounded by the duration.
    let r = gen_json(&["--drop", "--duration", "0.5"]);
    assert_eq!(r["receiver"], "xdp-drop");
    let sent = r["sent"].as_u64().unwrap();
    assert!(sent > 10_000, "{r:#}");
    assert!(r["received"].as_u64().unwrap() >= sent, "{r:#}");
    assert!(r["seconds"].as_f64().unwrap() < 1.5, "{r:#}");
}
