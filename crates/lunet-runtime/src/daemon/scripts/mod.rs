//! `lunet daemon --scripts DIR`: the running states kept equal to a directory of scripts.
//!
//! Each `*.lua` file at the top of the directory is one state, with its options in its
//! header ([`header`]); files in subdirectories are modules the scripts `require`. A sync
//! reads the directory ([`files`], with the pin root's care) and, file by file: a new file
//! starts its state; a changed script is reloaded ([`crate::runner::Running::reload`]: no
//! packet lost); changed options (the header) stop the state and start it again, once the
//! new version passed `lunet check`; a removed file stops its state (rules, queues and pins
//! go). A file that cannot run (unreadable, a bad header, a script that fails) keeps the
//! version running that ran before, and the error is reported: in the daemon's log, in
//! `lunet apply`'s report, as `file_error` in `lunet list`, and as a metric. A version that
//! failed is not tried again until the file changes, or `lunet apply` (or SIGHUP) asks.
//!
//! States started by hand (`lunet run`) are left alone; a file naming one is refused. The
//! states that run from the directory are not stopped or reloaded by hand: the directory
//! says what they run. The daemon looks at the directory every [`ScriptsConfig::poll`],
//! when `lunet apply` asks, and on SIGHUP.

mod files;
mod header;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lunet_types::Tier;

use super::states::Lookup;
use super::Daemon;
use crate::protocol::{ApplyReport, FileAction, FileReport, RunRequest};

/// The scripts directory when `--scripts` is given without one.
pub const DEFAULT_SCRIPTS_DIR: &str = "/etc/lunet/scripts.d";

/// Which directory, and how often to look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptsConfig {
    /// An absolute path.
    pub dir: PathBuf,
    /// How often the daemon reads it by itself (`None`: only on `lunet apply` and SIGHUP).
    pub poll: Option<Duration>,
}

/// What a file asks to run: the state's options, from its header and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    name: String,
    netns: Option<String>,
    dev: Option<String>,
    tier: Tier,
    mem: Option<usize>,
    budget: Option<u64>,
    timeout_ms: Option<u64>,
    /// One copy of the state per CPU listed (a change restarts the state).
    cpus: Option<Vec<u32>>,
}

/// A file's version: a hash of its bytes.
type Fingerprint = u64;

fn fingerprint(bytes: &[u8]) -> Fingerprint {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// What runs from a file.
#[derive(Debug, Clone)]
struct Managed {
    state: String,
    version: Fingerprint,
    options: Options,
}

/// What the syncs remember between them.
#[derive(Default)]
struct Memory {
    /// By file name.
    running: BTreeMap<String, Managed>,
    /// The version of a file that failed last, and why, by file name.
    failed: BTreeMap<String, (Fingerprint, String)>,
    /// Whether the states a previous daemon ran from the directory were taken over.
    adopted: bool,
}

pub(super) struct Scripts {
    config: ScriptsConfig,
    memory: Mutex<Memory>,
    /// The last sync's report.
    last: Mutex<ApplyReport>,
    /// Set (and notified) to have the watcher sync now.
    wake: (Mutex<bool>, Condvar),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scripts {
    pub fn new(config: ScriptsConfig) -> Scripts {
        let last = ApplyReport {
            dir: config.dir.clone(),
            ..ApplyReport::default()
        };
        Scripts {
            config,
            memory: Mutex::default(),
            last: Mutex::new(last),
            wake: (Mutex::new(false), Condvar::new()),
        }
    }

    /// The files that cannot run now, with why (from the last sync).
    pub fn errors(&self) -> Vec<(String, String)> {
        lock(&self.last)
            .files
            .iter()
            .filter_map(|f| Some((f.file.clone(), f.error.clone()?)))
            .collect()
    }

    /// Why `file`'s current version does not run, if it does not.
    pub fn error_of(&self, file: &str) -> Option<String> {
        lock(&self.last)
            .files
            .iter()
            .find(|f| f.file == file)
            .and_then(|f| f.error.clone())
    }

    /// Has the watcher read the directory now.
    pub fn wake(&self) {
        *lock(&self.wake.0) = true;
        self.wake.1.notify_all();
    }

    /// Syncs at once, then every `poll`, and when woken, until `quit`.
    pub fn watch(&self, daemon: &Daemon, quit: &AtomicBool) {
        self.sync(daemon, false);
        let mut next = self.config.poll.map(|p| Instant::now() + p);
        while !quit.load(Ordering::SeqCst) {
            let woken = {
                let mut flag = lock(&self.wake.0);
                if !*flag {
                    // Wake at least twice a second to see `quit`.
                    let wait = next
                        .map(|n| n.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::MAX)
                        .min(Duration::from_millis(500));
                    flag = self
                        .wake
                        .1
                        .wait_timeout(flag, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::take(&mut *flag)
            };
            let due = next.is_some_and(|n| Instant::now() >= n);
            if quit.load(Ordering::SeqCst) {
                break;
            }
            if woken || due {
                self.sync(daemon, woken);
                next = self.config.poll.map(|p| Instant::now() + p);
            }
        }
    }

    /// Makes the running states equal to the directory; `retry`: try again the versions
    /// that failed before.
    pub fn sync(&self, daemon: &Daemon, retry: bool) -> ApplyReport {
        let mut memory = lock(&self.memory);
        if !memory.adopted {
            self.adopt(daemon, &mut memory);
            memory.adopted = true;
        }
        let mut report = ApplyReport {
            dir: self.config.dir.clone(),
            ..ApplyReport::default()
        };
        let listing = match files::list(&self.config.dir) {
            Ok(Some(l)) => l.scripts,
            Ok(None) => Vec::new(),
            Err(e) => {
                let why = format!("{e}; nothing was changed");
                let previous = lock(&self.last).error.clone();
                if previous.as_deref() != Some(why.as_str()) {
                    tracing::warn!(dir = %self.config.dir.display(), "the scripts directory cannot be used: {why}");
                }
                report.error = Some(why);
                report.files = memory
                    .running
                    .iter()
                    .map(|(file, m)| FileReport {
                        file: file.clone(),
                        state: Some(m.state.clone()),
                        action: FileAction::Kept,
                        error: report.error.clone(),
                        cpus: None,
                    })
                    .collect();
                *lock(&self.last) = report.clone();
                return report;
            }
        };
        let mut run = Run {
            dir: &self.config.dir,
            daemon,
            memory: &mut memory,
            retry,
            files: Vec::new(),
        };
        run.remove_gone(&listing);
        for (file, bytes) in listing {
            run.file(&file, bytes);
        }
        report.files = run.files;
        *lock(&self.last) = report.clone();
        report
    }

    /// Takes over the states a previous daemon ran from the directory (restored from its
    /// record), as the versions their files hold now.
    fn adopt(&self, daemon: &Daemon, memory: &mut Memory) {
        let managed = daemon.managed_lock().clone();
        for (state, file) in managed {
            let Ok(bytes) = read_one(&self.config.dir, &file) else {
                continue;
            };
            let Ok((options, _)) = options_of(&self.config.dir.join(&file), &bytes) else {
                continue;
            };
            memory.running.insert(
                file,
                Managed {
                    state,
                    version: fingerprint(&bytes),
                    options,
                },
            );
        }
    }
}

/// One file of the directory, read again (for [`Scripts::adopt`]).
fn read_one(dir: &Path, file: &str) -> Result<Vec<u8>, String> {
    let d = lunet_bpf::safe_fs::Dir::open_to_read(dir)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} does not exist", dir.display()))?;
    files::read(&d, std::ffi::OsStr::new(file)).map_err(|e| e.to_string())
}

/// A file's options, and the CPUs its header names.
fn options_of(path: &Path, bytes: &[u8]) -> Result<(Options, Option<Vec<u32>>), String> {
    let h = header::parse(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = h.name.unwrap_or_else(|| crate::runner::default_name(path));
    lunet_netfilter::validate_state(&name)
        .map_err(|e| format!("{}: invalid state name '{name}': {e}", path.display()))?;
    Ok((
        Options {
            name,
            netns: h.netns,
            dev: h.dev,
            tier: h.tier,
            mem: h.mem,
            budget: h.budget,
            timeout_ms: h.timeout_ms,
            cpus: h.cpus.clone(),
        },
        h.cpus,
    ))
}

fn request(path: &Path, o: &Options) -> RunRequest {
    RunRequest {
        script: path.to_path_buf(),
        name: Some(o.name.clone()),
        netns: o.netns.clone(),
        dev: o.dev.clone(),
        tier: o.tier,
        mem: o.mem,
        budget: o.budget,
        timeout_ms: o.timeout_ms,
        path: Vec::new(),
        cpus: o.cpus.clone().map(crate::protocol::CpuSet::List),
    }
}

/// One sync under way.
struct Run<'a> {
    dir: &'a Path,
    daemon: &'a Daemon,
    memory: &'a mut Memory,
    retry: bool,
    files: Vec<FileReport>,
}

impl Run<'_> {
    fn report(
        &mut self,
        file: &str,
        state: Option<&str>,
        action: FileAction,
        error: Option<String>,
        cpus: Option<Vec<u32>>,
    ) {
        match action {
            FileAction::Unchanged => {}
            FileAction::Failed | FileAction::Kept => {}
            _ => tracing::info!(file, state, ?action, "scripts directory"),
        }
        self.files.push(FileReport {
            file: file.to_string(),
            state: state.map(String::from),
            action,
            error,
            cpus,
        });
    }

    /// Stops the states whose file is gone.
    fn remove_gone(&mut self, listing: &[(String, Result<Vec<u8>, String>)]) {
        let present = |f: &str| listing.iter().any(|(n, _)| n == f);
        let gone: Vec<(String, Managed)> = self
            .memory
            .running
            .iter()
            .filter(|(f, _)| !present(f))
            .map(|(f, m)| (f.clone(), m.clone()))
            .collect();
        for (file, m) in gone {
            self.memory.running.remove(&file);
            let error = self.daemon.stop_state(&m.state).err().map(|(_, e)| e);
            self.report(&file, Some(&m.state), FileAction::Stopped, error, None);
        }
        self.memory.failed.retain(|f, _| present(f));
    }

    /// Records that `version` of `file` failed with `error`; logs it when it is news.
    fn failed(&mut self, file: &str, version: Fingerprint, error: &str) {
        let news = self
            .memory
            .failed
            .get(file)
            .is_none_or(|(v, e)| *v != version || e != error)
            || self.retry;
        if news {
            tracing::warn!(file, "scripts directory: {error}");
        }
        self.memory
            .failed
            .insert(file.to_string(), (version, error.to_string()));
    }

    /// The error `version` of `file` failed with before, unless asked to try again.
    fn failed_before(&self, file: &str, version: Fingerprint) -> Option<String> {
        if self.retry {
            return None;
        }
        match self.memory.failed.get(file) {
            Some((v, e)) if *v == version => Some(e.clone()),
            _ => None,
        }
    }

    fn file(&mut self, file: &str, bytes: Result<Vec<u8>, String>) {
        let path = self.dir.join(file);
        let version = match &bytes {
            Ok(b) => fingerprint(b),
            Err(e) => fingerprint(e.as_bytes()),
        };
        let wanted = bytes.and_then(|b| options_of(&path, &b));
        let current = self.memory.running.get(file).cloned();
        let (options, cpus) = match wanted {
            Ok(w) => w,
            Err(e) => {
                self.failed(file, version, &e);
                let state = current.as_ref().map(|m| m.state.as_str());
                let action = if current.is_some() {
                    FileAction::Kept
                } else {
                    FileAction::Failed
                };
                return self.report(file, state, action, Some(e), None);
            }
        };
        let Some(m) = current else {
            return self.start(file, &path, version, options, cpus, FileAction::Started);
        };
        let running = matches!(self.daemon.states.get(&m.state), Lookup::Running(_));
        if !running {
            // Gone by itself (a state cannot be stopped by hand): start it again.
            self.memory.running.remove(file);
            return self.start(file, &path, version, options, cpus, FileAction::Started);
        }
        if m.version == version {
            self.memory.failed.remove(file);
            return self.report(file, Some(&m.state), FileAction::Unchanged, None, cpus);
        }
        if let Some(e) = self.failed_before(file, version) {
            return self.report(file, Some(&m.state), FileAction::Kept, Some(e), cpus);
        }
        if m.options == options {
            match self.daemon.reload_state(&m.state, path.clone()) {
                Ok(_) => {
                    self.memory.failed.remove(file);
                    self.memory.running.insert(
                        file.to_string(),
                        Managed {
                            version,
                            ..m.clone()
                        },
                    );
                    self.report(file, Some(&m.state), FileAction::Reloaded, None, cpus)
                }
                Err((_, e)) => {
                    self.failed(file, version, &e);
                    self.report(file, Some(&m.state), FileAction::Kept, Some(e), cpus)
                }
            }
        } else {
            // New options: the new version must pass a check before the old one goes.
            let checked = match crate::check::check(&path, &[], options.tier, None) {
                Ok(r) if r.ok() => Ok(()),
                Ok(_) => Err(format!(
                    "{}: a hook cannot run in any tier (lunet check says why)",
                    path.display()
                )),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = checked {
                self.failed(file, version, &e);
                return self.report(file, Some(&m.state), FileAction::Kept, Some(e), cpus);
            }
            if let Err((_, e)) = self.daemon.stop_state(&m.state) {
                self.failed(file, version, &e);
                return self.report(file, Some(&m.state), FileAction::Kept, Some(e), cpus);
            }
            self.memory.running.remove(file);
            self.start(file, &path, version, options, cpus, FileAction::Restarted)
        }
    }

    fn start(
        &mut self,
        file: &str,
        path: &Path,
        version: Fingerprint,
        options: Options,
        cpus: Option<Vec<u32>>,
        action: FileAction,
    ) {
        if let Some(e) = self.failed_before(file, version) {
            return self.report(file, Some(&options.name), FileAction::Failed, Some(e), cpus);
        }
        let holder = self
            .memory
            .running
            .iter()
            .find(|(_, m)| m.state == options.name)
            .map(|(f, _)| f.clone());
        let taken = match holder {
            Some(other) => Some(format!(
                "{}: state name '{}' is taken by the file {other}",
                path.display(),
                options.name
            )),
            None if !matches!(self.daemon.states.get(&options.name), Lookup::Absent) => {
                Some(format!(
                "{}: a state named '{}' was started by hand (lunet run); the scripts directory \
                 leaves it alone: stop it, or name this file's state otherwise",
                path.display(),
                options.name
            ))
            }
            None => None,
        };
        let result = match taken {
            Some(e) => Err(e),
            None => self
                .daemon
                .start_state(request(path, &options), Some(file))
                .map_err(|(_, e)| e),
        };
        match result {
            Ok(_) => {
                self.memory.failed.remove(file);
                let state = options.name.clone();
                self.memory.running.insert(
                    file.to_string(),
                    Managed {
                        state: state.clone(),
                        version,
                        options,
                    },
                );
                self.report(file, Some(&state), action, None, cpus)
            }
            Err(e) => {
                self.failed(file, version, &e);
                self.report(file, Some(&options.name), FileAction::Failed, Some(e), cpus)
            }
        }
    }
}
