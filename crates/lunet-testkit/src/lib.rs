//! lunet-testkit: what lunet's test binaries share, so no test file carries its own copy.
//! A dev-dependency only; nothing here ships in the binary.
//!
//! Tests that need root (bpf(2), namespaces, iptables) start with [`require_root!`]: without
//! root they print why they did not run and return, so a run as a user says what it skipped
//! and CI (root) runs them for real.

/// Whether this process runs as root (effective uid 0): lunet's one root check.
pub fn is_root() -> bool {
    lunet_netns::is_root()
}

/// Returns from the calling test, saying why, unless it runs as root. The argument names what
/// root is needed for: `require_root!("bpf(2)")`.
#[macro_export]
macro_rules! require_root {
    ($what:expr) => {
        if !$crate::is_root() {
            eprintln!(
                "SKIP {}: needs root for {} (run the tests as root, as CI does)",
                module_path!(),
                $what
            );
            return;
        }
    };
}

pub mod nobody;
pub mod packets;

/// A script's XDP hooks as the compiler's inputs, taken from a real lunet-lua state, and
/// the same script run in the Lua tier for reference.
#[cfg(feature = "compiler")]
pub mod hooks;

/// Compiled hooks loaded into the kernel, with fresh maps for the ones they use.
#[cfg(feature = "compiler")]
pub mod kernel;
