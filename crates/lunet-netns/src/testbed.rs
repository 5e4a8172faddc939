//! [`Testbed`]: two temporary namespaces joined by a veth pair, for real traffic in tests.

use crate::addr::is_bench_v4;
use crate::cmd::run;
use crate::temp::TempNetns;
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// How long [`Testbed::create`] waits for both veth ends to report carrier.
const LINK_UP_TIMEOUT: Duration = Duration::from_secs(5);

/// Two namespaces, `sender` and `receiver`, joined by one veth pair (`snd0` in the sender,
/// `rcv0` in the receiver) with IPv4 addresses in 198.18.0.0/15, both ends up.
///
/// The veth is created inside the sender namespace with its peer moved straight into the
/// receiver, so nothing ever appears in the host namespace. Dropping the testbed deletes both
/// namespaces, which deletes the veth pair and every rule made inside them.
#[derive(Debug)]
pub struct Testbed {
    sender: TempNetns,
    receiver: TempNetns,
    sender_addr: Ipv4Addr,
    receiver_addr: Ipv4Addr,
    prefix_len: u8,
    sender_ifindex: u32,
    receiver_ifindex: u32,
    sender_mac: [u8; 6],
    receiver_mac: [u8; 6],
}

impl Testbed {
    /// Interface name of the veth end in the sender namespace.
    pub const SENDER_IF: &'static str = "snd0";
    /// Interface name of the veth end in the receiver namespace.
    pub const RECEIVER_IF: &'static str = "rcv0";
    /// Default sender address.
    pub const SENDER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    /// Default receiver address.
    pub const RECEIVER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    /// 198.18.0.1/24 (sender) and 198.18.0.2/24 (receiver).
    pub fn create() -> io::Result<Self> {
        Self::with_addrs(Self::SENDER_ADDR, Self::RECEIVER_ADDR, 24)
    }

    /// Same with chosen addresses; both must be in 198.18.0.0/15, distinct, and in the same
    /// `/prefix_len` subnet (15..=30).
    pub fn with_addrs(
        sender_addr: Ipv4Addr,
        receiver_addr: Ipv4Addr,
        prefix_len: u8,
    ) -> io::Result<Self> {
        validate(sender_addr, receiver_addr, prefix_len)?;
        let sender = TempNetns::create("lts")?;
        let receiver = TempNetns::create("ltr")?;
        let (s, r) = (sender.name(), receiver.name());
        let (sif, rif) = (Self::SENDER_IF, Self::RECEIVER_IF);
        run(
            "ip",
            &[
                "-n", s, "link", "add", sif, "type", "veth", "peer", "name", rif, "netns", r,
            ],
        )?;
        for (ns, dev, addr) in [(s, sif, sender_addr), (r, rif, receiver_addr)] {
            let cidr = format!("{addr}/{prefix_len}");
            run("ip", &["-n", ns, "addr", "add", &cidr, "dev", dev])?;
        }
        for (ns, dev) in [(s, sif), (r, rif)] {
            run("ip", &["-n", ns, "link", "set", "dev", dev, "up"])?;
        }
        let (sender_ifindex, sender_mac) = wait_lower_up(s, sif)?;
        let (receiver_ifindex, receiver_mac) = wait_lower_up(r, rif)?;
        Ok(Testbed {
            sender,
            receiver,
            sender_addr,
            receiver_addr,
            prefix_len,
            sender_ifindex,
            receiver_ifindex,
            sender_mac,
            receiver_mac,
        })
    }

    /// The sender namespace.
    pub fn sender(&self) -> &TempNetns {
        &self.sender
    }
    /// The receiver namespace.
    pub fn receiver(&self) -> &TempNetns {
        &self.receiver
    }
    /// Name of the sender namespace.
    pub fn sender_ns(&self) -> &str {
        self.sender.name()
    }
    /// Name of the receiver namespace.
    pub fn receiver_ns(&self) -> &str {
        self.receiver.name()
    }
    /// Name of the sender's veth end.
    pub fn sender_if(&self) -> &str {
        Self::SENDER_IF
    }
    /// Name of the receiver's veth end.
    pub fn receiver_if(&self) -> &str {
        Self::RECEIVER_IF
    }
    /// The sender's address.
    pub fn sender_addr(&self) -> Ipv4Addr {
        self.sender_addr
    }
    /// The receiver's address.
    pub fn receiver_addr(&self) -> Ipv4Addr {
        self.receiver_addr
    }
    /// Prefix length of both addresses.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
    /// ifindex of the sender's veth end (inside the sender namespace).
    pub fn sender_ifindex(&self) -> u32 {
        self.sender_ifindex
    }
    /// ifindex of the receiver's veth end (inside the receiver namespace).
    pub fn receiver_ifindex(&self) -> u32 {
        self.receiver_ifindex
    }
    /// MAC address of the sender's veth end.
    pub fn sender_mac(&self) -> [u8; 6] {
        self.sender_mac
    }
    /// MAC address of the receiver's veth end.
    pub fn receiver_mac(&self) -> [u8; 6] {
        self.receiver_mac
    }
}

fn validate(a: Ipv4Addr, b: Ipv4Addr, prefix_len: u8) -> io::Result<()> {
    let bad = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    for ip in [a, b] {
        if !is_bench_v4(ip) {
            return bad(format!("testbed address {ip} is outside 198.18.0.0/15"));
        }
    }
    if !(15..=30).contains(&prefix_len) {
        return bad(format!(
            "testbed prefix length /{prefix_len} must be within 15..=30"
        ));
    }
    let mask = u32::MAX << (32 - prefix_len);
    if a == b || u32::from(a) & mask != u32::from(b) & mask {
        return bad(format!(
            "testbed addresses {a} and {b} must differ and share a /{prefix_len}"
        ));
    }
    Ok(())
}

/// Polls `ip -o link show` until the link has carrier, bounded by [`LINK_UP_TIMEOUT`]; returns
/// its ifindex and MAC address.
fn wait_lower_up(ns: &str, dev: &str) -> io::Result<(u32, [u8; 6])> {
    let deadline = Instant::now() + LINK_UP_TIMEOUT;
    loop {
        let out = run("ip", &["-n", ns, "-o", "link", "show", "dev", dev])?;
        if out.contains("LOWER_UP") {
            let unreadable = |what: &str| {
                io::Error::other(format!(
                    "cannot read the {what} of {dev} from `{}`",
                    out.trim()
                ))
            };
            let index = out.split(':').next().unwrap_or("").trim();
            let index = index.parse().map_err(|_| unreadable("ifindex"))?;
            let mac = mac_of(&out).ok_or_else(|| unreadable("MAC address"))?;
            return Ok((index, mac));
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{dev} in {ns} has no carrier after {LINK_UP_TIMEOUT:?}: {}",
                    out.trim()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The address after `link/ether ` in a line of `ip -o link show`.
fn mac_of(line: &str) -> Option<[u8; 6]> {
    let text = line
        .split("link/ether ")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let bytes = text
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_outside_the_benchmark_range_are_refused() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(validate(ip("198.18.0.1"), ip("198.18.0.2"), 24).is_ok());
        assert!(validate(ip("198.19.1.1"), ip("198.18.1.2"), 15).is_ok());
        assert!(validate(ip("10.0.0.1"), ip("10.0.0.2"), 24).is_err());
        assert!(validate(ip("198.18.0.1"), ip("192.168.0.2"), 24).is_err());
        assert!(validate(ip("198.18.0.1"), ip("198.18.1.2"), 24).is_err());
        assert!(validate(ip("198.18.0.1"), ip("198.18.0.1"), 24).is_err());
        assert!(validate(ip("198.18.0.1"), ip("198.18.0.2"), 8).is_err());
        // With_addrs refuses before creating anything.
        assert!(Testbed::with_addrs(ip("1.1.1.1"), ip("1.1.1.2"), 24).is_err());
    }

    #[test]
    fn the_mac_address_is_read_from_ip_link() {
        let line =
            "5: snd0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP \
                    mode DEFAULT group default qlen 1000\\    link/ether 6e:0a:b2:9c:ea:4e brd \
                    ff:ff:ff:ff:ff:ff link-netns ltr1-1";
        assert_eq!(mac_of(line), Some([0x6e, 0x0a, 0xb2, 0x9c, 0xea, 0x4e]));
        assert_eq!(
            mac_of("1: lo: <LOOPBACK> link/loopback 00:00:00:00:00:00"),
            None
        );
        assert_eq!(mac_of("link/ether 6e:0a:b2"), None);
    }
}
