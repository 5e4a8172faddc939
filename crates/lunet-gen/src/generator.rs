//! The generator a sender gets: live frames where the kernel allows them, else a packet
//! socket. Both send the same frames out of the sender's veth; only their speed differs, and
//! [`Generator::method`] names the one in use so a report can say it.

use std::io;

use crate::live::{GenStats, Limit, LiveGen};
use crate::socket::SocketGen;

#[derive(Debug)]
pub enum Generator {
    /// `XDP_TX` with `BPF_F_TEST_XDP_LIVE_FRAMES` ([`crate::live`]).
    Live(LiveGen),
    /// `sendmmsg(2)` on an `AF_PACKET` socket ([`crate::socket`]).
    Socket(SocketGen),
}

impl Generator {
    /// The fastest generator this kernel allows for frames leaving `ifindex`. Must be called
    /// on a thread in the sender's network namespace.
    pub fn new(ifindex: u32) -> io::Result<Generator> {
        if lunet_bpf::probe::xdp_live_frames_supported() {
            return Ok(Generator::Live(LiveGen::new(ifindex)?));
        }
        tracing::warn!(
            "this kernel refuses BPF_F_TEST_XDP_LIVE_FRAMES; sending through an AF_PACKET socket \
             instead (slower: every frame is copied from userspace)"
        );
        Ok(Generator::Socket(SocketGen::new(ifindex)?))
    }

    /// `"xdp-live-frames"`, `"af-packet+tc-clone"` (amplified) or `"af-packet"`.
    pub fn method(&self) -> &'static str {
        match self {
            Generator::Live(_) => "xdp-live-frames",
            Generator::Socket(g) if g.amplified() => "af-packet+tc-clone",
            Generator::Socket(_) => "af-packet",
        }
    }

    /// Whether calls are cheap: the live-frames program is anchored in the XDP dispatcher,
    /// or the generator is a socket (which has no dispatcher to update).
    pub fn anchored(&self) -> bool {
        match self {
            Generator::Live(g) => g.anchored(),
            Generator::Socket(_) => true,
        }
    }

    pub fn ifindex(&self) -> u32 {
        match self {
            Generator::Live(g) => g.ifindex(),
            Generator::Socket(g) => g.ifindex(),
        }
    }

    /// Sends `frames`, cycling through them, until `limit` (see [`LiveGen::run`]).
    pub fn run(&self, frames: &[Vec<u8>], limit: Limit) -> io::Result<GenStats> {
        match self {
            Generator::Live(g) => g.run(frames, limit),
            Generator::Socket(g) => g.run(frames, limit),
        }
    }
}
