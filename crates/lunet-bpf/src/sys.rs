//! The one door to the kernel: `bpf(2)` and the few other libc calls this crate needs.
//!
//! Everything that talks to libc lives here, but for the file calls of [`crate::safe_fs`]. [`bpf`] is the single entry point for the
//! `bpf(2)` system call; unit tests swap it for a fake with [`with_fake`] (the shape of aya's
//! `sys/fake.rs`), so the wrappers in `prog.rs`, `map.rs`, ... can be tested without root.
//!
//! Each command has its own `#[repr(C)]` attribute struct laid out like the matching member
//! of the kernel's `union bpf_attr` (checked against the UAPI offsets by the `const` asserts
//! below). The structs have explicit padding fields and derive `Default`, so a
//! `Default::default()` value is all zero bytes, which is what the kernel requires for every
//! field it does not use.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::CString;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

/// `bpf(2)` commands used by lunet (values from `enum bpf_cmd` in `linux/bpf.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Cmd {
    /// `BPF_MAP_CREATE` (Linux 3.18).
    MapCreate = 0,
    /// `BPF_MAP_LOOKUP_ELEM` (Linux 3.18).
    MapLookupElem = 1,
    /// `BPF_MAP_UPDATE_ELEM` (Linux 3.18).
    MapUpdateElem = 2,
    /// `BPF_MAP_DELETE_ELEM` (Linux 3.18).
    MapDeleteElem = 3,
    /// `BPF_MAP_GET_NEXT_KEY` (Linux 3.18).
    MapGetNextKey = 4,
    /// `BPF_PROG_LOAD` (Linux 3.18).
    ProgLoad = 5,
    /// `BPF_OBJ_PIN` (Linux 4.4).
    ObjPin = 6,
    /// `BPF_OBJ_GET` (Linux 4.4).
    ObjGet = 7,
    /// `BPF_PROG_TEST_RUN`, also called `BPF_PROG_RUN` (Linux 4.12).
    ProgTestRun = 10,
    /// `BPF_PROG_GET_FD_BY_ID` (Linux 4.13).
    ProgGetFdById = 13,
    /// `BPF_OBJ_GET_INFO_BY_FD` (Linux 4.13).
    ObjGetInfoByFd = 15,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (Linux 4.20 for queues and stacks, 5.14 for hashes).
    MapLookupAndDeleteElem = 21,
    /// `BPF_LINK_CREATE` (Linux 5.7; XDP links 5.9; netfilter links 6.4).
    LinkCreate = 28,
    /// `BPF_LINK_UPDATE` (Linux 5.7; XDP links 5.9).
    LinkUpdate = 29,
}

/// Length of the kernel's object names (`BPF_OBJ_NAME_LEN`), including the final NUL.
pub const OBJ_NAME_LEN: usize = 16;

/// Marker for the attribute structs that may be handed to [`bpf`].
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain only integer fields (no implicit padding), and
/// match the layout of a prefix of the kernel's `union bpf_attr` for the commands they are
/// used with.
pub unsafe trait Attr: Any + Default {}

/// `union bpf_attr` for `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; OBJ_NAME_LEN],
    pub map_ifindex: u32,
}
// SAFETY: repr(C), integer fields only, 48 bytes without padding, layout checked below.
unsafe impl Attr for MapCreateAttr {}

/// `union bpf_attr` for `BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM` and `BPF_MAP_GET_NEXT_KEY`
/// (`value` doubles as `next_key`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapElemAttr {
    pub map_fd: u32,
    pub _pad0: u32,
    pub key: u64,
    pub value: u64,
    pub flags: u64,
}
// SAFETY: repr(C), integer fields only, padding explicit, layout checked below.
unsafe impl Attr for MapElemAttr {}

/// `union bpf_attr` for `BPF_PROG_LOAD`, up to `log_true_size` (Linux 6.4; older kernels
/// accept the struct because that field stays zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    pub log_true_size: u32,
}
// SAFETY: repr(C), integer fields only, no implicit padding, layout checked below.
unsafe impl Attr for ProgLoadAttr {}

/// `union bpf_attr` for `BPF_OBJ_PIN` and `BPF_OBJ_GET`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjAttr {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
}
// SAFETY: repr(C), integer fields only, no implicit padding, layout checked below.
unsafe impl Attr for ObjAttr {}

/// `union bpf_attr` for `BPF_PROG_TEST_RUN` (the `test` member).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad0: u32,
}
// SAFETY: repr(C), integer fields only, padding explicit, layout checked below.
unsafe impl Attr for TestRunAttr {}

/// `union bpf_attr` for `BPF_OBJ_GET_INFO_BY_FD` (the `info` member).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}
// SAFETY: repr(C), integer fields only, no implicit padding, layout checked below.
unsafe impl Attr for InfoAttr {}

/// `union bpf_attr` for `BPF_PROG_GET_FD_BY_ID` (`{prog_id, next_id, open_flags}`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetFdByIdAttr {
    pub id: u32,
    pub next_id: u32,
    pub open_flags: u32,
}
// SAFETY: repr(C), integer fields only, no implicit padding, layout checked below.
unsafe impl Attr for GetFdByIdAttr {}

/// `union bpf_attr` for `BPF_LINK_CREATE`. The 16 bytes after `flags` are the
/// per-attach-type union; they are named for the netfilter member
/// (`{pf, hooknum, priority, flags}`) and stay zero for XDP.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCreateAttr {
    pub prog_fd: u32,
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub nf_pf: u32,
    pub nf_hooknum: u32,
    pub nf_priority: i32,
    pub nf_flags: u32,
}
// SAFETY: repr(C), integer fields only, no implicit padding, layout checked below.
unsafe impl Attr for LinkCreateAttr {}

/// `union bpf_attr` for `BPF_LINK_UPDATE`: `{link_fd, new_prog_fd, flags, old_prog_fd}`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkUpdateAttr {
    pub link_fd: u32,
    pub new_prog_fd: u32,
    pub flags: u32,
    pub old_prog_fd: u32,
}
// SAFETY: repr(C), integer fields only, no implicit padding, layout checked below.
unsafe impl Attr for LinkUpdateAttr {}

/// The leading fields of `struct bpf_link_info` (the kernel copies at most `info_len` bytes),
/// up to the XDP member of its per-type union (which starts 8-byte aligned, at 16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad: u32,
    /// `xdp.ifindex` for an XDP link.
    pub xdp_ifindex: u32,
}

/// The leading part of `struct bpf_map_info` (the kernel copies at most `info_len` bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; OBJ_NAME_LEN],
}

// Layout checks against the UAPI offsets (`offsetof(union bpf_attr, ...)` on Linux 6.1 headers).
const _: () = {
    assert!(size_of::<MapCreateAttr>() == 48);
    assert!(offset_of!(MapCreateAttr, map_flags) == 16);
    assert!(offset_of!(MapCreateAttr, map_name) == 28);
    assert!(offset_of!(MapCreateAttr, map_ifindex) == 44);

    assert!(size_of::<MapElemAttr>() == 32);
    assert!(offset_of!(MapElemAttr, key) == 8);
    assert!(offset_of!(MapElemAttr, value) == 16);
    assert!(offset_of!(MapElemAttr, flags) == 24);

    assert!(size_of::<ProgLoadAttr>() == 144);
    assert!(offset_of!(ProgLoadAttr, log_level) == 24);
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, prog_ifindex) == 64);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(offset_of!(ProgLoadAttr, func_info) == 80);
    assert!(offset_of!(ProgLoadAttr, line_info) == 96);
    assert!(offset_of!(ProgLoadAttr, attach_btf_id) == 108);
    assert!(offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(offset_of!(ProgLoadAttr, core_relo_rec_size) == 136);
    assert!(offset_of!(ProgLoadAttr, log_true_size) == 140);

    assert!(size_of::<ObjAttr>() == 16);
    assert!(offset_of!(ObjAttr, bpf_fd) == 8);
    assert!(offset_of!(ObjAttr, file_flags) == 12);

    assert!(size_of::<TestRunAttr>() == 80);
    assert!(offset_of!(TestRunAttr, data_in) == 16);
    assert!(offset_of!(TestRunAttr, repeat) == 32);
    assert!(offset_of!(TestRunAttr, ctx_in) == 48);
    assert!(offset_of!(TestRunAttr, flags) == 64);
    assert!(offset_of!(TestRunAttr, batch_size) == 72);

    assert!(size_of::<InfoAttr>() == 16);
    assert!(offset_of!(InfoAttr, info) == 8);

    assert!(size_of::<GetFdByIdAttr>() == 12);
    assert!(offset_of!(GetFdByIdAttr, open_flags) == 8);

    assert!(size_of::<LinkInfo>() == 20);
    assert!(offset_of!(LinkInfo, prog_id) == 8);
    assert!(offset_of!(LinkInfo, xdp_ifindex) == 16);
    assert!(size_of::<LinkUpdateAttr>() == 16);

    assert!(size_of::<LinkCreateAttr>() == 32);
    assert!(offset_of!(LinkCreateAttr, attach_type) == 8);
    assert!(offset_of!(LinkCreateAttr, nf_pf) == 16);
    assert!(offset_of!(LinkCreateAttr, nf_flags) == 28);

    assert!(size_of::<MapInfo>() == 40);
    assert!(offset_of!(MapInfo, key_size) == 8);
    assert!(offset_of!(MapInfo, name) == 24);
};

/// A replacement for the real system call: gets the command and the attribute struct (downcast
/// it to the `*Attr` type of the command) and returns what `bpf(2)` would.
pub type FakeBpf = Box<dyn FnMut(Cmd, &mut dyn Any) -> io::Result<i64>>;

thread_local! {
    static FAKE: RefCell<Option<FakeBpf>> = const { RefCell::new(None) };
}

/// Runs `body` with [`bpf`] answered by `fake` on this thread, for unit tests that check
/// what the wrappers put into the attribute structs. The previous state is restored even if
/// `body` panics. A fake that returns file descriptors must return real, open ones (for
/// example a duplicate of `/dev/null`): the wrappers take ownership and close them.
pub fn with_fake<R>(
    fake: impl FnMut(Cmd, &mut dyn Any) -> io::Result<i64> + 'static,
    body: impl FnOnce() -> R,
) -> R {
    struct Restore(Option<FakeBpf>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            FAKE.with(|f| *f.borrow_mut() = prev);
        }
    }
    let prev = FAKE.with(|f| f.borrow_mut().replace(Box::new(fake)));
    let _restore = Restore(prev);
    body()
}

/// The `bpf(2)` system call: `bpf(cmd, attr, sizeof(*attr))`.
///
/// # Safety
/// Every pointer stored in `attr` (as a `u64`) must be null or point to memory that is valid
/// for the whole call for the reads and writes the kernel does for `cmd`: for example a
/// `log_buf` of at least `log_size` bytes, a map `value` buffer at least as long as the map's
/// value size, NUL-terminated strings for `license` and `pathname`.
pub unsafe fn bpf<A: Attr>(cmd: Cmd, attr: &mut A) -> io::Result<i64> {
    let faked = FAKE.with(|f| {
        f.borrow_mut()
            .as_mut()
            .map(|fake| fake(cmd, attr as &mut dyn Any))
    });
    if let Some(result) = faked {
        return result;
    }
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` struct of exactly
    // `size_of::<A>()` bytes laid out like a prefix of `union bpf_attr` (the `Attr` contract);
    // the pointers inside it are valid per this function's own safety contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut A as *mut libc::c_void,
            size_of::<A>() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`bpf`] for the commands that return a new file descriptor, which the caller then owns.
///
/// # Safety
/// As for [`bpf`]; and `cmd` must be a command whose non-negative result is a new file
/// descriptor (`BPF_MAP_CREATE`, `BPF_PROG_LOAD`, `BPF_OBJ_GET`, `BPF_LINK_CREATE`).
pub unsafe fn bpf_fd<A: Attr>(cmd: Cmd, attr: &mut A) -> io::Result<OwnedFd> {
    // SAFETY: forwarded from this function's contract.
    let ret = unsafe { bpf(cmd, attr)? };
    let fd = RawFd::try_from(ret)
        .map_err(|_| io::Error::other(format!("bpf({cmd:?}) returned {ret}, not an fd")))?;
    // SAFETY: the kernel (or a fake, whose contract says the same) returned a new file
    // descriptor that nothing else owns; `OwnedFd` takes it over and closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The address of a buffer as the kernel's `__aligned_u64` pointer field.
pub fn ptr_u64<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// `if_nametoindex(3)`.
pub fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a NUL-terminated string alive for the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}

/// The hardware address of interface `ifindex` in the calling thread's network namespace
/// (`SIOCGIFHWADDR` on a datagram socket made in it), as long as its kind's addresses are:
/// 6 bytes for Ethernet and loopback, 4 for IPv4 tunnels, none for `ARPHRD_NONE` devices.
pub fn if_hwaddr(ifindex: u32) -> io::Result<Vec<u8>> {
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    // SAFETY: `ifr_name` has IFNAMSIZ bytes, what if_indextoname writes at most.
    if unsafe { libc::if_indextoname(ifindex, req.ifr_name.as_mut_ptr()) }.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket(2) has no memory preconditions; the fd is owned right below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: SIOCGIFHWADDR reads and writes one `ifreq`, alive for the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled the union's `ifru_hwaddr` member for this request.
    let addr = unsafe { req.ifr_ifru.ifru_hwaddr };
    let len = match addr.sa_family {
        libc::ARPHRD_NONE | libc::ARPHRD_VOID => 0,
        libc::ARPHRD_TUNNEL | libc::ARPHRD_IPGRE | libc::ARPHRD_SIT => 4,
        _ => 6,
    };
    Ok(addr.sa_data[..len].iter().map(|b| *b as u8).collect())
}

/// The `f_type` magic of the filesystem holding `path` (`statfs(2)`).
pub fn fs_magic(path: &Path) -> io::Result<i64> {
    let c = path_cstring(path)?;
    // SAFETY: `statfs` is plain old data; all-zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a valid, writable `struct statfs`.
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64)
}

/// `mount -t bpf bpf <target>`.
pub fn mount_bpffs(target: &Path) -> io::Result<()> {
    let target = path_cstring(target)?;
    let src = c"bpf";
    let fstype = c"bpf";
    // SAFETY: all strings are NUL-terminated and alive for the call; no data argument.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The size of a memory page (`sysconf(_SC_PAGESIZE)`).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|n| *n > 0).unwrap_or(4096)
}

/// `mmap(NULL, len, PROT_READ [| PROT_WRITE], MAP_SHARED, fd, offset)`: a new shared mapping
/// of `len` bytes of the object behind `fd`, from `offset` (a multiple of the page size).
/// The mapping stays valid after `fd` is closed, until [`munmap`].
pub fn mmap_shared(
    fd: BorrowedFd<'_>,
    len: usize,
    offset: usize,
    writable: bool,
) -> io::Result<NonNull<u8>> {
    let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mmap offset too large"))?;
    // SAFETY: a null address lets the kernel place the mapping where nothing is mapped, so no
    // memory of this process changes meaning; `fd` is a live descriptor borrowed for the call.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))
}

/// `munmap(2)` of a mapping made by [`mmap_shared`].
///
/// # Safety
/// `ptr` and `len` must be exactly a mapping [`mmap_shared`] returned, not unmapped yet; no
/// reference into it may be used after this call.
pub unsafe fn munmap(ptr: NonNull<u8>, len: usize) -> io::Result<()> {
    // SAFETY: per this function's contract the range is a live mapping of ours that nothing
    // refers to any more.
    if unsafe { libc::munmap(ptr.as_ptr().cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `poll(2)` for `POLLIN` on `fds`: waits up to `timeout` (forever for `None`) until one of
/// them is readable, and says which are. All false on a timeout or an interrupted wait.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = match timeout {
        None => -1,
        Some(t) => libc::c_int::try_from(t.as_millis()).unwrap_or(libc::c_int::MAX),
    };
    // SAFETY: `pfds` is a writable array of `pfds.len()` pollfd structs alive for the call,
    // each naming a descriptor borrowed for the call.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents & libc::POLLIN != 0).collect())
}

/// A path as a C string (no interior NUL allowed).
pub fn path_cstring(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains a NUL byte: {}", path.display()),
        )
    })
}

/// Copies `name` into a kernel object name: at most 15 bytes, NUL-padded.
pub fn obj_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    let n = name.len().min(OBJ_NAME_LEN - 1);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_attrs_are_zero() {
        assert_eq!(ProgLoadAttr::default().log_true_size, 0);
        assert_eq!(
            TestRunAttr::default(),
            TestRunAttr {
                ..Default::default()
            }
        );
    }

    #[test]
    fn fake_is_used_and_restored() {
        let r = with_fake(
            |cmd, attr| {
                assert_eq!(cmd, Cmd::MapDeleteElem);
                let a = attr.downcast_mut::<MapElemAttr>().expect("MapElemAttr");
                assert_eq!(a.map_fd, 7);
                Ok(42)
            },
            || {
                let mut a = MapElemAttr {
                    map_fd: 7,
                    ..Default::default()
                };
                // SAFETY: no pointers in the attr; the fake answers.
                unsafe { bpf(Cmd::MapDeleteElem, &mut a) }
            },
        );
        assert_eq!(r.unwrap(), 42);
        assert!(FAKE.with(|f| f.borrow().is_none()));
    }

    #[test]
    fn obj_name_truncates() {
        let n = obj_name("a_very_long_program_name");
        assert_eq!(&n[..15], b"a_very_long_pro");
        assert_eq!(n[15], 0);
    }
}
