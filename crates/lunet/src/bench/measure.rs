//! One measurement: counters and CPU time before, the generator for a while, the queue (if
//! any) drained, counters and CPU time after; and the check of the result against what the
//! filter must do.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lunet_gen::Limit;

use super::counters::{self, Counters};
use super::cpu;
use super::filters::{Class, Filter};
use super::methods::{Active, FilterCount};
use super::testbed::Bed;

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
    pub fn processed(&self) -> u64 {
        self.filter
            .processed
            .unwrap_or_else(|| self.delivered())
            .min(self.delivered())
    }

    /// Packets accepted without the filter seeing them (NFQUEUE fail-open).
    pub fn bypassed(&self) -> u64 {
        self.delivered() - self.processed()
    }

    /// Packets the filter dropped (delivered minus survived).
    pub fn dropped(&self) -> u64 {
        self.delivered().saturating_sub(self.survived())
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

    /// Receiver CPU time per delivered packet, ns.
    pub fn cpu_ns_per_packet(&self) -> Option<f64> {
        (self.delivered() > 0).then(|| self.cpu_ns / self.delivered() as f64)
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
    pub fn check(&self, filter: Filter, filters: bool, exact: bool) -> Result<(), String> {
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
    let c0 = counters::read(bed, target)?;
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
    let c1 = counters::read(bed, target)?;
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

    #[test]
    fn accept_all_must_pass_everything_and_its_rule_see_everything() {
        let s = sample([0, 100], [0, 100], None, None, Some(100));
        assert_eq!(s.check(Filter::AcceptAll, true, true), Ok(()));
        let s = sample([0, 100], [0, 100], None, None, Some(90));
        assert!(s.check(Filter::AcceptAll, true, true).is_err());
    }
}
