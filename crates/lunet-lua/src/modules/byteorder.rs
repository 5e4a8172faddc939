//! `byteorder`: conversions between host and network (big-endian) or little-endian order.
//! Inputs are truncated to the width first, so `ntoh16(skb:getuint16(2))` is exact.

use mlua::{Lua, Table};

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
    type Swap = fn(i64) -> i64;
    let table: [(Swap, &[&str]); 6] = [
        (be16, &["ntoh16", "hton16", "be16", "htobe16", "be16toh"]),
        (be32, &["ntoh32", "hton32", "be32", "htobe32", "be32toh"]),
        (be64, &["ntoh64", "hton64", "be64", "htobe64", "be64toh"]),
        (le16, &["le16", "htole16", "le16toh"]),
        (le32, &["le32", "htole32", "le32toh"]),
        (le64, &["le64", "htole64", "le64toh"]),
    ];
    for (f, names) in table {
        let func = lua.create_function(move |_, x: i64| Ok(f(x)))?;
        for n in names {
            t.set(*n, func.clone())?;
        }
    }
    Ok(t)
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
