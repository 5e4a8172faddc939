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

use crate::cmd::{available, run};
use crate::error::{Error, Result};
use crate::placement::{iptables_table_for, Placement, QueueRule};
use crate::state::{fnv1a, validate_state};
use lunet_types::nf::{Family, Hook};
use serde::Serialize;
use std::sync::OnceLock;

/// Longest iptables chain name (`XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN_LEN: usize = 28;
/// Prefix of every chain lunet makes.
pub const CHAIN_PREFIX: &str = "LUNET-";
/// Prefix of the comment on every jump lunet makes.
pub const COMMENT_PREFIX: &str = "lunet:";
/// Seconds `iptables -w` waits for the xtables lock (legacy) before failing.
const LOCK_WAIT: &str = "10";

/// Which iptables `iptables` is: they register the `security` table at different priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum IptablesVariant {
    /// iptables-legacy (x_tables): the kernel's `NF_IP_PRI_*`.
    Legacy,
    /// iptables-nft (nf_tables with xt compat): `security` at 150.
    Nft,
}

impl IptablesVariant {
    /// From `iptables -V` (`... (nf_tables)` or `... (legacy)`), once per process.
    pub fn detect() -> Result<Self> {
        static CACHE: OnceLock<IptablesVariant> = OnceLock::new();
        if let Some(v) = CACHE.get() {
            return Ok(*v);
        }
        let out = run("iptables", &["-V"])?;
        let v = if out.contains("nf_tables") {
            IptablesVariant::Nft
        } else {
            IptablesVariant::Legacy
        };
        Ok(*CACHE.get_or_init(|| v))
    }
}

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

    fn save(self) -> &'static str {
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

/// The lunet chain of `state` for `hook`: `LUNET-<state>-<HOOK>`, or, when that exceeds 28
/// characters, `LUNET-<state prefix>~<6 hex of FNV-1a(state)>-<HOOK>` (stable across runs;
/// `~` never occurs in a state name, so truncated names cannot equal untruncated ones).
pub fn iptables_chain_name(state: &str, hook: Hook) -> String {
    let full = format!("{CHAIN_PREFIX}{state}-{}", hook.abbr());
    if full.len() <= MAX_CHAIN_LEN {
        return full;
    }
    let hash = format!("{:06x}", fnv1a(state) & 0xff_ffff);
    let keep = MAX_CHAIN_LEN - CHAIN_PREFIX.len() - 1 - hash.len() - 1 - hook.abbr().len();
    // State names are ASCII, so any byte index is a char boundary.
    format!("{CHAIN_PREFIX}{}~{hash}-{}", &state[..keep], hook.abbr())
}

fn chain_names(state: &str) -> Vec<String> {
    Hook::ALL
        .iter()
        .map(|h| iptables_chain_name(state, *h))
        .collect()
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
pub(crate) fn queue_rule_args(r: &QueueRule) -> Vec<String> {
    [
        "-m",
        "mark",
        "--mark",
        &r.mark.to_string(),
        "-j",
        "NFQUEUE",
        "--queue-num",
        &r.queue.to_string(),
        "--queue-bypass",
    ]
    .map(String::from)
    .to_vec()
}

/// Creates the chain, its rules, then the jump (so the jump only ever points at a complete
/// chain). On failure, undoes this group's own steps.
fn create(ch: &IptChain, rules: &[QueueRule]) -> Result<()> {
    ch.tool.run(ch.table, &["-N", &ch.chain])?;
    let result = (|| {
        for r in rules {
            let args = queue_rule_args(r);
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

// ---- reading iptables-save ----

/// A rule from `iptables-save`: `-A <chain> <args...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedRule {
    pub(crate) chain: String,
    pub(crate) args: Vec<String>,
    pub(crate) line: String,
}

impl SavedRule {
    fn value_of(&self, flag: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == flag)?;
        self.args.get(i + 1).map(String::as_str)
    }

    /// The state named by a `lunet:<state>` comment.
    pub(crate) fn lunet_state(&self) -> Option<&str> {
        self.value_of("--comment")?.strip_prefix(COMMENT_PREFIX)
    }

    /// The `-j`/`-g` target.
    pub(crate) fn target(&self) -> Option<&str> {
        self.value_of("-j").or_else(|| self.value_of("-g"))
    }

    /// A jump lunet made: in a built-in (non-lunet) chain, with our comment or our target.
    pub(crate) fn is_lunet_jump(&self) -> bool {
        !self.chain.starts_with(CHAIN_PREFIX)
            && (self.lunet_state().is_some()
                || self.target().is_some_and(|t| t.starts_with(CHAIN_PREFIX)))
    }
}

/// One `*table` section of `iptables-save`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SavedTable {
    pub(crate) name: String,
    pub(crate) chains: Vec<String>,
    pub(crate) rules: Vec<SavedRule>,
}

impl SavedTable {
    fn lunet_chains(&self) -> impl Iterator<Item = &String> {
        self.chains.iter().filter(|c| c.starts_with(CHAIN_PREFIX))
    }

    /// The lines that are lunet's (chain declarations, rules in lunet chains, jumps).
    fn lunet_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.lunet_chains().map(|c| format!(":{c}")).collect();
        out.extend(
            self.rules
                .iter()
                .filter(|r| r.chain.starts_with(CHAIN_PREFIX) || r.is_lunet_jump())
                .map(|r| r.line.clone()),
        );
        out
    }
}

/// Splits a saved rule like a shell would for the quoting `iptables-save` uses (`"..."` with
/// `\"` and `\\` escapes).
pub(crate) fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    args
}

/// Parses `iptables-save` output.
pub(crate) fn parse_save(text: &str) -> Vec<SavedTable> {
    let mut tables: Vec<SavedTable> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            tables.push(SavedTable {
                name: name.to_string(),
                ..Default::default()
            });
        } else if let Some(decl) = line.strip_prefix(':') {
            if let (Some(t), Some(name)) = (tables.last_mut(), decl.split_whitespace().next()) {
                t.chains.push(name.to_string());
            }
        } else if line.starts_with("-A ") {
            let mut args = split_args(line);
            if let Some(t) = tables.last_mut() {
                if args.len() >= 2 {
                    let chain = args.remove(1);
                    args.remove(0);
                    t.rules.push(SavedRule {
                        chain,
                        args,
                        line: line.to_string(),
                    });
                }
            }
        }
    }
    tables
}

/// The tools installed here.
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
    stale_chain: &dyn Fn(&str) -> bool,
    stale_jump: &dyn Fn(&SavedRule) -> bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for tool in tools() {
        for t in scan(tool)? {
            for r in t.rules.iter().filter(|r| r.is_lunet_jump()) {
                let to_stale = r
                    .target()
                    .is_some_and(|x| x.starts_with(CHAIN_PREFIX) && stale_chain(x));
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
            for c in t.lunet_chains().filter(|c| stale_chain(c)) {
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

/// Removes `state`'s jumps and chains (found by name and comment).
pub(crate) fn remove_state(state: &str) -> Result<Vec<String>> {
    validate_state(state)?;
    let names = chain_names(state);
    remove_where(&|c| names.iter().any(|n| n == c), &|r| {
        r.lunet_state() == Some(state)
    })
}

/// Removes every lunet jump and chain not belonging to a state in `keep`.
pub(crate) fn cleanup_stale(keep: &[&str]) -> Result<Vec<String>> {
    let kept: Vec<String> = keep.iter().flat_map(|s| chain_names(s)).collect();
    let is_kept = |c: &str| kept.iter().any(|k| k == c);
    remove_where(&|c| !is_kept(c), &|r| {
        let comment_ok = r.lunet_state().is_none_or(|s| keep.contains(&s));
        let target_ok = r.target().is_some_and(is_kept);
        !(comment_ok && target_ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_fit_and_stay_distinct() {
        assert_eq!(iptables_chain_name("web", Hook::LocalIn), "LUNET-web-IN");
        assert_eq!(
            iptables_chain_name("web", Hook::PostRouting),
            "LUNET-web-POST"
        );
        // 17 characters still fit with the longest suffix.
        let s17 = "abcdefghijklmnopq";
        assert_eq!(
            iptables_chain_name(s17, Hook::PostRouting),
            format!("LUNET-{s17}-POST")
        );
        let long1 = "a-very-long-state-name-number-1";
        let long2 = "a-very-long-state-name-number-2";
        for h in Hook::ALL {
            let (a, b) = (iptables_chain_name(long1, h), iptables_chain_name(long2, h));
            assert!(
                a.len() <= MAX_CHAIN_LEN && b.len() <= MAX_CHAIN_LEN,
                "{a} {b}"
            );
            assert_ne!(a, b);
            assert!(
                a.starts_with("LUNET-a-very-lon") && a.contains('~') && a.ends_with(h.abbr()),
                "{a}"
            );
            assert_eq!(a, iptables_chain_name(long1, h), "stable");
        }
        let max = "x".repeat(crate::state::MAX_STATE_LEN);
        assert_eq!(
            iptables_chain_name(&max, Hook::PostRouting).len(),
            MAX_CHAIN_LEN
        );
    }

    fn rule(family: Family, hook: Hook, priority: i32, mark: u32, queue: u16) -> QueueRule {
        QueueRule {
            family,
            hook,
            priority,
            mark,
            queue,
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
            queue_rule_args(&rules[1]).join(" "),
            "-m mark --mark 3 -j NFQUEUE --queue-num 2 --queue-bypass"
        );
    }

    #[test]
    fn save_output_is_parsed() {
        let text = r#"# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:LUNET-a-IN - [0:0]
:OTHER - [0:0]
-A INPUT -m comment --comment "lunet:a" -j LUNET-a-IN
-A INPUT -p tcp -m comment --comment "say \"hi\" there" -j ACCEPT
-A INPUT -j LUNET-b-IN
-A LUNET-a-IN -m mark --mark 0x0 -j NFQUEUE --queue-num 0 --queue-bypass
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
COMMIT
"#;
        let t = parse_save(text);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "filter");
        assert_eq!(t[0].chains, ["INPUT", "LUNET-a-IN", "OTHER"]);
        let r = &t[0].rules;
        assert_eq!(
            r[0].args,
            ["-m", "comment", "--comment", "lunet:a", "-j", "LUNET-a-IN"]
        );
        assert_eq!(r[0].lunet_state(), Some("a"));
        assert!(r[0].is_lunet_jump());
        assert_eq!(r[1].value_of("--comment"), Some("say \"hi\" there"));
        assert!(!r[1].is_lunet_jump());
        assert!(r[2].is_lunet_jump() && r[2].lunet_state().is_none());
        assert!(!r[3].is_lunet_jump());
        assert_eq!(t[0].lunet_lines().len(), 4);
        assert!(t[1].lunet_lines().is_empty());
    }
}
