//! Lowering expressions to values (part of pass `lower`): literals, names, indexing and call
//! chains as values, unary operators, arithmetic operators (then `arith.rs`), comparisons as
//! booleans, and `and`/`or` (with the `c and x or y` idiom) over joins.

use std::rc::Rc;

use full_moon::ast::punctuated::Punctuated;
use full_moon::ast::{BinOp, Expression, Suffix, UnOp, Var};
use full_moon::node::Node;
use full_moon::tokenizer::{Symbol, TokenReference, TokenType};

use super::arith::Arith;
use super::{loc, name_of, Lower, R};
use crate::diag::Loc;
use crate::ir::{AluOp, Cond, Inst, Opnd};
use crate::literal::{self, Number};
use crate::resolve::Binding;
use crate::types::{DataObj, SVal};
use lunet_types::Value;

impl<'a> Lower<'a> {
    // ---- expressions ----

    /// An expression list, the last one expanded to all its values; padded or cut to `want`.
    pub(super) fn exprs(
        &mut self,
        es: &'a Punctuated<Expression>,
        want: Option<usize>,
    ) -> R<Vec<SVal<'a>>> {
        let list: Vec<&'a Expression> = es.iter().collect();
        let mut out = Vec::new();
        for (i, e) in list.iter().enumerate() {
            if i + 1 == list.len() {
                out.extend(self.multi(e)?);
            } else {
                out.push(self.expr(e)?);
            }
        }
        if let Some(n) = want {
            out.resize(n, SVal::Nil);
        }
        Ok(out)
    }

    /// All values of an expression (a call may give several).
    fn multi(&mut self, e: &'a Expression) -> R<Vec<SVal<'a>>> {
        match e {
            Expression::FunctionCall(fc) => {
                self.call_chain(fc.prefix(), fc.suffixes().collect(), fc)
            }
            Expression::Var(Var::Expression(ve)) => {
                let sufs: Vec<&'a Suffix> = ve.suffixes().collect();
                if matches!(sufs.last(), Some(Suffix::Call(_))) {
                    self.call_chain(ve.prefix(), sufs, e)
                } else {
                    Ok(vec![self.expr(e)?])
                }
            }
            Expression::Symbol(t) if t.is_symbol(Symbol::Ellipsis) => self.varargs(t),
            _ => Ok(vec![self.expr(e)?]),
        }
    }

    pub(super) fn expr(&mut self, e: &'a Expression) -> R<SVal<'a>> {
        match e {
            Expression::Number(t) => {
                let text = match t.token_type() {
                    TokenType::Number { text } => text.to_string(),
                    _ => return Err(self.internal("number token")),
                };
                match literal::number_value(&text) {
                    Some(Number::Int(k)) => Ok(SVal::Int(Opnd::Imm(k))),
                    Some(Number::Float(_)) => Err(self.unsup(t, "a float", format!("{text} is a float: floats are not in the kernel-tier subset"))),
                    None => Err(self.unsup(t, "a number", format!("cannot read the number {text}"))),
                }
            }
            Expression::String(t) => {
                let b = literal::literal(self.parsed, t)
                    .map_err(|m| self.unsup(t, "a string", m.to_string()))?;
                Ok(SVal::Const(Rc::new(Value::Str(b))))
            }
            Expression::Symbol(t) => match t.token_type() {
                TokenType::Symbol { symbol: Symbol::True } => Ok(SVal::Bool(Opnd::Imm(1))),
                TokenType::Symbol { symbol: Symbol::False } => Ok(SVal::Bool(Opnd::Imm(0))),
                TokenType::Symbol { symbol: Symbol::Nil } => Ok(SVal::Nil),
                TokenType::Symbol { symbol: Symbol::Ellipsis } => {
                    Ok(self.varargs(t)?.into_iter().next().unwrap_or(SVal::Nil))
                }
                _ => Err(self.unsup(t, "a symbol", "this expression is not in the kernel-tier subset")),
            },
            Expression::Parentheses { expression, .. } => self.expr(expression),
            Expression::Var(Var::Name(t)) => self.name(t),
            Expression::Var(Var::Expression(ve)) => {
                let sufs: Vec<&'a Suffix> = ve.suffixes().collect();
                let vals = self.call_chain(ve.prefix(), sufs, e)?;
                Ok(vals.into_iter().next().unwrap_or(SVal::Nil))
            }
            Expression::FunctionCall(fc) => {
                let vals = self.call_chain(fc.prefix(), fc.suffixes().collect(), fc)?;
                Ok(vals.into_iter().next().unwrap_or(SVal::Nil))
            }
            Expression::TableConstructor(t) => Err(self.unsup(&**t, "a table constructor", "a table constructor in a hook builds a table per packet: not in the kernel-tier subset (build tables in the script's body)")),
            Expression::Function(f) => Ok(self.closure("an anonymous function".into(), f.body())),
            Expression::UnaryOperator { unop, expression } => self.unary(unop, expression, e),
            Expression::BinaryOperator { lhs, binop, rhs } => self.binary(lhs, binop, rhs, e),
            other => Err(self.unsup(other, "an expression", "this expression is not in the kernel-tier subset")),
        }
    }

    /// The values of `...` in the function being lowered.
    fn varargs(&self, t: &TokenReference) -> R<Vec<SVal<'a>>> {
        match self.frames.last().and_then(|f| f.varargs.clone()) {
            Some(v) => Ok(v),
            // Lua refuses this when it loads the chunk: no script gets here.
            None => Err(self.unsup(t, "varargs", "`...` outside a vararg function")),
        }
    }

    pub(super) fn name(&mut self, t: &TokenReference) -> R<SVal<'a>> {
        let n = name_of(t);
        match self.env.lookup(&n) {
            Binding::Local(s) => Ok(self.slots[s].clone()),
            Binding::Upvalue(v) => Ok(SVal::from_value(&v)),
            Binding::Global => self.global_read(t, &n),
        }
    }

    /// A value used as an integer operand: nil is a run-time error (the default verdict), a
    /// maybe-integer is checked; any other kind is a type error at `n`.
    pub(super) fn int_operand<N: Node>(&mut self, v: SVal<'a>, n: &N, what: &str) -> R<Opnd> {
        self.int_operand_at(v, &loc(n), what)
    }

    /// [`Lower::int_operand`], the type error at `at`.
    pub(super) fn int_operand_at(&mut self, v: SVal<'a>, at: &Loc, what: &str) -> R<Opnd> {
        match v {
            SVal::Int(o) => Ok(o),
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                Ok(val)
            }
            SVal::Nil => {
                self.fail_now();
                Ok(Opnd::Imm(0))
            }
            other => Err(self.unsup_at(
                at,
                "a type error",
                format!("{what} must be an integer, not {}", other.describe()),
            )),
        }
    }

    pub(super) fn unary(
        &mut self,
        op: &'a UnOp,
        x: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        match op {
            UnOp::Not(_) => {
                let v = self.expr(x)?;
                let v = self.as_truth(v);
                match v.static_truth() {
                    Some(t) => Ok(SVal::Bool(Opnd::Imm((!t) as i64))),
                    None => {
                        let flag = match v {
                            SVal::Bool(o) | SVal::Truthy(o) => o,
                            SVal::OptInt { flag, .. } | SVal::OptSlice { flag, .. } => flag,
                            _ => return Err(self.internal("truth of a value")),
                        };
                        let r = self.mov(flag);
                        self.emit(Inst::Alu {
                            op: AluOp::Xor,
                            dst: r,
                            src: Opnd::Imm(1),
                        });
                        Ok(SVal::Bool(Opnd::V(r)))
                    }
                }
            }
            UnOp::Minus(_) => {
                let v = self.expr(x)?;
                let o = self.int_operand(v, x, "the operand of unary minus")?;
                Ok(SVal::Int(match o {
                    Opnd::Imm(k) => Opnd::Imm(k.wrapping_neg()),
                    o => {
                        let r = self.mov(o);
                        self.emit(Inst::Neg { dst: r });
                        Opnd::V(r)
                    }
                }))
            }
            UnOp::Tilde(_) => {
                let v = self.expr(x)?;
                let o = self.int_operand(v, x, "the operand of `~`")?;
                Ok(SVal::Int(match o {
                    Opnd::Imm(k) => Opnd::Imm(!k),
                    o => {
                        let r = self.mov(o);
                        self.emit(Inst::Alu {
                            op: AluOp::Xor,
                            dst: r,
                            src: Opnd::Imm(-1),
                        });
                        Opnd::V(r)
                    }
                }))
            }
            UnOp::Hash(_) => {
                let v = self.expr(x)?;
                let v = self.slice_operand(v);
                if let SVal::Const(c) = &v {
                    match &**c {
                        Value::Str(s) => return Ok(SVal::Int(Opnd::Imm(s.len() as i64))),
                        Value::Table(t) => {
                            return match sequence_len(t) {
                                Some(n) => Ok(SVal::Int(Opnd::Imm(n))),
                                None => Err(self.unsup(e, "a length", "the length of a constant table with holes: Lua gives any border, so no one length to fold (keep its length in a local of the body)")),
                            }
                        }
                        _ => {}
                    }
                }
                match v {
                    SVal::Data(DataObj::Packet) => {
                        let r = self.vreg();
                        self.emit(Inst::PktLen { dst: r });
                        self.umax.insert(r, 0xffff);
                        Ok(SVal::Int(Opnd::V(r)))
                    }
                    SVal::Data(DataObj::Argument) => Ok(SVal::Int(Opnd::Imm(0))),
                    SVal::OneOf { sel, members } => {
                        let at = loc(e);
                        self.over_members(sel, &members, &at, |l, m| match m {
                            SVal::Const(c) => match &*c {
                                Value::Str(s) => Ok(SVal::Int(Opnd::Imm(s.len() as i64))),
                                _ => Err(l.unsup_at(
                                    &at,
                                    "a length",
                                    "the length of a constant that is not a string",
                                )),
                            },
                            // `#nil` raises.
                            _ => {
                                l.fail_now();
                                Ok(SVal::Int(Opnd::Imm(0)))
                            }
                        })
                    }
                    SVal::Slice { len, .. } => Ok(SVal::Int(len)),
                    SVal::Nil => {
                        self.fail_now();
                        Ok(SVal::Int(Opnd::Imm(0)))
                    }
                    other => Err(self.unsup(
                        e,
                        "a length",
                        format!(
                            "the length of {} is not in the kernel-tier subset",
                            other.describe()
                        ),
                    )),
                }
            }
            other => Err(self.unsup(
                other,
                "an operator",
                "this operator is not in the kernel-tier subset",
            )),
        }
    }

    pub(super) fn binary(
        &mut self,
        lhs: &'a Expression,
        op: &'a BinOp,
        rhs: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        let arith = match op {
            BinOp::Plus(_) => Some(Arith::Add),
            BinOp::Minus(_) => Some(Arith::Sub),
            BinOp::Star(_) => Some(Arith::Mul),
            BinOp::DoubleSlash(_) => Some(Arith::IDiv),
            BinOp::Percent(_) => Some(Arith::Mod),
            BinOp::Ampersand(_) => Some(Arith::And),
            BinOp::Pipe(_) => Some(Arith::Or),
            BinOp::Tilde(_) => Some(Arith::Xor),
            BinOp::DoubleLessThan(_) => Some(Arith::Shl),
            BinOp::DoubleGreaterThan(_) => Some(Arith::Shr),
            _ => None,
        };
        if let Some(a) = arith {
            let l = self.expr(lhs)?;
            let r = self.expr(rhs)?;
            let what = format!("an operand of `{}`", op.token().token());
            let lo = self.int_operand(l, lhs, &what)?;
            let ro = self.int_operand(r, rhs, &what)?;
            return Ok(SVal::Int(self.arith(a, lo, ro)));
        }
        match op {
            BinOp::TwoDots(_) => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                self.concat(a, b, &loc(e))
            }
            BinOp::Slash(_) | BinOp::Caret(_) => Err(self.unsup(op, "float arithmetic", format!(
                "`{}` gives a float: floats are not in the kernel-tier subset (use `//` for integer division)",
                op.token().token()
            ))),
            BinOp::And(_) => self.and_value(lhs, rhs, e),
            BinOp::Or(_) => self.or_value(lhs, rhs, e),
            BinOp::TwoEqual(_)
            | BinOp::TildeEqual(_)
            | BinOp::LessThan(_)
            | BinOp::LessThanEqual(_)
            | BinOp::GreaterThan(_)
            | BinOp::GreaterThanEqual(_) => {
                // A comparison as a value: a boolean.
                let r = self.vreg();
                self.emit(Inst::Mov { dst: r, src: Opnd::Imm(0) });
                let skip = self.label();
                self.test(e, false, skip)?;
                self.emit(Inst::Mov { dst: r, src: Opnd::Imm(1) });
                self.place_label(skip);
                self.dead = false;
                Ok(SVal::Bool(Opnd::V(r)))
            }
            other => Err(self.unsup(other, "an operator", "this operator is not in the kernel-tier subset")),
        }
    }

    /// `a and b` as a value.
    fn and_value(
        &mut self,
        lhs: &'a Expression,
        rhs: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        let va = self.expr(lhs)?;
        let va = self.as_truth(va);
        match va.static_truth() {
            Some(true) => return self.expr(rhs),
            Some(false) => return Ok(va),
            None => {}
        }
        let j = self.new_join(loc(e));
        let (flag, falsy) = self.truth_parts(&va)?;
        if let Some(l) = self.edge_label(j, vec![falsy]) {
            self.br(Cond::Eq, flag, Opnd::Imm(0), l);
        }
        let vb = self.expr(rhs)?;
        self.edge(j, vec![vb]);
        Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil))
    }

    /// `a or b` as a value, and the `c and x or y` idiom.
    fn or_value(
        &mut self,
        lhs: &'a Expression,
        rhs: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        if let Expression::BinaryOperator {
            lhs: c,
            binop: BinOp::And(_),
            rhs: x,
        } = strip_parens(lhs)
        {
            // c and x or y: x when c is truthy and x is, else y.
            let j = self.new_join(loc(e));
            let else_l = self.label();
            self.test(c, false, else_l)?;
            let at_else = self.slots.clone();
            let vx = self.expr(x)?;
            if self.slots.iter().zip(&at_else).any(|(a, b)| a != b) {
                return Err(self.unsup(x, "a value with side effects", "in `c and x or y`, an `x` whose function calls change local variables is not in the kernel-tier subset"));
            }
            let vx = self.as_truth(vx);
            match vx.static_truth() {
                Some(true) => self.edge(j, vec![vx]),
                Some(false) => self.jmp(else_l),
                None => {
                    let (flag, _) = self.truth_parts(&vx)?;
                    self.br(Cond::Eq, flag, Opnd::Imm(0), else_l);
                    let t = self.truthy_part(&vx);
                    self.edge(j, vec![t]);
                }
            }
            self.slots = at_else;
            self.dead = true;
            self.place_label(else_l);
            let vy = self.expr(rhs)?;
            self.edge(j, vec![vy]);
            return Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil));
        }
        let va = self.expr(lhs)?;
        let va = self.as_truth(va);
        match va.static_truth() {
            Some(true) => return Ok(va),
            Some(false) => return self.expr(rhs),
            None => {}
        }
        let j = self.new_join(loc(e));
        let (flag, _) = self.truth_parts(&va)?;
        let t = self.truthy_part(&va);
        if let Some(l) = self.edge_label(j, vec![t]) {
            self.br(Cond::Ne, flag, Opnd::Imm(0), l);
        }
        let vb = self.expr(rhs)?;
        self.edge(j, vec![vb]);
        Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil))
    }

    /// The truth flag of a value whose truth is known only at run time, and the value it
    /// has when falsy.
    pub(super) fn truth_parts(&self, v: &SVal<'a>) -> R<(Opnd, SVal<'a>)> {
        match v {
            SVal::Bool(o) => Ok((*o, SVal::Bool(Opnd::Imm(0)))),
            SVal::Truthy(o) => Ok((*o, SVal::Truthy(Opnd::Imm(0)))),
            SVal::OptInt { flag, .. } | SVal::OptSlice { flag, .. } => Ok((*flag, SVal::Nil)),
            other => Err(self.internal(format!("truth of {}", other.describe()))),
        }
    }

    /// What a value is when it is truthy.
    fn truthy_part(&self, v: &SVal<'a>) -> SVal<'a> {
        match v {
            SVal::Bool(_) => SVal::Bool(Opnd::Imm(1)),
            SVal::Truthy(_) => SVal::Truthy(Opnd::Imm(1)),
            SVal::OptInt { val, .. } => SVal::Int(*val),
            SVal::OptSlice { off, len, .. } => SVal::Slice {
                off: *off,
                len: *len,
            },
            other => other.clone(),
        }
    }
}

fn strip_parens(e: &Expression) -> &Expression {
    match e {
        Expression::Parentheses { expression, .. } => strip_parens(expression),
        other => other,
    }
}

/// `#t` of a constant table whose positive integer keys are exactly `1..=n`: `n`, the only
/// border it has; `None` when it has holes (Lua may give any border).
fn sequence_len(t: &[(Value, Value)]) -> Option<i64> {
    let mut keys: Vec<i64> = t
        .iter()
        .filter(|(_, v)| !matches!(v, Value::Nil))
        .filter_map(|(k, _)| match k {
            Value::Int(i) if *i > 0 => Some(*i),
            Value::Float(f) if crate::types::integral(*f) && *f >= 1.0 => Some(*f as i64),
            _ => None,
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let n = keys.len() as i64;
    (keys.last().copied().unwrap_or(0) == n).then_some(n)
}
