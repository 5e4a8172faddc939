//! The netfilter rules that feed lunet's Lua hooks through NFQUEUE, and the queue socket.
//!
//! A Lua hook is a [`QueueRule`]: family, hook, priority (Lunatik's `nf.proto`, `nf.inet`,
//! `nf.ip.pri` values), the packet mark it applies to, and the queue its daemon reads.
//! [`install`] turns the rules of one *state* (a loaded script) into real rules with one of two
//! [`Backend`]s:
//!
//! * **nft**: a base chain in table `lunet` per (family, hook, priority) with
//!   `meta mark M queue num Q bypass`. Exact priorities, but needs the kernel's nft `queue`
//!   expression (`CONFIG_NFT_QUEUE`), which [`Backend::detect`] probes for.
//! * **iptables**: a chain `LUNET-<state>-<HOOK>` per (table, built-in chain), jumped to from
//!   the built-in chain, with `-m mark --mark M -j NFQUEUE --queue-num Q --queue-bypass`. The
//!   table is the one whose hook priority is closest to the requested priority (see
//!   [`iptables_table_for`]); the returned [`Placement`]s say where each rule went.
//!
//! Everything here runs commands (`iptables`, `ip6tables`, `nft`) or opens netlink sockets on
//! the **calling thread**, so it acts in the calling thread's network namespace: enter the
//! namespace first (e.g. with `lunet_netns::in_netns`).
//!
//! [`QueueSocket`] receives the queued packets and sends verdicts (lunet's own nfnetlink_queue
//! client: batched receives, batched verdicts, a descriptor to `poll(2)`).

mod backend;
mod cmd;
mod error;
mod iptables;
mod link;
mod nft;
mod placement;
mod queue;
mod state;

pub use backend::{
    cleanup_stale, install, list_lunet_rules, queued_packets, remove_state, Backend, Installed,
};
pub use error::{Error, Result};
pub use iptables::{
    iptables_chain_name, iptables_table_for, IptablesTable, IptablesVariant, IPTABLES_TABLES,
};
pub use link::LinkSocket;
pub use lunet_types::nf::{priority, Family, Hook};
pub use nft::{nft_chain_name, nft_queue_support, NoNftQueue, NFT_TABLE};
pub use placement::{IfName, Placement, QueueRule};
pub use queue::{
    kernel_queue_stats, ConntrackSocket, KernelQueueStats, Poller, QueueSocket, QueueStats,
    QueuedPacket, Tuple, Verdict, MAX_PAYLOAD, QUEUE_MAX_LEN, RECV_BATCH,
};
pub use state::validate_state;
