//! The filters the benchmark measures: what each must drop and the traffic that exercises
//! it. How the methods express them: [`crate::rules`] (iptables, nft), [`crate::scripts`]
//! (lunet's Lua and kernel tiers), `c/` (the hand-written C).
//!
//! Traffic is two classes of frames, told apart by their UDP or TCP *source* port, which no
//! filter looks at: [`Class::Drop`] frames (from port 40001) are the ones the filter must drop,
//! [`Class::Pass`] frames (from port 40002) the ones it must let through. The receiver's
//! counting rules match on that port, so the harness knows per class how many packets
//! reached the filter and how many came out of it.

use std::net::Ipv4Addr;

use lunet_gen::packet::{self, Mac, PacketError};

/// A filter of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Filter {
    /// Drop UDP to port 9; traffic: half UDP to port 9, half UDP to port 53.
    UdpPort,
    /// The same filter under a flood: 15 of every 16 frames UDP to port 9, the rest to 53.
    UdpFlood,
    /// Drop DNS queries for blocked.example and its subdomains; traffic: half queries for
    /// www.blocked.example, half for www.allowed.example.
    Dns,
    /// Drop nothing; traffic: UDP to port 53. The fixed cost of a method.
    AcceptAll,
    /// Drop TCP segments to port 443 carrying a TLS ClientHello for blocked.example or a
    /// subdomain; traffic: half ClientHellos for www.blocked.example, half for
    /// www.allowed.example.
    Sni,
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

impl Endpoints {
    /// The testbed's addresses with made-up MACs, for frames that go to a file or a test,
    /// not through a testbed.
    pub const OFFLINE: Endpoints = Endpoints {
        src_mac: [0x02, 0, 0, 0, 0, 1],
        dst_mac: [0x02, 0, 0, 0, 0, 2],
        src_ip: Ipv4Addr::new(198, 18, 0, 1),
        dst_ip: Ipv4Addr::new(198, 18, 0, 2),
    };
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
/// The SNI filter's server names, one per class, and the port its segments go to.
const SNI_DROP_NAME: &str = "www.blocked.example";
const SNI_PASS_NAME: &str = "www.allowed.example";
const TLS_PORT: u16 = 443;
/// The port the UDP port filter drops, and the one its other half goes to.
const DROPPED_PORT: u16 = 9;
const OTHER_PORT: u16 = 53;
/// Must-drop frames for each must-pass one in the `udp-flood` mix.
const FLOOD_SHARE: usize = 15;
/// Payload of the plain UDP frames: 18 bytes make a 60-byte frame (the minimum Ethernet
/// frame without its FCS), the size of the notes' measurements.
const UDP_PAYLOAD: &[u8; 18] = b"lunet bench 0123\0\0";

impl Filter {
    pub const ALL: [Filter; 5] = [
        Filter::UdpPort,
        Filter::UdpFlood,
        Filter::Dns,
        Filter::Sni,
        Filter::AcceptAll,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Filter::UdpPort => "udp-port",
            Filter::UdpFlood => "udp-flood",
            Filter::Dns => "dns",
            Filter::Sni => "sni",
            Filter::AcceptAll => "accept-all",
        }
    }

    /// The transport protocol of the filter's traffic (`udp` or `tcp`), which the counting
    /// rules match together with the source port.
    pub fn protocol(self) -> &'static str {
        match self {
            Filter::Sni => "tcp",
            Filter::UdpPort | Filter::UdpFlood | Filter::Dns | Filter::AcceptAll => "udp",
        }
    }

    /// The traffic mix: equal shares of each frame (the generator cycles through them).
    /// `udp-flood` repeats its must-drop frame [`FLOOD_SHARE`] times.
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
        let hello = |class: Class, name: &str| -> Result<Frame, PacketError> {
            Ok(Frame {
                class,
                bytes: packet::tls_client_hello(
                    e.src_mac,
                    e.dst_mac,
                    e.src_ip,
                    e.dst_ip,
                    class.sport(),
                    TLS_PORT,
                    name,
                )?,
            })
        };
        Ok(match self {
            Filter::UdpPort => vec![
                udp(Class::Drop, DROPPED_PORT)?,
                udp(Class::Pass, OTHER_PORT)?,
            ],
            Filter::UdpFlood => {
                let mut v = vec![udp(Class::Drop, DROPPED_PORT)?; FLOOD_SHARE];
                v.push(udp(Class::Pass, OTHER_PORT)?);
                v
            }
            Filter::Dns => vec![
                dns(Class::Drop, DNS_DROP_QUERY, 0x1001)?,
                dns(Class::Pass, DNS_PASS_QUERY, 0x1002)?,
            ],
            Filter::Sni => vec![
                hello(Class::Drop, SNI_DROP_NAME)?,
                hello(Class::Pass, SNI_PASS_NAME)?,
            ],
            Filter::AcceptAll => vec![udp(Class::Pass, OTHER_PORT)?],
        })
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

    #[test]
    fn frames_are_tagged_by_source_port_and_minimum_size() {
        for f in Filter::ALL {
            let frames = f.frames(&Endpoints::OFFLINE).unwrap();
            assert!(!frames.is_empty());
            for fr in &frames {
                let sport = u16::from_be_bytes([fr.bytes[34], fr.bytes[35]]);
                assert_eq!(sport, fr.class.sport(), "{f}");
                assert!(fr.bytes.len() >= 60, "{f}: {} bytes", fr.bytes.len());
            }
        }
        let udp = Filter::UdpPort.frames(&Endpoints::OFFLINE).unwrap();
        assert_eq!(udp[0].bytes.len(), 60);
    }
}
