//! The oracle: real Lua 5.4 (mlua, vendored) running the same calls as the Rust engine, and
//! both sides' results rendered as the Lua values they are.
//!
//! Lua's calls run under `pcall` inside Lua, so an error arrives as Lua's own message string.
//! The C library prefixes its messages with the location of the *caller* of the failing
//! function (`luaL_error` uses `luaL_where(L, 1)`). For find, match and gsub the caller is
//! `pcall` itself, a C function, so there is no prefix and messages are compared exactly. The
//! gmatch iterator is called from Lua code, so its messages carry `chunk:line: `, which
//! [`strip_location`] removes before comparing.

#![allow(dead_code)] // each test binary uses part of this

use std::collections::HashMap;

use lunet_pattern::{
    find, gsub, gsub_with, match_, Capture, Captures, Error, GMatch, Replacement, StepLimit,
};
use mlua::{Function, Lua, Table, Value};

/// A Lua value as the pattern functions return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Nil,
    Int(i64),
    Str(Vec<u8>),
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Nil => f.write_str("nil"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
        }
    }
}

/// One call's outcome: the values returned, or the error message.
pub type Outcome = Result<Vec<Val>, String>;

/// A whole gmatch loop: every iteration's values, then the error that ended it, if any.
pub type GmatchOutcome = (Vec<Vec<Val>>, Option<String>);

/// Steps the Rust side may spend per call in the differential tests: far more than any test
/// input needs, so an interruption is a bug (it shows up as a mismatch).
pub const TEST_STEPS: u64 = 50_000_000;

const HELPERS: &str = r##"
local H = {}
function H.find(s, p, init, plain) return table.pack(pcall(string.find, s, p, init, plain)) end
function H.match(s, p, init) return table.pack(pcall(string.match, s, p, init)) end
function H.gsub(s, p, r, n) return table.pack(pcall(string.gsub, s, p, r, n)) end
function H.gmatch(s, p, init)
  local out = {}
  local ok, err = pcall(function()
    local it = string.gmatch(s, p, init)
    while true do
      local r = table.pack(it())
      if r.n == 0 or r[1] == nil then return end
      out[#out + 1] = r
    end
  end)
  return out, err
end
-- The replacement function the Rust mirror in `fn_rule` copies: keeps, drops to false, or
-- wraps depending on the length of its joined arguments.
local function rule(...)
  local t = table.pack(...)
  local parts = {}
  for i = 1, t.n do
    parts[i] = math.type(t[i]) == "integer" and ("#" .. t[i]) or t[i]
  end
  local joined = table.concat(parts, ",")
  if #joined % 3 == 0 then return nil end
  if #joined % 3 == 1 then return false end
  return "<" .. joined .. ">"
end
function H.gsub_fn(s, p, n) return table.pack(pcall(string.gsub, s, p, rule, n)) end
-- The replacement table the Rust mirror in `TABLE` copies.
local T = { a = "[A]", b = false, ab = "<AB>", [""] = "E", ["\0"] = "Z", [1] = "one", [2] = 7,
            [3] = true, x = 2.5 }
function H.gsub_tbl(s, p, n) return table.pack(pcall(string.gsub, s, p, T, n)) end
return H
"##;

pub struct Oracle {
    lua: Lua,
    find: Function,
    match_: Function,
    gsub: Function,
    gmatch: Function,
    gsub_fn: Function,
    gsub_tbl: Function,
}

fn to_val(v: Value) -> Val {
    match v {
        Value::Nil => Val::Nil,
        Value::Integer(i) => Val::Int(i),
        Value::String(s) => Val::Str(s.as_bytes().to_vec()),
        other => panic!("unexpected Lua value {other:?}"),
    }
}

/// Reads `table.pack(pcall(...))`.
fn unpack(t: Table) -> Outcome {
    let n: usize = t.get("n").unwrap();
    let ok: bool = t.get(1).unwrap();
    if ok {
        Ok((2..=n).map(|i| to_val(t.get(i).unwrap())).collect())
    } else {
        let msg: mlua::String = t.get(2).unwrap();
        Err(msg.to_str().unwrap().to_string())
    }
}

impl Oracle {
    pub fn new() -> Oracle {
        let lua = Lua::new();
        let h: Table = lua.load(HELPERS).eval().unwrap();
        Oracle {
            find: h.get("find").unwrap(),
            match_: h.get("match").unwrap(),
            gsub: h.get("gsub").unwrap(),
            gmatch: h.get("gmatch").unwrap(),
            gsub_fn: h.get("gsub_fn").unwrap(),
            gsub_tbl: h.get("gsub_tbl").unwrap(),
            lua,
        }
    }

    fn s(&self, b: &[u8]) -> mlua::String {
        self.lua.create_string(b).unwrap()
    }

    pub fn find(&self, s: &[u8], p: &[u8], init: Option<i64>, plain: Option<bool>) -> Outcome {
        unpack(self.find.call((self.s(s), self.s(p), init, plain)).unwrap())
    }

    pub fn match_(&self, s: &[u8], p: &[u8], init: Option<i64>) -> Outcome {
        unpack(self.match_.call((self.s(s), self.s(p), init)).unwrap())
    }

    pub fn gsub(&self, s: &[u8], p: &[u8], r: &[u8], n: Option<i64>) -> Outcome {
        unpack(
            self.gsub
                .call((self.s(s), self.s(p), self.s(r), n))
                .unwrap(),
        )
    }

    pub fn gsub_fn(&self, s: &[u8], p: &[u8], n: Option<i64>) -> Outcome {
        unpack(self.gsub_fn.call((self.s(s), self.s(p), n)).unwrap())
    }

    pub fn gsub_tbl(&self, s: &[u8], p: &[u8], n: Option<i64>) -> Outcome {
        unpack(self.gsub_tbl.call((self.s(s), self.s(p), n)).unwrap())
    }

    pub fn gmatch(&self, s: &[u8], p: &[u8], init: Option<i64>) -> GmatchOutcome {
        let (out, err): (Table, Option<mlua::String>) =
            self.gmatch.call((self.s(s), self.s(p), init)).unwrap();
        let mut iterations = Vec::new();
        for r in out.sequence_values::<Table>() {
            let r = r.unwrap();
            let n: usize = r.get("n").unwrap();
            iterations.push((1..=n).map(|i| to_val(r.get(i).unwrap())).collect());
        }
        (
            iterations,
            err.map(|e| strip_location(&e.to_str().unwrap())),
        )
    }
}

/// Removes a leading `chunk:line: ` (the caller's location `luaL_error` adds).
pub fn strip_location(msg: &str) -> String {
    let located = msg.split_once(": ").filter(|(at, _)| {
        at.rsplit_once(':')
            .is_some_and(|(_, line)| !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
    });
    match located {
        Some((_, rest)) => rest.to_string(),
        None => msg.to_string(),
    }
}

/// Captures as the Lua values they become.
pub fn vals(subject: &[u8], caps: &[Capture]) -> Vec<Val> {
    caps.iter()
        .map(|c| match c {
            Capture::Bytes(r) => Val::Str(subject[r.clone()].to_vec()),
            Capture::Position(p) => Val::Int(*p as i64),
        })
        .collect()
}

fn budget() -> StepLimit {
    StepLimit::new(TEST_STEPS)
}

pub fn rust_find(s: &[u8], p: &[u8], init: Option<i64>, plain: Option<bool>) -> Outcome {
    let r = find(
        s,
        p,
        init.unwrap_or(1),
        plain.unwrap_or(false),
        &mut budget(),
    );
    match r.map_err(|e| e.to_string())? {
        None => Ok(vec![Val::Nil]),
        Some(f) => {
            let (a, b) = f.lua_positions();
            let mut v = vec![Val::Int(a as i64), Val::Int(b as i64)];
            v.extend(vals(s, &f.captures));
            Ok(v)
        }
    }
}

pub fn rust_match(s: &[u8], p: &[u8], init: Option<i64>) -> Outcome {
    match match_(s, p, init.unwrap_or(1), &mut budget()).map_err(|e| e.to_string())? {
        None => Ok(vec![Val::Nil]),
        Some(caps) => Ok(vals(s, &caps)),
    }
}

pub fn rust_gmatch(s: &[u8], p: &[u8], init: Option<i64>) -> GmatchOutcome {
    let mut it = GMatch::new(s.len(), init.unwrap_or(1));
    let mut out = Vec::new();
    let mut b = budget();
    // A gmatch loop ends after at most len + 1 matches (each ends later than the last).
    for _ in 0..s.len() + 2 {
        match it.next(s, p, &mut b) {
            Ok(Some(caps)) => out.push(vals(s, &caps)),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
    (out, Some("gmatch did not end".into()))
}

fn substituted(r: Result<lunet_pattern::Substituted<'_>, String>) -> Outcome {
    let s = r?;
    Ok(vec![
        Val::Str(s.text.into_owned()),
        Val::Int(s.count as i64),
    ])
}

pub fn rust_gsub(s: &[u8], p: &[u8], r: &[u8], n: Option<i64>) -> Outcome {
    substituted(gsub(s, p, r, n, &mut budget()).map_err(|e| e.to_string()))
}

/// A callback error that is not the library's: what a binding raises itself.
#[derive(Debug)]
pub enum BindingError {
    Pattern(Error),
    Other(String),
}

impl From<Error> for BindingError {
    fn from(e: Error) -> Self {
        BindingError::Pattern(e)
    }
}

impl std::fmt::Display for BindingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindingError::Pattern(e) => e.fmt(f),
            BindingError::Other(s) => f.write_str(s),
        }
    }
}

/// The Rust mirror of the Lua helper `rule`.
fn fn_rule(caps: &Captures<'_>) -> Result<Replacement, BindingError> {
    let parts: Vec<Vec<u8>> = caps
        .all()?
        .iter()
        .map(|c| match c {
            Capture::Bytes(r) => caps.subject()[r.clone()].to_vec(),
            Capture::Position(p) => format!("#{p}").into_bytes(),
        })
        .collect();
    let joined = parts.join(&b","[..]);
    Ok(match joined.len() % 3 {
        0 | 1 => Replacement::Keep,
        _ => Replacement::With([b"<", &joined[..], b">"].concat()),
    })
}

pub fn rust_gsub_fn(s: &[u8], p: &[u8], n: Option<i64>) -> Outcome {
    substituted(gsub_with(s, p, n, &mut budget(), fn_rule).map_err(|e| e.to_string()))
}

/// The Lua table `T` as a binding would see it: key to Lua value.
#[derive(Clone)]
enum TableVal {
    Str(&'static [u8]),
    False,
    Int(i64),
    True,
    Float,
}

fn table() -> HashMap<Val, TableVal> {
    HashMap::from([
        (Val::Str(b"a".to_vec()), TableVal::Str(b"[A]")),
        (Val::Str(b"b".to_vec()), TableVal::False),
        (Val::Str(b"ab".to_vec()), TableVal::Str(b"<AB>")),
        (Val::Str(b"".to_vec()), TableVal::Str(b"E")),
        (Val::Str(b"\0".to_vec()), TableVal::Str(b"Z")),
        (Val::Int(1), TableVal::Str(b"one")),
        (Val::Int(2), TableVal::Int(7)),
        (Val::Int(3), TableVal::True),
        (Val::Str(b"x".to_vec()), TableVal::Float),
    ])
}

impl std::hash::Hash for Val {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self {
            Val::Nil => 0u8.hash(h),
            Val::Int(i) => i.hash(h),
            Val::Str(s) => s.hash(h),
        }
    }
}

pub fn rust_gsub_tbl(s: &[u8], p: &[u8], n: Option<i64>) -> Outcome {
    let t = table();
    let lookup = |caps: &Captures<'_>| -> Result<Replacement, BindingError> {
        let key = vals(caps.subject(), &[caps.first()?]).remove(0);
        Ok(match t.get(&key) {
            None | Some(TableVal::False) => Replacement::Keep,
            Some(TableVal::Str(b)) => Replacement::With(b.to_vec()),
            Some(TableVal::Int(i)) => Replacement::With(i.to_string().into_bytes()),
            Some(TableVal::Float) => Replacement::With(b"2.5".to_vec()),
            Some(TableVal::True) => {
                return Err(BindingError::Other(
                    "invalid replacement value (a boolean)".into(),
                ))
            }
        })
    };
    substituted(gsub_with(s, p, n, &mut budget(), lookup).map_err(|e| e.to_string()))
}
