//! The results on the terminal ([`table`]) and in a JSON file ([`write_json`]).

use std::io;
use std::path::Path;

use crate::ratios::{ratios_of, times};
use crate::row::{num, Row};

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
    let ratios = ratios_of(rows);
    if !ratios.is_empty() {
        out.push_str(
            "\nRATIOS of medians: lunet-kernel-xdp / iptables-raw, lunet-kernel-xdp / ebpf-c-xdp, \
             lunet-lua and lunet-lua-all / 0.3 Mpps (the kernel notes' one-verdict-per-packet \
             consumer)\n",
        );
        for r in ratios {
            out.push_str(&format!(
                "{:<11} {:>6} {:>6} {:>6} {:>6}\n",
                r.filter,
                times(r.xdp_vs_iptables),
                times(r.xdp_vs_c),
                times(r.lua_vs_baseline),
                times(r.lua_all_vs_baseline)
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
    use crate::row::tests::sample;

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
