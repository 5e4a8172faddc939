//! nfnetlink_queue messages as bytes: what lunet sends (the queue's configuration, verdicts,
//! batch verdicts) and what the kernel sends (queued packets, acknowledgements, errors).
//! Plain byte slices, no I/O and no `unsafe`; the formats are those of the kernel's UAPI headers
//! `linux/netlink.h`, `linux/netfilter/nfnetlink.h` and `linux/netfilter/nfnetlink_queue.h`.
//!
//! Netlink headers (`nlmsghdr`, `nlattr`) are in host byte order; the nfnetlink_queue values
//! inside the attributes (ids, marks, ifindexes, lengths, the queue number) in network order.

use std::collections::VecDeque;
use std::fmt;

/// `struct nlmsghdr`: len, type, flags, seq, pid.
pub const NLMSG_HDRLEN: usize = 16;
/// `struct nfgenmsg`: family, version, res_id (the queue number, big-endian).
const NFGENMSG_LEN: usize = 4;
/// `struct nlattr`: len, type.
const NLA_HDRLEN: usize = 4;
/// The attribute type without `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`.
const NLA_TYPE_MASK: u16 = 0x3fff;

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;

const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFNETLINK_V0: u8 = 0;

/// `enum nfqnl_msg_types`.
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQNL_MSG_VERDICT_BATCH: u16 = 3;

/// `enum nfqnl_attr_type` (the ones lunet reads or writes).
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_MARK: u16 = 3;
const NFQA_IFINDEX_INDEV: u16 = 5;
const NFQA_IFINDEX_OUTDEV: u16 = 6;
const NFQA_HWADDR: u16 = 9;
const NFQA_PAYLOAD: u16 = 10;
const NFQA_CAP_LEN: u16 = 13;

/// `enum nfqnl_attr_config`.
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQA_CFG_MASK: u16 = 4;
const NFQA_CFG_FLAGS: u16 = 5;

/// `NFQNL_CFG_CMD_BIND`.
const NFQNL_CFG_CMD_BIND: u8 = 1;
/// `NFQNL_COPY_PACKET`.
const NFQNL_COPY_PACKET: u8 = 2;
/// `NFQA_CFG_F_FAIL_OPEN`: a full queue accepts packets instead of dropping them.
pub const NFQA_CFG_F_FAIL_OPEN: u32 = 1 << 0;

/// Longest payload a verdict can carry: an attribute's length is a `u16` that counts its
/// 4-byte header (the kernel's `NFQNL_MAX_COPY_RANGE` is the same number).
pub const MAX_PAYLOAD: usize = 0xffff - NLA_HDRLEN;

/// The `nlmsg_type` of an nfnetlink_queue message.
const fn nfq_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_QUEUE << 8) | msg
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Writing messages.

/// Appends netlink messages to a byte buffer, each at a 4-byte boundary (so the buffer holds
/// several messages back to back, ready for one `send`).
#[derive(Debug, Default)]
pub struct MsgWriter {
    buf: Vec<u8>,
    /// Where the open message starts.
    start: usize,
}

impl MsgWriter {
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Opens an nfnetlink_queue message for `queue` (the header's length is set by `end`).
    fn begin(&mut self, msg: u16, flags: u16, seq: u32, queue: u16) {
        self.start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, see `end`
        self.buf.extend_from_slice(&nfq_type(msg).to_ne_bytes());
        self.buf
            .extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it

        // struct nfgenmsg: family (AF_UNSPEC), version, res_id (the queue)
        self.buf.push(0);
        self.buf.push(NFNETLINK_V0);
        self.buf.extend_from_slice(&queue.to_be_bytes());
    }

    /// Appends an attribute, padded to 4 bytes.
    fn attr(&mut self, ty: u16, parts: &[&[u8]]) {
        let len = NLA_HDRLEN + parts.iter().map(|p| p.len()).sum::<usize>();
        debug_assert!(len <= usize::from(u16::MAX));
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.buf.resize(align4(self.buf.len()), 0);
    }

    fn attr_be32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &[&v.to_be_bytes()]);
    }

    /// Closes the open message: its length, padding included.
    fn end(&mut self) {
        let len = (self.buf.len() - self.start) as u32;
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// `NFQNL_MSG_CONFIG` that binds `queue` and sets it up in one go (so no packet is queued
    /// with the defaults in between): copy mode "packet" with `copy_range` bytes, the queue
    /// length, and `flags` for the flag bits in `mask`. Asks for an acknowledgement.
    pub fn config_bind(
        &mut self,
        seq: u32,
        queue: u16,
        copy_range: u32,
        max_len: u32,
        flags: u32,
        mask: u32,
    ) {
        self.begin(NFQNL_MSG_CONFIG, NLM_F_ACK, seq, queue);
        // struct nfqnl_msg_config_cmd: command, pad, pf (unused by BIND)
        self.attr(NFQA_CFG_CMD, &[&[NFQNL_CFG_CMD_BIND, 0, 0, 0]]);
        // struct nfqnl_msg_config_params (packed, 5 bytes): copy_range, copy_mode
        self.attr(
            NFQA_CFG_PARAMS,
            &[&copy_range.to_be_bytes(), &[NFQNL_COPY_PACKET]],
        );
        self.attr_be32(NFQA_CFG_QUEUE_MAXLEN, max_len);
        self.attr_be32(NFQA_CFG_FLAGS, flags);
        self.attr_be32(NFQA_CFG_MASK, mask);
        self.end();
    }

    /// `NFQNL_MSG_VERDICT` for packet `id`, optionally with a new mark and a new payload. The
    /// sequence number is the packet id, so an error the kernel sends back names the packet.
    pub fn verdict(
        &mut self,
        queue: u16,
        id: u32,
        verdict: u32,
        mark: Option<u32>,
        payload: Option<&[u8]>,
    ) {
        self.begin(NFQNL_MSG_VERDICT, 0, id, queue);
        self.attr(
            NFQA_VERDICT_HDR,
            &[&verdict.to_be_bytes(), &id.to_be_bytes()],
        );
        if let Some(m) = mark {
            self.attr_be32(NFQA_MARK, m);
        }
        if let Some(p) = payload {
            self.attr(NFQA_PAYLOAD, &[p]);
        }
        self.end();
    }

    /// `NFQNL_MSG_VERDICT_BATCH`: `verdict` (and the mark, if any) for every packet of the
    /// queue still waiting whose id is not after `max_id`.
    pub fn verdict_batch(&mut self, queue: u16, max_id: u32, verdict: u32, mark: Option<u32>) {
        self.begin(NFQNL_MSG_VERDICT_BATCH, 0, max_id, queue);
        self.attr(
            NFQA_VERDICT_HDR,
            &[&verdict.to_be_bytes(), &max_id.to_be_bytes()],
        );
        if let Some(m) = mark {
            self.attr_be32(NFQA_MARK, m);
        }
        self.end();
    }
}

/// Bytes of a single verdict message with `payload_len` bytes of payload and a mark.
pub fn verdict_msg_len(payload_len: Option<usize>) -> usize {
    NLMSG_HDRLEN
        + NFGENMSG_LEN
        + NLA_HDRLEN
        + 8
        + NLA_HDRLEN
        + 4
        + payload_len.map_or(0, |n| align4(NLA_HDRLEN + n))
}

/// The verdicts of one socket, turned into as few messages as the kernel allows.
///
/// `NFQNL_MSG_VERDICT_BATCH` gives its verdict to *every* packet still waiting in the queue up
/// to an id, so it may only stand for a run of packets when no other packet up to that id is
/// still waiting. The kernel hands packets over in id order, so the packets waiting up to any
/// id this socket has seen are exactly the ones it received and has not yet given a verdict:
/// `outstanding`, in arrival order. A run is therefore a prefix of `outstanding` with one
/// verdict and one mark (or none) and no new payload; anything else is a single
/// `NFQNL_MSG_VERDICT`. Messages are written in the order the verdicts were given, and the
/// kernel handles the messages of one `send` in order.
///
/// When a `send` fails, its verdicts never reached the kernel: those packets still wait there
/// but are no longer in `outstanding`, and a later batch would cover them. So from then on the
/// writer sends single verdicts only ([`lost`](Self::lost)).
#[derive(Debug)]
pub struct VerdictWriter {
    queue: u16,
    msgs: MsgWriter,
    outstanding: VecDeque<u32>,
    run: Option<Run>,
    batches_off: bool,
    /// Verdicts written (a batch message counts its packets).
    pub verdicts: u64,
    /// Messages written, and of them batch messages.
    pub messages: u64,
    pub batch_messages: u64,
}

/// `len` packets from the front of `outstanding`, the last of them `last`.
#[derive(Debug, Clone, Copy)]
struct Run {
    verdict: u32,
    mark: Option<u32>,
    len: usize,
    last: u32,
}

/// A verdict for a packet that is not waiting for one on this socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotWaiting(pub u32);

impl VerdictWriter {
    pub fn new(queue: u16) -> Self {
        VerdictWriter {
            queue,
            msgs: MsgWriter::default(),
            outstanding: VecDeque::new(),
            run: None,
            batches_off: false,
            verdicts: 0,
            messages: 0,
            batch_messages: 0,
        }
    }

    /// Packet `id` was received and waits for a verdict.
    pub fn received(&mut self, id: u32) {
        self.outstanding.push_back(id);
    }

    /// Packets received and without a verdict written (an open run counts as written).
    pub fn waiting(&self) -> usize {
        self.outstanding.len() - self.run.map_or(0, |r| r.len)
    }

    /// Bytes written so far (not counting the open run's one message).
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty() && self.run.is_none()
    }

    /// Writes the verdict of packet `id`.
    pub fn push(
        &mut self,
        id: u32,
        verdict: u32,
        mark: Option<u32>,
        payload: Option<&[u8]>,
    ) -> Result<(), NotWaiting> {
        if payload.is_none() {
            if let Some(run) = &mut self.run {
                if run.verdict == verdict
                    && run.mark == mark
                    && self.outstanding.get(run.len) == Some(&id)
                {
                    run.len += 1;
                    run.last = id;
                    return Ok(());
                }
            }
            self.close_run();
            if !self.batches_off && self.outstanding.front() == Some(&id) {
                self.run = Some(Run {
                    verdict,
                    mark,
                    len: 1,
                    last: id,
                });
                return Ok(());
            }
        } else {
            self.close_run();
        }
        // Not at the front: an out-of-order verdict, or one with a new payload.
        let pos = self
            .outstanding
            .iter()
            .position(|&w| w == id)
            .ok_or(NotWaiting(id))?;
        self.outstanding.remove(pos);
        self.msgs.verdict(self.queue, id, verdict, mark, payload);
        self.verdicts += 1;
        self.messages += 1;
        Ok(())
    }

    /// Writes the open run: one batch message, or a plain verdict for a run of one.
    fn close_run(&mut self) {
        let Some(run) = self.run.take() else { return };
        if run.len == 1 {
            self.msgs
                .verdict(self.queue, run.last, run.verdict, run.mark, None);
        } else {
            self.msgs
                .verdict_batch(self.queue, run.last, run.verdict, run.mark);
            self.batch_messages += 1;
        }
        self.outstanding.drain(..run.len);
        self.verdicts += run.len as u64;
        self.messages += 1;
    }

    /// Every verdict given so far, as messages to send together. Call [`clear`] once sent.
    pub fn finish(&mut self) -> &[u8] {
        self.close_run();
        self.msgs.bytes()
    }

    /// Forgets the written messages once sent.
    pub fn clear(&mut self) {
        self.msgs.clear();
    }

    /// Forgets the written messages after a failed send, and stops writing batch messages.
    pub fn lost(&mut self) {
        self.msgs.clear();
        self.batches_off = true;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading messages.

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
    use super::*;

    /// One message's (type, flags, seq, body) from the front of `b`, and the rest.
    fn split(b: &[u8]) -> ((u16, u16, u32, &[u8]), &[u8]) {
        let len = u32_ne(b, 0) as usize;
        assert_eq!(len % 4, 0, "lengths include the padding");
        (
            (u16_ne(b, 4), u16_ne(b, 6), u32_ne(b, 8), &b[16..len]),
            &b[len..],
        )
    }

    /// The messages in `b` as (type, verdict, id, mark, payload).
    type Decoded = (u16, u32, u32, Option<u32>, Option<Vec<u8>>);

    fn decode_verdicts(mut b: &[u8], queue: u16) -> Vec<Decoded> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let ((ty, flags, seq, body), rest) = split(b);
            b = rest;
            assert_eq!(flags, NLM_F_REQUEST);
            assert_eq!(&body[..4], &[0, 0, (queue >> 8) as u8, queue as u8]);
            let mut attrs = &body[4..];
            let (mut v, mut id, mut mark, mut payload) = (None, 0, None, None);
            while !attrs.is_empty() {
                let len = usize::from(u16_ne(attrs, 0));
                let data = &attrs[4..len];
                match u16_ne(attrs, 2) {
                    NFQA_VERDICT_HDR => {
                        v = be32(data);
                        id = be32(&data[4..]).unwrap();
                    }
                    NFQA_MARK => mark = be32(data),
                    NFQA_PAYLOAD => payload = Some(data.to_vec()),
                    t => panic!("unexpected attribute {t}"),
                }
                attrs = &attrs[align4(len)..];
            }
            assert_eq!(seq, id, "the sequence number is the packet id");
            out.push((ty & 0xff, v.unwrap(), id, mark, payload));
        }
        out
    }

    const V: u16 = NFQNL_MSG_VERDICT;
    const B: u16 = NFQNL_MSG_VERDICT_BATCH;

    #[test]
    fn a_verdict_message_byte_by_byte() {
        let mut w = MsgWriter::default();
        w.verdict(0x1234, 7, 1, Some(0xa0b0c0d0), Some(b"xyz"));
        let len = 16 + 4 + 12 + 8 + 8;
        let mut want = Vec::new();
        want.extend_from_slice(&(len as u32).to_ne_bytes());
        want.extend_from_slice(&0x0301u16.to_ne_bytes()); // NFNL_SUBSYS_QUEUE << 8 | VERDICT
        want.extend_from_slice(&1u16.to_ne_bytes()); // NLM_F_REQUEST
        want.extend_from_slice(&7u32.to_ne_bytes()); // seq = packet id
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0x12, 0x34]); // nfgenmsg, queue big-endian
        want.extend_from_slice(&12u16.to_ne_bytes());
        want.extend_from_slice(&2u16.to_ne_bytes()); // NFQA_VERDICT_HDR
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 7]);
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&3u16.to_ne_bytes()); // NFQA_MARK
        want.extend_from_slice(&[0xa0, 0xb0, 0xc0, 0xd0]);
        want.extend_from_slice(&7u16.to_ne_bytes());
        want.extend_from_slice(&10u16.to_ne_bytes()); // NFQA_PAYLOAD, 3 bytes + 1 of padding
        want.extend_from_slice(b"xyz\0");
        assert_eq!(w.bytes(), want);
        assert_eq!(verdict_msg_len(Some(3)), len);
    }

    #[test]
    fn bind_config_is_one_acked_message() {
        let mut w = MsgWriter::default();
        w.config_bind(
            9,
            20000,
            0xffff,
            4096,
            NFQA_CFG_F_FAIL_OPEN,
            NFQA_CFG_F_FAIL_OPEN,
        );
        let ((ty, flags, seq, body), rest) = split(w.bytes());
        assert!(rest.is_empty());
        assert_eq!((ty, flags, seq), (0x0302, NLM_F_REQUEST | NLM_F_ACK, 9));
        let mut want = vec![0u8, 0, 0x4e, 0x20]; // queue 20000
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(&[1, 0, 0, 0]); // BIND
        want.extend_from_slice(&9u16.to_ne_bytes());
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0xff, 0xff, 2, 0, 0, 0]); // range, COPY_PACKET, padding
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&3u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0x10, 0]); // 4096
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0, 1]); // flags
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&4u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0, 1]); // mask
        assert_eq!(body, want);
    }

    #[test]
    fn runs_of_one_verdict_become_batch_messages() {
        let mut w = VerdictWriter::new(3);
        for id in 10..=20 {
            w.received(id);
        }
        // 10-13 accept, 14-15 drop, 16 accept with a mark, 17-18 accept with the same mark,
        // 19 accept with a payload, 20 accept.
        for id in 10..=13 {
            w.push(id, 1, None, None).unwrap();
        }
        w.push(14, 0, None, None).unwrap();
        w.push(15, 0, None, None).unwrap();
        for id in 16..=18 {
            w.push(id, 1, Some(7), None).unwrap();
        }
        w.push(19, 1, None, Some(b"new")).unwrap();
        w.push(20, 1, None, None).unwrap();
        assert_eq!(w.waiting(), 0);
        let got = decode_verdicts(w.finish(), 3);
        assert_eq!(
            got,
            [
                (B, 1, 13, None, None),
                (B, 0, 15, None, None),
                (B, 1, 18, Some(7), None),
                (V, 1, 19, None, Some(b"new".to_vec())),
                (V, 1, 20, None, None),
            ]
        );
        assert_eq!((w.verdicts, w.messages, w.batch_messages), (11, 5, 3));
        w.clear();
        assert!(w.is_empty());
        assert!(w.finish().is_empty());
    }

    #[test]
    fn a_batch_never_covers_a_packet_still_waiting() {
        let mut w = VerdictWriter::new(0);
        for id in 1..=6 {
            w.received(id);
        }
        // 2 and 3 before 1: 1 still waits, so they get single verdicts.
        w.push(2, 1, None, None).unwrap();
        w.push(3, 1, None, None).unwrap();
        // 1 is at the front now; 4 and 5 follow it in `outstanding`.
        w.push(1, 1, None, None).unwrap();
        w.push(4, 1, None, None).unwrap();
        w.push(5, 1, None, None).unwrap();
        // 6 stays without a verdict.
        let got = decode_verdicts(w.finish(), 0);
        assert_eq!(
            got,
            [
                (V, 1, 2, None, None),
                (V, 1, 3, None, None),
                (B, 1, 5, None, None),
            ]
        );
        assert_eq!(w.waiting(), 1);
        w.clear();
        // A packet given a verdict twice, or never received, is refused.
        assert_eq!(w.push(3, 1, None, None), Err(NotWaiting(3)));
        assert_eq!(w.push(99, 0, None, Some(b"x")), Err(NotWaiting(99)));
        w.push(6, 0, None, None).unwrap();
        assert_eq!(decode_verdicts(w.finish(), 0), [(V, 0, 6, None, None)]);
    }

    #[test]
    fn no_batches_after_a_lost_send() {
        let mut w = VerdictWriter::new(0);
        for id in 1..=4 {
            w.received(id);
        }
        w.push(1, 1, None, None).unwrap();
        w.push(2, 1, None, None).unwrap();
        assert_eq!(decode_verdicts(w.finish(), 0), [(B, 1, 2, None, None)]);
        w.lost();
        // 1 and 2 may still wait in the kernel: a batch up to 4 would accept them too.
        w.push(3, 0, None, None).unwrap();
        w.push(4, 0, None, None).unwrap();
        assert_eq!(
            decode_verdicts(w.finish(), 0),
            [(V, 0, 3, None, None), (V, 0, 4, None, None)]
        );
    }

    #[test]
    fn runs_continue_across_the_id_wrap() {
        let mut w = VerdictWriter::new(1);
        let ids = [u32::MAX - 1, u32::MAX, 0, 1];
        for id in ids {
            w.received(id);
        }
        for id in ids {
            w.push(id, 0, None, None).unwrap();
        }
        assert_eq!(decode_verdicts(w.finish(), 1), [(B, 0, 1, None, None)]);
    }

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
