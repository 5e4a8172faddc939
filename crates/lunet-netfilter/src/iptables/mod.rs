//! The iptables backend: a lunet chain per (table, built-in chain) holding the NFQUEUE rules,
//! and one jump to it from the built-in chain, tagged `-m comment --comment lunet:<state>`.
//!
//! ```text
//! -A INPUT -m comment --comment lunet:web -j LUNET-web-IN          (inserted first)
//! -A LUNET-web-IN -m mark --mark 0x0 -j NFQUEUE --queue-num 0 --queue-bypass
//! ```
//!
//! IPv4 rules go through `iptables`, IPv6 through `ip6tables`, INET through both. Commands
//! run on the calling thread, so in its network namespace. Removal and cleanup read
//! `iptables-save` and delete rules by specification (never by number, which another tool
//! could shift under us).

mod counters;
mod flowhash;
mod names;
mod save;
mod tables;

pub use names::iptables_chain_name;
pub use tables::{iptables_table_for, IptablesTable, IptablesVariant, IPTABLES_TABLES};

use crate::cmd::{available, run};
use crate::error::{Error, Result};
use crate::placement::{Placement, QueueRule};
use crate::state::{validate_state, COMMENT_PREFIX};
use lunet_types::nf::Family;
use names::{chain_names, is_shortened, CHAIN_PREFIX};
use save::{parse_save, SavedRule, SavedTable};

/// Seconds `iptables -w` waits for the xtables lock (legacy) before failing.
const LOCK_WAIT: &str = "10";

/// `iptables` for IPv4, `ip6tables` for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tool {
    V4,
    V6,
}

impl Tool {
    pub(crate) const ALL: [Tool; 2] = [Tool::V4, Tool::V6];

    pub(crate) fn cmd(self) -> &'static str {
        match self {
            Tool::V4 => "iptables",
            Tool::V6 => "ip6tables",
        }
    }

    pub(crate) fn save(self) -> &'static str {
        match self {
            Tool::V4 => "iptables-save",
            Tool::V6 => "ip6tables-save",
        }
    }

    fn for_family(f: Family) -> &'static [Tool] {
        match f {
            Family::Ipv4 => &[Tool::V4],
            Family::Ipv6 => &[Tool::V6],
            Family::Inet => &Tool::ALL,
        }
    }

    /// `<cmd> -w 10 -t <table> <args>`.
    fn run(self, table: &str, args: &[&str]) -> Result<String> {
        let mut full = vec!["-w", LOCK_WAIT, "-t", table];
        full.extend_from_slice(args);
        run(self.cmd(), &full)
    }
}

/// One lunet chain and the jump to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IptChain {
    pub(crate) tool: Tool,
    pub(crate) table: &'static str,
    pub(crate) builtin: &'static str,
    pub(crate) chain: String,
    pub(crate) comment: String,
}

impl IptChain {
    fn jump_args(&self) -> [&str; 6] {
        [
            "-m",
            "comment",
            "--comment",
            &self.comment,
            "-j",
            &self.chain,
        ]
    }

    /// Puts the flow-verdict rules at the top of the chain (IPv4 chains only): a packet whose
    /// flow has a verdict gets it here and never reaches the queue.
    pub(crate) fn guard_flows(&self, drop_pin: &str, accept_pin: &str) -> Result<()> {
        if self.tool != Tool::V4 {
            return Ok(());
        }
        for (pin, verdict) in [(accept_pin, "ACCEPT"), (drop_pin, "DROP")] {
            self.tool.run(
                self.table,
                &[
                    "-I",
                    &self.chain,
                    "1",
                    "-m",
                    "bpf",
                    "--object-pinned",
                    pin,
                    "-j",
                    verdict,
                ],
            )?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "{} {}: {} -> {}",
            self.tool.cmd(),
            self.table,
            self.builtin,
            self.chain
        )
    }

    /// Deletes the jump, then flushes and deletes the chain; tries all three, reports all.
    fn remove(&self) -> Result<()> {
        let mut errors = Vec::new();
        let mut del = vec!["-D", self.builtin];
        del.extend(self.jump_args());
        if let Err(e) = self.tool.run(self.table, &del) {
            errors.push(e);
        }
        errors.extend(self.drop_chain().err());
        Error::collect(errors)
    }

    fn drop_chain(&self) -> Result<()> {
        self.tool.run(self.table, &["-F", &self.chain])?;
        self.tool.run(self.table, &["-X", &self.chain]).map(drop)
    }
}

/// Groups rules by (tool, table, built-in chain), keeping first-seen order and, inside a
/// group, ordering by requested priority (stable).
pub(crate) fn plan(
    state: &str,
    rules: &[QueueRule],
    variant: IptablesVariant,
) -> (Vec<(IptChain, Vec<QueueRule>)>, Vec<Placement>) {
    let mut groups: Vec<(IptChain, Vec<QueueRule>)> = Vec::new();
    let mut placements = Vec::new();
    for r in rules {
        let (table, table_priority) = iptables_table_for(r.hook, r.priority, variant);
        for &tool in Tool::for_family(r.family) {
            let builtin = r.hook.iptables_chain();
            placements.push(Placement {
                backend: tool.cmd().to_string(),
                family: r.family,
                hook: r.hook,
                table: table.to_string(),
                chain: builtin.to_string(),
                table_priority,
                requested_priority: r.priority,
            });
            let key = IptChain {
                tool,
                table,
                builtin,
                chain: iptables_chain_name(state, r.hook),
                comment: format!("{COMMENT_PREFIX}{state}"),
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(*r),
                None => groups.push((key, vec![*r])),
            }
        }
    }
    for (_, v) in &mut groups {
        v.sort_by_key(|r| r.priority);
    }
    (groups, placements)
}

/// The arguments after `-A <chain>` for one queue rule.
/// The argument lists after `-A <chain>` for one queue rule: one rule, or with per-CPU
/// copies one per copy's queue, each matching its share of the flows ([`flowhash`]).
pub(crate) fn queue_rule_args(r: &QueueRule, tool: Tool) -> Vec<Vec<String>> {
    let copies = r.queues.max(1);
    (0..copies)
        .map(|k| {
            let mut args: Vec<String> = Vec::new();
            if let Some(dev) = r.in_dev {
                args.extend(["-i".to_string(), dev.as_str().to_string()]);
            }
            args.extend(["-m", "mark", "--mark", &r.mark.to_string()].map(String::from));
            if copies > 1 {
                args.extend(["-m".into(), "bpf".into(), "--bytecode".into()]);
                args.push(flowhash::bytecode(tool == Tool::V6, copies, k));
            }
            args.extend(
                [
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &(r.queue + k).to_string(),
                    "--queue-bypass",
                ]
                .map(String::from),
            );
            args
        })
        .collect()
}

/// Creates the chain, its rules, then the jump (so the jump only ever points at a complete
/// chain). On failure, undoes this group's own steps.
fn create(ch: &IptChain, rules: &[QueueRule]) -> Result<()> {
    ch.tool.run(ch.table, &["-N", &ch.chain])?;
    let result = (|| {
        for args in rules.iter().flat_map(|r| queue_rule_args(r, ch.tool)) {
            let mut full = vec!["-A", ch.chain.as_str()];
            full.extend(args.iter().map(String::as_str));
            ch.tool.run(ch.table, &full)?;
        }
        let mut jump = vec!["-I", ch.builtin, "1"];
        jump.extend(ch.jump_args());
        ch.tool.run(ch.table, &jump).map(drop)
    })();
    if let Err(e) = result {
        return match ch.drop_chain() {
            Ok(()) => Err(e),
            Err(undo) => Err(Error::RollbackFailed {
                error: Box::new(e),
                left: vec![format!("{}: {undo}", ch.describe())],
            }),
        };
    }
    Ok(())
}

/// Installs `rules` for `state`; on failure removes what it added.
pub(crate) fn install(state: &str, rules: &[QueueRule]) -> Result<(Vec<IptChain>, Vec<Placement>)> {
    validate_state(state)?;
    let variant = IptablesVariant::detect()?;
    let (groups, placements) = plan(state, rules, variant);
    check_shortened(state, &groups)?;
    let mut done: Vec<IptChain> = Vec::new();
    for (ch, group_rules) in groups {
        if let Err(e) = create(&ch, &group_rules) {
            let left: Vec<String> = done
                .iter()
                .rev()
                .filter_map(|d| d.remove().err().map(|u| format!("{}: {u}", d.describe())))
                .collect();
            return Err(match (e, left.is_empty()) {
                (e, true) => e,
                (Error::RollbackFailed { error, left: mut l }, false) => {
                    l.extend(left);
                    Error::RollbackFailed { error, left: l }
                }
                (e, false) => Error::RollbackFailed {
                    error: Box::new(e),
                    left,
                },
            });
        }
        done.push(ch);
    }
    Ok((done, placements))
}

/// The state whose lunet jump in `t` leads to `chain`.
fn owner_of<'a>(t: &'a SavedTable, chain: &str) -> Option<&'a str> {
    t.rules
        .iter()
        .filter(|r| r.is_lunet_jump() && r.target() == Some(chain))
        .find_map(SavedRule::lunet_state)
}

/// Refuses `state`'s install when one of its shortened chain names is another state's chain
/// (the names of two long states agreed in prefix and hash): no two states share a chain.
fn check_shortened(state: &str, groups: &[(IptChain, Vec<QueueRule>)]) -> Result<()> {
    let mut scanned: std::collections::HashMap<Tool, Vec<SavedTable>> = Default::default();
    for (ch, _) in groups.iter().filter(|(c, _)| is_shortened(&c.chain)) {
        let tables = match scanned.entry(ch.tool) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(scan(ch.tool)?),
        };
        let other = tables
            .iter()
            .filter(|t| t.name == ch.table && t.chains.contains(&ch.chain))
            .find_map(|t| owner_of(t, &ch.chain))
            .filter(|o| *o != state);
        if let Some(other) = other {
            return Err(Error::ChainTaken {
                state: state.to_string(),
                chain: ch.chain.clone(),
                other: other.to_string(),
            });
        }
    }
    Ok(())
}

/// Removes what [`install`] returned; tries everything, reports every failure.
pub(crate) fn remove(chains: &[IptChain]) -> Result<()> {
    Error::collect(
        chains
            .iter()
            .rev()
            .filter_map(|c| c.remove().err())
            .collect(),
    )
}

/// The tools installed here.
pub(crate) use counters::queued_packets;

fn tools() -> impl Iterator<Item = Tool> {
    Tool::ALL
        .into_iter()
        .filter(|t| available(t.cmd()) && available(t.save()))
}

fn scan(tool: Tool) -> Result<Vec<SavedTable>> {
    Ok(parse_save(&run(tool.save(), &[])?))
}

/// Every lunet line of `iptables-save` and `ip6tables-save`, prefixed `<tool> <table>: `.
pub(crate) fn list_lines() -> Result<Vec<String>> {
    let mut out = Vec::new();
    for tool in tools() {
        for t in scan(tool)? {
            out.extend(
                t.lunet_lines()
                    .into_iter()
                    .map(|l| format!("{} {}: {l}", tool.cmd(), t.name)),
            );
        }
    }
    Ok(out)
}

/// Removes the lunet jumps and chains that `stale_chain` / `stale_jump` select, in every table
/// of both tools; a jump to a stale chain is always stale. Returns what it removed.
fn remove_where(
    stale_chain: &dyn Fn(&SavedTable, &str) -> bool,
    stale_jump: &dyn Fn(&SavedRule) -> bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for tool in tools() {
        for t in scan(tool)? {
            for r in t.rules.iter().filter(|r| r.is_lunet_jump()) {
                let to_stale = r
                    .target()
                    .is_some_and(|x| x.starts_with(CHAIN_PREFIX) && stale_chain(&t, x));
                if !(to_stale || stale_jump(r)) {
                    continue;
                }
                let mut del = vec!["-D", r.chain.as_str()];
                del.extend(r.args.iter().map(String::as_str));
                match tool.run(&t.name, &del) {
                    Ok(_) => removed.push(format!("{} {}: jump {}", tool.cmd(), t.name, r.line)),
                    Err(e) => errors.push(e),
                }
            }
            for c in t.lunet_chains().filter(|c| stale_chain(&t, c)) {
                let r = tool
                    .run(&t.name, &["-F", c])
                    .and_then(|_| tool.run(&t.name, &["-X", c]));
                match r {
                    Ok(_) => removed.push(format!("{} {}: chain {c}", tool.cmd(), t.name)),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    Error::collect(errors).map(|()| removed)
}

/// Removes `state`'s jumps and chains: the chains of its names, and those its commented
/// jumps lead to (so a chain named by an older build's scheme goes too); a chain of its name
/// that another state's jump leads to is that state's, and stays.
pub(crate) fn remove_state(state: &str) -> Result<Vec<String>> {
    validate_state(state)?;
    let names = chain_names(state);
    let ours = |t: &SavedTable, c: &str| {
        let owner = owner_of(t, c);
        owner == Some(state) || (names.iter().any(|n| n == c) && owner.is_none())
    };
    remove_where(&ours, &|r| r.lunet_state() == Some(state))
}

/// Removes every lunet jump and chain not belonging to a state in `keep`.
pub(crate) fn cleanup_stale(keep: &[&str]) -> Result<Vec<String>> {
    let kept: Vec<String> = keep.iter().flat_map(|s| chain_names(s)).collect();
    let is_kept = |c: &str| kept.iter().any(|k| k == c);
    remove_where(&|_, c| !is_kept(c), &|r| {
        let comment_ok = r.lunet_state().is_none_or(|s| keep.contains(&s));
        let target_ok = r.target().is_some_and(is_kept);
        !(comment_ok && target_ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lunet_types::nf::Hook;

    fn rule(family: Family, hook: Hook, priority: i32, mark: u32, queue: u16) -> QueueRule {
        QueueRule {
            family,
            hook,
            priority,
            mark,
            queue,
            queues: 1,
            in_dev: None,
        }
    }

    #[test]
    fn plan_groups_by_table_and_chain() {
        let rules = [
            rule(Family::Ipv4, Hook::LocalIn, 10, 0, 1),
            rule(Family::Inet, Hook::LocalIn, -5, 3, 2),
            rule(Family::Ipv4, Hook::LocalIn, -150, 0, 3),
            rule(Family::Ipv6, Hook::PreRouting, -300, 0, 4),
        ];
        let (groups, placements) = plan("s", &rules, IptablesVariant::Legacy);
        let shown: Vec<String> = placements.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "LOCAL_IN prio 10 -> iptables filter/INPUT (prio 0)",
                "LOCAL_IN prio -5 -> iptables filter/INPUT (prio 0)",
                "LOCAL_IN prio -5 -> ip6tables filter/INPUT (prio 0)",
                "LOCAL_IN prio -150 -> iptables mangle/INPUT (prio -150)",
                "PRE_ROUTING prio -300 -> ip6tables raw/PREROUTING (prio -300)",
            ]
        );
        let keys: Vec<String> = groups
            .iter()
            .map(|(c, r)| {
                format!(
                    "{} {} {} {} {:?}",
                    c.tool.cmd(),
                    c.table,
                    c.builtin,
                    c.chain,
                    r.iter().map(|r| r.queue).collect::<Vec<_>>()
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                "iptables filter INPUT LUNET-s-IN [2, 1]", // sorted by priority: -5 before 10
                "ip6tables filter INPUT LUNET-s-IN [2]",
                "iptables mangle INPUT LUNET-s-IN [3]",
                "ip6tables raw PREROUTING LUNET-s-PRE [4]",
            ]
        );
        assert_eq!(
            queue_rule_args(&rules[1], Tool::V4)[0].join(" "),
            "-m mark --mark 3 -j NFQUEUE --queue-num 2 --queue-bypass"
        );
        // Three copies: three rules, each with its share of the flows.
        let three = QueueRule {
            queues: 3,
            in_dev: None,
            ..rules[1]
        };
        let args = queue_rule_args(&three, Tool::V4);
        assert_eq!(args.len(), 3);
        for (k, a) in args.iter().enumerate() {
            let a = a.join(" ");
            assert!(a.contains("-m bpf --bytecode "), "{a}");
            assert!(
                a.ends_with(&format!("--queue-num {} --queue-bypass", 2 + k)),
                "{a}"
            );
        }
    }
}
