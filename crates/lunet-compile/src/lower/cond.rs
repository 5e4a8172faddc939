//! Conditions (part of pass `lower`): an expression's truth as a jump (`not`, `and`, `or`
//! short-circuit without making values), order comparisons of integers (and of constant
//! strings), and equality of every pair of kinds (a packet string against a constant one is
//! a chunked compare of its bytes).

use full_moon::ast::{BinOp, Expression, UnOp};

use super::{Lower, R};
use crate::ir::{Cond, Label, Opnd};
use crate::types::SVal;
use lunet_types::Value;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl<'a> Lower<'a> {
    // ---- conditions ----

    /// Jumps to `target` when `e`'s truth is `sense`, falls through otherwise. The locals may
    /// not change on the way (a call in a condition that assigns outer locals is refused).
    pub(super) fn test(&mut self, e: &'a Expression, sense: bool, target: Label) -> R<()> {
        let before: Vec<SVal<'a>> = self.slots.clone();
        self.test_inner(e, sense, target)?;
        let changed = before.iter().zip(&self.slots).any(|(a, b)| a != b);
        if changed {
            return Err(self.unsup(e, "a condition with side effects", "a condition whose function calls change local variables is not in the kernel-tier subset"));
        }
        Ok(())
    }

    fn test_inner(&mut self, e: &'a Expression, sense: bool, target: Label) -> R<()> {
        match e {
            Expression::Parentheses { expression, .. } => {
                self.test_inner(expression, sense, target)
            }
            Expression::UnaryOperator {
                unop: UnOp::Not(_),
                expression,
            } => self.test_inner(expression, !sense, target),
            Expression::BinaryOperator { lhs, binop, rhs } => match binop {
                BinOp::And(_) => {
                    if sense {
                        let skip = self.label();
                        self.test_inner(lhs, false, skip)?;
                        self.test_inner(rhs, true, target)?;
                        self.place_label(skip);
                    } else {
                        self.test_inner(lhs, false, target)?;
                        self.test_inner(rhs, false, target)?;
                    }
                    Ok(())
                }
                BinOp::Or(_) => {
                    if sense {
                        self.test_inner(lhs, true, target)?;
                        self.test_inner(rhs, true, target)?;
                    } else {
                        let skip = self.label();
                        self.test_inner(lhs, true, skip)?;
                        self.test_inner(rhs, false, target)?;
                        self.place_label(skip);
                    }
                    Ok(())
                }
                BinOp::TwoEqual(_) => self.compare(Cmp::Eq, lhs, rhs, sense, target, e),
                BinOp::TildeEqual(_) => self.compare(Cmp::Ne, lhs, rhs, sense, target, e),
                BinOp::LessThan(_) => self.compare(Cmp::Lt, lhs, rhs, sense, target, e),
                BinOp::LessThanEqual(_) => self.compare(Cmp::Le, lhs, rhs, sense, target, e),
                BinOp::GreaterThan(_) => self.compare(Cmp::Gt, lhs, rhs, sense, target, e),
                BinOp::GreaterThanEqual(_) => self.compare(Cmp::Ge, lhs, rhs, sense, target, e),
                _ => {
                    let v = self.expr(e)?;
                    self.test_value(&v, sense, target)
                }
            },
            _ => {
                let v = self.expr(e)?;
                self.test_value(&v, sense, target)
            }
        }
    }

    fn test_value(&mut self, v: &SVal<'a>, sense: bool, target: Label) -> R<()> {
        let v = &self.as_truth(v.clone());
        match v.static_truth() {
            Some(t) => {
                if t == sense {
                    self.jmp(target);
                }
            }
            None => {
                let (flag, _) = self.truth_parts(v)?;
                self.br(
                    if sense { Cond::Ne } else { Cond::Eq },
                    flag,
                    Opnd::Imm(0),
                    target,
                );
            }
        }
        Ok(())
    }

    fn compare(
        &mut self,
        op: Cmp,
        lhs: &'a Expression,
        rhs: &'a Expression,
        sense: bool,
        target: Label,
        e: &'a Expression,
    ) -> R<()> {
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        match op {
            Cmp::Eq | Cmp::Ne => {
                // jump when (a == b) == want
                let want = (op == Cmp::Eq) == sense;
                self.equality(a, b, want, target, e)
            }
            _ => {
                let (cond, a, b) = match op {
                    Cmp::Lt => (Cond::Slt, a, b),
                    Cmp::Le => (Cond::Sle, a, b),
                    Cmp::Gt => (Cond::Slt, b, a),
                    _ => (Cond::Sle, b, a),
                };
                let both_str = matches!((&a, &b), (SVal::Const(x), SVal::Const(y)) if matches!((&**x, &**y), (Value::Str(_), Value::Str(_))));
                if both_str {
                    let (SVal::Const(x), SVal::Const(y)) = (&a, &b) else {
                        return Err(self.internal("strings"));
                    };
                    let (Value::Str(x), Value::Str(y)) = (&**x, &**y) else {
                        return Err(self.internal("strings"));
                    };
                    let r = if cond == Cond::Slt { x < y } else { x <= y };
                    if r == sense {
                        self.jmp(target);
                    }
                    return Ok(());
                }
                let what = "an operand of an order comparison";
                let ao = self.int_operand(a, e, what)?;
                let bo = self.int_operand(b, e, what)?;
                let cond = if sense { cond } else { cond.negate() };
                self.br(cond, ao, bo, target);
                Ok(())
            }
        }
    }

    /// Jumps to `target` when `(a == b) == want`.
    pub(super) fn equality(
        &mut self,
        a: SVal<'a>,
        b: SVal<'a>,
        want: bool,
        target: Label,
        e: &'a Expression,
    ) -> R<()> {
        use SVal as S;
        let jump_if = |l: &mut Self, eq: bool| {
            if eq == want {
                l.jmp(target);
            }
        };
        // Put the "bigger" kind on the left to halve the cases.
        let rank = |v: &SVal| match v {
            S::Slice { .. } => 0,
            S::OptInt { .. } => 1,
            S::Truthy(_) => 2,
            _ => 3,
        };
        let (a, b) = if rank(&b) < rank(&a) { (b, a) } else { (a, b) };
        // A packet string or nil: nil first, then as a packet string.
        let (a, b) = match (a, b) {
            (S::OptSlice { .. }, S::OptSlice { .. }) => {
                return Err(self.unsup(
                    e,
                    "a comparison",
                    "comparing two values that may both be nil is not in the kernel-tier subset",
                ))
            }
            (S::OptSlice { flag, off, len }, other) | (other, S::OptSlice { flag, off, len }) => {
                if matches!(other, S::Nil) {
                    let cond = if want { Cond::Eq } else { Cond::Ne };
                    self.br(cond, flag, Opnd::Imm(0), target);
                    return Ok(());
                }
                if want {
                    let skip = self.label();
                    self.br(Cond::Eq, flag, Opnd::Imm(0), skip);
                    self.equality(S::Slice { off, len }, other, true, target, e)?;
                    self.place_label(skip);
                } else {
                    self.br(Cond::Eq, flag, Opnd::Imm(0), target);
                    self.equality(S::Slice { off, len }, other, false, target, e)?;
                }
                return Ok(());
            }
            ab => ab,
        };
        if let S::OneOf { sel, members } = &b {
            return self.choice_equality(*sel, &members.clone(), a, want, target, e);
        }
        if let S::OneOf { sel, members } = &a {
            return self.choice_equality(*sel, &members.clone(), b, want, target, e);
        }
        match (&a, &b) {
            (S::Int(x), S::Int(y)) | (S::Bool(x), S::Bool(y)) => {
                let cond = if want { Cond::Eq } else { Cond::Ne };
                self.br(cond, *x, *y, target);
                Ok(())
            }
            (S::Nil, S::Nil) => {
                jump_if(self, true);
                Ok(())
            }
            (S::OptInt { flag, val }, S::Int(y)) => {
                if want {
                    let skip = self.label();
                    self.br(Cond::Eq, *flag, Opnd::Imm(0), skip);
                    self.br(Cond::Eq, *val, *y, target);
                    self.place_label(skip);
                } else {
                    self.br(Cond::Eq, *flag, Opnd::Imm(0), target);
                    self.br(Cond::Ne, *val, *y, target);
                }
                Ok(())
            }
            (S::OptInt { flag, .. }, S::Nil) => {
                self.br(
                    if want { Cond::Eq } else { Cond::Ne },
                    *flag,
                    Opnd::Imm(0),
                    target,
                );
                Ok(())
            }
            (S::OptInt { .. }, S::OptInt { .. }) => Err(self.unsup(
                e,
                "a comparison",
                "comparing two values that may both be nil is not in the kernel-tier subset",
            )),
            (S::OptInt { flag, .. }, _) => {
                // nil or an integer against a value of another type: equal never
                let _ = flag;
                jump_if(self, false);
                Ok(())
            }
            (S::Truthy(_), _) => Err(self.unsup(
                e,
                "a comparison",
                format!(
                    "comparing {} is not in the kernel-tier subset",
                    a.describe()
                ),
            )),
            (S::Slice { off, len }, S::Const(c)) => match &**c {
                Value::Str(s) => {
                    let s = s.clone();
                    self.slice_equals(*off, *len, &s, want, target);
                    Ok(())
                }
                _ => {
                    jump_if(self, false);
                    Ok(())
                }
            },
            (S::Slice { off, len }, S::Slice { off: o2, len: l2 }) => {
                self.slices_equal((*off, *len), (*o2, *l2), want, target);
                Ok(())
            }
            (S::Slice { .. }, _) => {
                jump_if(self, false);
                Ok(())
            }
            (S::Const(x), S::Const(y)) => {
                let eq = const_eq(x, y);
                jump_if(self, eq);
                Ok(())
            }
            (S::Data(x), S::Data(y)) => {
                jump_if(self, x == y);
                Ok(())
            }
            (S::Func(x), S::Func(y)) => {
                jump_if(self, x == y);
                Ok(())
            }
            (S::Builtin(x), S::Builtin(y)) => {
                jump_if(self, x == y);
                Ok(())
            }
            (S::Map(x), S::Map(y)) => {
                jump_if(self, x.id == y.id);
                Ok(())
            }
            (S::Dead, _) | (_, S::Dead) => Err(self.internal("a dead value compared")),
            // different types are never equal
            _ => {
                jump_if(self, false);
                Ok(())
            }
        }
    }
}

fn const_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Table(_), Value::Table(_)) => std::ptr::eq(a, b),
        _ => a == b,
    }
}
