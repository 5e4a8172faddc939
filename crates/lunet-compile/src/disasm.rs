//! A disassembler for the `--emit asm` listing, in the kernel verifier's notation.

use std::fmt::Write as _;

use lunet_bpf::insn::{op, pseudo, Insn};

use crate::maps::helper;
use crate::program::Program;

fn alu_name(code: u8) -> Option<&'static str> {
    Some(match code & 0xf0 {
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        op::ARSH => "s>>=",
        _ => return None,
    })
}

fn jmp_name(code: u8) -> Option<&'static str> {
    Some(match code & 0xf0 {
        op::JEQ => "==",
        op::JGT => ">",
        op::JGE => ">=",
        op::JSET => "&",
        op::JNE => "!=",
        op::JSGT => "s>",
        op::JSGE => "s>=",
        op::JLT => "<",
        op::JLE => "<=",
        op::JSLT => "s<",
        op::JSLE => "s<=",
        _ => return None,
    })
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        op::B => "u8",
        op::H => "u16",
        op::W => "u32",
        _ => "u64",
    }
}

impl Program {
    /// The disassembly with the Lua source lines interleaved (`--emit asm`).
    pub fn asm(&self, source: &str) -> String {
        listing(self, source)
    }
}

/// One instruction (and the next slot, for `ld_imm64`), as text; returns the slots used.
pub fn insn(at: usize, i: &Insn, next: Option<&Insn>) -> (String, usize) {
    let (d, s) = (i.dst(), i.src());
    let class = i.code & 0x07;
    let src_x = i.code & 0x08 != 0;
    let target = |off: i16| at as i64 + 1 + off as i64;
    let text = match class {
        op::ALU64 | op::ALU => {
            let r = if class == op::ALU64 { "r" } else { "w" };
            match i.code & 0xf0 {
                op::NEG => format!("{r}{d} = -{r}{d}"),
                op::END => format!("r{d} = be{} r{d}", i.imm),
                _ => {
                    let name = alu_name(i.code).unwrap_or("?=");
                    if src_x {
                        format!("{r}{d} {name} {r}{s}")
                    } else {
                        format!("{r}{d} {name} {}", i.imm)
                    }
                }
            }
        }
        op::LDX => format!("r{d} = *({} *)(r{s} {:+})", size_name(i.code), i.off),
        op::STX => format!("*({} *)(r{d} {:+}) = r{s}", size_name(i.code), i.off),
        op::ST => format!("*({} *)(r{d} {:+}) = {}", size_name(i.code), i.off, i.imm),
        op::LD if i.code == (op::LD | op::DW | op::IMM) && s == pseudo::MAP_FD => {
            return (format!("r{d} = map_fd({}) ll", i.imm), 2);
        }
        op::LD if i.code == (op::LD | op::DW | op::IMM) => {
            let hi = next.map(|n| n.imm as u32 as u64).unwrap_or(0);
            let v = (hi << 32) | i.imm as u32 as u64;
            return (format!("r{d} = {v:#x} ll"), 2);
        }
        op::JMP | op::JMP32 => {
            let r = if class == op::JMP { "r" } else { "w" };
            match i.code & 0xf0 {
                op::JA => format!("goto {}", target(i.off)),
                op::EXIT => "exit".into(),
                op::CALL => match helper::name(i.imm) {
                    Some(name) if s == 0 => format!("call {name}#{}", i.imm),
                    _ => format!("call {}", i.imm),
                },
                crate::emit::JCOND => format!("may_goto {}", target(i.off)),
                _ => {
                    let name = jmp_name(i.code).unwrap_or("?");
                    if src_x {
                        format!("if {r}{d} {name} {r}{s} goto {}", target(i.off))
                    } else {
                        format!("if {r}{d} {name} {:#x} goto {}", i.imm, target(i.off))
                    }
                }
            }
        }
        _ => format!("(code {:#04x})", i.code),
    };
    (text, 1)
}

/// The listing: each Lua line as a comment, then its instructions.
pub fn listing(p: &Program, source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    let mut last = u32::MAX;
    let mut i = 0;
    while i < p.insns.len() {
        let line = p.lines.get(i).copied().unwrap_or(0);
        if line != last {
            let text = lines
                .get((line as usize).wrapping_sub(1))
                .map(|l| l.trim())
                .unwrap_or("");
            let _ = writeln!(out, "; {}:{line}: {text}", p.file);
            last = line;
        }
        let (text, n) = match p.maps.iter().find(|u| u.insn == i) {
            // The fd is patched at load time: name the map instead.
            Some(u) => (format!("r{} = map[{}] ll", p.insns[i].dst(), u.name), 2),
            None => insn(i, &p.insns[i], p.insns.get(i + 1)),
        };
        let _ = writeln!(out, "{i:5}: {text}");
        i += n;
    }
    out
}
