//! Why a map operation failed: the kernel's rules (full, out of range, arrays keep their
//! entries), a failed `bpf(2)` call with its errno, or a pin that cannot be made or opened.
//! Every message names the map, as a script author and `lunet map` show it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use lunet_types::LayoutError;

/// A failed map operation, from Lua (`m[k] = v`), from the shell (`lunet map`) or when the
/// state pins its maps.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// An array map has no such index.
    #[error("map '{map}': index out of range (entries = {entries})")]
    IndexOutOfRange { map: String, entries: u32 },
    /// A hash map holds `entries` keys already (the kernel's `E2BIG`).
    #[error("map '{map}' is full ({entries} entries)")]
    Full { map: String, entries: u32 },
    /// Arrays hold every index from the start.
    #[error("map '{map}': entries of an array map cannot be deleted (set them to 0)")]
    ArrayDelete { map: String },
    /// A `bpf(2)` call on the kernel map failed.
    #[error("map '{map}': {op} failed: {source}")]
    Kernel {
        map: String,
        op: KernelOp,
        #[source]
        source: io::Error,
    },
    /// The map pinned at `path` has other key or value sizes than the declaration.
    #[error("map '{map}' at {} does not have the declared layout", path.display())]
    NotTheDeclaredLayout { map: String, path: PathBuf },
    /// A value read from the kernel does not fit the declared layout.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The BPF filesystem is not mounted and cannot be.
    #[error("bpffs is not available: {0}")]
    NoBpffs(#[source] io::Error),
    /// The state's pin directory cannot be made.
    #[error("cannot create {}: {source}", dir.display())]
    PinDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The `bpf(2)` operation a [`MapError::Kernel`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelOp {
    Create,
    Open(PathBuf),
    Info,
    Pin(PathBuf),
    Lookup,
    Sizing,
    Update,
    Delete,
    Keys,
}

impl fmt::Display for KernelOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelOp::Create => f.write_str("creating the kernel map"),
            KernelOp::Open(path) => write!(f, "opening {}", path.display()),
            KernelOp::Info => f.write_str("reading its info"),
            KernelOp::Pin(path) => write!(f, "pinning at {}", path.display()),
            KernelOp::Lookup => f.write_str("lookup"),
            KernelOp::Sizing => f.write_str("sizing"),
            KernelOp::Update => f.write_str("update"),
            KernelOp::Delete => f.write_str("delete"),
            KernelOp::Keys => f.write_str("listing keys"),
        }
    }
}

/// Why a Lua value cannot be a map key or value of a layout.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// Only integers and strings are fields.
    #[error("a {0} cannot be a map key or value field")]
    NotAField(&'static str),
    /// Reading the fields of a table failed.
    #[error(transparent)]
    Lua(#[from] mlua::Error),
    /// The fields do not fit the layout.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_map_and_keep_the_errno() {
        let e = MapError::Kernel {
            map: "counts".into(),
            op: KernelOp::Pin("/sys/fs/bpf/x/counts".into()),
            source: io::Error::from_raw_os_error(libc::EEXIST),
        };
        assert!(
            e.to_string()
                .starts_with("map 'counts': pinning at /sys/fs/bpf/x/counts failed: "),
            "{e}"
        );
        let source = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        assert_eq!(source, Some(libc::EEXIST));
        let full = MapError::Full {
            map: "m".into(),
            entries: 4,
        };
        assert_eq!(full.to_string(), "map 'm' is full (4 entries)");
    }
}
