//! Flow verdicts in the kernel: the state's flow map and the two small programs in front of
//! its queues that apply what `skb:flow()` decided, so a flow's later packets never wake Lua.
//!
//! The map is an LRU hash (`lunet_lua::flows` has the key and value) pinned at
//! `<state>/flows`. Each program is a socket filter that iptables runs through `-m bpf
//! --object-pinned` (xt_bpf) at the top of each of the state's IPv4 chains: it reads the
//! packet's addresses, ports, protocol and mark, looks the flow up, and matches when the
//! flow has a verdict, its own, that has not ended; the rule then DROPs or ACCEPTs, and the
//! packet never reaches the queue. An ended entry stays until the LRU evicts it or a new
//! verdict replaces it; it matches nothing. Programs pinned at `<state>/flow_drop` and
//! `<state>/flow_accept`; `stop` removes the pins with the state's directory.

use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use lunet_bpf::insn::{op, reg::*};
use lunet_bpf::map::map_type;
use lunet_bpf::prog::prog_type;
use lunet_bpf::{Insn, LoadOptions, Map, ProgFd};
use lunet_lua::flows::{FlowVerdict, KEY_LEN, VALUE_LEN};
use lunet_types::nf::action;

/// Flows the map holds before the least recently used go.
pub const ENTRIES: u32 = 65_536;

const MAP_LOOKUP_ELEM: i32 = 1;
const KTIME_GET_NS: i32 = 5;
const SKB_LOAD_BYTES: i32 = 26;
/// Offset of `mark` in `struct __sk_buff`.
const SKB_MARK: i16 = 8;

/// The state's flow map and its two programs, pinned.
pub struct Flows {
    pub map: std::sync::Arc<Map>,
    _programs: [ProgFd; 2],
    pub drop_pin: PathBuf,
    pub accept_pin: PathBuf,
}

impl Flows {
    /// Makes the map and the programs and pins them in `dir` (the state's pin directory).
    pub fn create(dir: &Path) -> io::Result<Flows> {
        let map = Map::create(
            map_type::LRU_HASH,
            KEY_LEN as u32,
            VALUE_LEN as u32,
            ENTRIES,
            "lunet_flows",
        )?;
        let drop = program(&map, action::DROP)?;
        let accept = program(&map, action::ACCEPT)?;
        let (drop_pin, accept_pin) = (dir.join("flow_drop"), dir.join("flow_accept"));
        lunet_bpf::pin::make_state_dir(dir).map_err(io::Error::other)?;
        // What a daemon killed before left is made anew (its rules are).
        for p in Flows::pins(dir) {
            let _ = std::fs::remove_file(p);
        }
        lunet_bpf::pin::pin(&map, &dir.join("flows"))?;
        lunet_bpf::pin::pin(&drop, &drop_pin)?;
        lunet_bpf::pin::pin(&accept, &accept_pin)?;
        Ok(Flows {
            map: std::sync::Arc::new(map),
            _programs: [drop, accept],
            drop_pin,
            accept_pin,
        })
    }

    /// The pins this makes in `dir`, which a state's pin cleanup keeps.
    pub fn pins(dir: &Path) -> [PathBuf; 3] {
        [
            dir.join("flows"),
            dir.join("flow_drop"),
            dir.join("flow_accept"),
        ]
    }
}

/// The flow map as `lunet map` shows it: addresses and ports as the packet holds them
/// (big-endian integers), the mark and the verdict in host order, the end in monotonic ns.
pub fn map_info(dir: &Path) -> lunet_lua::MapInfo {
    lunet_lua::MapInfo {
        name: "flows".into(),
        kind: lunet_types::MapKind::LruHash,
        key: KEY_FORMAT.into(),
        value: VALUE_FORMAT.into(),
        entries: ENTRIES,
        pinned: Some(dir.join("flows")),
    }
}

/// `string.pack` formats of the flow map's key and value.
const KEY_FORMAT: &str = ">I4>I4>I2>I2Bxxx=I4";
const VALUE_FORMAT: &str = "=I4xxxx=I8";

/// Whether the script gives flow verdicts at all (its text calls `flow(`): only then does a
/// state pay for the map, the programs and the two rules every packet meets.
pub fn used_by(source: &str) -> bool {
    source.contains(":flow(")
}

/// The flow map a state's copy 0 pinned in `dir`, for its per-CPU copies.
pub fn open(dir: &Path) -> Option<std::sync::Arc<Map>> {
    let fd = lunet_bpf::pin::get(&dir.join("flows")).ok()?;
    Map::from_fd(fd).ok().map(std::sync::Arc::new)
}

/// Writes `verdicts` into the pinned flow `map`, ending on the monotonic clock.
pub fn write(map: &Map, verdicts: &[FlowVerdict]) -> io::Result<()> {
    let now = monotonic_ns();
    for f in verdicts {
        map.update(&f.key, &f.value(now), 0)?;
    }
    Ok(())
}

/// `CLOCK_MONOTONIC` in ns: the clock of `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, which lives for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The socket filter that matches packets whose flow has verdict `want` in `map`.
fn program(map: &Map, want: u32) -> io::Result<ProgFd> {
    // Stack: the IPv4 header's first 20 bytes at fp-48, the key at fp-24 (20 bytes).
    const HDR: i16 = -48;
    const KEY: i16 = -24;
    let mut p: Vec<Insn> = vec![
        Insn::mov64_reg(R6, R1),
        // The first 20 bytes of the network header.
        Insn::mov64_reg(R1, R6),
        Insn::mov64_imm(R2, 0),
        Insn::mov64_reg(R3, R10),
        Insn::alu64_imm(op::ADD, R3, HDR as i32),
        Insn::mov64_imm(R4, 20),
        Insn::call(SKB_LOAD_BYTES),
        Insn::jmp_imm(op::JNE, R0, 0, NO),
        // IPv4, its header length in R7.
        Insn::ldx(op::B, R1, R10, HDR),
        Insn::mov64_reg(R2, R1),
        Insn::alu64_imm(op::RSH, R2, 4),
        Insn::jmp_imm(op::JNE, R2, 4, NO),
        Insn::alu64_imm(op::AND, R1, 0x0f),
        Insn::alu64_imm(op::LSH, R1, 2),
        Insn::mov64_reg(R7, R1),
        // TCP or UDP, and not a fragment after the first.
        Insn::ldx(op::B, R8, R10, HDR + 9),
        Insn::jmp_imm(op::JEQ, R8, 6, 1),
        Insn::jmp_imm(op::JNE, R8, 17, NO),
        Insn::ldx(op::B, R1, R10, HDR + 6),
        Insn::jmp_imm(op::JSET, R1, 0x1f, NO),
        Insn::ldx(op::B, R1, R10, HDR + 7),
        Insn::jmp_imm(op::JNE, R1, 0, NO),
        // The key: addresses, ports, protocol (and three zero bytes), mark.
        // (4 bytes at a time: the stack takes only aligned loads.)
        Insn::ldx(op::W, R1, R10, HDR + 12),
        Insn::stx(op::W, R10, KEY, R1),
        Insn::ldx(op::W, R1, R10, HDR + 16),
        Insn::stx(op::W, R10, KEY + 4, R1),
        Insn::mov64_reg(R1, R6),
        Insn::mov64_reg(R2, R7),
        Insn::mov64_reg(R3, R10),
        Insn::alu64_imm(op::ADD, R3, (KEY + 8) as i32),
        Insn::mov64_imm(R4, 4),
        Insn::call(SKB_LOAD_BYTES),
        Insn::jmp_imm(op::JNE, R0, 0, NO),
        Insn::stx(op::W, R10, KEY + 12, R8),
        Insn::ldx(op::W, R1, R6, SKB_MARK),
        Insn::stx(op::W, R10, KEY + 16, R1),
    ];
    p.extend(Insn::ld_map_fd(R1, map.as_raw_fd()));
    p.extend([
        Insn::mov64_reg(R2, R10),
        Insn::alu64_imm(op::ADD, R2, KEY as i32),
        Insn::call(MAP_LOOKUP_ELEM),
        Insn::jmp_imm(op::JEQ, R0, 0, NO),
        Insn::ldx(op::W, R1, R0, 0),
        Insn::jmp_imm(op::JNE, R1, want as i32, NO),
        Insn::ldx(op::DW, R8, R0, 8),
        Insn::call(KTIME_GET_NS),
        Insn::jmp_reg(op::JGE, R0, R8, NO),
        Insn::mov64_imm(R0, 1),
        Insn::exit(),
    ]);
    // Every `NO` jump goes to the last two instructions; resolve the offsets now.
    let no = p.len();
    p.extend([Insn::mov64_imm(R0, 0), Insn::exit()]);
    for (i, insn) in p.iter_mut().enumerate().take(no) {
        let class = insn.code & 0x07;
        if (class == op::JMP || class == op::JMP32) && insn.off == NO {
            insn.off = (no - i - 1) as i16;
        }
    }
    Ok(lunet_bpf::load_with(&LoadOptions {
        prog_type: prog_type::SOCKET_FILTER,
        insns: &p,
        license: "GPL",
        expected_attach_type: None,
        name: "lunet_flow",
    })?)
}

/// A placeholder offset for jumps to the program's "no match" exit, patched once the
/// program's length is known.
const NO: i16 = i16::MIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_s_layouts_are_the_sizes_the_programs_read() {
        let k = lunet_types::Layout::parse(KEY_FORMAT).unwrap();
        let v = lunet_types::Layout::parse(VALUE_FORMAT).unwrap();
        assert_eq!((k.size, v.size), (KEY_LEN, VALUE_LEN));
        assert!(used_by("if x then skb:flow(nf.action.DROP) end"));
        assert!(!used_by("local flow = 1"));
    }
}
