//! Generic `for` over constant tables (part of pass `lower`): `for i, v in ipairs(t)` and
//! `for k, v in pairs(t)` (or `next, t`) where `t` is a table from the body are unrolled,
//! the body lowered once per entry with the key and value as constants. `ipairs` walks
//! `1, 2, ...` up to the first absent index; `pairs` takes the entries in the order the
//! body's `pairs` gave them when the snapshot was taken, which is the order Lua's `pairs`
//! gives in the hook (the table does not change after the body). `break` leaves the loop.

use full_moon::ast::{GenericFor, Stmt};

use super::{loc, name_of, LoopCtx, Lower, R};
use crate::types::{self, SVal};
use lunet_types::Value;

/// Entries an unrolled loop may have (each is a copy of the body).
const MAX_UNROLL: usize = 256;

impl<'a> Lower<'a> {
    pub(super) fn generic_for(&mut self, s: &'a Stmt, g: &'a GenericFor) -> R<()> {
        let at = loc(s);
        let vals = self.exprs(g.expressions(), Some(3))?;
        let table = match &vals[1] {
            SVal::Const(c) => match &**c {
                Value::Table(t) => Some(t.clone()),
                _ => None,
            },
            _ => None,
        };
        let iter = match &vals[0] {
            SVal::Builtin(b) if &**b == "ipairs.iter" || &**b == "next" => Some(b.clone()),
            _ => None,
        };
        let (Some(iter), Some(entries)) = (iter, table) else {
            return Err(self.unsup(
                g,
                "a generic for",
                format!(
                    "a generic `for` over {}: a compiled hook iterates `ipairs(t)` and `pairs(t)` of constant tables from the body",
                    vals[0].describe()
                ),
            ));
        };
        let steps: Vec<(Value, Value)> = if &*iter == "ipairs.iter" {
            let mut out = Vec::new();
            for i in 1.. {
                let hit = entries.iter().find(|(k, v)| {
                    !matches!(v, Value::Nil)
                        && match k {
                            Value::Int(k) => *k == i,
                            Value::Float(f) => types::integral(*f) && *f as i64 == i,
                            _ => false,
                        }
                });
                match hit {
                    Some((_, v)) => out.push((Value::Int(i), v.clone())),
                    None => break,
                }
                if out.len() > MAX_UNROLL {
                    break;
                }
            }
            out
        } else {
            entries
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Nil))
                .cloned()
                .collect()
        };
        if steps.len() > MAX_UNROLL {
            return Err(self.unsup(
                g,
                "a generic for",
                format!("a loop over more than {MAX_UNROLL} entries of a constant table: each is a copy of the body"),
            ));
        }
        let exit = self.new_join(at);
        let head = self.label();
        let frame = self.frames.len() - 1;
        self.loops.push(LoopCtx {
            exit,
            head,
            head_len: 0,
            head_state: Vec::new(),
            carried: Default::default(),
            widen: Vec::new(),
            frame,
        });
        let names: Vec<String> = g.names().iter().map(name_of).collect();
        let r = (|| -> R<()> {
            for (k, v) in steps {
                if self.dead {
                    break;
                }
                self.push_scope();
                let bound = [k, v];
                for (i, n) in names.iter().enumerate() {
                    let val = match bound.get(i) {
                        Some(x) => SVal::from_value(&std::rc::Rc::new(x.clone())),
                        None => SVal::Nil,
                    };
                    let slot = self.new_slot(val);
                    self.env.declare(n, slot);
                }
                let r = self.block(g.block());
                self.pop_scope();
                r?;
            }
            Ok(())
        })();
        self.loops.pop();
        r?;
        self.edge(exit, vec![]);
        self.place(exit)?;
        Ok(())
    }
}
