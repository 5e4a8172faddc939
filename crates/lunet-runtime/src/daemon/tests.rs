//! The daemon in this process: its answers, its bounds on clients, and who it serves.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use super::conn::Conns;
use super::*;
use crate::protocol::ErrorBody;

/// Sends `requests` on one connection to the daemon at `socket`; its answers.
fn ask(socket: &Path, requests: &[&str]) -> Vec<Response> {
    let mut conn = UnixStream::connect(socket).unwrap();
    let mut lines = BufReader::new(conn.try_clone().unwrap()).lines();
    requests
        .iter()
        .map(|r| {
            conn.write_all(format!("{r}\n").as_bytes()).unwrap();
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap()
        })
        .collect()
}

fn error(r: &Response) -> (ErrorKind, &str) {
    let ErrorBody { kind, message } = r.error.as_ref().expect("an error answer");
    (*kind, message.as_str())
}

#[test]
fn a_request_that_panicked_under_the_lock_does_not_take_later_requests_down() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lunet.sock");
    let server = Server::bind(&socket, &dir.path().join("pins")).unwrap();
    server.daemon.states.poison();
    let stopper = server.stopper();
    let serving = std::thread::spawn(move || server.run());

    let missing = dir.path().join("missing.lua");
    let run = format!(
        r#"{{"cmd":"run","script":"{}","name":"fw"}}"#,
        missing.display()
    );
    let answers = ask(
        &socket,
        &[
            r#"{"cmd":"ping"}"#,
            r#"{"cmd":"list"}"#,
            r#"{"cmd":"stats","name":"fw"}"#,
            r#"{"cmd":"stop","name":"fw"}"#,
            &run,
            // The failed start gave its name back: the same error, not `exists`.
            &run,
            r#"{"cmd":"run","script":"relative.lua"}"#,
        ],
    );
    assert_eq!(answers[0].result, Some(serde_json::json!("pong")));
    assert_eq!(answers[1].result, Some(serde_json::json!([])));
    assert_eq!(
        error(&answers[2]),
        (ErrorKind::NotFound, "no state named 'fw'")
    );
    assert_eq!(
        error(&answers[3]),
        (ErrorKind::NotFound, "no state named 'fw'")
    );
    for a in &answers[4..6] {
        let (kind, message) = error(a);
        assert_eq!(kind, ErrorKind::Script, "{message}");
        assert!(message.contains("cannot read script"), "{message}");
    }
    assert_eq!(error(&answers[6]).0, ErrorKind::BadRequest);
    // And a new connection is served too.
    let again = ask(&socket, &[r#"{"cmd":"ping"}"#]);
    assert!(again[0].ok);

    stopper.stop();
    serving.join().expect("the server ends without panicking");
    assert!(!socket.exists(), "the socket is removed");
}

#[test]
fn a_request_that_panics_is_answered_with_an_internal_error() {
    let r = answer(|| panic!("boom"));
    assert_eq!(
        error(&r),
        (
            ErrorKind::Internal,
            "the daemon failed on this request: boom"
        )
    );
    let r = answer(|| panic!("{} went wrong", "formatting"));
    assert!(error(&r).1.ends_with("formatting went wrong"));
    assert!(answer(|| Response::ok("pong")).ok);
}

/// A daemon in this process with `bounds`, serving on its own thread until dropped.
struct Serving {
    dir: tempfile::TempDir,
    socket: PathBuf,
    stopper: Stopper,
    conns: Arc<Conns>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Serving {
    fn start(bounds: Bounds) -> Serving {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("lunet.sock");
        let server = Server::bind_with(&socket, &dir.path().join("pins"), bounds).unwrap();
        let stopper = server.stopper();
        let conns = server.conns.clone();
        let thread = Some(std::thread::spawn(move || server.run()));
        Serving {
            dir,
            socket,
            stopper,
            conns,
            thread,
        }
    }

    /// Waits (at most 10 s) until the daemon serves `conns` connections, `busy` of them busy.
    fn wait_for(&self, conns: usize, busy: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.conns.counts() != (conns, busy) {
            assert!(Instant::now() < deadline, "{:?}", self.conns.counts());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The next answer line on `s`; `None` at the end of the stream.
fn answer_on(s: &UnixStream) -> Option<Response> {
    let mut line = String::new();
    match BufReader::new(s).read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(serde_json::from_str(&line).unwrap()),
    }
}

/// Sends a ping and reads the answer. A refused client may be told and closed before its
/// request is written (the write then fails with EPIPE): the line is read all the same.
fn ping(s: &mut UnixStream) -> Option<Response> {
    let _ = s.write_all(b"{\"cmd\":\"ping\"}\n");
    answer_on(s)
}

fn small(max_conns: usize, max_line: usize, idle_ms: u64) -> Bounds {
    Bounds {
        max_conns,
        max_line,
        idle: Duration::from_millis(idle_ms),
    }
}

#[test]
fn a_line_over_the_bound_is_answered_too_long_and_closed_while_others_are_served() {
    let d = Serving::start(small(8, 64 << 10, 10_000));
    let mut hostile = d.connect();
    let writer = {
        let mut w = hostile.try_clone().unwrap();
        // 16 times the bound, no newline; the write fails once the daemon has closed.
        std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 << 10];
            (0..16).take_while(|_| w.write_all(&chunk).is_ok()).count()
        })
    };
    let mut other = d.connect();
    assert!(ping(&mut other).unwrap().ok, "others are served meanwhile");
    let r = answer_on(&hostile).expect("an answer before the close");
    let (kind, message) = error(&r);
    assert_eq!(kind, ErrorKind::BadRequest);
    assert!(message.starts_with("request too long"), "{message}");
    let written = writer.join().unwrap();
    assert!(
        written < 16,
        "the daemon stopped reading ({written} chunks went)"
    );
    assert!(ping(&mut hostile).is_none(), "the connection is closed");
    assert!(ping(&mut other).unwrap().ok);
}

#[test]
fn a_client_that_sends_no_complete_request_in_time_is_closed() {
    let d = Serving::start(small(8, 1 << 20, 300));
    let silent = d.connect();
    let mut trickle = d.connect();
    let started = Instant::now();
    // One byte at a time, never a whole line: the deadline is the line's, not each byte's.
    for _ in 0..4 {
        let _ = trickle.write_all(b" ");
        std::thread::sleep(Duration::from_millis(100));
    }
    for s in [&silent, &trickle] {
        let r = answer_on(s).expect("a last line");
        let (kind, message) = error(&r);
        assert_eq!(kind, ErrorKind::BadRequest);
        assert!(message.starts_with("no complete request"), "{message}");
        assert!(answer_on(s).is_none(), "then the end");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // A client that asks in time is served, as often as it likes.
    let mut quick = d.connect();
    for _ in 0..3 {
        assert!(ping(&mut quick).unwrap().ok);
        std::thread::sleep(Duration::from_millis(150));
    }
}

#[test]
fn at_the_limit_the_longest_idle_client_makes_room_and_when_all_are_busy_a_new_one_is_told() {
    let d = Serving::start(small(4, 1 << 20, 20_000));
    let idle: Vec<UnixStream> = (0..4)
        .map(|i| {
            let s = d.connect();
            d.wait_for(i + 1, 0);
            s
        })
        .collect();
    let mut newcomer = d.connect();
    assert!(ping(&mut newcomer).unwrap().ok, "room was made");
    let r = answer_on(&idle[0]).expect("the longest idle was told");
    assert_eq!(error(&r).0, ErrorKind::Busy, "{:?}", r.error);
    drop(idle);
    drop(newcomer);
    d.wait_for(0, 0);

    // Four clients in the middle of a request are not closed for a fifth.
    let mut partial: Vec<UnixStream> = (0..4).map(|_| d.connect()).collect();
    for p in &mut partial {
        p.write_all(b"{\"cmd\":").unwrap();
    }
    d.wait_for(4, 4);
    let mut fifth = d.connect();
    let r = ping(&mut fifth).expect("one line");
    let (kind, message) = error(&r);
    assert_eq!(kind, ErrorKind::Busy);
    assert!(message.contains("all 4 connections"), "{message}");
    // They finish their requests and are answered.
    for p in &mut partial {
        p.write_all(b"\"ping\"}\n").unwrap();
        assert!(answer_on(p).unwrap().ok);
    }
}

#[test]
fn a_client_that_is_not_root_gets_one_denied_line_and_root_is_still_served() {
    lunet_testkit::require_root!("a child dropped to nobody");
    use std::os::unix::fs::PermissionsExt;
    let d = Serving::start(Bounds::default());
    // Open the way for nobody, as a careless admin could: the peer check still holds.
    let open = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(d.dir.path(), 0o711);
    open(&d.socket, 0o666);
    let socket = std::ffi::CString::new(d.socket.as_os_str().as_encoded_bytes()).unwrap();
    let mut reply = [0u8; 512];
    // SAFETY: the child only makes the raw calls of lunet_testkit::nobody.
    let (code, out) = unsafe {
        lunet_testkit::nobody::as_nobody(|out| {
            let asked = lunet_testkit::nobody::ask(
                &socket,
                b"{\"cmd\":\"ping\"}\n",
                &mut reply,
                Duration::from_secs(5),
            );
            match asked {
                lunet_testkit::nobody::Asked::Answer(n) => {
                    out.write(&reply[..n]);
                    0
                }
                lunet_testkit::nobody::Asked::NoConnect(_) => 1,
            }
        })
    };
    open(d.dir.path(), 0o700);
    assert_eq!(code, 0, "nobody could connect (the way was open)");
    let r: Response = serde_json::from_slice(&out).expect("one JSON line");
    let (kind, message) = error(&r);
    assert_eq!(kind, ErrorKind::Denied);
    assert!(message.contains("uid 65534"), "{message}");
    assert!(ping(&mut d.connect()).unwrap().ok);
}

#[test]
fn the_record_is_private_and_replaced_whole_and_a_link_at_its_name_is_not_followed() {
    lunet_testkit::require_root!("root-owned files");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let base = tempfile::tempdir().unwrap();
    // A socket directory the daemon makes itself.
    let run = base.path().join("run");
    let socket = run.join("lunet.sock");
    let server = Server::bind(&socket, &base.path().join("pins")).unwrap();
    let record = run.join("lunet.sock.states.json");
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), b"precious").unwrap();
    // Only root can write in the socket's directory: this link stands for a bug in root's
    // own code, and is replaced, not written through.
    std::os::unix::fs::symlink(victim.path(), &record).unwrap();
    server.daemon.persist();
    assert_eq!(std::fs::read(victim.path()).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(&record).unwrap();
    assert!(meta.is_file());
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (0, 0o600));
    assert_eq!(std::fs::read(&record).unwrap(), b"[]");
    let dmode = std::fs::metadata(&run).unwrap().permissions().mode() & 0o777;
    assert_eq!(dmode, 0o700, "the socket's directory is made 0700");
    let smode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(smode, 0o600);
}

#[test]
fn a_second_daemon_on_the_same_pin_root_or_socket_fails_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let pins = dir.path().join("pins");
    let first = Server::bind(&dir.path().join("a.sock"), &pins).unwrap();
    let pid = std::process::id();
    match Server::bind(&dir.path().join("b.sock"), &pins) {
        Err(e @ DaemonError::PinRoot(PinRootError::Held { .. })) => {
            let text = e.to_string();
            assert!(text.contains(&format!("pid {pid}")), "{text}");
            assert!(text.contains(&*pins.to_string_lossy()), "{text}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a second daemon on the same pin root started"),
    }
    match Server::bind(&dir.path().join("a.sock"), &dir.path().join("pins2")) {
        Err(e @ DaemonError::Locked { .. }) => {
            assert!(e.to_string().contains(&format!("pid {pid}")), "{e}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a second daemon on the same socket started"),
    }
    let stopper = first.stopper();
    let t = std::thread::spawn(move || first.run());
    stopper.stop();
    t.join().unwrap();
    assert!(!pins.exists(), "the empty pin root goes with its daemon");
    // And the next daemon may have it.
    drop(Server::bind(&dir.path().join("b.sock"), &pins).unwrap());
}
