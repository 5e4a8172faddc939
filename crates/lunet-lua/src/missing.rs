//! A method lunet does not have, on any of its objects (skb, data), raises with its name and
//! where the script called it, instead of Lua's "attempt to call a nil value".

use mlua::{AnyUserData, Lua, MetaMethod, Value};

use crate::error::located;

/// Makes a method lunet does not have raise with its name for every object of `sample`'s
/// type (whose metatable's `__index` is its methods table, shared by the type): that table
/// gets a metatable whose `__index` raises [`missing`].
pub(crate) fn name_missing_methods(
    lua: &Lua,
    sample: AnyUserData,
    what: &'static str,
) -> mlua::Result<()> {
    // SAFETY: `exec_raw` runs the closure in a protected call with the userdata at index 1;
    // it replaces it with its metatable's raw `__index` (or nil) and leaves that one value.
    let index: Value = unsafe {
        lua.exec_raw(sample, |l| {
            if mlua::ffi::lua_getmetatable(l, 1) == 0 {
                mlua::ffi::lua_pushnil(l);
            } else {
                mlua::ffi::lua_pushstring(l, c"__index".as_ptr());
                mlua::ffi::lua_rawget(l, -2);
                mlua::ffi::lua_replace(l, -2);
            }
            mlua::ffi::lua_replace(l, 1);
            mlua::ffi::lua_settop(l, 1);
        })
    }?;
    let Value::Table(methods) = index else {
        return Ok(());
    };
    let meta = lua.create_table()?;
    meta.raw_set(
        MetaMethod::Index.name(),
        lua.create_function(move |lua, (_, name): (Value, Value)| {
            Err::<(), _>(missing(lua, what, &name))
        })?,
    )?;
    methods.set_metatable(Some(meta))
}

/// The error for `obj.name` where lunet has no such method: the name and where.
pub(crate) fn missing(lua: &Lua, what: &str, name: &Value) -> mlua::Error {
    let name = match name {
        Value::String(s) => s.to_string_lossy(),
        other => format!("({})", other.type_name()),
    };
    located(
        lua,
        format!("{what}:{name}: lunet's {what} has no method '{name}' (docs/lua-tier.md lists what there is)"),
    )
}
