//! Internet checksums (RFC 1071) of packets held in bytes: the arithmetic the `checksum`
//! module, `d:checksum()`, `skb:checksum()` and the NFQUEUE verdict path share. No Lua here.

/// Ones-complement sum of `bytes` folded to 16 bits (not inverted).
pub(crate) fn sum(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u32) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

pub(crate) fn finish(acc: u32) -> u16 {
    !(sum(acc, &[]) as u16)
}

/// Why `checksum.transport` cannot checksum a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotChecksummable {
    #[error("malformed IPv4 header")]
    MalformedIpv4,
    #[error("not an IPv4 or IPv6 packet")]
    NotIp,
    #[error("truncated transport header")]
    Truncated,
    #[error("protocol {0} is neither TCP nor UDP (IPv6 extension headers are not walked)")]
    NotTcpOrUdp(u8),
}

/// The transport checksum of an IP packet held in `p`, and the offset of its checksum field.
pub(crate) fn transport_checksum(p: &[u8]) -> Result<(usize, u16), NotChecksummable> {
    let (proto, l4, pseudo) = match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => {
            let ihl = (p[0] & 0x0f) as usize * 4;
            let total = (u16::from_be_bytes([p[2], p[3]]) as usize).min(p.len());
            if ihl < 20 || total < ihl {
                return Err(NotChecksummable::MalformedIpv4);
            }
            let l4 = &p[ihl..total];
            let mut acc = sum(0, &p[12..20]);
            acc += p[9] as u32 + l4.len() as u32;
            (p[9], (ihl, l4), acc)
        }
        Some(6) if p.len() >= 40 => {
            let plen = (u16::from_be_bytes([p[4], p[5]]) as usize).min(p.len() - 40);
            let l4 = &p[40..40 + plen];
            let mut acc = sum(0, &p[8..40]);
            acc += p[6] as u32 + l4.len() as u32;
            (p[6], (40, l4), acc)
        }
        _ => return Err(NotChecksummable::NotIp),
    };
    let (start, l4) = l4;
    let field = match proto {
        6 if l4.len() >= 20 => 16,
        17 if l4.len() >= 8 => 6,
        6 | 17 => return Err(NotChecksummable::Truncated),
        other => return Err(NotChecksummable::NotTcpOrUdp(other)),
    };
    let mut acc = sum(pseudo, &l4[..field]);
    acc = sum(acc, &l4[field + 2..]);
    let mut c = finish(acc);
    if proto == 17 && c == 0 {
        c = 0xffff; // RFC 768: a computed zero is sent as all ones
    }
    Ok((start + field, c))
}

/// `d:checksum()` as Lunatik's: the folded, inverted ones-complement sum of `bytes` as a C
/// load of the 16-bit checksum field would read it (host byte order), so that
/// `d:setuint16(off, d:checksum(...))` stores it right.
pub(crate) fn folded_ne(bytes: &[u8]) -> u16 {
    u16::from_ne_bytes(finish(sum(0, bytes)).to_be_bytes())
}

/// Recomputes the IPv4 header checksum of `p` in place; false when `p` is no IPv4 header.
pub(crate) fn ipv4_header(p: &mut [u8]) -> bool {
    let ihl = p.first().map_or(0, |b| (b & 0x0f) as usize * 4);
    if p.first().map(|b| b >> 4) != Some(4) || ihl < 20 || p.len() < ihl {
        return false;
    }
    p[10..12].fill(0);
    let c = finish(sum(0, &p[..ihl]));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    true
}

/// `skb:checksum()`: the IPv4 header checksum (IPv4), then the TCP or UDP checksum (IPv4 or
/// IPv6 without extension headers), in place. Other packets are left as they are.
pub(crate) fn refresh_all(p: &mut [u8]) {
    ipv4_header(p);
    if let Ok((at, c)) = transport_checksum(p) {
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// Whether the TCP or UDP checksum of the IP packet `p` is right (a UDP checksum of 0 over
/// IPv4, "none", counts as right); `None` when `p` has no TCP or UDP checksum to check
/// (another protocol, a fragment after the first, a truncated header).
pub fn transport_verifies(p: &[u8]) -> Option<bool> {
    if is_later_fragment(p) {
        return None;
    }
    let (at, c) = transport_checksum(p).ok()?;
    let held = u16::from_be_bytes([p[at], p[at + 1]]);
    Some(held == c || (held == 0 && p[0] >> 4 == 4 && p[9] == 17))
}

/// Recomputes the TCP or UDP checksum of `p` in place (a UDP checksum of 0 over IPv4 stays
/// 0: "none"); returns whether it could.
pub fn refresh_transport(p: &mut [u8]) -> bool {
    if is_later_fragment(p) {
        return false;
    }
    match transport_checksum(p) {
        Ok((at, c)) => {
            let none = p[0] >> 4 == 4 && p[9] == 17 && p[at..at + 2] == [0, 0];
            if !none {
                p[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
            true
        }
        Err(_) => false,
    }
}

/// An IPv4 fragment other than the first (or any fragment: its transport checksum covers
/// bytes this packet does not hold).
fn is_later_fragment(p: &[u8]) -> bool {
    p.len() >= 20 && p[0] >> 4 == 4 && u16::from_be_bytes([p[6], p[7]]) & 0x3fff != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sums_to_the_published_value() {
        // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        assert_eq!(
            sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn a_correct_udp_checksum_verifies() {
        // IPv4 198.18.0.1 -> 198.18.0.2, UDP 1000 -> 53, payload "hi", as lunet-gen builds it
        // (with etherparse's checksum).
        let frame = lunet_testkit::packets::udp4_to(53, b"hi");
        let (_, built) = lunet_testkit::packets::split_frame(&frame);
        let mut p = built.to_vec();
        p[26..28].copy_from_slice(&[0xde, 0xad]); // whatever the field holds is not summed
        let (at, c) = transport_checksum(&p).unwrap();
        assert_eq!(at, 26);
        assert_eq!(&c.to_be_bytes(), &built[26..28], "the builder's checksum");
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
        // Summing the pseudo-header and the whole datagram, checksum included, gives all ones.
        let mut acc = sum(0, &p[12..20]) + 17 + 10;
        acc = sum(acc, &p[20..]);
        assert_eq!(acc, 0xffff);
    }
}
