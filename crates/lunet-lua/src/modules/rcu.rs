//! `rcu`: Lunatik's shared table (lib/luarcu.c). Keys are strings; values are booleans,
//! integers or objects (userdata: data objects, maps, other rcu tables); assigning `nil`
//! removes a key. `rcu.table([size])` makes one (`size` is Lunatik's bucket count, kept
//! for compatibility: a lunet table grows as it needs), `rcu.map(t, fn)` calls
//! `fn(key, value)` for each entry, in no promised order.
//!
//! In Lunatik the table is what several runtimes (a script's per-CPU copies, a softirq hook
//! and a process) share. In lunet it is what a state's per-CPU copies share (`run --cpus`):
//! the n-th `rcu.table` a copy's body makes is the n-th of every copy, through the
//! [`RcuShared`] they are given. Booleans and integers live there, behind a lock, seen by
//! every copy at once; an object (userdata) belongs to the Lua state that made it, so it is
//! seen only by the copy that stored it. With one copy, what one hook writes the next call of
//! any hook of the state reads.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value};

use crate::error::located;

/// Lunatik's longest key is one byte less than its `LUARCU_MAXKEY` (`LUAL_BUFFERSIZE`, 1024
/// on 64-bit machines); a longer key fails there ("not enough memory"), here with its size.
pub(crate) const MAX_KEY: usize = 1023;

/// Lunatik's default bucket count.
const DEFAULT_SIZE: i64 = 256;

/// A scalar entry, shared across copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bool(bool),
    Int(i64),
}

type Entries = Arc<Mutex<BTreeMap<Vec<u8>, Scalar>>>;

/// The rcu tables of a state and its per-CPU copies, by the order their bodies make them.
#[derive(Debug, Default)]
pub struct RcuShared {
    tables: Mutex<Vec<Entries>>,
}

impl RcuShared {
    /// The `index`-th table (made empty the first time it is asked for).
    fn table(&self, index: usize) -> Entries {
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        while t.len() <= index {
            t.push(Entries::default());
        }
        t[index].clone()
    }
}

/// What the `rcu` module of one Lua state holds: the shared tables, and how many this state's
/// body has made so far.
pub(crate) struct RcuContext {
    shared: Arc<RcuShared>,
    made: Cell<usize>,
}

impl RcuContext {
    pub(crate) fn new(shared: Arc<RcuShared>) -> RcuContext {
        RcuContext {
            shared,
            made: Cell::new(0),
        }
    }
}

pub(crate) struct RcuTable {
    scalars: Entries,
    /// The objects stored in the table from this state.
    objects: Table,
}

impl RcuTable {
    fn scalars(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Scalar>> {
        self.scalars.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(lua: &Lua, k: &Value) -> mlua::Result<mlua::String> {
    match k {
        Value::String(s) if s.as_bytes().len() <= MAX_KEY => Ok(s.clone()),
        Value::String(s) => Err(located(
            lua,
            format!(
                "rcu table: a key is at most {MAX_KEY} bytes (this one has {})",
                s.as_bytes().len()
            ),
        )),
        // Lunatik checks keys with luaL_checklstring, which takes numbers as strings.
        Value::Integer(_) | Value::Number(_) => Ok(lua.create_string(k.to_string()?)?),
        other => Err(located(
            lua,
            format!("rcu table: keys are strings, not {}", other.type_name()),
        )),
    }
}

fn value(lua: &Lua, v: Value) -> mlua::Result<Value> {
    match v {
        Value::Nil | Value::Boolean(_) | Value::Integer(_) | Value::UserData(_) => Ok(v),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => Ok(Value::Integer(n as i64)),
        Value::Number(n) => Err(located(
            lua,
            format!(
                "rcu table: {n} is not an integer (a value is a boolean, an integer or an object)"
            ),
        )),
        other => Err(located(
            lua,
            format!(
                "rcu table: unsupported type {} (a value is a boolean, an integer or an object)",
                other.type_name()
            ),
        )),
    }
}

impl UserData for RcuTable {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, k: Value| {
            let k = key(lua, &k)?;
            if let Some(v) = this.scalars().get(k.as_bytes().as_ref()) {
                return Ok(match *v {
                    Scalar::Bool(b) => Value::Boolean(b),
                    Scalar::Int(i) => Value::Integer(i),
                });
            }
            this.objects.raw_get::<Value>(k)
        });
        methods.add_meta_method(MetaMethod::NewIndex, |lua, this, (k, v): (Value, Value)| {
            let k = key(lua, &k)?;
            let bytes = k.as_bytes().to_vec();
            match value(lua, v)? {
                Value::Boolean(b) => {
                    this.scalars().insert(bytes, Scalar::Bool(b));
                    this.objects.raw_set(k, Value::Nil)
                }
                Value::Integer(i) => {
                    this.scalars().insert(bytes, Scalar::Int(i));
                    this.objects.raw_set(k, Value::Nil)
                }
                Value::Nil => {
                    this.scalars().remove(&bytes);
                    this.objects.raw_set(k, Value::Nil)
                }
                object => {
                    this.scalars().remove(&bytes);
                    this.objects.raw_set(k, object)
                }
            }
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("rcu table: {:p}", Arc::as_ptr(&this.scalars)))
        });
    }
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "table",
        lua.create_function(|lua, size: Option<i64>| {
            let size = size.unwrap_or(DEFAULT_SIZE);
            if !(0..=1 << 30).contains(&size) {
                return Err(located(
                    lua,
                    format!("rcu.table: size {size} is not a bucket count from 0 to 2^30"),
                ));
            }
            let scalars = match lua.app_data_ref::<RcuContext>() {
                Some(c) => {
                    let n = c.made.get();
                    c.made.set(n + 1);
                    c.shared.table(n)
                }
                None => Entries::default(),
            };
            Ok(RcuTable {
                scalars,
                objects: lua.create_table()?,
            })
        })?,
    )?;
    t.set(
        "map",
        lua.create_function(|lua, (t, f): (Value, Value)| {
            let Value::UserData(ud) = &t else {
                return Err(located(lua, "rcu.map: argument 1 is not an rcu table"));
            };
            let Ok(rcu) = ud.borrow::<RcuTable>() else {
                return Err(located(lua, "rcu.map: argument 1 is not an rcu table"));
            };
            let Value::Function(f) = f else {
                return Err(located(
                    lua,
                    format!("rcu.map: argument 2 is a {}, not a function", f.type_name()),
                ));
            };
            // A snapshot: the callback may change the table as it goes, as in Lunatik.
            let mut entries: Vec<(Value, Value)> = Vec::new();
            for (k, v) in rcu.scalars().iter() {
                let v = match *v {
                    Scalar::Bool(b) => Value::Boolean(b),
                    Scalar::Int(i) => Value::Integer(i),
                };
                entries.push((Value::String(lua.create_string(k)?), v));
            }
            entries.extend(
                rcu.objects
                    .pairs::<Value, Value>()
                    .collect::<mlua::Result<Vec<_>>>()?,
            );
            drop(rcu);
            for (k, v) in entries {
                f.call::<()>((k, v))?;
            }
            Ok(())
        })?,
    )?;
    Ok(t)
}
