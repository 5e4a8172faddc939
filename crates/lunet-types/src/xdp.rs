//! XDP actions (`linux.xdp`, the kernel's `enum xdp_action`).

pub const ABORTED: u32 = 0;
pub const DROP: u32 = 1;
pub const PASS: u32 = 2;
pub const TX: u32 = 3;
pub const REDIRECT: u32 = 4;

/// The names, indexed by value.
pub const NAMES: &[&str] = &["ABORTED", "DROP", "PASS", "TX", "REDIRECT"];

#[cfg(test)]
mod tests {
    #[test]
    fn names_index_the_values() {
        assert_eq!(super::NAMES[super::PASS as usize], "PASS");
        assert_eq!(super::NAMES[super::REDIRECT as usize], "REDIRECT");
    }
}
