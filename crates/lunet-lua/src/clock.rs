//! The clock `linux.time()` reads: the module's own, or a time set from outside the state
//! (`lunet replay` sets each packet's capture time, so a script that measures time sees the
//! capture's). The module's function is wrapped once when the modules are installed, so the
//! module itself does not know about it.

use std::cell::Cell;

use mlua::{Lua, Table, Value};

/// The time set from outside, in nanoseconds since the Unix epoch.
#[derive(Default)]
struct Fixed(Cell<Option<i64>>);

/// Sets (or, with `None`, clears) the time `linux.time()` gives.
pub(crate) fn set(lua: &Lua, ns: Option<i64>) {
    match lua.app_data_ref::<Fixed>() {
        Some(f) => f.0.set(ns),
        None => {
            lua.set_app_data(Fixed(Cell::new(ns)));
        }
    }
}

/// Makes `linux.time` give the time set with [`set`] when there is one, else what it gave.
pub(crate) fn wrap(lua: &Lua, linux: &Table) -> mlua::Result<()> {
    let Value::Function(own) = linux.get::<Value>("time")? else {
        return Ok(());
    };
    let wrapped = lua.create_function(move |lua, args: mlua::MultiValue| {
        if let Some(ns) = lua.app_data_ref::<Fixed>().and_then(|f| f.0.get()) {
            return Ok(mlua::MultiValue::from_vec(vec![Value::Integer(ns)]));
        }
        own.call::<mlua::MultiValue>(args)
    })?;
    linux.set("time", wrapped)
}
