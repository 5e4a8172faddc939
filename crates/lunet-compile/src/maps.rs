//! Maps in a compiled program: the relocations it carries for the maps its hook uses
//! ([`MapUse`]), and the per-CPU array that counts verdicts ([`verdict_counter_map`]). The maps
//! of `print` are described in [`crate::print`]. A map itself is a [`lunet_types::MapRef`]:
//! the compiled code packs keys and values to the same bytes `Layout::pack` gives.

use std::os::fd::RawFd;

use lunet_bpf::insn::{op, reg::*, Insn};

use lunet_types::{Layout, MapDecl, MapKind, MapRef};

use crate::error::ProgramError;

/// An `ld_imm64` that loads a map (`BPF_PSEUDO_MAP_FD`): `insns[insn].imm` gets the fd of map
/// `map_id` before the program is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapUse {
    /// Index of the first of the instruction's two slots.
    pub insn: usize,
    pub map_id: usize,
    /// The map's name, for listings and messages.
    pub name: String,
}

/// The map id of the verdict counters ([`crate::Program::count_verdicts`]).
pub const COUNTER_MAP_ID: usize = usize::MAX;
/// The counters' name (at most 15 bytes, as the kernel's map names).
pub const COUNTER_MAP_NAME: &str = "lunet_verdicts";
/// Counter slots: one per XDP action (`ABORTED DROP PASS TX REDIRECT`).
pub const COUNTER_SLOTS: u32 = 5;

/// The map [`crate::Program::count_verdicts`] counts in: a per-CPU array of
/// [`COUNTER_SLOTS`] host-order `u64`s indexed by host-order `u32` verdicts, id
/// [`COUNTER_MAP_ID`]. The count of verdict `v` is the sum of slot `v` over the CPUs.
pub fn verdict_counter_map() -> MapRef {
    let big = cfg!(target_endian = "big");
    MapRef {
        id: COUNTER_MAP_ID,
        decl: MapDecl {
            name: COUNTER_MAP_NAME.to_string(),
            kind: MapKind::PercpuArray,
            key: Layout::int("I4", 4, false, big),
            value: Layout::int("I8", 8, false, big),
            entries: COUNTER_SLOTS,
        },
    }
}

/// Helper function numbers (`enum bpf_func_id`).
pub mod helper {
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    pub const MAP_UPDATE_ELEM: i32 = 2;
    pub const MAP_DELETE_ELEM: i32 = 3;
    /// `bpf_ringbuf_output` (Linux 5.8).
    pub const RINGBUF_OUTPUT: i32 = 130;
    /// `bpf_xdp_load_bytes` (Linux 5.18).
    pub const XDP_LOAD_BYTES: i32 = 189;
    /// `bpf_dynptr_read` (netfilter programs' print copies).
    pub const DYNPTR_READ: i32 = 201;

    /// The helper's name as the verifier log writes it.
    pub fn name(id: i32) -> Option<&'static str> {
        Some(match id {
            MAP_LOOKUP_ELEM => "bpf_map_lookup_elem",
            MAP_UPDATE_ELEM => "bpf_map_update_elem",
            MAP_DELETE_ELEM => "bpf_map_delete_elem",
            RINGBUF_OUTPUT => "bpf_ringbuf_output",
            XDP_LOAD_BYTES => "bpf_xdp_load_bytes",
            DYNPTR_READ => "bpf_dynptr_read",
            _ => return None,
        })
    }
}

/// `if r0 == 0 goto +3; r1 = *(u64 *)(r0 + 0); r1 += 1; *(u64 *)(r0 + 0) = r1`: one more in
/// the `u64` counter a lookup found (`r0`), nothing when it found none. This CPU's slot of a
/// per-CPU array: no other CPU writes it, no atomic needed.
pub(crate) const COUNT_ONE: [Insn; 4] = [
    Insn::jmp_imm(op::JEQ, R0, 0, 3),
    Insn::ldx(op::DW, R1, R0, 0),
    Insn::alu64_imm(op::ADD, R1, 1),
    Insn::stx(op::DW, R0, 0, R1),
];

/// The fd an unpatched map load holds: loading it fails with `EBADF`.
pub(crate) const UNPATCHED_FD: i32 = -1;

/// Writes `fds` into the map loads of `insns` listed in `uses`.
pub(crate) fn patch(
    insns: &mut [Insn],
    uses: &[MapUse],
    fds: &[(usize, RawFd)],
) -> Result<(), ProgramError> {
    let mut missing: Vec<String> = Vec::new();
    for u in uses {
        match fds.iter().find(|(id, _)| *id == u.map_id) {
            Some((_, fd)) => match insns.get_mut(u.insn) {
                Some(i) => i.imm = *fd,
                None => return Err(ProgramError::MapLoadPastEnd(u.insn)),
            },
            None => {
                if !missing.contains(&u.name) {
                    missing.push(u.name.clone());
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProgramError::MissingFds(missing))
    }
}
