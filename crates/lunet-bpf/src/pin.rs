//! Pinning objects in the BPF filesystem (`BPF_OBJ_PIN` / `BPF_OBJ_GET`, Linux 4.4).
//!
//! Pins live until their file is removed (`std::fs::remove_file`, see [`unpin`]). A pinned
//! link keeps its program attached after the loader exits. Note: `ip netns exec` remounts
//! `/sys`, so inside it `/sys/fs/bpf` is not bpffs; enter namespaces with `setns(2)` instead.
//!
//! lunet pins a state's objects under `<pin root>/<state>/`. `/sys/fs/bpf` is writable by
//! every user (mode 1777), so the root and the states' directories are made, checked and
//! removed with [`crate::safe_fs`]: the root is lunet's own (no link, owned by root, mode
//! 0700), checked on every use, and everything under it is removed through directory fds,
//! never following a link. A daemon holds its root for its life ([`PinRoot`]).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::safe_fs::{Dir, FsError};
use crate::sys::{self, Cmd, ObjAttr};

/// A daemon's marker in its pin root is `daemon@<pid>` (no state name has a `@`, and bpffs
/// takes no `.` in a name).
pub const MARKER_PREFIX: &str = "daemon@";
/// The mode of the pin root and of each state's directory.
const DIR_MODE: u32 = 0o700;

/// The usual bpffs mount point.
pub const BPFFS: &str = "/sys/fs/bpf";

/// `BPF_FS_MAGIC` from `linux/magic.h`.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Whether `path` is on a BPF filesystem.
pub fn is_bpffs(path: &Path) -> io::Result<bool> {
    Ok(sys::fs_magic(path)? == BPF_FS_MAGIC)
}

/// Makes sure [`BPFFS`] is a mounted BPF filesystem, mounting it (`mount -t bpf bpf
/// /sys/fs/bpf`) if it is not. Needs root (`CAP_SYS_ADMIN`) when it has to mount.
pub fn ensure_bpffs() -> io::Result<()> {
    let p = Path::new(BPFFS);
    if is_bpffs(p)? {
        return Ok(());
    }
    match sys::mount_bpffs(p) {
        Ok(()) => {}
        // Lost a race with another mounter: fine if bpffs is there now.
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
        Err(e) => return Err(e),
    }
    if is_bpffs(p)? {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{BPFFS} is not a BPF filesystem after mounting"
        )))
    }
}

/// Pins the object behind `fd` (a program, map or link) at `path`, which must be inside a
/// BPF filesystem and not exist yet.
pub fn pin(fd: impl AsFd, path: &Path) -> io::Result<()> {
    let c = sys::path_cstring(path)?;
    let mut attr = ObjAttr {
        pathname: sys::ptr_u64(c.as_ptr()),
        bpf_fd: fd.as_fd().as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call.
    unsafe { sys::bpf(Cmd::ObjPin, &mut attr)? };
    Ok(())
}

/// Opens the pinned object at `path` and returns a new fd to it. Wrap it with
/// [`crate::Map::from_fd`], [`crate::ProgFd::from_owned`] or [`crate::LinkFd::from_owned`].
pub fn get(path: &Path) -> io::Result<OwnedFd> {
    let c = sys::path_cstring(path)?;
    let mut attr = ObjAttr {
        pathname: sys::ptr_u64(c.as_ptr()),
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string alive for the call; BPF_OBJ_GET returns a
    // new fd.
    unsafe { sys::bpf_fd(Cmd::ObjGet, &mut attr) }
}

/// Removes a pin. The object itself lives on while fds, links or other pins hold it.
pub fn unpin(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}

/// Why a daemon cannot use a pin root.
#[derive(Debug, thiserror::Error)]
pub enum PinRootError {
    #[error("pin root: {0}")]
    Unsafe(#[from] FsError),
    #[error(
        "pin root {}: another lunet daemon holds it ({}); one daemon per pin root",
        path.display(),
        pid.map_or("pid unknown".to_string(), |p| format!("pid {p}"))
    )]
    Held { path: PathBuf, pid: Option<u32> },
    #[error("pin root {}: {source}", path.display())]
    Bpffs { path: PathBuf, source: io::Error },
}

/// A pin root (made when missing) and its parent, checked: `None` when it does not exist
/// and `create` is false. A root lunet made before with a wider mode is narrowed to 0700.
fn open_root(root: &Path, create: bool) -> Result<Option<(Dir, OsString, Dir)>, FsError> {
    let (parent, name) = Dir::parent_of(root)?;
    let Some(dir) = parent.sub(&name, create.then_some(DIR_MODE))? else {
        return Ok(None);
    };
    if let Some(m) = parent.meta(&name)? {
        if m.permissions() & 0o077 != 0 {
            dir.restrict(DIR_MODE)?;
        }
    }
    Ok(Some((parent, name, dir)))
}

/// `dir` as `<pin root>/<state>`.
fn split_state_dir(dir: &Path) -> Result<(&Path, OsString), FsError> {
    match (dir.parent(), dir.file_name()) {
        (Some(root), Some(state)) => Ok((root, state.to_os_string())),
        _ => Err(FsError::BadPath {
            path: dir.to_path_buf(),
            why: "is not <pin root>/<state>",
        }),
    }
}

/// Makes a state's pin directory `dir` (`<pin root>/<state>`, each 0700, the root only
/// when missing), after checking the root: no link, owned by root, writable by root only.
pub fn make_state_dir(dir: &Path) -> Result<(), FsError> {
    let (root, state) = split_state_dir(dir)?;
    if let Some((_, _, root)) = open_root(root, true)? {
        root.sub(&state, Some(DIR_MODE))?;
    }
    Ok(())
}

/// Removes a state's pin directory `dir` (`<pin root>/<state>`) and every pin in it, each
/// through its directory's fd: a link is removed itself, never followed, and nothing outside
/// the root is touched. A root that is a link or another user's is refused, and nothing is
/// removed. The root goes too when this leaves it empty (a daemon's marker keeps it).
pub fn remove_state_dir(dir: &Path) -> Result<(), FsError> {
    let (root, state) = split_state_dir(dir)?;
    let Some((parent, name, root)) = open_root(root, false)? else {
        return Ok(());
    };
    root.remove(&state)?;
    drop(root);
    parent.remove_empty_dir(&name)?;
    Ok(())
}

/// A daemon's pin root: made (0700) or checked, and held for the daemon's life, so a second
/// daemon on the same root fails naming the first one's PID.
///
/// bpffs holds only directories, links and pins, no regular files: the daemon `flock`s the
/// root directory itself, and keeps a directory `daemon@<pid>` in it, which names the
/// holder and keeps the root from being removed as empty while the daemon runs.
#[derive(Debug)]
pub struct PinRoot {
    path: PathBuf,
    parent: Dir,
    name: OsString,
    /// The root, locked while this is open.
    dir: Dir,
    marker: OsString,
}

/// Tries at taking a root that a stopping daemon removes at the same moment.
const TAKE_TRIES: usize = 8;

impl PinRoot {
    /// Takes the pin root at the absolute `path` (mounting bpffs first when `path` is in
    /// [`BPFFS`]).
    pub fn take(path: &Path) -> Result<PinRoot, PinRootError> {
        if path.starts_with(BPFFS) {
            ensure_bpffs().map_err(|source| PinRootError::Bpffs {
                path: path.to_path_buf(),
                source,
            })?;
        }
        for _ in 0..TAKE_TRIES {
            let (parent, name, dir) = open_root(path, true)?.ok_or_else(|| FsError::Io {
                path: path.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            })?;
            if !dir.try_lock()? {
                return Err(PinRootError::Held {
                    path: path.to_path_buf(),
                    pid: holder(&dir)?,
                });
            }
            // A daemon stopping meanwhile removes the root it held: ours must still be the
            // one at the path.
            let now = parent.meta(&name)?;
            if now.map(|m| m.id) != Some(dir.own_meta()?.id) {
                continue;
            }
            // Markers of daemons that were killed.
            for n in dir.names()? {
                if n.to_string_lossy().starts_with(MARKER_PREFIX) {
                    dir.remove(&n)?;
                }
            }
            let marker = OsString::from(format!("{MARKER_PREFIX}{}", std::process::id()));
            dir.sub(&marker, Some(DIR_MODE))?;
            return Ok(PinRoot {
                path: path.to_path_buf(),
                parent,
                name,
                dir,
                marker,
            });
        }
        Err(FsError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("the pin root kept being replaced"),
        }
        .into())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets the root go: the marker is removed, then the root itself when it is empty, then
    /// the lock.
    pub fn release(self) -> Result<(), FsError> {
        self.dir.remove(&self.marker)?;
        self.parent.remove_empty_dir(&self.name).map(drop)
    }
}

/// The PID in the holder's marker, preferring one that runs.
fn holder(dir: &Dir) -> Result<Option<u32>, FsError> {
    let pids: Vec<u32> = dir
        .names()?
        .iter()
        .filter_map(|n| n.to_str()?.strip_prefix(MARKER_PREFIX)?.parse().ok())
        .collect();
    let running = pids
        .iter()
        .find(|p| Path::new(&format!("/proc/{p}")).exists());
    Ok(running.or(pids.first()).copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::with_fake;

    #[test]
    fn pin_passes_path_and_fd() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let raw = f.as_raw_fd() as u32;
        with_fake(
            move |cmd, attr| {
                assert_eq!(cmd, Cmd::ObjPin);
                let a = attr.downcast_mut::<ObjAttr>().unwrap();
                assert_eq!(a.bpf_fd, raw);
                // SAFETY: `pathname` points to the wrapper's NUL-terminated CString.
                let p =
                    unsafe { std::ffi::CStr::from_ptr(a.pathname as usize as *const libc::c_char) };
                assert_eq!(p.to_str().unwrap(), "/sys/fs/bpf/x");
                Ok(0)
            },
            || pin(&f, Path::new("/sys/fs/bpf/x")),
        )
        .unwrap();
    }
}
