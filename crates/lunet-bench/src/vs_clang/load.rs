//! The two sides of one filter, loaded: the Lua example compiled by lunet (its hook's input
//! taken and its program loaded the way the runtime does, `lunet_runtime::kernel`) and the C
//! object built by clang; the Lua state stays for the Lua tier's verdicts. And the frames each
//! filter is timed on.

use std::path::PathBuf;

use lunet_bpf::prog::prog_type;
use lunet_bpf::{Insn, LoadOptions, ProgFd};
use lunet_compile::{LoopBound, Program};
use lunet_gen::packet;
use lunet_lua::{State, StateOptions};
use lunet_runtime::kernel::{self, KernelError, Script};
use lunet_types::{xdp, Attach};

use super::{Options, VsClangError};
use crate::filters::Endpoints;

/// One frame a filter is timed on, and the verdict both programs must give it.
pub struct Frame {
    pub kind: &'static str,
    pub bytes: Vec<u8>,
    pub verdict: u32,
}

/// One filter: the Lua example and the C object of the same logic, both loaded.
pub struct Filter {
    pub name: &'static str,
    /// The script, with its body run: the Lua tier.
    pub state: State,
    /// The id of its XDP hook.
    pub hook: usize,
    pub lua_source: String,
    pub lunet: Program,
    pub lunet_fd: ProgFd,
    pub lunet_loop_bound: LoopBound,
    pub c_insns: Vec<Insn>,
    pub c_fd: ProgFd,
    /// The kinds of frames timed.
    pub frames: Vec<Frame>,
}

/// The addresses of every frame.
const E: Endpoints = Endpoints::OFFLINE;

/// An XDP program's load options.
fn xdp_program<'a>(insns: &'a [Insn], name: &'a str) -> LoadOptions<'a> {
    LoadOptions {
        prog_type: prog_type::XDP,
        insns,
        license: "GPL",
        expected_attach_type: None,
        name,
    }
}

/// Loads an XDP program named `name`.
pub fn load_xdp(insns: &[Insn], name: &str) -> Result<ProgFd, lunet_bpf::LoadError> {
    lunet_bpf::load_with(&xdp_program(insns, name))
}

/// The verifier's closing statistics for `insns` ("processed N insns ..."): a load with
/// `BPF_LOG_STATS` only.
fn verifier_stats(insns: &[Insn]) -> String {
    let (r, log) = lunet_bpf::prog::verifier_log(&xdp_program(insns, ""), 4, 1 << 16);
    let line = log
        .lines()
        .find(|l| l.starts_with("processed"))
        .unwrap_or("")
        .to_string();
    match r {
        Ok(_) => line,
        Err(e) => format!("refused ({e}): {line}"),
    }
}

impl Filter {
    /// Loads filter `name`: the Lua example `lua` (in `opts.examples`) and the C object `obj`
    /// (in `opts.obj_dir`).
    pub fn load(
        name: &'static str,
        lua: &str,
        obj: &str,
        opts: &Options,
    ) -> Result<Filter, VsClangError> {
        let path = opts.examples.join(lua);
        let source =
            std::fs::read_to_string(&path).map_err(|source| VsClangError::Read { path, source })?;
        let script = Script {
            file: format!("examples/{lua}"),
            source,
        };
        let (state, hook, lunet, lunet_fd, bound) = compile_lua(&script, &format!("lunet_{name}"))?;
        let path = opts.obj_dir.join(obj);
        let bytes = std::fs::read(&path).map_err(|source| VsClangError::Read {
            path: path.clone(),
            source,
        })?;
        let c = lunet_bpf::elf::load_section(
            &bytes,
            &path.display().to_string(),
            "xdp",
            &lunet_bpf::btf::kernel_func_id,
        )?;
        if let Some(path) = &opts.c_verifier_log {
            let (_, log) = lunet_bpf::prog::verifier_log(&xdp_program(&c.insns, ""), 1, 64 << 20);
            std::fs::write(path, log).ok();
        }
        eprintln!(
            "{name}: lunet: {} insns, {} virtual registers of which {} spilled, {} B of stack, \
             loops bounded by {:?}",
            lunet.insns.len(),
            lunet.vregs,
            lunet.spilled,
            lunet.stack_size,
            bound
        );
        eprintln!("{name}: lunet: verifier {}", verifier_stats(&lunet.insns));
        eprintln!("{name}: C:     verifier {}", verifier_stats(&c.insns));
        let c_fd = load_xdp(&c.insns, &c.name).map_err(|source| VsClangError::CRefused {
            obj: obj.to_string(),
            source,
        })?;
        Ok(Filter {
            name,
            state,
            hook,
            lua_source: script.source,
            lunet,
            lunet_fd,
            lunet_loop_bound: bound,
            c_insns: c.insns,
            c_fd,
            frames: frames(name)?,
        })
    }
}

/// Runs the script's body in a fresh state and compiles and loads its first XDP hook with the
/// runtime's loading policy ([`kernel::load_first_accepted`]): the bare program, without the
/// verdict counters `lunet run` adds, so that it is the same work as the C program's.
fn compile_lua(
    script: &Script,
    name: &str,
) -> Result<(State, usize, Program, ProgFd, LoopBound), VsClangError> {
    let state = State::from_source(
        &script.file,
        script.source.as_bytes(),
        PathBuf::from("."),
        StateOptions::default(),
    )
    .map_err(|source| VsClangError::Body {
        file: script.file.clone(),
        source,
    })?;
    let spec = state
        .hooks()
        .into_iter()
        .find(|h| matches!(h.attach, Attach::Xdp { .. }))
        .ok_or_else(|| VsClangError::NoXdpHook {
            file: script.file.clone(),
        })?;
    let fds = state.map_fds();
    let (program, fd, bound) = kernel::load_first_accepted(&state, &spec, script, name, |p| {
        p.patch_map_fds(&fds).map_err(|source| KernelError::Patch {
            at: spec.defined_at.clone(),
            hook: spec.name.clone(),
            source,
        })
    })
    .map_err(VsClangError::Lunet)?;
    Ok((state, spec.id, program, fd, bound))
}

/// The frames filter `name` is timed on: one it drops, one it passes, one of another protocol.
fn frames(name: &str) -> Result<Vec<Frame>, VsClangError> {
    let frame = |kind, bytes, verdict| Frame {
        kind,
        bytes,
        verdict,
    };
    Ok(match name {
        "sni" => vec![
            frame("blocked", tls("www.blocked.example")?, xdp::DROP),
            frame("allowed", tls("www.example.com")?, xdp::PASS),
            frame("not TLS", other()?, xdp::PASS),
        ],
        _ => vec![
            frame("blocked", dns("www.blocked.example")?, xdp::DROP),
            frame("allowed", dns("www.example.com")?, xdp::PASS),
            frame("not DNS", other()?, xdp::PASS),
        ],
    })
}

/// A TLS ClientHello for `name`, to port 443.
pub fn tls(name: &str) -> Result<Vec<u8>, lunet_gen::PacketError> {
    packet::tls_client_hello(E.src_mac, E.dst_mac, E.src_ip, E.dst_ip, 49152, 443, name)
}

/// A DNS query for `name`, to port 53.
pub fn dns(name: &str) -> Result<Vec<u8>, lunet_gen::PacketError> {
    packet::dns_query(
        E.src_mac, E.dst_mac, E.src_ip, E.dst_ip, 49152, name, 0x1234,
    )
}

/// A UDP datagram to the discard port: neither TLS nor DNS (60 bytes).
fn other() -> Result<Vec<u8>, lunet_gen::PacketError> {
    packet::udp(
        E.src_mac,
        E.dst_mac,
        E.src_ip,
        E.dst_ip,
        49152,
        9,
        &[0x5a; 18],
    )
}
