//! Pass `slices` (netfilter hooks only; XDP programs pass through unchanged): packet
//! accesses through a dynptr. A netfilter program has no `data`/`data_end`: its packet is a
//! dynptr over the skb (`bpf_dynptr_from_skb` in the prologue), read through
//! `bpf_dynptr_slice(&dynptr, offset, NULL, size)`, which gives a pointer to `size` bytes at
//! `offset` or NULL when they are not there.
//!
//! After pass `checks` every packet load follows a bounds check of its pointer that covers it
//! on every path ([`Inst::PktCheck`], widened and deduplicated). So each remaining check
//! becomes one slice of the bytes it covers, and the loads read through it:
//! - a pointer [`Inst::PktPtr`] is its offset (still bounded by `MAX_VAR_OFF`);
//! - `check p + end` becomes `s_p = slice(p, end) else fail`, with one slice register `s_p`
//!   per pointer (`DATA`'s slices start at offset 0), so a check the pass `checks` dropped
//!   because an earlier one covers it finds `s_p` already holding a slice that covers it;
//! - a load through `p` loads through `s_p`; a check of nothing (`end` 0) compares the
//!   offset with the packet's length.
//!
//! The slice buffer is NULL: bytes outside the skb's linear data (paged data of large
//! packets) are as absent as bytes past the end, and give the hook's default verdict. A hook
//! that writes the packet, or reads a string of a length known only at run time, does not
//! compile (the kernel allows neither here: a netfilter program's packet is read-only, and a
//! slice's size is a constant).

use std::collections::HashMap;

use crate::diag::{Diagnostic, Loc};
use crate::hook::HookInput;
use crate::ir::{Cond, Inst, Ir, Opnd, VReg, DATA, MAX_VAR_OFF};

pub fn run(ir: &mut Ir, input: &HookInput) -> Result<(), Diagnostic> {
    if !input.target.is_netfilter() {
        return Ok(());
    }
    let mut errors = Vec::new();
    let mut slice_of: HashMap<VReg, VReg> = HashMap::new();
    let mut nvregs = ir.nvregs;
    let mut fresh = || {
        nvregs += 1;
        nvregs - 1
    };
    let mut out = Vec::with_capacity(ir.insts.len());
    let unsupported = |line: u32, construct: &str, message: &str| {
        Diagnostic::unsupported(
            &input.file,
            Loc::line_start(&input.source, line as usize),
            construct,
            message,
        )
    };
    let mut store_lines = std::collections::BTreeSet::new();
    for (inst, line) in std::mem::take(&mut ir.insts) {
        match inst {
            Inst::Store { .. } if !store_lines.insert(line) => {}
            Inst::Store { .. } => errors.push(unsupported(
                line,
                "a packet write",
                "a netfilter hook in the kernel tier cannot change the packet (its eBPF \
                 program sees it read-only): it runs in the Lua tier",
            )),
            Inst::PktPtr { dst, off, fail } => {
                out.push((
                    Inst::Br {
                        cond: Cond::Gt,
                        a: off,
                        b: Opnd::Imm(MAX_VAR_OFF),
                        target: fail,
                        w32: false,
                    },
                    line,
                ));
                out.push((
                    Inst::Mov {
                        dst,
                        src: Opnd::V(off),
                    },
                    line,
                ));
            }
            Inst::PktCheck {
                end: Opnd::V(_), ..
            } => errors.push(unsupported(
                line,
                "a packet string of run-time length",
                "a netfilter hook in the kernel tier reads the packet in slices of constant \
                 size: give getstring a constant length",
            )),
            Inst::PktCheck {
                ptr,
                end: Opnd::Imm(0),
                fail,
            } => {
                if ptr != DATA {
                    let n = fresh();
                    out.push((Inst::PktLen { dst: n }, line));
                    out.push((
                        Inst::Br {
                            cond: Cond::Gt,
                            a: ptr,
                            b: Opnd::V(n),
                            target: fail,
                            w32: false,
                        },
                        line,
                    ));
                }
            }
            Inst::PktCheck {
                ptr,
                end: Opnd::Imm(size),
                fail,
            } => {
                let dst = *slice_of.entry(ptr).or_insert_with(&mut fresh);
                let off = if ptr == DATA {
                    Opnd::Imm(0)
                } else {
                    Opnd::V(ptr)
                };
                out.push((
                    Inst::Slice {
                        dst,
                        off,
                        size,
                        fail,
                    },
                    line,
                ));
            }
            Inst::Load {
                dst,
                ptr,
                off,
                size,
                signed,
            } => {
                let Some(&s) = slice_of.get(&ptr) else {
                    return Err(Diagnostic::internal(
                        &input.file,
                        line as usize,
                        "a packet load with no bounds check before it",
                    ));
                };
                out.push((
                    Inst::Load {
                        dst,
                        ptr: s,
                        off,
                        size,
                        signed,
                    },
                    line,
                ));
            }
            other => out.push((other, line)),
        }
    }
    ir.insts = out;
    ir.nvregs = nvregs;
    match Diagnostic::gather(errors) {
        Some(d) => Err(d),
        None => Ok(()),
    }
}
