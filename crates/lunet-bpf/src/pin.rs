//! Pinning objects in the BPF filesystem (`BPF_OBJ_PIN` / `BPF_OBJ_GET`, Linux 4.4).
//!
//! Pins live until their file is removed (`std::fs::remove_file`, see [`unpin`]). A pinned
//! link keeps its program attached after the loader exits. Note: `ip netns exec` remounts
//! `/sys`, so inside it `/sys/fs/bpf` is not bpffs; enter namespaces with `setns(2)` instead.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use crate::sys::{self, Cmd, ObjAttr};

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
