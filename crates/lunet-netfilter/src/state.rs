//! State names: a state is one loaded script; its name appears in chain names and in the
//! `lunet:<state>` comments, so it is limited to characters every backend takes unquoted.

use crate::error::{Error, Result};

/// Prefix of the `lunet:<state>` comment on every rule and jump lunet makes (both backends).
pub const COMMENT_PREFIX: &str = "lunet:";

/// Longest state name (the iptables comment match takes 255 bytes, nft chain names 255).
pub const MAX_STATE_LEN: usize = 64;

/// A state name is 1..=64 ASCII letters, digits, `_`, `.` or `-`, not starting with `-` or `.`.
pub fn validate_state(state: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidState {
            name: state.to_string(),
            reason: reason.to_string(),
        })
    };
    if state.is_empty() {
        return bad("empty");
    }
    if state.len() > MAX_STATE_LEN {
        return bad("longer than 64 characters");
    }
    if !state
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return bad("only ASCII letters, digits, `_`, `.` and `-` are allowed");
    }
    if state.starts_with(['-', '.']) {
        return bad("must not start with `-` or `.`");
    }
    Ok(())
}

/// 64-bit FNV-1a: a stable (across runs and Rust versions) hash for shortened chain names.
pub(crate) fn fnv1a64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "web", "my_state-2", "x.y", "0abc"] {
            validate_state(ok).unwrap();
        }
        for bad in [
            "",
            "-a",
            ".a",
            "a b",
            "a/b",
            "a:b",
            "a\"b",
            "ä",
            &"x".repeat(65),
        ] {
            assert!(validate_state(bad).is_err(), "{bad:?}");
        }
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
