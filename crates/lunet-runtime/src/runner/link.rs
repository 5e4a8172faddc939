//! The link layer the Lua tier's hooks see: the Ethernet header NFQUEUE does not send,
//! rebuilt (`skb:data("mac")`, XDP hooks in the Lua tier), and the packet socket that sends
//! what hooks forward.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lunet_lua::{State, Stream};
use lunet_netfilter::{LinkSocket, QueuedPacket};

/// The link layer of the state's namespace, for the `mac` view and `skb:forward()`: opened
/// on the state's thread (so in its namespace) at the first packet.
#[derive(Default)]
pub(super) struct Link {
    sock: Option<Result<LinkSocket, String>>,
    /// Interfaces' own hardware addresses, looked up again after [`MAC_FRESH`].
    macs: HashMap<u32, Option<[u8; 6]>>,
    macs_at: Option<Instant>,
}

/// The longest link-layer header taken from the kernel (Ethernet with two VLAN tags is 22).
const MAX_L2: usize = 64;

/// How long an interface's hardware address is taken as known.
const MAC_FRESH: Duration = Duration::from_secs(1);

impl Link {
    pub(super) fn socket(&mut self) -> Result<&LinkSocket, &str> {
        self.sock
            .get_or_insert_with(|| LinkSocket::open().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The hardware address of interface `ifindex` in the state's namespace.
    fn mac(&mut self, ifindex: u32) -> Option<[u8; 6]> {
        let now = Instant::now();
        if self
            .macs_at
            .is_none_or(|t| now.duration_since(t) > MAC_FRESH)
        {
            self.macs.clear();
            self.macs_at = Some(now);
        }
        if let Some(m) = self.macs.get(&ifindex) {
            return *m;
        }
        let m = self.socket().ok().and_then(|s| s.hw_addr(ifindex));
        self.macs.insert(ifindex, m);
        m
    }

    /// The packet's Ethernet header, as far as the kernel tells it: the one it sent
    /// (`NFQA_L2HDR`, bridged packets), else rebuilt (see [`link_header`]); empty for a
    /// packet a local process sent (it has none yet).
    /// (In a buffer and its length: no allocation per packet.)
    pub(super) fn header(&mut self, pkt: &QueuedPacket) -> ([u8; MAX_L2], usize) {
        let mut out = [0u8; MAX_L2];
        if let Some(h) = pkt.l2_header().filter(|h| (14..=MAX_L2).contains(&h.len())) {
            out[..h.len()].copy_from_slice(h);
            return (out, h.len());
        }
        if pkt.indev() == 0 {
            return (out, 0);
        }
        let own = self.mac(pkt.indev());
        out[..14].copy_from_slice(&link_header(pkt, own));
        (out, 14)
    }

    /// Sends what the state's hooks forwarded; a failure is the script's to know (logged).
    pub(super) fn send(&mut self, state: &State) {
        let frames = state.take_forwarded();
        if frames.is_empty() {
            return;
        }
        let sock = match self.socket() {
            Ok(s) => s,
            Err(e) => {
                let e = format!("skb:forward: cannot open a packet socket: {e}");
                state.log().push(Stream::Error, e);
                return;
            }
        };
        for f in frames {
            if let Err(e) = sock.send(f.ifindex, &f.frame) {
                state.log().push(
                    Stream::Error,
                    format!(
                        "skb:forward: sending {} bytes out of interface {}: {e}",
                        f.frame.len(),
                        f.ifindex
                    ),
                );
            }
        }
    }
}

/// The Ethernet header of a received packet, rebuilt from what NFQUEUE tells: the source
/// address (`NFQA_HWADDR`), the EtherType, and the destination the packet must have had to
/// come this far: the group address of a multicast IP destination, the broadcast address
/// for 255.255.255.255, else the receiving interface's own address (`own`; zeros when
/// unknown).
fn link_header(pkt: &QueuedPacket, own: Option<[u8; 6]>) -> [u8; 14] {
    let mut h = [0u8; 14];
    let p = pkt.payload();
    let dst = match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 && p[16] >> 4 == 0xe => {
            Some([0x01, 0x00, 0x5e, p[17] & 0x7f, p[18], p[19]])
        }
        Some(4) if p.len() >= 20 && p[16..20] == [255; 4] => Some([0xff; 6]),
        Some(6) if p.len() >= 40 && p[24] == 0xff => Some([0x33, 0x33, p[36], p[37], p[38], p[39]]),
        _ => own,
    };
    if let Some(d) = dst {
        h[..6].copy_from_slice(&d);
    }
    if let Some(src) = pkt.hw_source() {
        h[6..12].copy_from_slice(&src);
    }
    let proto = match pkt.hw_protocol() {
        0 => match pkt.payload().first().map(|b| b >> 4) {
            Some(6) => 0x86dd,
            _ => 0x0800,
        },
        p => p,
    };
    h[12..14].copy_from_slice(&proto.to_be_bytes());
    h
}
