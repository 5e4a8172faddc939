//! How iptables and nft express each filter: the rules of the `iptables-raw`,
//! `iptables-string` and `nft-raw` methods, as an administrator would write them.

use crate::filters::Filter;

/// The `u32` test of the `dns` rule: a query for exactly `www.blocked.example` (see
/// [`Filter::iptables_rule`]).
const DNS_U32: &str = "0>>22&0x3C@8>>15&1=0&&0>>22&0x3C@20=0x03777777&&0>>22&0x3C@24=0x07626c6f&&\
                       0>>22&0x3C@28=0x636b6564&&0>>22&0x3C@32=0x07657861&&\
                       0>>22&0x3C@36=0x6d706c65&&0>>22&0x3C@40>>24=0";

/// The `u32` test of the `sni` rule: a TLS handshake record whose message is a ClientHello
/// (see [`Filter::iptables_rule`]).
const SNI_U32: &str = "0>>22&0x3C@12>>26&0x3C@0>>24=0x16&&0>>22&0x3C@12>>26&0x3C@5>>24=0x1";

impl Filter {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::Endpoints;
    use lunet_gen::packet;

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
        let frames = Filter::Dns.frames(&Endpoints::OFFLINE).unwrap();
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
        let e = Endpoints::OFFLINE;
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
        let e = Endpoints::OFFLINE;
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
