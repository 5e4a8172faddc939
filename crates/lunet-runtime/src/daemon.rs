//! `lunet daemon`: holds the running states and answers clients on a Unix socket, one thread
//! per client, so a slow client or a busy state never blocks `list`. [`Server::bind`] cleans
//! up after a crashed daemon and listens; [`Server::run`] serves until a [`Stopper`] stops it,
//! then stops every state.
//!
//! The names and namespaces of running states are kept in `<socket>.states.json`: after a crash
//! the next daemon removes the rules those states left (their `--queue-bypass` kept traffic
//! flowing meanwhile).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::{ErrorKind, ListEntry, LogEvent, Request, Response, RunRequest};
use crate::runner::{RunSpec, Running};

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

/// A name is reserved (None) while its state starts, so two `run`s cannot take it twice.
type States = Arc<Mutex<BTreeMap<String, Option<Arc<Running>>>>>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Persisted {
    name: String,
    netns: Option<String>,
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
        // Stale rules go before anyone can ask for anything.
        let daemon = Arc::new(Daemon {
            states: Arc::default(),
            record: record_path(socket),
            pin_root: pin_root.to_path_buf(),
        });
        daemon.clean_stale();

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
        let all: Vec<_> = std::mem::take(&mut *self.daemon.states.lock().unwrap())
            .into_values()
            .flatten()
            .collect();
        for s in all {
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
    /// Removes the rules of states a previous daemon left running.
    fn clean_stale(&self) {
        let Ok(text) = std::fs::read_to_string(&self.record) else {
            return;
        };
        let Ok(stale) = serde_json::from_str::<Vec<Persisted>>(&text) else {
            return;
        };
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
        let _ = std::fs::remove_file(&self.record);
    }

    fn persist(&self) {
        let list: Vec<Persisted> = self
            .states
            .lock()
            .unwrap()
            .values()
            .flatten()
            .map(|r| Persisted {
                name: r.report.name.clone(),
                netns: r.report.netns.clone(),
            })
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
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if line.trim().is_empty() {
                continue;
            }
            let request = match serde_json::from_str::<Request>(&line) {
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
            let response = self.handle(request);
            if send(&mut out, &response).is_err() {
                return;
            }
        }
    }

    fn get(&self, name: &str) -> Result<Arc<Running>, Response> {
        match self.states.lock().unwrap().get(name) {
            Some(Some(r)) => Ok(r.clone()),
            Some(None) => Err(Response::err(
                ErrorKind::NotFound,
                format!("state '{name}' is still starting"),
            )),
            None => Err(Response::err(
                ErrorKind::NotFound,
                format!("no state named '{name}'"),
            )),
        }
    }

    fn handle(&self, request: Request) -> Response {
        match request {
            Request::Ping => Response::ok("pong"),
            Request::Run(r) => self.start(r),
            Request::Stop { name } => {
                let removed = self.states.lock().unwrap().remove(&name);
                match removed {
                    Some(Some(r)) => {
                        r.stop();
                        self.persist();
                        Response::ok(serde_json::json!({ "stopped": name }))
                    }
                    Some(None) => {
                        // Put the reservation back: the starter owns it.
                        self.states.lock().unwrap().insert(name.clone(), None);
                        Response::err(
                            ErrorKind::NotFound,
                            format!("state '{name}' is still starting"),
                        )
                    }
                    None => Response::err(ErrorKind::NotFound, format!("no state named '{name}'")),
                }
            }
            Request::List => {
                let states = self.states.lock().unwrap();
                let list: Vec<ListEntry> = states
                    .values()
                    .flatten()
                    .map(|r| {
                        let stats = r.stats();
                        ListEntry {
                            name: r.report.name.clone(),
                            script: r.report.script.clone(),
                            netns: r.report.netns.clone(),
                            hooks: r.report.hooks.len(),
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
                    &r.report,
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
        let spec = RunSpec::from_request(r, &self.pin_root);
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
        {
            let mut states = self.states.lock().unwrap();
            if states.contains_key(&name) {
                return Response::err(
                    ErrorKind::Exists,
                    format!("a state named '{name}' is running (stop it, or pick --name)"),
                );
            }
            states.insert(name.clone(), None);
        }
        match Running::start(spec) {
            Ok(running) => {
                let report = running.report.clone();
                self.states
                    .lock()
                    .unwrap()
                    .insert(name, Some(Arc::new(running)));
                self.persist();
                Response::ok(report)
            }
            Err(e) => {
                self.states.lock().unwrap().remove(&name);
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
            let gone = !matches!(self.states.lock().unwrap().get(name), Some(Some(cur)) if Arc::ptr_eq(cur, &r));
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

fn send(out: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}
