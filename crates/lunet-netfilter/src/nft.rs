//! The nft backend: in table `lunet` of the rule's family (`ip`, `ip6`, `inet`), one base
//! chain per (hook, priority, state) at exactly the requested priority, holding
//! `meta mark M queue num Q bypass comment "lunet:<state>"`.
//!
//! ```text
//! table ip lunet {
//!     chain IN_-150_web {
//!         type filter hook input priority -150; policy accept;
//!         meta mark 0x00000000 queue num 3 bypass comment "lunet:web"
//!     }
//! }
//! ```
//!
//! Each install is one `nft -f -` batch, so it is atomic: it either all exists or nothing
//! does. This needs the kernel's nft `queue` expression (`CONFIG_NFT_QUEUE`); see
//! [`nft_queue_support`]. Commands run on the calling thread, so in its network namespace.

use crate::cmd::{available, run, run_with_stdin};
use crate::error::{Error, Result};
use crate::placement::{Placement, QueueRule};
use crate::state::{validate_state, COMMENT_PREFIX};
use lunet_types::nf::{Family, Hook};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};

/// The nft table lunet owns (one per family).
pub const NFT_TABLE: &str = "lunet";

const FAMILIES: [Family; 3] = [Family::Ipv4, Family::Ipv6, Family::Inet];

/// The base chain for `state` at `hook`/`priority`: `<HOOK>_<priority>_<state>`, e.g.
/// `IN_-150_web` (an nft identifier: starts with a letter, then letters, digits, `_.-`).
pub fn nft_chain_name(state: &str, hook: Hook, priority: i32) -> String {
    format!("{}_{priority}_{state}", hook.abbr())
}

/// The state of a chain named by [`nft_chain_name`].
fn chain_state(name: &str) -> Option<&str> {
    let mut parts = name.splitn(3, '_');
    Hook::from_abbr(parts.next()?)?;
    parts.next()?.parse::<i32>().ok()?;
    parts.next().filter(|s| !s.is_empty())
}

/// One lunet base chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NftChain {
    pub(crate) family: Family,
    pub(crate) chain: String,
}

/// The `nft -f` script that installs `rules`, the chains it creates, and the placements.
pub(crate) fn install_script(
    state: &str,
    rules: &[QueueRule],
) -> (String, Vec<NftChain>, Vec<Placement>) {
    let mut chains: Vec<(NftChain, Hook, i32, Vec<QueueRule>)> = Vec::new();
    let mut placements = Vec::new();
    for r in rules {
        let key = NftChain {
            family: r.family,
            chain: nft_chain_name(state, r.hook, r.priority),
        };
        placements.push(Placement {
            backend: "nft".into(),
            family: r.family,
            hook: r.hook,
            table: format!("{} {NFT_TABLE}", r.family.nft()),
            chain: key.chain.clone(),
            table_priority: r.priority,
            requested_priority: r.priority,
        });
        match chains.iter_mut().find(|(k, ..)| *k == key) {
            Some((.., v)) => v.push(*r),
            None => chains.push((key, r.hook, r.priority, vec![*r])),
        }
    }
    let mut script = String::new();
    for fam in FAMILIES
        .iter()
        .filter(|f| chains.iter().any(|(k, ..)| k.family == **f))
    {
        let _ = writeln!(script, "add table {} {NFT_TABLE}", fam.nft());
    }
    for (k, hook, prio, rs) in &chains {
        let (fam, name) = (k.family.nft(), &k.chain);
        // `create` (not `add`) fails if the chain exists: a state is installed once.
        let _ = writeln!(
            script,
            "create chain {fam} {NFT_TABLE} {name} {{ type filter hook {} priority {prio}; policy accept; }}",
            hook.nft()
        );
        for r in rs {
            let _ = writeln!(
                script,
                "add rule {fam} {NFT_TABLE} {name} {}meta mark {:#010x} queue num {} bypass comment \"{COMMENT_PREFIX}{state}\"",
                r.in_dev
                    .map(|d| format!("iifname \"{}\" ", d.as_str()))
                    .unwrap_or_default(),
                r.mark,
                if r.queues > 1 {
                    format!("{}-{}", r.queue, r.last_queue())
                } else {
                    r.queue.to_string()
                }
            );
        }
    }
    (
        script,
        chains.into_iter().map(|(k, ..)| k).collect(),
        placements,
    )
}

/// Installs `rules` in one atomic batch.
pub(crate) fn install(state: &str, rules: &[QueueRule]) -> Result<(Vec<NftChain>, Vec<Placement>)> {
    validate_state(state)?;
    let (script, chains, placements) = install_script(state, rules);
    if !script.is_empty() {
        run_with_stdin("nft", &["-f", "-"], Some(&script))?;
    }
    Ok((chains, placements))
}

/// Deletes `chains` in one batch, then each `lunet` table left without chains.
pub(crate) fn remove(chains: &[NftChain]) -> Result<()> {
    if chains.is_empty() {
        return Ok(());
    }
    let mut script = String::new();
    for c in chains {
        let _ = writeln!(
            script,
            "flush chain {} {NFT_TABLE} {}",
            c.family.nft(),
            c.chain
        );
        let _ = writeln!(
            script,
            "delete chain {} {NFT_TABLE} {}",
            c.family.nft(),
            c.chain
        );
    }
    run_with_stdin("nft", &["-f", "-"], Some(&script))?;
    let mut fams: Vec<Family> = chains.iter().map(|c| c.family).collect();
    fams.dedup();
    drop_empty_tables(&fams)
}

fn drop_empty_tables(fams: &[Family]) -> Result<()> {
    for fam in fams {
        let listing = run("nft", &["list", "table", fam.nft(), NFT_TABLE])?;
        if parse_chains(&listing).is_empty() {
            run("nft", &["delete", "table", fam.nft(), NFT_TABLE])?;
        }
    }
    Ok(())
}

/// Families that have a `lunet` table here (none when `nft` is not installed).
fn lunet_tables() -> Result<Vec<Family>> {
    if !available("nft") {
        return Ok(Vec::new());
    }
    let out = run("nft", &["list", "tables"])?;
    Ok(FAMILIES
        .into_iter()
        .filter(|f| {
            out.lines()
                .any(|l| l.split_whitespace().eq(["table", f.nft(), NFT_TABLE]))
        })
        .collect())
}

/// Chain names in an `nft list table` listing.
fn parse_chains(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| l.trim().strip_prefix("chain "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every line of every `lunet` table, prefixed `nft <family> lunet: `.
pub(crate) fn list_lines() -> Result<Vec<String>> {
    let mut out = Vec::new();
    for fam in lunet_tables()? {
        let listing = run("nft", &["list", "table", fam.nft(), NFT_TABLE])?;
        out.extend(
            listing
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "}")
                .map(|l| format!("nft {} {NFT_TABLE}: {l}", fam.nft())),
        );
    }
    Ok(out)
}

/// Removes the lunet chains whose state `stale` selects (chains with names lunet did not
/// make count as stale when `stale(None)`).
fn remove_where(stale: &dyn Fn(Option<&str>) -> bool) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut doomed = Vec::new();
    let fams = lunet_tables()?;
    for &fam in &fams {
        let listing = run("nft", &["list", "table", fam.nft(), NFT_TABLE])?;
        for chain in parse_chains(&listing) {
            if stale(chain_state(&chain)) {
                removed.push(format!("nft {} {NFT_TABLE}: chain {chain}", fam.nft()));
                doomed.push(NftChain { family: fam, chain });
            }
        }
    }
    if doomed.is_empty() {
        drop_empty_tables(&fams)?;
    } else {
        remove(&doomed)?;
    }
    Ok(removed)
}

/// Removes `state`'s chains.
pub(crate) fn remove_state(state: &str) -> Result<Vec<String>> {
    validate_state(state)?;
    remove_where(&|s| s == Some(state))
}

/// Removes every chain of table `lunet` not belonging to a state in `keep`.
pub(crate) fn cleanup_stale(keep: &[&str]) -> Result<Vec<String>> {
    remove_where(&|s| !s.is_some_and(|s| keep.contains(&s)))
}

/// Why nft cannot queue packets here ([`nft_queue_support`]).
#[derive(Debug, thiserror::Error)]
pub enum NoNftQueue {
    /// No `nft` program.
    #[error("`nft` is not installed")]
    NotInstalled,
    /// `nft` is there but cannot make a table with a plain rule.
    #[error("nft does not work here: {0}")]
    NotWorking(#[source] Error),
    /// nft works, but the kernel refuses its `queue` statement (`CONFIG_NFT_QUEUE`).
    #[error("kernel lacks nft queue: {0}")]
    NoQueue(#[source] Error),
}

/// Whether nft can queue packets here: Ok, or the reason it cannot (`nft` missing, nft not
/// working, or "kernel lacks nft queue"). Probes with a throwaway table created and deleted in
/// one atomic batch, so nothing is ever left behind; runs in the calling thread's namespace.
pub fn nft_queue_support() -> Result<(), NoNftQueue> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    if !available("nft") {
        return Err(NoNftQueue::NotInstalled);
    }
    let table = format!(
        "lunet_probe_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let probe = |stmt: &str| {
        let script = format!(
            "add table ip {table}\nadd chain ip {table} c\nadd rule ip {table} c meta mark 0x4c554e54 {stmt}\ndelete table ip {table}\n"
        );
        run_with_stdin("nft", &["-f", "-"], Some(&script))
    };
    probe("counter").map_err(NoNftQueue::NotWorking)?;
    probe("queue num 0 bypass").map_err(NoNftQueue::NoQueue)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_text() {
        let rules = [
            QueueRule {
                family: Family::Ipv4,
                hook: Hook::LocalIn,
                priority: -150,
                mark: 0,
                queue: 3,
                queues: 1,
                in_dev: None,
            },
            QueueRule {
                family: Family::Ipv4,
                hook: Hook::LocalIn,
                priority: -150,
                mark: 7,
                queue: 4,
                queues: 1,
                in_dev: None,
            },
            QueueRule {
                family: Family::Inet,
                hook: Hook::PreRouting,
                priority: 0,
                mark: 0xdead_beef,
                queue: 5,
                queues: 1,
                in_dev: None,
            },
        ];
        let (script, chains, placements) = install_script("web", &rules);
        assert_eq!(
            script,
            "add table ip lunet\n\
             add table inet lunet\n\
             create chain ip lunet IN_-150_web { type filter hook input priority -150; policy accept; }\n\
             add rule ip lunet IN_-150_web meta mark 0x00000000 queue num 3 bypass comment \"lunet:web\"\n\
             add rule ip lunet IN_-150_web meta mark 0x00000007 queue num 4 bypass comment \"lunet:web\"\n\
             create chain inet lunet PRE_0_web { type filter hook prerouting priority 0; policy accept; }\n\
             add rule inet lunet PRE_0_web meta mark 0xdeadbeef queue num 5 bypass comment \"lunet:web\"\n"
        );
        assert_eq!(chains.len(), 2);
        assert_eq!(
            placements[0].to_string(),
            "LOCAL_IN prio -150 -> nft ip lunet/IN_-150_web (prio -150)"
        );
        assert_eq!(
            placements[2].to_string(),
            "PRE_ROUTING prio 0 -> nft inet lunet/PRE_0_web (prio 0)"
        );
    }

    #[test]
    fn chain_names_round_trip() {
        assert_eq!(
            nft_chain_name("a_b-c", Hook::Forward, -300),
            "FWD_-300_a_b-c"
        );
        assert_eq!(chain_state("FWD_-300_a_b-c"), Some("a_b-c"));
        assert_eq!(chain_state("POST_100_x"), Some("x"));
        assert_eq!(chain_state("INPUT"), None);
        assert_eq!(chain_state("IN_x_y"), None);
        assert_eq!(chain_state("IN_0_"), None);
    }

    #[test]
    fn listing_chains() {
        let listing = "table ip lunet {\n\tchain IN_-150_web {\n\t\ttype filter hook input priority mangle; policy accept;\n\t}\n\n\tchain PRE_0_x {\n\t}\n}\n";
        assert_eq!(parse_chains(listing), ["IN_-150_web", "PRE_0_x"]);
    }
}
