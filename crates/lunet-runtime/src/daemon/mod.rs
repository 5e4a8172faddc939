//! `lunet daemon`: holds the running states and answers clients on a Unix socket, one thread
//! per client, so a slow client or a busy state never blocks `list`. [`Server::bind`] cleans
//! up after a crashed daemon and listens; [`Server::run`] serves until a [`Stopper`] stops it,
//! then stops every state.
//!
//! Only root is served: the socket's directory is root's (made 0700), the socket is bound
//! 0600 from the start, and every connection's peer credentials are checked. Clients are
//! bounded ([`conn`]): connections, line length, time to send a request. The daemon holds its
//! pin root (locked, see [`lunet_bpf::pin::PinRoot`]) and a lock beside its socket for its
//! life, so a second daemon on either fails with the first one's PID.
//!
//! What runs is kept in `<socket>.states.json` beside the socket (each state's name, script
//! and options; written atomically through the directory's fd; one that is a link or another
//! user's is not read): after a crash the next daemon starts every state again from its
//! script, taking over what it left ([`Running::adopt`]: pinned maps with their entries,
//! compiled hooks that never stopped filtering); the Lua-tier hooks' `--queue-bypass` let
//! traffic pass meanwhile. A state that cannot start again has its rules and pins removed. A
//! daemon stopped on purpose (SIGTERM) stops its states and leaves nothing to restore.
//!
//! One request that panics costs its own answer only (an `internal` error): the states sit
//! behind a lock no panic can take down ([`states`]).

mod conn;
mod http;
mod metrics;
mod record;
mod scripts;
mod server;
mod states;

use record::Persisted;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lunet_bpf::pin::PinRootError;
use lunet_bpf::safe_fs::{Dir, FsError};
use serde::Serialize;

use crate::protocol::{ErrorKind, ListEntry, LogEvent, Request, Response, RunRequest, StateReport};
use crate::runner::{RunSpec, Running};
pub use conn::Bounds;
use conn::{send, Lines, Next, Phase, Slot};
pub use http::{MetricsBounds, MetricsConfig, MetricsError, MetricsListener, DEFAULT_METRICS_PORT};
pub use scripts::{ScriptsConfig, DEFAULT_SCRIPTS_DIR};
pub use server::{Rereader, Server, ServerOptions, Stopper};
use states::{Lookup, States};

/// The largest states record read back (a few hundred bytes per state).
const MAX_RECORD: usize = 4 << 20;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{} does not name a socket in a directory", .0.display())]
    BadSocket(PathBuf),
    #[error("the socket's directory: {0}")]
    SocketDir(FsError),
    #[error("another lunet daemon serves {} ({})", socket.display(), pid.map_or("pid unknown".to_string(), |p| format!("pid {p}")))]
    Locked { socket: PathBuf, pid: Option<u32> },
    #[error(transparent)]
    PinRoot(#[from] PinRootError),
    #[error("another lunet daemon answers at {}", .0.display())]
    Running(PathBuf),
    #[error("cannot listen at {}: {source}", socket.display())]
    Listen {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not private after binding (mode {mode:04o}, uid {uid})", socket.display())]
    Permissions {
        socket: PathBuf,
        mode: u32,
        uid: u32,
    },
}

struct Daemon {
    states: States,
    /// The socket's directory, where the record is.
    dir: Dir,
    /// The record's name in `dir`: `<socket>.states.json`.
    record: OsString,
    /// One record written at a time, each from the states as they are then.
    persisting: Mutex<()>,
    /// Where states pin their maps (`<pin_root>/<state>/<map>`).
    pin_root: PathBuf,
    bounds: Bounds,
    /// When the daemon started (the metrics' up-time).
    started: Instant,
    /// The scripts directory the daemon keeps its states equal to (`--scripts`).
    scripts: Option<scripts::Scripts>,
    /// The states that run from the scripts directory, by name: their file's name.
    managed: Mutex<BTreeMap<String, String>>,
}

/// Why an operation on a state was refused, as the protocol says it.
type Refusal = (ErrorKind, String);

impl Daemon {
    /// Starts again the states a previous daemon left running (it died without stopping
    /// them); removes the rules and pins of those that cannot start.
    fn restore(&self) {
        let bytes = match self.dir.read_file(&self.record, MAX_RECORD) {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("not reading the states record: {e}");
                return;
            }
        };
        let Ok(stale) = serde_json::from_slice::<Vec<Persisted>>(&bytes) else {
            return;
        };
        let mut failed = Vec::new();
        for p in stale {
            if let Err(e) = lunet_netfilter::validate_state(&p.name) {
                tracing::warn!("the states record names an invalid state: {e}");
                continue;
            }
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
                    if let (Some(file), Some(_)) = (&p.file, &self.scripts) {
                        self.managed_lock().insert(p.name.clone(), file.clone());
                    }
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

    /// The metrics page (`--metrics`): every running state's stats, as `lunet stats` gives
    /// them.
    fn metrics_page(&self) -> String {
        let running = self.states.running();
        let states: Vec<_> = running.iter().map(|r| r.stats()).collect();
        let caps: Vec<usize> = running.iter().map(|r| r.spec().limits.memory).collect();
        metrics::render(&metrics::Daemon {
            started: self.started,
            script_errors: self.scripts.as_ref().map(|s| s.errors()),
            states: &states,
            memory_caps: &caps,
        })
    }

    fn managed_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.managed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The scripts directory's file state `name` runs from.
    fn file_of(&self, name: &str) -> Option<String> {
        self.managed_lock().get(name).cloned()
    }

    fn persist(&self) {
        let _one = self
            .persisting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Persisted> = self
            .states
            .running()
            .iter()
            .map(|r| {
                let spec = r.spec();
                let file = self.file_of(&spec.name);
                Persisted::of(&spec, file)
            })
            .collect();
        let text = serde_json::to_vec(&list).unwrap_or_default();
        if let Err(e) = self.dir.write_atomic(&self.record, &text, 0o600) {
            tracing::warn!("cannot write the states record: {e}");
        }
    }

    fn serve(&self, stream: UnixStream, slot: Slot) {
        let idle = self.bounds.idle;
        // An answer waits this long at most for a client that does not read.
        let _ = stream.set_write_timeout(Some(idle));
        let mut out = match stream.try_clone() {
            Ok(s) => s,
            Err(_) => return,
        };
        let mut lines = Lines::new(stream, self.bounds.max_line);
        loop {
            slot.set(Phase::Waiting);
            let deadline = Instant::now() + idle;
            let line = loop {
                match lines.next(deadline, || slot.set(Phase::Busy)) {
                    Next::Line(l) if l.trim_ascii().is_empty() => continue,
                    other => break other,
                }
            };
            let line = match line {
                Next::Line(l) => l,
                Next::Eof | Next::Failed => {
                    if slot.evicted() {
                        let message = format!(
                            "closed: idle while the daemon had all {} connections in use",
                            self.bounds.max_conns
                        );
                        let _ = send(&mut out, &Response::err(ErrorKind::Busy, message));
                    }
                    return;
                }
                Next::TooLong => {
                    let message = format!(
                        "request too long: more than {} bytes without a newline; closing",
                        self.bounds.max_line
                    );
                    let _ = send(&mut out, &Response::err(ErrorKind::BadRequest, message));
                    return;
                }
                Next::Idle => {
                    let message = format!("no complete request within {idle:?}; closing");
                    let _ = send(&mut out, &Response::err(ErrorKind::BadRequest, message));
                    return;
                }
            };
            slot.set(Phase::Busy);
            let request = match serde_json::from_slice::<Request>(&line) {
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
            Request::Stop { name } => match self.refuse_managed(&name) {
                Some(e) => e,
                None => reply(
                    self.stop_state(&name)
                        .map(|()| serde_json::json!({ "stopped": name })),
                ),
            },
            Request::Reload { name, script } => match self.refuse_managed(&name) {
                Some(e) => e,
                None if !script.is_absolute() => {
                    Response::err(ErrorKind::BadRequest, "the script path must be absolute")
                }
                None => reply(self.reload_state(&name, script)),
            },
            Request::Apply => match &self.scripts {
                Some(s) => Response::ok(s.sync(self, true)),
                None => Response::err(
                    ErrorKind::BadRequest,
                    "this daemon keeps no scripts directory (start it with --scripts DIR)",
                ),
            },
            Request::List => {
                let list: Vec<ListEntry> = self
                    .states
                    .running()
                    .iter()
                    .map(|r| {
                        let stats = r.stats();
                        let file = self.file_of(&r.report().name);
                        let file_error = file
                            .as_ref()
                            .and_then(|f| self.scripts.as_ref().and_then(|s| s.error_of(f)));
                        ListEntry {
                            name: r.report().name.clone(),
                            script: r.report().script.clone(),
                            netns: r.report().netns.clone(),
                            hooks: r.report().hooks.len(),
                            packets: stats.hooks.iter().map(|h| h.stats.packets).sum(),
                            errors: stats.hooks.iter().map(|h| h.stats.errors).sum(),
                            running: r.is_running(),
                            file,
                            file_error,
                            copies: r.report().copies,
                            per_copy: per_copy(&stats),
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
        reply(self.start_state(r, None))
    }

    /// `Some(refusal)` when `name` runs from the scripts directory: the directory decides
    /// what it runs, not `stop` or `reload`.
    fn refuse_managed(&self, name: &str) -> Option<Response> {
        let file = self.file_of(name)?;
        Some(Response::err(
            ErrorKind::BadRequest,
            format!(
                "state '{name}' runs from the scripts directory's file {file}: change or remove \
                 the file (then `lunet apply`, or wait for the daemon to see it)"
            ),
        ))
    }

    /// Starts a state; `file` is the scripts directory's file it runs from, if it does.
    fn start_state(&self, r: RunRequest, file: Option<&str>) -> Result<StateReport, Refusal> {
        let spec = RunSpec::from_request(r, &self.pin_root)
            .map_err(|e| (ErrorKind::BadRequest, e.to_string()))?;
        let name = spec.name.clone();
        if let Err(e) = lunet_netfilter::validate_state(&name) {
            return Err((
                ErrorKind::BadRequest,
                format!("invalid state name '{name}': {e}"),
            ));
        }
        if !spec.script.is_absolute() {
            return Err((
                ErrorKind::BadRequest,
                "the script path must be absolute".into(),
            ));
        }
        let Some(reservation) = self.states.reserve(&name) else {
            return Err((
                ErrorKind::Exists,
                format!("a state named '{name}' is running (stop it, or pick --name)"),
            ));
        };
        match Running::start(spec) {
            Ok(running) => {
                let report = running.report();
                if let Some(f) = file {
                    self.managed_lock().insert(name.clone(), f.to_string());
                }
                reservation.fill(Arc::new(running));
                self.persist();
                Ok(report)
            }
            Err(e) => {
                drop(reservation);
                let kind = if e.is_script() {
                    ErrorKind::Script
                } else {
                    ErrorKind::Netfilter
                };
                Err((kind, e.to_string()))
            }
        }
    }

    /// Stops a state: its rules, queues and pins go.
    fn stop_state(&self, name: &str) -> Result<(), Refusal> {
        match self.states.remove(name) {
            Lookup::Running(r) => {
                r.stop();
                self.managed_lock().remove(name);
                self.persist();
                Ok(())
            }
            other => Err(refusal(name, &other)),
        }
    }

    /// Replaces a state's script (no packet lost); on error the old version runs on.
    fn reload_state(&self, name: &str, script: PathBuf) -> Result<StateReport, Refusal> {
        let r = match self.states.get(name) {
            Lookup::Running(r) => r,
            other => return Err(refusal(name, &other)),
        };
        match r.reload(script) {
            Ok(report) => {
                self.persist();
                Ok(report)
            }
            Err(e) => Err((
                match &e {
                    crate::runner::ReloadError::Start(s) if !s.is_script() => ErrorKind::Netfilter,
                    _ => ErrorKind::Script,
                },
                e.to_string(),
            )),
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
            if conn::peer_gone(out) {
                return;
            }
        }
    }
}

/// The error for a name that has no running state (yet).
fn refusal(name: &str, l: &Lookup) -> Refusal {
    let message = match l {
        Lookup::Starting => format!("state '{name}' is still starting"),
        _ => format!("no state named '{name}'"),
    };
    (ErrorKind::NotFound, message)
}

fn not_running(name: &str, l: &Lookup) -> Response {
    let (kind, message) = refusal(name, l);
    Response::err(kind, message)
}

/// An operation's result as an answer.
fn reply<T: Serialize>(r: Result<T, Refusal>) -> Response {
    match r {
        Ok(v) => Response::ok(v),
        Err((kind, message)) => Response::err(kind, message),
    }
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

/// Each per-CPU copy's packets and errors over all the state's hooks (empty for one copy).
fn per_copy(stats: &crate::protocol::StatsReport) -> Vec<crate::protocol::CopyShare> {
    stats
        .copies
        .iter()
        .enumerate()
        .map(|(k, c)| crate::protocol::CopyShare {
            copy: c.copy,
            cpu: c.cpu,
            packets: stats
                .hooks
                .iter()
                .filter_map(|h| h.per_copy.get(k))
                .map(|s| s.packets)
                .sum(),
            errors: stats
                .hooks
                .iter()
                .filter_map(|h| h.per_copy.get(k))
                .map(|s| s.errors)
                .sum(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
