//! The live-frames traffic generator.
//!
//! An XDP program that returns `XDP_TX` is run with `BPF_PROG_TEST_RUN` and
//! `BPF_F_TEST_XDP_LIVE_FRAMES` as if each frame had arrived on the sender's veth: every run
//! transmits the frame out of that veth, so it arrives at the peer veth (in the receiver's
//! namespace). One `test_run` call sends one frame `repeat` times in batches of 64; the kernel
//! needs no packet socket and the frames are never copied to or from userspace again.
//!
//! Requirements (see `shared/kernel-notes.md`):
//! - [`LiveGen::run`] must be called on a thread that is in the sender's network namespace
//!   (`setns(2)`), because the kernel resolves the ifindex in the caller's namespace.
//! - The receiving veth needs an XDP program attached or veth drops redirected frames:
//!   [`attach_pass`] (in the receiver's namespace) provides one.
//! - Frames must be complete Ethernet frames of at least 14 bytes and fit one page (about
//!   3.5 KiB), e.g. from [`crate::packet`].
//!
//! The dispatcher anchor: for `repeat > 1` the kernel adds the program to the global XDP
//! dispatcher before the run and removes it after, unless the program is already attached
//! somewhere. That update took about 22 ms per call on the project's machine (measured: a
//! 4096-frame call 24 ms without, 0.23 ms with an attachment), which would cap the generator
//! far below a million frames per second. So [`LiveGen::new`] also attaches its program in
//! generic mode to the loopback device of a private, empty network namespace that it creates
//! for this (unshare(2) on a short-lived thread, kept alive by an fd) and keeps both for its
//! lifetime: no real device or namespace is touched. If that fails, the generator still works,
//! only with the per-call cost ([`LiveGen::anchored`] tells).

use std::fs::File;
use std::io;
use std::thread;
use std::time::{Duration, Instant};

use lunet_bpf::link::xdp_flags;
use lunet_bpf::prog::{prog_type, test_run_flags, xdp_action};
use lunet_bpf::{link_create_xdp, Insn, LinkFd, LoadOptions, ProgFd, XdpMd};

/// Frames per `test_run` call unless changed with [`LiveGen::with_repeat_per_call`].
pub const DEFAULT_REPEAT: u32 = 4096;
/// Frames per kernel batch (the kernel default, NAPI's budget; the kernel allows up to 256).
pub const DEFAULT_BATCH: u32 = 64;
/// Calls per second aimed for when a rate limit is set (pacing granularity).
const PACED_CALLS_PER_SEC: u64 = 200;

/// When a run stops: whichever limit is reached first. Every run is bounded by `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Wall-clock bound of the run.
    pub duration: Duration,
    /// Stop after this many frames (`u64::MAX`: only the duration bounds the run).
    pub max_packets: u64,
    /// Send at most this many frames per second on average (sleeping between calls).
    pub rate_pps: Option<u64>,
}

impl Limit {
    /// Exactly `n` frames, as fast as possible, giving up after `timeout`.
    pub fn count(n: u64, timeout: Duration) -> Limit {
        Limit {
            duration: timeout,
            max_packets: n,
            rate_pps: None,
        }
    }

    /// As many frames as possible for `d`.
    pub fn time(d: Duration) -> Limit {
        Limit {
            duration: d,
            max_packets: u64::MAX,
            rate_pps: None,
        }
    }
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GenStats {
    /// Frames the XDP program ran on and handed to the sender veth (the sum of the `repeat`s of
    /// all successful calls). Delivery is not guaranteed: a full receive ring drops frames.
    pub sent: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// `sent / elapsed`.
    pub pps: f64,
    /// Successful calls, i.e. frames of the mix moved through: a run that goes on where this
    /// one ended starts at frame `calls % frames.len()`.
    pub calls: u64,
}

impl GenStats {
    /// `sent` frames in `calls` calls over `elapsed`, and their rate (0 over no time).
    pub fn over(sent: u64, calls: u64, elapsed: Duration) -> GenStats {
        let secs = elapsed.as_secs_f64();
        GenStats {
            sent,
            elapsed,
            pps: if secs > 0.0 { sent as f64 / secs } else { 0.0 },
            calls,
        }
    }
}

/// The generator: an `XDP_TX` program, the sender veth's ifindex and the dispatcher anchor.
#[derive(Debug)]
pub struct LiveGen {
    prog: ProgFd,
    ifindex: u32,
    repeat_per_call: u32,
    batch_size: u32,
    anchor: Option<Anchor>,
}

/// `r0 = XDP_TX; exit`.
pub const XDP_TX_PROG: [Insn; 2] = [Insn::mov64_imm(0, xdp_action::TX), Insn::exit()];
/// `r0 = XDP_PASS; exit`.
pub const XDP_PASS_PROG: [Insn; 2] = [Insn::mov64_imm(0, xdp_action::PASS), Insn::exit()];
/// `r0 = XDP_DROP; exit`.
pub const XDP_DROP_PROG: [Insn; 2] = [Insn::mov64_imm(0, xdp_action::DROP), Insn::exit()];

fn load_xdp(insns: &[Insn], name: &str) -> io::Result<ProgFd> {
    Ok(lunet_bpf::load_with(&LoadOptions {
        prog_type: prog_type::XDP,
        insns,
        license: "GPL",
        expected_attach_type: None,
        name,
    })?)
}

impl LiveGen {
    /// Loads the `XDP_TX` program for frames leaving through `ifindex` (the sender veth's
    /// index in the sender's namespace) and anchors it in the XDP dispatcher (module docs).
    pub fn new(ifindex: u32) -> io::Result<LiveGen> {
        let mut g = LiveGen::unanchored(ifindex)?;
        match Anchor::new(&g.prog) {
            Ok(a) => g.anchor = Some(a),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot anchor the generator; every call will pay the XDP dispatcher update"
            ),
        }
        Ok(g)
    }

    /// [`LiveGen::new`] without the dispatcher anchor: no namespace is created, and every
    /// call with more than one frame costs the dispatcher update (about 22 ms here).
    pub fn unanchored(ifindex: u32) -> io::Result<LiveGen> {
        Ok(LiveGen {
            prog: load_xdp(&XDP_TX_PROG, "lunet_gen_tx")?,
            ifindex,
            repeat_per_call: DEFAULT_REPEAT,
            batch_size: DEFAULT_BATCH,
            anchor: None,
        })
    }

    /// Whether the program is anchored in the XDP dispatcher (cheap calls).
    pub fn anchored(&self) -> bool {
        self.anchor.is_some()
    }

    /// Frames sent per `test_run` call, i.e. per frame of the mix before moving to the next
    /// one (at least 1). Smaller values mix frames more finely and cost more syscalls.
    pub fn with_repeat_per_call(mut self, n: u32) -> LiveGen {
        self.repeat_per_call = n.max(1);
        self
    }

    /// Frames per kernel batch (1..=256).
    pub fn with_batch_size(mut self, n: u32) -> LiveGen {
        self.batch_size = n.clamp(1, 256);
        self
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends `frames`, cycling through them (call `i` sends `frames[i % len]` up to
    /// `repeat_per_call` times), until `limit` is reached. Must run on a thread in the sender's
    /// network namespace.
    pub fn run(&self, frames: &[Vec<u8>], limit: Limit) -> io::Result<GenStats> {
        if frames.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no frames to send",
            ));
        }
        let ctxs: Vec<[u8; 24]> = frames
            .iter()
            .map(|f| XdpMd::for_packet(f.len(), self.ifindex).to_bytes())
            .collect();
        let chunk = match limit.rate_pps {
            Some(0) => 0,
            Some(rate) => (rate / PACED_CALLS_PER_SEC).clamp(1, self.repeat_per_call as u64),
            None => self.repeat_per_call as u64,
        };
        let clock = Clock::new(&limit);
        let mut sent = 0u64;
        let mut call = 0usize;
        let mut calls = 0u64;
        while sent < limit.max_packets && chunk > 0 {
            match clock.step(sent) {
                Step::Stop => break,
                Step::Waited => continue,
                Step::Send => {}
            }
            let n = chunk.min(limit.max_packets - sent) as u32;
            let i = call % frames.len();
            call += 1;
            match lunet_bpf::test_run(
                &self.prog,
                &frames[i],
                n,
                Some(&ctxs[i]),
                test_run_flags::XDP_LIVE_FRAMES,
                self.batch_size,
            ) {
                Ok(_) => {
                    sent += n as u64;
                    calls += 1;
                }
                // A signal interrupted the call; how many frames went out is unknown, so none
                // are counted. The deadline still bounds the loop.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(GenStats::over(sent, calls, clock.elapsed()))
    }
}

/// A run's clock: its deadline and, with a rate limit, its pace.
pub(crate) struct Clock {
    start: Instant,
    deadline: Instant,
    rate: Option<u64>,
}

/// What a run does next.
pub(crate) enum Step {
    /// The deadline passed.
    Stop,
    /// It slept until the pace allowed more (or the deadline): look again.
    Waited,
    Send,
}

impl Clock {
    pub(crate) fn new(limit: &Limit) -> Clock {
        let start = Instant::now();
        Clock {
            start,
            deadline: start + limit.duration,
            rate: limit.rate_pps,
        }
    }

    /// Before sending more, with `sent` frames sent so far.
    pub(crate) fn step(&self, sent: u64) -> Step {
        let now = Instant::now();
        if now >= self.deadline {
            return Step::Stop;
        }
        if let Some(rate) = self.rate.filter(|&r| r > 0) {
            let due = self.start + Duration::from_secs_f64(sent as f64 / rate as f64);
            if due > now {
                thread::sleep(due.min(self.deadline) - now);
                return Step::Waited;
            }
        }
        Step::Send
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A generic-mode XDP attachment of a program on the loopback device of a private network
/// namespace that holds nothing else: the program is attached, so `BPF_PROG_TEST_RUN` with
/// repeats skips the XDP dispatcher update (module docs). The generator anchors its program
/// with one; the compiler's benchmark anchors the programs it times. Fields drop in order:
/// the link first, then the namespace fd, after which the kernel frees the namespace.
#[derive(Debug)]
pub struct Anchor {
    _link: LinkFd,
    _netns: File,
}

/// The loopback device's ifindex, the same in every network namespace.
const LOOPBACK_IFINDEX: u32 = 1;

impl Anchor {
    /// Attaches `prog` in a namespace made for it (on a short-lived thread; the calling
    /// thread's namespace is not touched).
    pub fn new(prog: &ProgFd) -> io::Result<Anchor> {
        thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: unshare(CLONE_NEWNET) takes no pointers and moves only this
                // short-lived thread into a new network namespace; the thread ends right after.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                let netns = File::open("/proc/thread-self/ns/net")?;
                let link = link_create_xdp(prog, LOOPBACK_IFINDEX, xdp_flags::SKB_MODE)?;
                Ok(Anchor {
                    _link: link,
                    _netns: netns,
                })
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("anchor thread panicked")))
        })
    }
}

/// Attaches an `XDP_PASS` program to `ifindex` (in the calling thread's namespace) so the
/// veth accepts frames redirected to it. Detached when the link is dropped.
pub fn attach_pass(ifindex: u32) -> io::Result<LinkFd> {
    let p = load_xdp(&XDP_PASS_PROG, "lunet_gen_pass")?;
    link_create_xdp(&p, ifindex, 0)
}

/// Attaches an `XDP_DROP` program to `ifindex`: a receiver that discards everything at the
/// earliest point, for measuring the generator itself.
pub fn attach_drop(ifindex: u32) -> io::Result<LinkFd> {
    let p = load_xdp(&XDP_DROP_PROG, "lunet_gen_drop")?;
    link_create_xdp(&p, ifindex, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lunet_bpf::sys::{with_fake, Cmd, ProgLoadAttr, TestRunAttr};
    use std::cell::RefCell;
    use std::os::fd::IntoRawFd;
    use std::rc::Rc;

    /// (data_size_in, repeat, ingress_ifindex, flags, batch_size) of each test_run call.
    type Calls = Rc<RefCell<Vec<(u32, u32, u32, u32, u32)>>>;

    fn dev_null() -> i64 {
        std::fs::File::open("/dev/null").unwrap().into_raw_fd() as i64
    }

    fn fake_kernel(calls: Calls) -> impl FnMut(Cmd, &mut dyn std::any::Any) -> io::Result<i64> {
        move |cmd, attr| match cmd {
            Cmd::ProgLoad => {
                let a = attr.downcast_mut::<ProgLoadAttr>().unwrap();
                assert_eq!(a.prog_type, prog_type::XDP);
                Ok(dev_null())
            }
            Cmd::ProgTestRun => {
                let a = attr.downcast_mut::<TestRunAttr>().unwrap();
                assert_eq!(a.ctx_size_in, 24);
                // SAFETY: ctx_in points to one of `run`'s 24-byte context arrays.
                let ctx = unsafe { std::slice::from_raw_parts(a.ctx_in as usize as *const u8, 24) };
                let ifindex = u32::from_ne_bytes(ctx[12..16].try_into().unwrap());
                let data_end = u32::from_ne_bytes(ctx[4..8].try_into().unwrap());
                assert_eq!(data_end, a.data_size_in);
                calls
                    .borrow_mut()
                    .push((a.data_size_in, a.repeat, ifindex, a.flags, a.batch_size));
                Ok(0)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn count_limit_is_exact_and_frames_cycle() {
        let calls: Calls = Default::default();
        let stats = with_fake(fake_kernel(calls.clone()), || {
            let g = LiveGen::unanchored(5).unwrap().with_repeat_per_call(100);
            assert!(!g.anchored());
            let frames = vec![vec![0u8; 60], vec![0u8; 61], vec![0u8; 62]];
            g.run(&frames, Limit::count(1050, Duration::from_secs(5)))
                .unwrap()
        });
        assert_eq!(stats.sent, 1050);
        let calls = calls.borrow();
        assert_eq!(calls.len(), 11);
        let sizes: Vec<u32> = calls.iter().map(|c| c.0).collect();
        assert_eq!(sizes, [60, 61, 62, 60, 61, 62, 60, 61, 62, 60, 61]);
        assert_eq!(calls.iter().map(|c| c.1 as u64).sum::<u64>(), 1050);
        assert_eq!(
            calls.last().unwrap().1,
            50,
            "last call sends only the remainder"
        );
        assert!(calls
            .iter()
            .all(|c| c.2 == 5 && c.3 == test_run_flags::XDP_LIVE_FRAMES && c.4 == 64));
    }

    #[test]
    fn time_limit_bounds_an_unlimited_run() {
        let calls: Calls = Default::default();
        let stats = with_fake(fake_kernel(calls.clone()), || {
            let g = LiveGen::unanchored(1).unwrap();
            g.run(&[vec![0u8; 60]], Limit::time(Duration::from_millis(50)))
                .unwrap()
        });
        assert!(stats.elapsed >= Duration::from_millis(50));
        assert!(stats.elapsed < Duration::from_secs(2));
        assert_eq!(
            stats.sent,
            calls.borrow().len() as u64 * DEFAULT_REPEAT as u64
        );
    }

    #[test]
    fn rate_limit_paces_calls() {
        let calls: Calls = Default::default();
        let stats = with_fake(fake_kernel(calls.clone()), || {
            let g = LiveGen::unanchored(1).unwrap();
            let limit = Limit {
                duration: Duration::from_millis(300),
                max_packets: u64::MAX,
                rate_pps: Some(10_000),
            };
            g.run(&[vec![0u8; 60]], limit).unwrap()
        });
        // 10k pps for 0.3 s is 3000 frames in calls of 10000/200 = 50.
        assert!(calls.borrow().iter().all(|c| c.1 == 50));
        assert!(stats.sent <= 3000 + 50, "sent {}", stats.sent);
        assert!(stats.sent >= 2000, "sent {}", stats.sent);
    }

    #[test]
    fn no_frames_is_an_error() {
        let calls: Calls = Default::default();
        let e = with_fake(fake_kernel(calls), || {
            LiveGen::unanchored(1)
                .unwrap()
                .run(&[], Limit::count(1, Duration::from_secs(1)))
        });
        assert_eq!(e.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
