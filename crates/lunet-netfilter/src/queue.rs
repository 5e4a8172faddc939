//! The NFQUEUE socket: receive queued packets, send verdicts (a thin layer over the `nfq`
//! crate, which speaks nfnetlink_queue directly).
//!
//! The netlink socket belongs to the network namespace of the thread that calls
//! [`QueueSocket::bind`]; afterwards it may be used from any thread.

use crate::error::{Error, Result};
use crate::family::Hook;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

/// Kernel queue length set by [`QueueSocket::bind`]; beyond it packets are accepted unseen
/// (fail-open) instead of dropped.
pub const QUEUE_MAX_LEN: u32 = 4096;

/// Largest replacement payload (the `nfq` verdict buffer holds 64 KiB of payload).
const MAX_PAYLOAD: usize = 0xffff;

/// First and longest sleep of [`QueueSocket::recv_timeout`] when the queue is empty.
const BACKOFF_START: Duration = Duration::from_micros(20);
const BACKOFF_MAX: Duration = Duration::from_millis(1);

/// What happens to a queued packet. The kernel's `NF_STOLEN` is refused from userspace: map it
/// to [`Verdict::Drop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `NF_DROP` (0).
    Drop,
    /// `NF_ACCEPT` (1): continue with the next hook function (the next priority).
    Accept,
    /// `NF_REPEAT` (4): run the same hook function (the whole iptables table, or the nft
    /// chain) again; with a new mark the packet then no longer matches a `--mark` rule.
    Repeat,
    /// `NF_STOP` (5): accept and skip the remaining hook functions of this hook.
    Stop,
}

impl Verdict {
    /// The kernel's `NF_*` number.
    pub const fn raw(self) -> u32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Repeat => 4,
            Verdict::Stop => 5,
        }
    }

    /// From `NF_*`; `NF_STOLEN` (2), `NF_QUEUE` (3) and unknown numbers give `None`.
    pub const fn from_raw(v: u32) -> Option<Verdict> {
        match v {
            0 => Some(Verdict::Drop),
            1 => Some(Verdict::Accept),
            4 => Some(Verdict::Repeat),
            5 => Some(Verdict::Stop),
            _ => None,
        }
    }

    fn to_nfq(self) -> nfq::Verdict {
        match self {
            Verdict::Drop => nfq::Verdict::Drop,
            Verdict::Accept => nfq::Verdict::Accept,
            Verdict::Repeat => nfq::Verdict::Repeat,
            Verdict::Stop => nfq::Verdict::Stop,
        }
    }
}

/// A packet waiting for its verdict. Give it back with [`QueueSocket::verdict`]; dropping it
/// without a verdict leaves the kernel holding it until the socket closes (then it is dropped).
pub struct QueuedPacket {
    msg: nfq::Message,
}

impl QueuedPacket {
    /// The packet from the network header on (IPv4 or IPv6), up to the copy range (64 KiB).
    /// Checksums in it are complete: the kernel resolves offloaded (partial) checksums before
    /// queueing, also for locally generated packets at LOCAL_OUT.
    pub fn payload(&self) -> &[u8] {
        self.msg.get_payload()
    }

    /// Length of the packet before any truncation to the copy range.
    pub fn original_len(&self) -> usize {
        self.msg.get_original_len()
    }

    /// The packet mark (`skb->mark`).
    pub fn mark(&self) -> u32 {
        self.msg.get_nfmark()
    }

    /// ifindex the packet came in on (0 for locally generated packets).
    pub fn indev(&self) -> u32 {
        self.msg.get_indev()
    }

    /// ifindex the packet goes out on (0 before routing, e.g. at PRE_ROUTING and LOCAL_IN).
    pub fn outdev(&self) -> u32 {
        self.msg.get_outdev()
    }

    /// Link-layer source address when the kernel sent one of 6 bytes (Ethernet), e.g. at
    /// PRE_ROUTING / LOCAL_IN; `None` for locally generated packets.
    pub fn hw_source(&self) -> Option<[u8; 6]> {
        self.msg
            .get_hw_addr()
            .and_then(|a| <[u8; 6]>::try_from(a).ok())
    }

    /// Link-layer protocol (the EtherType, e.g. 0x0800 for IPv4).
    pub fn hw_protocol(&self) -> u16 {
        self.msg.get_hw_protocol()
    }

    /// The kernel's hook number (`NF_INET_*`).
    pub fn hook_raw(&self) -> u8 {
        self.msg.get_hook()
    }

    /// The hook, when it is one of the five inet hooks.
    pub fn hook(&self) -> Option<Hook> {
        Hook::from_raw(u32::from(self.hook_raw())).ok()
    }

    /// The kernel's id for this packet in its queue.
    pub fn packet_id(&self) -> u32 {
        self.msg.get_packet_id()
    }

    /// The queue number it came from.
    pub fn queue(&self) -> u16 {
        self.msg.get_queue_num()
    }
}

impl fmt::Debug for QueuedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedPacket")
            .field("queue", &self.queue())
            .field("id", &self.packet_id())
            .field("hook", &self.hook_raw())
            .field("mark", &self.mark())
            .field("indev", &self.indev())
            .field("outdev", &self.outdev())
            .field("hw_protocol", &format_args!("{:#06x}", self.hw_protocol()))
            .field("len", &self.payload().len())
            .finish()
    }
}

/// A bound NFQUEUE (one queue number per socket).
pub struct QueueSocket {
    queue: nfq::Queue,
    num: u16,
}

impl fmt::Debug for QueueSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSocket")
            .field("queue", &self.num)
            .finish()
    }
}

impl QueueSocket {
    /// Opens a netlink socket in the calling thread's network namespace and binds queue
    /// `queue`: copy range 0xffff (whole packets), fail-open (a full queue accepts instead of
    /// dropping), queue length [`QUEUE_MAX_LEN`], nonblocking receives. Fails with `EPERM`
    /// ("Operation not permitted") when another socket in this namespace has the queue.
    pub fn bind(queue: u16) -> Result<Self> {
        let mut q = nfq::Queue::open().map_err(|e| Error::queue("open netlink socket", e))?;
        q.bind(queue)
            .map_err(|e| Error::queue(format!("bind queue {queue}"), e))?;
        q.set_copy_range(queue, 0xffff)
            .map_err(|e| Error::queue(format!("set copy range of queue {queue}"), e))?;
        q.set_fail_open(queue, true)
            .map_err(|e| Error::queue(format!("set fail-open on queue {queue}"), e))?;
        q.set_queue_max_len(queue, QUEUE_MAX_LEN)
            .map_err(|e| Error::queue(format!("set max length of queue {queue}"), e))?;
        q.set_nonblocking(true);
        Ok(QueueSocket {
            queue: q,
            num: queue,
        })
    }

    /// The queue number.
    pub fn queue_num(&self) -> u16 {
        self.num
    }

    /// One packet if one is waiting, without waiting.
    ///
    /// The kernel reports an error for an earlier verdict (e.g. `ENOENT` for an unknown packet
    /// id) on the socket, so it surfaces here, as an `Err` from a later receive.
    pub fn try_recv(&mut self) -> Result<Option<QueuedPacket>> {
        loop {
            match self.queue.recv() {
                Ok(msg) => return Ok(Some(QueuedPacket { msg })),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::queue(format!("receive from queue {}", self.num), e)),
            }
        }
    }

    /// The next packet, or `None` when none came within `timeout`.
    ///
    /// `nfq` keeps its socket descriptor private, so there is nothing to `poll(2)` and no way
    /// to set `SO_RCVTIMEO`; a blocking receive could not be bounded (nor interrupted for a
    /// shutdown). So the socket is nonblocking and, while it is empty, this sleeps with an
    /// exponential backoff from 20 µs to 1 ms: a busy queue is served with little added latency
    /// and an idle one costs about a thousand cheap wakeups a second.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<QueuedPacket>> {
        let deadline = Instant::now() + timeout;
        let mut backoff = BACKOFF_START;
        loop {
            if let Some(p) = self.try_recv()? {
                return Ok(Some(p));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(backoff.min(deadline - now));
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Gives `pkt` back to the kernel with `verdict`, optionally with a new mark and a new
    /// payload (network layer on). The kernel takes the new payload as is: it fixes no
    /// checksum and no length field (a UDP packet with a stale checksum is later dropped as
    /// `InCsumErrors`; over IPv4 set the UDP checksum to 0 or recompute it), and no error comes
    /// back for a malformed one. The payload is ignored for [`Verdict::Drop`].
    pub fn verdict(
        &mut self,
        pkt: QueuedPacket,
        verdict: Verdict,
        new_mark: Option<u32>,
        new_payload: Option<Vec<u8>>,
    ) -> Result<()> {
        let mut msg = pkt.msg;
        if let Some(mark) = new_mark {
            msg.set_nfmark(mark);
        }
        if let Some(payload) = new_payload {
            if payload.len() > MAX_PAYLOAD {
                return Err(Error::Invalid(format!(
                    "replacement payload of {} bytes exceeds {MAX_PAYLOAD}",
                    payload.len()
                )));
            }
            if verdict != Verdict::Drop {
                msg.set_payload(payload);
            }
        }
        msg.set_verdict(verdict.to_nfq());
        self.queue
            .verdict(msg)
            .map_err(|e| Error::queue(format!("verdict {verdict:?} on queue {}", self.num), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_numbers() {
        for v in [
            Verdict::Drop,
            Verdict::Accept,
            Verdict::Repeat,
            Verdict::Stop,
        ] {
            assert_eq!(Verdict::from_raw(v.raw()), Some(v));
        }
        assert_eq!(Verdict::from_raw(2), None, "NF_STOLEN");
        assert_eq!(Verdict::from_raw(3), None, "NF_QUEUE");
    }
}
