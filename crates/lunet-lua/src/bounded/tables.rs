//! `table.insert`, `table.remove` and `table.move`, bounded: their element-shifting loops run
//! as long as a length or a range says, and a `__len` metamethod can say 2^62, so they check
//! the call's deadline every [`super::CHECK_EVERY`] elements. Otherwise as Lua 5.4's: the
//! same metamethods honoured, the same argument checks and messages.

use std::ffi::{c_int, CStr};

use mlua::ffi;

use super::{checkpoint, CHECK_EVERY};

/// What an argument must allow besides being a table (Lua's `checktab` options).
const READ: u8 = 1;
const WRITE: u8 = 2;
const LEN: u8 = 4;

/// Argument `arg` is a table, or has the metamethods `what` needs; raises Lua's "table
/// expected" otherwise.
unsafe fn check_table(l: *mut ffi::lua_State, arg: c_int, what: u8) {
    if ffi::lua_type(l, arg) == ffi::LUA_TTABLE {
        return;
    }
    let mut pushed = 1;
    let ok = ffi::lua_getmetatable(l, arg) != 0
        && (what & READ == 0 || has_field(l, c"__index", &mut pushed))
        && (what & WRITE == 0 || has_field(l, c"__newindex", &mut pushed))
        && (what & LEN == 0 || has_field(l, c"__len", &mut pushed));
    if ok {
        ffi::lua_pop(l, pushed);
    } else {
        ffi::luaL_checktype(l, arg, ffi::LUA_TTABLE);
    }
}

/// Pushes `metatable[key]` (raw) and says whether it is there; the metatable is `pushed`
/// slots down.
unsafe fn has_field(l: *mut ffi::lua_State, key: &CStr, pushed: &mut c_int) -> bool {
    ffi::lua_pushstring(l, key.as_ptr());
    let found = ffi::lua_rawget(l, -*pushed - 1) != ffi::LUA_TNIL;
    *pushed += 1;
    found
}

/// `t[to] = t[from]`, with `t` at index `src` and the destination at `dst`.
unsafe fn copy(l: *mut ffi::lua_State, src: c_int, from: i64, dst: c_int, to: i64) {
    ffi::lua_geti(l, src, from);
    ffi::lua_seti(l, dst, to);
}

/// `table.insert(t, [pos,] v)`.
pub(super) unsafe extern "C-unwind" fn insert(l: *mut ffi::lua_State) -> c_int {
    check_table(l, 1, READ | WRITE | LEN);
    let first_empty = ffi::luaL_len(l, 1).wrapping_add(1);
    let pos = match ffi::lua_gettop(l) {
        2 => first_empty,
        3 => {
            let pos = ffi::luaL_checkinteger(l, 2);
            // `pos` in [1, first_empty], compared unsigned as Lua does.
            if (pos as u64).wrapping_sub(1) >= first_empty as u64 {
                ffi::luaL_argerror(l, 2, c"position out of bounds".as_ptr());
            }
            let mut i = first_empty;
            while i > pos {
                copy(l, 1, i - 1, 1, i);
                i -= 1;
                if (first_empty - i) % CHECK_EVERY == 0 {
                    checkpoint(l);
                }
            }
            pos
        }
        _ => return ffi::luaL_error(l, c"wrong number of arguments to 'insert'".as_ptr()),
    };
    ffi::lua_seti(l, 1, pos);
    0
}

/// `table.remove(t [, pos])`.
pub(super) unsafe extern "C-unwind" fn remove(l: *mut ffi::lua_State) -> c_int {
    check_table(l, 1, READ | WRITE | LEN);
    let size = ffi::luaL_len(l, 1);
    let mut pos = ffi::luaL_optinteger(l, 2, size);
    if pos != size && (pos as u64).wrapping_sub(1) > size as u64 {
        ffi::luaL_argerror(l, 2, c"position out of bounds".as_ptr());
    }
    ffi::lua_geti(l, 1, pos);
    let start = pos;
    while pos < size {
        copy(l, 1, pos + 1, 1, pos);
        pos += 1;
        if (pos - start) % CHECK_EVERY == 0 {
            checkpoint(l);
        }
    }
    ffi::lua_pushnil(l);
    ffi::lua_seti(l, 1, pos);
    1
}

/// `table.move(a1, f, e, t [, a2])`.
pub(super) unsafe extern "C-unwind" fn tmove(l: *mut ffi::lua_State) -> c_int {
    let f = ffi::luaL_checkinteger(l, 2);
    let e = ffi::luaL_checkinteger(l, 3);
    let t = ffi::luaL_checkinteger(l, 4);
    let dst = if ffi::lua_isnoneornil(l, 5) == 0 {
        5
    } else {
        1
    };
    check_table(l, 1, READ);
    check_table(l, dst, WRITE);
    if e >= f {
        if !(f > 0 || e < i64::MAX + f) {
            ffi::luaL_argerror(l, 3, c"too many elements to move".as_ptr());
        }
        let n = e - f + 1;
        if t > i64::MAX - n + 1 {
            ffi::luaL_argerror(l, 4, c"destination wrap around".as_ptr());
        }
        // Forward unless the ranges overlap with the destination ahead (as Lua decides).
        let forward =
            t > e || t <= f || (dst != 1 && ffi::lua_compare(l, 1, dst, ffi::LUA_OPEQ) == 0);
        for k in 0..n {
            let i = if forward { k } else { n - 1 - k };
            copy(l, 1, f + i, dst, t + i);
            if (k + 1) % CHECK_EVERY == 0 {
                checkpoint(l);
            }
        }
    }
    ffi::lua_pushvalue(l, dst);
    1
}
