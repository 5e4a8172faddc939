//! The IR: a list of instructions over virtual registers, each tagged with its Lua line.
//!
//! As in ply, a value is an immediate, a virtual register or (after allocation) a stack slot;
//! labels are resolved late. Packet access is explicit: [`Inst::PktPtr`] bounds a variable
//! offset and makes a pointer, [`Inst::PktCheck`] compares `ptr + end` with `data_end`,
//! [`Inst::Load`]/[`Inst::Store`] then touch memory without checks of their own. [`DATA`] is
//! the packet's start pointer, live for the whole program. [`Inst::MapCall`] is a map helper
//! call with its key and value buffers: the emitter puts them on the stack.

use std::collections::HashMap;
use std::fmt;

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
    /// the value buffer, the map `map` (a [`crate::MapRef`] id) to r1; `dst` gets r0.
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
            Inst::PktPtr { fail, .. } | Inst::PktCheck { fail, .. } => Some(*fail),
            _ => None,
        }
    }

    fn target_mut(&mut self) -> Option<&mut Label> {
        match self {
            Inst::Jmp { target } | Inst::Br { target, .. } | Inst::MayGoto { target } => {
                Some(target)
            }
            Inst::PktPtr { fail, .. } | Inst::PktCheck { fail, .. } => Some(fail),
            _ => None,
        }
    }

    /// A helper call: r0-r5 do not survive it.
    pub fn is_call(&self) -> bool {
        matches!(
            self,
            Inst::Call { .. }
                | Inst::MapCall { .. }
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

fn vr(v: VReg) -> String {
    if v == DATA {
        "data".into()
    } else {
        format!("v{v}")
    }
}

impl fmt::Display for Opnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opnd::Imm(k) => write!(f, "{k}"),
            Opnd::V(v) => f.write_str(&vr(*v)),
        }
    }
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inst::Mov { dst, src } => write!(f, "{} = {src}", vr(*dst)),
            Inst::Alu { op, dst, src } => {
                let o = match op {
                    AluOp::Add => "+=",
                    AluOp::Sub => "-=",
                    AluOp::Mul => "*=",
                    AluOp::Div => "/=u",
                    AluOp::Mod => "%=u",
                    AluOp::Or => "|=",
                    AluOp::And => "&=",
                    AluOp::Xor => "^=",
                    AluOp::Lsh => "<<=",
                    AluOp::Rsh => ">>=",
                    AluOp::Arsh => "s>>=",
                };
                write!(f, "{} {o} {src}", vr(*dst))
            }
            Inst::Neg { dst } => write!(f, "{0} = -{0}", vr(*dst)),
            Inst::Swap { dst, bits } => write!(f, "{0} = be{bits}({0})", vr(*dst)),
            Inst::Zext32 { dst } => write!(f, "{0} = (u32){0}", vr(*dst)),
            Inst::PktLen { dst } => write!(f, "{} = data_end - data", vr(*dst)),
            Inst::PktPtr { dst, off, fail } => {
                write!(
                    f,
                    "{} = data + {} (off <= {MAX_VAR_OFF} else L{fail})",
                    vr(*dst),
                    vr(*off)
                )
            }
            Inst::PktCheck { ptr, end, fail } => {
                write!(f, "check {} + {end} <= data_end else L{fail}", vr(*ptr))
            }
            Inst::Load {
                dst,
                ptr,
                off,
                size,
                signed,
            } => write!(
                f,
                "{} = *({}{} *)({} + {off})",
                vr(*dst),
                if *signed { "s" } else { "u" },
                size * 8,
                vr(*ptr)
            ),
            Inst::Store {
                ptr,
                off,
                size,
                src,
            } => {
                write!(f, "*(u{} *)({} + {off}) = {src}", size * 8, vr(*ptr))
            }
            Inst::Jmp { target } => write!(f, "goto L{target}"),
            Inst::Br {
                cond,
                a,
                b,
                target,
                w32,
            } => write!(
                f,
                "if {}{} {:?} {b} goto L{target}",
                if *w32 { "(u32)" } else { "" },
                vr(*a),
                cond
            ),
            Inst::Label(l) => write!(f, "L{l}:"),
            Inst::Ret { src } => write!(f, "return {src}"),
            Inst::Call { helper } => write!(f, "call {helper}"),
            Inst::MapCall {
                op,
                map,
                key,
                key_size,
                value,
                dst,
            } => {
                if let Some(d) = dst {
                    write!(f, "{} = ", vr(*d))?;
                }
                let op = match op {
                    MapOp::Lookup => "lookup",
                    MapOp::Update => "update",
                    MapOp::Delete => "delete",
                };
                write!(f, "map_{op}(map#{map}, key {key} as u{}", key_size * 8)?;
                if let Some((v, n)) = value {
                    write!(f, ", value {v} as u{}", n * 8)?;
                }
                f.write_str(")")
            }
            Inst::MayGoto { target } => write!(f, "may_goto L{target}"),
            Inst::PrintStore { at, size, src } => {
                write!(f, "*(u{} *)(record + {at}) = {src}", size * 8)
            }
            Inst::PrintCopy { at, off, len } => {
                write!(f, "record + {at} <- packet[{off}..][..{len}]")
            }
            Inst::PrintEmit { site, size } => write!(f, "print site {site} ({size} bytes)"),
        }
    }
}

impl fmt::Display for Ir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = 0;
        for (inst, l) in &self.insts {
            if *l != line {
                writeln!(f, "; line {l}")?;
                line = *l;
            }
            match inst {
                Inst::Label(_) => writeln!(f, "{inst}")?,
                _ => writeln!(f, "    {inst}")?,
            }
        }
        Ok(())
    }
}

/// Removes unreachable instructions (the verifier refuses them), threads jumps to jumps,
/// drops jumps to the next instruction. Repeats until nothing changes.
pub fn cleanup(ir: &mut Ir) {
    for _ in 0..16 {
        let mut changed = thread_jumps(ir);
        changed |= drop_jumps_to_next(ir);
        changed |= drop_unreachable(ir);
        if !changed {
            break;
        }
    }
}

fn label_positions(insts: &[(Inst, u32)]) -> HashMap<Label, usize> {
    insts
        .iter()
        .enumerate()
        .filter_map(|(i, (inst, _))| match inst {
            Inst::Label(l) => Some((*l, i)),
            _ => None,
        })
        .collect()
}

/// The first non-label instruction at or after `i`.
fn first_real(insts: &[(Inst, u32)], mut i: usize) -> Option<usize> {
    while i < insts.len() {
        if !matches!(insts[i].0, Inst::Label(_)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn thread_jumps(ir: &mut Ir) -> bool {
    let pos = label_positions(&ir.insts);
    // Where a jump to each label really goes: follow chains of unconditional jumps.
    let resolve = |mut l: Label| {
        for _ in 0..64 {
            let Some(&p) = pos.get(&l) else { return l };
            match first_real(&ir.insts, p).map(|i| &ir.insts[i].0) {
                Some(Inst::Jmp { target }) if *target != l => l = *target,
                _ => return l,
            }
        }
        l
    };
    let mut new = Vec::new();
    for (i, (inst, _)) in ir.insts.iter().enumerate() {
        if let Some(t) = inst.target() {
            let r = resolve(t);
            if r != t {
                new.push((i, r));
            }
        }
    }
    let mut changed = !new.is_empty();
    for (i, r) in new {
        if let Some(t) = ir.insts[i].0.target_mut() {
            *t = r;
        }
    }
    // A jump to a `return`: copy the return (it is one instruction either way, and the
    // code after the jump's block may then become unreachable).
    for i in 0..ir.insts.len() {
        if let Inst::Jmp { target } = ir.insts[i].0 {
            if let Some(&p) = pos.get(&target) {
                if let Some(j) = first_real(&ir.insts, p) {
                    if let Inst::Ret { src } = ir.insts[j].0 {
                        ir.insts[i].0 = Inst::Ret { src };
                        changed = true;
                    }
                }
            }
        }
    }
    changed
}

fn drop_jumps_to_next(ir: &mut Ir) -> bool {
    let mut keep = vec![true; ir.insts.len()];
    for (i, (inst, _)) in ir.insts.iter().enumerate() {
        let t = match inst {
            Inst::Jmp { target } | Inst::Br { target, .. } => *target,
            _ => continue,
        };
        // Only labels between the jump and its target.
        let mut j = i + 1;
        while j < ir.insts.len() {
            match ir.insts[j].0 {
                Inst::Label(l) if l == t => {
                    keep[i] = false;
                    break;
                }
                Inst::Label(_) => j += 1,
                _ => break,
            }
        }
    }
    let changed = keep.iter().any(|k| !k);
    let mut it = keep.iter();
    ir.insts.retain(|_| *it.next().unwrap_or(&true));
    changed
}

fn drop_unreachable(ir: &mut Ir) -> bool {
    let pos = label_positions(&ir.insts);
    let n = ir.insts.len();
    let mut seen = vec![false; n];
    let mut work = vec![0usize];
    while let Some(mut i) = work.pop() {
        while i < n && !seen[i] {
            seen[i] = true;
            let inst = &ir.insts[i].0;
            if let Some(t) = inst.target() {
                if let Some(&p) = pos.get(&t) {
                    work.push(p);
                }
            }
            if inst.ends_flow() {
                break;
            }
            i += 1;
        }
    }
    let changed = seen.iter().any(|s| !s);
    let mut it = seen.iter();
    ir.insts.retain(|_| *it.next().unwrap_or(&true));
    changed
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
