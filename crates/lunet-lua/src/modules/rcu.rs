//! `rcu`: Lunatik's shared table (lib/luarcu.c). Keys are strings; values are booleans,
//! integers or objects (userdata: data objects, maps, other rcu tables); assigning `nil`
//! removes a key. `rcu.table([size])` makes one (`size` is Lunatik's bucket count, kept
//! for compatibility: a lunet table grows as it needs), `rcu.map(t, fn)` calls
//! `fn(key, value)` for each entry, in no promised order.
//!
//! In Lunatik the table is what several runtimes (a script's per-CPU copies, a softirq hook
//! and a process) share. A lunet script has one state, whose body and hooks all run on its
//! one thread, so the table is a plain table behind the same checks: what one hook writes,
//! the next call of any hook of the state reads.

use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value};

use crate::error::located;

/// Lunatik's longest key is one byte less than its `LUARCU_MAXKEY` (`LUAL_BUFFERSIZE`, 1024
/// on 64-bit machines); a longer key fails there ("not enough memory"), here with its size.
pub(crate) const MAX_KEY: usize = 1023;

/// Lunatik's default bucket count.
const DEFAULT_SIZE: i64 = 256;

pub(crate) struct RcuTable {
    entries: Table,
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
            this.entries.raw_get::<Value>(key(lua, &k)?)
        });
        methods.add_meta_method(MetaMethod::NewIndex, |lua, this, (k, v): (Value, Value)| {
            let k = key(lua, &k)?;
            this.entries.raw_set(k, value(lua, v)?)
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("rcu table: {:p}", this.entries.to_pointer()))
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
            Ok(RcuTable {
                entries: lua.create_table()?,
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
            let entries: Vec<(Value, Value)> = rcu
                .entries
                .pairs::<Value, Value>()
                .collect::<mlua::Result<_>>()?;
            drop(rcu);
            for (k, v) in entries {
                f.call::<()>((k, v))?;
            }
            Ok(())
        })?,
    )?;
    Ok(t)
}
