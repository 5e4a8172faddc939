//! eBPF instructions as the kernel reads them (`struct bpf_insn`), with constructors.
//!
//! The encoding follows `linux/bpf_common.h` and `linux/bpf.h`: one 8-byte slot holds the
//! opcode, the destination register in the low nibble and the source register in the high
//! nibble of `regs`, a signed 16-bit offset and a signed 32-bit immediate. `ld_imm64` takes two
//! slots.

/// Register numbers. `R0` holds return values, `R1`-`R5` arguments, `R6`-`R9` are callee-saved,
/// `R10` is the read-only frame pointer.
pub mod reg {
    pub const R0: u8 = 0;
    pub const R1: u8 = 1;
    pub const R2: u8 = 2;
    pub const R3: u8 = 3;
    pub const R4: u8 = 4;
    pub const R5: u8 = 5;
    pub const R6: u8 = 6;
    pub const R7: u8 = 7;
    pub const R8: u8 = 8;
    pub const R9: u8 = 9;
    pub const R10: u8 = 10;
}

/// Opcode parts (`BPF_CLASS`, `BPF_SIZE`, `BPF_MODE`, `BPF_SRC`, `BPF_OP`).
pub mod op {
    // classes
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
    // sizes
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    // modes
    pub const IMM: u8 = 0x00;
    pub const MEM: u8 = 0x60;
    pub const ATOMIC: u8 = 0xc0;
    // source
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    // ALU operations
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;
    // jump operations
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
}

/// `src_reg` markers with special meaning.
pub mod pseudo {
    /// `ld_imm64` whose immediate is a map file descriptor.
    pub const MAP_FD: u8 = 1;
    /// `ld_imm64` whose immediate is a map fd and whose second `imm` is an offset into its value.
    pub const MAP_VALUE: u8 = 2;
    /// `call` to a BPF-to-BPF function, `imm` is the relative instruction offset.
    pub const CALL: u8 = 1;
    /// `call` to a kernel function, `imm` is its BTF id.
    pub const KFUNC_CALL: u8 = 2;
}

/// One eBPF instruction slot, `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Insn {
    pub code: u8,
    /// `dst_reg` in bits 0-3, `src_reg` in bits 4-7.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

impl Insn {
    /// An instruction from its parts.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (dst & 0x0f) | ((src & 0x0f) << 4),
            off,
            imm,
        }
    }

    pub const fn dst(&self) -> u8 {
        self.regs & 0x0f
    }

    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }

    /// The 8 bytes the kernel reads (little-endian host).
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }

    /// `dst = imm` (64-bit, sign-extended).
    pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
    }

    /// `dst = src` (64-bit).
    pub const fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn::new(op::ALU64 | op::MOV | op::X, dst, src, 0, 0)
    }

    /// `dst = (u32) imm`, upper half zeroed.
    pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU | op::MOV | op::K, dst, 0, 0, imm)
    }

    /// `dst op= imm` (64-bit), `alu_op` one of [`op::ADD`] ... [`op::ARSH`].
    pub const fn alu64_imm(alu_op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU64 | alu_op | op::K, dst, 0, 0, imm)
    }

    /// `dst op= src` (64-bit).
    pub const fn alu64_reg(alu_op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(op::ALU64 | alu_op | op::X, dst, src, 0, 0)
    }

    /// `dst op= imm` (32-bit, upper half zeroed).
    pub const fn alu32_imm(alu_op: u8, dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU | alu_op | op::K, dst, 0, 0, imm)
    }

    /// `dst op= src` (32-bit, upper half zeroed).
    pub const fn alu32_reg(alu_op: u8, dst: u8, src: u8) -> Insn {
        Insn::new(op::ALU | alu_op | op::X, dst, src, 0, 0)
    }

    /// Byte swap to big endian (`be16`/`be32`/`be64` by `bits`); a no-op swap on big-endian hosts.
    pub const fn to_be(dst: u8, bits: i32) -> Insn {
        Insn::new(op::ALU | op::END | op::X, dst, 0, 0, bits)
    }

    /// `dst = *(size *)(src + off)`, `size` one of [`op::B`], [`op::H`], [`op::W`], [`op::DW`].
    pub const fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(op::LDX | op::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = src`.
    pub const fn stx(size: u8, dst: u8, off: i16, src: u8) -> Insn {
        Insn::new(op::STX | op::MEM | size, dst, src, off, 0)
    }

    /// `*(size *)(dst + off) = imm`.
    pub const fn st_imm(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
        Insn::new(op::ST | op::MEM | size, dst, 0, off, imm)
    }

    /// `if dst op imm goto +off` (64-bit compare).
    pub const fn jmp_imm(jmp_op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(op::JMP | jmp_op | op::K, dst, 0, off, imm)
    }

    /// `if dst op src goto +off` (64-bit compare).
    pub const fn jmp_reg(jmp_op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(op::JMP | jmp_op | op::X, dst, src, off, 0)
    }

    /// `if (u32)dst op imm goto +off`.
    pub const fn jmp32_imm(jmp_op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(op::JMP32 | jmp_op | op::K, dst, 0, off, imm)
    }

    /// `goto +off`.
    pub const fn ja(off: i16) -> Insn {
        Insn::new(op::JMP | op::JA, 0, 0, off, 0)
    }

    /// Call helper function number `helper` (`BPF_FUNC_*`).
    pub const fn call(helper: i32) -> Insn {
        Insn::new(op::JMP | op::CALL, 0, 0, 0, helper)
    }

    /// Call the kernel function with vmlinux BTF id `btf_id`.
    pub const fn call_kfunc(btf_id: i32) -> Insn {
        Insn::new(op::JMP | op::CALL, 0, pseudo::KFUNC_CALL, 0, btf_id)
    }

    /// `return r0`.
    pub const fn exit() -> Insn {
        Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
    }

    /// `dst = imm64` (two slots).
    pub const fn ld_imm64(dst: u8, imm: u64) -> [Insn; 2] {
        Insn::ld_imm64_raw(dst, 0, imm as u32 as i32, (imm >> 32) as u32 as i32)
    }

    /// `dst = map` for the map with file descriptor `fd` (two slots, `src_reg` = `BPF_PSEUDO_MAP_FD`;
    /// the kernel replaces the fd by the map's address at load time).
    pub const fn ld_map_fd(dst: u8, fd: i32) -> [Insn; 2] {
        Insn::ld_imm64_raw(dst, pseudo::MAP_FD, fd, 0)
    }

    /// `dst = &map_value[off]` for an array map with file descriptor `fd`
    /// (`BPF_PSEUDO_MAP_VALUE`).
    pub const fn ld_map_value(dst: u8, fd: i32, off: i32) -> [Insn; 2] {
        Insn::ld_imm64_raw(dst, pseudo::MAP_VALUE, fd, off)
    }

    const fn ld_imm64_raw(dst: u8, src: u8, lo: i32, hi: i32) -> [Insn; 2] {
        [
            Insn::new(op::LD | op::DW | op::IMM, dst, src, 0, lo),
            Insn::new(0, 0, 0, 0, hi),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::reg::*;
    use super::*;

    // Expected bytes from the kernel's own macros (BPF_MOV64_IMM, BPF_EXIT_INSN, BPF_LD_MAP_FD, ...).
    #[test]
    fn encodings_match_kernel_macros() {
        assert_eq!(
            Insn::mov64_imm(R0, 2).to_bytes(),
            [0xb7, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(Insn::exit().to_bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Insn::mov64_reg(R6, R1).to_bytes(),
            [0xbf, 0x16, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::ldx(op::W, R2, R1, 4).to_bytes(),
            [0x61, 0x12, 4, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::stx(op::DW, R10, -8, R0).to_bytes(),
            [0x7b, 0x0a, 0xf8, 0xff, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::jmp_reg(op::JGT, R3, R2, 5).to_bytes(),
            [0x2d, 0x23, 5, 0, 0, 0, 0, 0]
        );
        assert_eq!(Insn::call(1).to_bytes(), [0x85, 0, 0, 0, 1, 0, 0, 0]);
        let [a, b] = Insn::ld_map_fd(R1, 5);
        assert_eq!(a.to_bytes(), [0x18, 0x11, 0, 0, 5, 0, 0, 0]);
        assert_eq!(b.to_bytes(), [0; 8]);
        let [a, b] = Insn::ld_imm64(R2, 0x1122_3344_5566_7788);
        assert_eq!(a.imm as u32, 0x5566_7788);
        assert_eq!(b.imm as u32, 0x1122_3344);
        assert_eq!((a.dst(), a.src()), (R2, 0));
    }
}
