//! `lunet daemon`: holds the running states and answers clients on a Unix socket, one thread
//! per client, so a slow client or a busy state never blocks `list`. [`Server::bind`] cleans
//! up after a crashed daemon and listens; [`Server::run`] serves until a [`Stopper`] stops it,
//! then stops every state.
//!
//! What runs is kept in `<socket>.states.json` (each state's name, script and options): after
//! a crash the next daemon starts every state again from its script, taking over what it left
//! ([`Running::adopt`]: pinned maps with their entries, compiled hooks that never stopped
//! filtering); the Lua-tier hooks' `--queue-bypass` let traffic pass meanwhile. A state that
//! cannot start again has its rules and pins removed. A daemon stopped on purpose (SIGTERM)
//! stops its states and leaves nothing to restore.
//!
//! One request that panics costs its own answer only (an `internal` error): the states sit
//! behind a lock no panic can take down ([`states`]).

mod states;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::{ErrorKind, ListEntry, LogEvent, Request, Response, RunRequest};
use crate::runner::{RunSpec, Running};
use states::{Lookup, States};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot create {}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("another lunet daemon answers at {}", .0.display())]
    Running(PathBuf),
    #[error("cannot listen at {}: {source}", socket.display())]
    Listen {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make {} private: {source}", socket.display())]
    Permissions {
        socket: PathBuf,
        source: std::io::Error,
    },
}

/// A running state as the record keeps it: enough to clean up after it, and (with `script`)
/// to start it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Persisted {
    name: String,
    netns: Option<String>,
    #[serde(default)]
    script: Option<PathBuf>,
    #[serde(default)]
    dev: Option<String>,
    #[serde(default)]
    tier: lunet_types::Tier,
    #[serde(default)]
    limits: Option<lunet_lua::Limits>,
}

impl Persisted {
    fn of(spec: &RunSpec) -> Persisted {
        Persisted {
            name: spec.name.clone(),
            netns: spec.netns.clone(),
            script: Some(spec.script.clone()),
            dev: spec.dev.clone(),
            tier: spec.tier,
            limits: Some(spec.limits),
        }
    }

    /// The spec to start it again with, if the record has one.
    fn spec(&self, pin_root: &Path) -> Option<RunSpec> {
        Some(RunSpec {
            name: self.name.clone(),
            script: self.script.clone()?,
            netns: self.netns.clone(),
            dev: self.dev.clone(),
            tier: self.tier,
            limits: self.limits?,
            pin_dir: pin_root.join(&self.name),
        })
    }
}

struct Daemon {
    states: States,
    record: PathBuf,
    /// Where states pin their maps (`<pin_root>/<state>/<map>`).
    pin_root: PathBuf,
}

/// A daemon listening on its socket, not serving yet.
pub struct Server {
    daemon: Arc<Daemon>,
    listener: UnixListener,
    socket: PathBuf,
    quit: Arc<AtomicBool>,
}

/// Stops a [`Server`]'s accept loop from any thread (a signal handler, a test).
#[derive(Clone)]
pub struct Stopper {
    quit: Arc<AtomicBool>,
    socket: PathBuf,
}

impl Stopper {
    pub fn stop(&self) {
        self.quit.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = UnixStream::connect(&self.socket);
    }
}

impl Server {
    /// Removes what a daemon that was killed left on `socket` (its states' rules and pins),
    /// then listens there (mode 0600). States pin their maps under `pin_root/<state>/`.
    pub fn bind(socket: &Path, pin_root: &Path) -> Result<Server, DaemonError> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir).map_err(|source| DaemonError::Dir {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        if UnixStream::connect(socket).is_ok() {
            return Err(DaemonError::Running(socket.to_path_buf()));
        }
        // What a crashed daemon left is restored (or removed) before anyone can ask for
        // anything.
        let daemon = Arc::new(Daemon {
            states: States::default(),
            record: record_path(socket),
            pin_root: pin_root.to_path_buf(),
        });
        daemon.restore();

        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).map_err(|source| DaemonError::Listen {
            socket: socket.to_path_buf(),
            source,
        })?;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| DaemonError::Permissions {
                socket: socket.to_path_buf(),
                source,
            },
        )?;
        Ok(Server {
            daemon,
            listener,
            socket: socket.to_path_buf(),
            quit: Arc::default(),
        })
    }

    pub fn stopper(&self) -> Stopper {
        Stopper {
            quit: self.quit.clone(),
            socket: self.socket.clone(),
        }
    }

    /// Answers clients, one thread each, until stopped; then stops every state (their rules,
    /// queues and pins go) and removes the socket.
    pub fn run(self) {
        tracing::info!(socket = %self.socket.display(), "lunet daemon listening");
        for conn in self.listener.incoming() {
            if self.quit.load(Ordering::SeqCst) {
                break;
            }
            match conn {
                Ok(stream) => {
                    let d = self.daemon.clone();
                    std::thread::spawn(move || d.serve(stream));
                }
                Err(e) => tracing::warn!("accept failed: {e}"),
            }
        }
        tracing::info!("stopping every state");
        for s in self.daemon.states.take_all() {
            s.stop();
        }
        self.daemon.persist();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn record_path(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".states.json");
    PathBuf::from(p)
}

impl Daemon {
    /// Starts again the states a previous daemon left running (it died without stopping
    /// them); removes the rules and pins of those that cannot start.
    fn restore(&self) {
        let Ok(text) = std::fs::read_to_string(&self.record) else {
            return;
        };
        let Ok(stale) = serde_json::from_str::<Vec<Persisted>>(&text) else {
            return;
        };
        let mut failed = Vec::new();
        for p in stale {
            let Some(spec) = p.spec(&self.pin_root) else {
                failed.push(p);
                continue;
            };
            let Some(reservation) = self.states.reserve(&p.name) else {
                continue;
            };
            match Running::adopt(spec) {
                Ok(r) => {
                    tracing::info!(state = %p.name, "restored the state a previous daemon left running");
                    reservation.fill(Arc::new(r));
                }
                Err(e) => {
                    tracing::warn!(state = %p.name, "could not restore the state: {e}; removing what it left");
                    drop(reservation);
                    failed.push(p);
                }
            }
        }
        self.clean_stale(failed);
        self.persist();
    }

    /// Removes the rules and pins of states a previous daemon left.
    fn clean_stale(&self, stale: Vec<Persisted>) {
        for p in stale {
            let name = p.name.clone();
            let work = move || lunet_netfilter::remove_state(&name);
            let result = match &p.netns {
                Some(ns) => lunet_netns::in_netns(ns, work)
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string())),
                None => work().map_err(|e| e.to_string()),
            };
            match result {
                Ok(()) => {
                    tracing::info!(state = %p.name, netns = ?p.netns, "removed rules a previous daemon left")
                }
                Err(e) => tracing::warn!(state = %p.name, "could not remove stale rules: {e}"),
            }
            if let Err(e) = lunet_lua::maps::unpin_dir(&self.pin_root.join(&p.name)) {
                tracing::warn!(state = %p.name, "could not remove stale map pins: {e}");
            }
        }
    }

    fn persist(&self) {
        let list: Vec<Persisted> = self
            .states
            .running()
            .iter()
            .map(|r| Persisted::of(&r.spec()))
            .collect();
        let text = serde_json::to_string(&list).unwrap_or_default();
        if let Err(e) = std::fs::write(&self.record, text) {
            tracing::warn!("cannot write {}: {e}", self.record.display());
        }
    }

    fn serve(&self, stream: UnixStream) {
        let mut out = match stream.try_clone() {
            Ok(s) => s,
            Err(_) => return,
        };
        let mut reader = BufReader::new(stream);
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let Ok(line) = std::str::from_utf8(&bytes) else {
                let bad = Response::err(ErrorKind::BadRequest, "bad request: not UTF-8");
                if send(&mut out, &bad).is_err() {
                    return;
                }
                continue;
            };
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            let request = match serde_json::from_str::<Request>(line) {
                Ok(r) => r,
                Err(e) => {
                    let _ = send(
                        &mut out,
                        &Response::err(ErrorKind::BadRequest, format!("bad request: {e}")),
                    );
                    continue;
                }
            };
            if let Request::Logs {
                name,
                follow: true,
                since,
            } = request
            {
                self.follow_logs(&mut out, &name, since);
                return;
            }
            let response = answer(|| self.handle(request));
            if send(&mut out, &response).is_err() {
                return;
            }
        }
    }

    fn get(&self, name: &str) -> Result<Arc<Running>, Response> {
        match self.states.get(name) {
            Lookup::Running(r) => Ok(r),
            other => Err(not_running(name, &other)),
        }
    }

    fn handle(&self, request: Request) -> Response {
        match request {
            Request::Ping => Response::ok("pong"),
            Request::Run(r) => self.start(r),
            Request::Stop { name } => match self.states.remove(&name) {
                Lookup::Running(r) => {
                    r.stop();
                    self.persist();
                    Response::ok(serde_json::json!({ "stopped": name }))
                }
                other => not_running(&name, &other),
            },
            Request::Reload { name, script } => match self.get(&name) {
                Ok(_) if !script.is_absolute() => {
                    Response::err(ErrorKind::BadRequest, "the script path must be absolute")
                }
                Ok(r) => match r.reload(script) {
                    Ok(report) => {
                        self.persist();
                        Response::ok(report)
                    }
                    Err(e) => Response::err(
                        match &e {
                            crate::runner::ReloadError::Start(s) if !s.is_script() => {
                                ErrorKind::Netfilter
                            }
                            _ => ErrorKind::Script,
                        },
                        e.to_string(),
                    ),
                },
                Err(e) => e,
            },
            Request::List => {
                let list: Vec<ListEntry> = self
                    .states
                    .running()
                    .iter()
                    .map(|r| {
                        let stats = r.stats();
                        ListEntry {
                            name: r.report().name.clone(),
                            script: r.report().script.clone(),
                            netns: r.report().netns.clone(),
                            hooks: r.report().hooks.len(),
                            packets: stats.hooks.iter().map(|h| h.stats.packets).sum(),
                            errors: stats.hooks.iter().map(|h| h.stats.errors).sum(),
                            running: r.is_running(),
                        }
                    })
                    .collect();
                Response::ok(list)
            }
            Request::Stats { name } => match self.get(&name) {
                Ok(r) => Response::ok(r.stats()),
                Err(e) => e,
            },
            Request::Map {
                name,
                map,
                op,
                key,
                value,
            } => match self.get(&name) {
                Ok(r) => match crate::mapops::handle(
                    &r.report(),
                    map.as_deref(),
                    op,
                    key.as_deref(),
                    value.as_deref(),
                ) {
                    Ok(v) => Response::ok(v),
                    Err((kind, message)) => Response::err(kind, message),
                },
                Err(e) => e,
            },
            Request::Logs { name, since, .. } => match self.get(&name) {
                Ok(r) => Response::ok(r.log.since(since)),
                Err(e) => e,
            },
        }
    }

    fn start(&self, r: RunRequest) -> Response {
        let spec = match RunSpec::from_request(r, &self.pin_root) {
            Ok(s) => s,
            Err(e) => return Response::err(ErrorKind::BadRequest, e.to_string()),
        };
        let name = spec.name.clone();
        if let Err(e) = lunet_netfilter::validate_state(&name) {
            return Response::err(
                ErrorKind::BadRequest,
                format!("invalid state name '{name}': {e}"),
            );
        }
        if !spec.script.is_absolute() {
            return Response::err(ErrorKind::BadRequest, "the script path must be absolute");
        }
        let Some(reservation) = self.states.reserve(&name) else {
            return Response::err(
                ErrorKind::Exists,
                format!("a state named '{name}' is running (stop it, or pick --name)"),
            );
        };
        match Running::start(spec) {
            Ok(running) => {
                let report = running.report();
                reservation.fill(Arc::new(running));
                self.persist();
                Response::ok(report)
            }
            Err(e) => {
                drop(reservation);
                let kind = if e.is_script() {
                    ErrorKind::Script
                } else {
                    ErrorKind::Netfilter
                };
                Response::err(kind, e.to_string())
            }
        }
    }

    fn follow_logs(&self, out: &mut UnixStream, name: &str, mut since: u64) {
        let r = match self.get(name) {
            Ok(r) => r,
            Err(e) => {
                let _ = send(out, &e);
                return;
            }
        };
        loop {
            for line in r.log.wait_since(since, Duration::from_millis(500)) {
                since = line.seq + 1;
                if send(out, &Response::ok(LogEvent::Line(line))).is_err() {
                    return;
                }
            }
            let gone = !self.states.is_current(name, &r);
            if gone || !r.is_running() {
                let _ = send(
                    out,
                    &Response::ok(LogEvent::End {
                        reason: format!("state '{name}' stopped"),
                    }),
                );
                return;
            }
            // Notice a client that went away even when the state is silent.
            if out.write_all(b"").is_err() {
                return;
            }
        }
    }
}

/// The error for a name that has no running state (yet).
fn not_running(name: &str, l: &Lookup) -> Response {
    let message = match l {
        Lookup::Starting => format!("state '{name}' is still starting"),
        _ => format!("no state named '{name}'"),
    };
    Response::err(ErrorKind::NotFound, message)
}

/// `handle()`'s answer; a request that panics is answered with an `internal` error, and the
/// connection (and the daemon) go on.
fn answer(handle: impl FnOnce() -> Response) -> Response {
    catch_unwind(AssertUnwindSafe(handle)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        tracing::error!("a request failed: {why}");
        Response::err(
            ErrorKind::Internal,
            format!("the daemon failed on this request: {why}"),
        )
    })
}

fn send(out: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

#[cfg(test)]
mod tests {
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
}
