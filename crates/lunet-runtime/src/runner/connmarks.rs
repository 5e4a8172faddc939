//! `skb:connmark()` where the queue carries no conntrack information: the state's thread
//! asks ctnetlink itself.

use lunet_netfilter::{ConntrackSocket, Tuple};

/// `skb:connmark()` through ctnetlink, for queues the kernel gives no conntrack information
/// (see lunet-netfilter's `ConntrackSocket`): opened on the state's thread, so in its
/// namespace, at the first call.
#[derive(Default)]
pub(super) struct CtMarks {
    sock: Option<Option<ConntrackSocket>>,
}

impl CtMarks {
    fn socket(&mut self) -> Option<&mut ConntrackSocket> {
        self.sock
            .get_or_insert_with(|| match ConntrackSocket::open() {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("skb:connmark: cannot open a ctnetlink socket: {e}");
                    None
                }
            })
            .as_mut()
    }
}

impl lunet_lua::ConnMarks for CtMarks {
    fn get(&mut self, net: &[u8]) -> Option<u32> {
        let t = Tuple::of_packet(net)?;
        self.socket()?.mark(&t).unwrap_or_else(|e| {
            tracing::debug!("skb:connmark: conntrack lookup failed: {e}");
            None
        })
    }

    fn set(&mut self, net: &[u8], mark: u32) -> bool {
        let Some(t) = Tuple::of_packet(net) else {
            return false;
        };
        let Some(s) = self.socket() else { return false };
        s.set_mark(&t, mark).unwrap_or_else(|e| {
            tracing::debug!("skb:connmark: conntrack update failed: {e}");
            false
        })
    }
}
