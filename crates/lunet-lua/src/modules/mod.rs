//! The modules a script can `require`: lunet's Lunatik-compatible ones, the standard
//! libraries, and Lua files under the script roots ([`require`]). Nothing here reaches the
//! file system except reading those files.

use mlua::{Lua, Table, Value};

mod absent;
pub(crate) mod bpf;
mod byteorder;
pub(crate) mod checksum;
pub(crate) mod linux;
mod netfilter;
pub(crate) mod rcu;
mod require;
mod xdp;

pub use require::{resolve_script, Roots};

/// Builds every lunet module and installs `require` in the state's globals.
pub(crate) fn install(lua: &Lua, roots: Roots) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    lua.set_app_data(crate::api::loaded::Loaded(loaded.clone()));
    let linux = linux::module(lua)?;
    crate::clock::wrap(lua, &linux)?;
    loaded.set("linux.nf", linux.get::<Table>("nf")?)?;
    loaded.set("linux.xdp", linux.get::<Table>("xdp")?)?;
    loaded.set("linux", linux)?;
    loaded.set("netfilter", netfilter::module(lua)?)?;
    loaded.set("xdp", xdp::module(lua)?)?;
    loaded.set("byteorder", byteorder::module(lua)?)?;
    loaded.set("checksum", checksum::module(lua)?)?;
    loaded.set("rcu", rcu::module(lua)?)?;
    loaded.set("bpf", bpf::module(lua)?)?;
    loaded.set("data", crate::datamod::module(lua)?)?;
    loaded.set("bpf.map", crate::maps::module(lua)?)?;
    // The standard libraries the sandbox has, by name (Lunatik's dnsblock does
    // `local string = require("string")`).
    for name in ["string", "table", "math", "utf8", "coroutine"] {
        if let Some(t) = lua.globals().get::<Option<Table>>(name)? {
            loaded.set(name, t)?;
        }
    }
    // The compiler recognises lunet's functions by identity: remember each one's name.
    let mut builtins = crate::snapshot::Builtins::default();
    // The base library's functions by their global names (before `_G.select` below), so
    // `local print, select = print, select` in the body gives a hook the sandbox's own.
    for name in ["print", "select", "ipairs", "pairs", "next"] {
        builtins.add(&lua.globals().get::<mlua::Function>(name)?, name);
    }
    let string: Table = lua.globals().get("string")?;
    for name in ["format", "byte", "sub", "len", "find", "match"] {
        builtins.add(
            &string.get::<mlua::Function>(name)?,
            format!("string.{name}"),
        );
    }
    for pair in loaded.pairs::<String, Value>() {
        let (module, value) = pair?;
        if let Value::Table(t) = value {
            for f in t.pairs::<String, Value>() {
                if let (name, Value::Function(f)) = f? {
                    builtins.add(&f, format!("{module}.{name}"));
                }
            }
        }
    }
    lua.set_app_data(builtins);

    // The standard libraries are Lua's own, not lunet's builtins: added after the walk.
    require::install(lua, loaded, roots)
}
