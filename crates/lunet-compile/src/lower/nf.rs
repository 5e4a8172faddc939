//! A netfilter hook's verdicts (part of pass `lower`): what `return` may give in a
//! `BPF_PROG_TYPE_NETFILTER` program.

use full_moon::ast::LastStmt;

use super::{Lower, R};
use crate::ir::Opnd;
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
        if let SVal::Int(Opnd::Imm(k))
        | SVal::OptInt {
            val: Opnd::Imm(k), ..
        } = v
        {
            if (2..=5).contains(&k) {
                return Err(self.unsup(
                    at,
                    "a verdict other than DROP or ACCEPT",
                    format!(
                        "a netfilter eBPF program may only drop or accept; verdict {k} needs \
                         the Lua tier"
                    ),
                ));
            }
        }
        self.return_verdict(v, 1, at)
    }
}
