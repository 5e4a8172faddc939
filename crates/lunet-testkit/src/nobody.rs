//! The attacker's part of a test run as root: a forked child that drops to nobody (uid and
//! gid 65534) before it plants a file or link or connects, so what it does is only what any
//! user of the host could do.
//!
//! The child is a copy of a process that may have other threads (holding locks it will never
//! see released), so it only makes raw system calls: the helpers here, on `CStr`s and
//! buffers built before the fork, never allocating.

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::time::Duration;

/// nobody's uid and gid.
pub const NOBODY: u32 = 65534;

/// Where the child writes what the parent gets back from [`as_nobody`].
#[derive(Clone, Copy)]
pub struct Out(RawFd);

impl Out {
    pub fn write(&self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            // SAFETY: `rest` is readable for its length; the fd is the pipe's write end.
            let n = unsafe { libc::write(self.0, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                return;
            }
            rest = &rest[n as usize..];
        }
    }
}

/// Runs `f` in a forked child after it dropped to nobody (`setgroups`, `setgid`, `setuid`),
/// and gives `f`'s return value (the child's exit code; 120 and up when dropping failed) with
/// what `f` wrote to its [`Out`].
///
/// # Safety
/// `f` runs in the forked child of a possibly multi-threaded process: it must only make
/// system calls (the helpers of this module), never allocate, lock, print or panic.
pub unsafe fn as_nobody(f: impl FnOnce(Out) -> i32) -> (i32, Vec<u8>) {
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two fds.
    assert_eq!(
        unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) },
        0
    );
    // SAFETY: the child only makes system calls (the caller's promise) and ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain system calls in the child; _exit never returns.
        unsafe {
            libc::close(pipe[0]);
            if libc::setgroups(0, std::ptr::null()) != 0 {
                libc::_exit(120);
            }
            if libc::setgid(NOBODY) != 0 {
                libc::_exit(121);
            }
            if libc::setuid(NOBODY) != 0 {
                libc::_exit(122);
            }
            let code = f(Out(pipe[1]));
            libc::_exit(code);
        }
    }
    // SAFETY: the write end is ours to close in the parent.
    unsafe { libc::close(pipe[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its length; the fd is the pipe's read end.
        let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    // SAFETY: the read end is ours to close.
    unsafe { libc::close(pipe[0]) };
    let mut status = 0;
    // SAFETY: waits for the child this call forked; `status` is writable.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {}
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, out)
}

/// `mkdir(path, mode)`: whether it worked.
pub fn mkdir(path: &CStr, mode: u32) -> bool {
    // SAFETY: `path` is NUL-terminated.
    unsafe { libc::mkdir(path.as_ptr(), mode) == 0 }
}

/// `symlink(target, link)`: whether it worked.
pub fn symlink(target: &CStr, link: &CStr) -> bool {
    // SAFETY: both are NUL-terminated.
    unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) == 0 }
}

/// Writes a new file at `path` (`O_EXCL`, mode 0644): whether it worked.
pub fn create_file(path: &CStr, bytes: &[u8]) -> bool {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: `bytes` is readable for its length; `fd` was just opened.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    n == bytes.len() as isize
}

/// `rename(from, to)`: whether it worked.
pub fn rename(from: &CStr, to: &CStr) -> bool {
    // SAFETY: both are NUL-terminated.
    unsafe { libc::rename(from.as_ptr(), to.as_ptr()) == 0 }
}

/// `unlink(path)` or, for a directory, `rmdir(path)`: whether either worked.
pub fn remove(path: &CStr) -> bool {
    // SAFETY: `path` is NUL-terminated.
    unsafe { libc::unlink(path.as_ptr()) == 0 || libc::rmdir(path.as_ptr()) == 0 }
}

/// What [`ask`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `connect` failed (with this errno).
    NoConnect(i32),
    /// The daemon answered this many bytes (in the buffer) before closing or a newline.
    Answer(usize),
}

/// Connects to the Unix socket at `socket`, sends `request` and reads one answer line into
/// `reply` (waiting at most `wait`).
pub fn ask(socket: &CStr, request: &[u8], reply: &mut [u8], wait: Duration) -> Asked {
    // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Asked::NoConnect(-1);
    }
    // SAFETY: `sockaddr_un` is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path = socket.to_bytes();
    if path.len() >= addr.sun_path.len() {
        // SAFETY: `fd` is ours.
        unsafe { libc::close(fd) };
        return Asked::NoConnect(libc::ENAMETOOLONG);
    }
    for (d, s) in addr.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    let tv = libc::timeval {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_usec: wait.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: `tv` is a valid timeval for SO_RCVTIMEO; `addr` a valid sockaddr_un.
    let connected = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if connected != 0 {
        // SAFETY: reads this thread's errno, then closes `fd`, which is ours.
        let errno = unsafe {
            let e = *libc::__errno_location();
            libc::close(fd);
            e
        };
        return Asked::NoConnect(errno);
    }
    // SAFETY: `request` is readable for its length. A failed write still lets us read.
    unsafe { libc::write(fd, request.as_ptr().cast(), request.len()) };
    let mut got = 0;
    while got < reply.len() {
        // SAFETY: `reply[got..]` is writable for its length.
        let n = unsafe { libc::read(fd, reply[got..].as_mut_ptr().cast(), reply.len() - got) };
        if n <= 0 {
            break;
        }
        got += n as usize;
        if reply[..got].contains(&b'\n') {
            break;
        }
    }
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    Asked::Answer(got)
}
