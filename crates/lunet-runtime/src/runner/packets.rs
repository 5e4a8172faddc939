//! The state's thread at work: asleep in `poll(2)` on its queues until one has packets, then
//! each ready queue drained in batches (one `recvmmsg(2)` each), every packet run through its
//! group's hooks in order, and the batch's verdicts sent in one `send(2)`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use lunet_lua::{HookError, Log, NfPacket, State, Stream};
use lunet_netfilter::{Poller, QueueSocket, QueuedPacket, Verdict, RECV_BATCH};
use lunet_types::{nf, xdp};

use super::connmarks::CtMarks;
use super::link::Link;
use super::Control;

/// Longest the state's thread sleeps in poll(2) before it looks at its stop flag again.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Batches taken from one queue before the next queue's turn.
const DRAIN_BATCHES: usize = 16;
/// The memory figure is refreshed after this many packets, or this long.
const MEMORY_PACKETS: u64 = 1024;
const MEMORY_EVERY: Duration = Duration::from_millis(100);

/// One queue and the hooks it feeds, in the order they run.
pub struct Group {
    pub queue: QueueSocket,
    /// `(hook id, mark it wants, default verdict)`.
    pub hooks: Vec<(usize, u32, u32)>,
    /// What the group's consumer has done, for `stats` (read from other threads).
    pub counters: Arc<QueueCounters>,
    repeats: Repeats,
    /// The group's hooks are XDP hooks in the Lua tier: each gets the whole frame and
    /// returns an XDP action ([`decide_xdp`]).
    xdp: bool,
    /// The state's flow map, where `skb:flow()` verdicts go after each call.
    pub flows: Option<Arc<lunet_bpf::Map>>,
}

impl Group {
    pub fn new(queue: QueueSocket, hooks: Vec<(usize, u32, u32)>, xdp: bool) -> Group {
        Group {
            queue,
            hooks,
            counters: Arc::default(),
            repeats: Repeats::default(),
            xdp,
            flows: None,
        }
    }
}

/// A queue's packets as its consumer counted them.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Packets whose verdict went back to the kernel.
    pub judged: AtomicU64,
    /// Packets whose hook returned REPEAT [`MAX_REPEATS`] times: they got its default verdict.
    pub repeats_cut: AtomicU64,
}

/// Times one packet may be sent back with REPEAT before it gets the hook's default verdict:
/// each REPEAT makes the kernel run the table again, which queues the packet again, so a hook
/// that always repeats would spin one CPU forever.
pub const MAX_REPEATS: u8 = 16;

/// Packets a hook sent back with REPEAT, by a hash of their bytes and mark (the kernel queues
/// a repeated packet again under a new id: its bytes are how it is known again).
#[derive(Default)]
struct Repeats {
    seen: HashMap<u64, (u8, Instant)>,
}

impl Repeats {
    /// One more REPEAT for this packet; whether it has had its last.
    fn again(&mut self, bytes: &[u8], mark: u32, now: Instant) -> bool {
        if self.seen.len() > 4096 {
            self.seen
                .retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(1));
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        mark.hash(&mut h);
        let key = h.finish();
        let entry = self.seen.entry(key).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
        if entry.0 >= MAX_REPEATS {
            self.seen.remove(&key);
            true
        } else {
            false
        }
    }
}

/// Serves the queues of `groups` with the hooks of `state` until `stop` is set (then `None`)
/// or an order comes in `orders` (then the order, between two batches); keeps `memory` (the
/// state's memory use) fresh.
pub(crate) fn serve(
    state: &State,
    groups: &mut [Group],
    log: &Log,
    stop: &AtomicBool,
    memory: &AtomicUsize,
    orders: &mpsc::Receiver<Control>,
) -> Option<Control> {
    let mut poller = Poller::new();
    let mut batch: Vec<QueuedPacket> = Vec::with_capacity(RECV_BATCH);
    let mut link = Link::default();
    if groups.iter().any(|g| !g.queue.conntrack()) {
        state.set_conn_marks(Box::new(CtMarks::default()));
    }
    let mut since_memory: u64 = 0;
    let mut memory_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(order) = orders.try_recv() {
            return Some(order);
        }
        if let [g] = groups {
            // One queue: asleep in its recvmmsg(2) until packets come (or POLL_TIMEOUT
            // passes, for the stop flag and the orders), no poll(2) per batch.
            let n = match g
                .queue
                .recv_batch_wait(&mut batch, RECV_BATCH, POLL_TIMEOUT)
            {
                Ok(n) => n,
                Err(e) => {
                    // As with poll(2) below: an error for an earlier verdict is reported
                    // once, and the queue is read on at once.
                    log.push(Stream::Error, format!("queue receive failed: {e}"));
                    0
                }
            };
            if n > 0 {
                judge_batch(state, g, &mut batch, &mut link, log);
                since_memory += n as u64;
            }
        } else {
            since_memory += serve_polled(state, groups, &mut poller, &mut batch, &mut link, log);
        }
        if since_memory >= MEMORY_PACKETS || memory_at.elapsed() >= MEMORY_EVERY {
            memory.store(state.memory_used(), Ordering::Relaxed);
            since_memory = 0;
            memory_at = Instant::now();
        }
    }
    None
}

/// Runs a received batch through the hooks, sends its verdicts in one send(2) and counts it.
fn judge_batch(
    state: &State,
    g: &mut Group,
    batch: &mut Vec<QueuedPacket>,
    link: &mut Link,
    log: &Log,
) {
    let n = batch.len();
    for pkt in batch.drain(..) {
        decide(state, g, pkt, link);
    }
    if let Err(e) = g.queue.flush_verdicts() {
        log.push(Stream::Error, format!("sending verdicts failed: {e}"));
    }
    g.counters.judged.fetch_add(n as u64, Ordering::Relaxed);
}

/// One round over several queues: asleep in poll(2) until one has packets, then each ready
/// queue drained. Returns the packets judged.
fn serve_polled(
    state: &State,
    groups: &mut [Group],
    poller: &mut Poller,
    batch: &mut Vec<QueuedPacket>,
    link: &mut Link,
    log: &Log,
) -> u64 {
    let mut judged = 0;
    {
        // Asleep in poll(2) until a queue has packets (or POLL_TIMEOUT passes, for the stop
        // flag); packets a queue already holds (received while binding) need no waiting.
        let buffered = groups.iter().any(|g| g.queue.buffered() > 0);
        let timeout = if buffered {
            Duration::ZERO
        } else {
            POLL_TIMEOUT
        };
        let fds = groups.iter().map(|g| g.queue.as_fd());
        if let Err(e) = poller.wait(fds, timeout) {
            log.push(Stream::Error, format!("waiting for packets failed: {e}"));
            std::thread::sleep(POLL_TIMEOUT);
            return 0;
        }
        for (i, g) in groups.iter_mut().enumerate() {
            if !poller.is_ready(i) && g.queue.buffered() == 0 {
                continue;
            }
            // Batches until the queue is empty (at most DRAIN_BATCHES, so that one busy queue
            // cannot starve another): one recvmmsg(2) per batch, the hooks, then the batch's
            // verdicts in one send(2).
            for _ in 0..DRAIN_BATCHES {
                let n = match g.queue.recv_batch(batch, RECV_BATCH) {
                    Ok(n) => n,
                    Err(e) => {
                        log.push(Stream::Error, format!("queue receive failed: {e}"));
                        break;
                    }
                };
                judge_batch(state, g, batch, link, log);
                judged += n as u64;
                if n < RECV_BATCH {
                    break;
                }
            }
        }
    }
    judged
}

/// Judges what is left in the queues once lunet's rules are gone (no packet enters them any
/// more): the kernel drops the packets a queue still holds when its reader closes it, so a
/// stopping state gives each its verdict first. Stopping aborts the hooks' calls, so each
/// gives its default verdict at once. Ends when the queues stay empty (or after two seconds).
pub fn drain(state: &State, groups: &mut [Group], log: &Log) {
    let mut batch: Vec<QueuedPacket> = Vec::with_capacity(RECV_BATCH);
    let mut link = Link::default();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut quiet = 0;
    while quiet < 3 && Instant::now() < deadline {
        let mut got = 0;
        for g in groups.iter_mut() {
            loop {
                let n = match g.queue.recv_batch(&mut batch, RECV_BATCH) {
                    Ok(n) => n,
                    Err(e) => {
                        log.push(Stream::Error, format!("queue receive failed: {e}"));
                        break;
                    }
                };
                if n == 0 {
                    break;
                }
                got += n;
                for pkt in batch.drain(..) {
                    decide(state, g, pkt, &mut link);
                }
                if let Err(e) = g.queue.flush_verdicts() {
                    log.push(Stream::Error, format!("sending verdicts failed: {e}"));
                }
                g.counters.judged.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        if got == 0 {
            quiet += 1;
            std::thread::sleep(Duration::from_millis(10));
        } else {
            quiet = 0;
        }
    }
}

/// Runs a queued packet through its group's XDP hooks, as XDP would have: the whole frame
/// (its Ethernet header rebuilt as for the `mac` view), and the action mapped to a verdict:
/// PASS accepts (with the bytes the hook wrote past the header), DROP and ABORTED drop, TX
/// sends the frame back out of the device it came in on and drops the original. REDIRECT
/// names no target a userspace hook could reach: the packet is dropped, and the log says why.
fn decide_xdp(state: &State, g: &mut Group, pkt: QueuedPacket, link: &mut Link) {
    let (head, head_len) = link.header(&pkt);
    let mut frame: Vec<u8> = Vec::with_capacity(head_len + pkt.payload().len());
    frame.extend_from_slice(&head[..head_len]);
    frame.extend_from_slice(pkt.payload());
    let mut verdict = Verdict::Accept;
    let mut rewritten: Option<Vec<u8>> = None;
    for &(id, _, default) in &g.hooks {
        let out = state.run_xdp(id, &frame);
        link.send(state);
        if let Some(bytes) = out.rewritten {
            frame = bytes;
        }
        match out.verdict {
            xdp::PASS => {
                if frame.len() >= head_len && frame[head_len..] != *pkt.payload() {
                    rewritten = Some(frame[head_len..].to_vec());
                }
                continue;
            }
            xdp::TX => {
                let sent = link
                    .socket()
                    .map_err(str::to_string)
                    .and_then(|s| s.send(pkt.indev(), &frame).map_err(|e| e.to_string()));
                if let Err(e) = sent {
                    state.log().push(
                        Stream::Error,
                        format!("XDP_TX from the Lua tier: sending the frame back failed: {e}"),
                    );
                }
            }
            xdp::REDIRECT => {
                let e = HookError::Verdict(
                    "returned XDP_REDIRECT, which the Lua tier cannot follow (the target is \
                     the kernel program's): the packet is dropped"
                        .into(),
                );
                if let Some(stats) = state.stats(id) {
                    stats.overrule(out.verdict, default, &e);
                }
                state.log().push(Stream::Error, format!("hook {id}: {e}"));
            }
            _ => {}
        }
        verdict = Verdict::Drop;
        break;
    }
    if let Some(new) = rewritten.as_mut() {
        keep_checksum(pkt.payload(), new);
    }
    if let Err(e) = g.queue.push_verdict_ct(pkt, verdict, None, rewritten, None) {
        state
            .log()
            .push(Stream::Error, format!("giving a verdict failed: {e}"));
    }
}

/// Writes the flow verdicts the state's last call gave into its flow map (logged when the
/// map refuses one; a verdict given without a map, by a script whose text did not show it,
/// is logged too).
fn write_flows(state: &State, g: &Group) {
    let verdicts = state.take_flow_verdicts();
    if verdicts.is_empty() {
        return;
    }
    let written = match &g.flows {
        Some(m) => super::flows::write(m, &verdicts).map_err(|e| e.to_string()),
        None => Err("this state has no flow map".into()),
    };
    if let Err(e) = written {
        state.log().push(
            Stream::Error,
            format!("skb:flow: the verdict is not kept: {e}"),
        );
    }
}

/// Runs a queued packet through its group's hooks and adds its verdict to the queue's batch.
fn decide(state: &State, g: &mut Group, pkt: QueuedPacket, link: &mut Link) {
    if g.xdp {
        return decide_xdp(state, g, pkt, link);
    }
    let first_mark = pkt.mark();
    let mut mark = first_mark;
    let mut rewritten: Option<Vec<u8>> = None;
    let mut connmark: Option<u32> = None;
    let mut verdict = nf::action::ACCEPT;
    let (head, head_len) = link.header(&pkt);
    let link_header = &head[..head_len];
    let ifindex = skb_dev(&pkt);
    for &(id, wants, default) in &g.hooks {
        if wants != mark {
            continue;
        }
        // Each hook sees the bytes as the hooks before it left them.
        let out = state.run_netfilter(
            id,
            NfPacket {
                net: rewritten.as_deref().unwrap_or(pkt.payload()),
                link_header,
                ifindex,
                mark,
                vlan: pkt.vlan(),
                connmark: connmark.or(pkt.connmark()),
            },
        );
        link.send(state);
        write_flows(state, g);
        if let Some(bytes) = out.rewritten {
            rewritten = Some(bytes);
        }
        if out.connmark.is_some() {
            connmark = out.connmark;
        }
        if let Some(m) = out.mark {
            mark = m;
        }
        if out.verdict == nf::action::REPEAT
            && g.repeats.again(
                rewritten.as_deref().unwrap_or(pkt.payload()),
                mark,
                Instant::now(),
            )
        {
            g.counters.repeats_cut.fetch_add(1, Ordering::Relaxed);
            let e = HookError::Verdict(format!(
                "returned REPEAT {MAX_REPEATS} times for one packet: its default verdict given"
            ));
            if let Some(stats) = state.stats(id) {
                stats.overrule(nf::action::REPEAT, default, &e);
            }
            state.log().push(Stream::Error, format!("hook {id}: {e}"));
            verdict = default;
            break;
        }
        if out.verdict != nf::action::ACCEPT {
            verdict = out.verdict;
            break;
        }
    }
    // The kernel refuses STOLEN from userspace, and QUEUE would send the packet back to a
    // queue: a hook that steals a packet drops it, one that queues it accepts it.
    let v = match verdict {
        0 | 2 => Verdict::Drop,
        4 => Verdict::Repeat,
        5 => Verdict::Stop,
        _ => Verdict::Accept,
    };
    let new_mark = (mark != first_mark).then_some(mark);
    if let Some(new) = rewritten.as_mut() {
        keep_checksum(pkt.payload(), new);
    }
    if let Err(e) = g
        .queue
        .push_verdict_ct(pkt, v, new_mark, rewritten, connmark)
    {
        state
            .log()
            .push(Stream::Error, format!("giving a verdict failed: {e}"));
    }
}

/// The interface Lunatik's `skb->dev` is at the packet's hook: the one it came in on up to
/// FORWARD, the one it goes out of from LOCAL_OUT and POST_ROUTING on (then what `forward`
/// sends out of too); either one when the other is unknown.
fn skb_dev(pkt: &QueuedPacket) -> u32 {
    let (first, then) = match pkt.hook() {
        Some(nf::Hook::LocalOut | nf::Hook::PostRouting) => (pkt.outdev(), pkt.indev()),
        _ => (pkt.indev(), pkt.outdev()),
    };
    if first != 0 {
        first
    } else {
        then
    }
}

/// A rewritten packet goes back to the kernel through NFQUEUE, which then trusts no
/// checksum of it (`CHECKSUM_NONE`): a TCP or UDP packet whose checksum is stale is dropped
/// where it is received. Lunatik writes into the packet in place, where the checksum
/// state the kernel had stays (on veth and offloading NICs: verified or to be computed), so
/// a rewrite there is delivered. To deliver what Lunatik delivers, a TCP or UDP checksum
/// that was right when the packet came to the hooks and is wrong after them is recomputed;
/// one that was already wrong stays wrong (the kernel drops it, as it would have).
fn keep_checksum(original: &[u8], new: &mut [u8]) {
    if lunet_lua::transport_verifies(original) == Some(true)
        && lunet_lua::transport_verifies(new) == Some(false)
    {
        lunet_lua::refresh_transport(new);
    }
}
