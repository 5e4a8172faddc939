//! The packet-socket traffic generator, for kernels that refuse live frames.
//!
//! Some kernels answer `BPF_PROG_TEST_RUN` with `BPF_F_TEST_XDP_LIVE_FRAMES` with `EPERM`
//! although every other part of the XDP test run works (seen on a 6.18 build of this project's
//! machine kind, as root with all capabilities but `CAP_SYS_RESOURCE`). There the generator
//! writes the same frames to an `AF_PACKET` socket bound to the sender's veth, in batches of
//! [`BATCH`] with one `sendmmsg(2)` each: the frames leave through the veth's transmit path to
//! its peer, as the live-frames ones do.
//!
//! A syscall per 64 frames and a copy of each still cost about 4 us a frame here, far below
//! what the filters under test take. So on runs at full speed a tc egress program on the
//! sender veth (the *amplifier*) sends every frame [`CLONES`] more times with
//! `bpf_clone_redirect` to the same device's egress, and counts the clones that went out in
//! a per-CPU map, so the frames sent are still counted exactly. The clones carry a mark that
//! the amplifier lets through untouched (a frame is multiplied once); the veth clears it on
//! the way into the receiver's namespace. Count-limited and paced runs set the same mark on
//! the socket (`SO_MARK`) and are sent one frame per frame.
//!
//! Like [`crate::LiveGen`], it must be made on a thread in the sender's network namespace: the
//! socket is bound to the ifindex there.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread;

use lunet_bpf::insn::{op, reg::*};
use lunet_bpf::map::map_type;
use lunet_bpf::prog::{attach_type, prog_type};
use lunet_bpf::{Insn, LinkFd, LoadOptions, Map};

use crate::live::{Clock, GenStats, Limit, Step};

/// Frames per `sendmmsg(2)` call.
pub const BATCH: usize = 64;
/// Calls per second aimed for when a rate limit is set (pacing granularity).
const PACED_CALLS_PER_SEC: u64 = 2000;

/// Extra copies the amplifier makes of each frame.
pub const CLONES: i32 = 15;
/// The mark of frames the amplifier passes untouched (its clones, and unamplified runs).
const MARK: i32 = 0x6c6e_6574; // "lnet"
/// `bpf_map_lookup_elem`, `bpf_clone_redirect`.
const MAP_LOOKUP_ELEM: i32 = 1;
const CLONE_REDIRECT: i32 = 13;
/// Offset of `mark` in `struct __sk_buff`.
const SKB_MARK: i16 = 8;

/// An `AF_PACKET` socket bound to the sender veth, and the amplifier when it could attach.
#[derive(Debug)]
pub struct SocketGen {
    fd: OwnedFd,
    ifindex: u32,
    amplifier: Option<Amplifier>,
}

/// The tc egress program multiplying frames, its link, and its count of clones sent.
#[derive(Debug)]
struct Amplifier {
    _link: LinkFd,
    clones: Map,
}

impl Amplifier {
    fn attach(ifindex: u32) -> io::Result<Amplifier> {
        let clones = Map::create(map_type::PERCPU_ARRAY, 4, 8, 1, "lunet_gen_clones")?;
        let mut insns = vec![
            Insn::mov64_reg(R6, R1),
            Insn::ldx(op::W, R0, R6, SKB_MARK),
            // Offsets to `out` are patched below, once the length is known.
            Insn::jmp_imm(op::JEQ, R0, MARK, 0),
            Insn::mov64_imm(R1, MARK),
            Insn::stx(op::W, R6, SKB_MARK, R1),
            Insn::mov64_imm(R8, 0),
        ];
        for _ in 0..CLONES {
            insns.extend([
                Insn::mov64_reg(R1, R6),
                Insn::mov64_imm(R2, ifindex as i32),
                Insn::mov64_imm(R3, 0), // egress
                Insn::call(CLONE_REDIRECT),
                Insn::jmp_imm(op::JNE, R0, 0, 1),
                Insn::alu64_imm(op::ADD, R8, 1),
            ]);
        }
        insns.push(Insn::st_imm(op::W, R10, -4, 0));
        insns.push(Insn::mov64_reg(R2, R10));
        insns.push(Insn::alu64_imm(op::ADD, R2, -4));
        insns.extend(Insn::ld_map_fd(R1, clones.as_raw_fd()));
        insns.extend([
            Insn::call(MAP_LOOKUP_ELEM),
            Insn::jmp_imm(op::JEQ, R0, 0, 3),
            Insn::ldx(op::DW, R1, R0, 0),
            Insn::alu64_reg(op::ADD, R1, R8),
            Insn::stx(op::DW, R0, 0, R1),
        ]);
        let out = insns.len();
        insns[2] = Insn::jmp_imm(op::JEQ, R0, MARK, (out - 3) as i16);
        insns.extend([Insn::mov64_imm(R0, 0), Insn::exit()]); // TC_ACT_OK
        let prog = lunet_bpf::load_with(&LoadOptions {
            prog_type: prog_type::SCHED_CLS,
            insns: &insns,
            license: "GPL",
            expected_attach_type: None,
            name: "lunet_gen_amp",
        })?;
        let link = lunet_bpf::link_create_tcx(&prog, ifindex, attach_type::TCX_EGRESS)?;
        Ok(Amplifier {
            _link: link,
            clones,
        })
    }

    /// Clones sent so far, all CPUs.
    fn sent(&self) -> io::Result<u64> {
        let v = self.clones.lookup(&0u32.to_ne_bytes())?.unwrap_or_default();
        Ok(v.chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .sum())
    }
}

impl SocketGen {
    /// Opens the socket on `ifindex` (in the calling thread's namespace). Protocol 0: the
    /// socket receives nothing, so it costs the receive path nothing.
    pub fn new(ifindex: u32) -> io::Result<SocketGen> {
        // SAFETY: socket(2) takes no pointers; the fd is owned at once.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a zeroed sockaddr_ll is valid; the fields set are plain integers.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a sockaddr_ll of the size passed, alive for the call.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        set_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 20).ok();
        let amplifier = match Amplifier::attach(ifindex) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(error = %e, "cannot attach the tc amplifier; one frame per frame");
                // Without the amplifier the qdisc has nothing to run: skip it (best effort).
                set_int(&fd, libc::SOL_PACKET, PACKET_QDISC_BYPASS, 1).ok();
                None
            }
        };
        Ok(SocketGen {
            fd,
            ifindex,
            amplifier,
        })
    }

    /// Whether full-speed runs are multiplied by the tc amplifier.
    pub fn amplified(&self) -> bool {
        self.amplifier.is_some()
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends `frames`, cycling through them one by one, until `limit` is reached. A batch
    /// the kernel refuses for lack of buffer space (`ENOBUFS`, `EAGAIN`) is retried after a
    /// yield and not counted; any other error ends the run.
    pub fn run(&self, frames: &[Vec<u8>], limit: Limit) -> io::Result<GenStats> {
        if frames.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no frames to send",
            ));
        }
        let chunk = match limit.rate_pps {
            Some(0) => 0,
            Some(rate) => (rate / PACED_CALLS_PER_SEC).clamp(1, BATCH as u64),
            None => BATCH as u64,
        };
        // Only unpaced runs without a count are multiplied: the others need every frame.
        let amp = self
            .amplifier
            .as_ref()
            .filter(|_| limit.rate_pps.is_none() && limit.max_packets == u64::MAX);
        set_int(
            &self.fd,
            libc::SOL_SOCKET,
            libc::SO_MARK,
            if amp.is_some() { 0 } else { MARK },
        )?;
        let clones_before = amp.map(Amplifier::sent).transpose()?.unwrap_or(0);
        let clock = Clock::new(&limit);
        let (mut sent, mut calls, mut next) = (0u64, 0u64, 0usize);
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(BATCH);
        // SAFETY: zeroed mmsghdrs are valid (null names, no control data).
        let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect();
        while sent < limit.max_packets && chunk > 0 {
            match clock.step(sent) {
                Step::Stop => break,
                Step::Waited => continue,
                Step::Send => {}
            }
            let n = chunk.min(limit.max_packets - sent) as usize;
            iov.clear();
            for j in 0..n {
                let f = &frames[(next + j) % frames.len()];
                iov.push(libc::iovec {
                    iov_base: f.as_ptr() as *mut libc::c_void,
                    iov_len: f.len(),
                });
            }
            for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m.msg_len = 0;
            }
            // SAFETY: the first `n` headers point at `n` iovecs, each at a live frame; the
            // kernel only reads them during the call.
            let r = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                        thread::yield_now();
                        continue;
                    }
                    _ => return Err(e),
                }
            }
            sent += r as u64;
            next = (next + r as usize) % frames.len();
            calls += 1;
        }
        let elapsed = clock.elapsed();
        if let Some(a) = amp {
            sent += a.sent()? - clones_before;
        }
        Ok(GenStats::over(sent, calls, elapsed))
    }
}

/// `PACKET_QDISC_BYPASS` from `<linux/if_packet.h>`.
const PACKET_QDISC_BYPASS: libc::c_int = 20;

fn set_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a c_int of the size passed, alive for the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &v as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as u32,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
