//! The methods: ways to implement a filter. Each installs itself in the receiver namespace and
//! says what it counted (packets it decided on, packets it dropped).
//!
//! - `none`: no filter. Measures what the path itself delivers; nothing must be dropped.
//! - `iptables-raw`: one iptables rule in raw PREROUTING ([`Filter::iptables_rule`]), as
//!   precise as iptables' matches allow (`u32` at fixed offsets; `string` only for `sni`).
//! - `iptables-string`: for the name filters, one rule in raw PREROUTING that searches the
//!   packet for the name with `-m string` ([`Filter::iptables_string_rule`]).
//! - `nft-raw`: one nft rule ([`Filter::nft_rule`]) in a table of its own, [`NFT_TABLE`], whose
//!   chain hooks prerouting at priority `raw + 1`: right after the counting rules of raw
//!   PREROUTING (priority `raw`, -300). At the same priority the kernel would run the chain
//!   registered last first, which would put the filter before the counters. Its rule's
//!   `counter` is read like the iptables rule's.
//! - `ebpf-c-xdp`, `ebpf-c-netfilter`: the filter hand-written in C ([`cprog`]), compiled
//!   with clang by the benchmark, at XDP on the receiver's veth (like `lunet-kernel-xdp`) or
//!   at netfilter IPv4 PRE_ROUTING, priority raw + 1 (like `nft-raw`). Skipped, with the
//!   reason, where clang is absent.
//! - `lunet-kernel-netfilter`: not built yet; its rows are there, skipped with the reason
//!   ([`Method::cannot_express`]).
//! - `lunet-lua`: the Lua tier: a script ([`Filter::lua_script`]) at PRE_ROUTING, priority
//!   RAW, run by lunet's runner in this process, fed through NFQUEUE (fail-open: packets the
//!   queue has no room for are accepted without being seen).
//! - `lunet-kernel-xdp`: the kernel tier: the filter's XDP example ([`Filter::xdp_script`])
//!   started by lunet's runner with `--dev` the receiver's veth, so its hook is compiled to
//!   eBPF, verified and attached at XDP there, in place of the testbed's `XDP_PASS` program.
//!   It drops before the stack: the counting rules see only what it passed.

use crate::cprog;
use crate::cpu;
use crate::filters::{Filter, Frame};
use crate::testbed::{self, Bed, NFT_CHAIN, NFT_TABLE};
use crate::xdp;
use lunet_netfilter::KernelQueueStats;
use lunet_runtime::runner::Running;

mod start;
use start::{start_c_netfilter, start_c_xdp, start_lua, start_nf_kernel, start_xdp};

/// A method of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Method {
    /// No filter: what the path itself delivers.
    None,
    /// An iptables rule in raw PREROUTING.
    IptablesRaw,
    /// The name filters with iptables' `-m string`, in raw PREROUTING.
    IptablesString,
    /// An nft rule in a prerouting chain of its own, right after priority raw.
    NftRaw,
    /// The filter hand-written in C, compiled with clang, at XDP on the receiver's veth.
    EbpfCXdp,
    /// The filter hand-written in C, compiled with clang, at netfilter PRE_ROUTING.
    EbpfCNetfilter,
    /// The Lua tier through NFQUEUE, at PRE_ROUTING priority RAW.
    LunetLua,
    /// The same with one copy of the state per CPU (`run --cpus all`), spread by flow.
    LunetLuaAll,
    /// The kernel tier: the filter's XDP hook compiled to eBPF by lunet, at XDP on the
    /// receiver's veth.
    LunetKernelXdp,
    /// The kernel tier at netfilter: the filter's netfilter hook (the Lua tier's script)
    /// compiled by lunet to a netfilter eBPF program at PRE_ROUTING, right after the
    /// counting rules as `ebpf-c-netfilter`.
    LunetKernelNetfilter,
}

/// The state name of the Lua tier's runs; its thread is `lunet-bench`.
const STATE_NAME: &str = "bench";

impl Method {
    pub const ALL: [Method; 10] = [
        Method::None,
        Method::IptablesRaw,
        Method::IptablesString,
        Method::NftRaw,
        Method::EbpfCXdp,
        Method::EbpfCNetfilter,
        Method::LunetLua,
        Method::LunetLuaAll,
        Method::LunetKernelXdp,
        Method::LunetKernelNetfilter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::IptablesRaw => "iptables-raw",
            Method::IptablesString => "iptables-string",
            Method::NftRaw => "nft-raw",
            Method::EbpfCXdp => "ebpf-c-xdp",
            Method::EbpfCNetfilter => "ebpf-c-netfilter",
            Method::LunetLua => "lunet-lua",
            Method::LunetLuaAll => "lunet-lua-all",
            Method::LunetKernelXdp => "lunet-kernel-xdp",
            Method::LunetKernelNetfilter => "lunet-kernel-netfilter",
        }
    }

    /// Why this method is not measured for `filter` in this build, if it is not: a method
    /// not built yet, or one that cannot express the filter. (iptables implements
    /// accept-all as one ACCEPT rule, nft as one accept rule, the kernel tier as a one-line
    /// XDP hook.)
    pub fn cannot_express(self, filter: Filter) -> Option<String> {
        let reason = match (self, filter) {
            (Method::IptablesString, f) => f.iptables_string_rule().err()?,
            (Method::NftRaw, f) => f.nft_rule().err()?,
            (Method::EbpfCXdp | Method::EbpfCNetfilter, _) => return cprog::unavailable(),
            (Method::LunetKernelNetfilter, f) if f.nf_kernel_script().is_none() => {
                "no netfilter script of this filter in the kernel-tier subset yet"
            }
            _ => return None,
        };
        Some(reason.to_string())
    }

    /// Whether the method filters before the network stack (at XDP), where the counting
    /// rules cannot see what it drops.
    pub fn before_stack(self) -> bool {
        matches!(self, Method::LunetKernelXdp | Method::EbpfCXdp)
    }

    /// Installs the method for `filter` in the receiver namespace. An error is a reason to
    /// skip the method on this machine (a missing iptables match, NFQUEUE refused, a hook
    /// the kernel's verifier refused...). `frames` are the filter's traffic, for the eBPF
    /// methods' `BPF_PROG_TEST_RUN` measurement.
    pub fn install(self, filter: Filter, bed: &Bed, frames: &[Frame]) -> Result<Active, String> {
        match self {
            Method::None => Ok(Active::None),
            Method::IptablesRaw => start_iptables(filter, &filter.iptables_rule(), bed),
            Method::IptablesString => start_iptables(filter, &filter.iptables_string_rule()?, bed),
            Method::NftRaw => start_nft(filter, bed),
            Method::LunetLua => start_lua(filter, bed, 1),
            Method::LunetLuaAll => start_lua(filter, bed, cpu::cpus().max(1) as u16),
            Method::LunetKernelXdp => start_xdp(filter, bed, frames),
            Method::EbpfCXdp => start_c_xdp(filter, bed, frames),
            Method::EbpfCNetfilter => start_c_netfilter(filter, bed, frames),
            Method::LunetKernelNetfilter => start_nf_kernel(filter, bed, frames),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An installed method. Dropping it stops the Lua state (its rules and queue go with it); the
/// iptables rule is flushed by the driver's reset.
pub enum Active {
    None,
    Iptables {
        target: &'static str,
    },
    /// The `nft-raw` table. Dropping it deletes the table (the driver's reset does too, and
    /// the receiver namespace goes with the testbed on every way out).
    Nft {
        ns: String,
    },
    Lua {
        running: Box<Running>,
        /// The state's threads (the NFQUEUE consumers, one per copy), for their CPU time.
        tids: Vec<i32>,
        /// The receiver namespace and the queues' numbers, for the kernel's queue counters.
        ns: String,
        queues: Vec<u16>,
    },
    /// A state whose one hook runs in the kernel tier: at XDP on the receiver's veth
    /// (`at_xdp`), or at netfilter PRE_ROUTING. Stopping it detaches the program; the
    /// driver's reset puts the testbed's `XDP_PASS` program back.
    Kernel {
        running: Box<Running>,
        at_xdp: bool,
        /// `BPF_PROG_TEST_RUN` of the attached program on the filter's frames, or why it
        /// could not be run (the method is measured all the same).
        test_run: Result<xdp::TestRun, String>,
    },
    /// A hand-written C program attached at XDP on the receiver's veth (detached when the
    /// link is dropped; the driver's reset puts the `XDP_PASS` program back) or at netfilter
    /// PRE_ROUTING in the receiver namespace.
    Ebpf {
        _link: lunet_bpf::LinkFd,
        at_xdp: bool,
        test_run: Result<xdp::TestRun, String>,
    },
}

/// What the filter itself counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterCount {
    /// Packets the filter decided on, when it counts them itself (the Lua hook and the
    /// compiled XDP hook do; an iptables rule sees every packet that arrives).
    pub processed: Option<u64>,
    /// Packets it dropped, when it counts them (the hook's DROP verdicts).
    pub dropped: Option<u64>,
    /// Hook calls that ended in an error (and so in the default verdict).
    pub errors: u64,
}

impl FilterCount {
    pub fn since(&self, earlier: &FilterCount) -> FilterCount {
        let sub = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
        FilterCount {
            processed: sub(self.processed, earlier.processed),
            dropped: sub(self.dropped, earlier.dropped),
            errors: self.errors.saturating_sub(earlier.errors),
        }
    }
}

impl Active {
    /// The target of the method's iptables rule, whose counter the harness reads.
    pub fn rule_target(&self) -> Option<&'static str> {
        match self {
            Active::Iptables { target } => Some(target),
            _ => None,
        }
    }

    /// The packet counter of the method's own nft rule (`nft-raw`), read now; `None` for
    /// the other methods.
    pub fn nft_rule_count(&self) -> std::io::Result<Option<u64>> {
        let Active::Nft { ns } = self else {
            return Ok(None);
        };
        let text = testbed::nft_in(ns, &["list", "chain", "ip", NFT_TABLE, NFT_CHAIN])?;
        parse_nft_counter(&text).map(Some).ok_or_else(|| {
            std::io::Error::other(format!("no counter in the nft-raw chain: {}", text.trim()))
        })
    }

    /// Whether packets go through a userspace queue (and may be accepted unseen).
    pub fn is_queue(&self) -> bool {
        matches!(self, Active::Lua { .. })
    }

    /// Whether the method filters before the stack (its drops never reach the counters).
    pub fn before_stack(&self) -> bool {
        matches!(
            self,
            Active::Kernel { at_xdp: true, .. } | Active::Ebpf { at_xdp: true, .. }
        )
    }

    /// The eBPF program's `BPF_PROG_TEST_RUN` result, for the methods that have one.
    pub fn test_run(&self) -> Option<&Result<xdp::TestRun, String>> {
        match self {
            Active::Kernel { test_run, .. } | Active::Ebpf { test_run, .. } => Some(test_run),
            _ => None,
        }
    }

    /// The hook's counters now: the Lua tier's, or a compiled hook's verdict counters (a
    /// per-CPU map the program updates); all zero for the other methods.
    pub fn count(&self) -> FilterCount {
        match self {
            Active::Lua { running, .. } | Active::Kernel { running, .. } => {
                let stats = running.stats();
                let mut c = FilterCount {
                    processed: Some(0),
                    dropped: Some(0),
                    errors: 0,
                };
                for h in stats.hooks {
                    *c.processed.get_or_insert(0) += h.stats.packets;
                    *c.dropped.get_or_insert(0) +=
                        h.stats.verdicts.get("DROP").copied().unwrap_or(0);
                    c.errors += h.stats.errors;
                }
                c
            }
            _ => FilterCount::default(),
        }
    }

    /// On-CPU time of the method's own thread so far (the NFQUEUE consumer), in ns.
    pub fn thread_ns(&self) -> Option<f64> {
        match self {
            Active::Lua { tids, .. } if !tids.is_empty() => {
                tids.iter().map(|t| cpu::thread_ns(*t).ok()).sum()
            }
            _ => None,
        }
    }

    /// Packets the kernel's queue itself dropped so far (`queue_dropped + user_dropped` of
    /// `/proc/net/netfilter/nfnetlink_queue` in the receiver namespace). With fail-open both
    /// stay 0: a packet that finds the queue or the socket full is accepted, and counted
    /// nowhere.
    pub fn queue_dropped(&self) -> Option<u64> {
        self.queue_stats().map(|s| s.dropped())
    }

    /// Packets in the kernel's queue waiting for a verdict now.
    pub fn queue_waiting(&self) -> Option<u64> {
        self.queue_stats().map(|s| s.waiting)
    }

    /// The kernel's counters of the state's queues, summed over its copies.
    fn queue_stats(&self) -> Option<KernelQueueStats> {
        let Active::Lua { ns, queues, .. } = self else {
            return None;
        };
        if queues.is_empty() {
            return None;
        }
        let qs = queues.clone();
        lunet_netns::in_netns(ns, move || {
            let all = lunet_netfilter::kernel_queue_stats().ok()?;
            let mine: Vec<_> = all.into_iter().filter(|s| qs.contains(&s.queue)).collect();
            (!mine.is_empty()).then(|| KernelQueueStats {
                queue: qs[0],
                waiting: mine.iter().map(|s| s.waiting).sum(),
                queue_dropped: mine.iter().map(|s| s.queue_dropped).sum(),
                user_dropped: mine.iter().map(|s| s.user_dropped).sum(),
            })
        })
        .ok()
        .flatten()
    }

    /// The last error a hook reported, if any.
    pub fn last_error(&self) -> Option<String> {
        match self {
            Active::Lua { running, .. } | Active::Kernel { running, .. } => running
                .stats()
                .hooks
                .into_iter()
                .find_map(|h| h.stats.last_error),
            _ => None,
        }
    }
}

/// Appends `rule` to raw PREROUTING in the receiver namespace (after the counting rules).
fn start_iptables(filter: Filter, rule: &[String], bed: &Bed) -> Result<Active, String> {
    let mut args = vec!["-t", "raw", "-A", "PREROUTING"];
    args.extend(rule.iter().map(String::as_str));
    bed.iptables(&args)
        .map_err(|e| format!("cannot install the iptables rule: {e}"))?;
    Ok(Active::Iptables {
        target: filter.iptables_target(),
    })
}

/// Creates the `nft-raw` table, its prerouting chain and the filter's rule in the receiver
/// namespace (the table goes again if a later step fails).
fn start_nft(filter: Filter, bed: &Bed) -> Result<Active, String> {
    let rule = filter.nft_rule()?;
    let active = Active::Nft {
        ns: bed.receiver_ns().to_string(),
    };
    let fail = |e: std::io::Error| format!("cannot install the nft rule: {e}");
    bed.nft(&["add", "table", "ip", NFT_TABLE]).map_err(fail)?;
    // From here on, dropping `active` deletes the table.
    bed.nft(&[
        "add",
        "chain",
        "ip",
        NFT_TABLE,
        NFT_CHAIN,
        "{ type filter hook prerouting priority raw + 1; policy accept; }",
    ])
    .map_err(fail)?;
    let mut args = vec!["add", "rule", "ip", NFT_TABLE, NFT_CHAIN];
    args.extend(rule.split_whitespace());
    bed.nft(&args).map_err(fail)?;
    Ok(active)
}

impl Drop for Active {
    fn drop(&mut self) {
        if let Active::Nft { ns } = self {
            let _ = testbed::nft_in(ns, &["delete", "table", "ip", NFT_TABLE]);
        }
    }
}

/// The packets of the first `counter packets N bytes M` in the text of `nft list chain`.
fn parse_nft_counter(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "counter" && words.next() == Some("packets") {
            return words.next()?.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_counter_is_read_from_the_chain_listing() {
        let text = "table ip lunet_bench {\n\tchain pre {\n\t\ttype filter hook prerouting \
                    priority -299; policy accept;\n\t\tudp dport 9 counter packets 1234 bytes \
                    74040 drop\n\t}\n}\n";
        assert_eq!(parse_nft_counter(text), Some(1234));
        assert_eq!(parse_nft_counter("table ip lunet_bench {}"), None);
    }

    #[test]
    fn every_method_of_the_issue_has_a_row_and_the_unbuilt_ones_say_why() {
        for m in Method::ALL {
            for f in Filter::ALL {
                let skipped = m.cannot_express(f);
                let built = matches!(
                    m,
                    Method::None
                        | Method::IptablesRaw
                        | Method::IptablesString
                        | Method::EbpfCXdp
                        | Method::EbpfCNetfilter
                        | Method::NftRaw
                        | Method::LunetLua
                        | Method::LunetLuaAll
                        | Method::LunetKernelXdp
                        | Method::LunetKernelNetfilter
                );
                if !built {
                    assert!(skipped.is_some(), "{m} / {f}");
                }
            }
        }
        assert_eq!(Method::IptablesString.cannot_express(Filter::Dns), None);
        assert!(Method::IptablesString
            .cannot_express(Filter::UdpPort)
            .unwrap()
            .contains("no name"));
        assert!(Method::NftRaw.cannot_express(Filter::Sni).is_some());
        assert_eq!(Method::NftRaw.cannot_express(Filter::UdpPort), None);
    }
}
