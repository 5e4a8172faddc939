//! Network namespaces for lunet's daemon, demo and tests.
//!
//! * [`enter`], [`in_netns`], [`spawn_in_netns`]: put a *thread* into a network namespace with
//!   `setns(2)`. Only the network namespace changes (not the mount namespace), so `/sys/fs/bpf`
//!   stays usable, unlike under `ip netns exec`.
//! * [`TempNetns`]: a uniquely named namespace under `/run/netns`, deleted on drop.
//! * [`Testbed`]: two temporary namespaces joined by a veth pair with addresses in
//!   198.18.0.0/15 (the range reserved for benchmarking); nothing lives in the host namespace.
//! * [`udp_send`], [`UdpSink`]: bounded UDP traffic from and to a namespace.
//! * [`is_root`]: lunet's one root check (the binary's, the runtime's, and the tests' through
//!   `lunet_testkit`); [`require_root`]: whether this process can make namespaces and rules
//!   (`lunet gen`, `lunet bench`): root, and the programs they are made with.
//! * [`online_cpus`], [`pin_thread`]: where a thread runs.
//! * [`find_program`]: a program on `PATH` or in the sbin directories, for everything lunet
//!   runs (`ip`, `iptables`, `nft`, `ethtool`, `clang`); [`run_in_netns`]: one of them run
//!   inside a namespace, its stdout back, an error naming it and carrying its stderr.
//!
//! Sockets stay in the network namespace they were created in, so a socket made on a thread
//! inside a namespace can afterwards be used from any thread. Processes started with
//! `std::process::Command` inherit the namespace of the thread that starts them.

mod addr;
mod cmd;
mod cpu;
mod enter;
mod temp;
mod testbed;
mod udp;

pub use addr::{check_test_addr, is_test_addr};
pub use cmd::{find_program, run_in_netns};
pub use cpu::{online_cpus, pin_thread};
pub use enter::{current_netns_id, enter, in_netns, ns_path, spawn_in_netns};
pub use temp::TempNetns;
pub use testbed::Testbed;
pub use udp::{udp_send, udp_send_from, udp_socket, UdpSink, MAX_DATAGRAMS};

/// The effective uid of this process.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process runs as root (effective uid 0): what namespaces, rules, queues and
/// `bpf(2)` need.
pub fn is_root() -> bool {
    euid() == 0
}

/// Why this process cannot create namespaces and rules ([`require_root`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPrivileged {
    /// Not running as root.
    #[error("needs root (effective uid is {euid})")]
    NotRoot { euid: u32 },
    /// A program the namespaces and rules are made with is missing.
    #[error("`{0}` is not installed (not found on PATH or in /usr/sbin, /sbin)")]
    Missing(&'static str),
}

/// Checks that this process can create namespaces and rules: effective uid 0, and the `ip` and
/// `iptables` programs on `PATH`. The error says why not, for a `SKIP:` message.
pub fn require_root() -> Result<(), NotPrivileged> {
    if !is_root() {
        return Err(NotPrivileged::NotRoot { euid: euid() });
    }
    for prog in ["ip", "iptables"] {
        if find_program(prog).is_none() {
            return Err(NotPrivileged::Missing(prog));
        }
    }
    Ok(())
}
