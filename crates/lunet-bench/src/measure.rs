//! One measurement: counters and CPU time before, the generator for a while, the queue (if
//! any) drained, counters and CPU time after; and the check of the result against what the
//! filter must do.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lunet_gen::Limit;

use crate::counters::{self, Counters};
use crate::cpu;
use crate::filters::{Class, Filter};
use crate::methods::{Active, FilterCount};
use crate::testbed::{Bed, VethStats};

/// How long the queue may take to drain after the generator stops.
const DRAIN_MAX: Duration = Duration::from_secs(3);
const DRAIN_POLL: Duration = Duration::from_millis(10);
/// Pause after the generator for the methods without a queue (nothing is in flight: the
/// receiver's NAPI poll runs within the generator's own call).
const SETTLE: Duration = Duration::from_millis(20);

/// What one run measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Frames the generator handed to the sender's veth.
    pub sent: u64,
    /// Seconds the generator ran.
    pub gen_secs: f64,
    /// Seconds the filter was busy: the generator's time, plus for a queue the time it took
    /// to drain.
    pub window_secs: f64,
    /// Differences of the receiver's counters over the run.
    pub counters: Counters,
    /// Differences of the filter's own counters over the run.
    pub filter: FilterCount,
    /// Receiver-side CPU time over the run (softirq of all CPUs + the method's thread), ns.
    pub cpu_ns: f64,
    /// The part of `cpu_ns` spent by the method's own thread (the NFQUEUE consumer), ns.
    pub thread_ns: f64,
    /// Packets the kernel's queue dropped (not fail-open) over the run.
    pub queue_dropped: u64,
    /// The method filters before the stack (at XDP): what it drops never reaches the
    /// counting rules, so `arrived` counts only what it passed.
    pub before_stack: bool,
    /// The XDP counters of the receiver's veth over the run (`ethtool -S`), when readable.
    pub xdp: Option<VethStats>,
}

impl Sample {
    /// Packets that entered the receiver's stack and reached the filter.
    pub fn delivered(&self) -> u64 {
        self.counters.arrived.iter().sum()
    }

    /// Packets that came out of the filter.
    pub fn survived(&self) -> u64 {
        self.counters.survived.iter().sum()
    }

    /// Packets the filter decided on: the Lua hook's count, else every delivered packet.
    /// Before the stack: the compiled hook's own count, else the frames the receiver's XDP
    /// program ran on (the veth's `xdp_packets`), else every frame offered.
    pub fn processed(&self) -> u64 {
        if self.before_stack {
            return self
                .filter
                .processed
                .or(self.xdp.map(|x| x.xdp_packets))
                .unwrap_or(self.sent);
        }
        self.filter
            .processed
            .unwrap_or_else(|| self.delivered())
            .min(self.delivered())
    }

    /// Packets accepted without the filter seeing them (NFQUEUE fail-open).
    pub fn bypassed(&self) -> u64 {
        if self.before_stack {
            return 0;
        }
        self.delivered() - self.processed()
    }

    /// Packets the filter dropped: delivered minus survived; before the stack, offered minus
    /// delivered (what never reached the counting rules), which also counts frames lost in
    /// the veth's ring before the program ([`Sample::lost`]).
    pub fn dropped(&self) -> u64 {
        if self.before_stack {
            return self.sent.saturating_sub(self.delivered());
        }
        self.delivered().saturating_sub(self.survived())
    }

    /// Frames lost between the generator and the receiver's XDP program (its veth's ring
    /// was full), when the veth counters were read.
    pub fn lost(&self) -> Option<u64> {
        self.xdp.map(|x| x.xmit_errors)
    }

    fn per_sec(&self, n: u64, secs: f64) -> f64 {
        if secs > 0.0 {
            n as f64 / secs / 1e6
        } else {
            0.0
        }
    }

    /// The headline: packets the filter decided on, in Mpps over the time it was busy.
    pub fn mpps(&self) -> f64 {
        self.per_sec(self.processed(), self.window_secs)
    }

    pub fn offered_mpps(&self) -> f64 {
        self.per_sec(self.sent, self.gen_secs)
    }

    pub fn delivered_mpps(&self) -> f64 {
        self.per_sec(self.delivered(), self.gen_secs)
    }

    pub fn dropped_mpps(&self) -> f64 {
        self.per_sec(self.dropped(), self.window_secs)
    }

    pub fn bypassed_mpps(&self) -> f64 {
        self.per_sec(self.bypassed(), self.gen_secs)
    }

    /// The receiver's XDP program's own `XDP_DROP` count, per second (Mpps).
    pub fn xdp_dropped_mpps(&self) -> Option<f64> {
        self.xdp
            .map(|x| self.per_sec(x.xdp_drops, self.window_secs))
    }

    pub fn lost_mpps(&self) -> Option<f64> {
        self.lost().map(|n| self.per_sec(n, self.gen_secs))
    }

    /// Receiver CPU time per delivered packet, ns; before the stack, per packet the XDP
    /// program decided on (it runs in the same softirq).
    pub fn cpu_ns_per_packet(&self) -> Option<f64> {
        let n = if self.before_stack {
            self.processed()
        } else {
            self.delivered()
        };
        (n > 0).then(|| self.cpu_ns / n as f64)
    }

    /// The consumer thread's CPU time per packet it decided on, ns (queue methods only).
    pub fn thread_ns_per_packet(&self) -> Option<f64> {
        (self.filter.processed.is_some() && self.processed() > 0)
            .then(|| self.thread_ns / self.processed() as f64)
    }

    /// Share of the window the consumer thread was on a CPU (1.0: saturated).
    pub fn thread_busy(&self) -> f64 {
        if self.window_secs > 0.0 {
            self.thread_ns / 1e9 / self.window_secs
        } else {
            0.0
        }
    }

    /// Checks that the filter dropped exactly what it must. `exact` (a run slow enough for
    /// the filter to see every packet): every delivered packet was processed, every must-drop
    /// packet dropped, every must-pass packet survived. Otherwise (a full-rate run, where a
    /// queue may accept packets unseen) the counts must still agree: every must-pass packet
    /// survived, the filter's own drop count equals the must-drop packets that did not
    /// survive, and no more must-drop packets survived than were accepted unseen.
    /// `none` must drop nothing.
    ///
    /// Before the stack the counters see only what the filter passed: no must-drop packet
    /// may arrive, every must-pass one that arrives must survive, and the hook's own DROP
    /// count must be what did not arrive less what the veth's ring lost before the program.
    /// In an exact run the veth's own counters must agree too (nothing lost in its ring, the
    /// program run on every frame offered, its `XDP_DROP` count equal to the packets that did
    /// not arrive). That every must-pass packet offered arrived is the caller's check of the
    /// exact run's per-class arrivals.
    pub fn check(&self, filter: Filter, filters: bool, exact: bool) -> Result<(), String> {
        if self.before_stack {
            return self.check_before_stack(filter, filters, exact);
        }
        let c = &self.counters;
        let mut wrong = Vec::new();
        if self.filter.errors > 0 {
            wrong.push(format!("{} hook calls failed", self.filter.errors));
        }
        for class in Class::ALL {
            let (a, s) = (c.arrived[class.index()], c.survived[class.index()]);
            let must_drop = filters && filter.drops(class);
            let what = if filter.drops(class) {
                "must-drop"
            } else {
                "must-pass"
            };
            if !must_drop && s != a {
                wrong.push(format!("{} of {a} {what} packets survived", s));
            }
            if must_drop && exact && s != 0 {
                wrong.push(format!("{s} of {a} {what} packets survived"));
            }
            if must_drop && !exact && s > self.bypassed() {
                wrong.push(format!(
                    "{s} of {a} {what} packets survived, more than the {} accepted unseen",
                    self.bypassed()
                ));
            }
        }
        let must_drop_gone = if filters && filter.drops(Class::Drop) {
            c.arrived[0] - c.survived[0].min(c.arrived[0])
        } else {
            0
        };
        let own_drops = self.filter.dropped.or(match c.rule {
            Some(n) if filter.drops(Class::Drop) => Some(n),
            _ => None,
        });
        if let Some(d) = own_drops {
            if d != must_drop_gone {
                wrong.push(format!(
                    "the filter counted {d} drops, {must_drop_gone} must-drop packets went missing"
                ));
            }
        }
        if let (Some(n), false) = (c.rule, filter.drops(Class::Drop)) {
            // An ACCEPT rule (accept-all) must see every packet.
            if n != self.delivered() {
                wrong.push(format!("the rule saw {n} of {} packets", self.delivered()));
            }
        }
        if self.queue_dropped > 0 {
            wrong.push(format!("the queue dropped {} packets", self.queue_dropped));
        }
        if exact && self.bypassed() > 0 {
            wrong.push(format!(
                "{} packets were accepted unseen at a rate the filter should keep up with",
                self.bypassed()
            ));
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }

    fn check_before_stack(&self, filter: Filter, filters: bool, exact: bool) -> Result<(), String> {
        let c = &self.counters;
        let mut wrong = Vec::new();
        for class in Class::ALL {
            let (a, s) = (c.arrived[class.index()], c.survived[class.index()]);
            if filters && filter.drops(class) {
                if a != 0 {
                    wrong.push(format!("{a} must-drop packets got past the XDP program"));
                }
            } else if s != a {
                wrong.push(format!("{s} of {a} must-pass packets survived"));
            }
        }
        if self.filter.errors > 0 {
            wrong.push(format!("{} hook calls failed", self.filter.errors));
        }
        if let Some(d) = self.filter.dropped {
            let gone = self.dropped();
            let agrees = match (exact, self.lost()) {
                (true, _) => d == gone,
                (false, Some(lost)) => d + lost == gone,
                (false, None) => d <= gone,
            };
            if !agrees {
                wrong.push(format!(
                    "the hook counted {d} drops, {gone} packets did not arrive{}",
                    match self.lost() {
                        Some(l) if !exact => format!(" ({l} lost in the veth's ring)"),
                        _ => String::new(),
                    }
                ));
            }
        }
        // A program without counters of its own (the hand-written C): the veth's XDP
        // counters must account for what did not arrive, in every run.
        if let (None, false, Some(x)) = (self.filter.dropped, exact, self.xdp) {
            let gone = self.dropped();
            if x.xdp_drops + x.xmit_errors != gone {
                wrong.push(format!(
                    "the XDP program counted {} drops ({} lost in the veth's ring), {gone} \
                     packets did not arrive",
                    x.xdp_drops, x.xmit_errors
                ));
            }
        }
        // The program may also see a few frames the sender's own stack sent (IPv6 router
        // solicitations, MLD reports after the link came up), which it passes and the
        // counting rules (IPv4, the bench's ports) ignore: at least every frame offered.
        if let (true, Some(p)) = (exact, self.filter.processed) {
            if p < self.sent {
                wrong.push(format!("the hook ran on {p} of {} frames", self.sent));
            }
        }
        if let (true, Some(x)) = (exact, self.xdp) {
            if x.xmit_errors > 0 {
                wrong.push(format!(
                    "{} frames were lost in the veth's ring at a rate it should keep up with",
                    x.xmit_errors
                ));
            }
            if x.xdp_packets < self.sent {
                wrong.push(format!(
                    "the XDP program ran on {} of {} frames",
                    x.xdp_packets, self.sent
                ));
            }
            if x.xdp_drops != self.dropped() {
                wrong.push(format!(
                    "the XDP program counted {} drops, {} packets did not arrive",
                    x.xdp_drops,
                    self.dropped()
                ));
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }
}

/// One run: sends `frames` under `limit`, lets a queue drain, and returns the differences.
pub fn run(
    bed: &Bed,
    active: &Active,
    frames: &Arc<Vec<Vec<u8>>>,
    limit: Limit,
    quit: &Arc<AtomicBool>,
) -> io::Result<Sample> {
    let target = active.rule_target();
    let x0 = bed.receiver_xdp_stats().ok();
    let mut c0 = counters::read(bed, target)?;
    if let Some(n) = active.nft_rule_count()? {
        c0.rule = Some(n);
    }
    let f0 = active.count();
    let t0 = active.thread_ns();
    let q0 = active.queue_dropped();
    let s0 = cpu::softirq_ns()?;

    let gen = bed.send(frames.clone(), limit, quit.clone())?;
    let gen_end = Instant::now();
    let window = if active.is_queue() {
        let busy_until = drain(active, gen_end);
        gen.elapsed + (busy_until - gen_end)
    } else {
        std::thread::sleep(SETTLE);
        gen.elapsed
    };

    let s1 = cpu::softirq_ns()?;
    let t1 = active.thread_ns();
    let q1 = active.queue_dropped();
    let f1 = active.count();
    let mut c1 = counters::read(bed, target)?;
    if let Some(n) = active.nft_rule_count()? {
        c1.rule = Some(n);
    }
    let x1 = bed.receiver_xdp_stats().ok();
    let thread = match (t0, t1) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    Ok(Sample {
        sent: gen.sent,
        gen_secs: gen.elapsed.as_secs_f64(),
        window_secs: window.as_secs_f64(),
        counters: c1.since(&c0),
        filter: f1.since(&f0),
        cpu_ns: (s1 - s0).max(0.0) + thread.max(0.0),
        thread_ns: thread.max(0.0),
        queue_dropped: match (q0, q1) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        },
        before_stack: active.before_stack(),
        xdp: match (x0, x1) {
            (Some(a), Some(b)) => Some(b.since(&a)),
            _ => None,
        },
    })
}

/// Waits until the kernel's queue holds no packet waiting for a verdict and the hook's count
/// has stopped moving (bounded by [`DRAIN_MAX`]); returns when the count last moved.
fn drain(active: &Active, since: Instant) -> Instant {
    let mut last = active.count().processed;
    let mut moved = since;
    while since.elapsed() < DRAIN_MAX {
        std::thread::sleep(DRAIN_POLL);
        let now = active.count().processed;
        if now != last {
            last = now;
            moved = Instant::now();
        } else if active.queue_waiting().unwrap_or(0) == 0 {
            break;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        arrived: [u64; 2],
        survived: [u64; 2],
        processed: Option<u64>,
        dropped: Option<u64>,
        rule: Option<u64>,
    ) -> Sample {
        Sample {
            sent: arrived[0] + arrived[1],
            gen_secs: 1.0,
            window_secs: 1.0,
            counters: Counters {
                arrived,
                survived,
                rule,
            },
            filter: FilterCount {
                processed,
                dropped,
                errors: 0,
            },
            cpu_ns: 1e9,
            thread_ns: 0.0,
            queue_dropped: 0,
            before_stack: false,
            xdp: None,
        }
    }

    #[test]
    fn an_exact_iptables_run_is_correct_and_rates_add_up() {
        let s = sample([500_000, 500_000], [0, 500_000], None, None, Some(500_000));
        assert_eq!(s.check(Filter::UdpPort, true, true), Ok(()));
        assert_eq!(s.processed(), 1_000_000);
        assert_eq!(s.bypassed(), 0);
        assert!((s.mpps() - 1.0).abs() < 1e-9);
        assert!((s.dropped_mpps() - 0.5).abs() < 1e-9);
        assert_eq!(s.cpu_ns_per_packet(), Some(1000.0));
    }

    #[test]
    fn wrong_drops_are_caught() {
        // A must-pass packet dropped.
        let s = sample([10, 10], [0, 9], None, None, Some(11));
        let e = s.check(Filter::UdpPort, true, true).unwrap_err();
        assert!(e.contains("9 of 10 must-pass"), "{e}");
        // A must-drop packet let through.
        let s = sample([10, 10], [1, 10], None, None, Some(9));
        assert!(s.check(Filter::UdpPort, true, true).is_err());
        // The rule's counter disagrees with what went missing.
        let s = sample([10, 10], [0, 10], None, None, Some(7));
        assert!(s.check(Filter::UdpPort, true, true).is_err());
        // `none` must drop nothing.
        let s = sample([10, 10], [10, 10], None, None, None);
        assert_eq!(s.check(Filter::UdpPort, false, true), Ok(()));
        let s = sample([10, 10], [9, 10], None, None, None);
        assert!(s.check(Filter::UdpPort, false, true).is_err());
    }

    #[test]
    fn a_queue_under_overload_is_checked_for_consistency() {
        // 1000 delivered, the hook saw 300 (and dropped its 150 must-drop ones); 700 were
        // accepted unseen, 350 of them must-drop ones.
        let s = sample([500, 500], [350, 500], Some(300), Some(150), None);
        assert_eq!(s.bypassed(), 700);
        assert_eq!(s.check(Filter::Dns, true, false), Ok(()));
        assert!(s.check(Filter::Dns, true, true).is_err(), "not exact");
        // The hook's drop count disagrees with the must-drop packets that went missing.
        let s = sample([500, 500], [350, 500], Some(300), Some(140), None);
        assert!(s.check(Filter::Dns, true, false).is_err());
        // Hook errors are never correct.
        let mut s = sample([5, 5], [0, 5], Some(10), Some(5), None);
        assert_eq!(s.check(Filter::UdpPort, true, true), Ok(()));
        s.filter.errors = 1;
        assert!(s.check(Filter::UdpPort, true, true).is_err());
    }

    /// An XDP run: 1000 offered, the program ran on 1000, dropped the 500 must-drop ones;
    /// 500 must-pass ones arrived and survived.
    fn xdp_sample(arrived: [u64; 2], x: Option<VethStats>) -> Sample {
        Sample {
            sent: 1000,
            before_stack: true,
            xdp: x,
            ..sample(arrived, arrived, None, None, None)
        }
    }

    #[test]
    fn an_xdp_run_counts_what_never_arrived_as_dropped() {
        let x = VethStats {
            xdp_packets: 1000,
            xdp_drops: 500,
            xmit_errors: 0,
        };
        let s = xdp_sample([0, 500], Some(x));
        assert_eq!(s.check(Filter::Sni, true, true), Ok(()));
        assert_eq!((s.dropped(), s.processed(), s.bypassed()), (500, 1000, 0));
        assert!((s.mpps() - 0.001).abs() < 1e-12);
        assert_eq!(s.cpu_ns_per_packet(), Some(1e6), "per packet decided on");
        assert_eq!(s.xdp_dropped_mpps(), Some(0.0005));
        // Without the veth counters: offered stands for decided on.
        let s = xdp_sample([0, 500], None);
        assert_eq!(s.check(Filter::Sni, true, true), Ok(()));
        assert_eq!(s.processed(), 1000);
        // The compiled hook's own counters come first, and must agree.
        let mut s = xdp_sample([0, 500], Some(x));
        s.filter = FilterCount {
            processed: Some(1000),
            dropped: Some(500),
            errors: 0,
        };
        assert_eq!(s.check(Filter::Sni, true, true), Ok(()));
        s.filter.processed = Some(999);
        assert_eq!(s.processed(), 999);
        assert!(
            s.check(Filter::Sni, true, true).is_err(),
            "ran on 999 of 1000"
        );
        // A stray frame of the sender's stack (an IPv6 router solicitation) went through too.
        s.filter.processed = Some(1001);
        assert_eq!(s.check(Filter::Sni, true, true), Ok(()));
        s.filter.processed = Some(1000);
        s.filter.dropped = Some(499);
        assert!(
            s.check(Filter::Sni, true, false).is_err(),
            "499 of 500 drops"
        );
    }

    #[test]
    fn an_xdp_run_is_wrong_when_a_must_drop_packet_arrives_or_counts_disagree() {
        let x = VethStats {
            xdp_packets: 1000,
            xdp_drops: 500,
            xmit_errors: 0,
        };
        let e = xdp_sample([1, 500], Some(x))
            .check(Filter::Sni, true, false)
            .unwrap_err();
        assert!(e.contains("1 must-drop packets got past"), "{e}");
        // Lost in the ring: fine at full rate, not in the exact run.
        let lossy = VethStats {
            xdp_packets: 990,
            xdp_drops: 495,
            xmit_errors: 10,
        };
        let mut s = xdp_sample([0, 495], Some(lossy));
        assert_eq!(s.check(Filter::UdpPort, true, false), Ok(()));
        assert_eq!(s.lost(), Some(10));
        assert_eq!(s.dropped(), 505, "offered minus delivered");
        assert!(s.check(Filter::UdpPort, true, true).is_err());
        s.filter.dropped = Some(495);
        assert_eq!(
            s.check(Filter::UdpPort, true, false),
            Ok(()),
            "495 + 10 lost"
        );
        s.filter.dropped = Some(505);
        assert!(s.check(Filter::UdpPort, true, false).is_err());
        // The program's own count disagrees with what did not arrive.
        let off = VethStats {
            xdp_drops: 499,
            ..x
        };
        assert!(xdp_sample([0, 500], Some(off))
            .check(Filter::Dns, true, true)
            .is_err());
        // accept-all: everything must arrive and survive.
        let mut s = xdp_sample([0, 1000], None);
        s.counters.survived = [0, 999];
        assert!(s.check(Filter::AcceptAll, true, true).is_err());
    }

    #[test]
    fn accept_all_must_pass_everything_and_its_rule_see_everything() {
        let s = sample([0, 100], [0, 100], None, None, Some(100));
        assert_eq!(s.check(Filter::AcceptAll, true, true), Ok(()));
        let s = sample([0, 100], [0, 100], None, None, Some(90));
        assert!(s.check(Filter::AcceptAll, true, true).is_err());
    }
}
