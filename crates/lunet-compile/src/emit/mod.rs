//! Pass `emit`: IR to eBPF instructions, with the Lua line of each.
//!
//! `r9` = `data` and `r8` = `data_end` are loaded from the `xdp_md` in the prologue and kept
//! for the whole program. `r0` and `r1` are scratch: a spilled value is loaded into one for
//! the instruction that needs it and stored back after.
//!
//! Stack: spill slot `k` is the 8 bytes at `r10 - 8 * (k + 1)`; a program with map calls has
//! two more 8-byte slots below the spill slots, the key buffer and the value buffer. A map
//! call stores its key (and value) there, 8-byte aligned as the verifier wants stack accesses,
//! loads the map into r1 (an `ld_imm64` with `BPF_PSEUDO_MAP_FD`, recorded in
//! [`Program::maps`] for the loader to patch), points r2 (and r3) at the buffers, sets r4 to
//! `BPF_ANY` for an update, calls the helper and copies r0 to the result's place.
//!
//! A program that prints has below those the context pointer, saved in the prologue when a
//! print copies packet bytes (`bpf_xdp_load_bytes` takes it), and the print record, as large
//! as its largest print site's ([`crate::print`]): each print call builds its record there and
//! hands it to `bpf_ringbuf_output`.

use std::collections::HashMap;

use lunet_bpf::insn::{op, reg::*, Insn};

use crate::error::CodegenError;
use crate::hook::{HookInput, Netfilter, Target};
use crate::ir::{self, AluOp, Cond, Inst, Ir, Label, MapOp, Opnd, VReg, DATA};
use crate::maps::{MapUse, UNPATCHED_FD};
use crate::print;
use crate::program::Program;
use crate::regalloc::{Alloc, Loc};

mod netfilter;
mod printing;

/// `BPF_JCOND`, the jump class of `may_goto`.
pub const JCOND: u8 = 0xe0;

const A: u8 = R0;
const B: u8 = R1;
const DATA_REG: u8 = R9;
const END_REG: u8 = R8;

struct Emitter<'a> {
    alloc: &'a Alloc,
    insns: Vec<Insn>,
    lines: Vec<u32>,
    line: u32,
    labels: HashMap<Label, usize>,
    fixups: Vec<(usize, Label)>,
    /// The map loads emitted so far.
    maps: Vec<MapUse>,
    map_names: &'a std::collections::BTreeMap<usize, String>,
    /// Offsets from r10 of the key and value buffers.
    key_buf: i16,
    value_buf: i16,
    /// Offset from r10 of the print record, and of the saved context pointer.
    record: i16,
    ctx_slot: i16,
    /// A netfilter program: the registration, and the stack offsets of the saved
    /// `struct sk_buff *` and of the packet's dynptr.
    nf: Option<Netfilter>,
    skb_slot: i16,
    dynptr: i16,
    /// The exits the verdict counters skip (the mark filter's).
    uncounted: Vec<usize>,
}

fn fits_i32(k: i64) -> bool {
    i32::try_from(k).is_ok()
}

fn slot_off(k: u16) -> i16 {
    -8 * (k as i16 + 1)
}

fn alu_op(o: AluOp) -> u8 {
    match o {
        AluOp::Add => op::ADD,
        AluOp::Sub => op::SUB,
        AluOp::Mul => op::MUL,
        AluOp::Div => op::DIV,
        AluOp::Mod => op::MOD,
        AluOp::Or => op::OR,
        AluOp::And => op::AND,
        AluOp::Xor => op::XOR,
        AluOp::Lsh => op::LSH,
        AluOp::Rsh => op::RSH,
        AluOp::Arsh => op::ARSH,
    }
}

fn jmp_op(c: Cond) -> u8 {
    match c {
        Cond::Eq => op::JEQ,
        Cond::Ne => op::JNE,
        Cond::Gt => op::JGT,
        Cond::Ge => op::JGE,
        Cond::Lt => op::JLT,
        Cond::Le => op::JLE,
        Cond::Sgt => op::JSGT,
        Cond::Sge => op::JSGE,
        Cond::Slt => op::JSLT,
        Cond::Sle => op::JSLE,
    }
}

fn size_op(size: u8) -> u8 {
    match size {
        1 => op::B,
        2 => op::H,
        4 => op::W,
        _ => op::DW,
    }
}

impl Emitter<'_> {
    fn push(&mut self, i: Insn) {
        self.insns.push(i);
        self.lines.push(self.line);
    }

    fn push2(&mut self, [a, b]: [Insn; 2]) {
        self.push(a);
        self.push(b);
    }

    fn loc(&self, v: VReg) -> Result<Loc, CodegenError> {
        if v == DATA {
            return Ok(Loc::Reg(DATA_REG));
        }
        self.alloc.loc(v).ok_or(CodegenError::NoLocation(v))
    }

    /// `dst = k`.
    fn mov_imm(&mut self, dst: u8, k: i64) {
        if fits_i32(k) {
            self.push(Insn::mov64_imm(dst, k as i32));
        } else if (0..=u32::MAX as i64).contains(&k) {
            self.push(Insn::mov32_imm(dst, k as u32 as i32));
        } else {
            self.push2(Insn::ld_imm64(dst, k as u64));
        }
    }

    /// The register holding `v`, loading it into `scratch` when it is spilled.
    fn read(&mut self, v: VReg, scratch: u8) -> Result<u8, CodegenError> {
        match self.loc(v)? {
            Loc::Reg(r) => Ok(r),
            Loc::Slot(k) => {
                self.push(Insn::ldx(op::DW, scratch, R10, slot_off(k)));
                Ok(scratch)
            }
        }
    }

    /// An operand in a register (immediates go to `scratch`).
    fn read_opnd(&mut self, o: Opnd, scratch: u8) -> Result<u8, CodegenError> {
        match o {
            Opnd::V(v) => self.read(v, scratch),
            Opnd::Imm(k) => {
                self.mov_imm(scratch, k);
                Ok(scratch)
            }
        }
    }

    /// The register to compute `v` in: its own, or `scratch` when it is spilled.
    fn dst(&self, v: VReg, scratch: u8) -> Result<u8, CodegenError> {
        Ok(match self.loc(v)? {
            Loc::Reg(r) => r,
            Loc::Slot(_) => scratch,
        })
    }

    fn write_back(&mut self, v: VReg, r: u8) -> Result<(), CodegenError> {
        if let Loc::Slot(k) = self.loc(v)? {
            self.push(Insn::stx(op::DW, R10, slot_off(k), r));
        }
        Ok(())
    }

    /// `*(size *)(r10 + off) = o`: the low `size` bytes of `o`.
    fn store_stack(&mut self, off: i16, o: Opnd, size: u8) -> Result<(), CodegenError> {
        match o {
            Opnd::Imm(k) if size < 8 || fits_i32(k) => {
                // Narrow stores take the low bytes of the (truncated) immediate.
                self.push(Insn::st_imm(size_op(size), R10, off, k as i32))
            }
            o => {
                let r = self.read_opnd(o, A)?;
                self.push(Insn::stx(size_op(size), R10, off, r));
            }
        }
        Ok(())
    }

    fn map_call(
        &mut self,
        op: MapOp,
        map: usize,
        key: (Opnd, u8),
        value: Option<(Opnd, u8)>,
        dst: Option<VReg>,
    ) -> Result<(), CodegenError> {
        // The operands are read before r1-r5 are set: the allocator may have put them there.
        self.store_stack(self.key_buf, key.0, key.1)?;
        if let Some((v, size)) = value {
            self.store_stack(self.value_buf, v, size)?;
        }
        let name = self
            .map_names
            .get(&map)
            .cloned()
            .unwrap_or_else(|| format!("map#{map}"));
        self.maps.push(MapUse {
            insn: self.insns.len(),
            map_id: map,
            name,
        });
        self.push2(Insn::ld_map_fd(R1, UNPATCHED_FD));
        self.push(Insn::mov64_reg(R2, R10));
        self.push(Insn::alu64_imm(op::ADD, R2, self.key_buf as i32));
        if op == MapOp::Update {
            self.push(Insn::mov64_reg(R3, R10));
            self.push(Insn::alu64_imm(op::ADD, R3, self.value_buf as i32));
            self.push(Insn::mov64_imm(R4, 0)); // BPF_ANY
        }
        self.push(Insn::call(op.helper()));
        if let Some(d) = dst {
            match self.loc(d)? {
                Loc::Reg(r) => self.push(Insn::mov64_reg(r, R0)),
                Loc::Slot(k) => self.push(Insn::stx(op::DW, R10, slot_off(k), R0)),
            }
        }
        Ok(())
    }

    /// `r1 = map` for one of the print maps.
    fn load_map(&mut self, map_id: usize, name: &str) {
        self.maps.push(MapUse {
            insn: self.insns.len(),
            map_id,
            name: name.to_string(),
        });
        self.push2(Insn::ld_map_fd(R1, UNPATCHED_FD));
    }

    fn jump(&mut self, i: Insn, target: Label) {
        self.fixups.push((self.insns.len(), target));
        self.push(i);
    }

    fn inst(&mut self, inst: &Inst) -> Result<(), CodegenError> {
        match *inst {
            Inst::Mov { dst, src } => match (self.loc(dst)?, src) {
                (Loc::Reg(d), Opnd::Imm(k)) => self.mov_imm(d, k),
                (Loc::Reg(d), Opnd::V(s)) => match self.loc(s)? {
                    Loc::Reg(r) if r == d => {}
                    Loc::Reg(r) => self.push(Insn::mov64_reg(d, r)),
                    Loc::Slot(k) => self.push(Insn::ldx(op::DW, d, R10, slot_off(k))),
                },
                (Loc::Slot(k), src) => {
                    if src == Opnd::V(dst) {
                        return Ok(());
                    }
                    if let Opnd::V(s) = src {
                        if self.loc(s)? == Loc::Slot(k) {
                            return Ok(());
                        }
                    }
                    let r = self.read_opnd(src, A)?;
                    self.push(Insn::stx(op::DW, R10, slot_off(k), r));
                }
            },
            Inst::Alu { op: o, dst, src } => {
                let d = self.read(dst, A)?;
                match src {
                    Opnd::Imm(k) if fits_i32(k) => {
                        self.push(Insn::alu64_imm(alu_op(o), d, k as i32))
                    }
                    src => {
                        let s = self.read_opnd(src, B)?;
                        self.push(Insn::alu64_reg(alu_op(o), d, s));
                    }
                }
                self.write_back(dst, d)?;
            }
            Inst::Neg { dst } => {
                let d = self.read(dst, A)?;
                self.push(Insn::alu64_imm(op::NEG, d, 0));
                self.write_back(dst, d)?;
            }
            Inst::Swap { dst, bits } => {
                let d = self.read(dst, A)?;
                self.push(Insn::to_be(d, bits as i32));
                self.write_back(dst, d)?;
            }
            Inst::Zext32 { dst } => {
                let d = self.read(dst, A)?;
                self.push(Insn::alu32_reg(op::MOV, d, d));
                self.write_back(dst, d)?;
            }
            Inst::PktLen { dst } => {
                let d = self.dst(dst, A)?;
                if let Some(nf) = self.nf {
                    // skb->len: the bytes from the network header on.
                    self.push(Insn::ldx(op::DW, d, R10, self.skb_slot));
                    self.push(Insn::ldx(op::W, d, d, nf.kernel.skb_len));
                } else {
                    self.push(Insn::mov64_reg(d, END_REG));
                    self.push(Insn::alu64_reg(op::SUB, d, DATA_REG));
                }
                self.write_back(dst, d)?;
            }
            Inst::Slice {
                dst,
                off,
                size,
                fail,
            } => self.slice(dst, off, size, fail)?,
            Inst::PktPtr { dst, off, fail } => {
                let o = self.read(off, B)?;
                self.jump(Insn::jmp_imm(op::JGT, o, ir::MAX_VAR_OFF as i32, 0), fail);
                let d = self.dst(dst, A)?;
                if d != o {
                    self.push(Insn::mov64_reg(d, o));
                }
                self.push(Insn::alu64_reg(op::ADD, d, DATA_REG));
                self.write_back(dst, d)?;
            }
            Inst::PktCheck { ptr, end, fail } => {
                match self.loc(ptr)? {
                    Loc::Reg(p) => self.push(Insn::mov64_reg(A, p)),
                    Loc::Slot(k) => self.push(Insn::ldx(op::DW, A, R10, slot_off(k))),
                }
                match end {
                    Opnd::Imm(k) => self.push(Insn::alu64_imm(op::ADD, A, k as i32)),
                    Opnd::V(v) => {
                        let e = self.read(v, B)?;
                        self.push(Insn::alu64_reg(op::ADD, A, e));
                    }
                }
                self.jump(Insn::jmp_reg(op::JGT, A, END_REG, 0), fail);
            }
            Inst::Load {
                dst,
                ptr,
                off,
                size,
                signed,
            } => {
                let p = self.read(ptr, B)?;
                let d = self.dst(dst, A)?;
                self.push(Insn::ldx(size_op(size), d, p, off));
                if signed && size < 8 {
                    let sh = 64 - 8 * size as i32;
                    self.push(Insn::alu64_imm(op::LSH, d, sh));
                    self.push(Insn::alu64_imm(op::ARSH, d, sh));
                }
                self.write_back(dst, d)?;
            }
            Inst::Store {
                ptr,
                off,
                size,
                src,
            } => {
                let p = self.read(ptr, A)?;
                let s = match src {
                    Opnd::Imm(k) if size < 8 => {
                        self.push(Insn::mov64_imm(B, k as i32));
                        B
                    }
                    src => self.read_opnd(src, B)?,
                };
                self.push(Insn::stx(size_op(size), p, off, s));
            }
            Inst::Jmp { target } => self.jump(Insn::ja(0), target),
            Inst::Br {
                cond,
                a,
                b,
                target,
                w32,
            } => {
                let ra = self.read(a, A)?;
                match b {
                    Opnd::Imm(k) if w32 => self.jump(
                        Insn::jmp32_imm(jmp_op(cond), ra, k as u32 as i32, 0),
                        target,
                    ),
                    Opnd::Imm(k) if fits_i32(k) => {
                        self.jump(Insn::jmp_imm(jmp_op(cond), ra, k as i32, 0), target)
                    }
                    b => {
                        let rb = self.read_opnd(b, B)?;
                        self.jump(Insn::jmp_reg(jmp_op(cond), ra, rb, 0), target);
                    }
                }
            }
            Inst::Label(l) => {
                self.labels.insert(l, self.insns.len());
            }
            Inst::Ret { src } => {
                match src {
                    Opnd::Imm(k) => self.mov_imm(R0, k),
                    Opnd::V(v) => match self.loc(v)? {
                        Loc::Reg(r) => self.push(Insn::mov64_reg(R0, r)),
                        Loc::Slot(k) => self.push(Insn::ldx(op::DW, R0, R10, slot_off(k))),
                    },
                }
                self.push(Insn::exit());
            }
            Inst::Call { helper } => self.push(Insn::call(helper)),
            Inst::MapCall {
                op,
                map,
                key,
                key_size,
                value,
                dst,
            } => self.map_call(op, map, (key, key_size), value, dst)?,
            // BPF_JMP | BPF_JCOND, src_reg BPF_MAY_GOTO (Linux 6.9): no constructor in lunet-bpf.
            Inst::MayGoto { target } => self.jump(Insn::new(op::JMP | JCOND, 0, 0, 0, 0), target),
            Inst::PrintStore { at, size, src } => {
                self.store_stack(self.record + at as i16, src, size)?
            }
            Inst::PrintCopy { at, off, len } => self.print_copy(at, off, len)?,
            Inst::PrintEmit { size, .. } => self.print_emit(size),
        }
        Ok(())
    }
}

/// A copy between registers the allocator merged: no instruction.
fn is_nop(inst: &Inst, alloc: &Alloc) -> bool {
    match inst {
        Inst::Mov {
            dst,
            src: Opnd::V(s),
        } => dst == s || (alloc.loc(*dst).is_some() && alloc.loc(*dst) == alloc.loc(*s)),
        _ => false,
    }
}

pub fn emit(ir_in: &Ir, alloc: &Alloc, input: &HookInput) -> Result<Program, CodegenError> {
    let has_maps = ir_in
        .insts
        .iter()
        .any(|(i, _)| matches!(i, Inst::MapCall { .. }));
    let copies = ir_in
        .insts
        .iter()
        .any(|(i, _)| matches!(i, Inst::PrintCopy { .. }));
    let record_size = ir_in
        .prints
        .iter()
        .map(print::PrintSite::record_size)
        .max()
        .unwrap_or(0);
    let nf = match input.target {
        Target::Netfilter(nf) => Some(nf),
        Target::Xdp => None,
    };
    let mut stack = 8 * (alloc.slots + if has_maps { 2 } else { 0 });
    let (skb_slot, dynptr) = if nf.is_some() {
        stack += 24;
        (-(stack as i64) + 16, -(stack as i64))
    } else {
        (0, 0)
    };
    let copies = copies && nf.is_none();
    let ctx_slot = if copies {
        stack += 8;
        -(stack as i64)
    } else {
        0
    };
    stack += record_size;
    let record = -(stack as i64);
    if stack > 512 {
        return Err(CodegenError::StackTooLarge(stack));
    }
    // Drop the copies allocation made free, then thread the jumps they left behind.
    let mut ir = ir_in.clone();
    ir.insts.retain(|(i, _)| !is_nop(i, alloc));
    crate::cleanup::run(&mut ir);
    let mut e = Emitter {
        alloc,
        insns: Vec::new(),
        lines: Vec::new(),
        line: ir.first_line,
        labels: HashMap::new(),
        fixups: Vec::new(),
        maps: Vec::new(),
        map_names: &ir_in.map_names,
        key_buf: -8 * (alloc.slots as i16 + 1),
        value_buf: -8 * (alloc.slots as i16 + 2),
        record: record as i16,
        ctx_slot: ctx_slot as i16,
        nf,
        skb_slot: skb_slot as i16,
        dynptr: dynptr as i16,
        uncounted: Vec::new(),
    };
    if let Some(nf) = nf {
        let reads = ir
            .insts
            .iter()
            .any(|(i, _)| matches!(i, Inst::Slice { .. } | Inst::PrintCopy { .. }));
        e.nf_prologue(nf, reads);
    } else {
        // Prologue: r9 = ctx->data, r8 = ctx->data_end; the context kept for packet copies.
        if copies {
            e.push(Insn::stx(op::DW, R10, e.ctx_slot, R1));
        }
        e.push(Insn::ldx(op::W, DATA_REG, R1, 0));
        e.push(Insn::ldx(op::W, END_REG, R1, 4));
    }
    for (inst, line) in &ir.insts {
        e.line = *line;
        e.inst(inst)?;
    }
    for (at, label) in std::mem::take(&mut e.fixups) {
        let target = *e
            .labels
            .get(&label)
            .ok_or(CodegenError::LabelNotPlaced(label))?;
        let off = target as i64 - (at as i64 + 1);
        e.insns[at].off = i16::try_from(off).map_err(|_| CodegenError::JumpTooFar)?;
    }
    if e.insns.len() > 1_000_000 {
        return Err(CodegenError::TooManyInstructions);
    }
    Ok(Program {
        insns: e.insns,
        lines: e.lines,
        stack_size: stack,
        vregs: ir.nvregs as usize,
        spilled: alloc.spilled,
        file: input.file.clone(),
        // Print calls that clean-up found unreachable left no code: a hook none of whose
        // prints remain does not print (and needs no print maps).
        prints: if e.maps.iter().any(|u| u.map_id == print::PRINT_MAP_ID) {
            ir_in.prints.clone()
        } else {
            Vec::new()
        },
        maps: e.maps,
        uncounted: e.uncounted,
        target: input.target,
    })
}

#[cfg(test)]
mod tests;
