//! The conntrack mark of a queued packet's connection through ctnetlink, for kernels whose
//! nfnetlink_queue cannot carry it (`CONFIG_NETFILTER_NETLINK_GLUE_CT` off: the queue then
//! refuses `NFQA_CFG_F_CONNTRACK`, see [`QueueSocket::conntrack`](super::QueueSocket::conntrack)).
//!
//! The connection is looked up by the packet's addresses, protocol and ports, first as the
//! original direction's tuple, then as the reply's. Only TCP and UDP packets (the first
//! fragment of a datagram) are looked up, in conntrack zone 0, and only connections conntrack
//! has confirmed are found: the first packet of a connection is confirmed when it leaves
//! its last hook, so it finds none.

use std::io;
use std::time::{Duration, Instant};

use super::sys::{NetlinkSocket, Received};
use super::uapi::*;

/// `NFNL_SUBSYS_CTNETLINK`.
const SUBSYS_CTNETLINK: u16 = 1;
/// `enum cntl_msg_types`.
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
/// `enum ctattr_type`.
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
/// `enum ctattr_tuple`, `ctattr_ip`, `ctattr_l4proto`.
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;

/// How long one request waits for the kernel's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(200);
const BUFFER: usize = 16 << 10;

/// A connection as conntrack names it: the packet's addresses, protocol and ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    /// `AF_INET` or `AF_INET6`.
    family: u8,
    /// The address attributes: `CTA_IP_V4_SRC` (1) / `V6_SRC` (3) and the destination's.
    src: (u16, Vec<u8>),
    dst: (u16, Vec<u8>),
    proto: u8,
    sport: [u8; 2],
    dport: [u8; 2],
}

impl Tuple {
    /// The tuple of the IPv4 or IPv6 packet `p` (from its network header on), when it is TCP
    /// or UDP with its ports in it (IPv6 extension headers are not walked).
    pub fn of_packet(p: &[u8]) -> Option<Tuple> {
        let (family, src, dst, proto, l4) = match p.first()? >> 4 {
            4 => {
                let ihl = (p[0] & 0x0f) as usize * 4;
                let frag = u16::from_be_bytes([*p.get(6)?, *p.get(7)?]) & 0x1fff;
                if ihl < 20 || frag != 0 {
                    return None;
                }
                (
                    libc::AF_INET as u8,
                    (1, p.get(12..16)?.to_vec()),
                    (2, p.get(16..20)?.to_vec()),
                    *p.get(9)?,
                    ihl,
                )
            }
            6 => (
                libc::AF_INET6 as u8,
                (3, p.get(8..24)?.to_vec()),
                (4, p.get(24..40)?.to_vec()),
                *p.get(6)?,
                40,
            ),
            _ => return None,
        };
        if proto != 6 && proto != 17 {
            return None;
        }
        let ports = p.get(l4..l4 + 4)?;
        Some(Tuple {
            family,
            src,
            dst,
            proto,
            sport: [ports[0], ports[1]],
            dport: [ports[2], ports[3]],
        })
    }

    /// The nested tuple attribute of type `ty` (`CTA_TUPLE_ORIG` or `CTA_TUPLE_REPLY`).
    fn attr(&self, ty: u16) -> Vec<u8> {
        let mut ip = Vec::new();
        push_attr(&mut ip, self.src.0, &self.src.1);
        push_attr(&mut ip, self.dst.0, &self.dst.1);
        let mut proto = Vec::new();
        push_attr(&mut proto, CTA_PROTO_NUM, &[self.proto]);
        push_attr(&mut proto, CTA_PROTO_SRC_PORT, &self.sport);
        push_attr(&mut proto, CTA_PROTO_DST_PORT, &self.dport);
        let mut tuple = Vec::new();
        push_attr(&mut tuple, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
        push_attr(&mut tuple, CTA_TUPLE_PROTO | NLA_F_NESTED, &proto);
        let mut out = Vec::new();
        push_attr(&mut out, ty | NLA_F_NESTED, &tuple);
        out
    }
}

fn push_attr(out: &mut Vec<u8>, ty: u16, value: &[u8]) {
    out.extend_from_slice(&((NLA_HDRLEN + value.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

/// A ctnetlink socket in the namespace of the thread that opened it.
pub struct ConntrackSocket {
    sock: NetlinkSocket,
    seq: u32,
    arena: Vec<u8>,
}

/// What the kernel answered one request.
enum Answer {
    /// A conntrack entry, with its mark (0 when it has none).
    Entry(u32),
    /// An acknowledgement (errno 0) or an error.
    Errno(i32),
}

impl ConntrackSocket {
    /// Opens the socket in the calling thread's network namespace (needs `CAP_NET_ADMIN`).
    pub fn open() -> io::Result<ConntrackSocket> {
        Ok(ConntrackSocket {
            sock: NetlinkSocket::open_netfilter()?,
            seq: 0,
            arena: vec![0; BUFFER],
        })
    }

    /// The mark of the connection `t` belongs to (either direction), `None` when conntrack
    /// has no entry for it.
    pub fn mark(&mut self, t: &Tuple) -> io::Result<Option<u32>> {
        for dir in [CTA_TUPLE_ORIG, CTA_TUPLE_REPLY] {
            match self.request(IPCTNL_MSG_CT_GET, 0, t, dir, None)? {
                Answer::Entry(m) => return Ok(Some(m)),
                Answer::Errno(libc::ENOENT) => {}
                Answer::Errno(e) => return Err(io::Error::from_raw_os_error(e)),
            }
        }
        Ok(None)
    }

    /// Sets the mark of the connection `t` belongs to; false when conntrack has no entry.
    pub fn set_mark(&mut self, t: &Tuple, mark: u32) -> io::Result<bool> {
        for dir in [CTA_TUPLE_ORIG, CTA_TUPLE_REPLY] {
            match self.request(IPCTNL_MSG_CT_NEW, NLM_F_ACK, t, dir, Some(mark))? {
                Answer::Errno(0) | Answer::Entry(_) => return Ok(true),
                Answer::Errno(libc::ENOENT) => {}
                Answer::Errno(e) => return Err(io::Error::from_raw_os_error(e)),
            }
        }
        Ok(false)
    }

    fn request(
        &mut self,
        msg: u16,
        flags: u16,
        t: &Tuple,
        dir: u16,
        mark: Option<u32>,
    ) -> io::Result<Answer> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(128);
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&((SUBSYS_CTNETLINK << 8) | msg).to_ne_bytes());
        m.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[t.family, NFNETLINK_V0, 0, 0]);
        m.extend_from_slice(&t.attr(dir));
        if let Some(v) = mark {
            push_attr(&mut m, CTA_MARK, &v.to_be_bytes());
        }
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        self.sock.send(&m)?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let mut got = [Received::default()];
            if self
                .sock
                .recv_many(&mut self.arena, BUFFER, &mut got, false)?
                == 1
            {
                if let Some(a) = answer(&self.arena[..got[0].len], self.seq) {
                    return Ok(a);
                }
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no answer from ctnetlink",
                ));
            }
            self.sock.wait_readable(deadline - now)?;
        }
    }
}

/// The answer to request `seq` in a datagram, if it holds one.
fn answer(mut b: &[u8], seq: u32) -> Option<Answer> {
    while b.len() >= NLMSG_HDRLEN {
        let len = u32_ne(b, 0) as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            return None;
        }
        let (ty, this_seq) = (u16_ne(b, 4), u32_ne(b, 8));
        let body = &b[NLMSG_HDRLEN..len];
        b = &b[align4(len).min(b.len())..];
        if this_seq != seq {
            continue;
        }
        if ty == NLMSG_ERROR && body.len() >= 4 {
            return Some(Answer::Errno(-(u32_ne(body, 0) as i32)));
        }
        if ty == (SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW && body.len() >= NFGENMSG_LEN {
            let mut attrs = &body[NFGENMSG_LEN..];
            let mut mark = 0;
            while attrs.len() >= NLA_HDRLEN {
                let alen = usize::from(u16_ne(attrs, 0));
                if alen < NLA_HDRLEN || alen > attrs.len() {
                    break;
                }
                if u16_ne(attrs, 2) & NLA_TYPE_MASK == CTA_MARK {
                    mark = be32(&attrs[NLA_HDRLEN..alen]).unwrap_or(0);
                }
                attrs = &attrs[align4(alen).min(attrs.len())..];
            }
            return Some(Answer::Entry(mark));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_of_tcp_and_udp_packets_only() {
        let mut udp = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
        udp.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2, 0x03, 0xe8, 0, 53, 0, 8, 0, 0]);
        let t = Tuple::of_packet(&udp).unwrap();
        assert_eq!((t.proto, t.sport, t.dport), (17, [3, 0xe8], [0, 53]));
        assert_eq!(t.src, (1, vec![198, 18, 0, 1]));
        let mut icmp = udp.clone();
        icmp[9] = 1;
        assert_eq!(Tuple::of_packet(&icmp), None);
        let mut later = udp.clone();
        later[7] = 1; // a fragment at offset 8
        assert_eq!(Tuple::of_packet(&later), None);
        assert_eq!(Tuple::of_packet(&udp[..22]), None, "truncated ports");
        // The attribute nests: tuple (4) > ip (4 + 2 * 8) + proto (4 + 8 + 8 + 8).
        assert_eq!(t.attr(CTA_TUPLE_ORIG).len(), 4 + 4 + 16 + 4 + 24);
    }
}
