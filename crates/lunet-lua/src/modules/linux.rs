//! `linux`: the kernel's constants (`linux.nf`, `linux.xdp`), from [`lunet_types`].

use mlua::{Lua, Table};

use lunet_types::{nf, xdp, Hook};

fn indexed(names: &'static [&'static str]) -> impl Iterator<Item = (&'static str, i64)> {
    names.iter().enumerate().map(|(i, n)| (*n, i as i64))
}

fn priorities() -> impl Iterator<Item = (&'static str, i64)> {
    nf::priority::ALL.iter().map(|(n, v)| (*n, *v as i64))
}

pub(crate) fn nf(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("proto", constants(lua, nf::PROTO.iter().copied())?)?;
    t.set("action", constants(lua, indexed(nf::action::NAMES))?)?;
    t.set(
        "inet",
        constants(lua, Hook::ALL.iter().map(|h| (h.name(), h.raw() as i64)))?,
    )?;
    let ip = lua.create_table()?;
    ip.set("pri", constants(lua, priorities())?)?;
    t.set("ip", ip)?;
    Ok(t)
}

pub(crate) fn xdp(lua: &Lua) -> mlua::Result<Table> {
    constants(lua, indexed(xdp::NAMES))
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

/// A table of name = value constants.
fn constants<'a>(
    lua: &Lua,
    pairs: impl IntoIterator<Item = (&'a str, i64)>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (k, v) in pairs {
        t.set(k, v)?;
    }
    Ok(t)
}
