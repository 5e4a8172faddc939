//! The static kinds of values in a compiled hook, and how paths that meet agree on one.
//!
//! A [`SVal`] is what the compiler knows about a value at a point of the program: a
//! constant, or a run-time value held in virtual registers with a known kind. Where paths
//! meet (after an `if`, at a loop's head, at the end of an inlined call, for `a and b`), the
//! values of each local on each path are [`merge`]d into one kind, and each path converts its
//! value into that kind's registers (its "home").

use std::rc::Rc;

use full_moon::ast::FunctionBody;

use crate::ir::{Opnd, VReg};
use crate::resolve::Captured;
use lunet_types::{FnRef, MapRef, Value};

/// The data objects a hook receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataObj {
    /// The XDP `packet`: the frame from the Ethernet header on.
    Packet,
    /// The XDP `argument`: empty when lunet attaches the hook itself.
    Argument,
}

/// A Lua function the hook may call: always inlined.
#[derive(Clone, Debug)]
pub enum Func<'a> {
    /// A function from the upvalues (`Value::Function`), with its own upvalues.
    Upvalue {
        at: FnRef,
        upvalues: Rc<Vec<(String, Rc<Value>)>>,
    },
    /// A `local function` defined in the hook (or in a function it inlines), with the scope
    /// it closes over.
    Local {
        name: String,
        body: &'a FunctionBody,
        captured: Rc<Captured>,
    },
}

impl PartialEq for Func<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Func::Upvalue { at: a, .. }, Func::Upvalue { at: b, .. }) => a == b,
            (
                Func::Local {
                    body: a,
                    captured: ca,
                    ..
                },
                Func::Local {
                    body: b,
                    captured: cb,
                    ..
                },
            ) => std::ptr::eq(*a, *b) && Rc::ptr_eq(ca, cb),
            _ => false,
        }
    }
}

/// What the compiler knows about a value.
#[derive(Clone, Debug, PartialEq)]
pub enum SVal<'a> {
    /// A local out of scope (only in merges).
    Dead,
    Nil,
    /// 0 or 1.
    Bool(Opnd),
    Int(Opnd),
    /// `nil` when `flag` is 0, else the integer `val` (from a lookup, or a local that is
    /// `nil` on some paths).
    OptInt {
        flag: Opnd,
        val: Opnd,
    },
    /// Known only as truthy (1) or not (0): a lookup giving strings or `true`, a local that is
    /// `nil` or a boolean. Usable in conditions only.
    Truthy(Opnd),
    /// Bytes of the packet: `getstring(off, len)`, bounds checked when made.
    Slice {
        off: Opnd,
        len: Opnd,
    },
    /// A packet string, or nil when `flag` is 0 (a capture of a pattern that may not match,
    /// a local given a string on some paths only).
    OptSlice {
        flag: Opnd,
        off: Opnd,
        len: Opnd,
    },
    /// A constant from the upvalues (string, table, float, opaque value).
    Const(Rc<Value>),
    Builtin(Rc<str>),
    Func(Func<'a>),
    Data(DataObj),
    /// A `bpf.map` from the upvalues: indexing it calls the map helpers.
    Map(Rc<MapRef>),
    /// One of a few constants, chosen at run time (`c and "DROP" or "PASS"`): `sel` holds
    /// the [`Pool`] id of the one it is; `members` are the ids it may be, with their values,
    /// in id order.
    OneOf {
        sel: Opnd,
        members: Rc<Vec<(usize, Rc<Value>)>>,
    },
    /// A string `string.format` made: only `print` takes it.
    Fmt(Rc<Vec<Piece<'a>>>),
}

/// A piece of a `string.format` result: text, or a value converted by a spec.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece<'a> {
    Text(Vec<u8>),
    Value(crate::format::Spec, SVal<'a>),
}

/// The constants values drawn from a finite set ([`SVal::OneOf`]) may be, each with an id
/// of the hook (equal constants, one id).
#[derive(Debug, Default)]
pub struct Pool(Vec<Rc<Value>>);

impl Pool {
    /// The id of `v`, given one now if it has none.
    pub fn id(&mut self, v: &Rc<Value>) -> usize {
        match self.0.iter().position(|x| same_const(x, v)) {
            Some(i) => i,
            None => {
                self.0.push(v.clone());
                self.0.len() - 1
            }
        }
    }
}

/// Constants Lua's `==` finds equal (tables by identity, which a snapshot keeps as the same
/// entry only when they are one table: compared by content here, as the fold does).
fn same_const(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y,
        _ => a == b,
    }
}

/// A value that may be a member of a [`SVal::OneOf`], as a constant.
fn as_member(v: &SVal) -> Option<Rc<Value>> {
    match v {
        SVal::Nil => Some(Rc::new(Value::Nil)),
        SVal::Bool(Opnd::Imm(b)) => Some(Rc::new(Value::Bool(*b != 0))),
        SVal::Const(c) => Some(c.clone()),
        _ => None,
    }
}

impl<'a> SVal<'a> {
    /// A constant from the body, converted to what the compiler works with.
    pub fn from_value(v: &Rc<Value>) -> SVal<'a> {
        match &**v {
            Value::Nil => SVal::Nil,
            Value::Bool(b) => SVal::Bool(Opnd::Imm(*b as i64)),
            Value::Int(i) => SVal::Int(Opnd::Imm(*i)),
            Value::Float(f) if integral(*f) => SVal::Int(Opnd::Imm(*f as i64)),
            Value::Builtin(b) => SVal::Builtin(b.as_str().into()),
            Value::Map(m) => SVal::Map(Rc::new(m.clone())),
            Value::Function { at, upvalues } => SVal::Func(Func::Upvalue {
                at: *at,
                upvalues: Rc::new(
                    upvalues
                        .iter()
                        .map(|(n, v)| (n.clone(), Rc::new(v.clone())))
                        .collect(),
                ),
            }),
            _ => SVal::Const(v.clone()),
        }
    }

    /// Lua's truthiness when it is known at compile time.
    pub fn static_truth(&self) -> Option<bool> {
        match self {
            SVal::Nil => Some(false),
            SVal::Bool(Opnd::Imm(b)) | SVal::Truthy(Opnd::Imm(b)) => Some(*b != 0),
            SVal::OptInt {
                flag: Opnd::Imm(f), ..
            }
            | SVal::OptSlice {
                flag: Opnd::Imm(f), ..
            } => Some(*f != 0),
            SVal::OptSlice { .. } => None,
            SVal::Bool(_) | SVal::Truthy(_) | SVal::OptInt { .. } => None,
            SVal::OneOf { members, .. } => {
                let truth = |v: &Value| !matches!(v, Value::Nil | Value::Bool(false));
                let first = members.first().map(|(_, v)| truth(v))?;
                members
                    .iter()
                    .all(|(_, v)| truth(v) == first)
                    .then_some(first)
            }
            SVal::Const(v) => Some(!matches!(**v, Value::Nil | Value::Bool(false))),
            SVal::Dead => Some(false),
            _ => Some(true),
        }
    }

    /// How a message names this value's type.
    pub fn describe(&self) -> String {
        match self {
            SVal::Dead => "a value out of scope".into(),
            SVal::Nil => "nil".into(),
            SVal::Bool(_) => "a boolean".into(),
            SVal::Int(_) => "an integer".into(),
            SVal::OptInt { .. } => "an integer or nil".into(),
            SVal::Truthy(_) => "a value known only as true or false".into(),
            SVal::Slice { .. } => "a string of packet bytes".into(),
            SVal::OptSlice { .. } => "a string of packet bytes or nil".into(),
            SVal::Const(v) => match &**v {
                Value::Float(_) => "a float".into(),
                Value::Str(_) => "a constant string".into(),
                Value::Table(_) => "a constant table".into(),
                Value::Opaque(t) => format!("a {t} value from the script's body"),
                other => format!("a {}", other.type_name()),
            },
            SVal::Builtin(b) => format!("the library function {b}"),
            SVal::Func(_) => "a function".into(),
            SVal::Data(_) => "a data object".into(),
            SVal::Map(m) => format!("the map '{}'", m.decl.name),
            SVal::OneOf { members, .. } => {
                let names: Vec<String> = members.iter().map(|(_, v)| show(v)).collect();
                format!("one of {}", names.join(", "))
            }
            SVal::Fmt(_) => {
                "a string built per packet (with `..` or string.format: only print takes one)"
                    .into()
            }
        }
    }

    /// The virtual registers this value lives in.
    pub fn vregs(&self) -> Vec<VReg> {
        let ops: Vec<Opnd> = match self {
            SVal::Bool(o) | SVal::Int(o) | SVal::Truthy(o) | SVal::OneOf { sel: o, .. } => {
                vec![*o]
            }
            SVal::OptInt { flag, val } => vec![*flag, *val],
            SVal::Slice { off, len } => vec![*off, *len],
            SVal::OptSlice { flag, off, len } => vec![*flag, *off, *len],
            _ => vec![],
        };
        ops.into_iter()
            .filter_map(|o| match o {
                Opnd::V(v) => Some(v),
                Opnd::Imm(_) => None,
            })
            .collect()
    }
}

/// A constant as a message shows it.
pub fn show(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
        Value::Nil => "nil".into(),
        Value::Bool(b) => b.to_string(),
        other => format!("a {}", other.type_name()),
    }
}

pub fn integral(f: f64) -> bool {
    f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
}

/// The kind every path's value is converted into where paths meet.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind<'a> {
    /// Every path has the same value: nothing to convert.
    Same(SVal<'a>),
    Dead,
    Int,
    Bool,
    OptInt,
    Truthy,
    Slice,
    OptSlice,
    /// One of these constants (ids in a [`Pool`]), in a register holding the id.
    OneOf(Rc<Vec<(usize, Rc<Value>)>>),
}

/// Values that cannot meet: what each path has (each kind once per run of equal ones).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a value that is {} depending on the path taken", .kinds.join(" or "))]
pub struct MergeError {
    pub kinds: Vec<String>,
}

/// The kind values meeting at a join take, or why they cannot meet.
pub fn merge<'a>(vals: &[&SVal<'a>], pool: &mut Pool) -> Result<Kind<'a>, MergeError> {
    let Some(first) = vals.first() else {
        return Ok(Kind::Dead);
    };
    if vals.iter().any(|v| matches!(v, SVal::Dead)) {
        return Ok(Kind::Dead);
    }
    if vals.iter().all(|v| v == first) {
        return Ok(Kind::Same((*first).clone()));
    }
    let all = |f: &dyn Fn(&SVal) -> bool| vals.iter().all(|v| f(v));
    if all(&|v| matches!(v, SVal::Int(_))) {
        return Ok(Kind::Int);
    }
    if all(&|v| matches!(v, SVal::Bool(_))) {
        return Ok(Kind::Bool);
    }
    if all(&|v| matches!(v, SVal::Int(_) | SVal::OptInt { .. } | SVal::Nil)) {
        return Ok(Kind::OptInt);
    }
    if all(&|v| matches!(v, SVal::Slice { .. })) {
        return Ok(Kind::Slice);
    }
    if all(&|v| matches!(v, SVal::Slice { .. } | SVal::OptSlice { .. } | SVal::Nil)) {
        return Ok(Kind::OptSlice);
    }
    // Constants that are not numbers (and nil, booleans), at least one of them a string or
    // a table: one of a finite set.
    let member_ok = |v: &SVal| as_member(v).is_some() || matches!(v, SVal::OneOf { .. });
    let some_const = vals
        .iter()
        .any(|v| matches!(v, SVal::Const(_) | SVal::OneOf { .. }));
    if some_const && all(&member_ok) {
        let mut members: Vec<(usize, Rc<Value>)> = Vec::new();
        for v in vals {
            let add: Vec<Rc<Value>> = match v {
                SVal::OneOf { members: m, .. } => m.iter().map(|(_, c)| c.clone()).collect(),
                other => as_member(other).into_iter().collect(),
            };
            for c in add {
                let id = pool.id(&c);
                if !members.iter().any(|(i, _)| *i == id) {
                    members.push((id, c));
                }
            }
        }
        members.sort_by_key(|(i, _)| *i);
        return Ok(Kind::OneOf(Rc::new(members)));
    }
    // Values only ever tested for truth: nil, booleans, constants that are not numbers.
    let truthy_ok = |v: &SVal| match v {
        SVal::Nil | SVal::Bool(_) | SVal::Truthy(_) => true,
        SVal::Const(c) => matches!(**c, Value::Str(_) | Value::Table(_)),
        SVal::OneOf { .. } => v.static_truth().is_some(),
        _ => false,
    };
    if all(&truthy_ok) {
        return Ok(Kind::Truthy);
    }
    let mut kinds: Vec<String> = vals.iter().map(|v| v.describe()).collect();
    kinds.dedup();
    Err(MergeError { kinds })
}

/// The moves that put `v` into the registers of a value of kind `kind` (`homes`), or `None`
/// when `v` does not convert to that kind.
pub fn convert(
    v: &SVal,
    kind: &Kind,
    homes: &[VReg],
    pool: &mut Pool,
) -> Option<Vec<(VReg, Opnd)>> {
    let h = |i: usize| homes.get(i).copied();
    Some(match (kind, v) {
        (Kind::OneOf(m), SVal::OneOf { sel, members })
            if members.iter().all(|(i, _)| m.iter().any(|(j, _)| i == j)) =>
        {
            vec![(h(0)?, *sel)]
        }
        (Kind::OneOf(m), v) => {
            let id = pool.id(&as_member(v)?);
            m.iter().any(|(j, _)| *j == id).then_some(())?;
            vec![(h(0)?, Opnd::Imm(id as i64))]
        }
        (Kind::Truthy, SVal::OneOf { .. }) => {
            vec![(h(0)?, Opnd::Imm(v.static_truth()? as i64))]
        }
        (Kind::Same(s), v) if s == v => vec![],
        (Kind::Dead, _) => vec![],
        (Kind::Int, SVal::Int(o)) | (Kind::Bool, SVal::Bool(o)) => vec![(h(0)?, *o)],
        (Kind::OptInt, SVal::Int(o)) => vec![(h(0)?, Opnd::Imm(1)), (h(1)?, *o)],
        (Kind::OptInt, SVal::Nil) => vec![(h(0)?, Opnd::Imm(0)), (h(1)?, Opnd::Imm(0))],
        (Kind::OptInt, SVal::OptInt { flag, val }) => vec![(h(0)?, *flag), (h(1)?, *val)],
        (Kind::Slice, SVal::Slice { off, len }) => vec![(h(0)?, *off), (h(1)?, *len)],
        (Kind::OptSlice, SVal::Slice { off, len }) => {
            vec![(h(0)?, Opnd::Imm(1)), (h(1)?, *off), (h(2)?, *len)]
        }
        (Kind::OptSlice, SVal::Nil) => {
            vec![
                (h(0)?, Opnd::Imm(0)),
                (h(1)?, Opnd::Imm(0)),
                (h(2)?, Opnd::Imm(0)),
            ]
        }
        (Kind::OptSlice, SVal::OptSlice { flag, off, len }) => {
            vec![(h(0)?, *flag), (h(1)?, *off), (h(2)?, *len)]
        }
        (Kind::Truthy, SVal::Nil) => vec![(h(0)?, Opnd::Imm(0))],
        (Kind::Truthy, SVal::Bool(o)) | (Kind::Truthy, SVal::Truthy(o)) => vec![(h(0)?, *o)],
        (Kind::Truthy, SVal::Const(c)) if matches!(**c, Value::Str(_) | Value::Table(_)) => {
            vec![(h(0)?, Opnd::Imm(1))]
        }
        _ => return None,
    })
}

/// How many home registers a kind needs.
pub fn home_count(kind: &Kind) -> usize {
    match kind {
        Kind::Int | Kind::Bool | Kind::Truthy | Kind::OneOf(_) => 1,
        Kind::OptInt | Kind::Slice => 2,
        Kind::OptSlice => 3,
        Kind::Same(_) | Kind::Dead => 0,
    }
}

/// The value of kind `kind` living in `homes`.
pub fn in_homes<'a>(kind: &Kind<'a>, homes: &[VReg]) -> SVal<'a> {
    let h = |i: usize| Opnd::V(homes.get(i).copied().unwrap_or(0));
    match kind {
        Kind::Same(s) => s.clone(),
        Kind::Dead => SVal::Dead,
        Kind::Int => SVal::Int(h(0)),
        Kind::Bool => SVal::Bool(h(0)),
        Kind::Truthy => SVal::Truthy(h(0)),
        Kind::OptInt => SVal::OptInt {
            flag: h(0),
            val: h(1),
        },
        Kind::Slice => SVal::Slice {
            off: h(0),
            len: h(1),
        },
        Kind::OptSlice => SVal::OptSlice {
            flag: h(0),
            off: h(1),
            len: h(2),
        },
        Kind::OneOf(m) => SVal::OneOf {
            sel: h(0),
            members: m.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_meet_as_one_of_them_and_convert_to_their_ids() {
        let p = &mut Pool::default();
        let drop = SVal::Const(Rc::new(Value::Str(b"DROP".to_vec())));
        let pass = SVal::Const(Rc::new(Value::Str(b"PASS".to_vec())));
        let Kind::OneOf(m) = merge(&[&drop, &pass], p).unwrap() else {
            panic!("not one of");
        };
        assert_eq!(m.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1]);
        let k = Kind::OneOf(m);
        assert_eq!(
            convert(&pass, &k, &[4], p).unwrap(),
            vec![(4, Opnd::Imm(1))]
        );
        let v = in_homes(&k, &[4]);
        assert_eq!(v.static_truth(), Some(true));
        assert!(
            v.describe().contains("\"DROP\", \"PASS\""),
            "{}",
            v.describe()
        );
        let with_nil = merge(&[&drop, &SVal::Nil], p).unwrap();
        assert_eq!(in_homes(&with_nil, &[4]).static_truth(), None);
    }

    #[test]
    fn nil_and_integer_meet_as_maybe_integer() {
        let a = SVal::Nil;
        let b = SVal::Int(Opnd::V(3));
        assert_eq!(
            merge(&[&a, &b], &mut Pool::default()).unwrap(),
            Kind::OptInt
        );
        let m = convert(&a, &Kind::OptInt, &[7, 8], &mut Pool::default()).unwrap();
        assert_eq!(m, vec![(7, Opnd::Imm(0)), (8, Opnd::Imm(0))]);
    }

    #[test]
    fn false_or_integer_is_refused() {
        let a = SVal::Bool(Opnd::Imm(0));
        let b = SVal::Int(Opnd::Imm(3));
        let e = merge(&[&a, &b], &mut Pool::default()).unwrap_err();
        assert_eq!(e.kinds, ["a boolean", "an integer"]);
        assert_eq!(
            e.to_string(),
            "a value that is a boolean or an integer depending on the path taken"
        );
    }

    #[test]
    fn dead_wins_and_same_needs_nothing() {
        let a = SVal::Int(Opnd::V(1));
        let p = &mut Pool::default();
        assert_eq!(merge(&[&a, &SVal::Dead], p).unwrap(), Kind::Dead);
        assert_eq!(merge(&[&a, &a], p).unwrap(), Kind::Same(a.clone()));
    }
}
