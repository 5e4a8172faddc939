//! A fresh Lua 5.4 state with only what the script contract allows: `string table math utf8
//! coroutine`, `os.time`/`os.clock`, text-only `load`, `print` to the state's log. No `io`,
//! no `debug`, no `dofile`/`loadfile`, no binary chunks, no `package.loadlib`.

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use crate::log::{Log, Stream};

pub(crate) fn new_state(memory: usize, log: Log) -> mlua::Result<Lua> {
    let libs = StdLib::STRING
        | StdLib::TABLE
        | StdLib::MATH
        | StdLib::UTF8
        | StdLib::COROUTINE
        | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    lua.set_memory_limit(memory)?;
    // Generational collection. Every hook call makes userdata with finalizers (the packet
    // views); under a steady stream of calls the incremental collector's finalizer runs fell
    // behind, the heap filled with objects waiting for their finalizer, and an emergency
    // collection (which runs no finalizers) could not free them: a hook that keeps nothing
    // reached the default 32 MiB cap every ~900,000 calls and gave its default verdict.
    // The generational collector keeps such a state under 1 MiB, and is no slower.
    lua.gc_gen(0, 0);
    let g = lua.globals();

    for name in ["dofile", "loadfile", "collectgarbage"] {
        g.raw_remove(name)?;
    }
    g.get::<Table>("string")?.raw_remove("dump")?;

    let os = g.get::<Table>("os")?;
    let safe_os = lua.create_table()?;
    safe_os.set("time", os.get::<Function>("time")?)?;
    safe_os.set("clock", os.get::<Function>("clock")?)?;
    g.set("os", safe_os)?;

    // Strings are bytes: ones that are not UTF-8 are printed with U+FFFD for each invalid
    // sequence (the log is text), as the kernel tier's print does.
    let tostring: Function = g.get("tostring")?;
    g.set(
        "print",
        lua.create_function(move |_, args: MultiValue| {
            let parts = args
                .into_iter()
                .map(|v| Ok(tostring.call::<mlua::String>(v)?.to_string_lossy()))
                .collect::<mlua::Result<Vec<_>>>()?;
            log.push(Stream::Print, parts.join("\t"));
            Ok(())
        })?,
    )?;

    // `load` keeps its signature but only ever accepts source text.
    lua.load(
        r#"
        local rawload = ...
        load = function(chunk, name, mode, ...)
            if select('#', ...) > 0 then return rawload(chunk, name, "t", ...) end
            return rawload(chunk, name, "t")
        end
        "#,
    )
    .set_name("=lunet-sandbox")
    .call::<()>(g.get::<Value>("load")?)?;
    Ok(lua)
}
