//! Bounded UDP traffic from and into a namespace: [`udp_send`] and [`UdpSink`].
//!
//! Every socket is created on a thread inside the namespace and then used from the caller's
//! thread; destinations must be test addresses (198.18.0.0/15 or loopback).

use crate::addr::check_test_addr;
use crate::enter::in_netns;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

/// Most datagrams one [`udp_send`] call sends (and one [`UdpSink::recv_until`] keeps).
pub const MAX_DATAGRAMS: usize = 1_000_000;

/// Longest a single `send_to` may block on a full socket buffer.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A UDP socket bound to `bind` (an unspecified or test address), created inside `ns`.
pub fn udp_socket(ns: &str, bind: SocketAddr) -> io::Result<UdpSocket> {
    if !bind.ip().is_unspecified() {
        check_test_addr(bind.ip())?;
    }
    in_netns(ns, move || UdpSocket::bind(bind))?
}

/// Sends each payload once to `dst` from an ephemeral port inside `ns`; returns how many were
/// sent.
pub fn udp_send(ns: &str, dst: SocketAddrV4, payloads: &[Vec<u8>]) -> io::Result<usize> {
    udp_send_from(
        ns,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        dst,
        payloads,
    )
}

/// [`udp_send`] from a chosen source address and port.
pub fn udp_send_from(
    ns: &str,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payloads: &[Vec<u8>],
) -> io::Result<usize> {
    check_test_addr((*dst.ip()).into())?;
    if payloads.len() > MAX_DATAGRAMS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} datagrams is more than the {MAX_DATAGRAMS} allowed",
                payloads.len()
            ),
        ));
    }
    let sock = udp_socket(ns, src.into())?;
    sock.set_write_timeout(Some(SEND_TIMEOUT))?;
    for p in payloads {
        sock.send_to(p, dst)?;
    }
    Ok(payloads.len())
}

/// A UDP socket bound inside a namespace that collects datagrams until a deadline or a count.
#[derive(Debug)]
pub struct UdpSink {
    sock: UdpSocket,
}

impl UdpSink {
    /// Binds `addr` (a test address, or 0.0.0.0) inside `ns`.
    pub fn bind(ns: &str, addr: SocketAddrV4) -> io::Result<Self> {
        Ok(UdpSink {
            sock: udp_socket(ns, addr.into())?,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The socket itself.
    pub fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    /// Receives datagrams until `max` have arrived (at most [`MAX_DATAGRAMS`]) or `deadline`
    /// passes, whichever comes first.
    pub fn recv_until(&self, deadline: Instant, max: usize) -> io::Result<Vec<Vec<u8>>> {
        let max = max.min(MAX_DATAGRAMS);
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < max {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // A zero timeout would mean "block forever".
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.sock.set_read_timeout(Some(wait))?;
            match self.sock.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    /// [`recv_until`](Self::recv_until) with a deadline `timeout` from now.
    pub fn recv_for(&self, timeout: Duration, max: usize) -> io::Result<Vec<Vec<u8>>> {
        self.recv_until(Instant::now() + timeout, max)
    }
}
