//! Families, hooks and priorities with the kernel's (and Lunatik's `linux.nf`) numbers.

use crate::error::{Error, Result};
use serde::Serialize;
use std::fmt;

/// Protocol family of a hook (`nf.proto`). ARP, NETDEV and BRIDGE are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Family {
    /// `NFPROTO_INET` (1): IPv4 and IPv6.
    Inet,
    /// `NFPROTO_IPV4` (2).
    Ipv4,
    /// `NFPROTO_IPV6` (10).
    Ipv6,
}

impl Family {
    /// The kernel's `NFPROTO_*` number.
    pub const fn raw(self) -> u32 {
        match self {
            Family::Inet => 1,
            Family::Ipv4 => 2,
            Family::Ipv6 => 10,
        }
    }

    /// From `NFPROTO_*`; ARP (3), NETDEV (5), BRIDGE (7) and unknown numbers are errors.
    pub fn from_raw(v: u32) -> Result<Self> {
        match v {
            1 => Ok(Family::Inet),
            2 => Ok(Family::Ipv4),
            10 => Ok(Family::Ipv6),
            3 | 5 | 7 => Err(Error::Unsupported(format!(
                "family {} ({v}): lunet queues only INET (1), IPV4 (2) and IPV6 (10) packets to Lua",
                match v {
                    3 => "ARP",
                    5 => "NETDEV",
                    _ => "BRIDGE",
                }
            ))),
            0 => Err(Error::Unsupported("family UNSPEC (0): a hook needs INET, IPV4 or IPV6".into())),
            _ => Err(Error::Unsupported(format!("unknown family number {v}"))),
        }
    }

    /// `INET`, `IPV4`, `IPV6` (Lunatik's names).
    pub const fn name(self) -> &'static str {
        match self {
            Family::Inet => "INET",
            Family::Ipv4 => "IPV4",
            Family::Ipv6 => "IPV6",
        }
    }

    /// nft's family keyword: `inet`, `ip`, `ip6`.
    pub const fn nft(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Netfilter hook (`nf.inet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Hook {
    /// `NF_INET_PRE_ROUTING` (0).
    PreRouting,
    /// `NF_INET_LOCAL_IN` (1).
    LocalIn,
    /// `NF_INET_FORWARD` (2).
    Forward,
    /// `NF_INET_LOCAL_OUT` (3).
    LocalOut,
    /// `NF_INET_POST_ROUTING` (4).
    PostRouting,
}

impl Hook {
    /// All five, in kernel order.
    pub const ALL: [Hook; 5] = [
        Hook::PreRouting,
        Hook::LocalIn,
        Hook::Forward,
        Hook::LocalOut,
        Hook::PostRouting,
    ];

    /// The kernel's `NF_INET_*` number.
    pub const fn raw(self) -> u32 {
        self as u32
    }

    /// From `NF_INET_*` (0..=4); `NF_INET_INGRESS` (5) and others are errors.
    pub fn from_raw(v: u32) -> Result<Self> {
        Hook::ALL.get(v as usize).copied().ok_or_else(|| {
            Error::Unsupported(format!(
                "hook {v}: lunet hooks are PRE_ROUTING 0, LOCAL_IN 1, FORWARD 2, LOCAL_OUT 3, POST_ROUTING 4"
            ))
        })
    }

    /// `PRE_ROUTING`, `LOCAL_IN`, ... (Lunatik's names).
    pub const fn name(self) -> &'static str {
        match self {
            Hook::PreRouting => "PRE_ROUTING",
            Hook::LocalIn => "LOCAL_IN",
            Hook::Forward => "FORWARD",
            Hook::LocalOut => "LOCAL_OUT",
            Hook::PostRouting => "POST_ROUTING",
        }
    }

    /// The iptables built-in chain: `PREROUTING`, `INPUT`, `FORWARD`, `OUTPUT`, `POSTROUTING`.
    pub const fn iptables_chain(self) -> &'static str {
        match self {
            Hook::PreRouting => "PREROUTING",
            Hook::LocalIn => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::LocalOut => "OUTPUT",
            Hook::PostRouting => "POSTROUTING",
        }
    }

    /// nft's hook keyword: `prerouting`, `input`, ...
    pub const fn nft(self) -> &'static str {
        match self {
            Hook::PreRouting => "prerouting",
            Hook::LocalIn => "input",
            Hook::Forward => "forward",
            Hook::LocalOut => "output",
            Hook::PostRouting => "postrouting",
        }
    }

    /// Short form used in chain names: `PRE`, `IN`, `FWD`, `OUT`, `POST`.
    pub const fn abbr(self) -> &'static str {
        match self {
            Hook::PreRouting => "PRE",
            Hook::LocalIn => "IN",
            Hook::Forward => "FWD",
            Hook::LocalOut => "OUT",
            Hook::PostRouting => "POST",
        }
    }

    pub(crate) fn from_abbr(s: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.abbr() == s)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Hook priorities (`nf.ip.pri`, the kernel's `NF_IP_PRI_*`); lower runs first.
pub mod priority {
    /// `NF_IP_PRI_FIRST`.
    pub const FIRST: i32 = i32::MIN;
    /// `NF_IP_PRI_RAW_BEFORE_DEFRAG`.
    pub const RAW_BEFORE_DEFRAG: i32 = -450;
    /// `NF_IP_PRI_CONNTRACK_DEFRAG`.
    pub const CONNTRACK_DEFRAG: i32 = -400;
    /// `NF_IP_PRI_RAW`.
    pub const RAW: i32 = -300;
    /// `NF_IP_PRI_SELINUX_FIRST`.
    pub const SELINUX_FIRST: i32 = -225;
    /// `NF_IP_PRI_CONNTRACK`.
    pub const CONNTRACK: i32 = -200;
    /// `NF_IP_PRI_MANGLE`.
    pub const MANGLE: i32 = -150;
    /// `NF_IP_PRI_NAT_DST`.
    pub const NAT_DST: i32 = -100;
    /// `NF_IP_PRI_FILTER`.
    pub const FILTER: i32 = 0;
    /// `NF_IP_PRI_SECURITY`.
    pub const SECURITY: i32 = 50;
    /// `NF_IP_PRI_NAT_SRC`.
    pub const NAT_SRC: i32 = 100;
    /// `NF_IP_PRI_SELINUX_LAST`.
    pub const SELINUX_LAST: i32 = 225;
    /// `NF_IP_PRI_CONNTRACK_HELPER`.
    pub const CONNTRACK_HELPER: i32 = 300;
    /// `NF_IP_PRI_LAST`.
    pub const LAST: i32 = i32::MAX;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for f in [Family::Inet, Family::Ipv4, Family::Ipv6] {
            assert_eq!(Family::from_raw(f.raw()).unwrap(), f);
        }
        for h in Hook::ALL {
            assert_eq!(Hook::from_raw(h.raw()).unwrap(), h);
            assert_eq!(Hook::from_abbr(h.abbr()), Some(h));
        }
        assert_eq!(Hook::LocalOut.raw(), 3);
    }

    #[test]
    fn unsupported_values_say_why() {
        let e = Family::from_raw(3).unwrap_err().to_string();
        assert!(e.contains("ARP") && e.contains("IPV4"), "{e}");
        assert!(Family::from_raw(7)
            .unwrap_err()
            .to_string()
            .contains("BRIDGE"));
        assert!(Family::from_raw(5)
            .unwrap_err()
            .to_string()
            .contains("NETDEV"));
        assert!(Family::from_raw(42).is_err());
        assert!(Hook::from_raw(5)
            .unwrap_err()
            .to_string()
            .contains("POST_ROUTING 4"));
    }
}
