//! Netfilter: protocol families, hooks, priorities and verdicts, with the kernel's numbers
//! (`include/uapi/linux/netfilter.h`) and Lunatik's names (`linux.nf`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A family or hook number lunet does not hook, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NfError {
    #[error("family {name} ({value}): lunet hooks only INET (1), IPV4 (2) and IPV6 (10) packets")]
    UnsupportedFamily { name: &'static str, value: u32 },
    #[error("family UNSPEC (0): a hook needs INET, IPV4 or IPV6")]
    Unspec,
    #[error("{0} is not a netfilter family")]
    UnknownFamily(u32),
    #[error(
        "hook {0}: lunet hooks are PRE_ROUTING 0, LOCAL_IN 1, FORWARD 2, LOCAL_OUT 3, POST_ROUTING 4"
    )]
    UnknownHook(u32),
}

/// `linux.nf.proto`: every family name the kernel has, hooked by lunet or not.
pub const PROTO: &[(&str, i64)] = &[
    ("UNSPEC", 0),
    ("INET", 1),
    ("IPV4", 2),
    ("ARP", 3),
    ("NETDEV", 5),
    ("BRIDGE", 7),
    ("IPV6", 10),
];

/// The name of a family number, if it has one.
pub fn proto_name(value: i64) -> Option<&'static str> {
    PROTO.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

/// The protocol family of a hook lunet attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    pub fn from_raw(v: u32) -> Result<Self, NfError> {
        match v {
            1 => Ok(Family::Inet),
            2 => Ok(Family::Ipv4),
            10 => Ok(Family::Ipv6),
            0 => Err(NfError::Unspec),
            _ => match proto_name(v as i64) {
                Some(name) => Err(NfError::UnsupportedFamily { name, value: v }),
                None => Err(NfError::UnknownFamily(v)),
            },
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

/// A netfilter hook (`linux.nf.inet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    pub fn from_raw(v: u32) -> Result<Self, NfError> {
        Hook::ALL
            .get(v as usize)
            .copied()
            .ok_or(NfError::UnknownHook(v))
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

    /// The hook whose [`Hook::abbr`] is `s`.
    pub fn from_abbr(s: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.abbr() == s)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Hook priorities (`linux.nf.ip.pri`, the kernel's `NF_IP_PRI_*`); lower runs first.
pub mod priority {
    pub const FIRST: i32 = i32::MIN;
    pub const RAW_BEFORE_DEFRAG: i32 = -450;
    pub const CONNTRACK_DEFRAG: i32 = -400;
    pub const RAW: i32 = -300;
    pub const SELINUX_FIRST: i32 = -225;
    pub const CONNTRACK: i32 = -200;
    pub const MANGLE: i32 = -150;
    pub const NAT_DST: i32 = -100;
    pub const FILTER: i32 = 0;
    pub const SECURITY: i32 = 50;
    pub const NAT_SRC: i32 = 100;
    pub const SELINUX_LAST: i32 = 225;
    pub const CONNTRACK_HELPER: i32 = 300;
    pub const LAST: i32 = i32::MAX;

    /// Every priority by Lunatik's name, in order.
    pub const ALL: &[(&str, i32)] = &[
        ("FIRST", FIRST),
        ("RAW_BEFORE_DEFRAG", RAW_BEFORE_DEFRAG),
        ("CONNTRACK_DEFRAG", CONNTRACK_DEFRAG),
        ("RAW", RAW),
        ("SELINUX_FIRST", SELINUX_FIRST),
        ("CONNTRACK", CONNTRACK),
        ("MANGLE", MANGLE),
        ("NAT_DST", NAT_DST),
        ("FILTER", FILTER),
        ("SECURITY", SECURITY),
        ("NAT_SRC", NAT_SRC),
        ("SELINUX_LAST", SELINUX_LAST),
        ("CONNTRACK_HELPER", CONNTRACK_HELPER),
        ("LAST", LAST),
    ];
}

/// Netfilter verdicts (`linux.nf.action`, the kernel's `NF_*`).
pub mod action {
    pub const DROP: u32 = 0;
    pub const ACCEPT: u32 = 1;
    pub const STOLEN: u32 = 2;
    pub const QUEUE: u32 = 3;
    pub const REPEAT: u32 = 4;
    pub const STOP: u32 = 5;

    /// The names, indexed by value.
    pub const NAMES: &[&str] = &["DROP", "ACCEPT", "STOLEN", "QUEUE", "REPEAT", "STOP"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for f in [Family::Inet, Family::Ipv4, Family::Ipv6] {
            assert_eq!(Family::from_raw(f.raw()).unwrap(), f);
            assert_eq!(proto_name(f.raw() as i64), Some(f.name()));
        }
        for h in Hook::ALL {
            assert_eq!(Hook::from_raw(h.raw()).unwrap(), h);
            assert_eq!(Hook::from_abbr(h.abbr()), Some(h));
        }
        assert_eq!(Hook::LocalOut.raw(), 3);
        assert_eq!(action::NAMES[action::ACCEPT as usize], "ACCEPT");
        assert_eq!(action::NAMES[action::STOP as usize], "STOP");
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
        assert_eq!(Family::from_raw(0), Err(NfError::Unspec));
        assert_eq!(Family::from_raw(42), Err(NfError::UnknownFamily(42)));
        assert!(Hook::from_raw(5)
            .unwrap_err()
            .to_string()
            .contains("POST_ROUTING 4"));
    }
}
