//! Integer arithmetic (part of pass `lower`) with Lua 5.4's semantics: 64-bit wrapping
//! `+ - *`, floor division and floor modulo (division by zero gives the default verdict),
//! shifts whose negative counts shift the other way. Constants fold; the bounds of unsigned
//! values (`umax`) and constant offsets from a base (`affine`) are tracked for packet access.

use super::Lower;
use crate::ir::{AluOp, Cond, Inst, Opnd, MAX_CONST_END};

/// Lua 5.4 integer floor division (`n` not 0).
pub fn lua_idiv(m: i64, n: i64) -> i64 {
    if n == -1 {
        return m.wrapping_neg();
    }
    let q = m / n;
    if (m ^ n) < 0 && m % n != 0 {
        q - 1
    } else {
        q
    }
}

/// Lua 5.4 integer floor modulo (`n` not 0).
pub fn lua_mod(m: i64, n: i64) -> i64 {
    if n == -1 {
        return 0;
    }
    let r = m % n;
    if r != 0 && (r ^ n) < 0 {
        r + n
    } else {
        r
    }
}

/// Lua 5.4 `x << y` (negative counts shift right, counts of 64 or more give 0).
pub fn lua_shl(x: i64, y: i64) -> i64 {
    if y <= -64 || y >= 64 {
        0
    } else if y >= 0 {
        ((x as u64) << y) as i64
    } else {
        ((x as u64) >> (-y)) as i64
    }
}

/// Lua's two floor operations, which share their lowering.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Floor {
    Div,
    Mod,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    IDiv,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

impl<'a> Lower<'a> {
    // ---- arithmetic ----

    pub(super) fn arith(&mut self, op: Arith, a: Opnd, b: Opnd) -> Opnd {
        if let (Opnd::Imm(x), Opnd::Imm(y)) = (a, b) {
            return match op {
                Arith::Add => Opnd::Imm(x.wrapping_add(y)),
                Arith::Sub => Opnd::Imm(x.wrapping_sub(y)),
                Arith::Mul => Opnd::Imm(x.wrapping_mul(y)),
                Arith::And => Opnd::Imm(x & y),
                Arith::Or => Opnd::Imm(x | y),
                Arith::Xor => Opnd::Imm(x ^ y),
                Arith::Shl => Opnd::Imm(lua_shl(x, y)),
                Arith::Shr => Opnd::Imm(lua_shl(x, y.wrapping_neg())),
                Arith::IDiv | Arith::Mod if y == 0 => {
                    self.fail_now();
                    Opnd::Imm(0)
                }
                Arith::IDiv => Opnd::Imm(lua_idiv(x, y)),
                Arith::Mod => Opnd::Imm(lua_mod(x, y)),
            };
        }
        let simple = |op: Arith| match op {
            Arith::Add => Some(AluOp::Add),
            Arith::Sub => Some(AluOp::Sub),
            Arith::Mul => Some(AluOp::Mul),
            Arith::And => Some(AluOp::And),
            Arith::Or => Some(AluOp::Or),
            Arith::Xor => Some(AluOp::Xor),
            _ => None,
        };
        if let Some(alu) = simple(op) {
            // Commutative operations keep the immediate on the right.
            let (a, b) = match (a, b) {
                (Opnd::Imm(_), Opnd::V(_)) if op != Arith::Sub => (b, a),
                _ => (a, b),
            };
            let r = self.mov(a);
            self.emit(Inst::Alu {
                op: alu,
                dst: r,
                src: b,
            });
            let bound = |o: Opnd, l: &Self| match o {
                Opnd::Imm(k) if k >= 0 => Some(k as u64),
                Opnd::V(v) => l.umax.get(&v).copied(),
                _ => None,
            };
            let (ba, bb) = (bound(a, self), bound(b, self));
            let m = match (op, ba, bb) {
                (Arith::Add, Some(x), Some(y)) => x.checked_add(y),
                (Arith::Mul, Some(x), Some(y)) => x.checked_mul(y),
                (Arith::And, x, y) => match (x, y) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (Some(x), None) | (None, Some(x)) => Some(x),
                    _ => None,
                },
                (Arith::Or | Arith::Xor, Some(x), Some(y)) => {
                    Some(u64::MAX.checked_shr(x.max(y).leading_zeros()).unwrap_or(0))
                }
                _ => None,
            };
            if let Some(m) = m.filter(|m| *m < 1 << 62) {
                self.umax.insert(r, m);
            }
            if let (Opnd::V(x), Opnd::Imm(k), Arith::Add | Arith::Sub) = (a, b, op) {
                let k = if op == Arith::Sub {
                    k.checked_neg()
                } else {
                    Some(k)
                };
                let (base, k0) = self.affine.get(&x).copied().unwrap_or((x, 0));
                if let Some(sum) = k.and_then(|k| k.checked_add(k0)) {
                    if sum.abs() <= MAX_CONST_END {
                        self.affine.insert(r, (base, sum));
                    }
                }
            }
            return Opnd::V(r);
        }
        match op {
            Arith::Shl => self.shift(a, b, false),
            Arith::Shr => self.shift(a, b, true),
            Arith::IDiv => self.floor(Floor::Div, a, b),
            Arith::Mod => self.floor(Floor::Mod, a, b),
            _ => Opnd::Imm(0),
        }
    }

    /// Lua's `a << b` (or `a >> b` when `right`).
    fn shift(&mut self, a: Opnd, b: Opnd, right: bool) -> Opnd {
        if let Opnd::Imm(y) = b {
            let y = if right { y.wrapping_neg() } else { y };
            if y <= -64 || y >= 64 {
                return Opnd::Imm(0);
            }
            if y == 0 {
                return a;
            }
            let r = self.mov(a);
            let (op, n) = if y > 0 {
                (AluOp::Lsh, y)
            } else {
                (AluOp::Rsh, -y)
            };
            self.emit(Inst::Alu {
                op,
                dst: r,
                src: Opnd::Imm(n),
            });
            if op == AluOp::Rsh {
                let m = match a {
                    Opnd::V(v) => self.umax.get(&v).copied().unwrap_or(u64::MAX),
                    Opnd::Imm(_) => u64::MAX,
                };
                self.umax.insert(r, m >> n);
            }
            return Opnd::V(r);
        }
        // count in a register: left shift by `count`, negative counts shift right
        let count = self.mov(b);
        if right {
            self.emit(Inst::Neg { dst: count });
        }
        let r = self.vreg();
        self.emit(Inst::Mov {
            dst: r,
            src: Opnd::Imm(0),
        });
        let done = self.label();
        let neg = self.label();
        self.br(Cond::Sgt, Opnd::V(count), Opnd::Imm(63), done);
        self.br(Cond::Slt, Opnd::V(count), Opnd::Imm(-63), done);
        self.br(Cond::Slt, Opnd::V(count), Opnd::Imm(0), neg);
        self.emit(Inst::Mov { dst: r, src: a });
        self.emit(Inst::Alu {
            op: AluOp::Lsh,
            dst: r,
            src: Opnd::V(count),
        });
        self.jmp(done);
        self.place_label(neg);
        self.emit(Inst::Neg { dst: count });
        self.emit(Inst::Mov { dst: r, src: a });
        self.emit(Inst::Alu {
            op: AluOp::Rsh,
            dst: r,
            src: Opnd::V(count),
        });
        self.place_label(done);
        Opnd::V(r)
    }

    /// Lua's floor division `a // b` (`op` [`Floor::Div`]) or floor modulo `a % b`.
    fn floor(&mut self, op: Floor, a: Opnd, b: Opnd) -> Opnd {
        if let Opnd::Imm(d) = b {
            if let Some(r) = self.floor_by_const(op, a, d) {
                return r;
            }
        }
        match op {
            Floor::Div => self.idiv_general(a, b),
            Floor::Mod => {
                // a - (a // b) * b
                let q = self.idiv_general(a, b);
                let p = self.mov(q);
                self.emit(Inst::Alu {
                    op: AluOp::Mul,
                    dst: p,
                    src: b,
                });
                let r = self.mov(a);
                self.emit(Inst::Alu {
                    op: AluOp::Sub,
                    dst: r,
                    src: Opnd::V(p),
                });
                Opnd::V(r)
            }
        }
    }

    /// `a // d` or `a % d` for the constants `d` that need less than a general division: 0
    /// (an error), 1 and -1, powers of two (a shift, a mask), and the rest of `1..=i32::MAX`
    /// (an unsigned division of `a` or of `~a`, corrected for negative `a`).
    fn floor_by_const(&mut self, op: Floor, a: Opnd, d: i64) -> Option<Opnd> {
        match (op, d) {
            (_, 0) => {
                self.fail_now();
                return Some(Opnd::Imm(0));
            }
            (Floor::Div, 1) => return Some(a),
            (Floor::Div, -1) => {
                let r = self.mov(a);
                self.emit(Inst::Neg { dst: r });
                return Some(Opnd::V(r));
            }
            (Floor::Mod, 1 | -1) => return Some(Opnd::Imm(0)),
            _ if d < 0 || d > i32::MAX as i64 => return None,
            _ => {}
        }
        let r = self.mov(a);
        if d.count_ones() == 1 {
            let (alu, k) = match op {
                Floor::Div => (AluOp::Arsh, d.trailing_zeros() as i64),
                Floor::Mod => (AluOp::And, d - 1),
            };
            self.emit(Inst::Alu {
                op: alu,
                dst: r,
                src: Opnd::Imm(k),
            });
            return Some(Opnd::V(r));
        }
        // floor(a / d) = a >= 0 ? a /u d : ~(~a /u d)
        // a % d        = a >= 0 ? a %u d : d - 1 - (~a %u d)
        let alu = match op {
            Floor::Div => AluOp::Div,
            Floor::Mod => AluOp::Mod,
        };
        let neg = self.label();
        let done = self.label();
        self.br(Cond::Slt, Opnd::V(r), Opnd::Imm(0), neg);
        self.emit(Inst::Alu {
            op: alu,
            dst: r,
            src: Opnd::Imm(d),
        });
        self.jmp(done);
        self.place_label(neg);
        self.emit(Inst::Alu {
            op: AluOp::Xor,
            dst: r,
            src: Opnd::Imm(-1),
        });
        self.emit(Inst::Alu {
            op: alu,
            dst: r,
            src: Opnd::Imm(d),
        });
        match op {
            Floor::Div => self.emit(Inst::Alu {
                op: AluOp::Xor,
                dst: r,
                src: Opnd::Imm(-1),
            }),
            Floor::Mod => {
                self.emit(Inst::Neg { dst: r });
                self.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: r,
                    src: Opnd::Imm(d - 1),
                });
            }
        }
        self.place_label(done);
        Some(Opnd::V(r))
    }

    /// Floor division with the divisor in a register: 0 is an error, -1 negates (so that
    /// `math.mininteger // -1` wraps as in Lua), the rest divides magnitudes and corrects.
    fn idiv_general(&mut self, a: Opnd, b: Opnd) -> Opnd {
        let bv = match b {
            Opnd::V(v) => v,
            Opnd::Imm(_) => self.mov(b),
        };
        let av = match a {
            Opnd::V(v) => v,
            Opnd::Imm(_) => self.mov(a),
        };
        let f = self.fail;
        self.br(Cond::Eq, Opnd::V(bv), Opnd::Imm(0), f);
        let q = self.vreg();
        let m1 = self.label();
        let done = self.label();
        self.br(Cond::Eq, Opnd::V(bv), Opnd::Imm(-1), m1);
        let ua = self.mov(Opnd::V(av));
        let l1 = self.label();
        self.br(Cond::Sge, Opnd::V(ua), Opnd::Imm(0), l1);
        self.emit(Inst::Neg { dst: ua });
        self.place_label(l1);
        let ub = self.mov(Opnd::V(bv));
        let l2 = self.label();
        self.br(Cond::Sge, Opnd::V(ub), Opnd::Imm(0), l2);
        self.emit(Inst::Neg { dst: ub });
        self.place_label(l2);
        self.emit(Inst::Mov {
            dst: q,
            src: Opnd::V(ua),
        });
        self.emit(Inst::Alu {
            op: AluOp::Div,
            dst: q,
            src: Opnd::V(ub),
        });
        // same signs: q is the quotient
        let t = self.mov(Opnd::V(av));
        self.emit(Inst::Alu {
            op: AluOp::Xor,
            dst: t,
            src: Opnd::V(bv),
        });
        self.br(Cond::Sge, Opnd::V(t), Opnd::Imm(0), done);
        // different signs: -q, minus one more when the division was not exact
        self.emit(Inst::Alu {
            op: AluOp::Mod,
            dst: ua,
            src: Opnd::V(ub),
        });
        self.emit(Inst::Neg { dst: q });
        self.br(Cond::Eq, Opnd::V(ua), Opnd::Imm(0), done);
        self.emit(Inst::Alu {
            op: AluOp::Sub,
            dst: q,
            src: Opnd::Imm(1),
        });
        self.jmp(done);
        self.place_label(m1);
        self.emit(Inst::Mov {
            dst: q,
            src: Opnd::V(av),
        });
        self.emit(Inst::Neg { dst: q });
        self.place_label(done);
        Opnd::V(q)
    }
}
