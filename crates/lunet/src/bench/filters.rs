//! The filters the benchmark measures: what each must drop, the traffic that exercises it, and
//! how each method expresses it (the iptables rule, the Lua script).
//!
//! Traffic is two classes of frames, told apart by their UDP *source* port, which no filter
//! looks at: [`Class::Drop`] frames (from port 40001) are the ones the filter must drop,
//! [`Class::Pass`] frames (from port 40002) the ones it must let through. The receiver's
//! counting rules match on that port, so the harness knows per class how many packets
//! reached the filter and how many came out of it.

use std::net::Ipv4Addr;

use lunet_gen::packet::{self, Mac, PacketError};

/// A filter of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Filter {
    /// Drop UDP to port 9; traffic: half UDP to port 9, half UDP to port 53.
    UdpPort,
    /// Drop DNS queries for blocked.example and its subdomains; traffic: half queries for
    /// www.blocked.example, half for www.allowed.example.
    Dns,
    /// Drop nothing; traffic: UDP to port 53. The fixed cost of a method.
    AcceptAll,
}

/// Which way a frame must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The filter must drop it.
    Drop,
    /// The filter must let it through.
    Pass,
}

impl Class {
    pub const ALL: [Class; 2] = [Class::Drop, Class::Pass];

    /// The UDP source port that tags the class.
    pub const fn sport(self) -> u16 {
        match self {
            Class::Drop => 40001,
            Class::Pass => 40002,
        }
    }

    pub const fn index(self) -> usize {
        match self {
            Class::Drop => 0,
            Class::Pass => 1,
        }
    }
}

/// Addresses of the frames: the sender's and the receiver's real MACs, 198.18.0.1 -> .2.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
}

/// One frame of a filter's traffic mix.
#[derive(Debug, Clone)]
pub struct Frame {
    pub class: Class,
    pub bytes: Vec<u8>,
}

/// The DNS filter's query names, one per class.
const DNS_DROP_QUERY: &str = "www.blocked.example";
const DNS_PASS_QUERY: &str = "www.allowed.example";
/// The port the UDP port filter drops, and the one its other half goes to.
const DROPPED_PORT: u16 = 9;
const OTHER_PORT: u16 = 53;
/// Payload of the plain UDP frames: 18 bytes make a 60-byte frame (the minimum Ethernet
/// frame without its FCS), the size of the notes' measurements.
const UDP_PAYLOAD: &[u8; 18] = b"lunet bench 0123\0\0";

impl Filter {
    pub const ALL: [Filter; 3] = [Filter::UdpPort, Filter::Dns, Filter::AcceptAll];

    pub fn name(self) -> &'static str {
        match self {
            Filter::UdpPort => "udp-port",
            Filter::Dns => "dns",
            Filter::AcceptAll => "accept-all",
        }
    }

    /// The traffic mix: equal shares of each frame (the generator cycles through them).
    pub fn frames(self, e: &Endpoints) -> Result<Vec<Frame>, PacketError> {
        let udp = |class: Class, dport: u16| -> Result<Frame, PacketError> {
            Ok(Frame {
                class,
                bytes: packet::udp(
                    e.src_mac,
                    e.dst_mac,
                    e.src_ip,
                    e.dst_ip,
                    class.sport(),
                    dport,
                    UDP_PAYLOAD,
                )?,
            })
        };
        let dns = |class: Class, name: &str, id: u16| -> Result<Frame, PacketError> {
            Ok(Frame {
                class,
                bytes: packet::dns_query(
                    e.src_mac,
                    e.dst_mac,
                    e.src_ip,
                    e.dst_ip,
                    class.sport(),
                    name,
                    id,
                )?,
            })
        };
        Ok(match self {
            Filter::UdpPort => vec![
                udp(Class::Drop, DROPPED_PORT)?,
                udp(Class::Pass, OTHER_PORT)?,
            ],
            Filter::Dns => vec![
                dns(Class::Drop, DNS_DROP_QUERY, 0x1001)?,
                dns(Class::Pass, DNS_PASS_QUERY, 0x1002)?,
            ],
            Filter::AcceptAll => vec![udp(Class::Pass, OTHER_PORT)?],
        })
    }

    /// The iptables rule (arguments after `-A PREROUTING`, table `raw`) that implements the
    /// filter, as an administrator would write it.
    ///
    /// For `dns` no iptables match parses DNS, so the rule is the usual approximation:
    /// UDP to port 53, a query (the `u32` match reads the QR bit: `0>>22&0x3C` is the IP
    /// header length, `@8` skips the UDP header, `>>15&1` is the top bit of the DNS flags),
    /// and the name's wire form `|07|blocked|07|example|00|` somewhere between the first
    /// possible name byte (offset 40: 20 bytes of IP, 8 of UDP, 12 of DNS header) and the
    /// last one a 255-byte name after the longest IP header can reach (offset 336), ignoring
    /// case. The leading length byte makes it match `blocked.example` and its subdomains but
    /// not `xblocked.example`, the trailing zero makes it the end of a name. It is not a
    /// parser: it also matches those bytes outside the question (in a later record, or inside
    /// a label that contains byte 7), which a real parser would not. On this benchmark's
    /// traffic it is exact.
    pub fn iptables_rule(self) -> Vec<String> {
        let words: &[&str] = match self {
            Filter::UdpPort => &["-p", "udp", "--dport", "9", "-j", "DROP"],
            Filter::Dns => &[
                "-p",
                "udp",
                "--dport",
                "53",
                "-m",
                "u32",
                "--u32",
                "0>>22&0x3C@8>>15&1=0",
                "-m",
                "string",
                "--algo",
                "bm",
                "--from",
                "40",
                "--to",
                "336",
                "--icase",
                "--hex-string",
                "|07|blocked|07|example|00|",
                "-j",
                "DROP",
            ],
            // Drops nothing; an explicit ACCEPT so the method still runs one rule per packet.
            Filter::AcceptAll => &["-p", "udp", "-j", "ACCEPT"],
        };
        words.iter().map(|w| w.to_string()).collect()
    }

    /// The verdict target of [`Filter::iptables_rule`] (its counter is the filter's count).
    pub fn iptables_target(self) -> &'static str {
        match self {
            Filter::UdpPort | Filter::Dns => "DROP",
            Filter::AcceptAll => "ACCEPT",
        }
    }

    /// The Lua-tier script (see `scripts/`): the examples' logic at PRE_ROUTING, priority RAW.
    pub fn lua_script(self) -> &'static str {
        match self {
            Filter::UdpPort => include_str!("scripts/udp-port.lua"),
            Filter::Dns => include_str!("scripts/dns.lua"),
            Filter::AcceptAll => include_str!("scripts/accept-all.lua"),
        }
    }

    /// Whether the filter must drop frames of `class`.
    pub fn drops(self, class: Class) -> bool {
        class == Class::Drop && self != Filter::AcceptAll
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lunet_lua::{NfPacket, State, StateOptions};

    fn endpoints() -> Endpoints {
        Endpoints {
            src_mac: [0x02, 0, 0, 0, 0, 1],
            dst_mac: [0x02, 0, 0, 0, 0, 2],
            src_ip: Ipv4Addr::new(198, 18, 0, 1),
            dst_ip: Ipv4Addr::new(198, 18, 0, 2),
        }
    }

    fn verdict(state: &State, frame: &[u8]) -> u32 {
        let out = state.run_netfilter(
            0,
            NfPacket {
                net: frame[14..].to_vec(),
                link_header: frame[..14].to_vec(),
                ifindex: 2,
                mark: 0,
            },
        );
        assert!(out.error.is_none(), "{:?}", out.error);
        out.verdict
    }

    fn load(name: &str, source: &str) -> State {
        State::from_source(name, source.as_bytes(), ".".into(), StateOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {}", e.message))
    }

    fn example(file: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");
        std::fs::read_to_string(format!("{path}{file}")).unwrap()
    }

    #[test]
    fn frames_are_tagged_by_source_port_and_minimum_size() {
        for f in Filter::ALL {
            let frames = f.frames(&endpoints()).unwrap();
            assert!(!frames.is_empty());
            for fr in &frames {
                let sport = u16::from_be_bytes([fr.bytes[34], fr.bytes[35]]);
                assert_eq!(sport, fr.class.sport(), "{f}");
                assert!(fr.bytes.len() >= 60, "{f}: {} bytes", fr.bytes.len());
            }
        }
        let udp = Filter::UdpPort.frames(&endpoints()).unwrap();
        assert_eq!(udp[0].bytes.len(), 60);
    }

    #[test]
    fn scripts_register_one_hook_at_pre_routing_raw() {
        for f in Filter::ALL {
            let st = load(f.name(), f.lua_script());
            let hooks = st.hooks();
            assert_eq!(hooks.len(), 1, "{f}");
            assert_eq!(
                hooks[0].attach.to_string(),
                "netfilter IPV4 PRE_ROUTING priority -300 mark 0",
                "{f}"
            );
        }
    }

    /// The bench scripts decide like the examples they are taken from, on the bench traffic
    /// and on frames that take the other branches.
    #[test]
    fn scripts_decide_like_the_examples() {
        let e = endpoints();
        let udp = |sport, dport| {
            packet::udp(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, sport, dport, b"x").unwrap()
        };
        let tcp = |dport| {
            packet::tcp_psh_ack(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 1, dport, b"x").unwrap()
        };
        let dns =
            |name| packet::dns_query(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, name, 1).unwrap();
        let mut response = dns("www.blocked.example");
        response[14 + 20 + 8 + 2] |= 0x80;

        let mut udp_frames: Vec<Vec<u8>> = Filter::UdpPort
            .frames(&e)
            .unwrap()
            .into_iter()
            .map(|f| f.bytes)
            .collect();
        udp_frames.extend([udp(1, 9), udp(1, 80), tcp(9), tcp(443)]);
        let bench = load("udp-port", Filter::UdpPort.lua_script());
        let ex = load("port-filter", &example("port-filter.lua"));
        for f in &udp_frames {
            assert_eq!(verdict(&bench, f), verdict(&ex, f));
        }
        assert_eq!(verdict(&bench, &udp_frames[0]), 0, "port 9 dropped");
        assert_eq!(verdict(&bench, &udp_frames[1]), 1, "port 53 accepted");

        let mut dns_frames: Vec<Vec<u8>> = Filter::Dns
            .frames(&e)
            .unwrap()
            .into_iter()
            .map(|f| f.bytes)
            .collect();
        dns_frames.extend([
            dns("blocked.example"),
            dns("a.b.BLOCKED.example"),
            dns("xblocked.example"),
            dns("blocked.example.org"),
            response,
        ]);
        let bench = load("dns", Filter::Dns.lua_script());
        let ex = load("dns-blocklist", &example("dns-blocklist.lua"));
        let got: Vec<u32> = dns_frames.iter().map(|f| verdict(&bench, f)).collect();
        let want: Vec<u32> = dns_frames.iter().map(|f| verdict(&ex, f)).collect();
        assert_eq!(got, want);
        assert_eq!(got, [0, 1, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn iptables_rules_name_their_target() {
        for f in Filter::ALL {
            let rule = f.iptables_rule();
            assert_eq!(rule[rule.len() - 2..], ["-j", f.iptables_target()]);
        }
        let dns = Filter::Dns.iptables_rule().join(" ");
        assert!(dns.contains("--hex-string |07|blocked|07|example|00|"));
    }
}
