//! `checksum`: Internet checksums for scripts that rewrite packets. As in Lunatik, fixing
//! checksums after a setter is the script's business; these make it one call.
//!
//! - `checksum.inet(data [, off [, len]])`: the RFC 1071 checksum of a range.
//! - `checksum.ipv4(data)`: recomputes the IPv4 header checksum in place; returns it.
//! - `checksum.transport(data)`: recomputes the TCP or UDP checksum of an IPv4 or IPv6 packet
//!   (network-layer view, no IPv6 extension headers) in place; returns it.

use mlua::{AnyUserData, Lua, Table};

use crate::data::View;
use crate::error::located;
use crate::inet_checksum::{finish, sum, transport_checksum};

fn view(lua: &Lua, ud: &AnyUserData, ctx: &str) -> mlua::Result<View> {
    crate::skb::view_of(lua, ud)
        .ok_or_else(|| located(lua, format!("{ctx}: expected a data object")))
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "inet",
        lua.create_function(
            |lua, (ud, off, len): (AnyUserData, Option<i64>, Option<i64>)| {
                let v = view(lua, &ud, "checksum.inet")?;
                let bytes = v
                    .read_bytes(off.unwrap_or(0), len)
                    .map_err(|f| located(lua, f))?;
                Ok(finish(sum(0, &bytes)))
            },
        )?,
    )?;
    m.set(
        "ipv4",
        lua.create_function(|lua, ud: AnyUserData| {
            let v = view(lua, &ud, "checksum.ipv4")?;
            let first = v.read::<1>(0).map_err(|f| located(lua, f))?[0];
            let ihl = (first & 0x0f) as i64 * 4;
            if first >> 4 != 4 || ihl < 20 {
                return Err(located(lua, "checksum.ipv4: not an IPv4 header"));
            }
            v.write(10, &[0, 0]).map_err(|f| located(lua, f))?;
            let hdr = v.read_bytes(0, Some(ihl)).map_err(|f| located(lua, f))?;
            let c = finish(sum(0, &hdr));
            v.write(10, &c.to_be_bytes()).map_err(|f| located(lua, f))?;
            Ok(c)
        })?,
    )?;
    m.set(
        "transport",
        lua.create_function(|lua, ud: AnyUserData| {
            let v = view(lua, &ud, "checksum.transport")?;
            let bytes = v.read_bytes(0, None).map_err(|f| located(lua, f))?;
            let (at, c) = transport_checksum(&bytes)
                .map_err(|m| located(lua, format!("checksum.transport: {m}")))?;
            v.write(at as i64, &c.to_be_bytes())
                .map_err(|f| located(lua, f))?;
            Ok(c)
        })?,
    )?;
    Ok(m)
}
