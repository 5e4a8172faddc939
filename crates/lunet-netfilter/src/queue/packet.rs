//! What the queue hands out and takes back: a [`QueuedPacket`], which owns its payload, and
//! the [`Verdict`] it gets.

use std::fmt;

use super::read::PacketMsg;
use lunet_types::nf::{action, Hook};

/// What happens to a queued packet. The kernel's `NF_STOLEN` is refused from userspace: map it
/// to [`Verdict::Drop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `NF_DROP` (0).
    Drop,
    /// `NF_ACCEPT` (1): continue with the next hook function (the next priority).
    Accept,
    /// `NF_REPEAT` (4): run the same hook function (the whole iptables table, or the nft
    /// chain) again; with a new mark the packet then no longer matches a `--mark` rule.
    Repeat,
    /// `NF_STOP` (5): accept and skip the remaining hook functions of this hook.
    Stop,
}

impl Verdict {
    /// The kernel's `NF_*` number.
    pub const fn raw(self) -> u32 {
        match self {
            Verdict::Drop => action::DROP,
            Verdict::Accept => action::ACCEPT,
            Verdict::Repeat => action::REPEAT,
            Verdict::Stop => action::STOP,
        }
    }

    /// From `NF_*`; `NF_STOLEN` (2), `NF_QUEUE` (3) and unknown numbers give `None`.
    pub const fn from_raw(v: u32) -> Option<Verdict> {
        match v {
            action::DROP => Some(Verdict::Drop),
            action::ACCEPT => Some(Verdict::Accept),
            action::REPEAT => Some(Verdict::Repeat),
            action::STOP => Some(Verdict::Stop),
            _ => None,
        }
    }
}

/// A packet waiting for its verdict. Give it back with
/// [`QueueSocket::verdict`](super::QueueSocket::verdict) or
/// [`QueueSocket::push_verdict`](super::QueueSocket::push_verdict); dropping it without a
/// verdict leaves the kernel holding it until the socket closes (then it is dropped), and
/// keeps later verdicts of the socket from being sent as batch messages.
pub struct QueuedPacket {
    payload: Vec<u8>,
    id: u32,
    mark: u32,
    indev: u32,
    outdev: u32,
    original_len: u32,
    queue: u16,
    hw_protocol: u16,
    hook: u8,
    hw_len: u8,
    hw_addr: [u8; 8],
    connmark: Option<u32>,
    vlan_tci: Option<u16>,
    l2hdr: Option<Vec<u8>>,
    skb_info: u32,
}

impl QueuedPacket {
    pub(super) fn from_msg(m: &PacketMsg<'_>) -> QueuedPacket {
        let (hw_len, hw_addr) = m.hw_addr.unwrap_or_default();
        QueuedPacket {
            payload: m.payload.to_vec(),
            id: m.id,
            mark: m.mark,
            indev: m.indev,
            outdev: m.outdev,
            original_len: m.cap_len.unwrap_or(m.payload.len() as u32),
            queue: m.queue,
            hw_protocol: m.hw_protocol,
            hook: m.hook,
            hw_len,
            hw_addr,
            connmark: m.ct_mark,
            vlan_tci: m.vlan_tci,
            l2hdr: m.l2hdr.map(<[u8]>::to_vec),
            skb_info: m.skb_info,
        }
    }

    /// The connection's conntrack mark, when the packet has a conntrack entry (and the queue
    /// was bound with conntrack information, see [`QueueSocket::conntrack`](super::QueueSocket::conntrack)).
    pub fn connmark(&self) -> Option<u32> {
        self.connmark
    }

    /// The VLAN id (the low 12 bits of the tag) the kernel reported with the packet: it
    /// does for bridged packets; for routed ones the tag is gone by the time netfilter sees
    /// them (a VLAN device took it off), so there is none.
    pub fn vlan(&self) -> Option<u16> {
        self.vlan_tci.map(|t| t & 0x0fff)
    }

    /// The whole link-layer header, when the kernel sent it (`NFQA_L2HDR`: bridged packets).
    pub fn l2_header(&self) -> Option<&[u8]> {
        self.l2hdr.as_deref()
    }

    /// `NFQA_SKB_INFO`'s flags (0 when the kernel sent none).
    pub fn skb_info(&self) -> u32 {
        self.skb_info
    }

    /// The packet from the network header on (IPv4 or IPv6), up to the copy range (64 KiB).
    /// Checksums in it are complete: the kernel resolves offloaded (partial) checksums before
    /// queueing, also for locally generated packets at LOCAL_OUT. Empty after
    /// [`take_payload`](Self::take_payload).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Moves the payload out (no copy), leaving it empty; the verdict does not need it.
    pub fn take_payload(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.payload)
    }

    /// Length of the packet before any truncation to the copy range.
    pub fn original_len(&self) -> usize {
        self.original_len as usize
    }

    /// The packet mark (`skb->mark`).
    pub fn mark(&self) -> u32 {
        self.mark
    }

    /// ifindex the packet came in on (0 for locally generated packets).
    pub fn indev(&self) -> u32 {
        self.indev
    }

    /// ifindex the packet goes out on (0 before routing, e.g. at PRE_ROUTING and LOCAL_IN).
    pub fn outdev(&self) -> u32 {
        self.outdev
    }

    /// The link-layer source address the kernel sent, if any (its length is the device's).
    pub fn hw_addr(&self) -> Option<&[u8]> {
        (self.hw_len > 0).then(|| &self.hw_addr[..usize::from(self.hw_len)])
    }

    /// Link-layer source address when the kernel sent one of 6 bytes (Ethernet), e.g. at
    /// PRE_ROUTING / LOCAL_IN; `None` for locally generated packets.
    pub fn hw_source(&self) -> Option<[u8; 6]> {
        self.hw_addr().and_then(|a| <[u8; 6]>::try_from(a).ok())
    }

    /// Link-layer protocol (the EtherType, e.g. 0x0800 for IPv4).
    pub fn hw_protocol(&self) -> u16 {
        self.hw_protocol
    }

    /// The kernel's hook number (`NF_INET_*`).
    pub fn hook_raw(&self) -> u8 {
        self.hook
    }

    /// The hook, when it is one of the five inet hooks.
    pub fn hook(&self) -> Option<Hook> {
        Hook::from_raw(u32::from(self.hook_raw())).ok()
    }

    /// The kernel's id for this packet in its queue.
    pub fn packet_id(&self) -> u32 {
        self.id
    }

    /// The queue number it came from.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl fmt::Debug for QueuedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedPacket")
            .field("queue", &self.queue())
            .field("id", &self.packet_id())
            .field("hook", &self.hook_raw())
            .field("mark", &self.mark())
            .field("indev", &self.indev())
            .field("outdev", &self.outdev())
            .field("hw_protocol", &format_args!("{:#06x}", self.hw_protocol()))
            .field("len", &self.payload().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_numbers() {
        for v in [
            Verdict::Drop,
            Verdict::Accept,
            Verdict::Repeat,
            Verdict::Stop,
        ] {
            assert_eq!(Verdict::from_raw(v.raw()), Some(v));
        }
        assert_eq!(Verdict::from_raw(2), None, "NF_STOLEN");
        assert_eq!(Verdict::from_raw(3), None, "NF_QUEUE");
    }

    #[test]
    fn a_packet_owns_its_payload_and_hands_it_on() {
        let payload = [0x45u8, 0, 0, 20];
        let m = PacketMsg {
            queue: 3,
            id: 9,
            hw_protocol: 0x0800,
            hook: 1,
            mark: 5,
            indev: 2,
            outdev: 0,
            hw_addr: Some((6, [1, 2, 3, 4, 5, 6, 0, 0])),
            payload: &payload,
            cap_len: None,
            ..PacketMsg::default()
        };
        let mut p = QueuedPacket::from_msg(&m);
        assert_eq!(p.payload(), payload);
        assert_eq!(p.original_len(), 4);
        assert_eq!(p.hw_source(), Some([1, 2, 3, 4, 5, 6]));
        assert_eq!(p.hook(), Some(Hook::LocalIn));
        assert_eq!((p.queue(), p.packet_id(), p.mark()), (3, 9, 5));
        assert_eq!(p.take_payload(), payload);
        assert!(p.payload().is_empty());
        assert_eq!(p.original_len(), 4);
        let m = PacketMsg {
            hw_addr: Some((8, [0; 8])),
            cap_len: Some(9000),
            ..m
        };
        let p = QueuedPacket::from_msg(&m);
        assert_eq!(
            (p.hw_source(), p.hw_addr().map(<[u8]>::len)),
            (None, Some(8))
        );
        assert_eq!(p.original_len(), 9000);
    }
}
