//! `byteorder`: conversions between host and network (big-endian) or little-endian order.
//! Inputs are truncated to the width first, so `ntoh16(skb:getuint16(2))` is exact. They are
//! C functions (a filter calls them per packet): about 15 ns a call instead of 70 through
//! mlua.

use std::ffi::c_int;

use mlua::{ffi, Lua, Table};

fn be16(x: i64) -> i64 {
    u16::from_be(x as u16) as i64
}
fn be32(x: i64) -> i64 {
    u32::from_be(x as u32) as i64
}
fn be64(x: i64) -> i64 {
    i64::from_be(x)
}
fn le16(x: i64) -> i64 {
    u16::from_le(x as u16) as i64
}
fn le32(x: i64) -> i64 {
    u32::from_le(x as u32) as i64
}
fn le64(x: i64) -> i64 {
    i64::from_le(x)
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // Converting to and from an order is the same byte swap (or none), so one function serves
    // every name for a width and order.
    let c: [(ffi::lua_CFunction, &[&str]); 6] = [
        (
            swap::<0>,
            &["ntoh16", "hton16", "be16", "htobe16", "be16toh"],
        ),
        (
            swap::<1>,
            &["ntoh32", "hton32", "be32", "htobe32", "be32toh"],
        ),
        (
            swap::<2>,
            &["ntoh64", "hton64", "be64", "htobe64", "be64toh"],
        ),
        (swap::<3>, &["le16", "htole16", "le16toh"]),
        (swap::<4>, &["le32", "htole32", "le32toh"]),
        (swap::<5>, &["le64", "htole64", "le64toh"]),
    ];
    for (f, names) in c {
        // SAFETY: `swap` is a C function that reads one integer argument (raising the
        // standard Lua error if there is none, from a frame that owns nothing) and pushes one.
        let func = unsafe { lua.create_c_function(f)? };
        for n in names {
            t.set(*n, func.clone())?;
        }
    }
    Ok(t)
}

/// The conversion number `K` of [`module`]'s table on the integer argument.
unsafe extern "C-unwind" fn swap<const K: u8>(l: *mut ffi::lua_State) -> c_int {
    let x = ffi::luaL_checkinteger(l, 1);
    let f: fn(i64) -> i64 = match K {
        0 => be16,
        1 => be32,
        2 => be64,
        3 => le16,
        4 => le32,
        _ => le64,
    };
    ffi::lua_pushinteger(l, f(x));
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_match_a_big_endian_load() {
        let wire = [0x12u8, 0x34, 0x56, 0x78];
        let host16 = u16::from_ne_bytes([wire[0], wire[1]]) as i64;
        assert_eq!(be16(host16), 0x1234);
        let host32 = u32::from_ne_bytes(wire) as i64;
        assert_eq!(be32(host32), 0x12345678);
        assert_eq!(be16(0x1_0001), be16(1), "truncates to 16 bits");
        assert_eq!(be64(be64(-5)), -5);
    }
}
