//! Flow verdicts: `skb:flow(verdict [, seconds])` gives the verdict for the rest of the
//! packet's flow, so its later packets are judged in the kernel without waking Lua.
//!
//! Nothing here reaches the kernel: the verdict goes to the state's list, which its runner
//! empties after each hook call ([`take`]) into the state's flow map, a kernel LRU map that a
//! small program in front of the hook's queue reads. The key is what that program reads of
//! an IPv4 TCP or UDP packet: addresses, ports, protocol and the packet's mark (a hook only
//! sees packets of its own mark), as they stand in the packet; the value the verdict and
//! when it ends on the kernel's monotonic clock (`bpf_ktime_get_ns`, `CLOCK_MONOTONIC`).

use mlua::Lua;

use crate::data::Slot;
use crate::error::located;

/// Bytes of a flow key: saddr, daddr (4 each), sport, dport (2 each), protocol, three zero
/// bytes, mark (4, host order).
pub const KEY_LEN: usize = 20;
/// Bytes of a flow value: the verdict (4, host order), four zero bytes, the end (8, ns).
pub const VALUE_LEN: usize = 16;
/// Seconds a flow verdict lasts unless the hook says: a minute.
pub const DEFAULT_SECONDS: i64 = 60;
/// The longest a flow verdict may last: a day.
pub const MAX_SECONDS: i64 = 86_400;
/// Flow verdicts one state may leave for its runner between two hook calls.
const MAX_PENDING: usize = 256;

/// A verdict for a flow, as the runner writes it into the flow map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowVerdict {
    pub key: [u8; KEY_LEN],
    /// `nf.action.DROP` or `ACCEPT`.
    pub verdict: u32,
    pub seconds: u32,
}

impl FlowVerdict {
    /// The map value, ending `seconds` after `now_ns` on the monotonic clock.
    pub fn value(&self, now_ns: u64) -> [u8; VALUE_LEN] {
        let mut v = [0u8; VALUE_LEN];
        v[..4].copy_from_slice(&self.verdict.to_ne_bytes());
        let end = now_ns.saturating_add(self.seconds as u64 * 1_000_000_000);
        v[8..].copy_from_slice(&end.to_ne_bytes());
        v
    }
}

#[derive(Default)]
struct Pending(Vec<FlowVerdict>);

/// Takes the flow verdicts hook calls gave since the last time.
pub fn take(lua: &Lua) -> Vec<FlowVerdict> {
    lua.app_data_mut::<Pending>()
        .map(|mut p| std::mem::take(&mut p.0))
        .unwrap_or_default()
}

/// The key of an IPv4 TCP or UDP packet `net` (from its network header) with `mark`, or why
/// it has none.
pub fn key_of(net: &[u8], mark: u32) -> Result<[u8; KEY_LEN], String> {
    if net.len() < 20 || net[0] >> 4 != 4 {
        return Err("only IPv4 flows have flow verdicts".into());
    }
    let ihl = (net[0] & 0x0f) as usize * 4;
    let proto = net[9];
    if proto != 6 && proto != 17 {
        return Err(format!(
            "only TCP and UDP flows have flow verdicts (this packet is protocol {proto})"
        ));
    }
    if u16::from_be_bytes([net[6], net[7]]) & 0x1fff != 0 {
        return Err("a fragment after the first has no ports".into());
    }
    if ihl < 20 || net.len() < ihl + 4 {
        return Err("the packet is too short for its ports".into());
    }
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&net[12..20]);
    k[8..12].copy_from_slice(&net[ihl..ihl + 4]);
    k[12] = proto;
    k[16..].copy_from_slice(&mark.to_ne_bytes());
    Ok(k)
}

/// `skb:flow(verdict [, seconds])`.
pub(crate) fn flow(
    lua: &Lua,
    slot: &Slot,
    verdict: i64,
    seconds: Option<i64>,
) -> mlua::Result<bool> {
    use lunet_types::nf::action::{ACCEPT, DROP};
    let verdict = match u32::try_from(verdict) {
        Ok(v) if v == DROP || v == ACCEPT => v,
        _ => {
            return Err(located(
                lua,
                format!(
                "skb:flow: a flow's verdict is nf.action.DROP or nf.action.ACCEPT, not {verdict}"
            ),
            ))
        }
    };
    let seconds = seconds.unwrap_or(DEFAULT_SECONDS);
    if !(1..=MAX_SECONDS).contains(&seconds) {
        return Err(located(
            lua,
            format!("skb:flow: {seconds} s: a flow verdict lasts 1 to {MAX_SECONDS} seconds"),
        ));
    }
    if !slot.is_live() {
        return Err(located(lua, crate::data::Fault::Retired));
    }
    let (_, body) = slot.bytes();
    let key =
        key_of(&body, slot.meta().mark).map_err(|e| located(lua, format!("skb:flow: {e}")))?;
    let mut pending = match lua.app_data_mut::<Pending>() {
        Some(p) => p,
        None => {
            lua.set_app_data(Pending::default());
            lua.app_data_mut::<Pending>()
                .ok_or_else(|| mlua::Error::runtime("the flow list is gone"))?
        }
    };
    if pending.0.len() >= MAX_PENDING {
        return Err(located(
            lua,
            format!("skb:flow: {MAX_PENDING} flow verdicts already wait to be written"),
        ));
    }
    pending.0.push(FlowVerdict {
        key,
        verdict,
        seconds: seconds as u32,
    });
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_udp_packet_s_key_holds_its_addresses_ports_protocol_and_mark() {
        let frame = lunet_testkit::packets::udp4_to(53, b"q");
        let (_, net) = lunet_testkit::packets::split_frame(&frame);
        let k = key_of(net, 7).unwrap();
        assert_eq!(&k[..8], &net[12..20]);
        assert_eq!(u16::from_be_bytes([k[10], k[11]]), 53);
        assert_eq!(k[12], 17);
        assert_eq!(u32::from_ne_bytes(k[16..].try_into().unwrap()), 7);
        let mut icmp = net.to_vec();
        icmp[9] = 1;
        assert!(key_of(&icmp, 0).unwrap_err().contains("protocol 1"));
        assert!(key_of(&net[..10], 0).is_err());
    }

    #[test]
    fn the_value_ends_its_seconds_after_now() {
        let f = FlowVerdict {
            key: [0; KEY_LEN],
            verdict: 0,
            seconds: 2,
        };
        let v = f.value(1_000);
        assert_eq!(
            u64::from_ne_bytes(v[8..].try_into().unwrap()),
            2_000_001_000
        );
    }
}
