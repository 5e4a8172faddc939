//! What the compiler gives: a [`Program`], eBPF instructions with their Lua lines and what a
//! loader needs besides (the map loads to patch, the print sites). Its listing is in
//! [`crate::disasm`], its verdict counters in [`crate::counters`].

use std::os::fd::RawFd;

use crate::error::ProgramError;
use crate::maps::{self, MapUse};
use crate::print::PrintSite;

/// A compiled hook.
#[derive(Clone, Debug)]
pub struct Program {
    pub insns: Vec<lunet_bpf::insn::Insn>,
    /// The Lua line of each instruction (both slots of an `ld_imm64` get the same line).
    pub lines: Vec<u32>,
    /// Bytes of stack the program uses (spill slots).
    pub stack_size: usize,
    /// Virtual registers the IR used, and how many of them were spilled.
    pub vregs: usize,
    pub spilled: usize,
    /// The script's path.
    pub file: String,
    /// The map loads to patch before loading ([`Program::patch_map_fds`]).
    pub maps: Vec<MapUse>,
    /// The print calls, by the site id their records carry ([`crate::decode_print`]); empty when the
    /// hook does not print (and then it uses no print maps).
    pub prints: Vec<PrintSite>,
    /// The exits [`Program::count_verdicts`] leaves alone: a netfilter program's exit for
    /// packets of another mark, which the hook never saw.
    pub uncounted: Vec<usize>,
    /// Where it attaches: the program type to load it as.
    pub target: crate::Target,
}

impl Program {
    /// `(prog_type, expected_attach_type)` to load it with.
    pub fn load_type(&self) -> (u32, Option<u32>) {
        use lunet_bpf::prog::{attach_type, prog_type};
        match self.target {
            crate::Target::Xdp => (prog_type::XDP, None),
            crate::Target::Netfilter(_) => (prog_type::NETFILTER, Some(attach_type::NETFILTER)),
        }
    }
}

impl Program {
    /// The ids of the maps the program loads (`MapRef::id`; [`crate::PRINT_MAP_ID`] and
    /// [`crate::PRINT_LOST_MAP_ID`] when it prints; [`crate::COUNTER_MAP_ID`] when it counts verdicts), each
    /// once, in the order of first use.
    pub fn map_ids(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = Vec::new();
        for u in &self.maps {
            if !ids.contains(&u.map_id) {
                ids.push(u.map_id);
            }
        }
        ids
    }

    /// Writes map file descriptors, given as `(map id, fd)`, into the program's map loads.
    /// Every id of [`Program::map_ids`] needs one (else an error naming the maps missing and
    /// nothing useful is loaded); extra ids are ignored. Patching again replaces the fds.
    pub fn patch_map_fds(&mut self, fds: &[(usize, RawFd)]) -> Result<(), ProgramError> {
        maps::patch(&mut self.insns, &self.maps, fds)
    }

    /// The Lua line of the instruction a verifier log names last (the one it refused), as
    /// `(instruction index, line)`.
    pub fn verifier_line(&self, log: &str) -> Option<(usize, u32)> {
        let idx = log.lines().rev().find_map(|l| {
            let (n, rest) = l.split_once(':')?;
            if !rest.starts_with(" (") {
                return None;
            }
            n.trim().parse::<usize>().ok()
        })?;
        Some((idx, *self.lines.get(idx)?))
    }
}
