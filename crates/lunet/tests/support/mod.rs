//! Shared by the integration tests: the `lunet` binary, a daemon the test owns (killed by its
//! PID on drop), traffic helpers, and a way to look at a namespace's rules and queues.

#![allow(dead_code)]

use std::borrow::Cow;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pcap_file::pcap::{PcapPacket, PcapWriter};

pub use lunet_netns::{udp_send, Testbed, UdpSink};

pub fn lunet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lunet")
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .unwrap()
}

/// Runs `lunet ARGS` to completion.
pub fn lunet(args: &[&str]) -> Output {
    Command::new(lunet_bin())
        .args(args)
        .env("LUNET_LOG", "warn")
        .output()
        .expect("lunet runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// All of a run, for an assertion's message: exit status, stdout and stderr.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// Namespaces of the `lunet` process `pid` (its testbed's, named after it) still listed by
/// `ip netns`.
pub fn namespaces_left(pid: u32) -> Vec<String> {
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ours = [format!("lts{pid}-"), format!("ltr{pid}-")];
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| ours.iter().any(|p| l.starts_with(p.as_str())))
        .map(String::from)
        .collect()
}

/// Made-up MACs for frames written to captures.
pub const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Writes `frames` to a pcap file (Ethernet), 1 µs apart.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let p = PcapPacket {
            timestamp: Duration::from_micros(i as u64),
            orig_len: f.len() as u32,
            data: Cow::Borrowed(f),
        };
        w.write_packet(&p).unwrap();
    }
}

/// A `lunet daemon` on a private socket; stopped (by PID) and reaped on drop.
pub struct Daemon {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// This daemon's own pin root under bpffs, so parallel tests never share pins.
    pub pin_root: PathBuf,
    /// Where the daemon's stderr goes (inherited when `None`).
    pub log: Option<PathBuf>,
    /// More `lunet daemon` arguments (`--metrics ...`, `--scripts ...`).
    pub extra: Vec<String>,
    /// A command the daemon is started through (`sh -c '... exec "$0" "$@"'`), if any.
    pub wrapper: Vec<String>,
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::start_with_log(None)
    }

    /// [`Daemon::start`], its stderr (log level info) in the file at `log`.
    pub fn start_logging_to(log: &Path) -> Daemon {
        Daemon::start_with_log(Some(log.to_path_buf()))
    }

    /// A daemon with more arguments, its stderr (log level info) in the file at `log`.
    pub fn start_with(extra: &[&str], log: &Path) -> Daemon {
        Daemon::start_full(
            Some(log.to_path_buf()),
            extra.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// [`Daemon::start_with`], started through `wrapper` (which must exec the daemon, so its
    /// PID is the daemon's).
    pub fn start_wrapped(wrapper: &[&str], extra: &[&str], log: &Path) -> Daemon {
        Daemon::start_full_in(
            Some(log.to_path_buf()),
            extra.iter().map(|s| s.to_string()).collect(),
            wrapper.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn start_with_log(log: Option<PathBuf>) -> Daemon {
        Daemon::start_full(log, Vec::new())
    }

    fn start_full(log: Option<PathBuf>, extra: Vec<String>) -> Daemon {
        Daemon::start_full_in(log, extra, Vec::new())
    }

    fn start_full_in(log: Option<PathBuf>, extra: Vec<String>, wrapper: Vec<String>) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("lunet.sock");
        let tag = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
            .to_string();
        let pin_root = PathBuf::from(format!("/sys/fs/bpf/lunet-test-{tag}"));
        let mut d = Daemon {
            child: None,
            dir,
            socket,
            pin_root,
            log,
            extra,
            wrapper,
        };
        d.spawn();
        d
    }

    /// Starts a new daemon process on the same socket (after [`Daemon::kill`]).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "a daemon runs already");
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(lunet_bin());
                c
            }
            None => Command::new(lunet_bin()),
        };
        let child = cmd
            .args(["daemon", "--socket", self.socket.to_str().unwrap()])
            .args(["--pin-root", self.pin_root.to_str().unwrap()])
            .args(&self.extra)
            .env("LUNET_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(match &self.log {
                Some(p) => Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .unwrap(),
                ),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("daemon starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "daemon did not answer on its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `lunet ARGS --socket <this daemon's>`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--socket", self.socket.to_str().unwrap()]);
        lunet(&all)
    }

    /// `lunet run SCRIPT --netns NS ...`, asserting success.
    pub fn run_ok(&self, script: &Path, netns: &str, extra: &[&str]) -> String {
        let mut args = vec!["run", script.to_str().unwrap(), "--netns", netns];
        args.extend_from_slice(extra);
        let o = self.cli(&args);
        assert!(
            o.status.success(),
            "lunet run failed: {}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    pub fn stats_json(&self, name: &str) -> serde_json::Value {
        let o = self.cli(&["stats", name, "--json"]);
        assert!(o.status.success(), "stats failed: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Kills the daemon with SIGKILL: no cleanup runs, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        // Whatever pins (and, after a kill, the lock) a failed test left behind; std's
        // remove_dir_all does not follow links.
        let _ = std::fs::remove_dir_all(&self.pin_root);
    }
}

impl Daemon {
    /// Stops the daemon as SIGTERM does (it removes its rules and pins), now.
    pub fn stop_now(&mut self) {
        self.stop();
    }

    /// SIGTERM (the daemon removes its rules), then make sure it is gone.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM first so the daemon removes its rules; then make sure it is gone.
            // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `GET path` on `addr`: the status, the head and the body.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: lunet\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// Where the daemon logging to `log` said it serves metrics.
pub fn metrics_addr(log: &Path) -> std::net::SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("serving metrics at http://").nth(1) {
            return rest.split('/').next().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no metrics address in:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The checker `tool` on PATH; `None` (saying so) when it is not there, outside CI. In CI
/// (`CI` set) a missing checker fails the test: scripts/deps.sh installs every one.
pub fn checker(tool: &str, installed_by: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = format!("{tool} is not installed ({installed_by}; scripts/deps.sh installs it)");
        assert!(
            std::env::var_os("CI").is_none(),
            "{msg}: CI must run this check"
        );
        eprintln!("skipped: {msg}");
    }
    found
}

/// Writes `source` to a script file in `dir`.
pub fn write_script(dir: &Path, name: &str, source: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, source).unwrap();
    p
}

/// Sends `n` datagrams to the receiver's `port` and counts what arrives within `wait`.
pub fn send_and_count(bed: &Testbed, port: u16, n: usize, wait: Duration) -> usize {
    let sink = UdpSink::bind(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), port),
    )
    .unwrap();
    let payloads: Vec<Vec<u8>> = (0..n).map(|i| format!("packet {i}").into_bytes()).collect();
    udp_send(
        bed.sender_ns(),
        SocketAddrV4::new(bed.receiver_addr(), port),
        &payloads,
    )
    .unwrap();
    sink.recv_for(wait, n).unwrap().len()
}

/// Lines of the namespace's ruleset that lunet made.
pub fn lunet_rules(ns: &str) -> Vec<String> {
    lunet_netns::in_netns(ns, lunet_netfilter::list_lunet_rules)
        .unwrap()
        .unwrap()
}

/// Queue numbers bound in the namespace (from /proc/net/netfilter/nfnetlink_queue).
pub fn bound_queues(ns: &str) -> Vec<u16> {
    lunet_netns::in_netns(ns, || {
        std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    })
    .unwrap()
}

/// A DNS query for `name` (type A), as a UDP payload.
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    lunet_gen::packet::dns_query_payload(name, id).unwrap()
}
