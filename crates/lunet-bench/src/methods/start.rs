//! Starting the methods that are programs rather than rules: lunet's Lua tier (one copy or
//! one per CPU), lunet's kernel tier at XDP and at netfilter, and the hand-written C.

use std::path::{Path, PathBuf};

use lunet_lua::Limits;
use lunet_types::Tier;

use crate::cprog;
use crate::cpu;
use crate::filters::{Class, Filter, Frame};
use crate::testbed::Bed;
use crate::xdp;
use lunet_runtime::runner::{self, RunSpec, Running};

use super::{Active, STATE_NAME};

/// Writes the filter's script to a private file, starts it in the receiver namespace with
/// `copies` per-CPU copies, and with one copy pins its thread to the last CPU (the generator
/// has CPU 0; copies are pinned by the runtime, copy k on CPU k).
pub(super) fn start_lua(filter: Filter, bed: &Bed, copies: u16) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the bench script: {e}"))?;
    let script = dir.0.join(format!("{}.lua", filter.name()));
    std::fs::write(&script, filter.lua_script())
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let spec = RunSpec {
        name: STATE_NAME.into(),
        script,
        netns: Some(bed.receiver_ns().to_string()),
        dev: None,
        tier: Tier::Lua,
        limits: Limits::default(),
        copies,
        cpu_list: Vec::new(),
        pin_dir: pin_dir(),
        path: Vec::new(),
    };
    // The script is read by the time start returns; `dir` goes right after.
    let running = Running::start(spec).map_err(|e| format!("lunet could not start: {e}"))?;
    let tid = cpu::find_thread(&format!("lunet-{STATE_NAME}"));
    if let (Some(t), 1) = (tid, copies) {
        let n = cpu::cpus();
        if n >= 2 {
            let _ = cpu::pin(t, n - 1);
        }
    }
    let tids: Vec<i32> = tid
        .into_iter()
        .chain((1..copies).filter_map(|k| cpu::find_thread(&format!("lunet-{STATE_NAME}-{k}"))))
        .collect();
    let first = running.report().hooks.iter().find_map(|h| h.queue);
    let queues = first.map(|q| (q..q + copies).collect()).unwrap_or_default();
    Ok(Active::Lua {
        running: Box::new(running),
        tids,
        ns: bed.receiver_ns().to_string(),
        queues,
    })
}

/// Where the bench's states pin their maps and links.
fn pin_dir() -> PathBuf {
    Path::new(runner::PIN_ROOT).join(format!("bench-{}", std::process::id()))
}

/// Writes the filter's XDP script to a private file and starts it through lunet's runner
/// in the receiver namespace with `--dev` its veth, in the kernel tier: the runner compiles
/// the hook, loads it (the kernel's verifier checks it) and attaches it at XDP on the veth
/// with a pinned link. The testbed's `XDP_PASS` program leaves the veth first (a veth has
/// one XDP program) and comes back if the start fails. Then the attached program is run
/// with `BPF_PROG_TEST_RUN` on one frame of each class.
pub(super) fn start_xdp(filter: Filter, bed: &Bed, frames: &[Frame]) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the bench script: {e}"))?;
    let (file, text) = filter.xdp_script();
    let script = dir.0.join(file);
    std::fs::write(&script, text).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let spec = RunSpec {
        name: STATE_NAME.into(),
        script,
        netns: Some(bed.receiver_ns().to_string()),
        dev: Some(bed.receiver_if().to_string()),
        tier: Tier::Kernel,
        limits: Limits::default(),
        copies: 1,
        cpu_list: Vec::new(),
        pin_dir: pin_dir(),
        path: Vec::new(),
    };
    let pins = spec.pin_dir.clone();
    let running = bed.replace_pass(|| {
        Running::start(spec).map_err(|e| format!("lunet could not start {file}: {e}"))
    })?;
    let picked = one_of_each(filter, frames);
    let test_run = xdp::pinned_link(&pins, "xdp_")
        .and_then(|pin| xdp::program_of_link(&pin))
        .and_then(|prog| xdp::test_run(&prog, &picked))
        .map_err(|e| format!("BPF_PROG_TEST_RUN of the attached program failed: {e}"));
    Ok(Active::Kernel {
        running: Box::new(running),
        at_xdp: true,
        test_run,
    })
}

/// Writes the filter's Lua-tier script (its netfilter hook), moved to
/// [`C_NETFILTER_PRIORITY`], and starts it in the kernel tier: lunet compiles the hook to a
/// netfilter eBPF program and attaches it at PRE_ROUTING with a pinned link. Then the
/// attached program is timed with `BPF_PROG_TEST_RUN` as the C one is.
pub(super) fn start_nf_kernel(
    filter: Filter,
    bed: &Bed,
    frames: &[Frame],
) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the bench script: {e}"))?;
    let script = dir.0.join(format!("{}-nf.lua", filter.name()));
    let text = filter
        .nf_kernel_script()
        .ok_or("no netfilter script of this filter in the kernel-tier subset yet")?
        .replace(
            "priority = nf.ip.pri.RAW",
            &format!("priority = {C_NETFILTER_PRIORITY}"),
        );
    std::fs::write(&script, text).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let spec = RunSpec {
        name: STATE_NAME.into(),
        script,
        netns: Some(bed.receiver_ns().to_string()),
        dev: None,
        tier: Tier::Kernel,
        limits: Limits::default(),
        copies: 1,
        cpu_list: Vec::new(),
        pin_dir: pin_dir(),
        path: Vec::new(),
    };
    let pins = spec.pin_dir.clone();
    let running = Running::start(spec).map_err(|e| format!("lunet could not start: {e}"))?;
    let picked = one_of_each(filter, frames);
    let test_run = xdp::pinned_link(&pins, "nf4_")
        .and_then(|pin| xdp::program_of_link(&pin))
        .and_then(|prog| xdp::test_run_netfilter(&prog, &picked))
        .map_err(|e| format!("BPF_PROG_TEST_RUN of the attached program failed: {e}"));
    Ok(Active::Kernel {
        running: Box::new(running),
        at_xdp: false,
        test_run,
    })
}

/// One frame of each class the filter's traffic has, with whether it must be dropped.
fn one_of_each(filter: Filter, frames: &[Frame]) -> Vec<(&[u8], bool)> {
    Class::ALL
        .iter()
        .filter_map(|&c| {
            frames
                .iter()
                .find(|f| f.class == c)
                .map(|f| (f.bytes.as_slice(), filter.drops(c)))
        })
        .collect()
}

/// The netfilter priority of the `ebpf-c-netfilter` program at PRE_ROUTING: right after the
/// counting rules of raw PREROUTING (priority raw, -300), like the `nft-raw` chain.
const C_NETFILTER_PRIORITY: i32 = -299;

/// Compiles the filter's C program for XDP with clang, loads it and attaches it on the
/// receiver's veth in place of the testbed's `XDP_PASS` program (which comes back if the
/// attach fails), then times it with `BPF_PROG_TEST_RUN`.
pub(super) fn start_c_xdp(filter: Filter, bed: &Bed, frames: &[Frame]) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the C program: {e}"))?;
    let prog = cprog::build(filter, cprog::Hook::Xdp, &dir.0)?;
    let test_run = xdp::test_run(&prog, &one_of_each(filter, frames))
        .map_err(|e| format!("BPF_PROG_TEST_RUN failed: {e}"));
    let (ns, ifindex) = (bed.receiver_ns(), bed.receiver_ifindex());
    let link = bed.replace_pass(|| {
        lunet_netns::in_netns(ns, move || lunet_bpf::link_create_xdp(&prog, ifindex, 0))
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("attaching the C program at XDP failed: {e}"))
    })?;
    Ok(Active::Ebpf {
        _link: link,
        at_xdp: true,
        test_run,
    })
}

/// Compiles the filter's C program for netfilter with clang, loads it and attaches it at
/// IPv4 PRE_ROUTING of the receiver namespace, priority [`C_NETFILTER_PRIORITY`], then times
/// it with `BPF_PROG_TEST_RUN`.
pub(super) fn start_c_netfilter(
    filter: Filter,
    bed: &Bed,
    frames: &[Frame],
) -> Result<Active, String> {
    let dir = ScriptDir::create().map_err(|e| format!("cannot write the C program: {e}"))?;
    let prog = cprog::build(filter, cprog::Hook::Netfilter, &dir.0)?;
    let test_run = xdp::test_run_netfilter(&prog, &one_of_each(filter, frames))
        .map_err(|e| format!("BPF_PROG_TEST_RUN failed: {e}"));
    let link = lunet_netns::in_netns(bed.receiver_ns(), move || {
        lunet_bpf::link_create_netfilter(
            &prog,
            lunet_types::Family::Ipv4,
            lunet_types::Hook::PreRouting,
            C_NETFILTER_PRIORITY,
            0,
        )
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("attaching the C program at netfilter failed: {e}"))?;
    Ok(Active::Ebpf {
        _link: link,
        at_xdp: false,
        test_run,
    })
}

/// A directory for the script, removed on drop.
struct ScriptDir(PathBuf);

impl ScriptDir {
    fn create() -> std::io::Result<ScriptDir> {
        let dir = std::env::temp_dir().join(format!("lunet-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(ScriptDir(dir))
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
