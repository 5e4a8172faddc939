//! The benchmark's testbed: two fresh namespaces joined by a veth pair (198.18.0.1 ->
//! 198.18.0.2), an `XDP_PASS` program on the receiver's veth so that frames the sender's
//! `XDP_TX` generator transmits enter the receiver's stack, and the generator thread.
//!
//! Every rule the benchmark makes lives in the receiver namespace, through
//! [`Bed::iptables`]; the host namespace is never touched. Dropping the [`Bed`] stops the
//! generator, detaches the XDP program and deletes both namespaces (with every rule in them).

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lunet_bpf::LinkFd;
use lunet_gen::{GenStats, Limit};
use lunet_netns::Testbed;

use super::filters::Endpoints;
use super::gen::Sender;

/// Seconds `iptables -w` waits for the xtables lock.
const LOCK_WAIT: &str = "10";

/// The testbed. Fields drop in order: generator, XDP link, namespaces.
pub struct Bed {
    sender: Sender,
    _pass: LinkFd,
    pub endpoints: Endpoints,
    bed: Testbed,
}

impl Bed {
    pub fn create() -> io::Result<Bed> {
        let bed = Testbed::create()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create the testbed: {e}")))?;
        let rifindex = bed.receiver_ifindex();
        let pass =
            lunet_netns::in_netns(bed.receiver_ns(), move || lunet_gen::attach_pass(rifindex))?
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot attach XDP_PASS to the receiver's veth: {e}"),
                    )
                })?;
        let endpoints = Endpoints {
            src_mac: mac_of(bed.sender_ns(), bed.sender_if())?,
            dst_mac: mac_of(bed.receiver_ns(), bed.receiver_if())?,
            src_ip: bed.sender_addr(),
            dst_ip: bed.receiver_addr(),
        };
        let sender = Sender::start(bed.sender_ns(), bed.sender_ifindex())?;
        Ok(Bed {
            sender,
            _pass: pass,
            endpoints,
            bed,
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

    /// Sends `frames` from the sender namespace until `limit` (or `quit`).
    pub fn send(
        &self,
        frames: Arc<Vec<Vec<u8>>>,
        limit: Limit,
        quit: Arc<AtomicBool>,
    ) -> io::Result<GenStats> {
        self.sender.send(frames, limit, quit)
    }

    /// `iptables -w 10 ARGS` in the receiver namespace; returns stdout.
    pub fn iptables(&self, args: &[&str]) -> io::Result<String> {
        let mut full = vec!["-w", LOCK_WAIT];
        full.extend_from_slice(args);
        run_in(self.receiver_ns(), "iptables", &full)
    }

    /// `iptables-save -c` in the receiver namespace: every rule with its counters.
    pub fn iptables_save(&self) -> io::Result<String> {
        run_in(self.receiver_ns(), "iptables-save", &["-c"])
    }

    /// Removes every rule the benchmark put in the chains it uses (in the receiver namespace,
    /// which holds nothing else).
    pub fn reset(&self) -> io::Result<()> {
        self.iptables(&["-t", "raw", "-F", "PREROUTING"])?;
        self.iptables(&["-t", "filter", "-F", "INPUT"])?;
        Ok(())
    }
}

/// Looks a program up on `PATH`, then in the sbin directories root's tools live in.
fn find_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs `prog args` on a thread inside `ns` (so the program acts in `ns`); returns stdout.
fn run_in(ns: &str, prog: &str, args: &[&str]) -> io::Result<String> {
    let exe = find_program(prog);
    let shown = format!("{prog} {}", args.join(" "));
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = lunet_netns::in_netns(ns, move || Command::new(exe).args(owned).output())?
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `{shown}`: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The MAC address of `dev` in `ns`.
fn mac_of(ns: &str, dev: &str) -> io::Result<[u8; 6]> {
    let out = run_in(ns, "ip", &["-o", "link", "show", "dev", dev])?;
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
}
