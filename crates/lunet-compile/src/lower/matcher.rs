//! Lua patterns on packet strings (part of pass `lower`): a constant pattern
//! ([`crate::pattern`]) becomes a backtracking matcher of bounded loops, as Lua's
//! `match` runs it: each start position in turn (only the first when anchored), and at each
//! item its class tested on the byte there; `*` takes as many bytes as match and gives them
//! back one at a time, `-` takes them one at a time, `?` tries with and then without. The
//! code after a quantified item is emitted once, inside its retry loop; `?` duplicates it.
//! Every loop is bounded as `while` loops are ([`Lower::scan_bound`]).

use super::{Lower, R};
use crate::ir::{AluOp, Cond, Inst, Label, Opnd, VReg};
use crate::pattern::{Class, Item, Pattern, Rep};
use crate::types::SVal;

/// Where a match keeps what it found.
struct Found {
    flag: VReg,
    start: VReg,
    end: VReg,
    /// Span captures' (start, end) and position captures' start, by capture number.
    caps: Vec<(VReg, VReg)>,
}

impl<'a> Lower<'a> {
    /// `string.find(s, pattern, init)` (`find`) or `string.match(s, pattern, init)` on the
    /// packet string at `off`.
    pub(super) fn pattern_search(
        &mut self,
        (off, len): (Opnd, Opnd),
        pat: &Pattern,
        init: i64,
        find: bool,
    ) -> R<Vec<SVal<'a>>> {
        let zero = |l: &mut Self| l.mov(Opnd::Imm(0));
        let found = Found {
            flag: zero(self),
            start: zero(self),
            end: zero(self),
            caps: (0..pat.captures)
                .map(|_| (zero(self), zero(self)))
                .collect(),
        };
        let done = self.label();
        let first = self.start_pos(len, init);
        let st0 = self.sum(first, Opnd::Imm(0), -1);
        let st = self.loose(st0, len);
        self.br(Cond::Sgt, Opnd::V(st), len, done);
        let bound = self.scan_bound();
        let head = self.label();
        self.place_label(head);
        self.scan_iteration(bound);
        self.clamp(st);
        let next = self.label();
        let pos = self.mov(Opnd::V(st));
        let end = self.items(&pat.items, pat.at_end, (off, len), pos, next, &found)?;
        for (dst, src) in [
            (found.flag, Opnd::Imm(1)),
            (found.start, Opnd::V(st)),
            (found.end, Opnd::V(end)),
        ] {
            self.emit(Inst::Mov { dst, src });
        }
        self.jmp(done);
        self.place_label(next);
        if !pat.anchored {
            self.emit(Inst::Alu {
                op: AluOp::Add,
                dst: st,
                src: Opnd::Imm(1),
            });
            self.br(Cond::Sle, Opnd::V(st), len, head);
        }
        self.jmp(done);
        self.place_label(done);
        self.dead = false;
        let opt = |l: &mut Self, v: VReg, k: i64| {
            let r = l.mov(Opnd::V(v));
            if k != 0 {
                l.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: r,
                    src: Opnd::Imm(k),
                });
            }
            SVal::OptInt {
                flag: Opnd::V(found.flag),
                val: Opnd::V(r),
            }
        };
        let span = |l: &mut Self, s: VReg, e: VReg| {
            let o = l.sum(off, Opnd::V(s), 0);
            let n = l.mov(Opnd::V(e));
            l.emit(Inst::Alu {
                op: AluOp::Sub,
                dst: n,
                src: Opnd::V(s),
            });
            // Nil when nothing matched.
            SVal::OptSlice {
                flag: Opnd::V(found.flag),
                off: o,
                len: Opnd::V(n),
            }
        };
        let mut out = Vec::new();
        if find {
            out.push(opt(self, found.start, 1));
            out.push(opt(self, found.end, 0));
        }
        for (k, (s, e)) in found.caps.iter().enumerate() {
            let position = pat.items.contains(&Item::Position(k));
            out.push(if position {
                opt(self, *s, 1)
            } else {
                span(self, *s, *e)
            });
        }
        if !find && pat.captures == 0 {
            out.push(span(self, found.start, found.end));
        }
        Ok(out)
    }

    /// Matches `items` from `pos` on; jumps to `fail` when they do not match, else falls
    /// through with the end of the match in the register it returns.
    fn items(
        &mut self,
        items: &[Item],
        at_end: bool,
        s: (Opnd, Opnd),
        pos: VReg,
        fail: Label,
        found: &Found,
    ) -> R<VReg> {
        let (off, len) = s;
        let Some((item, rest)) = items.split_first() else {
            if at_end {
                self.br(Cond::Ne, Opnd::V(pos), len, fail);
            }
            return Ok(pos);
        };
        let (class, rep) = match item {
            Item::Open(k) | Item::Position(k) => {
                self.emit(Inst::Mov {
                    dst: found.caps[*k].0,
                    src: Opnd::V(pos),
                });
                return self.items(rest, at_end, s, pos, fail, found);
            }
            Item::Close(k) => {
                self.emit(Inst::Mov {
                    dst: found.caps[*k].1,
                    src: Opnd::V(pos),
                });
                return self.items(rest, at_end, s, pos, fail, found);
            }
            Item::Char(c, r) => (c, *r),
        };
        if rep == Rep::One {
            let p = self.one(class, s, pos, fail);
            return self.items(rest, at_end, s, p, fail, found);
        }
        let res = self.vreg();
        let ok = self.label();
        match rep {
            Rep::One => {}
            Rep::Opt => {
                let without = self.label();
                let p = self.one(class, s, pos, without);
                let r = self.items(rest, at_end, s, p, without, found)?;
                self.emit(Inst::Mov {
                    dst: res,
                    src: Opnd::V(r),
                });
                self.jmp(ok);
                self.place_label(without);
                let r = self.items(rest, at_end, s, pos, fail, found)?;
                self.emit(Inst::Mov {
                    dst: res,
                    src: Opnd::V(r),
                });
            }
            Rep::Star | Rep::Plus => {
                let from = if rep == Rep::Plus {
                    self.one(class, s, pos, fail)
                } else {
                    pos
                };
                // The longest run, then back one at a time.
                let m = self.mov(Opnd::V(from));
                let counted = self.label();
                let bound = self.scan_bound();
                let head = self.label();
                self.place_label(head);
                self.scan_iteration(bound);
                self.clamp(m);
                self.br(Cond::Sge, Opnd::V(m), len, counted);
                let b = self.byte_at_index(off, m);
                self.not_in(class, b, counted);
                self.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: m,
                    src: Opnd::Imm(1),
                });
                self.jmp(head);
                self.place_label(counted);
                let back = self.label();
                let bound = self.scan_bound();
                let retry = self.label();
                self.place_label(retry);
                self.scan_iteration(bound);
                self.clamp(m);
                let r = self.items(rest, at_end, s, m, back, found)?;
                self.emit(Inst::Mov {
                    dst: res,
                    src: Opnd::V(r),
                });
                self.jmp(ok);
                self.place_label(back);
                self.br(Cond::Sle, Opnd::V(m), Opnd::V(from), fail);
                self.emit(Inst::Alu {
                    op: AluOp::Sub,
                    dst: m,
                    src: Opnd::Imm(1),
                });
                self.jmp(retry);
            }
            Rep::Lazy => {
                let k = self.mov(Opnd::V(pos));
                let more = self.label();
                let bound = self.scan_bound();
                let retry = self.label();
                self.place_label(retry);
                self.scan_iteration(bound);
                self.clamp(k);
                let r = self.items(rest, at_end, s, k, more, found)?;
                self.emit(Inst::Mov {
                    dst: res,
                    src: Opnd::V(r),
                });
                self.jmp(ok);
                self.place_label(more);
                self.br(Cond::Sge, Opnd::V(k), len, fail);
                let b = self.byte_at_index(off, k);
                self.not_in(class, b, fail);
                self.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: k,
                    src: Opnd::Imm(1),
                });
                self.jmp(retry);
            }
        }
        self.place_label(ok);
        self.dead = false;
        Ok(res)
    }

    /// One byte of `class` at `pos` (else `fail`): the position after it.
    fn one(&mut self, class: &Class, (off, len): (Opnd, Opnd), pos: VReg, fail: Label) -> VReg {
        self.br(Cond::Sge, Opnd::V(pos), len, fail);
        let b = self.byte_at_index(off, pos);
        self.not_in(class, b, fail);
        let p = self.mov(Opnd::V(pos));
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: p,
            src: Opnd::Imm(1),
        });
        p
    }

    /// Jumps to `miss` when byte `b` is not in `class`: a test per range of the class, or of
    /// its complement when that has fewer.
    fn not_in(&mut self, class: &Class, b: Opnd, miss: Label) {
        let ranges = class.ranges();
        if ranges == [(0, 255)] {
            return;
        }
        let outside = class.complement().ranges();
        let (test, hit_is_miss) = if outside.len() < ranges.len() {
            (outside, true)
        } else {
            (ranges, false)
        };
        let hit = self.label();
        let target = if hit_is_miss { miss } else { hit };
        for (lo, hi) in test {
            if lo == hi {
                self.br(Cond::Eq, b, Opnd::Imm(lo as i64), target);
            } else {
                let t = self.mov(b);
                self.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: t,
                    src: Opnd::Imm(-(lo as i64)),
                });
                self.br(Cond::Le, Opnd::V(t), Opnd::Imm((hi - lo) as i64), target);
            }
        }
        if !hit_is_miss {
            self.jmp(miss);
            self.place_label(hit);
        }
    }
}
