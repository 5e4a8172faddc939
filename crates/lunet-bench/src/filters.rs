//! The filters the benchmark measures: what each must drop, the traffic that exercises it, and
//! how each method expresses it (the iptables rule, the Lua script).
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

/// The `u32` test of the `dns` rule: a query for exactly `www.blocked.example` (see
/// [`Filter::iptables_rule`]).
const DNS_U32: &str = "0>>22&0x3C@8>>15&1=0&&0>>22&0x3C@20=0x03777777&&0>>22&0x3C@24=0x07626c6f&&\
                       0>>22&0x3C@28=0x636b6564&&0>>22&0x3C@32=0x07657861&&\
                       0>>22&0x3C@36=0x6d706c65&&0>>22&0x3C@40>>24=0";

/// The `u32` test of the `sni` rule: a TLS handshake record whose message is a ClientHello
/// (see [`Filter::iptables_rule`]).
const SNI_U32: &str = "0>>22&0x3C@12>>26&0x3C@0>>24=0x16&&0>>22&0x3C@12>>26&0x3C@5>>24=0x1";

/// The kernel-tier `accept-all`: an XDP hook of one line that passes every frame.
const XDP_ACCEPT_ALL: &str = r#"-- lunet bench, filter `accept-all`, kernel tier: the fixed cost of an XDP hook.
local xdp = require("xdp")
xdp.attach(function() return xdp.PASS end, { name = "accept-all" })
"#;

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

    /// The `iptables-raw` rule (arguments after `-A PREROUTING`, table `raw`) that implements
    /// the filter as precisely as iptables' matches allow, as an administrator would write it.
    ///
    /// For `dns` no iptables match parses DNS; the `u32` match reads fixed offsets, and the
    /// question's name starts at one, so the rule is UDP to port 53 and the `u32` expression
    /// [`DNS_U32`]: a query, and the wire form of the exact name `www.blocked.example` (21
    /// bytes, six 4-byte words; `0>>22&0x3C` is the IP header length, `@` moves past it, to
    /// the UDP header: `8>>15&1=0` is the QR bit of the DNS flags, the name starts at 20: 8
    /// bytes of UDP header, 12 of DNS header). Like the `nft-raw` rule it is narrower than the
    /// filter: each name, each subdomain depth, needs a rule of its own, and it is
    /// case-sensitive. On this benchmark's traffic it is exact.
    ///
    /// For `sni` the server name's offset in a ClientHello depends on what comes before it,
    /// which `u32` cannot follow; the rule is TCP to port 443, a `u32` test that the segment
    /// starts a TLS handshake record holding a ClientHello, and a `string` match for the
    /// name. The `u32` expression [`SNI_U32`] has two tests joined by `&&`, each of which walks
    /// to the TCP payload first: `0>>22&0x3C` is the IP header length (IHL times 4) and `@`
    /// moves there, to the TCP header; `12>>26&0x3C` is the TCP data offset times 4 (the top
    /// nibble of byte 12) and `@` moves past it, to the first byte of the payload. There
    /// `0>>24=0x16` reads byte 0, the record's content type, which must be 22 (handshake);
    /// `5>>24=0x1` reads byte 5, the first byte of the handshake message, its type, which must
    /// be 1 (client_hello). The `string` match then looks for `blocked.example` (Boyer-Moore,
    /// ignoring case) from offset 101, the earliest a server name can start (20 bytes of IP
    /// header, 20 of TCP, 5 of record header, 4 of handshake header, 2 of version, 32 of
    /// random, 1 of session id length, 2 + 2 for one cipher suite, 1 + 1 for one compression
    /// method, 2 of extensions length, 4 of extension header, 2 of list length, 1 of name
    /// type, 2 of name length), to offset 1500, the end of a full-size packet. It is not a
    /// parser: it does not walk the extensions, so it matches those bytes anywhere after
    /// offset 101 (in another extension, in the session id), it also matches
    /// `xblocked.example` and `blocked.example.org` (one string match cannot say "a label
    /// boundary or the start of the name before it, the end of the name after it"), and it
    /// misses a ClientHello split over two segments. On this benchmark's traffic it is exact.
    pub fn iptables_rule(self) -> Vec<String> {
        let words: &[&str] = match self {
            Filter::UdpPort | Filter::UdpFlood => &["-p", "udp", "--dport", "9", "-j", "DROP"],
            Filter::Dns => &[
                "-p", "udp", "--dport", "53", "-m", "u32", "--u32", DNS_U32, "-j", "DROP",
            ],
            Filter::Sni => &[
                "-p",
                "tcp",
                "--dport",
                "443",
                "-m",
                "u32",
                "--u32",
                SNI_U32,
                "-m",
                "string",
                "--algo",
                "bm",
                "--from",
                "101",
                "--to",
                "1500",
                "--icase",
                "--string",
                "blocked.example",
                "-j",
                "DROP",
            ],
            // Drops nothing; an explicit ACCEPT so the method still runs one rule per packet.
            Filter::AcceptAll => &["-p", "udp", "-j", "ACCEPT"],
        };
        words.iter().map(|w| w.to_string()).collect()
    }

    /// The `iptables-string` rule (raw PREROUTING) of a name filter: the port and one `-m
    /// string` search of the whole packet for the name (Boyer-Moore, ignoring case), the rule
    /// an administrator writes first; or why the filter has no name to search for.
    ///
    /// For `dns` the name's wire form `|07|blocked|07|example|00|`: the leading length byte
    /// makes it match `blocked.example` and its subdomains but not `xblocked.example`, the
    /// trailing zero makes it the end of a name. It does not check that the packet is a query
    /// or that the bytes are in the question. For `sni` the name's text `blocked.example`
    /// anywhere in a segment to port 443: also in other records and extensions, also
    /// `xblocked.example`. On this benchmark's traffic both are exact.
    pub fn iptables_string_rule(self) -> Result<Vec<String>, &'static str> {
        let words: &[&str] = match self {
            Filter::Dns => &[
                "-p",
                "udp",
                "--dport",
                "53",
                "-m",
                "string",
                "--algo",
                "bm",
                "--icase",
                "--hex-string",
                "|07|blocked|07|example|00|",
                "-j",
                "DROP",
            ],
            Filter::Sni => &[
                "-p",
                "tcp",
                "--dport",
                "443",
                "-m",
                "string",
                "--algo",
                "bm",
                "--icase",
                "--string",
                "blocked.example",
                "-j",
                "DROP",
            ],
            Filter::UdpPort | Filter::UdpFlood | Filter::AcceptAll => {
                return Err("the filter matches no name: -m string has nothing to look for")
            }
        };
        Ok(words.iter().map(|w| w.to_string()).collect())
    }

    /// The verdict target of [`Filter::iptables_rule`] (its counter is the filter's count).
    pub fn iptables_target(self) -> &'static str {
        match self {
            Filter::UdpPort | Filter::UdpFlood | Filter::Dns | Filter::Sni => "DROP",
            Filter::AcceptAll => "ACCEPT",
        }
    }

    /// The nft rule (the words after `add rule ip TABLE CHAIN`) that implements the filter in
    /// the `nft-raw` method's prerouting chain, as an administrator would write it; or why
    /// nft cannot express the filter simply.
    ///
    /// nft has no string search: its raw payload expression `@th,OFFSET,LENGTH` (offset and
    /// length in bits from the start of the transport header) compares bits at a fixed
    /// offset, at most 128 bits per comparison. For `dns` the question's name starts at a
    /// fixed offset (8 bytes of UDP header, 12 of DNS header: bit 160), so the rule is UDP to
    /// port 53, a query (`@th,80,1 0`: the QR bit, the top bit of the DNS flags) and the wire
    /// form of the exact name `www.blocked.example` (21 bytes, compared as 128 + 40 bits).
    /// It is narrower than the filter: each name, each subdomain depth, needs a rule of its
    /// own, and it is case-sensitive. On this benchmark's traffic it is exact.
    ///
    /// For `sni` it cannot: the server name's offset in a ClientHello depends on the length
    /// of the session id, of the cipher suites and compression methods, and on the extensions
    /// that come before `server_name`, all chosen by the client.
    pub fn nft_rule(self) -> Result<&'static str, &'static str> {
        match self {
            Filter::UdpPort | Filter::UdpFlood => Ok("udp dport 9 counter drop"),
            Filter::Dns => Ok(concat!(
                "udp dport 53 @th,80,1 0 ",
                "@th,160,128 0x0377777707626c6f636b656407657861 @th,288,40 0x6d706c6500 ",
                "counter drop"
            )),
            Filter::Sni => Err(
                "nft has no string search, and @th payload matches fixed offsets only: the \
                 server name's offset in a ClientHello depends on the session id, cipher \
                 suites and extensions before it",
            ),
            // Drops nothing; an explicit accept so the method still runs one rule per packet.
            Filter::AcceptAll => Ok("meta l4proto udp counter accept"),
        }
    }

    /// The Lua-tier script (see `scripts/`): the examples' logic at PRE_ROUTING, priority RAW.
    pub fn lua_script(self) -> &'static str {
        match self {
            Filter::UdpPort | Filter::UdpFlood => include_str!("../scripts/udp-port.lua"),
            Filter::Dns => include_str!("../scripts/dns.lua"),
            Filter::Sni => include_str!("../scripts/sni.lua"),
            Filter::AcceptAll => include_str!("../scripts/accept-all.lua"),
        }
    }

    /// The kernel-tier script: the filter's XDP example from `examples/` (built in, so the
    /// bench needs no source tree), or for `accept-all` a hook that passes every frame; and
    /// the file name it goes by.
    pub fn xdp_script(self) -> (&'static str, &'static str) {
        match self {
            Filter::UdpPort | Filter::UdpFlood => (
                "xdp-port-filter.lua",
                include_str!("../../../examples/xdp-port-filter.lua"),
            ),
            Filter::Dns => (
                "xdp-dns-blocklist.lua",
                include_str!("../../../examples/xdp-dns-blocklist.lua"),
            ),
            Filter::Sni => (
                "xdp-sni-blocklist.lua",
                include_str!("../../../examples/xdp-sni-blocklist.lua"),
            ),
            Filter::AcceptAll => ("xdp-accept-all.lua", XDP_ACCEPT_ALL),
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
                net: &frame[14..],
                link_header: &frame[..14],
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

    fn xdp_verdict(state: &State, frame: &[u8]) -> u32 {
        let out = state.run_xdp(0, frame);
        assert!(out.error.is_none(), "{:?}", out.error);
        out.verdict
    }

    /// The bench's Lua-tier `sni` script (an skb at PRE_ROUTING) decides like the XDP example
    /// it is taken from (run here in the Lua tier on the whole frame).
    #[test]
    fn sni_script_decides_like_the_xdp_example() {
        let e = endpoints();
        let hello = |dport, name| {
            packet::tls_client_hello(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, dport, name)
                .unwrap()
        };
        let mut frames: Vec<Vec<u8>> = Filter::Sni
            .frames(&e)
            .unwrap()
            .into_iter()
            .map(|f| f.bytes)
            .collect();
        let record = packet::client_hello_record("www.blocked.example").unwrap();
        let mut not_hello = record.clone();
        not_hello[5] = 2; // a ServerHello
        let mut not_handshake = record.clone();
        not_handshake[0] = 23; // application data
        let tcp = |payload: &[u8]| {
            packet::tcp_psh_ack(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, 443, payload).unwrap()
        };
        frames.extend([
            hello(443, "blocked.example"),
            hello(443, "a.b.blocked.example"),
            hello(443, "xblocked.example"),
            hello(443, "blocked.example.org"),
            hello(443, "ads.test"),
            hello(8443, "www.blocked.example"),
            tcp(&not_hello),
            tcp(&not_handshake),
            packet::udp(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, 443, &record).unwrap(),
        ]);
        let bench = load("sni", Filter::Sni.lua_script());
        let (_, text) = Filter::Sni.xdp_script();
        let ex = load("xdp-sni-blocklist", text);
        let got: Vec<u32> = frames.iter().map(|f| verdict(&bench, f)).collect();
        let want: Vec<u32> = frames.iter().map(|f| xdp_verdict(&ex, f)).collect();
        // NF_DROP 0 / NF_ACCEPT 1 against XDP_DROP 1 / XDP_PASS 2.
        let as_xdp: Vec<u32> = got.iter().map(|v| if *v == 0 { 1 } else { 2 }).collect();
        assert_eq!(as_xdp, want);
        assert_eq!(got, [0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1]);
    }

    /// Every filter's kernel-tier script has one XDP hook, and it compiles.
    #[test]
    fn xdp_scripts_compile() {
        for f in Filter::ALL {
            let (file, text) = f.xdp_script();
            let st = load(file, text);
            let hooks = st.hooks();
            assert_eq!(hooks.len(), 1, "{f}");
            assert!(
                matches!(hooks[0].attach, lunet_types::Attach::Xdp { .. }),
                "{f}"
            );
            let script = lunet_runtime::kernel::Script {
                file: file.into(),
                source: text.into(),
            };
            let program =
                lunet_runtime::kernel::compile(&st, &hooks[0], &script, &Default::default())
                    .unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!program.insns.is_empty(), "{f}");
        }
    }

    #[test]
    fn iptables_rules_name_their_target() {
        for f in Filter::ALL {
            let rule = f.iptables_rule();
            assert_eq!(rule[rule.len() - 2..], ["-j", f.iptables_target()]);
        }
        let dns = Filter::Dns.iptables_string_rule().unwrap().join(" ");
        assert!(dns.contains("--hex-string |07|blocked|07|example|00|"));
        assert!(Filter::UdpPort.iptables_string_rule().is_err());
        let sni = Filter::Sni.iptables_rule().join(" ");
        assert!(sni.starts_with("-p tcp --dport 443 -m u32 --u32 "), "{sni}");
        assert!(sni.contains("--string blocked.example"), "{sni}");
    }

    #[test]
    fn nft_rules_count_and_match_the_traffic_at_their_offsets() {
        for f in [Filter::UdpPort, Filter::Dns, Filter::AcceptAll] {
            assert!(f.nft_rule().unwrap().contains(" counter "), "{f}");
        }
        assert!(Filter::Sni.nft_rule().is_err());
        // The DNS rule's bytes are where it says in the must-drop frame and not in the other.
        let frames = Filter::Dns.frames(&endpoints()).unwrap();
        let th = 14 + 20; // Ethernet, IPv4 without options
        let name = b"\x03www\x07blocked\x07example\x00";
        assert_eq!(&frames[0].bytes[th + 20..th + 20 + name.len()], name);
        assert_ne!(&frames[1].bytes[th + 20..th + 20 + name.len()], name);
        assert_eq!(frames[0].bytes[th + 10] & 0x80, 0, "a query");
        let rule = Filter::Dns.nft_rule().unwrap();
        let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
        assert!(rule.contains(&format!("0x{} @th,288,40 0x{}", &hex[..32], &hex[32..])));
    }

    /// The `sni` rule's `u32` test, evaluated here the way the kernel's u32 match does, holds
    /// for the bench's ClientHellos and not for other TLS records.
    #[test]
    fn sni_u32_test_finds_a_client_hello() {
        let e = endpoints();
        let frames = Filter::Sni.frames(&e).unwrap();
        for f in &frames {
            assert!(u32_match(SNI_U32, &f.bytes[14..]), "{f:?}");
        }
        let mut server_hello = frames[0].bytes.clone();
        server_hello[14 + 20 + 20 + 5] = 2;
        assert!(!u32_match(SNI_U32, &server_hello[14..]));
        let mut app_data = frames[0].bytes.clone();
        app_data[14 + 20 + 20] = 23;
        assert!(!u32_match(SNI_U32, &app_data[14..]));
    }

    /// The `dns` rule's `u32` test holds for the query for www.blocked.example only: not for
    /// the allowed name, nor a response, nor a name that only starts the same.
    #[test]
    fn dns_u32_test_matches_the_exact_query_name() {
        let e = endpoints();
        let frames = Filter::Dns.frames(&e).unwrap();
        assert!(u32_match(DNS_U32, &frames[0].bytes[14..]));
        assert!(!u32_match(DNS_U32, &frames[1].bytes[14..]));
        let mut response = frames[0].bytes.clone();
        response[14 + 20 + 8 + 2] |= 0x80;
        assert!(!u32_match(DNS_U32, &response[14..]));
        let longer = packet::dns_query(
            e.src_mac,
            e.dst_mac,
            e.src_ip,
            e.dst_ip,
            40001,
            "www.blocked.examples",
            1,
        )
        .unwrap();
        assert!(!u32_match(DNS_U32, &longer[14..]));
    }

    /// A small evaluator of the `u32` match's language, for the tests: tests joined by `&&`,
    /// each `location=value`; a location is steps joined by `@` (each moves the base by the
    /// value so far), a step a start offset (4 bytes read big-endian there) then `>>N` and
    /// `&M` operations.
    fn u32_match(expr: &str, ip: &[u8]) -> bool {
        expr.split("&&").all(|test| {
            let (loc, want) = test.split_once('=').unwrap();
            let mut base = 0usize;
            let mut value = None;
            for step in loc.split('@') {
                base += value.unwrap_or(0) as usize;
                value = u32_step(step, base, ip);
                if value.is_none() {
                    return false;
                }
            }
            value == Some(parse_num(want))
        })
    }

    fn u32_step(step: &str, base: usize, ip: &[u8]) -> Option<u32> {
        let end = step.find(['>', '&']).unwrap_or(step.len());
        let at = base + parse_num(&step[..end]) as usize;
        let mut value = u32::from_be_bytes(ip.get(at..at + 4)?.try_into().ok()?);
        let mut rest = &step[end..];
        while !rest.is_empty() {
            let (shift, tail) = match rest.strip_prefix(">>") {
                Some(t) => (true, t),
                None => (false, &rest[1..]),
            };
            let n_end = tail.find(['>', '&']).unwrap_or(tail.len());
            let n = parse_num(&tail[..n_end]);
            value = if shift { value >> n } else { value & n };
            rest = &tail[n_end..];
        }
        Some(value)
    }

    fn parse_num(s: &str) -> u32 {
        match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).unwrap(),
            None => s.parse().unwrap(),
        }
    }
}
