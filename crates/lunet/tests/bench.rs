//! `lunet bench` end to end (root only): a quick run of the UDP port filter with the three
//! methods of this build, checked through its JSON output.

use std::process::{Command, Stdio};

#[test]
fn quick_bench_of_the_port_filter_is_correct_for_every_method() {
    lunet_netns::skip_unless_root!();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let child = Command::new(env!("CARGO_BIN_EXE_lunet"))
        .args([
            "bench",
            "--quick",
            "--filters",
            "udp-port",
            "--methods",
            "none,iptables-raw,lunet-lua",
            "--duration",
            "1",
            "--json",
            json.to_str().unwrap(),
        ])
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

    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["none", "iptables-raw", "lunet-lua"]);
    for r in &rows {
        assert_eq!(r["filter"], "udp-port");
        for k in [
            "mpps_median",
            "mpps_min",
            "mpps_max",
            "ns_per_packet",
            "cpu_ns_per_packet",
            "correct",
            "skipped",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
        if r["skipped"].is_string() {
            continue;
        }
        assert_eq!(r["correct"], true, "{r:#}");
        for k in ["mpps_median", "mpps_min", "mpps_max", "cpu_ns_per_packet"] {
            assert!(r[k].as_f64().unwrap_or(0.0) > 0.0, "{k} in {r:#}");
        }
    }
    // The filters drop (half the traffic is for port 9), `none` does not.
    assert_eq!(rows[0]["dropped_mpps"], 0.0);
    assert!(
        rows[1]["dropped_mpps"].as_f64().unwrap() > 0.0,
        "{:#}",
        rows[1]
    );
    // Nothing is left behind: the namespaces of the bench (named after its pid) are gone.
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ours = [format!("lts{pid}-"), format!("ltr{pid}-")];
    let left: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| ours.iter().any(|p| l.starts_with(p.as_str())))
        .map(String::from)
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

#[test]
fn bench_rejects_unknown_filters_and_methods() {
    let o = Command::new(env!("CARGO_BIN_EXE_lunet"))
        .args(["bench", "--filters", "tls-sni"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_lunet"))
        .args(["bench", "--methods", "none,ebpf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_lunet"))
        .args(["bench", "--duration", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
