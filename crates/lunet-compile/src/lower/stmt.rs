//! Lowering statements (part of pass `lower`): blocks and their scopes, local declarations,
//! assignments (to locals and map entries, stored right to left as Lua 5.4 does), `if`
//! chains over joins, `break`, `return` (into an inlined call's join, or the hook's verdict).

use std::rc::Rc;

use full_moon::ast::{Block, LastStmt, Stmt, Suffix, Var};
use full_moon::node::Node;

use super::recover::Lowering;
use super::{loc, name_of, Lower, R};
use crate::diag::Loc;
use crate::ir::{Cond, Inst, Opnd};
use crate::resolve::{Binding, SlotId};
use crate::types::SVal;

impl<'a> Lower<'a> {
    // ---- blocks and statements ----

    pub(super) fn block(&mut self, b: &'a Block) -> R<()> {
        self.push_scope();
        let r = self.block_body(b);
        self.pop_scope();
        r
    }

    pub(super) fn block_body(&mut self, b: &'a Block) -> R<()> {
        // Once no path reaches a statement, none reaches the rest of the block (there are no
        // labels): they are not lowered, as the Lua tier never runs them (a call that always
        // raises, `offset(argument)` of an empty argument, leaves its results unknown).
        for s in b.stmts() {
            if self.dead {
                return Ok(());
            }
            self.lowering(Lowering::Stmt(s))?;
        }
        if let Some(l) = b.last_stmt() {
            if !self.dead {
                self.lowering(Lowering::Last(l))?;
            }
        }
        Ok(())
    }

    fn set_line<N: Node>(&mut self, n: &N) {
        if let Some(p) = n.start_position() {
            self.line = p.line() as u32;
        }
    }

    pub(super) fn stmt(&mut self, s: &'a Stmt) -> R<()> {
        self.set_line(s);
        self.check_size(&loc(s))?;
        match s {
            Stmt::LocalAssignment(la) => {
                for a in la.attributes().flatten() {
                    let n = name_of(a.name());
                    if n != "const" {
                        return Err(self.unsup(
                            a,
                            "a <close> variable",
                            format!("the <{n}> attribute is not in the kernel-tier subset"),
                        ));
                    }
                }
                let names: Vec<String> = la.names().iter().map(name_of).collect();
                let vals = self.exprs(la.expressions(), Some(names.len()))?;
                for (n, v) in names.iter().zip(vals) {
                    let s = self.new_slot(v);
                    self.env.declare(n, s);
                }
                Ok(())
            }
            Stmt::Assignment(a) => {
                // As Lua does: the targets' tables and keys first, left to right, then the
                // values, then the stores from right to left.
                let mut targets = Vec::new();
                for var in a.variables() {
                    match var {
                        Var::Name(t) => match self.env.lookup(&name_of(t)) {
                            Binding::Local(s) => targets.push(Target::Local(s)),
                            Binding::Upvalue(_) => {
                                return Err(self.unsup(t, "an assignment to an upvalue", format!(
                                    "assigning to '{}', an upvalue: the kernel tier folds upvalues as the values the body left; keep per-packet state in locals (or a map)",
                                    name_of(t)
                                )))
                            }
                            Binding::Global => targets.push(Target::Local(self.global_slot(t, &name_of(t)))),
                        },
                        Var::Expression(ve) => {
                            let sufs: Vec<&'a Suffix> = ve.suffixes().collect();
                            let Some((Suffix::Index(ix), init)) = sufs.split_last() else {
                                return Err(self.unsup(&**ve, "an assignment", "this assignment is not in the kernel-tier subset"));
                            };
                            let base = self.call_chain(ve.prefix(), init.to_vec(), &**ve)?;
                            let base = base.into_iter().next().unwrap_or(SVal::Nil);
                            let (key, _) = self.index_key(ix)?;
                            match base {
                                SVal::Map(m) => targets.push(Target::Map(m, key, loc(&**ve))),
                                _ => return Err(self.unsup(&**ve, "an assignment to a table field", "assigning to a table field is not in the kernel-tier subset (a map's are: `m[k] = v`)")),
                            }
                        }
                        other => {
                            return Err(self.unsup(other, "an assignment to a table field", "assigning to a table field is not in the kernel-tier subset"))
                        }
                    }
                }
                let vals = self.exprs(a.expressions(), Some(a.variables().len()))?;
                // Where each value comes from (the last expression may give several).
                let exprs: Vec<Loc> = a.expressions().iter().map(loc).collect();
                let value_at =
                    |i: usize| exprs.get(i).or(exprs.last()).cloned().unwrap_or_default();
                for (i, (t, v)) in targets.into_iter().zip(vals).enumerate().rev() {
                    match t {
                        Target::Local(s) => self.slots[s] = v,
                        Target::Map(m, key, at) => self.map_set(&m, key, v, &at, &value_at(i))?,
                    }
                }
                Ok(())
            }
            Stmt::FunctionCall(fc) => {
                self.call_chain(fc.prefix(), fc.suffixes().collect(), fc)?;
                Ok(())
            }
            Stmt::Do(d) => self.block(d.block()),
            Stmt::If(i) => {
                let j = self.new_join(loc(s));
                let mut next = self.label();
                // A condition outside the subset: its branches are looked at all the same.
                if let Err(d) = self.test(i.condition(), false, next) {
                    self.recover(d, Vec::new())?;
                    // Both ways on from the condition stay open.
                    self.targeted.insert(next);
                }
                // Each branch starts from the state its condition's jump had.
                let mut at_next = self.slots.clone();
                self.block(i.block())?;
                self.edge(j, vec![]);
                for ei in i.else_if().into_iter().flatten() {
                    self.slots = at_next;
                    self.dead = true; // live again only if a jump reaches `next`
                    self.place_label(next);
                    self.set_line(ei);
                    next = self.label();
                    if let Err(d) = self.test(ei.condition(), false, next) {
                        self.recover(d, Vec::new())?;
                        self.targeted.insert(next);
                    }
                    at_next = self.slots.clone();
                    self.block(ei.block())?;
                    self.edge(j, vec![]);
                }
                self.slots = at_next;
                self.dead = true;
                self.place_label(next);
                if let Some(b) = i.else_block() {
                    self.block(b)?;
                }
                self.edge(j, vec![]);
                self.place(j)?;
                Ok(())
            }
            Stmt::While(w) => self.while_loop(s, w),
            Stmt::Repeat(r) => self.repeat_loop(s, r),
            Stmt::NumericFor(f) => self.numeric_for(s, f),
            Stmt::LocalFunction(f) => {
                let name = name_of(f.name());
                let slot = self.new_slot(SVal::Nil);
                self.env.declare(&name, slot);
                // Declared before its body closes over the scope: it may call itself (refused
                // as recursion when inlined).
                self.slots[slot] = self.closure(name, f.body());
                Ok(())
            }
            Stmt::FunctionDeclaration(f) => Err(self.unsup(
                f,
                "a global function",
                "`function name()` assigns a global or a table field: use `local function`",
            )),
            Stmt::GenericFor(g) => self.generic_for(s, g),
            Stmt::Goto(g) => Err(self.unsup(g, "goto", "`goto` is not in the kernel-tier subset")),
            Stmt::Label(g) => {
                Err(self.unsup(g, "a label", "labels are not in the kernel-tier subset"))
            }
            other => Err(self.unsup(
                other,
                "a statement",
                "this statement is not in the kernel-tier subset",
            )),
        }
    }

    pub(super) fn last_stmt(&mut self, l: &'a LastStmt) -> R<()> {
        self.set_line(l);
        match l {
            LastStmt::Break(t) => {
                let frame = self.frames.len() - 1;
                let Some(lp) = self.loops.last() else {
                    return Err(self.unsup(t, "break", "`break` outside a loop"));
                };
                if lp.frame != frame {
                    return Err(self.unsup(t, "break", "`break` outside a loop"));
                }
                let exit = lp.exit;
                self.edge(exit, vec![]);
                Ok(())
            }
            LastStmt::Return(r) => {
                let vals = self.exprs(r.returns(), None)?;
                let frame = self.frames.last().and_then(|f| f.join);
                match frame {
                    Some(j) => {
                        self.edge(j, vals);
                        Ok(())
                    }
                    None => self.hook_return(vals, l),
                }
            }
            other => Err(self.unsup(
                other,
                "a statement",
                "this statement is not in the kernel-tier subset",
            )),
        }
    }

    /// `return verdict` from the hook: an integer in 0..=4, and nothing but nil after it.
    fn hook_return(&mut self, vals: Vec<SVal<'a>>, at: &LastStmt) -> R<()> {
        if self.netfilter {
            return self.nf_return(vals, at);
        }
        if let Some(second) = vals.get(1) {
            match second {
                SVal::Nil => {}
                SVal::OptInt { flag, .. } => {
                    let f = self.fail;
                    self.br(Cond::Ne, *flag, Opnd::Imm(0), f);
                }
                SVal::Truthy(_) => {
                    return Err(self.unsup(
                        at,
                        "a second return value",
                        "a second return value that may be false: XDP hooks return one verdict",
                    ))
                }
                _ => {
                    self.fail_now();
                    return Ok(());
                }
            }
        }
        let v = vals.into_iter().next().unwrap_or(SVal::Nil);
        self.return_verdict(v, 4, at)
    }

    /// Returns verdict `v`, a constant in `0..=max` or a value checked against `max` at run
    /// time (out of range: the default verdict, through the fail path); what cannot be a
    /// verdict is a diagnostic. Shared by XDP and netfilter hooks.
    pub(super) fn return_verdict(&mut self, v: SVal<'a>, max: i64, at: &LastStmt) -> R<()> {
        let v = match v {
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                SVal::Int(val)
            }
            v => v,
        };
        match v {
            SVal::Int(Opnd::Imm(k)) if (0..=max).contains(&k) => {
                self.emit(Inst::Ret { src: Opnd::Imm(k) })
            }
            SVal::Int(Opnd::V(r)) => {
                let f = self.fail;
                self.br(Cond::Gt, Opnd::V(r), Opnd::Imm(max), f);
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

/// Where an assignment stores.
enum Target<'a> {
    Local(SlotId),
    Map(Rc<lunet_types::MapRef>, SVal<'a>, Loc),
}
