//! The benchmark's testbed: two fresh namespaces joined by a veth pair (198.18.0.1 ->
//! 198.18.0.2), an `XDP_PASS` program on the receiver's veth so that frames the sender's
//! `XDP_TX` generator transmits enter the receiver's stack, and the generator thread.
//!
//! Every rule the benchmark makes lives in the receiver namespace, through
//! [`Bed::iptables`]; the host namespace is never touched. Dropping the [`Bed`] stops the
//! generator, detaches the XDP program and deletes both namespaces (with every rule in them).
//!
//! A veth has one XDP program: a method that attaches its own there (`lunet-kernel-xdp`)
//! takes the pass program off first ([`Bed::detach_pass`]); [`Bed::reset`], run after every
//! method, puts it back.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lunet_bpf::LinkFd;
use lunet_gen::{GenStats, Limit};
use lunet_netns::{run_in_netns, Testbed};

use crate::filters::Endpoints;
use crate::sender::Sender;

/// The `nft-raw` method's table (family `ip`) and base chain in the receiver namespace,
/// which [`Bed::reset`] deletes.
pub const NFT_TABLE: &str = "lunet_bench";
pub const NFT_CHAIN: &str = "pre";

/// Seconds `iptables -w` waits for the xtables lock.
const LOCK_WAIT: &str = "10";
/// How long [`Bed::warm_up`] sends.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long [`Bed::restore_pass`] waits for a method's XDP program to leave the device.
const RESTORE_WAIT: Duration = Duration::from_secs(2);

/// The testbed. Fields drop in order: generator, XDP link, namespaces.
pub struct Bed {
    sender: Sender,
    /// The `XDP_PASS` program's link on the receiver's veth; `None` while a method has its
    /// own program there.
    pass: Mutex<Option<LinkFd>>,
    pub endpoints: Endpoints,
    bed: Testbed,
}

/// The XDP counters of a veth, from `ethtool -S` (summed over its queues).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VethStats {
    /// Frames the veth's XDP program ran on (`rx_queue_N_xdp_packets`).
    pub xdp_packets: u64,
    /// Frames it returned `XDP_DROP` (or `XDP_ABORTED`) for (`rx_queue_N_xdp_drops`).
    pub xdp_drops: u64,
    /// Frames this veth handed to its peer with `ndo_xdp_xmit` that the peer's ring had no
    /// room for (`tx_queue_N_xdp_xmit_errors`): lost before the peer's XDP program.
    pub xmit_errors: u64,
}

impl VethStats {
    pub fn since(&self, earlier: &VethStats) -> VethStats {
        VethStats {
            xdp_packets: self.xdp_packets.saturating_sub(earlier.xdp_packets),
            xdp_drops: self.xdp_drops.saturating_sub(earlier.xdp_drops),
            xmit_errors: self.xmit_errors.saturating_sub(earlier.xmit_errors),
        }
    }
}

/// Attaches the `XDP_PASS` program to `ifindex` in `ns`; the kernel's error as it is.
fn attach_pass(ns: &str, ifindex: u32) -> io::Result<LinkFd> {
    lunet_netns::in_netns(ns, move || lunet_gen::attach_pass(ifindex))?
}

fn pass_failed(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot attach XDP_PASS to the receiver's veth: {e}"),
    )
}

impl Bed {
    pub fn create() -> io::Result<Bed> {
        let bed = Testbed::create()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create the testbed: {e}")))?;
        let pass = attach_pass(bed.receiver_ns(), bed.receiver_ifindex()).map_err(pass_failed)?;
        let endpoints = Endpoints {
            src_mac: mac_of(bed.sender_ns(), bed.sender_if())?,
            dst_mac: mac_of(bed.receiver_ns(), bed.receiver_if())?,
            src_ip: bed.sender_addr(),
            dst_ip: bed.receiver_addr(),
        };
        // IPv6 off: the link-local addresses' neighbour discovery right after link-up would
        // put frames of the stack's own and softirq work on the CPUs of the first runs.
        for ns in [bed.sender_ns(), bed.receiver_ns()] {
            lunet_netns::in_netns(ns, || {
                std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1")
            })?
            .map_err(|e| io::Error::new(e.kind(), format!("cannot turn IPv6 off in {ns}: {e}")))?;
        }
        let sender = Sender::start(bed.sender_ns(), bed.sender_ifindex())?;
        let bed = Bed {
            sender,
            pass: Mutex::new(Some(pass)),
            endpoints,
            bed,
        };
        bed.warm_up()?;
        Ok(bed)
    }

    /// One second of traffic into the receiver's stack before anything is measured: the
    /// first run after the link came up was seen to deliver at half the rate, its receive
    /// work still on the other CPU.
    fn warm_up(&self) -> io::Result<()> {
        let e = &self.endpoints;
        let frame =
            lunet_gen::packet::udp(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 40000, 9, &[0; 18])
                .map_err(|e| io::Error::other(e.to_string()))?;
        let quit = Arc::new(AtomicBool::new(false));
        self.send(Arc::new(vec![frame]), Limit::time(WARM_UP), quit)?;
        Ok(())
    }

    /// The receiver's veth's ifindex (in the receiver namespace).
    pub fn receiver_ifindex(&self) -> u32 {
        self.bed.receiver_ifindex()
    }

    /// The receiver's veth (in the receiver namespace).
    pub fn receiver_if(&self) -> &str {
        self.bed.receiver_if()
    }

    fn pass(&self) -> MutexGuard<'_, Option<LinkFd>> {
        self.pass.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Detaches the `XDP_PASS` program from the receiver's veth, to make room for a method's
    /// own XDP program. Until one is attached, frames from the generator are dropped.
    pub fn detach_pass(&self) {
        self.pass().take();
    }

    /// Replaces the `XDP_PASS` program with one that drops every frame: the cheapest receiver
    /// there is, which shows the generator's own limit. Dropping the link detaches it.
    pub fn drop_at_xdp(&self) -> io::Result<LinkFd> {
        self.detach_pass();
        let (ns, ifindex) = (self.bed.receiver_ns(), self.bed.receiver_ifindex());
        lunet_netns::in_netns(ns, move || lunet_gen::attach_drop(ifindex))?.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot attach XDP_DROP to the receiver's veth: {e}"),
            )
        })
    }

    /// Takes the `XDP_PASS` program off the receiver's veth and runs `attach`, which puts a
    /// method's own XDP program there; if that fails, the pass program goes back (the error
    /// says so if that fails too).
    pub fn replace_pass<T>(&self, attach: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        self.detach_pass();
        attach().map_err(|e| match self.restore_pass() {
            Ok(()) => e,
            Err(r) => format!("{e}; and {r}"),
        })
    }

    /// Attaches the `XDP_PASS` program again if it is not there. A method's program that
    /// was detached by removing its pin leaves the device a moment later (the kernel frees
    /// a link released through bpffs from a work queue), so a busy device is retried for up
    /// to [`RESTORE_WAIT`].
    pub fn restore_pass(&self) -> io::Result<()> {
        let mut pass = self.pass();
        if pass.is_some() {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            match attach_pass(self.bed.receiver_ns(), self.bed.receiver_ifindex()) {
                Ok(l) => {
                    *pass = Some(l);
                    return Ok(());
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < RESTORE_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(pass_failed(e)),
            }
        }
    }

    /// The XDP counters of the receiver's veth and the ring losses of frames sent to it.
    pub fn receiver_xdp_stats(&self) -> io::Result<VethStats> {
        let rx = run_in_netns(
            self.bed.receiver_ns(),
            "ethtool",
            &["-S", self.bed.receiver_if()],
        )?;
        let tx = run_in_netns(
            self.bed.sender_ns(),
            "ethtool",
            &["-S", self.bed.sender_if()],
        )?;
        let (rx, tx) = (parse_ethtool(&rx), parse_ethtool(&tx));
        Ok(VethStats {
            xdp_packets: rx.xdp_packets,
            xdp_drops: rx.xdp_drops,
            xmit_errors: tx.xmit_errors,
        })
    }

    pub fn sender_ns(&self) -> &str {
        self.bed.sender_ns()
    }

    pub fn receiver_ns(&self) -> &str {
        self.bed.receiver_ns()
    }

    /// Whether the generator thread is pinned to CPU 0.
    pub fn generator_pinned(&self) -> bool {
        self.sender.pinned
    }

    /// Which generator sends ([`lunet_gen::Generator::method`]).
    pub fn generator_method(&self) -> &'static str {
        self.sender.method
    }

    /// Sends `frames` from the sender namespace until `limit` (or `quit`).
    pub fn send(
        &self,
        frames: Arc<Vec<Vec<u8>>>,
        limit: Limit,
        quit: Arc<AtomicBool>,
    ) -> io::Result<GenStats> {
        self.sender.send(frames, limit, quit, &mut |_| {})
    }

    /// [`Bed::send`], calling `watch` with the frames sent so far as it goes.
    pub fn send_watched(
        &self,
        frames: Arc<Vec<Vec<u8>>>,
        limit: Limit,
        quit: Arc<AtomicBool>,
        watch: &mut dyn FnMut(u64),
    ) -> io::Result<GenStats> {
        self.sender.send(frames, limit, quit, watch)
    }

    /// `iptables -w 10 ARGS` in the receiver namespace; returns stdout.
    pub fn iptables(&self, args: &[&str]) -> io::Result<String> {
        let mut full = vec!["-w", LOCK_WAIT];
        full.extend_from_slice(args);
        run_in_netns(self.receiver_ns(), "iptables", &full)
    }

    /// `nft ARGS` in the receiver namespace (the `nft-raw` method's table); returns stdout.
    pub fn nft(&self, args: &[&str]) -> io::Result<String> {
        nft_in(self.receiver_ns(), args)
    }

    /// `iptables-save -c` in the receiver namespace: every rule with its counters.
    pub fn iptables_save(&self) -> io::Result<String> {
        run_in_netns(self.receiver_ns(), "iptables-save", &["-c"])
    }

    /// Removes every rule the benchmark put in the chains it uses (in the receiver namespace,
    /// which holds nothing else) and the `nft-raw` method's table if it is still there, and
    /// puts the `XDP_PASS` program back on the receiver's veth if a method took it off.
    pub fn reset(&self) -> io::Result<()> {
        let pass = self.restore_pass();
        let table = format!("table ip {NFT_TABLE}");
        // (Without nft on the machine there is no table to delete.)
        let tables = self.nft(&["list", "tables"]).unwrap_or_default();
        if tables.lines().any(|l| l.trim() == table) {
            self.nft(&["delete", "table", "ip", NFT_TABLE])?;
        }
        self.iptables(&["-t", "raw", "-F", "PREROUTING"])?;
        self.iptables(&["-t", "filter", "-F", "INPUT"])?;
        pass
    }
}

/// `nft ARGS` in namespace `ns`; returns stdout.
pub fn nft_in(ns: &str, args: &[&str]) -> io::Result<String> {
    run_in_netns(ns, "nft", args)
}

/// The XDP counters in the text of `ethtool -S` for a veth, summed over its queues.
fn parse_ethtool(out: &str) -> VethStats {
    let mut s = VethStats::default();
    for line in out.lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<u64>() else {
            continue;
        };
        let field = if let Some(rest) = name.strip_prefix("rx_queue_") {
            rest.split_once('_').map(|(_, f)| ("rx", f))
        } else if let Some(rest) = name.strip_prefix("tx_queue_") {
            rest.split_once('_').map(|(_, f)| ("tx", f))
        } else {
            None
        };
        match field {
            Some(("rx", "xdp_packets")) => s.xdp_packets += v,
            Some(("rx", "xdp_drops")) => s.xdp_drops += v,
            Some(("tx", "xdp_xmit_errors")) => s.xmit_errors += v,
            _ => {}
        }
    }
    s
}

/// The MAC address of `dev` in `ns`.
fn mac_of(ns: &str, dev: &str) -> io::Result<[u8; 6]> {
    let out = run_in_netns(ns, "ip", &["-o", "link", "show", "dev", dev])?;
    parse_mac(&out).ok_or_else(|| {
        io::Error::other(format!(
            "no link/ether address for {dev} in `{}`",
            out.trim()
        ))
    })
}

/// The address after `link/ether` in `ip -o link show` output.
fn parse_mac(out: &str) -> Option<[u8; 6]> {
    let mut words = out.split_whitespace();
    words.find(|w| *w == "link/ether")?;
    let text = words.next()?;
    let bytes: Vec<u8> = text
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_read_from_ip_link() {
        let out = "7: rcv0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP \
                   mode DEFAULT group default qlen 1000\\    link/ether 6e:21:0a:ff:3b:9c brd \
                   ff:ff:ff:ff:ff:ff link-netns x";
        assert_eq!(parse_mac(out), Some([0x6e, 0x21, 0x0a, 0xff, 0x3b, 0x9c]));
        assert_eq!(parse_mac("1: lo: <LOOPBACK> link/loopback 00:00"), None);
    }

    #[test]
    fn veth_xdp_counters_are_summed_over_queues() {
        let out = "NIC statistics:\n     peer_ifindex: 3\n     rx_queue_0_xdp_packets: 100\n     \
                   rx_queue_0_xdp_bytes: 6000\n     rx_queue_0_drops: 7\n     \
                   rx_queue_0_xdp_drops: 40\n     rx_queue_1_xdp_packets: 5\n     \
                   rx_queue_1_xdp_drops: 2\n     rx_queue_0_xdp_tx_errors: 9\n     \
                   tx_queue_0_xdp_xmit: 50\n     tx_queue_0_xdp_xmit_errors: 3\n";
        let s = parse_ethtool(out);
        assert_eq!(
            s,
            VethStats {
                xdp_packets: 105,
                xdp_drops: 42,
                xmit_errors: 3
            }
        );
        let later = VethStats {
            xdp_packets: 205,
            xdp_drops: 92,
            xmit_errors: 3,
        };
        assert_eq!(
            later.since(&s),
            VethStats {
                xdp_packets: 100,
                xdp_drops: 50,
                xmit_errors: 0
            }
        );
    }
}
