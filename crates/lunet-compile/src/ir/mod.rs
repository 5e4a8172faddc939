//! The IR: a list of instructions over virtual registers, each tagged with its Lua line.
//!
//! As in ply, a value is an immediate, a virtual register or (after allocation) a stack slot;
//! labels are resolved late. Packet access is explicit: [`Inst::PktPtr`] bounds a variable
//! offset and makes a pointer, [`Inst::PktCheck`] compares `ptr + end` with `data_end`,
//! [`Inst::Load`]/[`Inst::Store`] then touch memory without checks of their own. [`DATA`] is
//! the packet's start pointer, live for the whole program. [`Inst::MapCall`] is a map helper
//! call with its key and value buffers: the emitter puts them on the stack.

mod text;

use std::collections::HashMap;

pub type VReg = u32;
pub type Label = u32;

/// The packet's `data` pointer (a fixed register, never allocated).
pub const DATA: VReg = u32::MAX;

/// The largest variable offset a packet pointer may get: larger ones give the default
/// verdict. XDP's linear data is at most a page, so no real offset is refused; the bound
/// keeps `offset + end` within the verifier's 0xffff.
pub const MAX_VAR_OFF: i64 = 0x7fff;
/// The largest constant end (`offset + size` past a pointer with a variable offset).
pub const MAX_VAR_END: i64 = 0xffff - MAX_VAR_OFF;
/// The largest constant `offset + size` of an access; larger ones are always out of bounds.
pub const MAX_CONST_END: i64 = 0x7fff;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opnd {
    Imm(i64),
    V(VReg),
}

impl Opnd {
    pub fn imm(self) -> Option<i64> {
        match self {
            Opnd::Imm(k) => Some(k),
            Opnd::V(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned.
    Div,
    /// Unsigned.
    Mod,
    Or,
    And,
    Xor,
    Lsh,
    Rsh,
    Arsh,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq,
    Ne,
    /// Unsigned.
    Gt,
    Ge,
    Lt,
    Le,
    /// Signed.
    Sgt,
    Sge,
    Slt,
    Sle,
}

impl Cond {
    pub fn negate(self) -> Cond {
        use Cond::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            Gt => Le,
            Ge => Lt,
            Lt => Ge,
            Le => Gt,
            Sgt => Sle,
            Sge => Slt,
            Slt => Sge,
            Sle => Sgt,
        }
    }

    /// The condition with its operands swapped (`a < b` is `b > a`).
    pub fn swap(self) -> Cond {
        use Cond::*;
        match self {
            Eq => Eq,
            Ne => Ne,
            Gt => Lt,
            Ge => Le,
            Lt => Gt,
            Le => Ge,
            Sgt => Slt,
            Sge => Sle,
            Slt => Sgt,
            Sle => Sge,
        }
    }

    pub fn eval(self, a: i64, b: i64) -> bool {
        use Cond::*;
        let (ua, ub) = (a as u64, b as u64);
        match self {
            Eq => a == b,
            Ne => a != b,
            Gt => ua > ub,
            Ge => ua >= ub,
            Lt => ua < ub,
            Le => ua <= ub,
            Sgt => a > b,
            Sge => a >= b,
            Slt => a < b,
            Sle => a <= b,
        }
    }
}

/// The map helpers a hook calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOp {
    /// `bpf_map_lookup_elem(map, &key)`: a pointer to the value, or 0.
    Lookup,
    /// `bpf_map_update_elem(map, &key, &value, BPF_ANY)`: 0, or a negative errno.
    Update,
    /// `bpf_map_delete_elem(map, &key)`: 0, or a negative errno.
    Delete,
}

impl MapOp {
    pub fn helper(self) -> i32 {
        use crate::maps::helper::*;
        match self {
            MapOp::Lookup => MAP_LOOKUP_ELEM,
            MapOp::Update => MAP_UPDATE_ELEM,
            MapOp::Delete => MAP_DELETE_ELEM,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// `dst = src`.
    Mov {
        dst: VReg,
        src: Opnd,
    },
    /// `dst op= src` (64-bit). Shift counts are immediates in 0..64 or registers.
    Alu {
        op: AluOp,
        dst: VReg,
        src: Opnd,
    },
    /// `dst = -dst`.
    Neg {
        dst: VReg,
    },
    /// `dst = htobe<bits>(dst)`: a byte swap on little-endian hosts; 16 and 32 zero-extend.
    Swap {
        dst: VReg,
        bits: u8,
    },
    /// `dst = (u32)dst`.
    Zext32 {
        dst: VReg,
    },
    /// `dst = data_end - data`.
    PktLen {
        dst: VReg,
    },
    /// `if off >u MAX_VAR_OFF goto fail; dst = data + off` (a packet pointer).
    PktPtr {
        dst: VReg,
        off: VReg,
        fail: Label,
    },
    /// `if ptr + end > data_end goto fail`. A register `end` must be known `<= MAX_VAR_OFF`.
    PktCheck {
        ptr: VReg,
        end: Opnd,
        fail: Label,
    },
    /// Netfilter only ([`crate::slices`]): `dst = bpf_dynptr_slice(packet, off, NULL, size)`,
    /// `goto fail` when it gives NULL (past the end, or outside the skb's linear data).
    Slice {
        dst: VReg,
        off: Opnd,
        size: i64,
        fail: Label,
    },
    /// `dst = *(size *)(ptr + off)`, sign-extended when `signed`.
    Load {
        dst: VReg,
        ptr: VReg,
        off: i16,
        size: u8,
        signed: bool,
    },
    /// `*(size *)(ptr + off) = src`.
    Store {
        ptr: VReg,
        off: i16,
        size: u8,
        src: Opnd,
    },
    Jmp {
        target: Label,
    },
    /// `if a cond b goto target` (64-bit compare, or of the low 32 bits when `w32`).
    Br {
        cond: Cond,
        a: VReg,
        b: Opnd,
        target: Label,
        w32: bool,
    },
    Label(Label),
    /// `return src` (r0 = src; exit).
    Ret {
        src: Opnd,
    },
    /// A helper call (clobbers r0-r5); the subset has none yet.
    Call {
        helper: i32,
    },
    /// A map helper call (clobbers r0-r5): the low `key_size` bytes of `key` (host order, so
    /// already packed as the map's layout wants) go to the key buffer, `value` likewise to
    /// the value buffer, the map `map` (a [`lunet_types::MapRef`] id) to r1; `dst` gets r0.
    MapCall {
        op: MapOp,
        map: usize,
        key: Opnd,
        key_size: u8,
        value: Option<(Opnd, u8)>,
        dst: Option<VReg>,
    },
    /// `may_goto target`: jumps when the kernel's loop budget for this run is spent.
    MayGoto {
        target: Label,
    },
    /// `*(size *)(record + at) = src` (its low `size` bytes): a field of the print record
    /// being built on the stack ([`crate::print`]).
    PrintStore {
        at: u16,
        size: u8,
        src: Opnd,
    },
    /// `bpf_xdp_load_bytes(ctx, off, record + at, n)` with `n = len` clamped to
    /// `1..=STR_CAP` (clobbers r0-r5): a packet string's first bytes into the record.
    PrintCopy {
        at: u16,
        off: Opnd,
        len: Opnd,
    },
    /// `bpf_ringbuf_output(print ring, record, size, 0)` for print site `site`; a refused
    /// record adds one to the lost-records counter (clobbers r0-r5).
    PrintEmit {
        site: usize,
        size: u16,
    },
}

impl Inst {
    /// Virtual registers read.
    pub fn uses(&self) -> Vec<VReg> {
        let mut u = Vec::new();
        let mut op = |o: &Opnd| {
            if let Opnd::V(v) = o {
                u.push(*v)
            }
        };
        match self {
            Inst::Mov { src, .. } => op(src),
            Inst::Alu { dst, src, .. } => {
                op(&Opnd::V(*dst));
                op(src)
            }
            Inst::Neg { dst } | Inst::Swap { dst, .. } | Inst::Zext32 { dst } => op(&Opnd::V(*dst)),
            Inst::PktLen { .. } => {}
            Inst::PktPtr { off, .. } => op(&Opnd::V(*off)),
            Inst::PktCheck { ptr, end, .. } => {
                op(&Opnd::V(*ptr));
                op(end)
            }
            Inst::Load { ptr, .. } => op(&Opnd::V(*ptr)),
            Inst::Slice { off, .. } => op(off),
            Inst::Store { ptr, src, .. } => {
                op(&Opnd::V(*ptr));
                op(src)
            }
            Inst::Br { a, b, .. } => {
                op(&Opnd::V(*a));
                op(b)
            }
            Inst::Ret { src } => op(src),
            Inst::MapCall { key, value, .. } => {
                op(key);
                if let Some((v, _)) = value {
                    op(v)
                }
            }
            Inst::PrintStore { src, .. } => op(src),
            Inst::PrintCopy { off, len, .. } => {
                op(off);
                op(len)
            }
            Inst::Jmp { .. }
            | Inst::Label(_)
            | Inst::Call { .. }
            | Inst::MayGoto { .. }
            | Inst::PrintEmit { .. } => {}
        }
        u.retain(|v| *v != DATA);
        u
    }

    /// The virtual register written, if any.
    pub fn def(&self) -> Option<VReg> {
        match self {
            Inst::Mov { dst, .. }
            | Inst::Alu { dst, .. }
            | Inst::Neg { dst }
            | Inst::Swap { dst, .. }
            | Inst::Zext32 { dst }
            | Inst::PktLen { dst }
            | Inst::PktPtr { dst, .. }
            | Inst::Slice { dst, .. }
            | Inst::Load { dst, .. } => Some(*dst),
            Inst::MapCall { dst, .. } => *dst,
            _ => None,
        }
    }

    /// Where control may go besides the next instruction.
    pub fn target(&self) -> Option<Label> {
        match self {
            Inst::Jmp { target } | Inst::Br { target, .. } | Inst::MayGoto { target } => {
                Some(*target)
            }
            Inst::PktPtr { fail, .. } | Inst::PktCheck { fail, .. } | Inst::Slice { fail, .. } => {
                Some(*fail)
            }
            _ => None,
        }
    }

    pub(crate) fn target_mut(&mut self) -> Option<&mut Label> {
        match self {
            Inst::Jmp { target } | Inst::Br { target, .. } | Inst::MayGoto { target } => {
                Some(target)
            }
            Inst::PktPtr { fail, .. } | Inst::PktCheck { fail, .. } | Inst::Slice { fail, .. } => {
                Some(fail)
            }
            _ => None,
        }
    }

    /// A helper call: r0-r5 do not survive it.
    pub fn is_call(&self) -> bool {
        matches!(
            self,
            Inst::Call { .. }
                | Inst::MapCall { .. }
                | Inst::Slice { .. }
                | Inst::PrintCopy { .. }
                | Inst::PrintEmit { .. }
        )
    }

    /// Control never reaches the next instruction.
    pub fn ends_flow(&self) -> bool {
        matches!(self, Inst::Jmp { .. } | Inst::Ret { .. })
    }
}

/// A lowered hook.
#[derive(Clone, Debug, Default)]
pub struct Ir {
    /// Instructions with their Lua lines.
    pub insts: Vec<(Inst, u32)>,
    pub nvregs: u32,
    pub nlabels: u32,
    /// The line the program starts at (the hook's `function`).
    pub first_line: u32,
    /// The names of the maps [`Inst::MapCall`]s use, by id.
    pub map_names: std::collections::BTreeMap<usize, String>,
    /// The print calls, by the site ids [`Inst::PrintEmit`]s name.
    pub prints: Vec<crate::print::PrintSite>,
}

impl Ir {
    /// Keeps the instructions whose entry in `keep` is true (and any past its end).
    pub fn retain_marked(&mut self, keep: &[bool]) {
        let mut it = keep.iter();
        self.insts.retain(|_| *it.next().unwrap_or(&true));
    }
}

/// Basic blocks of `insts`: `(start, end)` index ranges, and each block's successors.
pub fn blocks(insts: &[(Inst, u32)]) -> (Vec<(usize, usize)>, Vec<Vec<usize>>) {
    let n = insts.len();
    let mut starts = vec![false; n + 1];
    if n > 0 {
        starts[0] = true;
    }
    for (i, (inst, _)) in insts.iter().enumerate() {
        if matches!(inst, Inst::Label(_)) {
            starts[i] = true;
        }
        if inst.target().is_some() || inst.ends_flow() {
            starts[i + 1] = true;
        }
    }
    let mut ranges = Vec::new();
    let mut s = 0;
    for (i, start) in starts.iter().enumerate().skip(1) {
        if *start {
            ranges.push((s, i));
            s = i;
        }
    }
    if n > 0 && s < n {
        ranges.push((s, n));
    }
    let mut block_of_label = HashMap::new();
    for (b, &(s, _)) in ranges.iter().enumerate() {
        let mut i = s;
        while i < n {
            if let Inst::Label(l) = insts[i].0 {
                block_of_label.insert(l, b);
                i += 1;
                if i < n && starts[i] {
                    break;
                }
            } else {
                break;
            }
        }
    }
    // Labels in the middle of a block cannot happen: every label starts one.
    let succ = ranges
        .iter()
        .enumerate()
        .map(|(b, &(_, e))| {
            let mut out = Vec::new();
            let last = &insts[e - 1].0;
            if let Some(t) = last.target() {
                if let Some(&tb) = block_of_label.get(&t) {
                    out.push(tb);
                }
            }
            // Packet checks branch out in the middle of a block too; they are block ends.
            if !last.ends_flow() && b + 1 < ranges.len() {
                out.push(b + 1);
            }
            out
        })
        .collect();
    (ranges, succ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{add, ir, mov, ret, ret_v};

    #[test]
    fn blocks_start_at_labels_and_end_after_jumps() {
        let p = ir(
            vec![
                mov(0, 1),
                Inst::Br {
                    cond: Cond::Eq,
                    a: 0,
                    b: Opnd::Imm(0),
                    target: 1,
                    w32: false,
                },
                Inst::PktCheck {
                    ptr: DATA,
                    end: Opnd::Imm(4),
                    fail: 1,
                },
                ret(3),
                Inst::Label(1),
                ret(2),
            ],
            1,
        );
        let (ranges, succ) = blocks(&p.insts);
        assert_eq!(ranges, [(0, 2), (2, 3), (3, 4), (4, 6)]);
        // The branch and the check go to L1 or on; a return goes nowhere.
        assert_eq!(succ, [vec![3, 1], vec![3, 2], vec![], vec![]]);
    }

    #[test]
    fn the_text_form_marks_lines_and_labels() {
        let mut p = ir(
            vec![
                Inst::Load {
                    dst: 0,
                    ptr: DATA,
                    off: 12,
                    size: 2,
                    signed: false,
                },
                Inst::Label(3),
                ret_v(0),
            ],
            1,
        );
        p.insts[1].1 = 1;
        assert_eq!(
            p.to_string(),
            "; line 1\n    v0 = *(u16 *)(data + 12)\nL3:\n; line 3\n    return v0\n"
        );
    }

    #[test]
    fn uses_and_defs_leave_out_the_packet_pointer() {
        let store = Inst::Store {
            ptr: DATA,
            off: 0,
            size: 1,
            src: Opnd::V(4),
        };
        assert_eq!(store.uses(), [4]);
        assert_eq!(store.def(), None);
        let alu = add(2, Opnd::V(3));
        assert_eq!(alu.uses(), [2, 3]);
        assert_eq!(alu.def(), Some(2));
    }
}
