//! What a netfilter program needs that an XDP one does not: the prologue (the skb, the mark
//! rule, the dynptr over the packet) and packet reads as `bpf_dynptr_slice` calls.

use lunet_bpf::insn::{op, reg::*, Insn};

use super::{slot_off, Emitter};
use crate::error::CodegenError;
use crate::hook::Netfilter;
use crate::ir::{Label, Opnd, VReg};
use crate::regalloc::Loc;

impl Emitter<'_> {
    /// `dst = bpf_dynptr_slice(&dynptr, off, NULL, size)`, `goto fail` on NULL.
    pub(super) fn slice(
        &mut self,
        dst: VReg,
        off: Opnd,
        size: i64,
        fail: Label,
    ) -> Result<(), CodegenError> {
        let Some(nf) = self.nf else {
            return Err(CodegenError::NotNetfilter);
        };
        // r2 first: `off` may live in r3-r5, which are set after it.
        let o = self.read_opnd(off, R2)?;
        if o != R2 {
            self.push(Insn::mov64_reg(R2, o));
        }
        self.push(Insn::mov64_reg(R1, R10));
        self.push(Insn::alu64_imm(op::ADD, R1, self.dynptr as i32));
        self.push(Insn::mov64_imm(R3, 0));
        self.push(Insn::mov64_imm(R4, size as i32));
        self.push(Insn::call_kfunc(nf.kernel.dynptr_slice as i32));
        self.jump(Insn::jmp_imm(op::JEQ, R0, 0, 0), fail);
        match self.loc(dst)? {
            Loc::Reg(r) => self.push(Insn::mov64_reg(r, R0)),
            Loc::Slot(k) => self.push(Insn::stx(op::DW, R10, slot_off(k), R0)),
        }
        Ok(())
    }

    /// The netfilter prologue: the skb saved, packets with another mark accepted untouched,
    /// the dynptr over the skb made when the program reads the packet (`reads`).
    pub(super) fn nf_prologue(&mut self, nf: Netfilter, reads: bool) {
        self.push(Insn::ldx(op::DW, R1, R1, 8)); // ctx->skb
        self.push(Insn::stx(op::DW, R10, self.skb_slot, R1));
        self.push(Insn::ldx(op::W, R0, R1, nf.kernel.skb_mark));
        self.push(Insn::jmp32_imm(op::JEQ, R0, nf.mark as i32, 2));
        self.push(Insn::mov64_imm(R0, 1)); // NF_ACCEPT
        self.uncounted.push(self.insns.len());
        self.push(Insn::exit());
        if !reads {
            return;
        }
        self.push(Insn::mov64_imm(R2, 0));
        self.push(Insn::mov64_reg(R3, R10));
        self.push(Insn::alu64_imm(op::ADD, R3, self.dynptr as i32));
        // A failed call leaves a null dynptr: every slice of it fails.
        self.push(Insn::call_kfunc(nf.kernel.dynptr_from_skb as i32));
    }
}
