//! The results: one [`Row`] per (filter, method), a table for the terminal, the JSON array.

use std::io;
use std::path::Path;

use serde::Serialize;

use super::measure::Sample;

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

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// The table for the terminal, with a legend.
pub fn table(rows: &[Row], runs: usize, secs: f64) -> String {
    let header = [
        "FILTER",
        "METHOD",
        "MPPS",
        "MIN-MAX",
        "OFFERED",
        "DELIVERED",
        "DROPPED",
        "UNSEEN",
        "CPU NS/PKT",
        "BPF NS/PKT",
        "CORRECT",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    let mut skipped = Vec::new();
    for r in rows {
        if let Some(reason) = &r.skipped {
            skipped.push((r.filter.clone(), r.method.clone(), reason.clone()));
            continue;
        }
        lines.push(vec![
            r.filter.clone(),
            r.method.clone(),
            num(r.mpps_median, 3),
            format!("{}-{}", num(r.mpps_min, 3), num(r.mpps_max, 3)),
            num(r.offered_mpps, 3),
            num(r.delivered_mpps, 3),
            num(r.dropped_mpps, 3),
            num(r.bypassed_mpps, 3),
            num(r.cpu_ns_per_packet, 0),
            num(r.ns_per_packet, 1),
            if r.correct { "yes" } else { "NO" }.into(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 2 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for (f, m, reason) in &skipped {
        out.push_str(&format!(
            "{f:<w0$}  {m:<w1$}  skipped: {reason}\n",
            w0 = widths[0],
            w1 = widths[1]
        ));
    }
    let queues: Vec<&Row> = rows.iter().filter(|r| r.queue_busy.is_some()).collect();
    if !queues.is_empty() {
        out.push('\n');
    }
    for r in queues {
        out.push_str(&format!(
            "{} / {}: the NFQUEUE consumer was on a CPU {}% of the time, {} ns per packet its \
             hook decided on\n",
            r.filter,
            r.method,
            num(r.queue_busy.map(|b| b * 100.0), 0),
            num(r.queue_cpu_ns_per_packet, 0),
        ));
    }
    let early: Vec<&Row> = rows
        .iter()
        .filter(|r| r.before_stack && r.skipped.is_none())
        .collect();
    if !early.is_empty() {
        out.push_str(
            "\nAt XDP the filter drops before the stack, so the counting rules in raw PREROUTING see \
             only what it passed: its DROPPED is OFFERED - DELIVERED,\nwhich also counts frames lost \
             in the veth's ring before the program; its MPPS counts the frames the program ran on (lunet's \
             verdict counters; for C, the veth's).\nCORRECT: every must-pass packet delivered and no \
             must-drop one (exact in the 5 kpps check run), and the program's DROP count equal to\n\
             DROPPED less the ring's losses. The veth's own counters (ethtool -S) beside it:\n",
        );
    }
    for r in early {
        out.push_str(&format!(
            "{} / {}: {} Mpps XDP_DROP, {} Mpps lost in the ring\n",
            r.filter,
            r.method,
            num(r.xdp_dropped_mpps, 3),
            num(r.lost_mpps, 3),
        ));
    }
    // In the stack every offered frame should reach the filter; when many did not, the rate
    // is what the receive path let through, not what the filter can do.
    for r in rows.iter().filter(|r| !r.before_stack) {
        if let (Some(o), Some(d)) = (r.offered_mpps, r.delivered_mpps) {
            if o > 0.0 && (o - d) / o > 0.02 {
                out.push_str(&format!(
                    "{} / {}: {} Mpps of the frames offered never reached the filter (lost in \
                     the veth's ring or the receiver's backlog)\n",
                    r.filter,
                    r.method,
                    num(Some(o - d), 3),
                ));
            }
        }
    }
    for r in rows.iter() {
        if let Some(n) = &r.note {
            out.push_str(&format!("{} / {}: note: {n}\n", r.filter, r.method));
        }
    }
    for r in rows.iter().filter(|r| r.mismatch.is_some()) {
        out.push_str(&format!(
            "\n{} / {}: WRONG: {}",
            r.filter,
            r.method,
            r.mismatch.as_deref().unwrap_or_default()
        ));
    }
    if rows.iter().any(|r| r.mismatch.is_some()) {
        out.push('\n');
    }
    let ratios = super::docs::ratios_of(rows);
    if !ratios.is_empty() {
        out.push_str(
            "\nRATIOS of medians: lunet-kernel-xdp / iptables-raw, lunet-kernel-xdp / ebpf-c-xdp, \
             lunet-lua / 0.3 Mpps (the kernel notes' one-verdict-per-packet consumer)\n",
        );
        for r in ratios {
            out.push_str(&format!(
                "{:<11} {:>6} {:>6} {:>6}\n",
                r.filter,
                super::docs::times(r.xdp_vs_iptables),
                super::docs::times(r.xdp_vs_c),
                super::docs::times(r.lua_vs_baseline)
            ));
        }
    }
    out.push_str(&format!(
        "\nRates in Mpps, median of {runs} run(s) of {secs} s. MPPS: packets the filter decided on \
         per second (MIN-MAX over the runs).\nOFFERED: frames the generator sent; DELIVERED: \
         packets that reached the filter; DROPPED: packets it dropped; UNSEEN: packets NFQUEUE \
         accepted\nwithout the Lua hook seeing them (fail-open). CPU NS/PKT: receiver softirq \
         time (all CPUs) plus the Lua consumer thread, per delivered packet\n(at XDP: per \
         packet the program ran on). BPF NS/PKT: BPF_PROG_TEST_RUN of the attached eBPF \
         program, mean of one frame of each class, 1,000,000 repeats.\n"
    ));
    out
}

/// Writes the rows as one JSON array.
pub fn write_json(path: &Path, rows: &[Row]) -> io::Result<()> {
    let text = serde_json::to_string_pretty(rows).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::counters::Counters;
    use crate::bench::methods::FilterCount;

    fn sample(processed: u64, secs: f64) -> Sample {
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

    #[test]
    fn table_lists_every_row_and_the_mismatches() {
        let rows = vec![
            Row::measured(
                "udp-port",
                "none",
                &[sample(1_000_000, 1.0)],
                false,
                vec![],
                1.0,
            ),
            Row::measured(
                "udp-port",
                "lunet-lua",
                &[sample(300_000, 1.0)],
                true,
                vec!["3 of 10 must-pass packets survived".into()],
                1.0,
            ),
            Row::skipped("dns", "iptables-raw", "no string match".into(), 1.0),
        ];
        let t = table(&rows, 1, 1.0);
        assert!(t.contains("udp-port  none"), "{t}");
        assert!(t.contains("NO"), "{t}");
        assert!(t.contains("skipped: no string match"), "{t}");
        assert!(t.contains("WRONG: 3 of 10"), "{t}");
        assert!(t.lines().next().unwrap().starts_with("FILTER"));
    }
}
