//! `lunet daemon --scripts DIR`: the running states kept equal to a directory, with real
//! traffic through a namespace test bed. A script dropped in starts and filters, an edit is
//! reloaded, a broken edit keeps the old version running with the error reported, a header
//! change restarts it, a removed file leaves nothing behind; files other users could change
//! are refused; a Kubernetes ConfigMap's layout (root's links, a read-only 0777 mount) runs.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

const WAIT: Duration = Duration::from_millis(600);

/// A script that drops UDP to `port` in `ns`, with `extra` header lines.
fn filter(ns: &str, port: u16, extra: &str) -> String {
    format!(
        r#"--[[lunet
name = "fw"
netns = "{ns}"
tier = "lua"
{extra}
]]
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "ports",
  hook = function(skb)
    if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
    local ihl = (skb:getuint8(0) & 0x0f) * 4
    if b.ntoh16(skb:getuint16(ihl + 2)) == {port} then return nf.action.DROP end
    return nf.action.ACCEPT
  end }}
"#
    )
}

fn apply(d: &Daemon) -> (Option<i32>, serde_json::Value) {
    let o = d.cli(&["apply", "--json"]);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("apply --json: {e}\n{}", text(&o)));
    (o.status.code(), v)
}

/// The report of `file` in an apply report.
fn file<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

fn list(d: &Daemon) -> serde_json::Value {
    let o = d.cli(&["list", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn passes(bed: &Testbed, port: u16) -> usize {
    send_and_count(bed, port, 5, WAIT)
}

#[test]
fn a_scripts_directory_starts_reloads_keeps_restarts_and_stops_its_states() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let ns = bed.receiver_ns().to_string();
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path();
    let log = tempfile::NamedTempFile::new().unwrap();
    let d = Daemon::start_with(
        &[
            "--scripts",
            dir.to_str().unwrap(),
            "--scripts-poll",
            "0",
            "--metrics",
            "127.0.0.1:0",
        ],
        log.path(),
    );
    let metrics = metrics_addr(log.path());

    // A state started by hand, which the directory must leave alone (LOCAL_OUT: it does not
    // see the test's traffic).
    let hand = write_script(
        d.dir.path(),
        "hand.lua",
        r#"local netfilter = require("netfilter")
           local nf = require("linux").nf
           netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_OUT,
             hook = function() return nf.action.ACCEPT end }"#,
    );
    d.run_ok(&hand, &ns, &["--name", "hand"]);

    // Dropped in: it starts and filters.
    std::fs::write(dir.join("fw.lua"), filter(&ns, 9, "")).unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(file(&r, "fw.lua")["action"], "started", "{r:#}");
    assert_eq!(file(&r, "fw.lua")["state"], "fw");
    assert_eq!(passes(&bed, 9), 0, "the new script drops port 9");
    assert_eq!(passes(&bed, 10), 5);
    let l = list(&d);
    let fw = l
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fw")
        .unwrap();
    assert_eq!(fw["file"], "fw.lua", "{l:#}");
    let queue = d.stats_json("fw")["queues"][0]["queue"].as_u64().unwrap() as u16;
    let (code, r) = apply(&d);
    assert_eq!(
        (code, &file(&r, "fw.lua")["action"]),
        (Some(0), &"unchanged".into())
    );

    // The state is the directory's: stop and reload by hand are refused.
    let o = d.cli(&["stop", "fw"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("scripts directory"), "{}", text(&o));

    // Edited: the new version, reloaded (the same queue: no restart).
    std::fs::write(dir.join("fw.lua"), filter(&ns, 10, "")).unwrap();
    let (code, r) = apply(&d);
    assert_eq!(
        (code, &file(&r, "fw.lua")["action"]),
        (Some(0), &"reloaded".into()),
        "{r:#}"
    );
    assert_eq!(passes(&bed, 9), 5, "the old version's port passes");
    assert_eq!(passes(&bed, 10), 0, "the new version's port is dropped");
    assert_eq!(d.stats_json("fw")["queues"][0]["queue"], queue);

    // Broken: the old version runs on, and the error is reported everywhere.
    std::fs::write(
        dir.join("fw.lua"),
        filter(&ns, 10, "").replace("then return nf.action.DROP", "then return nf.action.DROP +"),
    )
    .unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(3), "{r:#}");
    let f = file(&r, "fw.lua");
    assert_eq!(f["action"], "kept", "{r:#}");
    let err = f["error"].as_str().unwrap();
    assert!(
        err.contains("fw.lua:"),
        "the error names the file and line: {err}"
    );
    assert_eq!(passes(&bed, 10), 0, "the old version still drops port 10");
    let l = list(&d);
    let fw = l
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "fw")
        .unwrap();
    assert!(
        fw["file_error"].as_str().unwrap().contains("fw.lua:"),
        "{l:#}"
    );
    let (_, _, page) = http_get(metrics, "/metrics");
    assert!(
        page.contains("lunet_script_file_broken{file=\"fw.lua\"} 1"),
        "{page}"
    );
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.contains("scripts directory") && logged.contains("fw.lua:"),
        "{logged}"
    );

    // A broken header is an error too; the old version still runs.
    std::fs::write(dir.join("fw.lua"), filter(&ns, 10, "bugdet = 5")).unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(3));
    assert!(
        file(&r, "fw.lua")["error"]
            .as_str()
            .unwrap()
            .contains("bugdet"),
        "{r:#}"
    );
    assert_eq!(passes(&bed, 10), 0);

    // A new header (options): checked, then stopped and started again; cpus recorded.
    std::fs::write(
        dir.join("fw.lua"),
        filter(&ns, 11, "budget = 50000\ncpus = \"0-1\""),
    )
    .unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(0), "{r:#}");
    let f = file(&r, "fw.lua");
    assert_eq!(f["action"], "restarted", "{r:#}");
    assert_eq!(f["cpus"], serde_json::json!([0, 1]));
    assert_eq!(passes(&bed, 11), 0);
    assert_eq!(passes(&bed, 10), 5);
    let queue = d.stats_json("fw")["queues"][0]["queue"].as_u64().unwrap() as u16;

    // A file that names the hand-started state is refused; the hand state is untouched.
    std::fs::write(
        dir.join("other.lua"),
        filter(&ns, 12, "").replace("name = \"fw\"", "name = \"hand\""),
    )
    .unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(3));
    let f = file(&r, "other.lua");
    assert_eq!(f["action"], "failed");
    assert!(f["error"].as_str().unwrap().contains("by hand"), "{r:#}");
    std::fs::remove_file(dir.join("other.lua")).unwrap();

    // Removed: the state stops and leaves nothing: no rule, queue or pin of its own.
    std::fs::remove_file(dir.join("fw.lua")).unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(file(&r, "fw.lua")["action"], "stopped", "{r:#}");
    assert_eq!(passes(&bed, 11), 5);
    let rules = lunet_rules(&ns);
    assert!(!rules.iter().any(|r| r.contains("LUNET-fw-")), "{rules:?}");
    assert!(!bound_queues(&ns).contains(&queue), "queue {queue} is gone");
    assert!(!d.pin_root.join("fw").exists(), "no pins left");
    let l = list(&d);
    let names: Vec<&str> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hand"], "the hand-started state runs on, alone");
}

#[test]
fn files_other_users_could_change_are_refused_and_root_links_are_followed() {
    lunet_testkit::require_root!("a daemon, chown");
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path();
    let log = tempfile::NamedTempFile::new().unwrap();
    let d = Daemon::start_with(
        &["--scripts", dir.to_str().unwrap(), "--scripts-poll", "0"],
        log.path(),
    );
    let ok = "local x = 1\n";
    // Writable by others.
    std::fs::write(dir.join("open.lua"), ok).unwrap();
    chmod(&dir.join("open.lua"), 0o666);
    // Another user's file.
    std::fs::write(dir.join("theirs.lua"), ok).unwrap();
    std::os::unix::fs::chown(dir.join("theirs.lua"), Some(65534), Some(65534)).unwrap();
    // A link another user owns, to a good file.
    std::fs::write(dir.join("target.txt"), ok).unwrap();
    std::os::unix::fs::symlink("target.txt", dir.join("link.lua")).unwrap();
    std::os::unix::fs::lchown(dir.join("link.lua"), Some(65534), Some(65534)).unwrap();
    // A module directory others can write: the whole directory is refused until fixed.
    let (code, r) = apply(&d);
    assert_eq!(code, Some(3), "{r:#}");
    for (name, says) in [
        ("open.lua", "writable by other users"),
        ("theirs.lua", "owned by uid 65534"),
        ("link.lua", "owned by uid 65534"),
    ] {
        let f = file(&r, name);
        assert_eq!(f["action"], "failed", "{r:#}");
        assert!(f["error"].as_str().unwrap().contains(says), "{name}: {r:#}");
    }
    // A link root owns is followed.
    std::fs::remove_file(dir.join("link.lua")).unwrap();
    std::os::unix::fs::symlink("target.txt", dir.join("link.lua")).unwrap();
    let (_, r) = apply(&d);
    assert_eq!(file(&r, "link.lua")["action"], "started", "{r:#}");
    std::fs::create_dir(dir.join("lib")).unwrap();
    chmod(&dir.join("lib"), 0o777);
    let (code, r) = apply(&d);
    assert_eq!(code, Some(3));
    assert!(r["error"].as_str().unwrap().contains("lib"), "{r:#}");
    assert_eq!(
        file(&r, "link.lua")["action"],
        "kept",
        "nothing changes meanwhile: {r:#}"
    );
    assert!(list(&d)
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "link"));
}

#[test]
fn a_configmap_layout_on_a_read_only_mount_runs_and_its_swap_is_seen_without_apply() {
    lunet_testkit::require_root!("a daemon in its own mount namespace");
    // As the kubelet lays out a ConfigMap volume: a 0777 directory, the files in a
    // timestamped directory, `..data` pointing at it, and each key a link through `..data`.
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path().join("scripts.d");
    std::fs::create_dir(&dir).unwrap();
    let v1 = dir.join("..2026_01_01_00_00_00.1");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("cm.lua"), "print('version 1')\n").unwrap();
    std::os::unix::fs::symlink("..2026_01_01_00_00_00.1", dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/cm.lua", dir.join("cm.lua")).unwrap();
    chmod(&dir, 0o777);
    let log = tempfile::NamedTempFile::new().unwrap();

    // Without the read-only mount, a 0777 directory is refused.
    {
        let d = Daemon::start_with(
            &["--scripts", dir.to_str().unwrap(), "--scripts-poll", "0"],
            log.path(),
        );
        let (code, r) = apply(&d);
        assert_eq!(code, Some(3));
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("writable by other users"),
            "{r:#}"
        );
    }

    // Mounted read-only (in the daemon's own mount namespace, gone with it), it runs; the
    // daemon looks every second by itself.
    let d_str = dir.to_str().unwrap();
    let setup = format!(
        "mount --bind '{d_str}' '{d_str}' && mount -o remount,bind,ro '{d_str}' && exec \"$0\" \"$@\""
    );
    let d = Daemon::start_wrapped(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &setup,
        ],
        &["--scripts", d_str, "--scripts-poll", "1"],
        log.path(),
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    while !list(&d)
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "cm")
    {
        assert!(
            Instant::now() < deadline,
            "cm never started:\n{}",
            std::fs::read_to_string(log.path()).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(logs_of(&d, "cm").contains("version 1"));

    // The kubelet's swap: a new timestamped directory, `..data` renamed over. The read-only
    // mount is the daemon's view only: the swap is made on the directory underneath.
    let v2 = dir.join("..2026_01_01_00_01_00.2");
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(v2.join("cm.lua"), "print('version 2')\n").unwrap();
    std::os::unix::fs::symlink("..2026_01_01_00_01_00.2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !logs_of(&d, "cm").contains("version 2") {
        assert!(
            Instant::now() < deadline,
            "the swap was not seen:\n{}",
            std::fs::read_to_string(log.path()).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sighup_has_the_daemon_read_its_directory_again() {
    lunet_testkit::require_root!("a daemon");
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path();
    let log = tempfile::NamedTempFile::new().unwrap();
    let d = Daemon::start_with(
        &["--scripts", dir.to_str().unwrap(), "--scripts-poll", "0"],
        log.path(),
    );
    std::fs::write(dir.join("hup.lua"), "print('hello')\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        list(&d).as_array().unwrap().is_empty(),
        "no polling: nothing yet"
    );
    let pid = d.child.as_ref().unwrap().id();
    // SAFETY: kill(2) on the PID of the daemon this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !list(&d)
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "hup")
    {
        assert!(Instant::now() < deadline, "SIGHUP did not start hup.lua");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        d.child.as_ref().is_some(),
        "the daemon runs on after SIGHUP"
    );
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn logs_of(d: &Daemon, state: &str) -> String {
    stdout(&d.cli(&["logs", state]))
}

#[test]
fn a_daemon_that_crashed_comes_back_with_the_directorys_states_as_the_directorys() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let ns = bed.receiver_ns().to_string();
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut d = Daemon::start_with(
        &["--scripts", dir.to_str().unwrap(), "--scripts-poll", "0"],
        log.path(),
    );
    std::fs::write(dir.join("fw.lua"), filter(&ns, 9, "")).unwrap();
    let (code, r) = apply(&d);
    assert_eq!(code, Some(0), "{r:#}");
    d.kill();
    d.spawn();
    let l = list(&d);
    let fw = l.as_array().unwrap().iter().find(|e| e["name"] == "fw");
    assert_eq!(fw.map(|e| &e["file"]), Some(&"fw.lua".into()), "{l:#}");
    let (code, r) = apply(&d);
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(
        file(&r, "fw.lua")["action"],
        "unchanged",
        "taken over, not started again: {r:#}"
    );
    assert_eq!(passes(&bed, 9), 0, "and filtering");
    std::fs::remove_file(dir.join("fw.lua")).unwrap();
    let (_, r) = apply(&d);
    assert_eq!(file(&r, "fw.lua")["action"], "stopped", "{r:#}");
    assert!(lunet_rules(&ns).is_empty());
}
