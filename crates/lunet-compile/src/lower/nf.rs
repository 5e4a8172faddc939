//! A netfilter hook's verdicts (part of pass `lower`): what `return` may give in a
//! `BPF_PROG_TYPE_NETFILTER` program.

use full_moon::ast::LastStmt;

use super::{Lower, R};
use crate::ir::{Cond, Inst, Opnd};
use crate::types::SVal;

impl<'a> Lower<'a> {
    /// `return verdict` from a netfilter hook: DROP (0) or ACCEPT (1), the only verdicts a
    /// netfilter eBPF program may give, and no new mark (it cannot set one). Other verdicts
    /// and a mark keep the hook in the Lua tier; a verdict computed at run time outside 0..=1
    /// gives the default verdict.
    pub(super) fn nf_return(&mut self, vals: Vec<SVal<'a>>, at: &LastStmt) -> R<()> {
        match vals.get(1) {
            None | Some(SVal::Nil) => {}
            Some(SVal::Dead) => {
                self.fail_now();
                return Ok(());
            }
            Some(_) => {
                return Err(self.unsup(
                    at,
                    "a returned mark",
                    "a netfilter hook in the kernel tier cannot set the packet's mark (its \
                     eBPF program may only drop or accept): it runs in the Lua tier",
                ))
            }
        }
        let v = vals.into_iter().next().unwrap_or(SVal::Nil);
        let v = match v {
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                SVal::Int(val)
            }
            v => v,
        };
        match v {
            SVal::Int(Opnd::Imm(k)) if (0..=1).contains(&k) => {
                self.emit(Inst::Ret { src: Opnd::Imm(k) })
            }
            SVal::Int(Opnd::Imm(k)) if (2..=5).contains(&k) => {
                return Err(self.unsup(
                    at,
                    "a verdict other than DROP or ACCEPT",
                    format!(
                        "a netfilter eBPF program may only drop or accept; verdict {k} needs \
                         the Lua tier"
                    ),
                ))
            }
            SVal::Int(Opnd::V(r)) => {
                let f = self.fail;
                self.br(Cond::Gt, Opnd::V(r), Opnd::Imm(1), f);
                self.emit(Inst::Ret { src: Opnd::V(r) });
            }
            SVal::Truthy(_)
            | SVal::Bool(_)
            | SVal::Nil
            | SVal::Int(_)
            | SVal::Slice { .. }
            | SVal::Const(_)
            | SVal::OneOf { .. }
            | SVal::OptSlice { .. }
            | SVal::Fmt(_)
            | SVal::Dead => self.fail_now(),
            other => {
                return Err(self.unsup(
                    at,
                    "a return value",
                    format!(
                        "the hook returns {}: it must return a verdict",
                        other.describe()
                    ),
                ))
            }
        }
        Ok(())
    }
}
