//! The modules a script can `require`: lunet's Lunatik-compatible ones, and Lua files beside
//! the script. Nothing here reaches the file system except reading those files.

use std::path::{Path, PathBuf};

use mlua::{ChunkMode, Lua, Table, Value};

use crate::error::located;

mod byteorder;
mod checksum;
mod linux;
mod netfilter;
mod xdp;

/// Builds every lunet module and installs `require` in the state's globals.
pub(crate) fn install(lua: &Lua, script_dir: PathBuf) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    lua.set_app_data(crate::api::loaded::Loaded(loaded.clone()));
    let linux = linux::module(lua)?;
    loaded.set("linux.nf", linux.get::<Table>("nf")?)?;
    loaded.set("linux.xdp", linux.get::<Table>("xdp")?)?;
    loaded.set("linux", linux)?;
    loaded.set("netfilter", netfilter::module(lua)?)?;
    loaded.set("xdp", xdp::module(lua)?)?;
    loaded.set("byteorder", byteorder::module(lua)?)?;
    loaded.set("checksum", checksum::module(lua)?)?;
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

    let cache = loaded.clone();
    let require = lua.create_function(move |lua, name: String| {
        if let Some(m) = cache.get::<Option<Value>>(name.as_str())? {
            return Ok(m);
        }
        let path = module_path(&script_dir, &name).map_err(|m| located(lua, m))?;
        let source = crate::source::read_source(&path).map_err(|e| {
            located(
                lua,
                match e.io() {
                    Some(io) => format!(
                        "module '{name}' not found: no lunet module of that name, and {}: {io}",
                        path.display()
                    ),
                    None => format!("module '{name}': {e}"),
                },
            )
        })?;
        let chunk = lua
            .load(source)
            .set_name(format!("@{}", path.display()))
            .set_mode(ChunkMode::Text)
            .into_function()?;
        let value = match chunk.call::<Value>((name.as_str(), path.display().to_string()))? {
            Value::Nil => Value::Boolean(true),
            v => v,
        };
        cache.set(name.as_str(), value.clone())?;
        Ok(value)
    })?;
    lua.globals().set("require", require)?;
    Ok(())
}

/// A `require` name that is not a dotted path of plain names.
#[derive(Debug, thiserror::Error)]
#[error("require: invalid module name '{0}' (letters, digits, '_', '-' and '.' only)")]
struct InvalidModuleName(String);

/// `a.b` -> `<dir>/a/b.lua`; names that could climb out of the script's folder are refused.
fn module_path(dir: &Path, name: &str) -> Result<PathBuf, InvalidModuleName> {
    let ok = !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !ok {
        return Err(InvalidModuleName(name.to_string()));
    }
    Ok(dir.join(format!("{}.lua", name.replace('.', "/"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_cannot_leave_the_script_folder() {
        let dir = Path::new("/scripts");
        assert_eq!(
            module_path(dir, "lib.util").unwrap(),
            Path::new("/scripts/lib/util.lua")
        );
        assert!(module_path(dir, "../etc/passwd").is_err());
        assert!(module_path(dir, "a..b").is_err());
        assert!(module_path(dir, "/abs").is_err());
    }
}
