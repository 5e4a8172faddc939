//! Global names in a hook (part of pass `lower`): the sandbox's library (`print`, `select`,
//! `ipairs`, `pairs`, `next`, `string` and its functions) as builtins, `select`, and globals
//! the hook assigns, which live as locals of one call.
//!
//! A global the hook (or a function it inlines) assigns gets a slot of the hook's call, empty
//! ([`SVal::Dead`]) until the first assignment: reading it before every path assigned it is
//! a diagnostic, since the Lua tier would read the value a previous packet left. After
//! lowering, [`crate::globals::reads_outside`] makes sure nothing outside the inlined
//! functions reads it either.

use std::rc::Rc;

use full_moon::tokenizer::TokenReference;

use super::{global, tok_loc, Lower, R};
use crate::diag::{Diagnostic, Loc};
use crate::ir::Opnd;
use crate::resolve::SlotId;
use crate::types::SVal;
use lunet_types::Value;

/// The sandbox's global functions and tables a hook may name.
const GLOBALS: &[&str] = &["print", "select", "ipairs", "pairs", "next", "string"];

/// The library functions [`Lower::library_call`] lowers.
pub(super) const CALLS: &[&str] = &[
    "select",
    "ipairs",
    "pairs",
    "string.format",
    "string.len",
    "string.byte",
    "string.sub",
    "string.find",
    "string.match",
];

/// The members of the library tables a hook may use.
const MEMBERS: &[&str] = &[
    "string.format",
    "string.len",
    "string.byte",
    "string.sub",
    "string.find",
    "string.match",
];

impl<'a> Lower<'a> {
    /// A global name read: a global of this call, a library name, or a diagnostic.
    pub(super) fn global_read(&mut self, t: &TokenReference, n: &str) -> R<SVal<'a>> {
        if let Some(&s) = self.globals.get(n) {
            // A path that began before the first assignment has no value for it yet.
            return match self.slots.get(s).unwrap_or(&SVal::Dead) {
                SVal::Dead => Err(self.unsup(t, "a global read before it is assigned", format!(
                    "'{n}' is a global read before this call assigned it on every path: it would carry a value from one packet to the next (assign it first, or make it a local)"
                ))),
                v => Ok(v.clone()),
            };
        }
        if GLOBALS.contains(&n) {
            return Ok(SVal::Builtin(n.into()));
        }
        Err(global(self.file, t, n))
    }

    /// The slot of a global the hook assigns (made on the first assignment).
    pub(super) fn global_slot(&mut self, t: &TokenReference, n: &str) -> SlotId {
        if let Some(&s) = self.globals.get(n) {
            // Made on another path (an `if`'s other branch): this one's state is shorter.
            if self.slots.len() <= s {
                self.slots.resize(s + 1, SVal::Dead);
            }
            return s;
        }
        let s = self.new_slot(SVal::Dead);
        // Never killed at a scope's end: it belongs to no scope.
        self.captured[s] = true;
        self.globals.insert(n.to_string(), s);
        self.global_sites.entry(n.to_string()).or_insert(tok_loc(t));
        s
    }

    /// `lib.key` of a library table.
    pub(super) fn library_member(&self, lib: &str, key: &SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        let name = match key {
            SVal::Const(c) => match &**c {
                Value::Str(s) => format!("{lib}.{}", String::from_utf8_lossy(s)),
                _ => String::new(),
            },
            _ => String::new(),
        };
        if MEMBERS.contains(&name.as_str()) {
            return Ok(SVal::Builtin(name.into()));
        }
        Err(self.unsup_at(
            at,
            "a library function",
            format!(
                "{} is not in the kernel-tier subset",
                if name.is_empty() {
                    format!("indexing {lib} with {}", key.describe())
                } else {
                    name
                }
            ),
        ))
    }

    /// A call of one of [`CALLS`].
    pub(super) fn library_call(
        &mut self,
        name: &str,
        args: Vec<SVal<'a>>,
        at: &Loc,
    ) -> R<Vec<SVal<'a>>> {
        match name {
            "select" => self.select(args, at),
            "ipairs" | "pairs" => self.iterate(name, args, at),
            "string.format" => self.format(args, at).map(|v| vec![v]),
            "string.len" | "string.byte" | "string.sub" | "string.find" | "string.match" => {
                self.string_function(&name["string.".len()..], args, at)
            }
            _ => Err(self.internal(format!("{name} is not a library call"))),
        }
    }

    /// `select(n, ...)` with a constant `n` (or `"#"`).
    fn select(&mut self, args: Vec<SVal<'a>>, at: &Loc) -> R<Vec<SVal<'a>>> {
        let mut args = args.into_iter();
        let n = args.next().unwrap_or(SVal::Nil);
        let rest: Vec<SVal<'a>> = args.collect();
        let count = rest.len() as i64;
        let n = match n {
            SVal::Int(Opnd::Imm(k)) => k,
            SVal::Const(c) if matches!(&*c, Value::Str(s) if s == b"#") => {
                return Ok(vec![SVal::Int(Opnd::Imm(count))])
            }
            other => {
                return Err(self.unsup_at(
                    at,
                    "select",
                    format!(
                        "select's first argument must be a constant integer or \"#\", not {}",
                        other.describe()
                    ),
                ))
            }
        };
        // Lua: a positive n from the start, a negative one from the end; 0 or before the
        // start raises "index out of range".
        let from = if n < 0 { count + n } else { n - 1 };
        if n == 0 || from < 0 {
            self.fail_now();
            return Ok(vec![]);
        }
        Ok(rest.into_iter().skip(from as usize).collect())
    }

    /// `ipairs(t)` and `pairs(t)` over a constant table: the iterator triple a generic `for`
    /// unrolls (`lower/unroll.rs`).
    fn iterate(&mut self, name: &str, args: Vec<SVal<'a>>, at: &Loc) -> R<Vec<SVal<'a>>> {
        let t = args.into_iter().next().unwrap_or(SVal::Nil);
        match &t {
            SVal::Const(c) if matches!(**c, Value::Table(_)) => {}
            SVal::Map(m) => {
                return Err(self.unsup_at(at, "a map iterated", format!(
                    "{name} over the map '{}': a compiled hook looks maps up by key (`pairs` works in the body and the Lua tier)",
                    m.decl.name
                )))
            }
            other => {
                return Err(self.unsup_at(
                    at,
                    name,
                    format!(
                        "{name} over {}: only constant tables from the body iterate in a compiled hook",
                        other.describe()
                    ),
                ))
            }
        }
        let iter = if name == "ipairs" {
            "ipairs.iter"
        } else {
            "next"
        };
        let init = if name == "ipairs" {
            SVal::Int(Opnd::Imm(0))
        } else {
            SVal::Nil
        };
        Ok(vec![SVal::Builtin(iter.into()), t, init])
    }

    /// The check after lowering: no global of this call is read anywhere the hook did not
    /// inline.
    pub(super) fn check_globals(&self) -> R<()> {
        for (name, first) in &self.global_sites {
            let reads = crate::globals::reads_outside(&self.parsed.ast, name, &self.lowered);
            if let Some(r) = reads.first() {
                return Err(Diagnostic::unsupported(
                    self.file,
                    r.clone(),
                    "a global shared with other code",
                    format!(
                        "'{name}' is a global the compiled hook assigns (line {}) and this code reads: a compiled hook keeps its globals to itself (make it a local, or share the value through a map)",
                        first.line
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A constant string as a value.
pub(super) fn const_str<'a>(s: &[u8]) -> SVal<'a> {
    SVal::Const(Rc::new(Value::Str(s.to_vec())))
}
