//! `string.rep`, bounded: the result is built in Lua's own buffer (so the memory cap counts
//! it), an empty result is not produced by a loop of empty copies, and a long copy checks the
//! call's deadline every megabyte.

use std::ffi::c_int;
use std::mem::MaybeUninit;

use mlua::ffi;

use super::{checkpoint, raise};

/// Bytes copied between two deadline checks.
const COPY_CHECK: usize = 1 << 20;

/// `string.rep(s, n [, sep])`.
pub(super) unsafe extern "C-unwind" fn rep(l: *mut ffi::lua_State) -> c_int {
    let mut len = 0usize;
    let s = ffi::luaL_checklstring(l, 1, &mut len);
    let n = ffi::luaL_checkinteger(l, 2);
    let mut sep_len = 0usize;
    let sep = ffi::luaL_optlstring(l, 3, c"".as_ptr(), &mut sep_len);
    if n <= 0 || len + sep_len == 0 {
        ffi::lua_pushstring(l, c"".as_ptr());
        return 1;
    }
    let n = n as u64;
    let unit = (len + sep_len) as u64;
    // Lua's string library refuses results over INT_MAX bytes.
    let max = i32::MAX as u64;
    if unit > max / n {
        return raise(l, "resulting string too large".to_string());
    }
    let total = (n * len as u64 + (n - 1) * sep_len as u64) as usize;
    let mut b = MaybeUninit::<ffi::luaL_Buffer>::uninit();
    let out = ffi::luaL_buffinitsize(l, b.as_mut_ptr(), total).cast::<u8>();
    let (s, sep) = (s.cast::<u8>(), sep.cast::<u8>());
    // The result is n-1 units of `s .. sep` and a last `s`: write one unit, then double the
    // written prefix (one memcpy per doubling, a deadline check per megabyte).
    let unit = len + sep_len;
    let units = (total + sep_len) / unit - 1;
    let body = units * unit;
    if units > 0 {
        std::ptr::copy_nonoverlapping(s, out, len);
        std::ptr::copy_nonoverlapping(sep, out.add(len), sep_len);
        let mut done = unit;
        while done < body {
            let step = done.min(body - done).min(COPY_CHECK);
            std::ptr::copy_nonoverlapping(out, out.add(done), step);
            done += step;
            if step == COPY_CHECK {
                checkpoint(l);
            }
        }
    }
    std::ptr::copy_nonoverlapping(s, out.add(body), len);
    ffi::luaL_pushresultsize(b.as_mut_ptr(), total);
    1
}
