//! Strings built in a hook (part of pass `lower`): `string.format` and `..`. The format is a
//! constant, read when compiling ([`crate::format::parse`]); constant arguments are
//! formatted then, and what varies per packet stays a value with its conversion
//! ([`SVal::Fmt`]), for `print` to put in its record. A string whose every piece is known is
//! a constant string.

use std::rc::Rc;

use super::{Lower, R};
use crate::diag::Loc;
use crate::format::{self, Arg, Part};
use crate::ir::Opnd;
use crate::types::{Piece, SVal};
use lunet_types::Value;

impl<'a> Lower<'a> {
    /// `string.format(fmt, ...)`.
    pub(super) fn format(&mut self, args: Vec<SVal<'a>>, at: &Loc) -> R<SVal<'a>> {
        let mut args = args.into_iter();
        let fmt = match args.next() {
            Some(SVal::Const(c)) if matches!(&*c, Value::Str(_)) => match &*c {
                Value::Str(s) => s.clone(),
                _ => Vec::new(),
            },
            other => {
                let what = other
                    .map(|v| v.describe())
                    .unwrap_or_else(|| "nothing".into());
                return Err(self.unsup_at(
                    at,
                    "string.format",
                    format!("string.format's format must be a constant string, not {what}"),
                ));
            }
        };
        let parts =
            format::parse(&fmt).map_err(|e| self.unsup_at(at, "string.format", e.to_string()))?;
        let mut pieces: Vec<Piece<'a>> = Vec::new();
        let text = |pieces: &mut Vec<Piece<'a>>, t: &[u8]| match pieces.last_mut() {
            Some(Piece::Text(prev)) => prev.extend_from_slice(t),
            _ => pieces.push(Piece::Text(t.to_vec())),
        };
        for (n, part) in parts.into_iter().enumerate() {
            let spec = match part {
                Part::Text(t) => {
                    text(&mut pieces, &t);
                    continue;
                }
                Part::Conv(s) => s,
            };
            let Some(v) = args.next() else {
                return Err(self.unsup_at(
                    at,
                    "string.format",
                    format!("string.format has no argument for conversion {}", n + 1),
                ));
            };
            let what = format!("the argument of %{}", spec.conv as char);
            let v = if spec.wants_int() {
                SVal::Int(self.int_operand_at(v, at, &what)?)
            } else {
                v
            };
            match &v {
                SVal::Int(Opnd::Imm(k)) => text(&mut pieces, &spec.apply(&Arg::Int(*k))),
                SVal::Bool(Opnd::Imm(b)) => {
                    text(&mut pieces, &spec.apply(&Arg::Text(if *b != 0 { b"true" } else { b"false" })))
                }
                SVal::Nil => text(&mut pieces, &spec.apply(&Arg::Text(b"nil"))),
                SVal::Const(c) => match super::print::tostring(c) {
                    Some(t) => text(&mut pieces, &spec.apply(&Arg::Text(&t))),
                    None => return Err(self.unsup_at(at, "string.format", format!("{what} is {}: a compiled hook formats integers, booleans, nil and strings", v.describe()))),
                },
                SVal::Fmt(inner) if spec.plain() => {
                    for p in inner.iter() {
                        match p {
                            Piece::Text(t) => text(&mut pieces, t),
                            other => pieces.push(other.clone()),
                        }
                    }
                }
                SVal::Int(_)
                | SVal::OptInt { .. }
                | SVal::Bool(_)
                | SVal::Slice { .. }
                | SVal::OptSlice { .. }
                | SVal::OneOf { .. } => pieces.push(Piece::Value(spec, v)),
                other => {
                    return Err(self.unsup_at(
                        at,
                        "string.format",
                        format!(
                            "{what} is {}: a compiled hook formats integers, booleans, nil and strings",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        Ok(match pieces.as_slice() {
            [] => SVal::Const(Rc::new(Value::Str(Vec::new()))),
            [Piece::Text(t)] => SVal::Const(Rc::new(Value::Str(t.clone()))),
            _ => SVal::Fmt(Rc::new(pieces)),
        })
    }

    /// `a .. b`: strings and integers joined (Lua raises for anything else).
    pub(super) fn concat(&mut self, a: SVal<'a>, b: SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        let mut pieces: Vec<Piece<'a>> = Vec::new();
        for v in [a, b] {
            let v = match v {
                SVal::OptInt { .. } => {
                    SVal::Int(self.int_operand_at(v, at, "an operand of `..`")?)
                }
                v => self.slice_operand(v),
            };
            let text = |t: &[u8], pieces: &mut Vec<Piece<'a>>| match pieces.last_mut() {
                Some(Piece::Text(prev)) => prev.extend_from_slice(t),
                _ => pieces.push(Piece::Text(t.to_vec())),
            };
            match v {
                SVal::Const(c) if matches!(&*c, Value::Str(_)) => {
                    if let Value::Str(s) = &*c {
                        text(s, &mut pieces);
                    }
                }
                SVal::Int(Opnd::Imm(k)) => text(k.to_string().as_bytes(), &mut pieces),
                SVal::Fmt(p) => {
                    for piece in p.iter() {
                        match piece {
                            Piece::Text(t) => text(t, &mut pieces),
                            other => pieces.push(other.clone()),
                        }
                    }
                }
                SVal::OneOf { ref members, .. }
                    if members.iter().all(|(_, m)| matches!(**m, Value::Str(_))) =>
                {
                    pieces.push(Piece::Value(plain_s(), v))
                }
                SVal::Int(_) | SVal::Slice { .. } => pieces.push(Piece::Value(plain_s(), v)),
                // Lua raises: "attempt to concatenate a nil value".
                SVal::Nil | SVal::Bool(_) => {
                    self.fail_now();
                    return Ok(SVal::Const(Rc::new(Value::Str(Vec::new()))));
                }
                other => {
                    return Err(self.unsup_at(
                        at,
                        "a string built at run time",
                        format!(
                            "`..` of {}: a compiled hook joins strings and integers",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        Ok(match pieces.as_slice() {
            [] => SVal::Const(Rc::new(Value::Str(Vec::new()))),
            [Piece::Text(t)] => SVal::Const(Rc::new(Value::Str(t.clone()))),
            _ => SVal::Fmt(Rc::new(pieces)),
        })
    }
}

/// `%s` as `tostring` converts: what `..` does to a value.
fn plain_s() -> format::Spec {
    format::Spec {
        conv: b's',
        ..format::Spec::default()
    }
}
