//! Feature detection by trying, not by kernel version: each probe loads (and drops) a tiny
//! program. Probes need the same privileges as real use (root or `CAP_BPF` + `CAP_NET_ADMIN`);
//! without them every probe answers `false`.

use crate::insn::Insn;
use crate::prog::{self, attach_type, prog_type, test_run_flags, xdp_action, XdpMd};

/// Whether a program of `prog_type` returning `ret` loads.
pub fn prog_type_supported(
    prog_type: u32,
    expected_attach_type: Option<u32>,
    license: &str,
    ret: i32,
) -> bool {
    let insns = [Insn::mov64_imm(0, ret), Insn::exit()];
    prog::load(prog_type, &insns, license, expected_attach_type).is_ok()
}

/// XDP programs load (`r0 = XDP_PASS; exit`).
pub fn xdp_supported() -> bool {
    prog_type_supported(prog_type::XDP, None, "GPL", xdp_action::PASS)
}

/// `BPF_PROG_TYPE_NETFILTER` programs load (Linux 6.4 with `CONFIG_NETFILTER_BPF_LINK`).
pub fn netfilter_prog_supported() -> bool {
    prog_type_supported(
        prog_type::NETFILTER,
        Some(attach_type::NETFILTER),
        "GPL",
        1, // NF_ACCEPT
    )
}

/// `BPF_PROG_TEST_RUN` with `BPF_F_TEST_XDP_LIVE_FRAMES` works (Linux 5.18): runs an
/// `XDP_DROP` program once on a 64-byte frame entering loopback, so nothing leaves the host.
pub fn xdp_live_frames_supported() -> bool {
    let insns = [Insn::mov64_imm(0, xdp_action::DROP), Insn::exit()];
    let Ok(p) = prog::load(prog_type::XDP, &insns, "GPL", None) else {
        return false;
    };
    let frame = [0u8; 64];
    let ctx = XdpMd::for_packet(frame.len(), 0).to_bytes();
    prog::test_run(
        &p,
        &frame,
        1,
        Some(&ctx),
        test_run_flags::XDP_LIVE_FRAMES,
        0,
    )
    .is_ok()
}
