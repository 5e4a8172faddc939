//! The link layer of the calling thread's network namespace, for what NFQUEUE does not
//! carry: sending a whole frame out of an interface (`skb:forward()`), and an interface's
//! own hardware address (the destination of the frames it receives, which NFQUEUE does not
//! report). One `AF_PACKET` socket does both; it receives nothing (protocol 0).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A send-only `AF_PACKET` socket in the namespace of the thread that opened it.
#[derive(Debug)]
pub struct LinkSocket {
    fd: OwnedFd,
}

impl LinkSocket {
    /// Opens the socket in the calling thread's network namespace (needs `CAP_NET_RAW`).
    pub fn open() -> io::Result<LinkSocket> {
        // SAFETY: socket(2) with constant arguments; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor nobody else owns.
        Ok(LinkSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends `frame` (from its link-layer header on) out of interface `ifindex` as it is.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_ll is valid; the fields set below are plain integers.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex =
            i32::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
        addr.sll_halen = 6;
        if frame.len() >= 6 {
            addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        }
        if frame.len() >= 14 {
            addr.sll_protocol = u16::from_ne_bytes([frame[12], frame[13]]);
        }
        // SAFETY: `frame` and `addr` are valid for the lengths given for the whole call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The 6-byte hardware address of interface `ifindex`, `None` when it has none of that
    /// length (or is gone).
    pub fn hw_addr(&self, ifindex: u32) -> Option<[u8; 6]> {
        // SAFETY: an all-zero ifreq is valid; SIOCGIFNAME reads `ifr_ifindex` and writes the
        // name, SIOCGIFHWADDR reads the name and writes `ifr_hwaddr`, both within the struct.
        unsafe {
            let mut req: libc::ifreq = std::mem::zeroed();
            req.ifr_ifru.ifru_ifindex = i32::try_from(ifindex).ok()?;
            if libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFNAME, &mut req) < 0 {
                return None;
            }
            if libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) < 0 {
                return None;
            }
            let sa = req.ifr_ifru.ifru_hwaddr;
            // ARPHRD_ETHER (1): loopback and tunnels have other types and no Ethernet header.
            if sa.sa_family != 1 {
                return None;
            }
            let mut mac = [0u8; 6];
            for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
                *m = *b as u8;
            }
            Some(mac)
        }
    }
}
