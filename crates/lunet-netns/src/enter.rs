//! Moving a thread into a network namespace with `setns(2)`.
//!
//! A network namespace is per thread: [`enter`] changes only the calling thread, and everything
//! that thread creates afterwards (sockets, netlink sockets, child processes) belongs to the
//! namespace. The mount namespace is left alone, so bpffs and `/proc` keep working; note that
//! `/sys/class/net` still shows the namespace `/sys` was mounted from.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

/// The file for `ns`: itself when absolute, otherwise `/run/netns/<ns>` (where `ip netns add`
/// puts named namespaces).
pub fn ns_path(ns: &str) -> PathBuf {
    if ns.starts_with('/') {
        PathBuf::from(ns)
    } else {
        Path::new("/run/netns").join(ns)
    }
}

fn check_name(ns: &str) -> io::Result<()> {
    let bad =
        ns.is_empty() || (!ns.starts_with('/') && (ns.contains('/') || ns == "." || ns == ".."));
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{ns}` is neither a namespace name under /run/netns nor an absolute path"),
        ));
    }
    Ok(())
}

/// Moves the **calling thread** into the network namespace `ns` (a name under `/run/netns` or
/// an absolute path such as `/proc/<pid>/ns/net`). Other threads are not affected. Needs
/// `CAP_SYS_ADMIN`.
pub fn enter(ns: &str) -> io::Result<()> {
    check_name(ns)?;
    let path = ns_path(ns);
    let file = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?;
    // SAFETY: `file` is an open descriptor that outlives the call; setns only reads it and
    // changes the calling thread's namespace, which touches no Rust-visible memory.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("setns({}, CLONE_NEWNET): {e}", path.display()),
        ));
    }
    Ok(())
}

/// Identity `(device, inode)` of the calling thread's network namespace; two threads are in
/// the same namespace exactly when these are equal.
pub fn current_netns_id() -> io::Result<(u64, u64)> {
    let md = std::fs::metadata("/proc/thread-self/ns/net")?;
    Ok((md.dev(), md.ino()))
}

/// Starts a thread that enters `ns` and then runs `f`. Returns once the thread is inside the
/// namespace, or with the error that kept it out (then `f` never runs).
pub fn spawn_in_netns<T, F>(ns: &str, f: F) -> io::Result<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    check_name(ns)?;
    let owned = ns.to_owned();
    let (tx, rx) = mpsc::sync_channel::<io::Result<()>>(1);
    let handle = thread::Builder::new()
        .name(format!("netns {ns}"))
        .spawn(move || {
            if let Err(e) = enter(&owned) {
                let _ = tx.send(Err(e));
                // Ends the thread without a value and without running the panic hook (no
                // message); the spawner joins it and reports the error instead.
                std::panic::resume_unwind(Box::new("could not enter the network namespace"));
            }
            let _ = tx.send(Ok(()));
            f()
        })?;
    match rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(io::Error::other("namespace thread ended before reporting"))
        }
    }
}

/// Runs `f` on a fresh thread inside `ns` and returns its result. A panic in `f` is resumed on
/// the calling thread (so `assert!`s inside behave as usual in tests).
pub fn in_netns<T, F>(ns: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let handle = spawn_in_netns(ns, f)?;
    match handle.join() {
        Ok(v) => Ok(v),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(ns_path("a"), PathBuf::from("/run/netns/a"));
        assert_eq!(ns_path("/proc/1/ns/net"), PathBuf::from("/proc/1/ns/net"));
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("..").is_err());
    }

    #[test]
    fn missing_namespace_is_an_error_not_a_panic() {
        let e = in_netns("lunet-no-such-ns-xyz", || 1).unwrap_err();
        assert!(
            e.to_string().contains("/run/netns/lunet-no-such-ns-xyz"),
            "{e}"
        );
    }
}
