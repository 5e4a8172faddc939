//! The IR's text form (`--emit ir`, the IR goldens): one instruction a line, labels
//! flush left, a `; line N` comment where the Lua line changes.

use std::fmt;

use super::{AluOp, Inst, Ir, MapOp, Opnd, VReg, DATA, MAX_VAR_OFF};

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
            Inst::Slice {
                dst,
                off,
                size,
                fail,
            } => write!(
                f,
                "{} = slice(packet + {off}, {size}) else L{fail}",
                vr(*dst)
            ),
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
