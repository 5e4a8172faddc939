//! `print(...)` in a compiled hook (part of pass `lower`): the record of [`crate::print`] built on
//! the stack field by field ([`Inst::PrintStore`]), packet strings copied in
//! ([`Inst::PrintCopy`]), and the record sent to the ring buffer ([`Inst::PrintEmit`]).
//!
//! What is known when compiling is folded into the site ([`PrintArg::Const`]: constant strings,
//! integers, booleans, nil), so the record carries only what varies per packet. Values Lua
//! would print as an address (tables, functions, data objects, maps) or that the compiler
//! knows only as true-or-false are a diagnostic.

use super::library::const_str;
use super::{Lower, R};
use crate::diag::Loc;
use crate::format::Spec;
use crate::ir::{AluOp, Cond, Inst, Opnd};
use crate::print::{self, Item, PrintArg, PrintSite};
use crate::types::{Piece, SVal};
use lunet_types::Value;

/// The text Lua's `tostring` gives a constant, for those whose text is not an address.
pub(super) fn tostring(v: &Value) -> Option<Vec<u8>> {
    Some(match v {
        Value::Str(s) => s.clone(),
        Value::Nil => b"nil".to_vec(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Int(k) => k.to_string().into_bytes(),
        _ => return None,
    })
}

impl<'a> Lower<'a> {
    /// `print(args...)`: one record to the ring buffer; gives no values.
    pub(super) fn print(&mut self, args: Vec<SVal<'a>>, at: &Loc) -> R<Vec<SVal<'a>>> {
        if args.len() > print::MAX_ARGS {
            return Err(self.unsup_at(
                at,
                "print",
                format!(
                    "print with {} arguments: a compiled hook prints at most {}",
                    args.len(),
                    print::MAX_ARGS
                ),
            ));
        }
        // The record's values: each argument, a `string.format`'s pieces in its place.
        let mut layout = Vec::new();
        let mut flat: Vec<SVal<'a>> = Vec::new();
        for (i, a) in args.into_iter().enumerate() {
            if i > 0 {
                layout.push(Item::Tab);
            }
            let pieces = match a {
                SVal::Fmt(p) => p.iter().cloned().collect(),
                v => vec![Piece::Value(Spec::default(), v)],
            };
            for p in pieces {
                let (v, spec) = match p {
                    Piece::Text(t) => (const_str(&t), None),
                    Piece::Value(s, v) => (v, (s.conv != 0).then_some(s)),
                };
                // A packet string known to be there is a packet string.
                let v = match v {
                    SVal::OptSlice {
                        flag: Opnd::Imm(1),
                        off,
                        len,
                    } => SVal::Slice { off, len },
                    v => v,
                };
                layout.push(Item::Arg(flat.len(), spec));
                flat.push(v);
            }
        }
        if flat.len() > u8::MAX as usize {
            return Err(self.unsup_at(at, "print", "a print of more than 255 pieces"));
        }
        let args = flat;
        let kinds = args
            .iter()
            .enumerate()
            .map(|(i, a)| self.print_arg(i, a, at))
            .collect::<R<Vec<PrintArg>>>()?;
        let id = u16::try_from(self.prints.len())
            .map_err(|_| self.unsup_at(at, "print", "more than 65536 print calls in one hook"))?;
        let mut site = PrintSite::plain(self.file, at.line as u32, kinds);
        site.layout = layout;
        let size = site.record_size();
        if size > print::MAX_RECORD {
            return Err(self.unsup_at(
                at,
                "print",
                format!(
                    "this print's record is {size} bytes (a packet string takes {}): at most {} in a compiled hook",
                    8 + print::STR_CAP,
                    print::MAX_RECORD
                ),
            ));
        }
        let offsets = site.value_offsets();
        let argc = site.args.len();
        let store = |l: &mut Self, at: usize, size: u8, src: Opnd| {
            l.emit(Inst::PrintStore {
                at: at as u16,
                size,
                src,
            })
        };
        store(
            self,
            0,
            8,
            Opnd::Imm(print::header_word(id, argc as u8) as i64),
        );
        // The kind bytes known now, a word at a time; run-time ones are stored over them.
        let fixed: Vec<u8> = site
            .args
            .iter()
            .map(|a| match a {
                PrintArg::Const(_) => print::KIND_CONST,
                PrintArg::Int | PrintArg::MaybeInt => print::KIND_INT,
                PrintArg::Bool => print::KIND_FALSE,
                PrintArg::Bytes | PrintArg::MaybeBytes => print::KIND_BYTES,
                PrintArg::Choice(_) => print::KIND_CHOICE,
            })
            .collect();
        for (w, chunk) in fixed.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            store(
                self,
                print::HEADER + 8 * w,
                8,
                Opnd::Imm(i64::from_ne_bytes(b)),
            );
        }
        let mut copies = Vec::new();
        for (i, (arg, v)) in site.args.iter().zip(&args).enumerate() {
            let kind_at = print::HEADER + i;
            match (arg, v) {
                (PrintArg::Int, SVal::Int(o)) => store(self, offsets[i], 8, *o),
                (PrintArg::Int, SVal::OptInt { val, .. }) => store(self, offsets[i], 8, *val),
                (PrintArg::MaybeInt, SVal::OptInt { flag, val }) => {
                    let k = self.mov(Opnd::Imm(print::KIND_INT as i64));
                    let done = self.label();
                    self.br(Cond::Ne, *flag, Opnd::Imm(0), done);
                    self.emit(Inst::Mov {
                        dst: k,
                        src: Opnd::Imm(print::KIND_NIL as i64),
                    });
                    self.place_label(done);
                    store(self, kind_at, 1, Opnd::V(k));
                    store(self, offsets[i], 8, *val);
                }
                (PrintArg::Bool, SVal::Bool(b)) => {
                    let k = self.mov(*b);
                    self.emit(Inst::Alu {
                        op: AluOp::Add,
                        dst: k,
                        src: Opnd::Imm(print::KIND_FALSE as i64),
                    });
                    store(self, kind_at, 1, Opnd::V(k));
                }
                (PrintArg::MaybeBytes, SVal::OptSlice { flag, off, len }) => {
                    let k = self.mov(Opnd::Imm(print::KIND_BYTES as i64));
                    let done = self.label();
                    self.br(Cond::Ne, *flag, Opnd::Imm(0), done);
                    self.emit(Inst::Mov {
                        dst: k,
                        src: Opnd::Imm(print::KIND_NIL as i64),
                    });
                    self.place_label(done);
                    store(self, kind_at, 1, Opnd::V(k));
                    store(self, offsets[i], 8, *len);
                    for w in 0..print::STR_CAP / 8 {
                        store(self, offsets[i] + 8 + 8 * w, 8, Opnd::Imm(0));
                    }
                    copies.push((offsets[i] + 8, *off, *len));
                }
                (PrintArg::Bytes, SVal::Slice { off, len }) => {
                    store(self, offsets[i], 8, *len);
                    // The copy writes only the string's bytes: the rest of the area is zeroed
                    // first, so no stale stack byte reaches the ring buffer (and the verifier
                    // sees every byte of the record written).
                    let copied = match len {
                        Opnd::Imm(k) => (*k).clamp(1, print::STR_CAP as i64) as usize,
                        Opnd::V(_) => 0,
                    };
                    for w in copied / 8..print::STR_CAP / 8 {
                        store(self, offsets[i] + 8 + 8 * w, 8, Opnd::Imm(0));
                    }
                    copies.push((offsets[i] + 8, *off, *len));
                }
                (PrintArg::Choice(_), SVal::OneOf { sel, .. }) => store(self, offsets[i], 8, *sel),
                (PrintArg::Const(_), _) => {}
                (arg, v) => {
                    return Err(self.internal(format!(
                        "print argument {} is {arg:?} for {}",
                        i + 1,
                        v.describe()
                    )))
                }
            }
        }
        // The copies are helper calls: after every store, so fewer values live across them.
        for (at, off, len) in copies {
            self.emit(Inst::PrintCopy {
                at: at as u16,
                off,
                len,
            });
        }
        self.emit(Inst::PrintEmit {
            site: id as usize,
            size: size as u16,
        });
        self.prints.push(site);
        Ok(vec![])
    }

    /// What argument `i` of a print call is to the record.
    fn print_arg(&self, i: usize, v: &SVal<'a>, at: &Loc) -> R<PrintArg> {
        let text = |t: String| Some(PrintArg::Const(t.into_bytes()));
        let arg = match v {
            SVal::Nil => text("nil".into()),
            SVal::Int(Opnd::Imm(k)) => text(k.to_string()),
            SVal::Int(_) => Some(PrintArg::Int),
            SVal::Bool(Opnd::Imm(b)) => text((*b != 0).to_string()),
            SVal::Bool(_) => Some(PrintArg::Bool),
            SVal::OptInt {
                flag: Opnd::Imm(0), ..
            } => text("nil".into()),
            SVal::OptInt {
                flag: Opnd::Imm(_),
                val: Opnd::Imm(k),
            } => text(k.to_string()),
            SVal::OptInt {
                flag: Opnd::Imm(_), ..
            } => Some(PrintArg::Int),
            SVal::OptInt { .. } => Some(PrintArg::MaybeInt),
            SVal::Slice { .. }
            | SVal::OptSlice {
                flag: Opnd::Imm(1), ..
            } => Some(PrintArg::Bytes),
            SVal::OptSlice {
                flag: Opnd::Imm(_), ..
            } => text("nil".into()),
            SVal::OptSlice { .. } => Some(PrintArg::MaybeBytes),
            SVal::Const(c) => match &**c {
                Value::Str(s) => Some(PrintArg::Const(s.clone())),
                _ => None,
            },
            SVal::OneOf { members, .. } => members
                .iter()
                .map(|(id, v)| Some((*id as u64, tostring(v)?)))
                .collect::<Option<Vec<_>>>()
                .map(PrintArg::Choice),
            _ => None,
        };
        arg.ok_or_else(|| {
            self.unsup_at(
                at,
                "print",
                format!(
                    "print's argument {} is {}: a compiled hook prints integers, booleans, nil and strings",
                    i + 1,
                    v.describe()
                ),
            )
        })
    }
}
