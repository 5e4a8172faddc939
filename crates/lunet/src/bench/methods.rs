//! The methods: ways to implement a filter. Each installs itself in the receiver namespace and
//! says what it counted (packets it decided on, packets it dropped).
//!
//! - `none`: no filter. Measures what the path itself delivers; nothing must be dropped.
//! - `iptables-raw`: one iptables rule in raw PREROUTING ([`Filter::iptables_rule`]).
//! - `lunet-lua`: the Lua tier: a script ([`Filter::lua_script`]) at PRE_ROUTING, priority
//!   RAW, run by lunet's runner in this process, fed through NFQUEUE (fail-open: packets the
//!   queue has no room for are accepted without being seen).
//! - `lunet-kernel-xdp`: the kernel tier: the filter's XDP example ([`Filter::xdp_script`])
//!   started by lunet's runner with `--dev` the receiver's veth, so its hook is compiled to
//!   eBPF, verified and attached at XDP there, in place of the testbed's `XDP_PASS` program.
//!   It drops before the stack: the counting rules see only what it passed.

use std::path::{Path, PathBuf};

use lunet_lua::{Limits, Tier};

use super::cpu;
use super::filters::{Class, Filter, Frame};
use super::testbed::Bed;
use super::xdp;
use crate::runner::{RunSpec, Running};

/// A method of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Method {
    /// No filter: what the path itself delivers.
    None,
    /// An iptables rule in raw PREROUTING.
    IptablesRaw,
    /// The Lua tier through NFQUEUE, at PRE_ROUTING priority RAW.
    LunetLua,
    /// The kernel tier: the filter's XDP hook compiled to eBPF by lunet, at XDP on the
    /// receiver's veth.
    LunetKernelXdp,
}

/// The state name of the Lua tier's runs; its thread is `lunet-bench`.
const STATE_NAME: &str = "bench";

impl Method {
    pub const ALL: [Method; 4] = [
        Method::None,
        Method::IptablesRaw,
        Method::LunetLua,
        Method::LunetKernelXdp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::IptablesRaw => "iptables-raw",
            Method::LunetLua => "lunet-lua",
            Method::LunetKernelXdp => "lunet-kernel-xdp",
        }
    }

    /// Why this method cannot express `filter`, if it cannot. (Every method of this build
    /// expresses every filter: iptables implements accept-all as one ACCEPT rule, the kernel
    /// tier as a one-line XDP hook.)
    pub fn cannot_express(self, _filter: Filter) -> Option<String> {
        None
    }

    /// Whether the method filters before the network stack (at XDP), where the counting
    /// rules cannot see what it drops.
    pub fn before_stack(self) -> bool {
        self == Method::LunetKernelXdp
    }

    /// Installs the method for `filter` in the receiver namespace. An error is a reason to
    /// skip the method on this machine (a missing iptables match, NFQUEUE refused, a hook
    /// the kernel's verifier refused...). `frames` are the filter's traffic, for the eBPF
    /// methods' `BPF_PROG_TEST_RUN` measurement.
    pub fn install(self, filter: Filter, bed: &Bed, frames: &[Frame]) -> Result<Active, String> {
        match self {
            Method::None => Ok(Active::None),
            Method::IptablesRaw => {
                let rule = filter.iptables_rule();
                let mut args = vec!["-t", "raw", "-A", "PREROUTING"];
                args.extend(rule.iter().map(String::as_str));
                bed.iptables(&args)
                    .map_err(|e| format!("cannot install the iptables rule: {e}"))?;
                Ok(Active::Iptables {
                    target: filter.iptables_target(),
                })
            }
            Method::LunetLua => start_lua(filter, bed),
            Method::LunetKernelXdp => start_xdp(filter, bed, frames),
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
    Lua {
        running: Box<Running>,
        /// The state's thread (the NFQUEUE consumer), for its CPU time.
        tid: Option<i32>,
        /// The receiver namespace and the queue's number, for the kernel's queue counters.
        ns: String,
        queue: Option<u16>,
    },
    /// A state whose one hook runs at XDP on the receiver's veth. Stopping it detaches the
    /// program; the driver's reset puts the testbed's `XDP_PASS` program back.
    Kernel {
        running: Box<Running>,
        /// `BPF_PROG_TEST_RUN` of the attached program on the filter's frames, or why it
        /// could not be run (the method is measured all the same).
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

    /// Whether packets go through a userspace queue (and may be accepted unseen).
    pub fn is_queue(&self) -> bool {
        matches!(self, Active::Lua { .. })
    }

    /// Whether the method filters before the stack (its drops never reach the counters).
    pub fn before_stack(&self) -> bool {
        matches!(self, Active::Kernel { .. })
    }

    /// The eBPF program's `BPF_PROG_TEST_RUN` result, for the methods that have one.
    pub fn test_run(&self) -> Option<&Result<xdp::TestRun, String>> {
        match self {
            Active::Kernel { test_run, .. } => Some(test_run),
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
            Active::Lua { tid: Some(t), .. } => cpu::thread_ns(*t).ok(),
            _ => None,
        }
    }

    /// Packets the kernel's queue itself dropped so far (`queue_dropped + user_dropped` of
    /// `/proc/net/netfilter/nfnetlink_queue` in the receiver namespace). With fail-open both
    /// stay 0: a packet that finds the queue or the socket full is accepted, and counted
    /// nowhere.
    pub fn queue_dropped(&self) -> Option<u64> {
        self.queue_stats().map(|s| s.dropped)
    }

    /// Packets in the kernel's queue waiting for a verdict now.
    pub fn queue_waiting(&self) -> Option<u64> {
        self.queue_stats().map(|s| s.waiting)
    }

    fn queue_stats(&self) -> Option<QueueStats> {
        let Active::Lua {
            ns, queue: Some(q), ..
        } = self
        else {
            return None;
        };
        let q = *q;
        lunet_netns::in_netns(ns, move || {
            std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue")
                .ok()
                .and_then(|text| parse_queue_stats(&text, q))
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

/// Writes the filter's script to a private file, starts it in the receiver namespace, and
/// pins its thread to the last CPU (the generator has CPU 0).
fn start_lua(filter: Filter, bed: &Bed) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the bench script: {e}"))?;
    let script = dir.0.join(format!("{}.lua", filter.name()));
    std::fs::write(&script, filter.lua_script())
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let spec = RunSpec {
        name: STATE_NAME.into(),
        script,
        netns: Some(bed.receiver_ns().to_string()),
        dev: None,
        tier: Tier::Lua,
        limits: Limits::default(),
        pin_dir: pin_dir(),
    };
    // The script is read by the time start returns; `dir` goes right after.
    let running = Running::start(spec).map_err(|e| format!("lunet could not start: {e}"))?;
    let tid = cpu::find_thread(&format!("lunet-{STATE_NAME}"));
    if let Some(t) = tid {
        let n = cpu::cpus();
        if n >= 2 {
            let _ = cpu::pin(t, n - 1);
        }
    }
    let queue = running.report.hooks.iter().find_map(|h| h.queue);
    Ok(Active::Lua {
        running: Box::new(running),
        tid,
        ns: bed.receiver_ns().to_string(),
        queue,
    })
}

/// Where the bench's states pin their maps and links.
fn pin_dir() -> PathBuf {
    Path::new(crate::runner::PIN_ROOT).join(format!("bench-{}", std::process::id()))
}

/// Writes the filter's XDP script to a private file and starts it through lunet's runner
/// in the receiver namespace with `--dev` its veth, in the kernel tier: the runner compiles
/// the hook, loads it (the kernel's verifier checks it) and attaches it at XDP on the veth
/// with a pinned link. The testbed's `XDP_PASS` program leaves the veth first (a veth has
/// one XDP program) and comes back if the start fails. Then the attached program is run
/// with `BPF_PROG_TEST_RUN` on one frame of each class.
fn start_xdp(filter: Filter, bed: &Bed, frames: &[Frame]) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the bench script: {e}"))?;
    let (file, text) = filter.xdp_script();
    let script = dir.0.join(file);
    std::fs::write(&script, text).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let spec = RunSpec {
        name: STATE_NAME.into(),
        script,
        netns: Some(bed.receiver_ns().to_string()),
        dev: Some(bed.receiver_if().to_string()),
        tier: Tier::Kernel,
        limits: Limits::default(),
        pin_dir: pin_dir(),
    };
    let pins = spec.pin_dir.clone();
    bed.detach_pass();
    let running = match Running::start(spec) {
        Ok(r) => r,
        Err(e) => {
            let restored = bed.restore_pass();
            return Err(match restored {
                Ok(()) => format!("lunet could not start {file}: {e}"),
                Err(r) => format!("lunet could not start {file}: {e}; and {r}"),
            });
        }
    };
    // One frame of each class the filter's traffic has.
    let picked: Vec<(&[u8], bool)> = Class::ALL
        .iter()
        .filter_map(|&c| {
            frames
                .iter()
                .find(|f| f.class == c)
                .map(|f| (f.bytes.as_slice(), filter.drops(c)))
        })
        .collect();
    let test_run = xdp::pinned_link(&pins)
        .and_then(|pin| xdp::program_of_link(&pin))
        .and_then(|prog| xdp::test_run(&prog, &picked))
        .map_err(|e| format!("BPF_PROG_TEST_RUN of the attached program failed: {e}"));
    Ok(Active::Kernel {
        running: Box::new(running),
        test_run,
    })
}

/// A line of `/proc/net/netfilter/nfnetlink_queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct QueueStats {
    /// `queue_total`: packets waiting for a verdict.
    waiting: u64,
    /// `queue_dropped + user_dropped`.
    dropped: u64,
}

/// Queue `q`'s line in the text of `/proc/net/netfilter/nfnetlink_queue` (`queue portid
/// queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1`).
fn parse_queue_stats(text: &str, q: u16) -> Option<QueueStats> {
    text.lines().find_map(|l| {
        let f: Vec<u64> = l.split_whitespace().map_while(|w| w.parse().ok()).collect();
        (f.len() >= 7 && f[0] == u64::from(q)).then(|| QueueStats {
            waiting: f[2],
            dropped: f[5] + f[6],
        })
    })
}

/// A directory for the script, removed on drop.
struct ScriptDir(PathBuf);

impl ScriptDir {
    fn create() -> std::io::Result<ScriptDir> {
        let dir = std::env::temp_dir().join(format!("lunet-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(ScriptDir(dir))
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_drops_are_read_for_our_queue() {
        let text = "    1  24700     0 2 65531     3     4        9  1\n\
                    20000  24725   256 2 65531     5     7  1106944  1\n";
        assert_eq!(
            parse_queue_stats(text, 20000),
            Some(QueueStats {
                waiting: 256,
                dropped: 12
            })
        );
        assert_eq!(parse_queue_stats(text, 1).map(|s| s.dropped), Some(7));
        assert_eq!(parse_queue_stats(text, 2), None);
    }
}
