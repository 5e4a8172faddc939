//! What `print` emits: packet bytes copied into the record (a helper call per range, XDP's
//! or the dynptr's), and the record sent to the ring buffer with its loss counted.

use lunet_bpf::insn::{op, reg::*, Insn};

use super::{Emitter, A};
use crate::error::CodegenError;
use crate::ir::Opnd;
use crate::maps::{helper, COUNT_ONE};
use crate::print;

impl Emitter<'_> {
    /// `bpf_xdp_load_bytes(ctx, off, record + at, n)`, `n` = `len` clamped to `1..=STR_CAP`:
    /// the verifier wants a size it can bound and not zero; bytes past the string's length
    /// are never read back.
    pub(super) fn print_copy(&mut self, at: u16, off: Opnd, len: Opnd) -> Result<(), CodegenError> {
        let cap = print::STR_CAP as i64;
        match len {
            Opnd::Imm(k) => self.mov_imm(A, k.clamp(1, cap)),
            Opnd::V(v) => {
                let l = self.read(v, A)?;
                if l != A {
                    self.push(Insn::mov64_reg(A, l));
                }
                self.push(Insn::jmp_imm(op::JLE, A, cap as i32, 1));
                self.push(Insn::mov64_imm(A, cap as i32));
                self.push(Insn::jmp_imm(op::JGE, A, 1, 1));
                self.push(Insn::mov64_imm(A, 1));
            }
        }
        if self.nf.is_some() {
            // bpf_dynptr_read(record + at, n, &dynptr, off, 0); r4 first, as below.
            let o = self.read_opnd(off, R4)?;
            if o != R4 {
                self.push(Insn::mov64_reg(R4, o));
            }
            self.push(Insn::mov64_reg(R2, A));
            self.push(Insn::mov64_reg(R1, R10));
            self.push(Insn::alu64_imm(
                op::ADD,
                R1,
                (self.record + at as i16) as i32,
            ));
            self.push(Insn::mov64_reg(R3, R10));
            self.push(Insn::alu64_imm(op::ADD, R3, self.dynptr as i32));
            self.push(Insn::mov64_imm(R5, 0));
            self.push(Insn::call(helper::DYNPTR_READ));
            return Ok(());
        }
        // r2 first: `off` may live in r3-r5, which are set after it.
        let o = self.read_opnd(off, R2)?;
        if o != R2 {
            self.push(Insn::mov64_reg(R2, o));
        }
        self.push(Insn::mov64_reg(R4, A));
        self.push(Insn::mov64_reg(R3, R10));
        self.push(Insn::alu64_imm(
            op::ADD,
            R3,
            (self.record + at as i16) as i32,
        ));
        self.push(Insn::ldx(op::DW, R1, R10, self.ctx_slot));
        self.push(Insn::call(helper::XDP_LOAD_BYTES));
        Ok(())
    }

    /// `bpf_ringbuf_output(ring, record, size, 0)`; when the ring refuses the record (full),
    /// slot 0 of the per-CPU lost counter gets one more (its key in the record's first word,
    /// which is free again).
    pub(super) fn print_emit(&mut self, size: u16) {
        self.load_map(print::PRINT_MAP_ID, print::PRINT_MAP_NAME);
        self.push(Insn::mov64_reg(R2, R10));
        self.push(Insn::alu64_imm(op::ADD, R2, self.record as i32));
        self.push(Insn::mov64_imm(R3, size as i32));
        self.push(Insn::mov64_imm(R4, 0));
        self.push(Insn::call(helper::RINGBUF_OUTPUT));
        // The 10 slots below.
        self.push(Insn::jmp_imm(op::JEQ, R0, 0, 10));
        self.push(Insn::st_imm(op::W, R10, self.record, 0));
        self.load_map(print::PRINT_LOST_MAP_ID, print::PRINT_LOST_MAP_NAME);
        self.push(Insn::mov64_reg(R2, R10));
        self.push(Insn::alu64_imm(op::ADD, R2, self.record as i32));
        self.push(Insn::call(helper::MAP_LOOKUP_ELEM));
        for i in COUNT_ONE {
            self.push(i);
        }
    }
}
