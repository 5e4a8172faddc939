//! One (filter, method) result ([`Row`]): what its runs' samples come to, as the table, the
//! JSON file and the docs page show it.

use serde::Serialize;

use crate::measure::Sample;

/// One (filter, method) result. The first nine fields are the issue's JSON contract; the rest
/// say where the packets went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub filter: String,
    pub method: String,
    /// Packets the filter decided on per second (Mpps): median, min and max over the runs.
    pub mpps_median: Option<f64>,
    pub mpps_min: Option<f64>,
    pub mpps_max: Option<f64>,
    /// `BPF_PROG_TEST_RUN` time per packet of an eBPF program (the mean over one frame of
    /// each class, 1,000,000 repeats each, of the program as attached); null for the others.
    pub ns_per_packet: Option<f64>,
    /// Receiver-side CPU time per delivered packet (median over the runs).
    pub cpu_ns_per_packet: Option<f64>,
    /// Whether the filter dropped exactly what it must, in every run.
    pub correct: bool,
    /// Why the method was not measured.
    pub skipped: Option<String>,
    /// Frames the generator sent per second (Mpps, median).
    pub offered_mpps: Option<f64>,
    /// Packets that reached the filter in the receiver's stack per second (Mpps, median).
    pub delivered_mpps: Option<f64>,
    /// Packets the filter dropped per second (Mpps, median).
    pub dropped_mpps: Option<f64>,
    /// Packets a queue accepted without the filter seeing them (NFQUEUE fail-open) per
    /// second (Mpps, median); null for methods without a queue.
    pub bypassed_mpps: Option<f64>,
    /// The NFQUEUE consumer thread's CPU time per packet its hook decided on (ns, median);
    /// null for methods without a queue.
    pub queue_cpu_ns_per_packet: Option<f64>,
    /// Share of the time the consumer thread was on a CPU (1.0: it was the limit); median.
    pub queue_busy: Option<f64>,
    /// Whether the method filters before the stack (at XDP), so that `dropped_mpps` is
    /// offered minus delivered.
    pub before_stack: bool,
    /// `XDP_DROP`s the receiver veth's XDP program itself counted per second (Mpps, median;
    /// from `ethtool -S`, null when unreadable). For `lunet-kernel-xdp` the filter's own
    /// drop count; 0 for the other methods, whose XDP program passes everything.
    pub xdp_dropped_mpps: Option<f64>,
    /// Frames lost between the generator and the receiver's XDP program per second (the
    /// veth's ring was full; Mpps, median; null when unreadable).
    pub lost_mpps: Option<f64>,
    pub runs: usize,
    pub duration_secs: f64,
    /// What was wrong when `correct` is false.
    pub mismatch: Option<String>,
    /// Something the reader should know that does not make the row wrong (a measurement
    /// that could not be made).
    pub note: Option<String>,
}

impl Row {
    pub fn skipped(filter: &str, method: &str, reason: String, duration_secs: f64) -> Row {
        Row {
            filter: filter.into(),
            method: method.into(),
            mpps_median: None,
            mpps_min: None,
            mpps_max: None,
            ns_per_packet: None,
            cpu_ns_per_packet: None,
            correct: false,
            skipped: Some(reason),
            offered_mpps: None,
            delivered_mpps: None,
            dropped_mpps: None,
            bypassed_mpps: None,
            queue_cpu_ns_per_packet: None,
            queue_busy: None,
            before_stack: false,
            xdp_dropped_mpps: None,
            lost_mpps: None,
            runs: 0,
            duration_secs,
            mismatch: None,
            note: None,
        }
    }

    /// The row for measured `samples`; `mismatches` are the failed checks (empty: correct).
    pub fn measured(
        filter: &str,
        method: &str,
        samples: &[Sample],
        queue: bool,
        mismatches: Vec<String>,
        duration_secs: f64,
    ) -> Row {
        let stat = |f: &dyn Fn(&Sample) -> f64| {
            let mut v: Vec<f64> = samples.iter().map(f).collect();
            median(&mut v)
        };
        let some_stat = |f: &dyn Fn(&Sample) -> Option<f64>| {
            let mut v: Vec<f64> = samples.iter().filter_map(f).collect();
            median(&mut v)
        };
        let mpps: Vec<f64> = samples.iter().map(Sample::mpps).collect();
        let cpu: Vec<f64> = samples
            .iter()
            .filter_map(Sample::cpu_ns_per_packet)
            .collect();
        Row {
            filter: filter.into(),
            method: method.into(),
            mpps_median: median(&mut mpps.clone()).map(round4),
            mpps_min: mpps.iter().copied().reduce(f64::min).map(round4),
            mpps_max: mpps.iter().copied().reduce(f64::max).map(round4),
            ns_per_packet: None,
            cpu_ns_per_packet: median(&mut cpu.clone()).map(|v| (v * 10.0).round() / 10.0),
            correct: mismatches.is_empty() && !samples.is_empty(),
            skipped: None,
            offered_mpps: stat(&Sample::offered_mpps).map(round4),
            delivered_mpps: stat(&Sample::delivered_mpps).map(round4),
            dropped_mpps: stat(&Sample::dropped_mpps).map(round4),
            bypassed_mpps: if queue {
                stat(&Sample::bypassed_mpps).map(round4)
            } else {
                None
            },
            queue_cpu_ns_per_packet: if queue {
                let mut v: Vec<f64> = samples
                    .iter()
                    .filter_map(Sample::thread_ns_per_packet)
                    .collect();
                median(&mut v).map(|v| v.round())
            } else {
                None
            },
            queue_busy: if queue {
                stat(&Sample::thread_busy).map(|v| (v * 100.0).round() / 100.0)
            } else {
                None
            },
            before_stack: samples.iter().any(|s| s.before_stack),
            xdp_dropped_mpps: some_stat(&Sample::xdp_dropped_mpps).map(round4),
            lost_mpps: some_stat(&Sample::lost_mpps).map(round4),
            runs: samples.len(),
            duration_secs,
            mismatch: (!mismatches.is_empty()).then(|| mismatches.join(" | ")),
            note: None,
        }
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// The median (the mean of the middle two for an even count).
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `v` with `decimals` decimals, or `-`.
pub fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::counters::Counters;
    use crate::methods::FilterCount;

    /// A run in which `processed` packets, half of them must-drop, were all decided on in
    /// `secs`, at 500 ns each.
    pub(crate) fn sample(processed: u64, secs: f64) -> Sample {
        Sample {
            sent: processed,
            gen_secs: secs,
            window_secs: secs,
            counters: Counters {
                arrived: [processed / 2, processed - processed / 2],
                survived: [0, processed - processed / 2],
                rule: Some(processed / 2),
            },
            filter: FilterCount::default(),
            cpu_ns: processed as f64 * 500.0,
            thread_ns: 0.0,
            queue_dropped: 0,
            before_stack: false,
            xdp: None,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn json_has_the_issue_fields_and_nulls() {
        let samples = [
            sample(1_400_000, 1.0),
            sample(1_500_000, 1.0),
            sample(1_450_000, 1.0),
        ];
        let r = Row::measured("udp-port", "iptables-raw", &samples, false, vec![], 1.0);
        let v = serde_json::to_value(&r).unwrap();
        for k in [
            "filter",
            "method",
            "mpps_median",
            "mpps_min",
            "mpps_max",
            "ns_per_packet",
            "cpu_ns_per_packet",
            "correct",
            "skipped",
        ] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
        assert_eq!(v["mpps_median"], 1.45);
        assert_eq!(v["mpps_min"], 1.4);
        assert_eq!(v["mpps_max"], 1.5);
        assert_eq!(v["ns_per_packet"], serde_json::Value::Null);
        assert_eq!(v["skipped"], serde_json::Value::Null);
        assert_eq!(v["cpu_ns_per_packet"], 500.0);
        assert_eq!(v["correct"], true);
        assert_eq!(v["bypassed_mpps"], serde_json::Value::Null);

        let s = Row::skipped("dns", "ebpf", "no clang".into(), 5.0);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["skipped"], "no clang");
        assert_eq!(v["correct"], false);
        assert_eq!(v["mpps_median"], serde_json::Value::Null);
    }
}
