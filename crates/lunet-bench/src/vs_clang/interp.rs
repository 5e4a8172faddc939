//! A small eBPF interpreter for the benchmark's XDP filters: it runs a program on a frame and
//! counts the instructions it executes, so the table can say how long each hot path is. It
//! knows only what the two filters need (ALU, jumps, packet and stack loads, stack stores,
//! `ld_imm64`, `may_goto`); anything else is an error. Its verdicts are checked against the
//! kernel's on every frame of the corpus, so a wrong count cannot hide behind a wrong run.

use lunet_bpf::insn::op;
use lunet_bpf::Insn;

/// Why the interpreter stopped without a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    #[error("jumped out of the program to {0}")]
    OutOfProgram(usize),
    #[error("more than 10^8 instructions")]
    TooLong,
    /// Instruction `pc` (opcode `code`) is one the interpreter does not know, or it went
    /// where the kernel's verifier would not let it.
    #[error("insn {pc} ({code:#04x}): {what}")]
    At {
        pc: usize,
        code: u8,
        what: &'static str,
    },
    #[error("insn {0}: jump before the program")]
    JumpBefore(usize),
    #[error("insn {0}: writes r10")]
    WritesR10(usize),
}

/// What one run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub verdict: u32,
    /// Instructions executed, an `ld_imm64` counting once.
    pub executed: u64,
    /// Of those, loads from the frame, loads and stores on the stack, and branches (conditional
    /// jumps, `goto`s and `may_goto`s).
    pub packet_loads: u64,
    pub stack_ops: u64,
    pub branches: u64,
    /// `may_goto`s executed: each is one instruction here, but the verifier rewrites it into
    /// a counter on the stack (5 instructions per lap with the timed may_goto of Linux 6.15+).
    pub may_gotos: u64,
}

// Three disjoint address ranges stand for the context, the frame and the stack.
const CTX: u64 = 1 << 40;
const PKT: u64 = 2 << 40;
const STACK: u64 = 3 << 40;
const STACK_SIZE: u64 = 512;
const JCOND: u8 = 0xe0;
/// `may_goto`'s budget in the kernel (`BPF_MAX_LOOPS`).
const MAY_GOTO_BUDGET: u64 = 8 * 1024 * 1024;

/// Runs `insns` as an XDP program on `frame`.
pub fn run(insns: &[Insn], frame: &[u8]) -> Result<Run, InterpError> {
    run_counting(insns, frame, &mut [])
}

/// [`run`], adding one to `counts[pc]` for every instruction executed (if `counts` is long
/// enough).
pub fn run_counting(insns: &[Insn], frame: &[u8], counts: &mut [u64]) -> Result<Run, InterpError> {
    let mut r = [0u64; 11];
    r[1] = CTX;
    r[10] = STACK + STACK_SIZE;
    let mut stack = [0u8; STACK_SIZE as usize];
    let mut out = Run {
        verdict: 0,
        executed: 0,
        packet_loads: 0,
        stack_ops: 0,
        branches: 0,
        may_gotos: 0,
    };
    let mut budget = MAY_GOTO_BUDGET;
    let mut pc: usize = 0;
    loop {
        let i = *insns.get(pc).ok_or(InterpError::OutOfProgram(pc))?;
        out.executed += 1;
        if let Some(c) = counts.get_mut(pc) {
            *c += 1;
        }
        if out.executed > 100_000_000 {
            return Err(InterpError::TooLong);
        }
        let (dst, src) = (i.dst() as usize, i.src() as usize);
        let class = i.code & 0x07;
        let fail = |what: &'static str| InterpError::At {
            pc,
            code: i.code,
            what,
        };
        match class {
            op::ALU64 | op::ALU => {
                let x = i.code & op::X != 0;
                let opn = i.code & 0xf0;
                if opn == op::END {
                    let v = r[dst];
                    let bits = i.imm;
                    r[dst] = match (class, x, bits) {
                        (op::ALU, true, 16) => (v as u16).swap_bytes() as u64,
                        (op::ALU, true, 32) => (v as u32).swap_bytes() as u64,
                        (op::ALU, true, 64) => v.swap_bytes(),
                        (op::ALU, false, 16) => v as u16 as u64,
                        (op::ALU, false, 32) => v as u32 as u64,
                        (op::ALU, false, 64) => v,
                        _ => return Err(fail("byte swap")),
                    };
                } else {
                    let b = if x { r[src] } else { i.imm as i64 as u64 };
                    let a = r[dst];
                    if i.off != 0 {
                        return Err(fail("signed division or sign-extending move"));
                    }
                    r[dst] = if class == op::ALU64 {
                        alu64(opn, a, b).ok_or_else(|| fail("ALU operation"))?
                    } else {
                        alu32(opn, a as u32, b as u32).ok_or_else(|| fail("ALU operation"))? as u64
                    };
                }
                pc += 1;
            }
            op::JMP | op::JMP32 => {
                let opn = i.code & 0xf0;
                match opn {
                    op::EXIT if class == op::JMP => {
                        out.verdict = r[0] as u32;
                        return Ok(out);
                    }
                    op::CALL => return Err(fail("calls are not supported")),
                    JCOND if class == op::JMP => {
                        out.branches += 1;
                        out.may_gotos += 1;
                        if budget == 0 {
                            pc = jump(pc, i.off)?;
                        } else {
                            budget -= 1;
                            pc += 1;
                        }
                    }
                    op::JA => {
                        out.branches += 1;
                        let off = if class == op::JMP32 {
                            i.imm
                        } else {
                            i.off as i32
                        };
                        pc = jump(pc, off as i16)?;
                    }
                    _ => {
                        out.branches += 1;
                        let b = if i.code & op::X != 0 {
                            r[src]
                        } else {
                            i.imm as i64 as u64
                        };
                        let a = r[dst];
                        let taken = if class == op::JMP32 {
                            cond(opn, a as u32 as u64, b as u32 as u64, |v| {
                                v as u32 as i32 as i64
                            })
                        } else {
                            cond(opn, a, b, |v| v as i64)
                        }
                        .ok_or_else(|| fail("jump operation"))?;
                        pc = if taken { jump(pc, i.off)? } else { pc + 1 };
                    }
                }
            }
            op::LDX if i.code & 0xe0 == op::MEM => {
                let size = size_of(i.code);
                let addr = r[src].wrapping_add(i.off as i64 as u64);
                r[dst] = if (CTX..CTX + 24).contains(&addr) {
                    // The verifier turns loads of xdp_md.data / data_end into pointers.
                    match addr - CTX {
                        0 | 8 => PKT,
                        4 => PKT + frame.len() as u64,
                        _ => return Err(fail("context field")),
                    }
                } else if (PKT..PKT + frame.len() as u64).contains(&addr) {
                    out.packet_loads += 1;
                    let at = (addr - PKT) as usize;
                    let bytes = frame
                        .get(at..at + size)
                        .ok_or_else(|| fail("load past the end of the frame"))?;
                    le(bytes)
                } else if (STACK..STACK + STACK_SIZE).contains(&addr) {
                    out.stack_ops += 1;
                    let at = (addr - STACK) as usize;
                    le(stack
                        .get(at..at + size)
                        .ok_or_else(|| fail("load past the stack"))?)
                } else {
                    return Err(fail("load from outside the frame, stack and context"));
                };
                pc += 1;
            }
            op::STX | op::ST if i.code & 0xe0 == op::MEM => {
                let size = size_of(i.code);
                let addr = r[dst].wrapping_add(i.off as i64 as u64);
                let v = if class == op::STX {
                    r[src]
                } else {
                    i.imm as i64 as u64
                };
                if !(STACK..STACK + STACK_SIZE).contains(&addr) {
                    return Err(fail("store outside the stack"));
                }
                out.stack_ops += 1;
                let at = (addr - STACK) as usize;
                stack
                    .get_mut(at..at + size)
                    .ok_or_else(|| fail("store past the stack"))?
                    .copy_from_slice(&v.to_le_bytes()[..size]);
                pc += 1;
            }
            op::LD if i.code == (op::LD | op::DW | op::IMM) && src == 0 => {
                let hi = insns
                    .get(pc + 1)
                    .ok_or_else(|| fail("ld_imm64 cut short"))?;
                r[dst] = (i.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32);
                pc += 2;
            }
            _ => return Err(fail("unsupported instruction")),
        }
        if dst == 10 && matches!(class, op::ALU | op::ALU64 | op::LDX | op::LD) {
            return Err(InterpError::WritesR10(pc));
        }
    }
}

fn jump(pc: usize, off: i16) -> Result<usize, InterpError> {
    let to = pc as i64 + 1 + off as i64;
    usize::try_from(to).map_err(|_| InterpError::JumpBefore(pc))
}

fn size_of(code: u8) -> usize {
    match code & 0x18 {
        op::B => 1,
        op::H => 2,
        op::W => 4,
        _ => 8,
    }
}

fn le(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

/// `alu64` and `alu32`: one ALU operation at one width (shift counts masked to the width, as
/// the kernel does; division by zero gives 0 and modulo by zero leaves `a`).
macro_rules! alu {
    ($name:ident, $u:ty, $i:ty, $mask:expr) => {
        fn $name(opn: u8, a: $u, b: $u) -> Option<$u> {
            Some(match opn {
                op::ADD => a.wrapping_add(b),
                op::SUB => a.wrapping_sub(b),
                op::MUL => a.wrapping_mul(b),
                op::DIV => a.checked_div(b).unwrap_or(0),
                op::MOD => a.checked_rem(b).unwrap_or(a),
                op::OR => a | b,
                op::AND => a & b,
                op::XOR => a ^ b,
                op::LSH => a.wrapping_shl(b as u32 & $mask),
                op::RSH => a.wrapping_shr(b as u32 & $mask),
                op::ARSH => ((a as $i) >> (b & $mask)) as $u,
                op::NEG => (a as $i).wrapping_neg() as $u,
                op::MOV => b,
                _ => return None,
            })
        }
    };
}

alu!(alu64, u64, i64, 63);
alu!(alu32, u32, i32, 31);

fn cond(opn: u8, a: u64, b: u64, signed: impl Fn(u64) -> i64) -> Option<bool> {
    Some(match opn {
        op::JEQ => a == b,
        op::JNE => a != b,
        op::JGT => a > b,
        op::JGE => a >= b,
        op::JLT => a < b,
        op::JLE => a <= b,
        op::JSET => a & b != 0,
        op::JSGT => signed(a) > signed(b),
        op::JSGE => signed(a) >= signed(b),
        op::JSLT => signed(a) < signed(b),
        op::JSLE => signed(a) <= signed(b),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `r2 = ctx->data; r3 = ctx->data_end; if r2 + 13 > r3 goto pass; r0 = frame[12]; exit;
    /// pass: r0 = XDP_PASS; exit`.
    fn byte_12() -> Vec<Insn> {
        vec![
            Insn::ldx(op::W, 2, 1, 0),
            Insn::ldx(op::W, 3, 1, 4),
            Insn::mov64_reg(4, 2),
            Insn::alu64_imm(op::ADD, 4, 13),
            Insn::jmp_reg(op::JGT, 4, 3, 2),
            Insn::ldx(op::B, 0, 2, 12),
            Insn::exit(),
            Insn::mov64_imm(0, 2),
            Insn::exit(),
        ]
    }

    #[test]
    fn a_run_gives_the_verdict_and_counts_what_it_executed() {
        let mut frame = vec![0u8; 14];
        frame[12] = 7;
        let mut counts = vec![0u64; 9];
        let r = run_counting(&byte_12(), &frame, &mut counts).unwrap();
        assert_eq!(r.verdict, 7);
        assert_eq!(
            (r.executed, r.packet_loads, r.branches, r.stack_ops),
            (7, 1, 1, 0)
        );
        assert_eq!(counts, [1, 1, 1, 1, 1, 1, 1, 0, 0]);
        // Too short for byte 12: the bounds check takes the other way.
        assert_eq!(run(&byte_12(), &frame[..12]).unwrap().verdict, 2);
    }

    #[test]
    fn what_it_does_not_know_is_an_error_naming_the_instruction() {
        let e = run(&[Insn::call(1), Insn::exit()], &[0; 14]).unwrap_err();
        assert_eq!(e.to_string(), "insn 0 (0x85): calls are not supported");
        let e = run(&[Insn::ja(-3)], &[0; 14]).unwrap_err();
        assert_eq!(e, InterpError::JumpBefore(0));
        let e = run(&[Insn::mov64_imm(0, 2)], &[0; 14]).unwrap_err();
        assert_eq!(e, InterpError::OutOfProgram(1));
    }
}
