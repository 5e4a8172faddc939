//! Values drawn from a finite set of constants (part of pass `lower`): a [`SVal::OneOf`]
//! holds the id of the constant it is, so anything the compiler can do with a constant it
//! does with such a value by doing it for each member on the path where `sel` is that
//! member ([`Lower::over_members`]): `action[verdict]`, `#s`, comparisons, truth.

use std::rc::Rc;

use super::{Lower, R};
use crate::diag::Loc;
use crate::ir::{Cond, Label, Opnd};
use crate::types::SVal;
use lunet_types::Value;

/// The members of a [`SVal::OneOf`].
pub(super) type Members = Rc<Vec<(usize, Rc<Value>)>>;

impl<'a> Lower<'a> {
    /// `f` of each member, on the path where `sel` is that member; the results meet.
    pub(super) fn over_members(
        &mut self,
        sel: Opnd,
        members: &Members,
        at: &Loc,
        mut f: impl FnMut(&mut Self, SVal<'a>) -> R<SVal<'a>>,
    ) -> R<SVal<'a>> {
        if let Opnd::Imm(id) = sel {
            let v = members.iter().find(|(i, _)| *i as i64 == id);
            return match v {
                Some((_, v)) => f(self, SVal::from_value(v)),
                None => Err(self.internal("a choice outside its members")),
            };
        }
        let j = self.new_join(at.clone());
        let start = self.slots.clone();
        for (k, (id, v)) in members.iter().enumerate() {
            let next = self.label();
            if k + 1 < members.len() {
                self.br(Cond::Ne, sel, Opnd::Imm(*id as i64), next);
            }
            self.slots = start.clone();
            let r = f(self, SVal::from_value(v))?;
            self.edge(j, vec![r]);
            self.place_label(next);
        }
        Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil))
    }

    /// A value whose truth a condition needs as a flag: a choice of truthy and falsy
    /// constants becomes a flag (as the values it was made of used to).
    pub(super) fn as_truth(&mut self, v: SVal<'a>) -> SVal<'a> {
        let SVal::OneOf { sel, members } = &v else {
            return v;
        };
        if v.static_truth().is_some() {
            return v;
        }
        let r = self.mov(Opnd::Imm(1));
        for (id, c) in members.iter() {
            if matches!(**c, Value::Nil | Value::Bool(false)) {
                let skip = self.label();
                self.br(Cond::Ne, *sel, Opnd::Imm(*id as i64), skip);
                self.emit(crate::ir::Inst::Mov {
                    dst: r,
                    src: Opnd::Imm(0),
                });
                self.place_label(skip);
            }
        }
        SVal::Truthy(Opnd::V(r))
    }

    /// Jumps to `target` when `(a == b) == want`, `a` one of `members`.
    pub(super) fn choice_equality(
        &mut self,
        sel: Opnd,
        members: &Members,
        b: SVal<'a>,
        want: bool,
        target: Label,
        e: &'a full_moon::ast::Expression,
    ) -> R<()> {
        let cond = if want { Cond::Eq } else { Cond::Ne };
        let constant = match &b {
            SVal::Nil => Some(Rc::new(Value::Nil)),
            SVal::Bool(Opnd::Imm(x)) => Some(Rc::new(Value::Bool(*x != 0))),
            SVal::Const(c) => Some(c.clone()),
            _ => None,
        };
        if let Some(c) = constant {
            let id = self.pool.id(&c);
            if members.iter().any(|(i, _)| *i == id) {
                self.br(cond, sel, Opnd::Imm(id as i64), target);
            } else if !want {
                self.jmp(target);
            }
            return Ok(());
        }
        if let SVal::OneOf { sel: other, .. } = &b {
            // Equal constants have one id.
            self.br(cond, sel, *other, target);
            return Ok(());
        }
        let after = self.label();
        for (id, v) in members.iter() {
            let next = self.label();
            self.br(Cond::Ne, sel, Opnd::Imm(*id as i64), next);
            self.equality(SVal::from_value(v), b.clone(), want, target, e)?;
            self.jmp(after);
            self.place_label(next);
        }
        self.place_label(after);
        self.dead = false;
        Ok(())
    }
}
