//! Reading what the kernel sends on an nfnetlink_queue socket: queued packets,
//! acknowledgements and errors, message by message, borrowing the datagram (no I/O, no
//! `unsafe`).

use std::fmt;

use super::uapi::*;

/// What a received datagram holds, message by message.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A queued packet.
    Packet(PacketMsg<'a>),
    /// The acknowledgement of request `seq`.
    Ack { seq: u32 },
    /// The kernel refused a request: `errno` (positive), the request's sequence number (for a
    /// verdict, the packet id) and its nfnetlink_queue message type.
    Error {
        errno: i32,
        seq: u32,
        request: Request,
    },
    /// Anything else (netlink control messages, other subsystems): ignored.
    Other,
}

/// The kind of request an error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Verdict,
    VerdictBatch,
    Config,
    Other(u16),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Verdict => f.write_str("verdict for packet"),
            Request::VerdictBatch => f.write_str("batch verdict up to packet"),
            Request::Config => f.write_str("configuration request"),
            Request::Other(t) => write!(f, "request of type {t:#x}"),
        }
    }
}

/// A message that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed nfnetlink_queue message: {}", self.0)
    }
}

/// The fields of an `NFQNL_MSG_PACKET`, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketMsg<'a> {
    pub queue: u16,
    pub id: u32,
    pub hw_protocol: u16,
    pub hook: u8,
    pub mark: u32,
    pub indev: u32,
    pub outdev: u32,
    /// `hw_addrlen` and the (up to 8) bytes of `struct nfqnl_msg_packet_hw`.
    pub hw_addr: Option<(u8, [u8; 8])>,
    pub payload: &'a [u8],
    /// `NFQA_CAP_LEN`: the packet's length before the copy range cut it, when it was sent.
    pub cap_len: Option<u32>,
    /// The conntrack mark (`CTA_MARK` in `NFQA_CT`; 0 when the entry has none), when the
    /// packet has a conntrack entry and the queue asked for it.
    pub ct_mark: Option<u32>,
    /// `NFQA_VLAN`'s tag control information, when the kernel sent it.
    pub vlan_tci: Option<u16>,
    /// `NFQA_L2HDR`: the link-layer header, when the kernel sent it.
    pub l2hdr: Option<&'a [u8]>,
    /// `NFQA_SKB_INFO` (`NFQA_SKB_CSUMNOTREADY` 1, `NFQA_SKB_GSO` 2,
    /// `NFQA_SKB_CSUM_NOTVERIFIED` 4), 0 when not sent.
    pub skb_info: u32,
}

/// The value of the attribute of type `want` among the attributes in `nest`.
fn nested(nest: &[u8], want: u16) -> Option<&[u8]> {
    let mut rest = nest;
    while rest.len() >= NLA_HDRLEN {
        let len = usize::from(u16_ne(rest, 0));
        if len < NLA_HDRLEN || len > rest.len() {
            return None;
        }
        if u16_ne(rest, 2) & NLA_TYPE_MASK == want {
            return Some(&rest[NLA_HDRLEN..len]);
        }
        rest = &rest[align4(len).min(rest.len())..];
    }
    None
}

/// The messages of one received datagram, in order.
pub fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { rest: datagram }
}

pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Event<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let b = self.rest;
        let len = u32_ne(b, 0) as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            self.rest = &[];
            return Some(Err(Malformed("bad message length")));
        }
        self.rest = &b[align4(len).min(b.len())..];
        let body = &b[NLMSG_HDRLEN..len];
        Some(match u16_ne(b, 4) {
            NLMSG_ERROR => parse_error(body),
            t if t == nfq_type(NFQNL_MSG_PACKET) => parse_packet(body).map(Event::Packet),
            // Netlink control messages (NOOP, DONE, OVERRUN) and anything else.
            _ => Ok(Event::Other),
        })
    }
}

/// `struct nlmsgerr`: a negative errno (0: an acknowledgement), then the request's header.
fn parse_error(body: &[u8]) -> Result<Event<'_>, Malformed> {
    if body.len() < 4 + NLMSG_HDRLEN {
        return Err(Malformed("short error message"));
    }
    let errno = -(u32_ne(body, 0) as i32);
    let req = &body[4..];
    let seq = u32_ne(req, 8);
    if errno == 0 {
        return Ok(Event::Ack { seq });
    }
    let ty = u16_ne(req, 4);
    let request = match ty {
        t if t == nfq_type(NFQNL_MSG_VERDICT) => Request::Verdict,
        t if t == nfq_type(NFQNL_MSG_VERDICT_BATCH) => Request::VerdictBatch,
        t if t == nfq_type(NFQNL_MSG_CONFIG) => Request::Config,
        t => Request::Other(t),
    };
    Ok(Event::Error {
        errno,
        seq,
        request,
    })
}

/// The body of an `NFQNL_MSG_PACKET`: `struct nfgenmsg`, then attributes.
pub fn parse_packet(body: &[u8]) -> Result<PacketMsg<'_>, Malformed> {
    if body.len() < NFGENMSG_LEN {
        return Err(Malformed("short packet message"));
    }
    let mut p = PacketMsg {
        queue: u16::from_be_bytes([body[2], body[3]]),
        ..PacketMsg::default()
    };
    let mut have_hdr = false;
    let mut rest = &body[NFGENMSG_LEN..];
    while rest.len() >= NLA_HDRLEN {
        let len = usize::from(u16_ne(rest, 0));
        let ty = u16_ne(rest, 2) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > rest.len() {
            return Err(Malformed("bad attribute length"));
        }
        let data = &rest[NLA_HDRLEN..len];
        rest = &rest[align4(len).min(rest.len())..];
        let short = || Malformed("short attribute");
        match ty {
            NFQA_PACKET_HDR => {
                // struct nfqnl_msg_packet_hdr (packed): packet_id, hw_protocol, hook
                if data.len() < 7 {
                    return Err(short());
                }
                p.id = be32(data).ok_or_else(short)?;
                p.hw_protocol = u16::from_be_bytes([data[4], data[5]]);
                p.hook = data[6];
                have_hdr = true;
            }
            NFQA_MARK => p.mark = be32(data).ok_or_else(short)?,
            NFQA_IFINDEX_INDEV => p.indev = be32(data).ok_or_else(short)?,
            NFQA_IFINDEX_OUTDEV => p.outdev = be32(data).ok_or_else(short)?,
            NFQA_HWADDR => {
                // struct nfqnl_msg_packet_hw: hw_addrlen (be16), pad, hw_addr[8]
                if data.len() < 12 {
                    return Err(short());
                }
                let n = u16::from_be_bytes([data[0], data[1]]).min(8) as u8;
                let mut a = [0u8; 8];
                a.copy_from_slice(&data[4..12]);
                p.hw_addr = Some((n, a));
            }
            NFQA_PAYLOAD => p.payload = data,
            NFQA_CAP_LEN => p.cap_len = Some(be32(data).ok_or_else(short)?),
            NFQA_CT => p.ct_mark = Some(nested(data, CTA_MARK).and_then(be32).unwrap_or(0)),
            NFQA_VLAN => {
                p.vlan_tci = nested(data, NFQA_VLAN_TCI)
                    .and_then(|v| Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?)))
            }
            NFQA_L2HDR => p.l2hdr = Some(data),
            NFQA_SKB_INFO => p.skb_info = be32(data).ok_or_else(short)?,
            _ => {}
        }
    }
    if !have_hdr {
        return Err(Malformed("packet message without NFQA_PACKET_HDR"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::super::write::MsgWriter;
    use super::*;

    /// A packet message as the kernel (Linux 6.18, x86-64) sent it to this code: the first
    /// datagram of `odd_payloads_dropped_even_accepted` (tests/nfqueue.rs), a UDP datagram
    /// 198.18.0.1 -> 198.18.0.2:9000 with data "odd-even-000", queued at LOCAL_IN.
    #[cfg(target_endian = "little")]
    const CAPTURED: &[u8] = &[
        0x64, 0x00, 0x00, 0x00, // nlmsg_len 100
        0x00, 0x03, // nlmsg_type: NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET
        0x00, 0x00, // nlmsg_flags
        0x00, 0x00, 0x00, 0x00, // nlmsg_seq
        0x00, 0x00, 0x00, 0x00, // nlmsg_pid
        0x02, 0x00, 0x00, 0x00, // nfgenmsg: AF_INET, version 0, queue 0
        0x0b, 0x00, 0x01, 0x00, // NFQA_PACKET_HDR, 7 bytes:
        0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x01, 0x00, // id 1, IPv4, hook 1 (LOCAL_IN), pad
        0x08, 0x00, 0x05, 0x00, // NFQA_IFINDEX_INDEV
        0x00, 0x00, 0x00, 0x02, // 2
        0x10, 0x00, 0x09, 0x00, // NFQA_HWADDR: length 6, pad, address, 2 bytes unused
        0x00, 0x06, 0x00, 0x00, 0xb6, 0x3d, 0xb2, 0x9c, 0xea, 0x4e, 0x00, 0x00, //
        0x2c, 0x00, 0x0a, 0x00, // NFQA_PAYLOAD, 40 bytes:
        0x45, 0x00, 0x00, 0x28, 0xdd, 0x8c, 0x40, 0x00, 0x40, 0x11, 0xd1, 0x10, // IPv4 header
        0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, //
        0xe6, 0xf2, 0x23, 0x28, 0x00, 0x14, 0x6d, 0xac, // UDP header
        0x6f, 0x64, 0x64, 0x2d, 0x65, 0x76, 0x65, 0x6e, 0x2d, 0x30, 0x30,
        0x30, // odd-even-000
    ];

    #[test]
    #[cfg(target_endian = "little")]
    fn a_captured_packet_message_parses() {
        let events: Vec<_> = messages(CAPTURED).collect();
        let [Ok(Event::Packet(p))] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(
            (
                p.queue,
                p.id,
                p.hw_protocol,
                p.hook,
                p.mark,
                p.indev,
                p.outdev
            ),
            (0, 1, 0x0800, 1, 0, 2, 0)
        );
        assert_eq!(
            p.hw_addr,
            Some((6, [0xb6, 0x3d, 0xb2, 0x9c, 0xea, 0x4e, 0, 0]))
        );
        assert_eq!(p.payload.len(), 40);
        assert_eq!(&p.payload[..2], [0x45, 0x00]);
        assert_eq!(&p.payload[28..], b"odd-even-000");
        assert_eq!(p.cap_len, None);

        // The same message with the attributes a marked, truncated packet on its way out also
        // has (and one lunet does not know, with the nested flag), behind the payload; two
        // messages in one datagram.
        let mut m = CAPTURED.to_vec();
        for (ty, v) in [
            (NFQA_MARK, 0xdead_beefu32),
            (NFQA_IFINDEX_OUTDEV, 3),
            (NFQA_CAP_LEN, 1500),
            (0x8000 | 11, 0), // NFQA_CT, nested
        ] {
            m.extend_from_slice(&8u16.to_ne_bytes());
            m.extend_from_slice(&ty.to_ne_bytes());
            m.extend_from_slice(&v.to_be_bytes());
        }
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        let mut two = m.clone();
        two.extend_from_slice(CAPTURED);
        let events: Vec<_> = messages(&two).collect();
        let [Ok(Event::Packet(p)), Ok(Event::Packet(q))] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!((p.mark, p.outdev, p.cap_len), (0xdead_beef, 3, Some(1500)));
        assert_eq!(&p.payload[28..], b"odd-even-000");
        assert_eq!((q.id, q.mark, q.cap_len), (1, 0, None));
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn conntrack_vlan_and_link_header_attributes_parse() {
        fn attr(ty: u16, value: &[u8]) -> Vec<u8> {
            let mut a = ((NLA_HDRLEN + value.len()) as u16).to_ne_bytes().to_vec();
            a.extend_from_slice(&ty.to_ne_bytes());
            a.extend_from_slice(value);
            a.resize(align4(a.len()), 0);
            a
        }
        let mut m = CAPTURED.to_vec();
        // NFQA_CT { CTA_STATUS (3), CTA_MARK 0x1234 }, NFQA_VLAN { PROTO, TCI 0x2005 },
        // NFQA_L2HDR (14 bytes), NFQA_SKB_INFO 4.
        let ct = [
            attr(3, &[0, 0, 0, 8]),
            attr(CTA_MARK, &0x1234u32.to_be_bytes()),
        ]
        .concat();
        m.extend(attr(NFQA_CT | NLA_F_NESTED, &ct));
        let vlan = [
            attr(1, &0x8100u16.to_be_bytes()),
            attr(NFQA_VLAN_TCI, &0x2005u16.to_be_bytes()),
        ]
        .concat();
        m.extend(attr(NFQA_VLAN | NLA_F_NESTED, &vlan));
        m.extend(attr(NFQA_L2HDR, &[7; 14]));
        m.extend(attr(NFQA_SKB_INFO, &4u32.to_be_bytes()));
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        let Some(Ok(Event::Packet(p))) = messages(&m).next() else {
            panic!("no packet")
        };
        assert_eq!(p.ct_mark, Some(0x1234));
        assert_eq!(p.vlan_tci, Some(0x2005));
        assert_eq!(p.l2hdr, Some(&[7u8; 14][..]));
        assert_eq!(p.skb_info, 4);
        assert_eq!(&p.payload[28..], b"odd-even-000");
        let q = super::super::QueuedPacket::from_msg(&p);
        assert_eq!((q.connmark(), q.vlan()), (Some(0x1234), Some(5)));
        // An entry without a mark has mark 0; no NFQA_CT, no entry.
        let Some(Ok(Event::Packet(plain))) = messages(CAPTURED).next() else {
            panic!()
        };
        assert_eq!(plain.ct_mark, None);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn a_captured_ack_parses() {
        // The kernel's answer to lunet's bind request (seq 1), with NETLINK_CAP_ACK.
        let ack = [
            0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0xcf, 0x01,
            0x00, 0x00, // nlmsghdr: 36 bytes, NLMSG_ERROR, NLM_F_CAPPED, seq 1
            0x00, 0x00, 0x00, 0x00, // error 0
            0x40, 0x00, 0x00, 0x00, 0x02, 0x03, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, // the request's header: NFQNL_MSG_CONFIG, REQUEST | ACK, seq 1
        ];
        assert_eq!(
            messages(&ack).collect::<Vec<_>>(),
            [Ok(Event::Ack { seq: 1 })]
        );
    }

    #[test]
    fn errors_and_acks_name_their_request() {
        let mut w = MsgWriter::default();
        w.verdict(5, 77, 1, None, None);
        let req = &w.bytes()[..16];
        let mut b = Vec::new();
        for errno in [2i32, 0] {
            b.extend_from_slice(&36u32.to_ne_bytes());
            b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            b.extend_from_slice(&0u16.to_ne_bytes());
            b.extend_from_slice(&77u32.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&(-errno).to_ne_bytes());
            b.extend_from_slice(req);
        }
        let got: Vec<_> = messages(&b).collect();
        assert_eq!(
            got,
            [
                Ok(Event::Error {
                    errno: 2,
                    seq: 77,
                    request: Request::Verdict
                }),
                Ok(Event::Ack { seq: 77 })
            ]
        );
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let mut b = vec![0u8; 32];
        b[..4].copy_from_slice(&200u32.to_ne_bytes()); // longer than the datagram
        assert!(matches!(messages(&b).next(), Some(Err(_))));
        // A packet message whose attribute runs past the end.
        let mut m = Vec::new();
        m.extend_from_slice(&28u32.to_ne_bytes());
        m.extend_from_slice(&0x0300u16.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&40u16.to_ne_bytes());
        m.extend_from_slice(&1u16.to_ne_bytes());
        m.extend_from_slice(&[0; 4]);
        assert_eq!(
            messages(&m).next(),
            Some(Err(Malformed("bad attribute length")))
        );
        // Truncated datagrams end the iteration quietly.
        assert_eq!(messages(&m[..10]).next(), None);
    }
}
