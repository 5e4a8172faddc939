//! `linux`: the kernel's constants (`linux.nf`, `linux.xdp`), from [`crate::consts`].

use mlua::{Lua, Table};

use super::constants;
use crate::consts::{NF_ACTION, NF_INET, NF_IP_PRI, NF_PROTO, XDP_ACTION};

fn indexed(names: &'static [&'static str]) -> impl Iterator<Item = (&'static str, i64)> {
    names.iter().enumerate().map(|(i, n)| (*n, i as i64))
}

pub(crate) fn nf(lua: &Lua) -> mlua::Result<Table> {
    let nf = lua.create_table()?;
    nf.set("proto", constants(lua, NF_PROTO.iter().copied())?)?;
    nf.set("action", constants(lua, indexed(NF_ACTION))?)?;
    nf.set("inet", constants(lua, indexed(NF_INET))?)?;
    let ip = lua.create_table()?;
    ip.set("pri", constants(lua, NF_IP_PRI.iter().copied())?)?;
    nf.set("ip", ip)?;
    Ok(nf)
}

pub(crate) fn xdp(lua: &Lua) -> mlua::Result<Table> {
    constants(lua, indexed(XDP_ACTION))
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let linux = lua.create_table()?;
    linux.set("nf", nf(lua)?)?;
    linux.set("xdp", xdp(lua)?)?;
    Ok(linux)
}
