//! Packet builders: complete Ethernet frames for tests and the traffic generator.
//!
//! Headers, lengths and checksums come from etherparse's `PacketBuilder`; the DNS and TLS
//! payloads are built here. IPv4 and IPv6 both work: both addresses of a frame must be of
//! the same family. Everything is deterministic (no randomness), so the same call gives the
//! same bytes.

use std::net::IpAddr;

use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader};

/// An Ethernet MAC address.
pub type Mac = [u8; 6];

/// Why a frame could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("source and destination addresses are of different IP families")]
    FamilyMismatch,
    #[error("payload too large for one IP packet: {0}")]
    TooLarge(String),
    #[error("invalid DNS name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    #[error("invalid TLS server name {name:?}: {why}")]
    BadServerName { name: String, why: &'static str },
}

const TTL: u8 = 64;

fn ip_step(
    src_mac: Mac,
    dst_mac: Mac,
    src_ip: IpAddr,
    dst_ip: IpAddr,
) -> Result<PacketBuilderStep<etherparse::IpHeaders>, PacketError> {
    let eth = PacketBuilder::ethernet2(src_mac, dst_mac);
    match (src_ip, dst_ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(eth.ipv4(s.octets(), d.octets(), TTL)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(eth.ipv6(s.octets(), d.octets(), TTL)),
        _ => Err(PacketError::FamilyMismatch),
    }
}

/// The frame a builder's `write` makes, `size` bytes (etherparse's builders have no common
/// trait, so each passes its own `write`).
fn written<E: std::fmt::Display>(
    size: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, PacketError> {
    let mut out = Vec::with_capacity(size);
    write(&mut out).map_err(|e| PacketError::TooLarge(e.to_string()))?;
    Ok(out)
}

/// A UDP datagram in an Ethernet frame.
pub fn udp(
    src_mac: Mac,
    dst_mac: Mac,
    src_ip: impl Into<IpAddr>,
    dst_ip: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let b = ip_step(src_mac, dst_mac, src_ip.into(), dst_ip.into())?.udp(sport, dport);
    written(b.size(payload.len()), |out| b.write(out, payload))
}

/// A TCP segment with flags PSH|ACK (sequence 1, acknowledgment 1, window 64240).
pub fn tcp_psh_ack(
    src_mac: Mac,
    dst_mac: Mac,
    src_ip: impl Into<IpAddr>,
    dst_ip: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let mut tcp = TcpHeader::new(sport, dport, 1, 64240);
    tcp.psh = true;
    tcp.ack = true;
    tcp.acknowledgment_number = 1;
    let b = ip_step(src_mac, dst_mac, src_ip.into(), dst_ip.into())?.tcp_header(tcp);
    written(b.size(payload.len()), |out| b.write(out, payload))
}

/// A DNS query for the A record of `name` (recursion desired, one question), from `sport` to
/// port 53.
#[allow(clippy::too_many_arguments)]
pub fn dns_query(
    src_mac: Mac,
    dst_mac: Mac,
    src_ip: impl Into<IpAddr>,
    dst_ip: impl Into<IpAddr>,
    sport: u16,
    name: &str,
    id: u16,
) -> Result<Vec<u8>, PacketError> {
    let payload = dns_query_payload(name, id)?;
    udp(src_mac, dst_mac, src_ip, dst_ip, sport, 53, &payload)
}

/// The DNS message of [`dns_query`]: header, then QNAME, QTYPE = A (1), QCLASS = IN (1).
pub fn dns_query_payload(name: &str, id: u16) -> Result<Vec<u8>, PacketError> {
    let mut m = Vec::with_capacity(12 + name.len() + 6);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // standard query, RD
    m.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    m.extend_from_slice(&[0; 6]); // ANCOUNT, NSCOUNT, ARCOUNT
    encode_dns_name(name, &mut m)?;
    m.extend_from_slice(&1u16.to_be_bytes()); // QTYPE A
    m.extend_from_slice(&1u16.to_be_bytes()); // QCLASS IN
    Ok(m)
}

/// Appends `name` in DNS wire format (length-prefixed labels, then a zero byte). A final dot
/// is allowed; `""` and `"."` are the root.
fn encode_dns_name(name: &str, out: &mut Vec<u8>) -> Result<(), PacketError> {
    let bad = |why| PacketError::BadName {
        name: name.to_string(),
        why,
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(bad("empty label"));
            }
            if label.len() > 63 {
                return Err(bad("label longer than 63 bytes"));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(bad("name longer than 255 bytes"));
    }
    Ok(())
}

/// A TLS ClientHello carrying `server_name` in its SNI extension, as the first data segment of
/// a TCP connection (flags PSH|ACK) from `sport` to `dport`.
#[allow(clippy::too_many_arguments)]
pub fn tls_client_hello(
    src_mac: Mac,
    dst_mac: Mac,
    src_ip: impl Into<IpAddr>,
    dst_ip: impl Into<IpAddr>,
    sport: u16,
    dport: u16,
    server_name: &str,
) -> Result<Vec<u8>, PacketError> {
    let payload = client_hello_record(server_name)?;
    tcp_psh_ack(src_mac, dst_mac, src_ip, dst_ip, sport, dport, &payload)
}

/// TLS extension types used in the ClientHello.
mod ext {
    pub const SERVER_NAME: u16 = 0x0000;
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub const ALPN: u16 = 0x0010;
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub const KEY_SHARE: u16 = 0x0033;
}

/// The TLS record of [`tls_client_hello`]: a TLS 1.3 ClientHello (also offering 1.2) whose
/// extensions are, in order, supported_versions, supported_groups, signature_algorithms,
/// key_share, server_name, ALPN; so a parser has to walk four extensions to reach the SNI
/// and must respect the lengths to stop after it.
pub fn client_hello_record(server_name: &str) -> Result<Vec<u8>, PacketError> {
    let bad = |why| PacketError::BadServerName {
        name: server_name.to_string(),
        why,
    };
    if server_name.is_empty() {
        return Err(bad("empty"));
    }
    if server_name.len() > 255 {
        return Err(bad("longer than 255 bytes"));
    }
    if !server_name.is_ascii() {
        return Err(bad("not ASCII (use the A-label form)"));
    }
    // Deterministic stand-ins for the random values, derived from the name.
    let seed = server_name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    let filler = |n: usize, salt: u32| -> Vec<u8> {
        (0..n as u32)
            .map(|i| (seed.wrapping_add(salt).wrapping_mul(i + 1) >> 8) as u8)
            .collect()
    };

    let mut exts = Vec::new();
    // supported_versions: TLS 1.3, TLS 1.2
    push_ext(
        &mut exts,
        ext::SUPPORTED_VERSIONS,
        &[4, 0x03, 0x04, 0x03, 0x03],
    );
    // supported_groups: x25519, secp256r1
    push_ext(
        &mut exts,
        ext::SUPPORTED_GROUPS,
        &[0, 4, 0x00, 0x1d, 0x00, 0x17],
    );
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    push_ext(
        &mut exts,
        ext::SIGNATURE_ALGORITHMS,
        &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    );
    // key_share: one x25519 share of 32 bytes
    let mut ks = vec![0, 36, 0x00, 0x1d, 0, 32];
    ks.extend(filler(32, 2));
    push_ext(&mut exts, ext::KEY_SHARE, &ks);
    // server_name: list of one host_name entry
    let n = server_name.len();
    let mut sni = Vec::with_capacity(n + 5);
    sni.extend_from_slice(&((n + 3) as u16).to_be_bytes()); // server_name_list length
    sni.push(0); // name_type host_name
    sni.extend_from_slice(&(n as u16).to_be_bytes());
    sni.extend_from_slice(server_name.as_bytes());
    push_ext(&mut exts, ext::SERVER_NAME, &sni);
    // ALPN: h2, http/1.1
    let mut alpn = vec![0, 12, 2];
    alpn.extend_from_slice(b"h2");
    alpn.push(8);
    alpn.extend_from_slice(b"http/1.1");
    push_ext(&mut exts, ext::ALPN, &alpn);

    let mut hello = Vec::new();
    hello.extend_from_slice(&[0x03, 0x03]); // legacy_version TLS 1.2
    hello.extend(filler(32, 0)); // random
    hello.push(32); // legacy_session_id (middlebox compatibility mode)
    hello.extend(filler(32, 1));
    let suites: [u16; 5] = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f];
    hello.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        hello.extend_from_slice(&s.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression methods: null
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend(exts);

    let mut hs = Vec::with_capacity(hello.len() + 4);
    hs.push(1); // client_hello
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]); // uint24 length
    hs.extend(hello);

    let mut rec = Vec::with_capacity(hs.len() + 5);
    rec.push(22); // handshake
    rec.extend_from_slice(&[0x03, 0x01]); // legacy_record_version TLS 1.0, as clients send
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    Ok(rec)
}

fn push_ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetHeaders, PacketHeaders, TransportHeader};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SMAC: Mac = [0x02, 0, 0, 0, 0, 1];
    const DMAC: Mac = [0x02, 0, 0, 0, 0, 2];
    const SIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    /// Parses an IPv4 frame back and checks the Ethernet/IP fields and both checksums;
    /// returns the transport header and its payload.
    fn parse_v4(frame: &[u8]) -> (TransportHeader, Vec<u8>) {
        let h = PacketHeaders::from_ethernet_slice(frame).expect("parses");
        let eth = h.link.clone().unwrap().ethernet2().unwrap();
        assert_eq!((eth.source, eth.destination), (SMAC, DMAC));
        let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
            panic!("not IPv4")
        };
        assert_eq!((ip.source, ip.destination), (SIP.octets(), DIP.octets()));
        assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        assert_eq!(ip.total_len as usize, frame.len() - 14);
        let payload = h.payload.slice().to_vec();
        let t = h.transport.clone().unwrap();
        match &t {
            TransportHeader::Udp(u) => {
                assert_eq!(u.checksum, u.calc_checksum_ipv4(ip, &payload).unwrap());
                assert_eq!(u.length as usize, 8 + payload.len());
            }
            TransportHeader::Tcp(t) => {
                assert_eq!(t.checksum, t.calc_checksum_ipv4(ip, &payload).unwrap());
            }
            _ => panic!("unexpected transport"),
        }
        (t, payload)
    }

    #[test]
    fn udp_frame_parses_back() {
        let f = udp(SMAC, DMAC, SIP, DIP, 1234, 9999, b"hello").unwrap();
        assert_eq!(f.len(), 14 + 20 + 8 + 5);
        let (t, payload) = parse_v4(&f);
        let TransportHeader::Udp(u) = t else { panic!() };
        assert_eq!((u.source_port, u.destination_port), (1234, 9999));
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn udp_ipv6_and_family_mismatch() {
        let s6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d6: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let f = udp(SMAC, DMAC, s6, d6, 1, 2, b"x").unwrap();
        let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
        assert!(matches!(h.net, Some(NetHeaders::Ipv6(..))));
        assert_eq!(h.payload.slice(), b"x");
        assert_eq!(
            udp(SMAC, DMAC, SIP, d6, 1, 2, b"x"),
            Err(PacketError::FamilyMismatch)
        );
    }

    /// A few-line DNS question reader: returns (id, flags, qdcount, name, qtype, qclass).
    fn read_question(m: &[u8]) -> (u16, u16, u16, String, u16, u16) {
        let be = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
        let mut i = 12;
        let mut labels = Vec::new();
        while m[i] != 0 {
            let n = m[i] as usize;
            assert!(n <= 63, "no compression pointers in a query");
            labels.push(
                std::str::from_utf8(&m[i + 1..i + 1 + n])
                    .unwrap()
                    .to_string(),
            );
            i += 1 + n;
        }
        i += 1;
        assert_eq!(m.len(), i + 4, "nothing after the question");
        (be(0), be(2), be(4), labels.join("."), be(i), be(i + 2))
    }

    #[test]
    fn dns_query_parses_back() {
        let f = dns_query(SMAC, DMAC, SIP, DIP, 40000, "www.example.com", 0xbeef).unwrap();
        let (t, payload) = parse_v4(&f);
        let TransportHeader::Udp(u) = t else { panic!() };
        assert_eq!((u.source_port, u.destination_port), (40000, 53));
        let (id, flags, qd, name, qtype, qclass) = read_question(&payload);
        assert_eq!((id, flags, qd), (0xbeef, 0x0100, 1));
        assert_eq!(name, "www.example.com");
        assert_eq!((qtype, qclass), (1, 1));
        assert_eq!(&payload[6..12], &[0; 6]);
    }

    #[test]
    fn dns_names_are_validated() {
        assert_eq!(
            dns_query_payload("a.b.", 1).unwrap(),
            dns_query_payload("a.b", 1).unwrap()
        );
        assert_eq!(read_question(&dns_query_payload(".", 1).unwrap()).3, "");
        assert!(matches!(
            dns_query_payload("a..b", 1),
            Err(PacketError::BadName { .. })
        ));
        let long_label = "x".repeat(64);
        assert!(dns_query_payload(&long_label, 1).is_err());
        let long_name = ["y".repeat(60).as_str(); 5].join(".");
        assert!(dns_query_payload(&long_name, 1).is_err());
    }

    /// Walks the ClientHello the way a filter would and returns the SNI host name, checking
    /// every length field on the way.
    fn read_sni(rec: &[u8]) -> Option<String> {
        let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]) as usize;
        assert_eq!(rec[0], 22, "handshake record");
        assert_eq!(be16(rec, 3), rec.len() - 5, "record length");
        let hs = &rec[5..];
        assert_eq!(hs[0], 1, "client_hello");
        let hs_len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
        assert_eq!(hs_len, hs.len() - 4, "handshake length");
        let h = &hs[4..];
        let mut i = 2 + 32; // version, random
        i += 1 + h[i] as usize; // session id
        i += 2 + be16(h, i); // cipher suites
        i += 1 + h[i] as usize; // compression methods
        let ext_end = i + 2 + be16(h, i);
        assert_eq!(ext_end, h.len(), "extensions fill the message");
        i += 2;
        let mut sni = None;
        let mut seen = 0;
        while i < ext_end {
            let (ty, len) = (be16(h, i), be16(h, i + 2));
            let data = &h[i + 4..i + 4 + len];
            if ty == 0 {
                assert!(seen >= 2, "SNI comes after other extensions");
                assert_eq!(be16(data, 0), len - 2, "server_name_list length");
                assert_eq!(data[2], 0, "host_name");
                let n = be16(data, 3);
                sni = Some(String::from_utf8(data[5..5 + n].to_vec()).unwrap());
            }
            seen += 1;
            i += 4 + len;
        }
        assert_eq!(i, ext_end);
        sni
    }

    #[test]
    fn tls_client_hello_parses_back() {
        let f = tls_client_hello(SMAC, DMAC, SIP, DIP, 40001, 443, "lunet.example.org").unwrap();
        let (t, payload) = parse_v4(&f);
        let TransportHeader::Tcp(tcp) = t else {
            panic!()
        };
        assert_eq!((tcp.source_port, tcp.destination_port), (40001, 443));
        assert!(tcp.psh && tcp.ack && !tcp.syn && !tcp.fin && !tcp.rst);
        assert_eq!(read_sni(&payload).as_deref(), Some("lunet.example.org"));
        // Deterministic.
        assert_eq!(
            f,
            tls_client_hello(SMAC, DMAC, SIP, DIP, 40001, 443, "lunet.example.org").unwrap()
        );
    }

    #[test]
    fn tls_server_names_are_validated() {
        assert!(client_hello_record("").is_err());
        assert!(client_hello_record(&"a".repeat(256)).is_err());
        assert!(client_hello_record("bücher.example").is_err());
        assert_eq!(
            read_sni(&client_hello_record(&"a".repeat(255)).unwrap())
                .unwrap()
                .len(),
            255
        );
    }
}
