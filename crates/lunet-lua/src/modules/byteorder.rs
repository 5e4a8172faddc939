//! `byteorder`: conversions between host and network (big-endian) or little-endian order, by
//! the names of [`lunet_types::builtin::BYTEORDER`]. Inputs are truncated to the width first,
//! so `ntoh16(skb:getuint16(2))` is exact. They are C functions (a filter calls them per
//! packet): about 15 ns a call instead of 70 through mlua.

use std::ffi::c_int;

use lunet_types::builtin::BYTEORDER;
use mlua::{ffi, Lua, Table};

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // One C function per conversion, monomorphised on its index in BYTEORDER.
    let c: [ffi::lua_CFunction; 6] = [
        swap::<0>, swap::<1>, swap::<2>, swap::<3>, swap::<4>, swap::<5>,
    ];
    debug_assert_eq!(c.len(), BYTEORDER.len());
    for (f, (_, names)) in c.into_iter().zip(BYTEORDER) {
        // SAFETY: `swap` is a C function that reads one integer argument (raising the
        // standard Lua error if there is none, from a frame that owns nothing) and pushes one.
        let func = unsafe { lua.create_c_function(f)? };
        for n in names.iter() {
            t.set(*n, func.clone())?;
        }
    }
    Ok(t)
}

/// Conversion `K` of [`BYTEORDER`] on the integer argument.
unsafe extern "C-unwind" fn swap<const K: usize>(l: *mut ffi::lua_State) -> c_int {
    let x = ffi::luaL_checkinteger(l, 1);
    ffi::lua_pushinteger(l, BYTEORDER[K].0.apply(x));
    1
}
