//! Frames for running hooks on (all addresses in 198.18.0.0/15), and ways to vary them.

/// `BPF_PROG_TEST_RUN` refuses XDP frames shorter than an Ethernet header.
pub const MIN_FRAME: usize = 14;

/// Ethernet (`macs`: destination, source) and IPv4 (no options, TTL 64, fragment bits
/// `flags`) from 198.18.0.1 to 198.18.0.2, carrying `len` bytes of protocol `proto`.
fn eth_ipv4(macs: [[u8; 6]; 2], flags: u8, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(34 + len);
    p.extend_from_slice(&macs[0]);
    p.extend_from_slice(&macs[1]);
    p.extend_from_slice(&[0x08, 0x00]);
    let total = 20 + len;
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        flags,
        0,
        64,
        proto,
        0,
        0,
    ]);
    p.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    p
}

/// Ethernet + IPv4 + UDP to `dport` (from port 40000), 198.18.0.1 -> 198.18.0.2.
pub fn udp4(dport: u16, payload: &[u8]) -> Vec<u8> {
    let macs = [[2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]];
    let ulen = 8 + payload.len();
    let mut p = eth_ipv4(macs, 0, 17, ulen);
    p.extend_from_slice(&[0x9c, 0x40]);
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[(ulen >> 8) as u8, ulen as u8, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Ethernet (zero addresses) + IPv4 (don't fragment) + TCP (no options, PSH ACK) to `dport`
/// (from port 50000) with `payload`.
pub fn tcp4(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = eth_ipv4([[0; 6]; 2], 0x40, 6, 20 + payload.len());
    p.extend_from_slice(&[0xc3, 0x50]);
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// A DNS query for `name` (dotted) in wire format, id 0x1234, type A.
pub fn dns_query(name: &str) -> Vec<u8> {
    let mut d = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        d.push(label.len() as u8);
        d.extend_from_slice(label.as_bytes());
    }
    d.push(0);
    d.extend_from_slice(&[0, 1, 0, 1]);
    d
}

/// A TLS record holding a ClientHello with the extensions given (`(type, body)`), and a
/// server_name extension for `sni` after them when given.
pub fn client_hello(sni: Option<&str>, extra: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut exts: Vec<u8> = Vec::new();
    let mut push_ext = |t: u16, body: &[u8]| {
        exts.extend_from_slice(&t.to_be_bytes());
        exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
        exts.extend_from_slice(body);
    };
    for (t, b) in extra {
        push_ext(*t, b);
    }
    if let Some(name) = sni {
        let mut b = Vec::new();
        b.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        push_ext(0, &b);
    }
    let mut hello = vec![0x03, 0x03];
    hello.extend_from_slice(&[0xab; 32]);
    hello.push(32);
    hello.extend_from_slice(&[0xcd; 32]);
    hello.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
    hello.extend_from_slice(&[1, 0]);
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);
    let mut hs = vec![
        1,
        (hello.len() >> 16) as u8,
        (hello.len() >> 8) as u8,
        hello.len() as u8,
    ];
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// Every `every`-th prefix of `p` from [`MIN_FRAME`] bytes on (truncations), `p` with every
/// `every`-th byte flipped, and `p` itself.
pub fn mutations(p: &[u8], every: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in (MIN_FRAME..p.len()).step_by(every.max(1)) {
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
    fn udp_and_tcp_frames_have_their_lengths_and_ports_in_place() {
        let u = udp4(53, b"abc");
        assert_eq!(u.len(), 14 + 20 + 8 + 3);
        assert_eq!(u16::from_be_bytes([u[16], u[17]]) as usize, 20 + 8 + 3);
        assert_eq!((u[23], u16::from_be_bytes([u[36], u[37]])), (17, 53));
        assert_eq!(u16::from_be_bytes([u[38], u[39]]), 8 + 3);
        let t = tcp4(443, b"hello");
        assert_eq!(t.len(), 14 + 20 + 20 + 5);
        assert_eq!(u16::from_be_bytes([t[16], t[17]]) as usize, 20 + 20 + 5);
        assert_eq!(
            (t[20], t[23], u16::from_be_bytes([t[36], t[37]])),
            (0x40, 6, 443)
        );
    }

    #[test]
    fn mutations_truncate_flip_and_keep_the_frame() {
        let p: Vec<u8> = (0..20).collect();
        let m = mutations(&p, 5);
        assert_eq!(m.first().map(Vec::len), Some(MIN_FRAME));
        assert_eq!(m.last(), Some(&p));
        assert!(m.iter().any(|q| q.len() == p.len() && q[5] == !5u8));
    }
}
