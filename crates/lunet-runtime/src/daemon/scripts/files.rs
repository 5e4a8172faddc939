//! Reading the scripts directory with the care of the pin root: its files are code the daemon
//! runs as root. The directory is opened by [`Dir::open_to_read`] (every directory from `/`
//! root's and writable by root only, or sticky; links on the way followed only when root owns
//! them; the directory itself writable by root only, unless it is on a read-only mount, as a
//! Kubernetes ConfigMap volume, mode 0777, is); each script is read through its directory's fd, and a link is followed only when
//! root owns it (Kubernetes mounts a ConfigMap as root's links into a `..data` directory);
//! the file at the end must be a regular file of root's that only root can write, at most
//! [`lunet_lua::MAX_SOURCE`] bytes. Every directory under it (for the modules scripts
//! `require`) is checked the same way, and every file in them.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use lunet_bpf::safe_fs::{Dir, FsError};

/// Links followed for one file at most (the kernel's own limit).
const MAX_LINKS: usize = 40;
/// How deep module directories are checked.
const MAX_DEPTH: usize = 8;
/// Entries looked at under the directory at most: a directory of more is refused whole.
const MAX_ENTRIES: usize = 4096;

/// What the directory holds now.
pub struct Listing {
    /// The scripts (`*.lua` at the top, not hidden), by file name: the bytes, or why not.
    pub scripts: Vec<(String, Result<Vec<u8>, String>)>,
}

/// Why the directory cannot be used at all; the sync changes nothing then.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("{}: more than {MAX_ENTRIES} entries", .0.display())]
    TooMany(PathBuf),
}

/// Whether a name is one of the directory's scripts: `*.lua`, not hidden (editors' and
/// Kubernetes' `..data` names start with a dot).
fn is_script(name: &OsStr) -> bool {
    let n = name.to_string_lossy();
    !n.starts_with('.') && n.ends_with(".lua") && n.len() > 4
}

/// The scripts in `dir`; `Ok(None)` when it does not exist.
pub fn list(dir: &Path) -> Result<Option<Listing>, DirError> {
    let Some(d) = Dir::open_to_read(dir)? else {
        return Ok(None);
    };
    let mut seen = 0;
    let mut names = d.names()?;
    names.sort();
    let mut scripts = Vec::new();
    for name in names {
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        seen += 1;
        if seen > MAX_ENTRIES {
            return Err(DirError::TooMany(dir.to_path_buf()));
        }
        let Some(meta) = d.meta(&name)? else {
            continue;
        };
        if meta.is_dir() {
            check_modules(&d, &name, 0, &mut seen)?;
            continue;
        }
        if is_script(&name) {
            let read = read(&d, &name).map_err(|e| e.to_string());
            scripts.push((name.to_string_lossy().into_owned(), read));
        }
    }
    Ok(Some(Listing { scripts }))
}

/// Checks the module directory `name` in `parent` and everything in it.
fn check_modules(
    parent: &Dir,
    name: &OsStr,
    depth: usize,
    seen: &mut usize,
) -> Result<(), DirError> {
    let path = parent.path().join(name);
    if depth >= MAX_DEPTH {
        return Err(FsError::BadPath {
            path,
            why: "is nested too deep for a scripts directory",
        }
        .into());
    }
    let Some(d) = parent.sub(name, None)? else {
        return Ok(());
    };
    for n in d.names()? {
        *seen += 1;
        if *seen > MAX_ENTRIES {
            return Err(DirError::TooMany(path));
        }
        match d.meta(&n)? {
            Some(m) if m.is_dir() => check_modules(&d, &n, depth + 1, seen)?,
            Some(_) => {
                read(&d, &n)?;
            }
            None => {}
        }
    }
    Ok(())
}

/// The bytes of the file `name` in `dir`, following links root owns.
pub fn read(dir: &Dir, name: &OsStr) -> Result<Vec<u8>, FsError> {
    let mut path = dir.path().join(name);
    for _ in 0..=MAX_LINKS {
        let (parent, last): (Dir, OsString) = Dir::parent_of_to_read(&path)?;
        let here = parent.path().join(&last);
        let Some(meta) = parent.meta(&last)? else {
            return Err(FsError::Io {
                path: here,
                source: std::io::ErrorKind::NotFound.into(),
            });
        };
        if meta.uid != 0 {
            return Err(FsError::Owner {
                path: here,
                uid: meta.uid,
                want: 0,
            });
        }
        if meta.is_link() {
            let target = parent.read_link(&last)?;
            path = parent.path().join(target);
            continue;
        }
        if !meta.is_file() {
            return Err(FsError::NotFile(here));
        }
        if meta.permissions() & 0o022 != 0 {
            return Err(FsError::Writable {
                path: here,
                mode: meta.permissions(),
            });
        }
        return parent
            .read_file(&last, lunet_lua::MAX_SOURCE as usize)?
            .ok_or_else(|| FsError::Io {
                path: here,
                source: std::io::ErrorKind::NotFound.into(),
            });
    }
    Err(FsError::BadPath {
        path,
        why: "has too many symbolic links",
    })
}
