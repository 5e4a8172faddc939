//! Files and directories that no other user of the host can turn against root.
//!
//! lunet runs as root in directories other users can reach: the pin root sits in
//! `/sys/fs/bpf` (mode 1777), a socket may be asked for under `/tmp`. A path is a string in
//! which a user may have planted a symbolic link; a [`Dir`] is an open directory whose every
//! ancestor was checked, and everything under it is reached with `openat`, `mkdirat`,
//! `unlinkat` and `renameat` relative to its fd: never through a link, never outside it.
//!
//! The rules, checked by [`Dir::open`], [`Dir::create`] and [`Dir::parent_of`]:
//! * every directory on the way from `/` is owned by root (or by this process's user) and
//!   writable by nobody else, unless it is sticky (`/tmp`, `/sys/fs/bpf`), where nobody else
//!   can rename or remove what root made in it;
//! * a symbolic link on the way is followed only when root (or this user) owns it, and its
//!   target is walked under the same rules;
//! * the directory itself is no link, owned by root (or this user) and writable by its owner
//!   only.
//!
//! What the checks looked at stays as it was: only root can change it afterwards.

mod calls;
mod lock;

use std::collections::VecDeque;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use lock::{Lock, LockError};

/// Symbolic links followed on one walk at most (the kernel's own limit).
const MAX_LINKS: usize = 40;
/// How deep [`Dir::remove`] goes into nested directories.
const MAX_DEPTH: usize = 16;

/// Why a directory or file was not used.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} is a symbolic link; lunet does not follow links here", .0.display())]
    Link(PathBuf),
    #[error("{} is not a directory", .0.display())]
    NotDir(PathBuf),
    #[error("{} is not a regular file", .0.display())]
    NotFile(PathBuf),
    #[error(
        "{} is owned by uid {uid}, not by uid {want}: lunet does not use what another user \
         made (remove it, or choose another path)",
        path.display()
    )]
    Owner { path: PathBuf, uid: u32, want: u32 },
    #[error(
        "{} is writable by other users (mode {mode:04o}): lunet needs it writable by its \
         owner only",
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error("{}: {why}", path.display())]
    BadPath { path: PathBuf, why: &'static str },
    #[error("{} is larger than {max} bytes", path.display())]
    TooBig { path: PathBuf, max: usize },
}

impl From<FsError> for io::Error {
    fn from(e: FsError) -> io::Error {
        let kind = match &e {
            FsError::Io { source, .. } => source.kind(),
            FsError::Link(_) | FsError::Owner { .. } | FsError::Writable { .. } => {
                io::ErrorKind::PermissionDenied
            }
            FsError::NotDir(_) => io::ErrorKind::NotADirectory,
            FsError::NotFile(_) | FsError::BadPath { .. } | FsError::TooBig { .. } => {
                io::ErrorKind::InvalidInput
            }
        };
        io::Error::new(kind, e)
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a directory entry is, from `fstatat` (links not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub uid: u32,
    /// `st_mode`: the type bits and the permissions.
    pub mode: u32,
    /// Which file it is: `(st_dev, st_ino)`.
    pub id: (u64, u64),
}

impl Meta {
    fn of(st: &libc::stat) -> Meta {
        Meta {
            uid: st.st_uid,
            mode: st.st_mode,
            #[allow(clippy::useless_conversion)]
            id: (u64::from(st.st_dev), u64::from(st.st_ino)),
        }
    }
    fn is(&self, kind: libc::mode_t) -> bool {
        self.mode & libc::S_IFMT == kind
    }
    pub fn is_dir(&self) -> bool {
        self.is(libc::S_IFDIR)
    }
    pub fn is_link(&self) -> bool {
        self.is(libc::S_IFLNK)
    }
    pub fn is_socket(&self) -> bool {
        self.is(libc::S_IFSOCK)
    }
    pub fn is_file(&self) -> bool {
        self.is(libc::S_IFREG)
    }
    /// The permission bits (`0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// Root, or the user this process runs as: the owners lunet trusts.
fn trusted(uid: u32) -> bool {
    uid == 0 || uid == calls::euid()
}

/// How strictly a directory is checked: on the way to it, or as the one lunet works in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ancestor,
    Own,
}

fn check_dir(meta: Meta, path: &Path, level: Level) -> Result<(), FsError> {
    if !meta.is_dir() {
        return Err(FsError::NotDir(path.to_path_buf()));
    }
    if !trusted(meta.uid) {
        return Err(FsError::Owner {
            path: path.to_path_buf(),
            uid: meta.uid,
            want: calls::euid(),
        });
    }
    let others_write = meta.mode & 0o022 != 0;
    let sticky = meta.mode & libc::S_ISVTX != 0;
    if others_write && (level == Level::Own || !sticky) {
        return Err(FsError::Writable {
            path: path.to_path_buf(),
            mode: meta.permissions(),
        });
    }
    Ok(())
}

/// A name for an entry of a directory: one component, not `.` or `..`.
fn entry_name(dir: &Path, name: &OsStr) -> Result<CString, FsError> {
    let b = std::os::unix::ffi::OsStrExt::as_bytes(name);
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(FsError::BadPath {
            path: dir.join(name),
            why: "is not a plain name in its directory",
        });
    }
    calls::cstring(name).map_err(io_at(&dir.join(name)))
}

/// An open directory, checked as the module says; its entries are reached through its fd.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// The directory at the absolute `path`; `None` when it does not exist.
    pub fn open(path: &Path) -> Result<Option<Dir>, FsError> {
        let (parent, name) = Dir::parent_of(path)?;
        parent.sub(&name, None)
    }

    /// The directory at the absolute `path`, made with `mode` (and this process's owner)
    /// when it does not exist. Only the last component is made.
    pub fn create(path: &Path, mode: u32) -> Result<Dir, FsError> {
        let (parent, name) = Dir::parent_of(path)?;
        parent.sub(&name, Some(mode))?.ok_or_else(|| FsError::Io {
            path: path.to_path_buf(),
            source: io::ErrorKind::NotFound.into(),
        })
    }

    /// The directory that holds `path`'s last component, checked as one on the way (a
    /// sticky directory shared with other users is fine), and that component.
    pub fn parent_of(path: &Path) -> Result<(Dir, OsString), FsError> {
        Dir::walk(path, false)
    }

    /// [`Dir::parent_of`] for reading only: a directory on the way that others could write
    /// is also taken when it is on a read-only mount (see [`Dir::open_to_read`]).
    pub fn parent_of_to_read(path: &Path) -> Result<(Dir, OsString), FsError> {
        Dir::walk(path, true)
    }

    fn walk(path: &Path, read_only_ok: bool) -> Result<(Dir, OsString), FsError> {
        let bad = |why| FsError::BadPath {
            path: path.to_path_buf(),
            why,
        };
        if !path.is_absolute() {
            return Err(bad("is not an absolute path"));
        }
        let mut todo: VecDeque<OsString> = VecDeque::new();
        for c in path.components() {
            match c {
                Component::Normal(n) => todo.push_back(n.to_os_string()),
                Component::ParentDir => todo.push_back("..".into()),
                _ => {}
            }
        }
        let last = match todo.pop_back() {
            Some(l) if l != ".." => l,
            _ => return Err(bad("does not end in a name")),
        };
        let root = PathBuf::from("/");
        let fd = calls::open_root().map_err(io_at(&root))?;
        let meta = Meta::of(&calls::fstat(fd.as_fd()).map_err(io_at(&root))?);
        check_dir(meta, &root, Level::Ancestor)?;
        let mut stack = vec![Dir { fd, path: root }];
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let top = stack.last().expect("the stack keeps `/`");
            let here = top.path.join(&c);
            let name = calls::cstring(&c).map_err(io_at(&here))?;
            let meta = Meta::of(&calls::lstatat(top.fd.as_fd(), &name).map_err(io_at(&here))?);
            if meta.is_link() {
                if !trusted(meta.uid) {
                    return Err(FsError::Owner {
                        path: here,
                        uid: meta.uid,
                        want: calls::euid(),
                    });
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(bad("has too many symbolic links"));
                }
                let target = calls::readlinkat(top.fd.as_fd(), &name).map_err(io_at(&here))?;
                let target = Path::new(&target);
                if target.is_absolute() {
                    stack.truncate(1);
                }
                for t in target.components().rev() {
                    match t {
                        Component::Normal(n) => todo.push_front(n.to_os_string()),
                        Component::ParentDir => todo.push_front("..".into()),
                        _ => {}
                    }
                }
                continue;
            }
            let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            let fd = calls::openat(top.fd.as_fd(), &name, flags, 0).map_err(io_at(&here))?;
            let meta = Meta::of(&calls::fstat(fd.as_fd()).map_err(io_at(&here))?);
            match check_dir(meta, &here, Level::Ancestor) {
                Err(FsError::Writable { .. })
                    if read_only_ok
                        && calls::on_read_only_mount(fd.as_fd()).map_err(io_at(&here))? => {}
                other => other?,
            }
            stack.push(Dir { fd, path: here });
        }
        let parent = stack.pop().expect("the stack keeps `/`");
        Ok((parent, last))
    }

    /// Where this directory is (as it was reached: links on the way resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory `name` in this one, made with `mode` when `create` is given and it does
    /// not exist; `None` when it does not exist. It must be no link, owned by root (or this
    /// user) and writable by its owner only.
    pub fn sub(&self, name: &OsStr, create: Option<u32>) -> Result<Option<Dir>, FsError> {
        let c = entry_name(&self.path, name)?;
        let path = self.path.join(name);
        if let Some(mode) = create {
            match calls::mkdirat(self.fd.as_fd(), &c, mode) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_at(&path)(e)),
            }
        }
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let fd = match calls::openat(self.fd.as_fd(), &c, flags, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                return Err(match self.meta(name)? {
                    Some(m) if m.is_link() => FsError::Link(path),
                    _ => FsError::NotDir(path),
                });
            }
            Err(e) => return Err(io_at(&path)(e)),
        };
        let meta = Meta::of(&calls::fstat(fd.as_fd()).map_err(io_at(&path))?);
        check_dir(meta, &path, Level::Own)?;
        Ok(Some(Dir { fd, path }))
    }

    /// The directory at the absolute `path` to read from, as [`Dir::open`] but also when
    /// it (or a directory on the way) is one others could write if it is on a read-only
    /// mount: a Kubernetes ConfigMap volume is mode 0777 (under the kubelet's directory,
    /// which only root can reach on the host), mounted read-only in the container. No user
    /// can make a mount in the daemon's mount namespace: a read-only mount there is root's
    /// word (the kubelet's, the container runtime's) that nobody writes it.
    pub fn open_to_read(path: &Path) -> Result<Option<Dir>, FsError> {
        let (parent, name) = Dir::parent_of_to_read(path)?;
        match parent.sub(&name, None) {
            Err(FsError::Writable { path, mode }) => {
                let c = entry_name(&parent.path, &name)?;
                let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
                let fd = calls::openat(parent.fd.as_fd(), &c, flags, 0).map_err(io_at(&path))?;
                let meta = Meta::of(&calls::fstat(fd.as_fd()).map_err(io_at(&path))?);
                let read_only = calls::on_read_only_mount(fd.as_fd()).map_err(io_at(&path))?;
                // Still a directory of root's (the walk and `sub` checked the rest).
                if !read_only || !meta.is_dir() || !trusted(meta.uid) {
                    return Err(FsError::Writable { path, mode });
                }
                Ok(Some(Dir { fd, path }))
            }
            other => other,
        }
    }

    /// Sets this directory's permissions (it is ours: [`Dir::sub`] checked; not for one from
    /// [`Dir::parent_of`]).
    pub fn restrict(&self, mode: u32) -> Result<(), FsError> {
        calls::fchmod(self.fd.as_fd(), mode).map_err(io_at(&self.path))
    }

    /// What `name` is (a link is not followed); `None` when it does not exist.
    pub fn meta(&self, name: &OsStr) -> Result<Option<Meta>, FsError> {
        let c = entry_name(&self.path, name)?;
        match calls::lstatat(self.fd.as_fd(), &c) {
            Ok(st) => Ok(Some(Meta::of(&st))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at(&self.path.join(name))(e)),
        }
    }

    /// Where the symbolic link `name` points (the link is read, not followed).
    pub fn read_link(&self, name: &OsStr) -> Result<PathBuf, FsError> {
        let c = entry_name(&self.path, name)?;
        calls::readlinkat(self.fd.as_fd(), &c)
            .map(PathBuf::from)
            .map_err(io_at(&self.path.join(name)))
    }

    /// What this directory is now.
    pub fn own_meta(&self) -> Result<Meta, FsError> {
        calls::fstat(self.fd.as_fd())
            .map(|st| Meta::of(&st))
            .map_err(io_at(&self.path))
    }

    /// Takes an exclusive `flock` on this directory itself, held until this `Dir` (and every
    /// clone of it) is dropped: `false` when another open directory holds it.
    pub fn try_lock(&self) -> Result<bool, FsError> {
        calls::try_lock(self.fd.as_fd()).map_err(io_at(&self.path))
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> Result<Vec<OsString>, FsError> {
        calls::read_dir(self.fd.as_fd()).map_err(io_at(&self.path))
    }

    /// Removes `name` from this directory, whatever it is: a file or a link (the link
    /// itself, never what it points to), or a directory with everything in it, each entry
    /// through its directory's fd. Fine when `name` does not exist.
    pub fn remove(&self, name: &OsStr) -> Result<(), FsError> {
        let c = entry_name(&self.path, name)?;
        remove_in(self.fd.as_fd(), &self.path.join(name), &c, 0)
    }

    /// Removes the directory `name` when it is empty: `false` when it is not (or is gone).
    pub fn remove_empty_dir(&self, name: &OsStr) -> Result<bool, FsError> {
        let c = entry_name(&self.path, name)?;
        match calls::unlinkat(self.fd.as_fd(), &c, libc::AT_REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTEMPTY | libc::EEXIST | libc::ENOENT | libc::EBUSY)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(io_at(&self.path.join(name))(e)),
        }
    }

    /// Replaces the file `name` with `bytes` at once: a new file (mode `mode`, made with
    /// `O_EXCL | O_NOFOLLOW` under a name of its own) written and synced, then renamed over
    /// `name` (a link there is replaced, not followed), and the directory synced.
    pub fn write_atomic(&self, name: &OsStr, bytes: &[u8], mode: u32) -> Result<(), FsError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let target = entry_name(&self.path, name)?;
        let tmp_name = OsString::from(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = entry_name(&self.path, &tmp_name)?;
        let tmp_path = self.path.join(&tmp_name);
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let fd = calls::openat(self.fd.as_fd(), &tmp, flags, mode).map_err(io_at(&tmp_path))?;
        let mut file = File::from(fd);
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| calls::renameat(self.fd.as_fd(), &tmp, &target));
        if let Err(e) = written {
            let _ = calls::unlinkat(self.fd.as_fd(), &tmp, 0);
            return Err(io_at(&self.path.join(name))(e));
        }
        // `self.fd` may be an `O_PATH` one (from [`Dir::parent_of`]), which cannot be synced.
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        calls::openat(self.fd.as_fd(), c".", flags, 0)
            .and_then(|d| calls::fsync(d.as_fd()))
            .map_err(io_at(&self.path))
    }

    /// The contents of the regular file `name`, refused when it is a link, not a regular
    /// file, owned by another user, or over `max` bytes; `None` when it does not exist.
    pub fn read_file(&self, name: &OsStr, max: usize) -> Result<Option<Vec<u8>>, FsError> {
        let c = entry_name(&self.path, name)?;
        let path = self.path.join(name);
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let fd = match calls::openat(self.fd.as_fd(), &c, flags, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(FsError::Link(path)),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let meta = Meta::of(&calls::fstat(fd.as_fd()).map_err(io_at(&path))?);
        if !meta.is_file() {
            return Err(FsError::NotFile(path));
        }
        if !trusted(meta.uid) {
            return Err(FsError::Owner {
                path,
                uid: meta.uid,
                want: calls::euid(),
            });
        }
        let mut bytes = Vec::new();
        File::from(fd)
            .take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_at(&path))?;
        if bytes.len() > max {
            return Err(FsError::TooBig { path, max });
        }
        Ok(Some(bytes))
    }

    /// Removes the file (or link) `name`; fine when it does not exist.
    pub fn remove_file(&self, name: &OsStr) -> Result<(), FsError> {
        let c = entry_name(&self.path, name)?;
        match calls::unlinkat(self.fd.as_fd(), &c, 0) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_at(&self.path.join(name))(e)),
        }
    }

    /// Another handle on the same directory.
    pub fn try_clone(&self) -> Result<Dir, FsError> {
        Ok(Dir {
            fd: self.fd.try_clone().map_err(io_at(&self.path))?,
            path: self.path.clone(),
        })
    }
}

fn remove_in(
    dir: std::os::fd::BorrowedFd<'_>,
    path: &Path,
    name: &std::ffi::CStr,
    depth: usize,
) -> Result<(), FsError> {
    match calls::unlinkat(dir, name, 0) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {}
        Err(e) => return Err(io_at(path)(e)),
    }
    if depth >= MAX_DEPTH {
        return Err(FsError::BadPath {
            path: path.to_path_buf(),
            why: "is nested too deep to remove",
        });
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    let sub = calls::openat(dir, name, flags, 0).map_err(io_at(path))?;
    for n in calls::read_dir(sub.as_fd()).map_err(io_at(path))? {
        let c = calls::cstring(&n).map_err(io_at(&path.join(&n)))?;
        remove_in(sub.as_fd(), &path.join(&n), &c, depth + 1)?;
    }
    match calls::unlinkat(dir, name, libc::AT_REMOVEDIR) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// Runs `f` on a thread of its own whose umask is `mask`: the thread unshares its
/// filesystem attributes first, so no other thread of the process is affected (a socket
/// bound there is created with `0o777 & !mask` from the start).
pub fn with_umask<T: Send>(mask: u32, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        let t = s.spawn(move || {
            calls::private_umask(mask)?;
            Ok(f())
        });
        match t.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
