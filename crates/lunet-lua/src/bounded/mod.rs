//! lunet's own versions of the standard library functions whose C loops Lua cannot
//! interrupt: the count hook fires between VM instructions, never inside a C function, so
//! `("").rep("", 2^62)`, `table.insert(t, 1, v)` on a table whose `__len` says 2^62, or a
//! pathological pattern would hold the state's thread forever. The pattern functions run on
//! lunet-pattern's engine (Lua's semantics, checked against Lua's own in that crate). These do what Lua 5.4's do,
//! with the same results and error messages, and check the call's deadline as they go
//! ([`crate::budget::check_current`]).
//!
//! `rep` and the table functions are C functions written against the Lua C API (as the
//! originals are), so argument errors read exactly as Lua's: a raised error `longjmp`s out,
//! so no Rust value with a destructor is alive at any call that can raise. The pattern
//! functions are mlua functions that check their arguments with Lua's wording.

use std::ffi::c_int;

use mlua::{ffi, Lua, Table};

mod patterns;
mod strings;
mod tables;

/// Replaces the unbounded functions in the state's `string` and `table` libraries.
pub(crate) fn install(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    let string: Table = g.get("string")?;
    let table: Table = g.get("table")?;
    // SAFETY: each is a C function following the Lua C API's rules (see the module doc).
    unsafe {
        string.set("rep", lua.create_c_function(strings::rep)?)?;
        table.set("insert", lua.create_c_function(tables::insert)?)?;
        table.set("remove", lua.create_c_function(tables::remove)?)?;
        table.set("move", lua.create_c_function(tables::tmove)?)?;
    }
    patterns::install(lua, &string)?;
    Ok(())
}

/// Steps of a loop between two deadline checks.
const CHECK_EVERY: i64 = 256;

/// Raises the stop message if the running call must stop.
///
/// # Safety
/// `l` is the running thread, in a C function called from Lua, with nothing alive that needs
/// dropping.
unsafe fn checkpoint(l: *mut ffi::lua_State) {
    if let Some(msg) = crate::budget::check_current() {
        raise(l, msg);
    }
}

/// Raises `msg` with the calling Lua line, as `luaL_error` does.
///
/// # Safety
/// As [`checkpoint`]; `msg` is consumed before the `longjmp`.
unsafe fn raise(l: *mut ffi::lua_State, msg: String) -> c_int {
    ffi::luaL_where(l, 1);
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    drop(msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

#[cfg(test)]
mod tests;
