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

/// Nanoseconds on a monotonic clock (Lunatik's `linux.time()` reads the kernel's; this one
/// starts at the first call in the process: only differences mean anything in either).
fn time_ns() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as i64
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let linux = lua.create_table()?;
    linux.set("time", lua.create_function(|_, ()| Ok(time_ns()))?)?;
    linux.set("nf", nf(lua)?)?;
    linux.set("xdp", xdp(lua)?)?;
    Ok(linux)
}
