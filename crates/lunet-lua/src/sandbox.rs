//! A fresh Lua 5.4 state with only what the script contract allows: `string table math utf8
//! coroutine`, `os.time`/`os.clock`, text-only `load`, `print` to the state's log. No `io`,
//! no `debug`, no `dofile`/`loadfile`, no binary chunks, no `package.loadlib`.

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use crate::log::{cut_note, Log, Stream, MAX_LINE};

pub(crate) fn new_state(memory: usize, log: Log) -> mlua::Result<Lua> {
    let libs = StdLib::STRING
        | StdLib::TABLE
        | StdLib::MATH
        | StdLib::UTF8
        | StdLib::COROUTINE
        | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    lua.set_memory_limit(memory)?;
    lua.set_app_data(crate::limits::MemoryCap(memory));
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
    crate::bounded::install(&lua)?;

    let os = g.get::<Table>("os")?;
    let safe_os = lua.create_table()?;
    safe_os.set("time", os.get::<Function>("time")?)?;
    safe_os.set("clock", os.get::<Function>("clock")?)?;
    g.set("os", safe_os)?;

    // Strings are bytes: ones that are not UTF-8 are printed with U+FFFD for each invalid
    // sequence (the log is text), as the kernel tier's print does. The line is built outside
    // the memory cap, so at most MAX_LINE bytes of it are copied; the rest is counted.
    let tostring: Function = g.get("tostring")?;
    g.set(
        "print",
        lua.create_function(move |_, args: MultiValue| {
            let mut line: Vec<u8> = Vec::new();
            let mut total = 0;
            for (i, v) in args.into_iter().enumerate() {
                let s = tostring.call::<mlua::String>(v)?;
                let bytes = s.as_bytes();
                let sep: &[u8] = if i > 0 { b"\t" } else { b"" };
                for part in [sep, &bytes[..]] {
                    total += part.len();
                    let room = MAX_LINE.saturating_sub(line.len());
                    line.extend_from_slice(&part[..part.len().min(room)]);
                }
            }
            let mut text = String::from_utf8_lossy(&line).into_owned();
            if total > line.len() {
                text.push_str(&cut_note(total - line.len()));
            }
            log.push(Stream::Print, text);
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
