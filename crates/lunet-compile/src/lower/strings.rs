//! String functions in a hook (part of pass `lower`): `string.len`, `string.byte` and
//! `string.sub` (and the methods `s:len()`, `s:byte(i)`, `s:sub(i, j)`) on packet strings
//! (`getstring` slices) and constant strings, with constant positions. Positions follow Lua
//! 5.4's rules (`posrelatI`, `getendpos`): negative ones count from the end, and they are
//! clamped to the string. A packet string's length is known at run time, so a position is a
//! few compares; on a constant string everything folds. `string.byte` of a position outside
//! the string gives nothing (nil).

use std::rc::Rc;

use super::{Lower, R};
use crate::diag::Loc;
use crate::ir::{AluOp, Cond, Inst, Opnd};
use crate::types::{DataObj, SVal};
use lunet_types::Value;

/// The string functions [`Lower::string_function`] lowers, by their names in `string`.
pub(super) const STRING_FUNCTIONS: &[&str] = &["len", "byte", "sub", "find", "match"];

impl<'a> Lower<'a> {
    /// `string.<name>(s, ...)`.
    pub(super) fn string_function(
        &mut self,
        name: &str,
        args: Vec<SVal<'a>>,
        at: &Loc,
    ) -> R<Vec<SVal<'a>>> {
        if name == "find" || name == "match" {
            return self.find(args, at, name == "find");
        }
        let mut args = args.into_iter();
        let s = args.next().unwrap_or(SVal::Nil);
        let s = self.slice_operand(s);
        // A position: a constant, or an integer known at run time.
        let mut pos = |l: &mut Self, n: usize, default: Option<i64>| -> R<Option<Opnd>> {
            match args.next() {
                None | Some(SVal::Nil) => Ok(default.map(Opnd::Imm)),
                Some(v @ (SVal::Int(_) | SVal::OptInt { .. })) => {
                    Ok(Some(l.int_operand_at(v, at, "a string position")?))
                }
                Some(other) => Err(l.unsup_at(
                    at,
                    "a string position",
                    format!(
                        "string.{name}'s argument {n} must be an integer, not {}",
                        other.describe()
                    ),
                )),
            }
        };
        let constant = |l: &Self, p: Option<Opnd>| -> R<Option<i64>> {
            match p {
                None => Ok(None),
                Some(Opnd::Imm(k)) => Ok(Some(k)),
                Some(Opnd::V(_)) => Err(l.unsup_at(at, "a string position", format!("string.{name} of a constant string at a position known only at run time: not in the kernel-tier subset"))),
            }
        };
        let (off, len) = match &s {
            SVal::Slice { off, len } => (*off, *len),
            SVal::Const(c) => match &**c {
                Value::Str(b) => {
                    let b = b.clone();
                    let i = pos(self, 2, Some(1))?;
                    let i = constant(self, i)?;
                    let j = pos(self, 3, None)?;
                    let j = constant(self, j)?;
                    return Ok(fold(name, &b, i.unwrap_or(1), j));
                }
                _ => return Err(self.not_a_string(name, &s, at)),
            },
            // Lua raises on a nil string.
            SVal::Nil => {
                self.fail_now();
                return Ok(vec![]);
            }
            _ => return Err(self.not_a_string(name, &s, at)),
        };
        match name {
            "len" => Ok(vec![SVal::Int(len)]),
            "byte" => {
                let i = pos(self, 2, Some(1))?.unwrap_or(Opnd::Imm(1));
                let j = pos(self, 3, None)?;
                if j.is_some_and(|j| j != i) {
                    return Err(self.unsup_at(at, "string.byte", "string.byte of more than one position gives as many values as the packet string has bytes there: take them one at a time"));
                }
                Ok(vec![self.byte_at(off, len, i)])
            }
            _ => {
                let i = pos(self, 2, Some(1))?.unwrap_or(Opnd::Imm(1));
                let j = pos(self, 3, Some(-1))?.unwrap_or(Opnd::Imm(-1));
                Ok(vec![self.sub_slice(off, len, i, j)])
            }
        }
    }

    /// `string.find(s, needle [, init [, plain]])` of a constant needle, as plain text or a
    /// Lua pattern; `string.match(s, pattern [, init])` when not `find`.
    fn find(&mut self, args: Vec<SVal<'a>>, at: &Loc, find: bool) -> R<Vec<SVal<'a>>> {
        let mut args = args.into_iter();
        let s = args.next().unwrap_or(SVal::Nil);
        let s = self.slice_operand(s);
        let needle = match args.next() {
            Some(SVal::Const(c)) if matches!(&*c, Value::Str(_)) => match &*c {
                Value::Str(b) => b.clone(),
                _ => Vec::new(),
            },
            other => {
                let what = other
                    .map(|v| v.describe())
                    .unwrap_or_else(|| "nothing".into());
                return Err(self.unsup_at(
                    at,
                    "string.find",
                    format!(
                        "string.find and string.match take a constant string or pattern in a compiled hook, not {what}"
                    ),
                ));
            }
        };
        let init = match args.next() {
            None | Some(SVal::Nil) => 1,
            Some(SVal::Int(Opnd::Imm(k))) => k,
            Some(other) => {
                return Err(self.unsup_at(
                    at,
                    "string.find",
                    format!(
                        "string.find's init must be a constant integer in a compiled hook, not {}",
                        other.describe()
                    ),
                ))
            }
        };
        let plain = match args.next().filter(|_| find) {
            None => false,
            Some(v) => match v.static_truth() {
                Some(t) => t,
                None => {
                    return Err(self.unsup_at(
                        at,
                        "string.find",
                        "string.find's `plain` must be known when compiling",
                    ))
                }
            },
        };
        let pattern = !plain && needle.iter().any(|c| super::scan::SPECIALS.contains(c));
        if pattern || !find {
            let pat = crate::pattern::parse(&needle)
                .map_err(|e| self.unsup_at(at, "a Lua pattern", e.to_string()))?;
            return match s {
                SVal::Slice { off, len } => self.pattern_search((off, len), &pat, init, find),
                SVal::Nil => {
                    self.fail_now();
                    Ok(vec![])
                }
                other => Err(self.unsup_at(at, "a Lua pattern", format!("a pattern on {} in a compiled hook: match constant strings in the script's body", other.describe()))),
            };
        }
        match s {
            SVal::Slice { off, len } => self.find_plain((off, len), &needle, init),
            SVal::Const(c) if matches!(&*c, Value::Str(_)) => {
                let Value::Str(hay) = &*c else {
                    return Ok(vec![]);
                };
                let l = hay.len() as i64;
                let start = if init > 0 {
                    init
                } else if init == 0 || init < -l {
                    1
                } else {
                    l + init + 1
                };
                if start > l + 1 {
                    return Ok(vec![SVal::Nil]);
                }
                let from = start as usize - 1;
                let hit = (from..=hay.len().saturating_sub(needle.len())).find(|&p| {
                    p + needle.len() <= hay.len() && hay[p..p + needle.len()] == needle[..]
                });
                Ok(match hit {
                    Some(p) => vec![
                        SVal::Int(Opnd::Imm(p as i64 + 1)),
                        SVal::Int(Opnd::Imm((p + needle.len()) as i64)),
                    ],
                    None => vec![SVal::Nil],
                })
            }
            SVal::Nil => {
                self.fail_now();
                Ok(vec![])
            }
            other => Err(self.not_a_string("find", &other, at)),
        }
    }

    /// A packet string or nil used as a string: nil raises (the default verdict).
    pub(super) fn slice_operand(&mut self, v: SVal<'a>) -> SVal<'a> {
        match v {
            SVal::OptSlice { flag, off, len } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                SVal::Slice { off, len }
            }
            v => v,
        }
    }

    fn not_a_string(&self, name: &str, s: &SVal<'a>, at: &Loc) -> crate::diag::Diagnostic {
        self.unsup_at(
            at,
            "a string function",
            format!(
                "string.{name} of {} is not in the kernel-tier subset",
                s.describe()
            ),
        )
    }

    /// Byte `i` (Lua's position) of the packet string at `off`, or nil past its end.
    fn byte_at(&mut self, off: Opnd, len: Opnd, i: Opnd) -> SVal<'a> {
        // Lua 5.4's str_byte: from posrelatI(i) to getendpos(i) (of i itself, not of the
        // start): s:byte(0), and s:byte(-k) before the start, give nothing.
        let start = self.start_at(len, i);
        let end = self.end_at(len, i);
        if let (Opnd::Imm(s), Opnd::Imm(e)) = (start, end) {
            if s > e {
                return SVal::Nil;
            }
            let at = self.add(off, s - 1);
            return self.load(DataObj::Packet, at, 1, false);
        }
        let flag = self.mov(Opnd::Imm(0));
        let val = self.mov(Opnd::Imm(0));
        let skip = self.label();
        self.br(Cond::Sgt, start, end, skip);
        let at = self.sum(off, start, -1);
        if let SVal::Int(b) = self.load(DataObj::Packet, at, 1, false) {
            self.emit(Inst::Mov { dst: val, src: b });
        }
        self.emit(Inst::Mov {
            dst: flag,
            src: Opnd::Imm(1),
        });
        self.place_label(skip);
        self.dead = false;
        SVal::OptInt {
            flag: Opnd::V(flag),
            val: Opnd::V(val),
        }
    }

    /// `string.sub` of the packet string at `off`: another slice of it.
    fn sub_slice(&mut self, off: Opnd, len: Opnd, i: Opnd, j: Opnd) -> SVal<'a> {
        let start = self.start_at(len, i);
        let end = self.end_at(len, j);
        if let (Opnd::Imm(s), Opnd::Imm(e)) = (start, end) {
            let n = (e - s + 1).max(0);
            let off = if n == 0 { off } else { self.add(off, s - 1) };
            return SVal::Slice {
                off,
                len: Opnd::Imm(n),
            };
        }
        // n = max(end - start + 1, 0); the offset moves only when n > 0.
        let n = self.mov(end);
        self.emit(Inst::Alu {
            op: AluOp::Sub,
            dst: n,
            src: start,
        });
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: n,
            src: Opnd::Imm(1),
        });
        let o = self.mov(off);
        let empty = self.label();
        let done = self.label();
        self.br(Cond::Sle, Opnd::V(n), Opnd::Imm(0), empty);
        let moved = self.sum(off, start, -1);
        self.emit(Inst::Mov { dst: o, src: moved });
        self.jmp(done);
        self.place_label(empty);
        self.emit(Inst::Mov {
            dst: n,
            src: Opnd::Imm(0),
        });
        self.place_label(done);
        self.dead = false;
        SVal::Slice {
            off: Opnd::V(o),
            len: Opnd::V(n),
        }
    }

    /// [`Lower::start_pos`] of a position that may be known only at run time.
    fn start_at(&mut self, len: Opnd, i: Opnd) -> Opnd {
        let Opnd::V(_) = i else {
            let Opnd::Imm(k) = i else { return i };
            return self.start_pos(len, k);
        };
        // i > 0: i; i == 0: 1; else max(len + i + 1, 1).
        let r = self.mov(i);
        let done = self.label();
        self.br(Cond::Sgt, i, Opnd::Imm(0), done);
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: r,
            src: len,
        });
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: r,
            src: Opnd::Imm(1),
        });
        self.br(Cond::Sge, Opnd::V(r), Opnd::Imm(1), done);
        self.emit(Inst::Mov {
            dst: r,
            src: Opnd::Imm(1),
        });
        self.place_label(done);
        self.dead = false;
        // i == 0 went the negative way: len + 1 >= 1, so r = len + 1; Lua says 1.
        let fixed = self.label();
        self.br(Cond::Ne, i, Opnd::Imm(0), fixed);
        self.emit(Inst::Mov {
            dst: r,
            src: Opnd::Imm(1),
        });
        self.place_label(fixed);
        self.dead = false;
        Opnd::V(r)
    }

    /// [`Lower::end_pos`] of a position that may be known only at run time.
    fn end_at(&mut self, len: Opnd, j: Opnd) -> Opnd {
        let Opnd::V(_) = j else {
            let Opnd::Imm(k) = j else { return j };
            return self.end_pos(len, k);
        };
        // j > len: len; j >= 0: j; else max(len + j + 1, 0).
        let r = self.mov(j);
        let done = self.label();
        let negative = self.label();
        self.br(Cond::Slt, j, Opnd::Imm(0), negative);
        self.br(Cond::Sle, j, len, done);
        self.emit(Inst::Mov { dst: r, src: len });
        self.jmp(done);
        self.place_label(negative);
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: r,
            src: len,
        });
        self.emit(Inst::Alu {
            op: AluOp::Add,
            dst: r,
            src: Opnd::Imm(1),
        });
        self.br(Cond::Sge, Opnd::V(r), Opnd::Imm(0), done);
        self.emit(Inst::Mov {
            dst: r,
            src: Opnd::Imm(0),
        });
        self.place_label(done);
        self.dead = false;
        Opnd::V(r)
    }

    /// Lua's `posrelatI(i, len)`: a start position in `1..`.
    pub(super) fn start_pos(&mut self, len: Opnd, i: i64) -> Opnd {
        if i > 0 {
            return Opnd::Imm(i);
        }
        if i == 0 {
            return Opnd::Imm(1);
        }
        if let Opnd::Imm(l) = len {
            return Opnd::Imm(if i < -l { 1 } else { l + i + 1 });
        }
        // len + i + 1, at least 1.
        let r = self.sum(len, Opnd::Imm(i), 1);
        self.at_least(r, 1)
    }

    /// Lua's `getendpos(j, len)`: an end position in `0..=len`.
    fn end_pos(&mut self, len: Opnd, j: i64) -> Opnd {
        if let Opnd::Imm(l) = len {
            return Opnd::Imm(if j > l {
                l
            } else if j >= 0 {
                j
            } else if j < -l {
                0
            } else {
                l + j + 1
            });
        }
        if j >= 0 {
            // min(j, len)
            let r = self.mov(Opnd::Imm(j));
            let keep = self.label();
            self.br(Cond::Sle, Opnd::V(r), len, keep);
            self.emit(Inst::Mov { dst: r, src: len });
            self.place_label(keep);
            self.dead = false;
            return Opnd::V(r);
        }
        let r = self.sum(len, Opnd::Imm(j), 1);
        self.at_least(r, 0)
    }

    /// `max(r, k)` into a register.
    fn at_least(&mut self, r: Opnd, k: i64) -> Opnd {
        let Opnd::V(v) = r else {
            return r;
        };
        let keep = self.label();
        self.br(Cond::Sge, r, Opnd::Imm(k), keep);
        self.emit(Inst::Mov {
            dst: v,
            src: Opnd::Imm(k),
        });
        self.place_label(keep);
        self.dead = false;
        r
    }

    /// `a + k` (constants folded).
    fn add(&mut self, a: Opnd, k: i64) -> Opnd {
        self.sum(a, Opnd::Imm(0), k)
    }

    /// `a + b + k` into a fresh register (constants folded).
    pub(super) fn sum(&mut self, a: Opnd, b: Opnd, k: i64) -> Opnd {
        match (a, b) {
            (Opnd::Imm(x), Opnd::Imm(y)) => Opnd::Imm(x + y + k),
            _ => {
                let r = self.mov(a);
                if b != Opnd::Imm(0) {
                    self.emit(Inst::Alu {
                        op: AluOp::Add,
                        dst: r,
                        src: b,
                    });
                }
                if k != 0 {
                    self.emit(Inst::Alu {
                        op: AluOp::Add,
                        dst: r,
                        src: Opnd::Imm(k),
                    });
                }
                Opnd::V(r)
            }
        }
    }
}

/// A string function of a constant string, folded.
fn fold<'a>(name: &str, s: &[u8], i: i64, j: Option<i64>) -> Vec<SVal<'a>> {
    let l = s.len() as i64;
    let start = if i > 0 {
        i
    } else if i == 0 || i < -l {
        1
    } else {
        l + i + 1
    };
    let end_of = |j: i64| {
        if j > l {
            l
        } else if j >= 0 {
            j
        } else if j < -l {
            0
        } else {
            l + j + 1
        }
    };
    let int = |k: i64| SVal::Int(Opnd::Imm(k));
    match name {
        "len" => vec![int(l)],
        "byte" => {
            let end = end_of(j.unwrap_or(i));
            (start..=end)
                .map(|p| int(s[p as usize - 1] as i64))
                .collect()
        }
        _ => {
            let end = end_of(j.unwrap_or(-1));
            let b = if start <= end {
                s[start as usize - 1..end as usize].to_vec()
            } else {
                Vec::new()
            };
            vec![SVal::Const(Rc::new(Value::Str(b)))]
        }
    }
}
