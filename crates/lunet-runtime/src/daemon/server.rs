//! The daemon's socket: taking its directory, its lock and the pin root, binding it private,
//! the accept loop (peer check, connection bound, backoff), and letting it all go at the end.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lunet_bpf::pin::PinRoot;
use lunet_bpf::safe_fs::{self, Dir, Lock, LockError};

use super::conn::{self, Bounds, Conns};
use super::http::MetricsListener;
use super::scripts::{Scripts, ScriptsConfig};
use super::states::States;
use super::{Daemon, DaemonError};
use crate::protocol::{ErrorKind, Response};

/// How often the accept loop looks at its stop flag when no client comes.
const QUIT_CHECK: Duration = Duration::from_millis(500);

/// A daemon listening on its socket, not serving yet.
pub struct Server {
    pub(super) daemon: Arc<Daemon>,
    listener: UnixListener,
    socket: PathBuf,
    socket_name: OsString,
    pub(super) conns: Arc<Conns>,
    pins: PinRoot,
    socket_lock: Lock,
    quit: Arc<AtomicBool>,
    metrics: Option<MetricsListener>,
}

/// How a daemon runs besides its socket and pin root.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub bounds: Bounds,
    /// The scripts directory to keep the states equal to (`--scripts`).
    pub scripts: Option<ScriptsConfig>,
}

/// Has a [`Server`] read its scripts directory now (SIGHUP), from any thread.
#[derive(Clone)]
pub struct Rereader {
    daemon: Arc<Daemon>,
}

impl Rereader {
    /// `false` when the daemon keeps no scripts directory.
    pub fn reread(&self) -> bool {
        match &self.daemon.scripts {
            Some(s) => {
                s.wake();
                true
            }
            None => false,
        }
    }
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

/// `name` with `suffix` appended.
fn with_suffix(name: &OsString, suffix: &str) -> OsString {
    let mut n = name.clone();
    n.push(suffix);
    n
}

impl Server {
    /// [`Server::bind_with`] the default [`Bounds`].
    pub fn bind(socket: &Path, pin_root: &Path) -> Result<Server, DaemonError> {
        Server::bind_with(socket, pin_root, Bounds::default())
    }

    /// Takes the socket's directory (made 0700 when missing; refused when it is a link or
    /// another user's, or others can write it), the lock beside the socket and the pin root
    /// (see [`PinRoot::take`]); removes what a daemon that was killed left (its states' rules
    /// and pins); then listens on `socket`, mode 0600 from the start. States pin their maps
    /// under `pin_root/<state>/`.
    pub fn bind_with(
        socket: &Path,
        pin_root: &Path,
        bounds: Bounds,
    ) -> Result<Server, DaemonError> {
        Server::bind_opts(
            socket,
            pin_root,
            ServerOptions {
                bounds,
                scripts: None,
            },
        )
    }

    /// [`Server::bind_with`], and a scripts directory when `options` has one (its states
    /// that a killed daemon left are restored as the directory's).
    pub fn bind_opts(
        socket: &Path,
        pin_root: &Path,
        options: ServerOptions,
    ) -> Result<Server, DaemonError> {
        let ServerOptions { bounds, scripts } = options;
        let socket = std::path::absolute(socket).map_err(|source| DaemonError::Listen {
            socket: socket.to_path_buf(),
            source,
        })?;
        let (Some(parent), Some(name)) = (socket.parent(), socket.file_name()) else {
            return Err(DaemonError::BadSocket(socket));
        };
        let name = name.to_os_string();
        let dir = Dir::create(parent, 0o700).map_err(DaemonError::SocketDir)?;
        let socket_lock = dir
            .lock(&with_suffix(&name, ".lock"))
            .map_err(|e| match e {
                LockError::Held { pid, .. } => DaemonError::Locked {
                    socket: socket.clone(),
                    pid,
                },
                LockError::Fs(e) => DaemonError::SocketDir(e),
            })?;
        match Server::listen(&socket, &name, dir, pin_root, bounds, scripts) {
            Ok((daemon, listener, pins)) => Ok(Server {
                daemon,
                listener,
                socket,
                socket_name: name,
                conns: Conns::new(bounds.max_conns),
                pins,
                socket_lock,
                quit: Arc::default(),
                metrics: None,
            }),
            Err(e) => {
                let _ = socket_lock.unlink();
                Err(e)
            }
        }
    }

    /// What [`Server::bind_with`] does once it holds the socket's lock.
    fn listen(
        socket: &Path,
        name: &OsString,
        dir: Dir,
        pin_root: &Path,
        bounds: Bounds,
        scripts: Option<ScriptsConfig>,
    ) -> Result<(Arc<Daemon>, UnixListener, PinRoot), DaemonError> {
        let pin_root = std::path::absolute(pin_root).unwrap_or_else(|_| pin_root.to_path_buf());
        let pins = PinRoot::take(&pin_root)?;
        if UnixStream::connect(socket).is_ok() {
            return Err(DaemonError::Running(socket.to_path_buf()));
        }
        // Stale rules go before anyone can ask for anything.
        let daemon = Arc::new(Daemon {
            states: States::default(),
            dir,
            record: with_suffix(name, ".states.json"),
            persisting: Mutex::new(()),
            pin_root,
            bounds,
            started: std::time::Instant::now(),
            scripts: scripts.map(Scripts::new),
            managed: Mutex::default(),
        });
        daemon.restore();

        let listen_err = |source| DaemonError::Listen {
            socket: socket.to_path_buf(),
            source,
        };
        daemon
            .dir
            .remove_file(name)
            .map_err(|e| listen_err(e.into()))?;
        // Private from the start: a socket bound with a wider umask and chmod-ed afterwards
        // is connectable in between.
        let listener = safe_fs::with_umask(0o177, || UnixListener::bind(socket))
            .and_then(|r| r)
            .map_err(listen_err)?;
        let meta = daemon
            .dir
            .meta(name)
            .map_err(|e| listen_err(e.into()))?
            .ok_or_else(|| listen_err(std::io::ErrorKind::NotFound.into()))?;
        if !meta.is_socket() || meta.permissions() & 0o077 != 0 || meta.uid != 0 {
            return Err(DaemonError::Permissions {
                socket: socket.to_path_buf(),
                mode: meta.permissions(),
                uid: meta.uid,
            });
        }
        Ok((daemon, listener, pins))
    }

    /// Serves the metrics page on `listener` once [`Server::run`] runs.
    pub fn serve_metrics(&mut self, listener: MetricsListener) {
        self.metrics = Some(listener);
    }

    pub fn rereader(&self) -> Rereader {
        Rereader {
            daemon: self.daemon.clone(),
        }
    }

    pub fn stopper(&self) -> Stopper {
        Stopper {
            quit: self.quit.clone(),
            socket: self.socket.clone(),
        }
    }

    /// Answers clients, one thread each, until stopped; then stops every state (their rules,
    /// queues and pins go), removes the socket and lets the locks and the pin root go.
    pub fn run(mut self) {
        tracing::info!(socket = %self.socket.display(), "lunet daemon listening");
        let metrics = self.metrics.take().and_then(|m| {
            let (d, quit) = (self.daemon.clone(), self.quit.clone());
            if let Some(addr) = m.local_addr() {
                tracing::info!(%addr, "serving metrics at http://{addr}/metrics");
            }
            std::thread::Builder::new()
                .name("lunet-metrics".into())
                .spawn(move || m.serve(d, quit))
                .map_err(|e| tracing::warn!("cannot start the metrics thread: {e}"))
                .ok()
        });
        let watcher = self.daemon.scripts.as_ref().and_then(|_| {
            let (d, quit) = (self.daemon.clone(), self.quit.clone());
            std::thread::Builder::new()
                .name("lunet-scripts".into())
                .spawn(move || {
                    if let Some(s) = &d.scripts {
                        s.watch(&d, &quit);
                    }
                })
                .map_err(|e| tracing::warn!("cannot start the scripts directory's thread: {e}"))
                .ok()
        });
        let mut backoff = conn::Backoff::new();
        // The loop wakes at least twice a second to see `quit`: a stop must not depend on
        // the Stopper's connection, which fails while the process is out of descriptors.
        let polling = self.listener.set_nonblocking(true);
        while !self.quit.load(Ordering::SeqCst) {
            if polling.is_ok() {
                let fd = [self.listener.as_fd()];
                match lunet_bpf::sys::poll_readable(&fd, Some(QUIT_CHECK)) {
                    Ok(ready) if ready.first() == Some(&true) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        backoff.failed(&e);
                        continue;
                    }
                }
            }
            match self.listener.accept() {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    self.accept(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => backoff.failed(&e),
            }
        }
        for t in [metrics, watcher].into_iter().flatten() {
            let _ = t.join();
        }
        tracing::info!("stopping every state");
        for s in self.daemon.states.take_all() {
            s.stop();
        }
        self.daemon.persist();
        let Server {
            daemon,
            listener,
            socket_name,
            pins,
            socket_lock,
            ..
        } = self;
        drop(listener);
        let _ = daemon.dir.remove_file(&socket_name);
        let _ = socket_lock.unlink();
        if let Err(e) = pins.release() {
            tracing::warn!("letting the pin root go: {e}");
        }
    }

    /// Serves `stream` on a thread of its own, when its peer is root and there is room.
    fn accept(&self, stream: UnixStream) {
        // Served blocking, with timeouts (the listener is non-blocking).
        if stream.set_nonblocking(false).is_err() {
            return;
        }
        match conn::peer(&stream) {
            Ok((_, 0)) => {}
            Ok((pid, uid)) => {
                tracing::debug!(pid, uid, "refused a client that is not root");
                let message = format!(
                    "the lunet daemon serves root only (uid 0); this client runs as uid {uid}"
                );
                conn::refuse(stream, &Response::err(ErrorKind::Denied, message));
                return;
            }
            Err(_) => return,
        }
        let slot = match self.conns.admit(&stream) {
            Ok(Some(slot)) => slot,
            Ok(None) | Err(_) => {
                let message = format!(
                    "the daemon is busy: all {} connections are in use; try again",
                    self.daemon.bounds.max_conns
                );
                conn::refuse(stream, &Response::err(ErrorKind::Busy, message));
                return;
            }
        };
        let d = self.daemon.clone();
        let spawned = std::thread::Builder::new()
            .name("lunet-client".into())
            .spawn(move || d.serve(stream, slot));
        if let Err(e) = spawned {
            tracing::warn!("cannot start a thread for a client: {e}");
        }
    }
}
