//! The kernel's own constants, as Lunatik's `linux.nf` and `linux.xdp` name them.
//!
//! One table is the source for both the Lua modules and the names lunet prints in
//! `stats`/`replay` output, so a verdict is always called what the script calls it.

/// `linux.nf.proto` (netfilter protocol families).
pub const NF_PROTO: &[(&str, i64)] = &[
    ("UNSPEC", 0),
    ("INET", 1),
    ("IPV4", 2),
    ("ARP", 3),
    ("NETDEV", 5),
    ("BRIDGE", 7),
    ("IPV6", 10),
];

/// `linux.nf.action` (netfilter verdicts), indexed by value.
pub const NF_ACTION: &[&str] = &["DROP", "ACCEPT", "STOLEN", "QUEUE", "REPEAT", "STOP"];

/// `linux.nf.inet` (hook numbers), indexed by value.
pub const NF_INET: &[&str] = &[
    "PRE_ROUTING",
    "LOCAL_IN",
    "FORWARD",
    "LOCAL_OUT",
    "POST_ROUTING",
];

/// `linux.nf.ip.pri` (hook priorities).
pub const NF_IP_PRI: &[(&str, i64)] = &[
    ("FIRST", i32::MIN as i64),
    ("RAW_BEFORE_DEFRAG", -450),
    ("CONNTRACK_DEFRAG", -400),
    ("RAW", -300),
    ("SELINUX_FIRST", -225),
    ("CONNTRACK", -200),
    ("MANGLE", -150),
    ("NAT_DST", -100),
    ("FILTER", 0),
    ("SECURITY", 50),
    ("NAT_SRC", 100),
    ("SELINUX_LAST", 225),
    ("CONNTRACK_HELPER", 300),
    ("LAST", i32::MAX as i64),
];

/// `linux.xdp` (XDP actions), indexed by value.
pub const XDP_ACTION: &[&str] = &["ABORTED", "DROP", "PASS", "TX", "REDIRECT"];

pub const NF_DROP: u32 = 0;
pub const NF_ACCEPT: u32 = 1;
pub const XDP_PASS: u32 = 2;

/// The name of a netfilter family value, if it has one.
pub fn proto_name(value: i64) -> Option<&'static str> {
    NF_PROTO.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

/// The name of hook number `value`, if it is one.
pub fn hook_name(value: i64) -> Option<&'static str> {
    usize::try_from(value)
        .ok()
        .and_then(|i| NF_INET.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_the_kernel_uapi() {
        // include/uapi/linux/netfilter.h and bpf.h: a typo here would silently mis-route hooks.
        assert_eq!(NF_ACTION[1], "ACCEPT");
        assert_eq!(NF_ACTION[5], "STOP");
        assert_eq!(NF_INET[3], "LOCAL_OUT");
        assert_eq!(XDP_ACTION[XDP_PASS as usize], "PASS");
        assert_eq!(proto_name(10), Some("IPV6"));
        assert_eq!(hook_name(5), None);
    }
}
