//! The iptables tables lunet may hang a rule from, the priorities their hooks really run at
//! (which depend on the [`IptablesVariant`]), and the pure priority-to-table mapping
//! ([`iptables_table_for`]).

use crate::cmd::run;
use crate::error::Result;
use lunet_types::nf::{priority, Hook};
use serde::Serialize;
use std::sync::OnceLock;

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

/// An iptables table lunet may use, with the hooks it has. `nat` is never used (it only sees
/// the first packet of a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IptablesTable {
    /// Table name.
    pub name: &'static str,
    /// Hook priority with iptables-legacy (the kernel's `NF_IP_PRI_*`).
    pub legacy_priority: i32,
    /// Hook priority with iptables-nft (differs for `security`: iptables-nft registers it at
    /// 150, not `NF_IP_PRI_SECURITY` = 50).
    pub nft_priority: i32,
    /// Built-in chains (hooks) the table has.
    pub hooks: &'static [Hook],
}

impl IptablesTable {
    /// The real hook priority with `variant`.
    pub fn priority(&self, variant: IptablesVariant) -> i32 {
        match variant {
            IptablesVariant::Legacy => self.legacy_priority,
            IptablesVariant::Nft => self.nft_priority,
        }
    }
}

/// Where iptables-nft registers the `security` table (not at `NF_IP_PRI_SECURITY`).
const SECURITY_WITH_IPTABLES_NFT: i32 = 150;

/// The candidate tables in order of preference on ties.
pub const IPTABLES_TABLES: [IptablesTable; 4] = [
    IptablesTable {
        name: "raw",
        legacy_priority: priority::RAW,
        nft_priority: priority::RAW,
        hooks: &[Hook::PreRouting, Hook::LocalOut],
    },
    IptablesTable {
        name: "mangle",
        legacy_priority: priority::MANGLE,
        nft_priority: priority::MANGLE,
        hooks: &Hook::ALL,
    },
    IptablesTable {
        name: "filter",
        legacy_priority: priority::FILTER,
        nft_priority: priority::FILTER,
        hooks: &[Hook::LocalIn, Hook::Forward, Hook::LocalOut],
    },
    IptablesTable {
        name: "security",
        legacy_priority: priority::SECURITY,
        nft_priority: SECURITY_WITH_IPTABLES_NFT,
        hooks: &[Hook::LocalIn, Hook::Forward, Hook::LocalOut],
    },
];

/// The iptables table for a hook at `priority`: among the tables that have the hook, the one
/// whose real priority (with `variant`) is closest; on a tie the earlier one in
/// [`IPTABLES_TABLES`] (the one that runs first). Returns the table and its priority.
pub fn iptables_table_for(
    hook: Hook,
    priority: i32,
    variant: IptablesVariant,
) -> (&'static str, i32) {
    let mut best: Option<(&'static str, i32, i64)> = None;
    for t in IPTABLES_TABLES.iter().filter(|t| t.hooks.contains(&hook)) {
        let p = t.priority(variant);
        let d = (i64::from(p) - i64::from(priority)).abs();
        if best.is_none_or(|(_, _, bd)| d < bd) {
            best = Some((t.name, p, d));
        }
    }
    // Every hook is in `mangle`, so there always is a candidate.
    let (name, p, _) = best.expect("mangle has every hook");
    (name, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lunet_types::nf::priority as pri;
    use IptablesVariant::{Legacy, Nft};

    fn table(h: Hook, p: i32) -> &'static str {
        iptables_table_for(h, p, Legacy).0
    }

    #[test]
    fn exact_priorities_pick_their_table() {
        assert_eq!(
            iptables_table_for(Hook::PreRouting, pri::RAW, Legacy),
            ("raw", -300)
        );
        assert_eq!(
            iptables_table_for(Hook::LocalOut, pri::RAW, Legacy),
            ("raw", -300)
        );
        assert_eq!(
            iptables_table_for(Hook::LocalIn, pri::MANGLE, Legacy),
            ("mangle", -150)
        );
        assert_eq!(
            iptables_table_for(Hook::LocalIn, pri::FILTER, Legacy),
            ("filter", 0)
        );
        assert_eq!(
            iptables_table_for(Hook::Forward, pri::SECURITY, Legacy),
            ("security", 50)
        );
        assert_eq!(
            iptables_table_for(Hook::PostRouting, pri::MANGLE, Legacy),
            ("mangle", -150)
        );
    }

    #[test]
    fn hooks_without_a_table_fall_back_to_the_closest_one_that_has_them() {
        // raw has no INPUT/FORWARD/POSTROUTING.
        assert_eq!(table(Hook::LocalIn, pri::RAW), "mangle");
        assert_eq!(table(Hook::Forward, pri::FIRST), "mangle");
        // Only mangle has PREROUTING besides raw, only mangle has POSTROUTING.
        assert_eq!(table(Hook::PreRouting, pri::FILTER), "mangle");
        assert_eq!(table(Hook::PostRouting, pri::NAT_SRC), "mangle");
        assert_eq!(table(Hook::PostRouting, pri::LAST), "mangle");
        assert_eq!(table(Hook::PreRouting, pri::FIRST), "raw");
        assert_eq!(table(Hook::LocalOut, pri::LAST), "security");
    }

    #[test]
    fn nearest_wins_and_ties_go_to_the_earlier_table() {
        assert_eq!(table(Hook::LocalIn, -76), "mangle");
        assert_eq!(table(Hook::LocalIn, -75), "mangle"); // tie between -150 and 0
        assert_eq!(table(Hook::LocalIn, -74), "filter");
        assert_eq!(table(Hook::LocalOut, -225), "raw"); // tie between -300 and -150
        assert_eq!(table(Hook::LocalOut, pri::NAT_DST), "mangle");
        assert_eq!(table(Hook::LocalIn, 25), "filter"); // tie between 0 and 50
        assert_eq!(table(Hook::LocalIn, pri::NAT_SRC), "security");
        assert_eq!(table(Hook::PreRouting, pri::CONNTRACK_DEFRAG), "raw");
    }

    #[test]
    fn iptables_nft_puts_security_at_150() {
        assert_eq!(
            iptables_table_for(Hook::LocalIn, pri::SECURITY, Nft),
            ("filter", 0)
        );
        assert_eq!(iptables_table_for(Hook::LocalIn, 75, Nft), ("filter", 0)); // tie 0/150
        assert_eq!(
            iptables_table_for(Hook::LocalIn, 76, Nft),
            ("security", 150)
        );
        assert_eq!(
            iptables_table_for(Hook::LocalIn, pri::NAT_SRC, Nft),
            ("security", 150)
        );
        assert_eq!(
            iptables_table_for(Hook::LocalIn, pri::MANGLE, Nft),
            ("mangle", -150)
        );
    }
}
