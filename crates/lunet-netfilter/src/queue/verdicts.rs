//! Turning the verdicts of one socket into as few messages as the kernel allows: runs of one
//! verdict become `NFQNL_MSG_VERDICT_BATCH` messages (see [`VerdictWriter`]).

use std::collections::VecDeque;

use super::write::MsgWriter;

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
    #[cfg(test)]
    pub fn push(
        &mut self,
        id: u32,
        verdict: u32,
        mark: Option<u32>,
        payload: Option<&[u8]>,
    ) -> Result<(), NotWaiting> {
        self.push_ct(id, verdict, mark, payload, None)
    }

    /// [`push`](Self::push), also setting the connection's mark (never in a batch).
    pub fn push_ct(
        &mut self,
        id: u32,
        verdict: u32,
        mark: Option<u32>,
        payload: Option<&[u8]>,
        connmark: Option<u32>,
    ) -> Result<(), NotWaiting> {
        if payload.is_none() && connmark.is_none() {
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
        self.msgs
            .verdict_ct(self.queue, id, verdict, mark, payload, connmark);
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

#[cfg(test)]
mod tests {
    use super::super::uapi::{NFQNL_MSG_VERDICT, NFQNL_MSG_VERDICT_BATCH};
    use super::super::write::decode_verdicts;
    use super::*;

    const V: u16 = NFQNL_MSG_VERDICT;
    const B: u16 = NFQNL_MSG_VERDICT_BATCH;

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
}
