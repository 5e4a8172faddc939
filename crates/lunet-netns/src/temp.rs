//! [`TempNetns`]: a uniquely named network namespace that is deleted on drop.

use crate::cmd::run;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

static COUNTER: AtomicU32 = AtomicU32::new(0);
static ADD_LOCK: Mutex<()> = Mutex::new(());

/// How many names [`TempNetns::create`] tries when a name is taken (say by a namespace a
/// killed earlier run with the same pid left behind).
const NAME_TRIES: u32 = 64;

/// A network namespace made with `ip netns add`, with `lo` up, deleted (`ip netns del`) on drop.
///
/// The name is `<prefix><pid>-<n>`; with a prefix of 3 characters or less it stays within 15
/// characters, short enough to read in `ip netns list`. Deleting a namespace removes its
/// interfaces, routes and iptables/nft rules; the kernel frees it once no socket or thread
/// holds it any more.
#[derive(Debug)]
pub struct TempNetns {
    name: String,
    path: PathBuf,
}

impl TempNetns {
    /// Creates the namespace. `prefix` may hold ASCII letters, digits, `-` and `_`.
    pub fn create(prefix: &str) -> io::Result<Self> {
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "namespace prefix `{prefix}` must be non-empty ASCII letters, digits, - or _"
                ),
            ));
        }
        let pid = std::process::id();
        let mut last_err = None;
        for _ in 0..NAME_TRIES {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}{pid}-{n}");
            if Path::new("/run/netns").join(&name).exists() {
                continue;
            }
            match add(&name) {
                Ok(()) => {
                    let ns = TempNetns {
                        path: Path::new("/run/netns").join(&name),
                        name,
                    };
                    // From here on, Drop deletes the namespace if bringing `lo` up fails.
                    run("ip", &["-n", &ns.name, "link", "set", "dev", "lo", "up"])?;
                    return Ok(ns);
                }
                Err(e) if e.to_string().contains("File exists") => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no free namespace name")))
    }

    /// The name, as `ip netns` and [`crate::enter`] take it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempNetns {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("lunet-netns: could not delete namespace {}: {e}", self.name);
        }
    }
}

/// `ip netns add`, serialised: within this process by a mutex, and between processes by an
/// flock, because the first `ip netns add` on a machine turns /run/netns into a shared mount
/// point and two doing that at once would stack two mounts.
fn add(name: &str) -> io::Result<()> {
    let _guard = ADD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lock_dir = if Path::new("/run/lock").is_dir() {
        "/run/lock"
    } else {
        "/tmp"
    };
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(Path::new(lock_dir).join("lunet-netns.lock"))?;
    // SAFETY: flock on an fd we own for the whole call; the lock is released when `lock` is
    // closed at the end of this function.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io::Error::last_os_error());
    }
    run("ip", &["netns", "add", name]).map(drop)
}
