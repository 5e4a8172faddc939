//! Every libc call of lunet-netfilter: the queue's `NETLINK_NETFILTER` socket (open, options,
//! send, `recvmmsg`) and `poll(2)`. Safe wrappers; the rest of the crate has no `unsafe`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Most datagrams one [`NetlinkSocket::recv_many`] receives.
pub const MAX_DATAGRAMS: usize = 64;

/// The socket options lunet sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    /// `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`; ignores `net.core.rmem_max`).
    RcvBufForce,
    /// `SO_RCVBUF` (capped at `net.core.rmem_max`). Reading it gives the size in effect
    /// (twice the size asked for: the kernel counts its bookkeeping).
    RcvBuf,
    /// `NETLINK_NO_ENOBUFS`: no `ENOBUFS` error when the kernel could not deliver a message.
    NoEnobufs,
    /// `NETLINK_CAP_ACK`: error messages carry only the request's header, not the request.
    CapAck,
}

impl SockOpt {
    fn level_name(self) -> (libc::c_int, libc::c_int) {
        match self {
            SockOpt::RcvBufForce => (libc::SOL_SOCKET, libc::SO_RCVBUFFORCE),
            SockOpt::RcvBuf => (libc::SOL_SOCKET, libc::SO_RCVBUF),
            SockOpt::NoEnobufs => (libc::SOL_NETLINK, libc::NETLINK_NO_ENOBUFS),
            SockOpt::CapAck => (libc::SOL_NETLINK, libc::NETLINK_CAP_ACK),
        }
    }
}

/// What `recv_many` got in one slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    /// The datagram was longer than the slot (`MSG_TRUNC`): its end is lost.
    pub truncated: bool,
}

/// A `NETLINK_NETFILTER` socket, nonblocking, close-on-exec, connected to the kernel (so
/// only the kernel can send to it).
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A poll(2) timeout in milliseconds, rounded up (a wait of 0.2 ms must not become a spin).
fn poll_ms(timeout: Duration) -> libc::c_int {
    let ms = timeout.as_micros().div_ceil(1000);
    ms.min(libc::c_int::MAX as u128) as libc::c_int
}

impl NetlinkSocket {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open_netfilter() -> io::Result<Self> {
        // SAFETY: socket(2) takes no pointers; it returns a new descriptor or -1.
        let fd = check(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        })?;
        // SAFETY: `fd` was just returned by socket(2) and is owned by nothing else.
        let sock = NetlinkSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        };
        // SAFETY: sockaddr_nl is plain data; all zeros is a valid value of it.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // Port id 0 is the kernel; connecting also binds the socket to a port id of its own.
        // SAFETY: the pointer and length describe `kernel`, which lives across the call.
        check(unsafe {
            libc::connect(
                sock.fd.as_raw_fd(),
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        Ok(sock)
    }

    /// Sets an integer socket option.
    pub fn set_opt(&self, opt: SockOpt, value: libc::c_int) -> io::Result<()> {
        let (level, name) = opt.level_name();
        // SAFETY: the pointer and length describe `value`, which lives across the call.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Reads an integer socket option.
    pub fn get_opt(&self, opt: SockOpt) -> io::Result<libc::c_int> {
        let (level, name) = opt.level_name();
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the pointers describe `value` and `len`, which live across the call; the
        // kernel writes at most `len` bytes.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        Ok(value)
    }

    /// Sends `bytes` (one or more netlink messages) to the kernel in one datagram. The kernel
    /// handles the messages before this returns, in order.
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: the pointer and length describe `bytes`, borrowed across the call.
            let n =
                unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
            if n >= 0 {
                return if n as usize == bytes.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("sent {n} of {} bytes", bytes.len()),
                    ))
                };
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Makes receives without `MSG_DONTWAIT` block, for at most `timeout` each
    /// (`SO_RCVTIMEO`): clears `O_NONBLOCK`. Receives that pass `MSG_DONTWAIT` (all but
    /// [`recv_many`](Self::recv_many) with `wait`) and sends are unchanged: a netlink send
    /// to the kernel never waits.
    pub fn set_recv_timeout(&self, timeout: Duration) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: fcntl(2) with F_GETFL/F_SETFL takes and returns integers only.
        unsafe {
            let flags = check(libc::fcntl(fd, libc::F_GETFL))?;
            if flags & libc::O_NONBLOCK != 0 {
                check(libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK))?;
            }
        }
        // A zero timeval would mean "wait forever".
        let t = timeout.max(Duration::from_micros(1));
        let tv = libc::timeval {
            tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_usec: t.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: the pointer and length describe `tv`, which lives across the call.
        check(unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Receives the datagrams waiting: at most `out.len()` (and [`MAX_DATAGRAMS`]) of them
    /// in one `recvmmsg(2)`, datagram `i` into `arena[i * slot..(i + 1) * slot]`. Returns
    /// how many (0: none was waiting). Without `wait` it does not wait; with it (after
    /// [`set_recv_timeout`](Self::set_recv_timeout)) it waits for the first datagram up to
    /// the socket's timeout (`MSG_WAITFORONE`: not for the others), and returns 0 when none
    /// came or a signal came first.
    pub fn recv_many(
        &self,
        arena: &mut [u8],
        slot: usize,
        out: &mut [Received],
        wait: bool,
    ) -> io::Result<usize> {
        let mut slots = arena.chunks_exact_mut(slot);
        let n = out.len().min(MAX_DATAGRAMS).min(slots.len());
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: iovec and mmsghdr are plain C structs (pointers and integers) for which all
        // zeros (null pointers, zero lengths) is a valid value.
        let mut iov: [libc::iovec; MAX_DATAGRAMS] = unsafe { std::mem::zeroed() };
        // SAFETY: mmsghdr is a plain C struct too (pointers and integers); all zeros is valid.
        let mut hdrs: [libc::mmsghdr; MAX_DATAGRAMS] = unsafe { std::mem::zeroed() };
        for (i, buf) in slots.by_ref().take(n).enumerate() {
            iov[i].iov_base = buf.as_mut_ptr().cast();
            iov[i].iov_len = buf.len();
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        loop {
            // SAFETY: `hdrs[..n]` each point to one iovec of `iov`, which points into a
            // distinct `slot`-byte chunk of `arena`; `arena`, `iov` and `hdrs` are borrowed
            // or owned here for the whole call, and the kernel writes at most `iov_len` bytes
            // into each chunk and the results into `hdrs[..n]`. No name, control data or
            // timeout is passed.
            let got = unsafe {
                libc::recvmmsg(
                    self.fd.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    n as libc::c_uint,
                    if wait {
                        libc::MSG_WAITFORONE
                    } else {
                        libc::MSG_DONTWAIT
                    },
                    std::ptr::null_mut(),
                )
            };
            if got >= 0 {
                let got = got as usize;
                for (o, h) in out.iter_mut().zip(&hdrs[..got]) {
                    *o = Received {
                        len: (h.msg_len as usize).min(slot),
                        truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                    };
                }
                return Ok(got);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                // A signal while waiting: the caller looks at its flags and waits again.
                io::ErrorKind::Interrupted if wait => return Ok(0),
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(0),
                _ => return Err(e),
            }
        }
    }

    /// Waits up to `timeout` for something to read; false on timeout (or a signal).
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut set = PollSet::default();
        set.fds.push(pollfd(self.fd.as_raw_fd()));
        Ok(set.wait(timeout)? > 0)
    }
}

impl AsFd for NetlinkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Descriptors to wait on together with poll(2).
#[derive(Debug, Default)]
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    /// Replaces the set with `fds`, each waited on for reading.
    pub fn set<'a>(&mut self, fds: impl IntoIterator<Item = BorrowedFd<'a>>) {
        self.fds.clear();
        self.fds
            .extend(fds.into_iter().map(|fd| pollfd(fd.as_raw_fd())));
    }

    /// Waits up to `timeout` until one of the descriptors is readable or has an error or
    /// hangup; returns how many are (0 on timeout, and when a signal interrupted the wait).
    /// With no descriptors it just sleeps for `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        for p in &mut self.fds {
            p.revents = 0;
        }
        // SAFETY: the pointer and count describe `self.fds`, borrowed mutably across the
        // call; the kernel writes only the `revents` fields.
        let n = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                poll_ms(timeout),
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        }
    }

    /// Whether descriptor `i` (in the order given to [`set`](Self::set)) had an event in the
    /// last [`wait`](Self::wait).
    pub fn ready(&self, i: usize) -> bool {
        self.fds.get(i).is_some_and(|p| p.revents != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(poll_ms(Duration::ZERO), 0);
        assert_eq!(poll_ms(Duration::from_micros(1)), 1);
        assert_eq!(poll_ms(Duration::from_millis(100)), 100);
        assert_eq!(poll_ms(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }
}
