//! The receiver's counting rules, around the filter under test:
//!
//! ```text
//! raw PREROUTING   1  -p udp --sport 40001            count: must-drop packets that arrived
//!                  2  -p udp --sport 40002            count: must-pass packets that arrived
//!                  3+ the method's rule (iptables-raw) or lunet's NFQUEUE jump (lunet-lua)
//! filter INPUT        -p udp --sport 40001 -j DROP    count: must-drop packets that survived
//!                     -p udp --sport 40002 -j DROP    count: must-pass packets that survived
//! ```
//!
//! (`-p tcp` instead of `-p udp` for a filter of TCP traffic, `sni`.)
//!
//! The counting rules have no target, so packets go on to the filter. The survivor rules
//! also end the packets' way (a sink): they are counted, not handed to a socket lookup and
//! an ICMP port-unreachable reply or a TCP reset, which every method would pay alike. Every
//! method, `none` included, runs behind the same four rules.
//!
//! A method that filters before the stack (`lunet-kernel-xdp`, at XDP on the receiver's
//! veth) drops packets before they reach these rules: for it "arrived" counts what passed.

use std::io;

use crate::filters::Class;
use crate::testbed::Bed;

/// Counter values read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets of each class (by [`Class::index`]) that reached the filter.
    pub arrived: [u64; 2],
    /// Packets of each class that came out of it and reached filter INPUT.
    pub survived: [u64; 2],
    /// The counter of the filter's own rule in raw PREROUTING (iptables-raw), when present.
    pub rule: Option<u64>,
}

impl Counters {
    /// `self - earlier`, counter by counter.
    pub fn since(&self, earlier: &Counters) -> Counters {
        let sub = |a: [u64; 2], b: [u64; 2]| [a[0] - b[0].min(a[0]), a[1] - b[1].min(a[1])];
        Counters {
            arrived: sub(self.arrived, earlier.arrived),
            survived: sub(self.survived, earlier.survived),
            rule: match (self.rule, earlier.rule) {
                (Some(a), Some(b)) => Some(a.saturating_sub(b)),
                (a, _) => a,
            },
        }
    }
}

/// Puts the counting rules around whatever the method installed: the arrival counters at the
/// top of raw PREROUTING (so before the filter, whichever way it was inserted), the survivor
/// sinks in filter INPUT, for the traffic's `protocol` (`udp` or `tcp`). Checks that the
/// counters really come first.
pub fn install(bed: &Bed, protocol: &str) -> io::Result<()> {
    for class in Class::ALL.iter().rev() {
        let sport = class.sport().to_string();
        bed.iptables(&[
            "-t",
            "raw",
            "-I",
            "PREROUTING",
            "1",
            "-p",
            protocol,
            "--sport",
            &sport,
        ])?;
    }
    for class in Class::ALL {
        let sport = class.sport().to_string();
        bed.iptables(&[
            "-t", "filter", "-A", "INPUT", "-p", protocol, "--sport", &sport, "-j", "DROP",
        ])?;
    }
    let save = bed.iptables_save()?;
    let first: Vec<String> = rules(&save, "raw", "PREROUTING")
        .into_iter()
        .take(2)
        .map(|r| r.args.join(" "))
        .collect();
    let want: Vec<String> = Class::ALL
        .iter()
        .map(|c| format!("-p {protocol} -m {protocol} --sport {}", c.sport()))
        .collect();
    if first != want {
        return Err(io::Error::other(format!(
            "the counting rules are not first in raw PREROUTING: {first:?}"
        )));
    }
    Ok(())
}

/// Reads every counter at once. `target` names the filter rule's target (`DROP`, `ACCEPT`)
/// when the method is an iptables rule in raw PREROUTING.
pub fn read(bed: &Bed, target: Option<&str>) -> io::Result<Counters> {
    parse(&bed.iptables_save()?, target)
}

/// [`read`] from the text of `iptables-save -c`.
pub fn parse(save: &str, target: Option<&str>) -> io::Result<Counters> {
    let mut c = Counters::default();
    let mut found = [[false; 2]; 2];
    for r in rules(save, "raw", "PREROUTING") {
        match (r.sport(), r.target()) {
            (Some(class), None) => {
                c.arrived[class.index()] += r.packets;
                found[0][class.index()] = true;
            }
            (None, Some(t)) if Some(t) == target => {
                *c.rule.get_or_insert(0) += r.packets;
            }
            _ => {}
        }
    }
    for r in rules(save, "filter", "INPUT") {
        if let (Some(class), Some("DROP")) = (r.sport(), r.target()) {
            c.survived[class.index()] += r.packets;
            found[1][class.index()] = true;
        }
    }
    if found.iter().flatten().any(|f| !f) {
        return Err(io::Error::other(
            "the benchmark's counting rules are missing from the receiver namespace",
        ));
    }
    if target.is_some() && c.rule.is_none() {
        return Err(io::Error::other(
            "the iptables filter rule is missing from raw PREROUTING",
        ));
    }
    Ok(c)
}

/// A rule of `iptables-save -c`: `[packets:bytes] -A CHAIN args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRule {
    pub packets: u64,
    pub args: Vec<String>,
}

impl SavedRule {
    fn value_of(&self, flag: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == flag)?;
        self.args.get(i + 1).map(String::as_str)
    }

    fn target(&self) -> Option<&str> {
        self.value_of("-j")
    }

    /// The class a counting rule matches by source port.
    fn sport(&self) -> Option<Class> {
        let p: u16 = self.value_of("--sport")?.parse().ok()?;
        Class::ALL.into_iter().find(|c| c.sport() == p)
    }
}

/// The rules of `table`/`chain`, in order. Arguments are split on whitespace: quoting is not
/// undone, which does not matter for the rules this module looks at.
pub fn rules(save: &str, table: &str, chain: &str) -> Vec<SavedRule> {
    let mut in_table = false;
    let mut out = Vec::new();
    let prefix = format!("-A {chain} ");
    for line in save.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix('*') {
            in_table = t == table;
            continue;
        }
        if !in_table || !line.starts_with('[') {
            continue;
        }
        let Some((counts, rest)) = line[1..].split_once("] ") else {
            continue;
        };
        let Some(args) = rest.strip_prefix(&prefix) else {
            continue;
        };
        let packets = counts
            .split_once(':')
            .and_then(|(p, _)| p.parse().ok())
            .unwrap_or(0);
        out.push(SavedRule {
            packets,
            args: args.split_whitespace().map(String::from).collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = r#"# Generated by iptables-save v1.8.9 (nf_tables)
*raw
:PREROUTING ACCEPT [100:6000]
:OUTPUT ACCEPT [0:0]
:LUNET-bench-PRE - [0:0]
[60:3600] -A PREROUTING -p udp -m udp --sport 40001
[40:2400] -A PREROUTING -p udp -m udp --sport 40002
[55:3300] -A PREROUTING -p udp -m udp --dport 9 -j DROP
[0:0] -A PREROUTING -m comment --comment "lunet:bench" -j LUNET-bench-PRE
COMMIT
*filter
:INPUT ACCEPT [0:0]
[5:300] -A INPUT -p udp -m udp --sport 40001 -j DROP
[40:2400] -A INPUT -p udp -m udp --sport 40002 -j DROP
COMMIT
"#;

    #[test]
    fn counters_are_read_by_class_and_target() {
        let c = parse(SAVE, Some("DROP")).unwrap();
        assert_eq!(c.arrived, [60, 40]);
        assert_eq!(c.survived, [5, 40]);
        assert_eq!(c.rule, Some(55));
        let c = parse(SAVE, None).unwrap();
        assert_eq!(c.rule, None);
        assert!(parse(SAVE, Some("ACCEPT")).is_err(), "no ACCEPT rule");
        assert!(parse("*raw\nCOMMIT\n", None).is_err(), "no counters");
        let order: Vec<String> = rules(SAVE, "raw", "PREROUTING")
            .iter()
            .map(|r| r.args.join(" "))
            .collect();
        assert_eq!(order[0], "-p udp -m udp --sport 40001");
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn differences_never_underflow() {
        let a = Counters {
            arrived: [10, 20],
            survived: [1, 20],
            rule: Some(9),
        };
        let b = Counters {
            arrived: [4, 5],
            survived: [1, 25],
            rule: Some(3),
        };
        let d = a.since(&b);
        assert_eq!(d.arrived, [6, 15]);
        assert_eq!(d.survived, [0, 0]);
        assert_eq!(d.rule, Some(6));
    }
}
