//! Constant tables (part of pass `lower`): a table from the upvalues indexed by a constant
//! key folds to its value; by a run-time integer it is a binary search over its sorted keys,
//! by a packet string a compare against each key of the same length. A run-time lookup gives
//! a maybe-integer when every value is an integer, else a truth flag.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{Lower, R};
use crate::diag::Loc;
use crate::ir::{Cond, Inst, Label, Opnd, VReg};
use crate::types::{self, SVal};
use lunet_types::Value;

impl<'a> Lower<'a> {
    pub(super) fn index(&mut self, base: SVal<'a>, key: SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        if let SVal::Map(m) = &base {
            let m = m.clone();
            return self.map_get(&m, key, at);
        }
        if let SVal::Builtin(lib) = &base {
            return self.library_member(lib, &key, at);
        }
        if let SVal::OneOf { sel, members } = &base {
            let (sel, members) = (*sel, members.clone());
            return self.over_members(sel, &members, at, |l, t| l.index(t, key.clone(), at));
        }
        if let SVal::OneOf { sel, members } = &key {
            let (sel, members) = (*sel, members.clone());
            return self.over_members(sel, &members, at, |l, k| l.index(base.clone(), k, at));
        }
        let table = match &base {
            SVal::Const(c) => match &**c {
                Value::Table(t) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let Some(entries) = table else {
            return Err(match &base {
                SVal::Nil => self.unsup_at(
                    at,
                    "indexing nil",
                    "indexing a nil value (a missing field of an upvalue?)",
                ),
                SVal::Data(_) => self.unsup_at(
                    at,
                    "a data object field",
                    "data objects have only methods: call them with `:`",
                ),
                other => self.unsup_at(
                    at,
                    "an index",
                    format!(
                        "indexing {} is not in the kernel-tier subset",
                        other.describe()
                    ),
                ),
            });
        };
        // A packet string or nil: nil finds nothing (Lua reads t[nil] as nil).
        if let SVal::OptSlice { flag, off, len } = key {
            let j = self.new_join(at.clone());
            if let Some(l) = self.edge_label(j, vec![SVal::Nil]) {
                self.br(Cond::Eq, flag, Opnd::Imm(0), l);
            }
            let v = self.index(base, SVal::Slice { off, len }, at)?;
            self.edge(j, vec![v]);
            return Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil));
        }
        // Constant keys fold.
        if let Some(k) = const_key(&key) {
            for (tk, tv) in entries.iter() {
                if key_matches(&k, tk) {
                    return Ok(SVal::from_value(&Rc::new(tv.clone())));
                }
            }
            return Ok(SVal::Nil);
        }
        match key {
            SVal::Nil => Ok(SVal::Nil),
            SVal::Int(_) | SVal::OptInt { .. } => self.int_lookup(entries, key, at),
            SVal::Slice { off, len } => self.string_lookup(entries, off, len, at),
            other => Err(self.unsup_at(
                at,
                "a table key",
                format!(
                    "looking up a constant table with {} is not in the kernel-tier subset",
                    other.describe()
                ),
            )),
        }
    }

    /// What a lookup by a run-time key gives: a maybe-integer when every value is an
    /// integer, else a truth flag.
    fn lookup_result(&self, values: &[&Value], at: &Loc) -> R<bool> {
        let all_int = values.iter().all(|v| match v {
            Value::Int(_) => true,
            Value::Float(f) => types::integral(*f),
            _ => false,
        });
        if !all_int
            && values
                .iter()
                .any(|v| matches!(v, Value::Float(f) if !types::integral(*f)))
        {
            return Err(self.unsup_at(
                at,
                "a float",
                "a table of floats looked up by a run-time key",
            ));
        }
        Ok(all_int)
    }

    /// The result registers of a lookup by a run-time key, set to "absent": a flag, and when
    /// every value is an integer ([`Lower::lookup_result`]) the integer.
    fn lookup_start(&mut self, values: &[&Value], at: &Loc) -> R<Found> {
        let ints = self.lookup_result(values, at)?;
        let found = Found {
            flag: self.vreg(),
            val: self.vreg(),
            ints,
        };
        self.emit(Inst::Mov {
            dst: found.flag,
            src: Opnd::Imm(0),
        });
        if ints {
            self.emit(Inst::Mov {
                dst: found.val,
                src: Opnd::Imm(0),
            });
        }
        Ok(found)
    }

    /// The key matched an entry whose value is `v`.
    fn lookup_hit(&mut self, found: &Found, v: &Value) {
        if found.ints {
            let k = match v {
                Value::Int(i) => *i,
                Value::Float(f) => *f as i64,
                _ => 0,
            };
            self.emit(Inst::Mov {
                dst: found.flag,
                src: Opnd::Imm(1),
            });
            self.emit(Inst::Mov {
                dst: found.val,
                src: Opnd::Imm(k),
            });
        } else {
            let truth = !matches!(v, Value::Nil | Value::Bool(false));
            self.emit(Inst::Mov {
                dst: found.flag,
                src: Opnd::Imm(truth as i64),
            });
        }
    }

    /// Every path of the lookup meets at `done`: the result.
    fn lookup_end(&mut self, found: &Found, done: Label) -> SVal<'a> {
        self.place_label(done);
        self.dead = false;
        if found.ints {
            SVal::OptInt {
                flag: Opnd::V(found.flag),
                val: Opnd::V(found.val),
            }
        } else {
            SVal::Truthy(Opnd::V(found.flag))
        }
    }

    fn int_lookup(&mut self, entries: &[(Value, Value)], key: SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        let mut keys: Vec<(i64, &Value)> = entries
            .iter()
            .filter_map(|(k, v)| match k {
                Value::Int(i) => Some((*i, v)),
                Value::Float(f) if types::integral(*f) => Some((*f as i64, v)),
                _ => None,
            })
            .collect();
        keys.sort_by_key(|(k, _)| *k);
        keys.dedup_by_key(|(k, _)| *k);
        let vals: Vec<&Value> = keys.iter().map(|(_, v)| *v).collect();
        let found = self.lookup_start(&vals, at)?;
        let done = self.label();
        let k = match key {
            SVal::Int(o) => o,
            SVal::OptInt { flag: kf, val } => {
                self.br(Cond::Eq, kf, Opnd::Imm(0), done);
                val
            }
            _ => return Err(self.internal("int lookup key")),
        };
        let kv = match k {
            Opnd::V(v) => v,
            Opnd::Imm(_) => self.mov(k),
        };
        self.search(kv, &keys, &found, done);
        Ok(self.lookup_end(&found, done))
    }

    /// Binary search over sorted integer keys, a chain of compares at the leaves.
    fn search(&mut self, k: VReg, keys: &[(i64, &Value)], found: &Found, done: Label) {
        if keys.len() > 6 {
            let mid = keys.len() / 2;
            let right = self.label();
            self.emit(Inst::Br {
                cond: Cond::Sgt,
                a: k,
                b: Opnd::Imm(keys[mid - 1].0),
                target: right,
                w32: false,
            });
            self.search(k, &keys[..mid], found, done);
            self.place_label(right);
            self.search(k, &keys[mid..], found, done);
            return;
        }
        for (key, v) in keys {
            let next = self.label();
            self.emit(Inst::Br {
                cond: Cond::Ne,
                a: k,
                b: Opnd::Imm(*key),
                target: next,
                w32: false,
            });
            self.lookup_hit(found, v);
            self.jmp(done);
            self.place_label(next);
        }
        self.jmp(done);
    }

    fn string_lookup(
        &mut self,
        entries: &[(Value, Value)],
        off: Opnd,
        len: Opnd,
        at: &Loc,
    ) -> R<SVal<'a>> {
        let mut by_len: BTreeMap<usize, Vec<(&[u8], &Value)>> = BTreeMap::new();
        for (k, v) in entries {
            if let Value::Str(s) = k {
                by_len.entry(s.len()).or_default().push((s.as_slice(), v));
            }
        }
        // Deterministic code whatever order the body's table iterated in.
        for keys in by_len.values_mut() {
            keys.sort_by(|a, b| a.0.cmp(b.0));
            keys.dedup_by(|a, b| a.0 == b.0);
        }
        let vals: Vec<&Value> = by_len.values().flatten().map(|(_, v)| *v).collect();
        let found = self.lookup_start(&vals, at)?;
        let done = self.label();
        for (l, keys) in &by_len {
            let next = self.label();
            self.br(Cond::Ne, len, Opnd::Imm(*l as i64), next);
            let chunks = self.slice_chunks(off, *l);
            for (key, v) in keys {
                let miss = self.label();
                for (k, size, r) in &chunks {
                    self.chunk_ne(*r, &key[*k..*k + *size as usize], miss);
                }
                self.lookup_hit(&found, v);
                self.jmp(done);
                self.place_label(miss);
            }
            self.jmp(done);
            self.place_label(next);
        }
        Ok(self.lookup_end(&found, done))
    }
}

/// Where a run-time lookup puts its result.
struct Found {
    flag: VReg,
    val: VReg,
    /// Every value is an integer: the result is a maybe-integer, else a truth flag.
    ints: bool,
}

/// A key the compiler can look up at compile time.
enum ConstKey {
    Int(i64),
    Str(Vec<u8>),
    Bool(bool),
    Other,
}

fn const_key(v: &SVal) -> Option<ConstKey> {
    match v {
        SVal::Int(Opnd::Imm(k)) => Some(ConstKey::Int(*k)),
        SVal::Bool(Opnd::Imm(b)) => Some(ConstKey::Bool(*b != 0)),
        SVal::Const(c) => match &**c {
            Value::Str(s) => Some(ConstKey::Str(s.clone())),
            Value::Float(f) if types::integral(*f) => Some(ConstKey::Int(*f as i64)),
            _ => Some(ConstKey::Other),
        },
        SVal::Builtin(_) | SVal::Func(_) | SVal::Data(_) => Some(ConstKey::Other),
        _ => None,
    }
}

fn key_matches(k: &ConstKey, v: &Value) -> bool {
    match (k, v) {
        (ConstKey::Int(a), Value::Int(b)) => a == b,
        (ConstKey::Int(a), Value::Float(f)) => types::integral(*f) && *f as i64 == *a,
        (ConstKey::Str(a), Value::Str(b)) => a == b,
        (ConstKey::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}
