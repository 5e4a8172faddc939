//! `lunet bench` end to end (root only): quick runs checked through their JSON output: the
//! UDP port filter with the first methods, nft-raw, the hand-written C at XDP and a method not
//! built yet, then the SNI filter with iptables (u32 + string, and string alone), the C at
//! netfilter and the kernel tier at XDP.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{lunet_bin, namespaces_left};

const KEYS: [&str; 7] = [
    "mpps_median",
    "mpps_min",
    "mpps_max",
    "ns_per_packet",
    "cpu_ns_per_packet",
    "correct",
    "skipped",
];

/// Runs `lunet bench --quick --duration 1 ARGS --json ...`; checks it succeeded, printed a
/// table and left nothing behind; returns its rows.
fn quick_bench(args: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let child = Command::new(lunet_bin())
        .args(["bench", "--quick", "--duration", "1"])
        .args(args)
        .args(["--json", json.to_str().unwrap()])
        .env("LUNET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lunet runs");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("FILTER"), "a table on stdout:\n{stdout}");

    // Nothing is left behind: the namespaces of the bench (named after its pid) are gone,
    // and so are the pins of its states.
    let left = namespaces_left(pid);
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    let pins = format!("/sys/fs/bpf/lunet/bench-{pid}");
    assert!(!Path::new(&pins).exists(), "{pins} left behind");

    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for r in &rows {
        for k in KEYS {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
    }
    rows
}

/// Whether the bench can compile the hand-written C here.
fn has_clang() -> bool {
    Command::new("clang")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The row's measured rates and CPU time are there and positive, and it is correct.
fn assert_measured_and_correct(r: &serde_json::Value) {
    assert_eq!(r["skipped"], serde_json::Value::Null, "{r:#}");
    assert_eq!(r["correct"], true, "{r:#}");
    for k in ["mpps_median", "mpps_min", "mpps_max", "cpu_ns_per_packet"] {
        assert!(r[k].as_f64().unwrap_or(0.0) > 0.0, "{k} in {r:#}");
    }
}

#[test]
fn quick_bench_of_the_port_filter_is_correct_for_every_method() {
    lunet_testkit::require_root!("the bench's namespaces, rules and XDP programs");
    let rows = quick_bench(&[
        "--filters",
        "udp-port",
        "--methods",
        "none,iptables-raw,lunet-lua,nft-raw,lunet-kernel-netfilter,ebpf-c-xdp",
    ]);
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        [
            "none",
            "iptables-raw",
            "lunet-lua",
            "nft-raw",
            "lunet-kernel-netfilter",
            "ebpf-c-xdp"
        ]
    );
    // The kernel tier at netfilter: the Lua script's hook compiled, timed as eBPF.
    let k = &rows[4];
    assert_measured_and_correct(k);
    assert!(k["ns_per_packet"].as_f64().unwrap_or(0.0) > 0.0, "{k:#}");
    assert_eq!(k["before_stack"], false, "{k:#}");
    for r in &rows[..4] {
        assert_eq!(r["filter"], "udp-port");
        assert_measured_and_correct(r);
        assert_eq!(
            r["ns_per_packet"],
            serde_json::Value::Null,
            "not eBPF: {r:#}"
        );
    }
    // The C program is compiled by the bench with clang: measured where clang is, else a
    // row that says so.
    let c = &rows[5];
    if has_clang() {
        assert_measured_and_correct(c);
        assert!(c["ns_per_packet"].as_f64().unwrap_or(0.0) > 0.0, "{c:#}");
        assert_eq!(c["before_stack"], true);
    } else {
        eprintln!("clang is not installed: checking that ebpf-c-xdp says so");
        assert!(c["skipped"].as_str().unwrap().contains("clang"), "{c:#}");
    }
    // The filters drop (half the traffic is for port 9), `none` does not.
    assert_eq!(rows[0]["dropped_mpps"], 0.0);
    for i in [1, 3, 4] {
        assert!(
            rows[i]["dropped_mpps"].as_f64().unwrap() > 0.0,
            "{:#}",
            rows[i]
        );
    }

    // The SNI filter: iptables' string match and the kernel tier's compiled XDP hook, which
    // replaces the testbed's XDP_PASS program on the receiver's veth for its turn.
    let rows = quick_bench(&[
        "--filters",
        "sni",
        "--methods",
        "iptables-raw,lunet-kernel-xdp,iptables-string,ebpf-c-netfilter",
    ]);
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        [
            "iptables-raw",
            "lunet-kernel-xdp",
            "iptables-string",
            "ebpf-c-netfilter"
        ],
        "{rows:#?}"
    );
    let measured = if has_clang() { 4 } else { 3 };
    for r in &rows[..measured] {
        assert_eq!(r["filter"], "sni");
        assert_measured_and_correct(r);
        assert!(r["dropped_mpps"].as_f64().unwrap() > 0.0, "{r:#}");
    }
    if has_clang() {
        // At netfilter, in the stack: BPF_PROG_TEST_RUN timed it, the counting rules saw it.
        let nf = &rows[3];
        assert_eq!(nf["before_stack"], false);
        assert!(nf["ns_per_packet"].as_f64().unwrap_or(0.0) > 0.0, "{nf:#}");
    }
    let (ipt, xdp) = (&rows[0], &rows[1]);
    assert_eq!(ipt["ns_per_packet"], serde_json::Value::Null, "{ipt:#}");
    assert_eq!(ipt["before_stack"], false);
    assert_eq!(xdp["before_stack"], true);
    assert!(
        xdp["ns_per_packet"].as_f64().unwrap_or(0.0) > 0.0,
        "{xdp:#}"
    );
    // iptables dropped the half of what reached it that was for www.blocked.example. (Not
    // of what was offered: on a busy machine the veth's ring may lose frames before the stack.)
    let (delivered, dropped) = (
        ipt["delivered_mpps"].as_f64().unwrap(),
        ipt["dropped_mpps"].as_f64().unwrap(),
    );
    assert!(
        dropped > 0.3 * delivered && dropped < 0.7 * delivered,
        "{ipt:#}"
    );
    // At XDP, what did not arrive is what the program dropped (the veth counts its XDP_DROPs)
    // plus what the ring lost before it, when ethtool could read the veth's counters.
    if let (Some(own), Some(lost)) = (xdp["xdp_dropped_mpps"].as_f64(), xdp["lost_mpps"].as_f64()) {
        let dropped = xdp["dropped_mpps"].as_f64().unwrap();
        assert!((own + lost - dropped).abs() <= 1e-3, "{xdp:#}");
        assert!(own > 0.0, "{xdp:#}");
    }
}

#[test]
fn bench_rejects_unknown_filters_and_methods() {
    let o = Command::new(lunet_bin())
        .args(["bench", "--filters", "tls-sni"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(lunet_bin())
        .args(["bench", "--methods", "none,ebpf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(lunet_bin())
        .args(["bench", "--duration", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
