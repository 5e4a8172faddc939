//! What a user of the host, or a hostile client, can do to `lunet daemon`, and that it does
//! no harm (docs/security.md). The attacker's part runs in a child dropped to nobody
//! (lunet_testkit::nobody); root only makes victims, starts daemons and checks.

mod support;

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lunet_testkit::nobody::{self, Asked};
use support::*;

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A root-owned 0700 directory full of files: what the attacker wants deleted.
struct Victim(tempfile::TempDir);

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("file{i}")), b"precious").unwrap();
        }
        chmod(dir.path(), 0o700);
        Victim(dir)
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn assert_intact(&self) {
        for i in 0..5 {
            let f = self.path().join(format!("file{i}"));
            assert_eq!(std::fs::read(&f).unwrap_or_default(), b"precious", "{f:?}");
        }
    }
}

/// A path for a pin root in bpffs, removed on drop whoever made it (never followed).
struct BpffsPath(PathBuf);

impl BpffsPath {
    fn new(tag: &str) -> BpffsPath {
        lunet_bpf::pin::ensure_bpffs().unwrap();
        BpffsPath(PathBuf::from(format!(
            "/sys/fs/bpf/lunet-test-sec-{tag}-{}",
            std::process::id()
        )))
    }
}

impl Drop for BpffsPath {
    fn drop(&mut self) {
        if std::fs::remove_file(&self.0).is_err() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `lunet daemon` expected to refuse to start: its exit status and stderr (killed after 10 s).
fn daemon_refuses(socket: &Path, pin_root: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(lunet_bin())
        .args(["daemon", "--socket"])
        .arg(socket)
        .arg("--pin-root")
        .arg(pin_root)
        .env("LUNET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

/// A hookless script with a map, so its state pins under `<root>/<name>`.
fn map_script(dir: &Path) -> PathBuf {
    write_script(
        dir,
        "fw.lua",
        "local map = require(\"bpf.map\")\nlocal seen = map.hash{ name = \"seen\", key = \"I2\", value = \"I8\", entries = 4 }\n",
    )
}

#[test]
fn a_user_cannot_make_the_pin_cleanup_delete_a_directory_of_their_choice() {
    lunet_testkit::require_root!("a daemon, bpffs, and a child dropped to nobody");
    let victim = Victim::new();
    let mut d = Daemon::start();
    let root = d.pin_root.clone();
    let script = map_script(d.dir.path());
    let link = root.join("fw");
    let (root_c, link_c, target_c) = (c(&root), c(&link), c(victim.path()));
    let moved = c(&root.with_extension("moved"));

    // While the daemon runs, its root is its own: nobody can plant in it, move or remove it.
    for _ in 0..2 {
        let o = d.cli(&["run", script.to_str().unwrap(), "--name", "fw"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(root.join("fw").join("seen").exists(), "the map is pinned");
        assert!(d.cli(&["stop", "fw"]).status.success());
        assert!(!root.join("fw").exists());
        assert!(root.is_dir(), "the daemon keeps its root while it runs");
        // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
        let (code, _) = unsafe {
            nobody::as_nobody(|_| {
                let planted = nobody::symlink(&target_c, &link_c);
                let renamed = nobody::rename(&root_c, &moved);
                let removed = nobody::remove(&root_c);
                i32::from(planted) | i32::from(renamed) << 1 | i32::from(removed) << 2
            })
        };
        assert_eq!(
            code, 0,
            "nobody could not plant (1), move (2) or remove (4) the root"
        );
    }
    // The daemon stops: its (empty) root goes. Now nobody makes it, with the link in it.
    d.stop_now();
    assert!(!root.exists());
    // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
    let (code, _) = unsafe {
        nobody::as_nobody(|_| {
            if !nobody::mkdir(&root_c, 0o777) {
                return 1;
            }
            if !nobody::symlink(&target_c, &link_c) {
                return 2;
            }
            0
        })
    };
    assert_eq!(code, 0, "nobody made the root and planted the link");
    let (status, err) = daemon_refuses(&d.socket, &root);
    assert_ne!(status, Some(0), "{err}");
    assert!(
        err.contains(&*root.to_string_lossy()) && err.contains("owned by uid 65534"),
        "the error names the root and why: {err}"
    );
    victim.assert_intact();
}

#[test]
fn a_socket_directory_a_user_made_or_linked_is_refused_and_no_record_is_written_through_it() {
    lunet_testkit::require_root!("a child dropped to nobody");
    let base = tempfile::tempdir().unwrap();
    let victim_file = base.path().join("victim");
    std::fs::write(&victim_file, b"precious").unwrap();
    // A directory every user can write in, like /tmp.
    let shared = base.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(base.path(), 0o755);
    chmod(&shared, 0o1777);
    let (run, link) = (shared.join("run"), shared.join("link"));
    let record = run.join("lunet.sock.states.json");
    let (run_c, link_c, record_c, victim_c) = (c(&run), c(&link), c(&record), c(&victim_file));
    // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
    let (code, _) = unsafe {
        nobody::as_nobody(|_| {
            if !nobody::mkdir(&run_c, 0o777) || !nobody::symlink(&victim_c, &record_c) {
                return 1;
            }
            if !nobody::symlink(&run_c, &link_c) {
                return 2;
            }
            0
        })
    };
    assert_eq!(code, 0);
    let pins = BpffsPath::new("sockdir");
    let (status, err) = daemon_refuses(&run.join("lunet.sock"), &pins.0);
    assert_ne!(status, Some(0));
    assert!(
        err.contains("owned by uid 65534") && err.contains(&*run.to_string_lossy()),
        "{err}"
    );
    let (status, err) = daemon_refuses(&link.join("lunet.sock"), &pins.0);
    assert_ne!(status, Some(0));
    assert!(err.contains("symbolic link"), "{err}");
    let (status, err) = daemon_refuses(&shared.join("lunet.sock"), &pins.0);
    assert_ne!(status, Some(0));
    assert!(err.contains("writable by other users"), "{err}");
    assert_eq!(std::fs::read(&victim_file).unwrap(), b"precious");
    assert!(!run.join("lunet.sock").exists());
}

/// A daemon on `socket` whose umask is 000 (the socket would be 0777 if bound plainly).
fn spawn_umask0(socket: &Path, pin_root: &Path) -> Child {
    let mut cmd = Command::new(lunet_bin());
    cmd.args(["daemon", "--socket"])
        .arg(socket)
        .arg("--pin-root")
        .arg(pin_root)
        .env("LUNET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: umask is async-signal-safe and cannot fail.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        })
    };
    cmd.spawn().unwrap()
}

/// A daemon child stopped (SIGTERM, then SIGKILL) when dropped, also when a test fails.
struct Stopped(Option<Child>);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            sigterm_and_wait(c);
        }
    }
}

fn sigterm_and_wait(mut child: Child) {
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_nobody_client_never_gets_an_answer_across_many_daemon_starts() {
    lunet_testkit::require_root!("daemons, and a child dropped to nobody");
    let base = tempfile::tempdir().unwrap();
    // nobody may pass through (not list) the socket's directory, as in /run.
    chmod(base.path(), 0o711);
    let socket = base.path().join("lunet.sock");
    let pins = BpffsPath::new("peer");
    let socket_c = c(&socket);
    let (mut oks, mut answers) = (0u32, 0u32);
    for start in 0..10 {
        let socket_c = socket_c.clone();
        // nobody tries to ask all through the daemon's start, ~0.5 s.
        let attacker = std::thread::spawn(move || {
            // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
            unsafe {
                nobody::as_nobody(|out| {
                    let mut counts = [0u8; 2];
                    let mut reply = [0u8; 256];
                    for _ in 0..250 {
                        let asked = nobody::ask(
                            &socket_c,
                            b"{\"cmd\":\"ping\"}\n",
                            &mut reply,
                            Duration::from_millis(500),
                        );
                        if let Asked::Answer(n) = asked {
                            counts[0] = counts[0].saturating_add(1);
                            if reply[..n].starts_with(b"{\"ok\":true") {
                                counts[1] = counts[1].saturating_add(1);
                            }
                        }
                        // SAFETY: plain sleep.
                        libc::usleep(2000);
                    }
                    out.write(&counts);
                    0
                })
            }
        });
        let child = Stopped(Some(spawn_umask0(&socket, &pins.0)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "start {start}: no daemon");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (code, counts) = attacker.join().unwrap();
        drop(child);
        assert_eq!(code, 0);
        answers += u32::from(counts[0]);
        oks += u32::from(counts[1]);
    }
    assert_eq!(oks, 0, "nobody was answered ok ({answers} answers in all)");
}

#[test]
fn a_second_daemon_on_the_same_pin_root_exits_naming_the_first_ones_pid() {
    lunet_testkit::require_root!("daemons and bpffs");
    let d = Daemon::start();
    let other = tempfile::tempdir().unwrap();
    let (status, err) = daemon_refuses(&other.path().join("b.sock"), &d.pin_root);
    let pid = d.child.as_ref().unwrap().id();
    assert_ne!(status, Some(0));
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(err.contains(&*d.pin_root.to_string_lossy()), "{err}");
    assert!(
        d.cli(&["list"]).status.success(),
        "the first daemon serves on"
    );
}

/// The next answer on `s`.
fn answer(s: &UnixStream) -> Option<serde_json::Value> {
    let mut line = String::new();
    match BufReader::new(s).read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => serde_json::from_str(&line).ok(),
    }
}

#[test]
fn a_request_line_without_end_is_cut_at_one_mib_while_others_are_served() {
    lunet_testkit::require_root!("a daemon");
    let d = Daemon::start();
    let hostile = UnixStream::connect(&d.socket).unwrap();
    hostile
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = hostile.try_clone().unwrap();
    // The start of a 2 GiB line: at most 8 MiB is sent, stopping when the daemon closes.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        (0..8).take_while(|_| w.write_all(&chunk).is_ok()).count()
    });
    let o = d.cli(&["list"]);
    assert!(o.status.success(), "{}", text(&o));
    let r = answer(&hostile).expect("an answer before the close");
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["kind"], "bad_request");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("request too long"), "{message}");
    assert!(writer.join().unwrap() < 8, "the daemon stopped reading");
    assert!(d.cli(&["list"]).status.success());
}

/// The number of threads of process `pid`.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

#[test]
fn two_hundred_idle_clients_leave_the_cli_served_and_the_threads_bounded() {
    lunet_testkit::require_root!("a daemon");
    let d = Daemon::start();
    let pid = d.child.as_ref().unwrap().id();
    let idle: Vec<UnixStream> = (0..200)
        .map(|_| UnixStream::connect(&d.socket).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let o = d.cli(&["list"]);
    assert!(o.status.success(), "{}", text(&o));
    let n = threads(pid);
    assert!(n <= 64 + 8, "{n} threads for 200 clients");
    drop(idle);
}

/// Sets process `pid`'s soft limit of open files (the hard one stays).
fn set_nofile(pid: u32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads the limit into `old`, a valid rlimit, for a child this test started.
    assert_eq!(
        unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) },
        0
    );
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `new` is a valid rlimit; the child is ours.
    assert_eq!(
        unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) },
        0
    );
}

#[test]
fn out_of_file_descriptors_the_daemon_backs_off_logs_little_and_recovers() {
    lunet_testkit::require_root!("a daemon and prlimit");
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut d = Daemon::start_logging_to(log.path());
    let pid = d.child.as_ref().unwrap().id();
    // The connection Daemon::start made to see the daemon up has gone by now.
    std::thread::sleep(Duration::from_millis(300));
    // Not one descriptor more (the limit bounds descriptor numbers: the lowest free one):
    // every accept fails with EMFILE while the clients wait in the backlog, which keeps the
    // listening socket readable (the loop that logged 224 MB in 3 s).
    set_nofile(pid, lowest_free_fd(pid));
    let clients: Vec<UnixStream> = (0..20)
        .map(|_| UnixStream::connect(&d.socket).unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let text_log = std::fs::read_to_string(log.path()).unwrap();
    let failures = text_log
        .lines()
        .filter(|l| l.contains("accepting a client failed"))
        .count();
    assert!(
        (1..=5).contains(&failures),
        "{failures} accept failure lines in 3 s:\n{}",
        &text_log[..text_log.len().min(4000)]
    );
    assert!(text_log.len() < 16 << 10, "{} bytes of log", text_log.len());
    // Descriptors are back: the daemon serves again, within its backoff (at most 1 s).
    set_nofile(pid, 1024);
    let asked = Instant::now();
    let o = d.cli(&["list"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(asked.elapsed() < Duration::from_secs(5));
    drop(clients);

    // Out of descriptors again, SIGTERM still stops it (its accept loop looks at the stop
    // flag by itself: the wake-up connection cannot be made then).
    std::thread::sleep(Duration::from_millis(300));
    set_nofile(pid, lowest_free_fd(pid));
    let mut child = d.child.take().unwrap();
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("SIGTERM did not stop a daemon out of descriptors");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lowest descriptor number process `pid` has not open.
fn lowest_free_fd(pid: u32) -> u64 {
    let open: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap()
}
