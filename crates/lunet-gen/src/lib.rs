//! lunet-gen: packet builders and the traffic generator.
//!
//! - [`packet`]: complete Ethernet frames (UDP, a DNS query, a TLS ClientHello with SNI),
//!   built with etherparse, deterministic.
//! - [`live`]: [`LiveGen`] sends frames out of a veth with `BPF_PROG_TEST_RUN` in live-frames
//!   mode, bounded in time and count, optionally rate-limited; [`Anchor`] keeps a program
//!   attached in a private namespace so timed test runs skip the XDP dispatcher update.
//! - [`socket`]: [`SocketGen`] sends the same frames through an `AF_PACKET` socket, for
//!   kernels that refuse live frames.
//! - [`generator`]: [`Generator`] picks the first of the two this kernel allows.

pub mod generator;
pub mod live;
pub mod packet;
pub mod socket;

pub use generator::Generator;
pub use live::{attach_drop, attach_pass, Anchor, GenStats, Limit, LiveGen};
pub use packet::{Mac, PacketError};
pub use socket::SocketGen;
