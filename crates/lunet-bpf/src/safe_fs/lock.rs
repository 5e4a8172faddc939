//! An exclusive lock held for a process's life: `flock` on a file in a checked directory,
//! with the holder's PID written in it so a second process can say who holds it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use super::{calls, entry_name, io_at, trusted, Dir, FsError, Meta};

/// Tries at taking a lock whose file another process removes at the same moment.
const TRIES: usize = 8;

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("{} is held by another process ({})", path.display(), holder(*pid))]
    Held { path: PathBuf, pid: Option<u32> },
}

fn holder(pid: Option<u32>) -> String {
    match pid {
        Some(p) => format!("pid {p}"),
        None => "pid unknown".into(),
    }
}

/// A lock taken with [`Dir::lock`]: held until dropped.
#[derive(Debug)]
pub struct Lock {
    /// Holds the lock while it lives.
    _file: File,
    dir: OwnedFd,
    name: OsString,
    path: PathBuf,
}

impl Dir {
    /// Takes the lock file `name` in this directory (made with mode 0600 when missing; a
    /// link or a file another user owns is refused) and writes this process's PID in it.
    /// When another process holds it, the error names that process's PID.
    pub fn lock(&self, name: &OsStr) -> Result<Lock, LockError> {
        let c = entry_name(self.path(), name)?;
        let path = self.path().join(name);
        for _ in 0..TRIES {
            let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK;
            let fd = calls::openat(self.fd.as_fd(), &c, flags, 0o600).map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    FsError::Link(path.clone())
                } else {
                    io_at(&path)(e)
                }
            })?;
            let st = calls::fstat(fd.as_fd()).map_err(io_at(&path))?;
            let meta = Meta::of(&st);
            if !meta.is_file() {
                return Err(FsError::NotFile(path).into());
            }
            if !trusted(meta.uid) {
                return Err(FsError::Owner {
                    path,
                    uid: meta.uid,
                    want: calls::euid(),
                }
                .into());
            }
            let mut file = File::from(fd);
            if !calls::try_lock(file.as_fd()).map_err(io_at(&path))? {
                let mut text = String::new();
                let _ = file.take(32).read_to_string(&mut text);
                return Err(LockError::Held {
                    path,
                    pid: text.trim().parse().ok(),
                });
            }
            // The holder before us may have removed the file between our open and our lock:
            // then ours is a lock on a file nobody else will open; take the new one.
            let now = calls::lstatat(self.fd.as_fd(), &c);
            if !matches!(now, Ok(n) if n.st_dev == st.st_dev && n.st_ino == st.st_ino) {
                continue;
            }
            let pid = format!("{}\n", std::process::id());
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(pid.as_bytes()))
                .map_err(io_at(&path))?;
            let dir = self.fd.try_clone().map_err(io_at(self.path()))?;
            return Ok(Lock {
                _file: file,
                dir,
                name: name.to_os_string(),
                path,
            });
        }
        Err(FsError::Io {
            path,
            source: io::Error::other("the lock file kept being replaced"),
        }
        .into())
    }
}

impl Lock {
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Removes the lock file, still holding the lock (until dropped). A process that opened
    /// the old file meanwhile notices, once it has the lock, that its file is no longer the
    /// one at the name, and takes a new one.
    pub fn unlink(&self) -> Result<(), FsError> {
        let c = calls::cstring(&self.name).map_err(io_at(&self.path))?;
        calls::unlinkat(self.dir.as_fd(), &c, 0).map_err(io_at(&self.path))
    }
}
