//! Scans over packet bytes (part of pass `lower`): loops the lowering makes itself, bounded
//! like a `while` loop ([`Lower::scan_bound`]): `==` of two packet strings, and
//! `string.find(s, needle, init, true)` of a constant needle (also without `plain` when the
//! needle has no pattern character, where Lua finds it as plain text).

use super::{Lower, R};
use crate::ir::{AluOp, Cond, Inst, Label, Opnd, VReg, MAX_VAR_OFF};
use crate::types::{DataObj, SVal};

/// The characters that make a `string.find` needle a pattern (Lua's `SPECIALS`).
pub(super) const SPECIALS: &[u8] = b"^$*+?.([%-";

impl<'a> Lower<'a> {
    /// Jumps to `target` when `(a == b) == want`, `a` and `b` packet strings: their lengths,
    /// then their bytes one at a time.
    pub(super) fn slices_equal(
        &mut self,
        (ao, al): (Opnd, Opnd),
        (bo, bl): (Opnd, Opnd),
        want: bool,
        target: Label,
    ) {
        let (eq, ne) = if want {
            (target, self.label())
        } else {
            (self.label(), target)
        };
        self.br(Cond::Ne, al, bl, ne);
        let bound = self.scan_bound();
        let i = self.loose(Opnd::Imm(0), al);
        let head = self.label();
        self.place_label(head);
        self.scan_iteration(bound);
        self.clamp(i);
        self.br(Cond::Sge, Opnd::V(i), al, eq);
        let x = self.byte_at_index(ao, i);
        let y = self.byte_at_index(bo, i);
        self.br(Cond::Ne, x, y, ne);
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: i,
            src: Opnd::Imm(1),
        });
        self.jmp(head);
        let after = if want { ne } else { eq };
        self.place_label(after);
    }

    /// The byte at `off + i` of the packet (inside a string already bounds-checked).
    pub(super) fn byte_at_index(&mut self, off: Opnd, i: VReg) -> Opnd {
        let at = self.mov(off);
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: at,
            src: Opnd::V(i),
        });
        match self.load(DataObj::Packet, Opnd::V(at), 1, false) {
            SVal::Int(o) => o,
            _ => Opnd::Imm(0),
        }
    }

    /// `string.find(s, needle, init)` as plain text, `s` the packet string at `off`: the
    /// first and last positions of the first match from `init` on, or nil.
    pub(super) fn find_plain(
        &mut self,
        (off, len): (Opnd, Opnd),
        needle: &[u8],
        init: i64,
    ) -> R<Vec<SVal<'a>>> {
        // Lua: init = posrelat(init); past len + 1 there is no match; an empty needle
        // matches at init.
        let start = self.start_pos(len, init);
        let flag = self.mov(Opnd::Imm(0));
        let first = self.mov(Opnd::Imm(0));
        let done = self.label();
        let past = self.sum(len, Opnd::Imm(0), 1);
        self.br(Cond::Sgt, start, past, done);
        // p: the 0-based start tried; the last one is len - #needle.
        let p0 = self.sum(start, Opnd::Imm(0), -1);
        let p = self.loose(p0, len);
        let last = self.sum(len, Opnd::Imm(0), -(needle.len() as i64));
        let bound = self.scan_bound();
        let head = self.label();
        self.place_label(head);
        self.scan_iteration(bound);
        self.clamp(p);
        self.br(Cond::Sgt, Opnd::V(p), last, done);
        let next = self.label();
        if !needle.is_empty() {
            let at = self.mov(off);
            self.emit(Inst::Alu {
                op: AluOp::Add,
                dst: at,
                src: Opnd::V(p),
            });
            let chunks = self.slice_chunks(Opnd::V(at), needle.len());
            for (k, size, r) in chunks {
                self.chunk_ne(r, &needle[k..k + size as usize], next);
            }
        }
        self.emit(Inst::Mov {
            dst: flag,
            src: Opnd::Imm(1),
        });
        self.emit(Inst::Mov {
            dst: first,
            src: Opnd::V(p),
        });
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: first,
            src: Opnd::Imm(1),
        });
        self.jmp(done);
        self.place_label(next);
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: p,
            src: Opnd::Imm(1),
        });
        self.jmp(head);
        self.place_label(done);
        self.dead = false;
        let end = self.mov(Opnd::V(first));
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: end,
            src: Opnd::Imm(needle.len() as i64 - 1),
        });
        Ok(vec![
            SVal::OptInt {
                flag: Opnd::V(flag),
                val: Opnd::V(first),
            },
            SVal::OptInt {
                flag: Opnd::V(flag),
                val: Opnd::V(end),
            },
        ])
    }

    /// `v` (a position) as a register the verifier knows only as a range: the length minus
    /// a copy of it, plus `v`. Loop heads then see positions as ranges that an earlier
    /// iteration's range covers, and the verifier prunes them ([`Lower::clamp`] keeps them
    /// in `0..=MAX_VAR_OFF`); exact positions would be walked one by one.
    pub(super) fn loose(&mut self, v: Opnd, len: Opnd) -> VReg {
        let r = self.mov(len);
        let copy = self.mov(len);
        self.emit(Inst::Alu {
            op: AluOp::Sub,
            dst: r,
            src: Opnd::V(copy),
        });
        if v != Opnd::Imm(0) {
            self.emit(Inst::Alu {
                op: AluOp::Add,
                dst: r,
                src: v,
            });
        }
        r
    }

    /// At a loop head: a position past the largest offset fails (it cannot be one, the
    /// string being checked), so the verifier sees it in `0..=MAX_VAR_OFF`.
    pub(super) fn clamp(&mut self, v: VReg) {
        let f = self.fail;
        self.br(Cond::Gt, Opnd::V(v), Opnd::Imm(MAX_VAR_OFF), f);
    }
}
