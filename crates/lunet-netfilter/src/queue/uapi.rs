//! The numbers and byte layout of nfnetlink_queue messages, from the kernel's UAPI headers
//! `linux/netlink.h`, `linux/netfilter/nfnetlink.h` and `linux/netfilter/nfnetlink_queue.h`.
//!
//! Netlink headers (`nlmsghdr`, `nlattr`) are in host byte order; the nfnetlink_queue values
//! inside the attributes (ids, marks, ifindexes, lengths, the queue number) in network order.

/// `struct nlmsghdr`: len, type, flags, seq, pid.
pub const NLMSG_HDRLEN: usize = 16;
/// `struct nfgenmsg`: family, version, res_id (the queue number, big-endian).
pub(super) const NFGENMSG_LEN: usize = 4;
/// `struct nlattr`: len, type.
pub(super) const NLA_HDRLEN: usize = 4;
/// The attribute type without `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`.
pub(super) const NLA_TYPE_MASK: u16 = 0x3fff;

pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLM_F_REQUEST: u16 = 0x1;
pub(super) const NLM_F_ACK: u16 = 0x4;

pub(super) const NFNL_SUBSYS_QUEUE: u16 = 3;
pub(super) const NFNETLINK_V0: u8 = 0;

/// `enum nfqnl_msg_types`.
pub(super) const NFQNL_MSG_PACKET: u16 = 0;
pub(super) const NFQNL_MSG_VERDICT: u16 = 1;
pub(super) const NFQNL_MSG_CONFIG: u16 = 2;
pub(super) const NFQNL_MSG_VERDICT_BATCH: u16 = 3;

/// `enum nfqnl_attr_type` (the ones lunet reads or writes).
pub(super) const NFQA_PACKET_HDR: u16 = 1;
pub(super) const NFQA_VERDICT_HDR: u16 = 2;
pub(super) const NFQA_MARK: u16 = 3;
pub(super) const NFQA_IFINDEX_INDEV: u16 = 5;
pub(super) const NFQA_IFINDEX_OUTDEV: u16 = 6;
pub(super) const NFQA_HWADDR: u16 = 9;
pub(super) const NFQA_PAYLOAD: u16 = 10;
pub(super) const NFQA_CT: u16 = 11;
pub(super) const NFQA_CAP_LEN: u16 = 13;
pub(super) const NFQA_SKB_INFO: u16 = 14;
pub(super) const NFQA_VLAN: u16 = 19;
pub(super) const NFQA_L2HDR: u16 = 20;
/// `enum nfqnl_vlan_attr`: `NFQA_VLAN_TCI` (be16) inside `NFQA_VLAN`.
pub(super) const NFQA_VLAN_TCI: u16 = 2;
/// `enum ctattr_type`: `CTA_MARK` (be32) inside `NFQA_CT`.
pub(super) const CTA_MARK: u16 = 8;
/// `NLA_F_NESTED`.
pub(super) const NLA_F_NESTED: u16 = 0x8000;

/// `enum nfqnl_attr_config`.
pub(super) const NFQA_CFG_CMD: u16 = 1;
pub(super) const NFQA_CFG_PARAMS: u16 = 2;
pub(super) const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
pub(super) const NFQA_CFG_MASK: u16 = 4;
pub(super) const NFQA_CFG_FLAGS: u16 = 5;

/// `NFQNL_CFG_CMD_BIND`.
pub(super) const NFQNL_CFG_CMD_BIND: u8 = 1;
/// `NFQNL_COPY_PACKET`.
pub(super) const NFQNL_COPY_PACKET: u8 = 2;
/// `NFQA_CFG_F_FAIL_OPEN`: a full queue accepts packets instead of dropping them.
pub const NFQA_CFG_F_FAIL_OPEN: u32 = 1 << 0;
/// `NFQA_CFG_F_CONNTRACK`: packets come with their conntrack entry (`NFQA_CT`), and a
/// verdict may change it (its mark).
pub const NFQA_CFG_F_CONNTRACK: u32 = 1 << 1;

/// Longest payload a verdict can carry: an attribute's length is a `u16` that counts its
/// 4-byte header (the kernel's `NFQNL_MAX_COPY_RANGE` is the same number).
pub const MAX_PAYLOAD: usize = 0xffff - NLA_HDRLEN;

/// The `nlmsg_type` of an nfnetlink_queue message.
pub(super) const fn nfq_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_QUEUE << 8) | msg
}

pub(super) const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

pub(super) fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

pub(super) fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(super) fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}
