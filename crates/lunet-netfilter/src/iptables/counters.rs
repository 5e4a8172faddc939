//! How many packets lunet's NFQUEUE rules sent to each queue: `iptables-save -c` counts every
//! packet a rule matched, queued or not (a full fail-open queue accepts it unseen, a full
//! fail-closed one drops it), so with the queue's own counters it tells what the consumer
//! never saw.

use std::collections::BTreeMap;

use super::run;
use super::save::split_args;
use crate::error::Result;

/// Packets matched so far by the NFQUEUE rules of both tools, by queue number, in the calling
/// thread's network namespace.
pub(crate) fn queued_packets() -> Result<BTreeMap<u16, u64>> {
    let mut out = BTreeMap::new();
    for tool in super::tools() {
        add_counts(&run(tool.save(), &["-c"])?, &mut out);
    }
    Ok(out)
}

/// Adds the packet counts of the NFQUEUE rules in `iptables-save -c` text to `out`.
fn add_counts(text: &str, out: &mut BTreeMap<u16, u64>) {
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((counts, rule)) = rest.split_once("] ") else {
            continue;
        };
        let Some(packets) = counts.split(':').next().and_then(|p| p.parse::<u64>().ok()) else {
            continue;
        };
        let args = split_args(rule);
        let value_of = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
        };
        if value_of("-j").map(String::as_str) != Some("NFQUEUE") {
            continue;
        }
        if let Some(q) = value_of("--queue-num").and_then(|q| q.parse::<u16>().ok()) {
            *out.entry(q).or_default() += packets;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfqueue_rule_counts_are_summed_by_queue() {
        let v4 = "*raw\n:PREROUTING ACCEPT [10:600]\n:LUNET-fw-PRE - [0:0]\n\
                  [10:600] -A PREROUTING -m comment --comment lunet:fw -j LUNET-fw-PRE\n\
                  [7:420] -A LUNET-fw-PRE -m mark --mark 0x0 -j NFQUEUE --queue-num 20001 --queue-bypass\n\
                  [3:180] -A LUNET-fw-PRE -m mark --mark 0x5 -j NFQUEUE --queue-num 20001 --queue-bypass\n\
                  [9:1] -A PREROUTING -j DROP\nCOMMIT\n";
        let v6 = "*raw\n[2:160] -A LUNET-fw-PRE -m mark --mark 0x0 -j NFQUEUE --queue-num 20001 --queue-bypass\nCOMMIT\n";
        let mut out = BTreeMap::new();
        add_counts(v4, &mut out);
        add_counts(v6, &mut out);
        assert_eq!(out.into_iter().collect::<Vec<_>>(), [(20001, 12)]);
    }
}
