//! The names of lunet's iptables chains: `LUNET-<state>-<HOOK>`, shortened with a hash when
//! a state's name is too long for iptables.

use crate::state::fnv1a;
use lunet_types::nf::Hook;

/// Longest iptables chain name (`XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN_LEN: usize = 28;
/// Prefix of every chain lunet makes.
pub const CHAIN_PREFIX: &str = "LUNET-";

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

pub(crate) fn chain_names(state: &str) -> Vec<String> {
    Hook::ALL
        .iter()
        .map(|h| iptables_chain_name(state, *h))
        .collect()
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
}
