//! The NFQUEUE socket: receive queued packets, send verdicts. lunet's own nfnetlink_queue
//! client on a raw `NETLINK_NETFILTER` socket: `uapi` has the kernel's numbers, `write`,
//! `verdicts` and `read` make and read the messages, `packet` is what a consumer holds, and
//! `sys` holds every libc call.
//!
//! Built for a consumer that handles packets in batches:
//!
//! * the socket's descriptor is exposed ([`AsFd`], [`AsRawFd`]) so the consumer can block in
//!   `poll(2)` ([`Poller`] waits on several queues at once);
//! * its receive buffer is large (`SO_RCVBUFFORCE`, else `SO_RCVBUF` up to
//!   `net.core.rmem_max`), so the kernel's queue of [`QUEUE_MAX_LEN`] packets, not the
//!   socket, decides when packets start to be accepted unseen (fail-open);
//! * [`QueueSocket::recv_batch`] takes up to 64 packets per `recvmmsg(2)` call;
//!   [`QueueSocket::recv_batch_wait`] also waits for them inside that call (a consumer of one
//!   queue then needs no `poll(2)` per batch);
//! * verdicts are collected with [`QueueSocket::push_verdict`] and sent together by
//!   [`QueueSocket::flush_verdicts`], in one `send(2)`; a run of packets in arrival order with
//!   the same verdict (and mark) and no new payload becomes one `NFQNL_MSG_VERDICT_BATCH`.
//!
//! Each [`QueuedPacket`] owns its payload in one `Vec` (copied once, out of the receive buffer,
//! which is reused by the next receive); [`QueuedPacket::take_payload`] hands that `Vec` on
//! (e.g. to a Lua hook) without another copy.
//!
//! The netlink socket belongs to the network namespace of the thread that calls
//! [`QueueSocket::bind`]; afterwards it may be used from any thread.

mod conntrack;
mod packet;
mod proc;
mod read;
mod sys;
mod uapi;
mod verdicts;
mod wait;
mod write;

pub use conntrack::{ConntrackSocket, Tuple};
pub use packet::{QueuedPacket, Verdict};
pub use proc::{kernel_queue_stats, KernelQueueStats};

use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use read::{Event, Request};
use sys::{NetlinkSocket, Received, SockOpt, MAX_DATAGRAMS};
use verdicts::{NotWaiting, VerdictWriter};
use write::MsgWriter;

/// Kernel queue length set by [`QueueSocket::bind`]; beyond it packets are accepted unseen
/// (fail-open) instead of dropped.
pub const QUEUE_MAX_LEN: u32 = 4096;

/// Most packets one [`QueueSocket::recv_batch`] system call receives.
pub const RECV_BATCH: usize = MAX_DATAGRAMS;

/// Largest replacement payload: a netlink attribute's length is 16 bits and counts its header.
pub const MAX_PAYLOAD: usize = uapi::MAX_PAYLOAD;

/// Copy range asked for: whole packets (the kernel caps it at [`MAX_PAYLOAD`]).
const COPY_RANGE: u32 = 0xffff;

/// Receive buffer asked for (the kernel doubles it for its bookkeeping). A queued 60-byte
/// packet takes about 1 KiB of it, a 1500-byte one under 3 KiB.
const RECV_BUFFER: i32 = 8 << 20;

/// Room for one received message: the largest payload plus every attribute the kernel may put
/// before it. Larger messages cannot come with the copy range above.
const SLOT: usize = 65536 + 4096;

/// Verdict bytes sent in one `send(2)` at most (well below the default send buffer of
/// 208 KiB, which netlink requires a message to fit).
const SEND_LIMIT: usize = 128 << 10;

/// How long [`QueueSocket::bind`] waits for the kernel's answer.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters of one [`QueueSocket`] since it was bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Packets received.
    pub packets: u64,
    /// `recvmmsg` calls that returned something.
    pub receives: u64,
    /// Verdicts given.
    pub verdicts: u64,
    /// Verdict messages written for them, and how many of those were batch messages.
    pub verdict_messages: u64,
    pub batch_messages: u64,
    /// `send` calls that carried them.
    pub sends: u64,
}

/// A bound NFQUEUE (one queue number per socket).
pub struct QueueSocket {
    sock: NetlinkSocket,
    num: u16,
    /// [`MAX_DATAGRAMS`] slots of [`SLOT`] bytes for `recvmmsg`. Zeroed lazily by the
    /// allocator: only the pages messages were written to are ever touched.
    arena: Vec<u8>,
    /// Packets received and not handed out yet.
    ready: VecDeque<QueuedPacket>,
    /// An error read behind packets, reported by the next receive.
    deferred: Option<Error>,
    verdicts: VerdictWriter,
    /// The answer to a configuration request: (sequence number, errno; 0 for success).
    config_reply: Option<(u32, i32)>,
    seq: u32,
    recv_buffer: usize,
    /// Whether packets come with their conntrack entry (`NFQA_CFG_F_CONNTRACK`).
    conntrack: bool,
    /// The receive timeout set for [`QueueSocket::recv_batch_wait`] (`None`: the socket is
    /// still nonblocking).
    wait_timeout: Option<Duration>,
    packets: u64,
    receives: u64,
    sends: u64,
}

impl fmt::Debug for QueueSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSocket")
            .field("queue", &self.num)
            .field("fd", &self.sock.as_raw_fd())
            .finish()
    }
}

impl QueueSocket {
    /// Opens a netlink socket in the calling thread's network namespace and binds queue
    /// `queue`: copy range 0xffff (whole packets), fail-open (a full queue accepts instead of
    /// dropping), queue length [`QUEUE_MAX_LEN`], a receive buffer of 16 MiB where the
    /// process may force it (root), nonblocking receives. Fails with `EPERM` ("Operation not
    /// permitted") when another socket in this namespace has the queue.
    pub fn bind(queue: u16) -> Result<Self> {
        QueueSocket::bind_with(queue, true)
    }

    /// [`QueueSocket::bind`], fail-open or fail-closed: with `fail_open` false a full queue
    /// (or a full socket) drops packets, and the kernel counts them (`queue_dropped`,
    /// `user_dropped` in `/proc/net/netfilter/nfnetlink_queue`).
    pub fn bind_with(queue: u16, fail_open: bool) -> Result<Self> {
        let sock =
            NetlinkSocket::open_netfilter().map_err(|e| Error::queue("open netlink socket", e))?;
        let op = |what: &str| format!("{what} of queue {queue}");
        if sock.set_opt(SockOpt::RcvBufForce, RECV_BUFFER).is_err() {
            sock.set_opt(SockOpt::RcvBuf, RECV_BUFFER)
                .map_err(|e| Error::queue(op("set the receive buffer"), e))?;
        }
        let recv_buffer =
            sock.get_opt(SockOpt::RcvBuf)
                .map_err(|e| Error::queue(op("read the receive buffer"), e))? as usize;
        // A full socket is fail-open's business, not an error for the reader.
        sock.set_opt(SockOpt::NoEnobufs, 1)
            .map_err(|e| Error::queue(op("set NETLINK_NO_ENOBUFS"), e))?;
        // Errors for rejected verdicts then do not echo their payload (Linux 4.3 and later;
        // without it they are just longer).
        let _ = sock.set_opt(SockOpt::CapAck, 1);
        let mut q = QueueSocket {
            sock,
            num: queue,
            arena: vec![0; MAX_DATAGRAMS * SLOT],
            ready: VecDeque::new(),
            deferred: None,
            verdicts: VerdictWriter::new(queue),
            config_reply: None,
            seq: 0,
            recv_buffer,
            conntrack: false,
            wait_timeout: None,
            packets: 0,
            receives: 0,
            sends: 0,
        };
        let open = if fail_open {
            uapi::NFQA_CFG_F_FAIL_OPEN
        } else {
            0
        };
        // With conntrack information where the kernel has it (ctnetlink built in): scripts
        // read and set the connection's mark. A kernel without it refuses the flag with
        // EOPNOTSUPP before binding anything; then the queue binds without it.
        let ct = uapi::NFQA_CFG_F_CONNTRACK;
        let mask = uapi::NFQA_CFG_F_FAIL_OPEN | ct;
        for flags in [open | ct, open] {
            let mut msg = MsgWriter::default();
            q.seq += 1;
            msg.config_bind(q.seq, queue, COPY_RANGE, QUEUE_MAX_LEN, flags, mask);
            match q.request(msg.bytes()) {
                Ok(()) => {
                    q.conntrack = flags & ct != 0;
                    return Ok(q);
                }
                Err(e) if flags & ct != 0 && e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
                Err(e) => return Err(Error::queue(format!("bind queue {queue}"), e)),
            }
        }
        Err(Error::queue(
            format!("bind queue {queue}"),
            io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        ))
    }

    /// Sends a configuration request and waits for its acknowledgement. Packets that come
    /// meanwhile (rules may already feed the queue) are kept for the next receive.
    fn request(&mut self, msg: &[u8]) -> io::Result<()> {
        let seq = self.seq;
        self.sock.send(msg)?;
        let deadline = Instant::now() + CONFIG_TIMEOUT;
        loop {
            if self.receive(MAX_DATAGRAMS)? == 0 {
                let now = Instant::now();
                if now >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel",
                    ));
                }
                self.sock.wait_readable(deadline - now)?;
            }
            match self.config_reply.take() {
                Some((s, 0)) if s == seq => return Ok(()),
                Some((s, errno)) if s == seq => return Err(io::Error::from_raw_os_error(errno)),
                _ => {}
            }
        }
    }

    /// Whether packets come with their conntrack entry (and verdicts can set its mark): the
    /// kernel has ctnetlink.
    pub fn conntrack(&self) -> bool {
        self.conntrack
    }

    /// The queue number.
    pub fn queue_num(&self) -> u16 {
        self.num
    }

    /// The receive buffer in effect, in bytes (as the kernel counts it, bookkeeping included).
    pub fn recv_buffer(&self) -> usize {
        self.recv_buffer
    }

    /// Packets received from the kernel and not handed out yet (by the receive calls). Only
    /// packets that came while [`bind`](Self::bind) waited for the kernel's answer, or more
    /// than a [`recv_batch`](Self::recv_batch) asked for, wait here; a consumer that polls
    /// the descriptor should take these first, as `poll(2)` does not see them.
    pub fn buffered(&self) -> usize {
        self.ready.len()
    }

    /// Counters since the socket was bound.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            packets: self.packets,
            receives: self.receives,
            verdicts: self.verdicts.verdicts,
            verdict_messages: self.verdicts.messages,
            batch_messages: self.verdicts.batch_messages,
            sends: self.sends,
        }
    }

    /// One `recvmmsg` of up to `want` datagrams; their packets go to `ready`, a configuration
    /// answer to `config_reply`, the first error to `deferred`. Returns how many datagrams
    /// came (0: nothing was waiting).
    fn receive(&mut self, want: usize) -> io::Result<usize> {
        self.receive_or_wait(want, false)
    }

    /// [`receive`](Self::receive) that, with `wait`, waits for the first datagram up to the
    /// socket's receive timeout.
    fn receive_or_wait(&mut self, want: usize, wait: bool) -> io::Result<usize> {
        let mut got = [Received::default(); MAX_DATAGRAMS];
        let want = want.clamp(1, MAX_DATAGRAMS);
        let n = self
            .sock
            .recv_many(&mut self.arena, SLOT, &mut got[..want], wait)?;
        if n == 0 {
            return Ok(0);
        }
        self.receives += 1;
        let num = self.num;
        let mut first_error: Option<Error> = None;
        let mut keep = |e: Error| {
            first_error.get_or_insert(e);
        };
        for (i, r) in got[..n].iter().enumerate() {
            let datagram = &self.arena[i * SLOT..i * SLOT + r.len];
            if r.truncated {
                keep(Error::queue(
                    format!("receive from queue {num}"),
                    io::Error::new(io::ErrorKind::InvalidData, "message truncated"),
                ));
            }
            for event in read::messages(datagram) {
                match event {
                    Ok(Event::Packet(p)) => {
                        self.verdicts.received(p.id);
                        self.ready.push_back(QueuedPacket::from_msg(&p));
                        self.packets += 1;
                    }
                    Ok(Event::Ack { seq }) => self.config_reply = Some((seq, 0)),
                    Ok(Event::Error {
                        errno,
                        seq,
                        request: Request::Config,
                    }) => self.config_reply = Some((seq, errno)),
                    Ok(Event::Error {
                        errno,
                        seq,
                        request,
                    }) => keep(Error::queue(
                        format!("{request} {seq} on queue {num}"),
                        io::Error::from_raw_os_error(errno),
                    )),
                    Ok(Event::Other) => {}
                    Err(m) => keep(Error::queue(
                        format!("receive from queue {num}"),
                        io::Error::new(io::ErrorKind::InvalidData, m.to_string()),
                    )),
                }
            }
        }
        if let Some(e) = first_error {
            self.deferred.get_or_insert(e);
        }
        Ok(n)
    }

    fn recv_error(&self, e: io::Error) -> Error {
        Error::queue(format!("receive from queue {}", self.num), e)
    }

    /// One packet if one is waiting, without waiting.
    ///
    /// The kernel reports an error for an earlier verdict (e.g. `ENOENT` for an unknown packet
    /// id) on the socket, so it surfaces here, as an `Err` from a later receive (after the
    /// packets that came before it).
    pub fn try_recv(&mut self) -> Result<Option<QueuedPacket>> {
        if self.ready.is_empty() {
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
            self.receive(MAX_DATAGRAMS)
                .map_err(|e| self.recv_error(e))?;
        }
        match self.ready.pop_front() {
            Some(p) => Ok(Some(p)),
            None => self.deferred.take().map_or(Ok(None), Err),
        }
    }

    /// Appends to `out` the packets waiting, up to `max`, without waiting: one `recvmmsg(2)`
    /// per [`RECV_BATCH`] packets, and no system call per packet. Returns how many it
    /// appended (0: none was waiting). Packets are kept for the next call only when it
    /// returns `max`, so a consumer that calls it again until it returns less than `max` has
    /// emptied the socket and may `poll(2)` it.
    ///
    /// Errors for earlier verdicts come back as in [`try_recv`](Self::try_recv): an `Err`
    /// from the call after the one that returned the packets read before the error.
    pub fn recv_batch(&mut self, out: &mut Vec<QueuedPacket>, max: usize) -> Result<usize> {
        if self.ready.is_empty() {
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
        }
        let start = out.len();
        loop {
            while out.len() - start < max {
                match self.ready.pop_front() {
                    Some(p) => out.push(p),
                    None => break,
                }
            }
            let have = out.len() - start;
            if have >= max {
                break;
            }
            let want = (max - have).min(MAX_DATAGRAMS);
            match self.receive(want) {
                Ok(n) if n == want => continue,
                Ok(0) => break,
                Ok(_) => {
                    // Fewer than asked for: the socket is empty now.
                    out.extend(self.ready.drain(..self.ready.len().min(max - have)));
                    break;
                }
                Err(e) if have > 0 => {
                    let e = self.recv_error(e);
                    self.deferred.get_or_insert(e);
                    break;
                }
                Err(e) => return Err(self.recv_error(e)),
            }
        }
        let n = out.len() - start;
        if n == 0 {
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
        }
        Ok(n)
    }

    /// The next packet, or `None` when none came within `timeout` (waits in `poll(2)`).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<QueuedPacket>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.try_recv()? {
                return Ok(Some(p));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.sock
                .wait_readable(deadline - now)
                .map_err(|e| self.recv_error(e))?;
        }
    }

    /// Gives `pkt` back to the kernel with `verdict`, optionally with a new mark and a new
    /// payload (network layer on), at once: [`push_verdict`](Self::push_verdict) and
    /// [`flush_verdicts`](Self::flush_verdicts).
    pub fn verdict(
        &mut self,
        pkt: QueuedPacket,
        verdict: Verdict,
        new_mark: Option<u32>,
        new_payload: Option<Vec<u8>>,
    ) -> Result<()> {
        self.push_verdict(pkt, verdict, new_mark, new_payload)?;
        self.flush_verdicts()
    }

    /// Adds the verdict for `pkt` to the ones [`flush_verdicts`](Self::flush_verdicts) sends
    /// (it sends them itself when they fill 128 KiB), optionally with a new mark and a new
    /// payload (network layer on). The kernel takes the new payload as is: it fixes no
    /// checksum and no length field (a UDP packet with a stale checksum is later dropped as
    /// `InCsumErrors`; over IPv4 set the UDP checksum to 0 or recompute it), and no error
    /// comes back for a malformed one. The payload is ignored for [`Verdict::Drop`].
    ///
    /// A payload longer than [`MAX_PAYLOAD`] cannot be sent: the packet is dropped and the
    /// error says so. A packet from another queue is refused (and gets no verdict).
    pub fn push_verdict(
        &mut self,
        pkt: QueuedPacket,
        verdict: Verdict,
        new_mark: Option<u32>,
        new_payload: Option<Vec<u8>>,
    ) -> Result<()> {
        self.push_verdict_ct(pkt, verdict, new_mark, new_payload, None)
    }

    /// [`push_verdict`](Self::push_verdict) that also sets the mark of the packet's
    /// connection (when the queue has [`conntrack`](Self::conntrack) and the packet a
    /// conntrack entry; otherwise the kernel ignores it).
    pub fn push_verdict_ct(
        &mut self,
        pkt: QueuedPacket,
        verdict: Verdict,
        new_mark: Option<u32>,
        new_payload: Option<Vec<u8>>,
        connmark: Option<u32>,
    ) -> Result<()> {
        let connmark = connmark.filter(|_| self.conntrack);
        if pkt.queue() != self.num {
            return Err(Error::Invalid(format!(
                "packet {} of queue {} given to queue {}",
                pkt.packet_id(),
                pkt.queue(),
                self.num
            )));
        }
        let mut too_long = None;
        let (verdict, payload) = match new_payload {
            Some(p) if p.len() > MAX_PAYLOAD => {
                too_long = Some(p.len());
                (Verdict::Drop, None)
            }
            Some(p) if verdict != Verdict::Drop => (verdict, Some(p)),
            _ => (verdict, None),
        };
        let connmark = connmark.filter(|_| verdict != Verdict::Drop);
        let size = write::verdict_msg_len(payload.as_ref().map(Vec::len))
            + connmark.map_or(0, |_| write::CONNMARK_LEN);
        if self.verdicts.len() + size > SEND_LIMIT {
            self.flush_verdicts()?;
        }
        self.verdicts
            .push_ct(
                pkt.packet_id(),
                verdict.raw(),
                new_mark,
                payload.as_deref(),
                connmark,
            )
            .map_err(|NotWaiting(id)| {
                Error::Invalid(format!(
                    "packet {id} is not waiting for a verdict on queue {}",
                    self.num
                ))
            })?;
        match too_long {
            Some(n) => Err(Error::Invalid(format!(
                "replacement payload of {n} bytes exceeds {MAX_PAYLOAD}: packet {} dropped",
                pkt.packet_id()
            ))),
            None => Ok(()),
        }
    }

    /// Packets received (handed out or not) that have no verdict yet, pushed or sent.
    pub fn awaiting_verdict(&self) -> usize {
        self.verdicts.waiting()
    }

    /// Verdicts pushed and not sent yet.
    pub fn has_pending_verdicts(&self) -> bool {
        !self.verdicts.is_empty()
    }

    /// Sends the pushed verdicts, all in one `send(2)` (nothing when there are none). The
    /// kernel applies them in order before this returns; an error for one of them (e.g. an
    /// id the kernel no longer holds) comes back later, from a receive. When the send itself
    /// fails, none of them applies: those packets wait in the kernel until the socket closes,
    /// and the socket sends no batch message any more (one could cover them).
    pub fn flush_verdicts(&mut self) -> Result<()> {
        if self.verdicts.is_empty() {
            return Ok(());
        }
        let sent = self.sock.send(self.verdicts.finish());
        self.sends += 1;
        match sent {
            Ok(()) => {
                self.verdicts.clear();
                Ok(())
            }
            Err(e) => {
                // Those packets stay in the kernel's queue (until the socket closes).
                self.verdicts.lost();
                Err(Error::queue(
                    format!("send verdicts on queue {}", self.num),
                    e,
                ))
            }
        }
    }
}

impl Drop for QueueSocket {
    /// Sends the verdicts pushed and not flushed; the kernel drops the packets still waiting
    /// when the socket closes.
    fn drop(&mut self) {
        let _ = self.flush_verdicts();
    }
}

impl AsFd for QueueSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for QueueSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Waits on several queues at once with `poll(2)` (reusing its descriptor list).
#[derive(Debug, Default)]
pub struct Poller {
    set: sys::PollSet,
}

impl Poller {
    pub fn new() -> Poller {
        Poller::default()
    }

    /// Waits up to `timeout` until one of `fds` (e.g. [`QueueSocket::as_fd`] of each queue)
    /// has something to read (or an error to report); returns how many have. 0 means the
    /// timeout passed, or a signal came. With no descriptors it sleeps for `timeout`.
    pub fn wait<'a>(
        &mut self,
        fds: impl IntoIterator<Item = BorrowedFd<'a>>,
        timeout: Duration,
    ) -> Result<usize> {
        self.set.set(fds);
        self.set
            .wait(timeout)
            .map_err(|e| Error::queue("poll the queues", e))
    }

    /// Whether the `i`th descriptor of the last [`wait`](Self::wait) is ready.
    pub fn is_ready(&self, i: usize) -> bool {
        self.set.ready(i)
    }
}
