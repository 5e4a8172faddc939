//! The addresses lunet's test traffic may use: 198.18.0.0/15 (RFC 2544 benchmarking) and
//! loopback, nothing else.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

/// True for 198.18.0.0/15 and loopback (127.0.0.0/8, ::1).
pub fn is_test_addr(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_bench_v4(v4) || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

pub(crate) fn is_bench_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 198 && (o[1] & 0xfe) == 18
}

/// `Err(InvalidInput)` unless [`is_test_addr`] holds.
pub fn check_test_addr(ip: IpAddr) -> io::Result<()> {
    if is_test_addr(ip) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {ip} is outside 198.18.0.0/15 and loopback; lunet test traffic may not use it"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_range() {
        assert!(is_test_addr("198.18.0.1".parse().unwrap()));
        assert!(is_test_addr("198.19.255.255".parse().unwrap()));
        assert!(is_test_addr("127.0.0.1".parse().unwrap()));
        assert!(is_test_addr("::1".parse().unwrap()));
        assert!(!is_test_addr("198.20.0.1".parse().unwrap()));
        assert!(!is_test_addr("198.17.255.255".parse().unwrap()));
        assert!(!is_test_addr("10.0.0.1".parse().unwrap()));
        assert!(!is_test_addr("fe80::1".parse().unwrap()));
        assert!(check_test_addr("8.8.8.8".parse().unwrap()).is_err());
    }
}
