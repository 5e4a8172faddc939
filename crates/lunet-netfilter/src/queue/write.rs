//! Writing nfnetlink_queue messages: the queue's configuration and single and batch
//! verdicts, as plain bytes (no I/O, no `unsafe`).

use super::uapi::*;

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
        self.verdict_msg(NFQNL_MSG_VERDICT, queue, id, verdict, mark, payload, None);
    }

    /// [`verdict`](Self::verdict) that also sets the connection's conntrack mark
    /// (`NFQA_CT` with `CTA_MARK`; the kernel applies it when the queue has
    /// `NFQA_CFG_F_CONNTRACK`).
    pub fn verdict_ct(
        &mut self,
        queue: u16,
        id: u32,
        verdict: u32,
        mark: Option<u32>,
        payload: Option<&[u8]>,
        connmark: Option<u32>,
    ) {
        self.verdict_msg(
            NFQNL_MSG_VERDICT,
            queue,
            id,
            verdict,
            mark,
            payload,
            connmark,
        );
    }

    /// `NFQNL_MSG_VERDICT_BATCH`: `verdict` (and the mark, if any) for every packet of the
    /// queue still waiting whose id is not after `max_id`.
    pub fn verdict_batch(&mut self, queue: u16, max_id: u32, verdict: u32, mark: Option<u32>) {
        self.verdict_msg(
            NFQNL_MSG_VERDICT_BATCH,
            queue,
            max_id,
            verdict,
            mark,
            None,
            None,
        );
    }

    /// A verdict message of type `msg` for packet `id` (the last one, for a batch), whose id
    /// is also the sequence number.
    #[allow(clippy::too_many_arguments)]
    fn verdict_msg(
        &mut self,
        msg: u16,
        queue: u16,
        id: u32,
        verdict: u32,
        mark: Option<u32>,
        payload: Option<&[u8]>,
        connmark: Option<u32>,
    ) {
        self.begin(msg, 0, id, queue);
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
        if let Some(m) = connmark {
            // NFQA_CT, nested: one CTA_MARK (be32) inside.
            let mut inner = Vec::with_capacity(8);
            inner.extend_from_slice(&8u16.to_ne_bytes());
            inner.extend_from_slice(&CTA_MARK.to_ne_bytes());
            inner.extend_from_slice(&m.to_be_bytes());
            self.attr(NFQA_CT | NLA_F_NESTED, &[&inner]);
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

/// Bytes a connection mark adds to a verdict message (`NFQA_CT` around `CTA_MARK`).
pub const CONNMARK_LEN: usize = 2 * NLA_HDRLEN + 4;

/// One message's (type, flags, seq, body) from the front of `b`, and the rest.
#[cfg(test)]
pub(super) fn split(b: &[u8]) -> ((u16, u16, u32, &[u8]), &[u8]) {
    let len = u32_ne(b, 0) as usize;
    assert_eq!(len % 4, 0, "lengths include the padding");
    (
        (u16_ne(b, 4), u16_ne(b, 6), u32_ne(b, 8), &b[16..len]),
        &b[len..],
    )
}

/// The messages in `b` as (type, verdict, id, mark, payload).
#[cfg(test)]
pub(super) type Decoded = (u16, u32, u32, Option<u32>, Option<Vec<u8>>);

/// Reads back the verdict messages of `b`, checking their headers for `queue`.
#[cfg(test)]
pub(super) fn decode_verdicts(mut b: &[u8], queue: u16) -> Vec<Decoded> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_verdict_with_a_connection_mark_nests_it_in_nfqa_ct() {
        let mut w = MsgWriter::default();
        w.verdict_ct(5, 77, 1, None, None, Some(0xabcd));
        let ((ty, _, seq, body), rest) = split(w.bytes());
        assert!(rest.is_empty());
        assert_eq!((ty, seq), (0x0301, 77));
        // nfgenmsg, NFQA_VERDICT_HDR (12), then NFQA_CT (4 + CTA_MARK 8).
        let ct = &body[4 + 12..];
        assert_eq!(ct.len(), 12);
        assert_eq!(u16::from_ne_bytes([ct[0], ct[1]]), 12);
        assert_eq!(u16::from_ne_bytes([ct[2], ct[3]]), NFQA_CT | NLA_F_NESTED);
        assert_eq!(u16::from_ne_bytes([ct[6], ct[7]]), CTA_MARK);
        assert_eq!(&ct[8..], &0xabcdu32.to_be_bytes());
        assert_eq!(
            w.len(),
            verdict_msg_len(None) - NLA_HDRLEN - 4 + CONNMARK_LEN
        );
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
}
