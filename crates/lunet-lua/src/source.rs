//! Reading a script or module file without letting its path make the daemon read without
//! bound: only regular files, at most [`MAX_SOURCE`] bytes. `lunet run /dev/zero`, a FIFO, or
//! a `require`d module that links to a device is an error naming the file, not a hang or an
//! allocation the memory cap never sees.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The largest script or module lunet reads (4 MiB: far more than any filter, far less than
/// what would hurt the daemon).
pub const MAX_SOURCE: u64 = 4 << 20;

/// Why a script or module file was not read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a regular file (a script is read from a plain file)", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: larger than {MAX_SOURCE} bytes", path.display())]
    TooLarge { path: PathBuf },
}

impl SourceError {
    /// The underlying I/O error, if the file could not be opened or read.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self {
            SourceError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The bytes of the regular file at `path`, if it has at most [`MAX_SOURCE`] of them.
pub fn read_source(path: &Path) -> Result<Vec<u8>, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(SourceError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    read_bounded(file, path)
}

fn read_bounded(file: File, path: &Path) -> Result<Vec<u8>, SourceError> {
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_SOURCE {
        return Err(SourceError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_without_reading() {
        for p in ["/dev/zero", "/dev/null", "/"] {
            let e = read_source(Path::new(p)).unwrap_err();
            assert!(matches!(e, SourceError::NotAFile { .. }), "{p}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_source(&fifo).unwrap_err();
        assert!(matches!(e, SourceError::NotAFile { .. }), "{e}");
    }

    #[test]
    fn a_link_to_a_device_is_judged_by_what_it_reaches() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("evil.lua");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            read_source(&link).unwrap_err(),
            SourceError::NotAFile { .. }
        ));
    }

    #[test]
    fn files_past_the_limit_are_refused_and_small_ones_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.lua");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_SOURCE + 1).unwrap();
        let e = read_source(&big).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let small = dir.path().join("ok.lua");
        std::fs::write(&small, "return 1").unwrap();
        assert_eq!(read_source(&small).unwrap(), b"return 1");
        assert!(read_source(&dir.path().join("missing.lua"))
            .unwrap_err()
            .io()
            .is_some());
    }
}
