//! What a hook asks for ([`QueueRule`]) and where it really went ([`Placement`]), for both
//! backends.

use lunet_types::nf::{Family, Hook};
use serde::Serialize;
use std::fmt;

/// One Lua hook fed by NFQUEUE: packets of `family` at `hook` whose mark equals `mark` (also
/// when `mark` is 0: that is Lunatik's semantics) go to queue `queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct QueueRule {
    /// Protocol family.
    pub family: Family,
    /// Hook.
    pub hook: Hook,
    /// Requested priority (`nf.ip.pri`); lower runs first.
    pub priority: i32,
    /// Only packets with exactly this mark are queued.
    pub mark: u32,
    /// NFQUEUE number the daemon reads: the first of `queues` consecutive ones.
    pub queue: u16,
    /// How many consecutive queues share the packets (one per CPU copy of the state), by a
    /// hash of the flow so a flow always meets the same copy: 1 is one queue. (iptables: one
    /// rule per queue with a `-m bpf` flow hash; nft: `queue num A-B`, which hashes the
    /// addresses only.)
    pub queues: u16,
    /// Only packets that came in on this interface (the Lua tier's XDP hooks: their device).
    pub in_dev: Option<IfName>,
}

/// An interface name (at most 15 bytes, as the kernel's `IFNAMSIZ` allows), kept `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfName([u8; 16]);

impl IfName {
    /// `None` for a name the kernel could not have (empty, too long, with a NUL, `/` or
    /// white space).
    pub fn new(name: &str) -> Option<IfName> {
        let ok = !name.is_empty()
            && name.len() < 16
            && !name
                .bytes()
                .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace());
        ok.then(|| {
            let mut b = [0u8; 16];
            b[..name.len()].copy_from_slice(name.as_bytes());
            IfName(b)
        })
    }

    pub fn as_str(&self) -> &str {
        let n = self.0.iter().position(|&b| b == 0).unwrap_or(16);
        std::str::from_utf8(&self.0[..n]).unwrap_or("")
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for IfName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl QueueRule {
    /// The last queue number of the rule's range.
    pub fn last_queue(&self) -> u16 {
        self.queue + self.queues.max(1) - 1
    }
}

/// Where one rule really went.
///
/// With iptables a rule can only sit at one of the tables' fixed priorities; and because an
/// NFQUEUE `Accept` verdict resumes at the *next hook priority*, not at the next rule, two
/// rules placed in the same table and chain behave like one hook: a packet accepted by the
/// first is not seen by the second (unless its mark no longer matches the first, see
/// `Verdict::Repeat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// `iptables`, `ip6tables` or `nft`.
    pub backend: String,
    /// The rule's family.
    pub family: Family,
    /// The rule's hook.
    pub hook: Hook,
    /// iptables table (`raw`, `mangle`, `filter`, `security`) or nft table (`ip lunet`).
    pub table: String,
    /// The built-in chain (iptables) or the base chain (nft) the rule hangs from.
    pub chain: String,
    /// The priority the table's hook really runs at.
    pub table_priority: i32,
    /// The priority the rule asked for.
    pub requested_priority: i32,
}

impl fmt::Display for Placement {
    /// `LOCAL_IN prio 0 -> iptables filter/INPUT (prio 0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} prio {} -> {} {}/{} (prio {})",
            self.hook,
            self.requested_priority,
            self.backend,
            self.table,
            self.chain,
            self.table_priority
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_the_documented_form() {
        let p = Placement {
            backend: "iptables".into(),
            family: Family::Ipv4,
            hook: Hook::LocalIn,
            table: "filter".into(),
            chain: "INPUT".into(),
            table_priority: 0,
            requested_priority: 0,
        };
        assert_eq!(
            p.to_string(),
            "LOCAL_IN prio 0 -> iptables filter/INPUT (prio 0)"
        );
    }
}
