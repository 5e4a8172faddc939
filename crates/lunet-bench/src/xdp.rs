//! `BPF_PROG_TEST_RUN` timings of the eBPF methods' programs (XDP and netfilter), and the
//! eBPF side of the kernel-tier method: the program lunet's runner compiled and attached
//! (found through the link it pinned), and its cost per packet from `BPF_PROG_TEST_RUN`.
//!
//! The runner keeps the program's fd to itself; what it leaves in the open is the pinned
//! link (`<pin dir>/xdp_<hook>`). From it, with lunet-bpf: the link (`pin::get`), its
//! program's id (`link::prog_id`), the program (`prog::from_id`). Measuring that very program,
//! attached as it is, matters: the kernel adds a program that is attached nowhere to the
//! XDP dispatcher before every `test_run` with repeats and takes it out after, about 22 ms
//! per call here (`shared/kernel-notes.md`), 22 ns per packet over a million repeats.

use std::io;
use std::path::{Path, PathBuf};

use lunet_bpf::prog::{self, xdp_action, ProgFd, XdpMd};
use lunet_bpf::LinkFd;

/// Repeats of each frame in the `BPF_PROG_TEST_RUN` measurement.
pub const TEST_RUN_REPEAT: u32 = 1_000_000;

/// The pinned link the runner left in `pin_dir` whose name starts with `prefix` (`xdp_`
/// for an XDP hook, `nf4_` for a netfilter hook's IPv4 link); exactly one.
pub fn pinned_link(pin_dir: &Path, prefix: &str) -> io::Result<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(pin_dir)? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with(prefix) {
            found.push(e.path());
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(io::Error::other(format!(
            "{} pinned {prefix}* links in {}, expected one",
            n,
            pin_dir.display()
        ))),
    }
}

/// The program behind the XDP link pinned at `pin`.
pub fn program_of_link(pin: &Path) -> io::Result<ProgFd> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", pin.display()));
    let link = LinkFd::from_owned(lunet_bpf::pin::get(pin).map_err(named)?);
    let id = lunet_bpf::link::prog_id(&link).map_err(named)?;
    prog::from_id(id)
}

/// What `BPF_PROG_TEST_RUN` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRun {
    /// The mean over the frames of the kernel's time per repeat, ns.
    pub ns_per_packet: f64,
    /// Frames whose verdict was not the expected one: `(frame index, got, want)`.
    pub wrong: Vec<(usize, u32, u32)>,
}

/// Runs the XDP program `prog` [`TEST_RUN_REPEAT`] times on each frame; `drops[i]` says
/// whether frame `i` must get `XDP_DROP` (else `XDP_PASS`).
pub fn test_run(prog: &ProgFd, frames: &[(&[u8], bool)]) -> io::Result<TestRun> {
    let verdict = |drop: bool| {
        (if drop {
            xdp_action::DROP
        } else {
            xdp_action::PASS
        }) as u32
    };
    timed(
        frames,
        |frame| {
            let ctx = XdpMd::for_packet(frame.len(), 0).to_bytes();
            prog::test_run(prog, frame, TEST_RUN_REPEAT, Some(&ctx), 0, 0)
        },
        verdict,
    )
}

/// `struct nf_hook_state` as `BPF_PROG_TEST_RUN` takes it for a netfilter program: 48 bytes
/// of which only `hook` (byte 0) and `pf` (byte 1) may be set; here IPv4 PRE_ROUTING, where
/// the frame is given from its Ethernet header.
fn nf_hook_state() -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0] = lunet_types::Hook::PreRouting.raw() as u8;
    s[1] = lunet_types::Family::Ipv4.raw() as u8;
    s
}

/// Runs the netfilter program `prog` [`TEST_RUN_REPEAT`] times on each frame at IPv4
/// PRE_ROUTING; `drops[i]` says whether frame `i` must get `NF_DROP` (0, else `NF_ACCEPT`).
pub fn test_run_netfilter(prog: &ProgFd, frames: &[(&[u8], bool)]) -> io::Result<TestRun> {
    let ctx = nf_hook_state();
    timed(
        frames,
        |frame| prog::test_run(prog, frame, TEST_RUN_REPEAT, Some(&ctx), 0, 0),
        |drop| u32::from(!drop),
    )
}

/// Runs `run` on each frame and checks its verdict against `want(drop)`.
fn timed(
    frames: &[(&[u8], bool)],
    run: impl Fn(&[u8]) -> io::Result<prog::TestRunResult>,
    want: impl Fn(bool) -> u32,
) -> io::Result<TestRun> {
    let mut total = 0.0;
    let mut wrong = Vec::new();
    for (i, (frame, drop)) in frames.iter().enumerate() {
        let r = run(frame)?;
        let want = want(*drop);
        if r.retval != want {
            wrong.push((i, r.retval, want));
        }
        total += f64::from(r.duration_ns);
    }
    Ok(TestRun {
        ns_per_packet: if frames.is_empty() {
            0.0
        } else {
            total / frames.len() as f64
        },
        wrong,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_pinned_link_is_found() {
        let dir = tempfile::tempdir().unwrap();
        assert!(pinned_link(dir.path(), "xdp_").is_err(), "none");
        std::fs::write(dir.path().join("counts"), "").unwrap();
        std::fs::write(dir.path().join("xdp_sni_blocklist"), "").unwrap();
        assert_eq!(
            pinned_link(dir.path(), "xdp_").unwrap(),
            dir.path().join("xdp_sni_blocklist")
        );
        std::fs::write(dir.path().join("xdp_other"), "").unwrap();
        assert!(pinned_link(dir.path(), "xdp_").is_err(), "two");
    }
}
