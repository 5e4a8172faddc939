//! Packets for tests, made by lunet-gen's builders (`lunet_gen::packet`) and read with
//! etherparse, so no test writes or parses header bytes by hand: lengths and checksums are
//! right, and one place knows how.
//!
//! Addresses are in 198.18.0.0/15, as every lunet test's are.

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use lunet_gen::packet::{self, Mac};

/// Length of the Ethernet header in front of a frame's network layer.
pub const ETH_HEADER_LEN: usize = 14;
/// The sending side of the packets below.
pub const SRC_MAC: Mac = [0x02, 0, 0, 0, 0, 1];
/// The receiving side of the packets below.
pub const DST_MAC: Mac = [0x02, 0, 0, 0, 0, 2];
/// 198.18.0.1:1000, where the packets of [`udp4_to`] come from.
pub const SRC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 1000);
/// 198.18.0.2, where the packets of [`udp4_to`] go.
pub const DST_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// An Ethernet frame ([`SRC_MAC`] to [`DST_MAC`]) with a UDP datagram from `src` to `dst`.
///
/// # Panics
/// When `data` does not fit one IPv4 packet: a test asked for what no test can send.
pub fn udp4_frame(src: SocketAddrV4, dst: SocketAddrV4, data: &[u8]) -> Vec<u8> {
    packet::udp(
        SRC_MAC,
        DST_MAC,
        *src.ip(),
        *dst.ip(),
        src.port(),
        dst.port(),
        data,
    )
    .unwrap_or_else(|e| panic!("a test packet of {} bytes: {e}", data.len()))
}

/// The frame of a UDP datagram [`SRC`] -> [`DST_IP`]:`dport` carrying `data`.
pub fn udp4_to(dport: u16, data: &[u8]) -> Vec<u8> {
    udp4_frame(SRC, SocketAddrV4::new(DST_IP, dport), data)
}

/// The frame of a TCP segment (PSH|ACK) [`SRC`] -> [`DST_IP`]:`dport` carrying `data`.
pub fn tcp4_to(dport: u16, data: &[u8]) -> Vec<u8> {
    packet::tcp_psh_ack(SRC_MAC, DST_MAC, *SRC.ip(), DST_IP, SRC.port(), dport, data)
        .unwrap_or_else(|e| panic!("a test packet of {} bytes: {e}", data.len()))
}

/// A frame's link-layer header and its network layer (what netfilter hands a hook).
pub fn split_frame(frame: &[u8]) -> (&[u8], &[u8]) {
    frame.split_at(ETH_HEADER_LEN.min(frame.len()))
}

/// What an IPv4/UDP packet carries: its endpoints and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp4<'a> {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub data: &'a [u8],
}

/// Reads an IPv4/UDP packet given from its network header on (as NFQUEUE hands it); `None`
/// for anything else or anything malformed.
pub fn udp4_of(ip: &[u8]) -> Option<Udp4<'_>> {
    let p = SlicedPacket::from_ip(ip).ok()?;
    let (Some(NetSlice::Ipv4(v4)), Some(TransportSlice::Udp(udp))) = (p.net, p.transport) else {
        return None;
    };
    let h = v4.header();
    Some(Udp4 {
        src: SocketAddrV4::new(h.source_addr(), udp.source_port()),
        dst: SocketAddrV4::new(h.destination_addr(), udp.destination_port()),
        data: udp.payload(),
    })
}

/// The IPv4/UDP packet `ip` (network header on) with other UDP data: the same endpoints,
/// built anew, so its lengths and checksums fit the new data. `None` when `ip` is not
/// IPv4/UDP.
pub fn udp4_with_data(ip: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let u = udp4_of(ip)?;
    let mut frame = udp4_frame(u.src, u.dst, data);
    Some(frame.split_off(ETH_HEADER_LEN))
}

/// Variations of a frame for differential tests: every `every`-th prefix of `p` from an
/// Ethernet header on (`BPF_PROG_TEST_RUN` refuses shorter XDP frames), `p` with every
/// `every`-th byte flipped, and `p` itself.
pub fn mutations(p: &[u8], every: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in (ETH_HEADER_LEN..p.len()).step_by(every.max(1)) {
        out.push(p[..n].to_vec());
    }
    for i in (0..p.len()).step_by(every.max(1)) {
        let mut q = p.to_vec();
        q[i] ^= 0xff;
        out.push(q);
    }
    out.push(p.to_vec());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_packet_reads_back_and_takes_new_data() {
        let frame = udp4_to(53, b"hello");
        let (link, ip) = split_frame(&frame);
        assert_eq!(link.len(), ETH_HEADER_LEN);
        assert_eq!(&link[12..], [0x08, 0x00], "IPv4 EtherType");
        let u = udp4_of(ip).expect("IPv4/UDP");
        assert_eq!((u.src, u.dst.to_string().as_str()), (SRC, "198.18.0.2:53"));
        assert_eq!(u.data, b"hello");
        let longer = udp4_with_data(ip, b"hello, world").unwrap();
        assert_eq!(longer.len(), ip.len() + 7);
        assert_eq!(udp4_of(&longer).unwrap().data, b"hello, world");
        assert_eq!(udp4_of(&ip[..20]), None, "truncated");
        let tcp = tcp4_to(80, b"x");
        assert_eq!(tcp[ETH_HEADER_LEN + 9], 6, "TCP");
        assert_eq!(udp4_of(split_frame(&tcp).1), None, "not UDP");
    }

    #[test]
    fn mutations_truncate_flip_and_keep_the_frame() {
        let p: Vec<u8> = (0..20).collect();
        let m = mutations(&p, 5);
        assert_eq!(m.first().map(Vec::len), Some(ETH_HEADER_LEN));
        assert_eq!(m.last(), Some(&p));
        assert!(m.iter().any(|q| q.len() == p.len() && q[5] == !5u8));
    }
}
