//! The names of lunet's iptables chains: `LUNET-<state>-<HOOK>`, or, for a state name too
//! long for iptables' 28 characters, a prefix of it with a 60-bit hash.
//!
//! Distinct states never share a chain: a name that fits is the state's own (and no state
//! name has a `~`, which marks every shortened one); two long names whose prefix and hash
//! both agree (one pair in 2^60) are caught when the second one installs
//! ([`super::install`] refuses a chain that another state's jump leads to), and removing a
//! state never touches a chain another state's jump leads to ([`super::remove_state`]).

use crate::state::fnv1a64;
use lunet_types::nf::Hook;

/// Longest iptables chain name (`XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN_LEN: usize = 28;
/// Prefix of every chain lunet makes.
pub const CHAIN_PREFIX: &str = "LUNET-";
/// Characters of a shortened name's hash: 12 of 5 bits.
const HASH_LEN: usize = 12;
/// The hash's alphabet (RFC 4648 base32, lowercase: iptables takes it unquoted).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `state`'s hash in [`HASH_LEN`] base32 characters (the low 60 bits of FNV-1a-64).
fn hash(state: &str) -> String {
    let h = fnv1a64(state);
    (0..HASH_LEN)
        .map(|i| BASE32[((h >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// The lunet chain of `state` for `hook`: `LUNET-<state>-<HOOK>`, or, when that exceeds 28
/// characters, `LUNET-<state prefix>~<12 base32 of FNV-1a-64(state)>-<HOOK>` (stable across
/// runs).
pub fn iptables_chain_name(state: &str, hook: Hook) -> String {
    let full = format!("{CHAIN_PREFIX}{state}-{}", hook.abbr());
    if full.len() <= MAX_CHAIN_LEN {
        return full;
    }
    let keep = MAX_CHAIN_LEN - CHAIN_PREFIX.len() - 1 - HASH_LEN - 1 - hook.abbr().len();
    // State names are ASCII, so any byte index is a char boundary.
    format!(
        "{CHAIN_PREFIX}{}~{}-{}",
        &state[..keep.min(state.len())],
        hash(state),
        hook.abbr()
    )
}

/// Whether `chain` is a shortened name (one that two states could share).
pub(crate) fn is_shortened(chain: &str) -> bool {
    chain.contains('~')
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
                a.starts_with("LUNET-a-ve") && is_shortened(&a) && a.ends_with(h.abbr()),
                "{a}"
            );
            assert_eq!(a, iptables_chain_name(long1, h), "stable");
        }
        let max = "x".repeat(crate::state::MAX_STATE_LEN);
        assert_eq!(
            iptables_chain_name(&max, Hook::PostRouting).len(),
            MAX_CHAIN_LEN
        );
        // Fixed, so chains a daemon of another build left are found by name.
        assert_eq!(
            iptables_chain_name(long1, Hook::PostRouting),
            format!("LUNET-a-ve~{}-POST", hash(long1))
        );
    }

    /// The 24-bit hash of before collided (two names of 18+ characters, one chain); with the
    /// prefix and 60 bits, none of these 200 000 long names (all with one prefix, so the hash
    /// alone tells them apart) shares a chain with another.
    #[test]
    fn many_long_names_that_share_a_prefix_get_distinct_chains() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            let state = format!("tenant-firewall-{i:08}");
            let chain = iptables_chain_name(&state, Hook::PostRouting);
            assert!(chain.len() <= MAX_CHAIN_LEN);
            assert!(seen.insert(chain), "{state}");
        }
        // The two names the 24-bit hash mapped to one chain.
        let (a, b) = colliding_under_24_bits();
        assert_ne!(a, b);
        assert_ne!(
            iptables_chain_name(&a, Hook::LocalIn),
            iptables_chain_name(&b, Hook::LocalIn)
        );
    }

    /// Two distinct long state names with one prefix whose 24-bit FNV-1a (the old scheme)
    /// agree.
    fn colliding_under_24_bits() -> (String, String) {
        let old = |s: &str| {
            s.bytes().fold(0x811c_9dc5u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            }) & 0xff_ffff
        };
        let mut by_hash = std::collections::HashMap::new();
        for i in 0u32.. {
            let state = format!("tenant-firewall-{i:08}");
            if let Some(other) = by_hash.insert(old(&state), state.clone()) {
                return (other, state);
            }
        }
        unreachable!()
    }
}
