//! `require` as Lunatik resolves it: lunet's modules and the standard libraries by name, then
//! Lua files under the script roots, a dotted name mapping to folders
//! (`examples.dnsblock.common` -> `<root>/examples/dnsblock/common.lua`, or
//! `<root>/examples/dnsblock/common/init.lua`), the first root that has the file winning.
//! A name is plain words joined by dots, so it cannot climb out of a root; the file is read
//! as any script is (regular files only, at most [`crate::MAX_SOURCE`] bytes).

use std::path::{Path, PathBuf};

use mlua::{ChunkMode, Lua, Table, Value};

use crate::error::located;

/// The standard libraries `require` returns by name, as Lunatik opens them as modules.
pub(crate) const STANDARD: &[&str] = &["string", "table", "math", "utf8", "coroutine"];

/// Where `require` looks for Lua files, in order: the script's own directory, then the roots
/// the caller gives (the current directory and each `--path DIR`, for the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots(pub Vec<PathBuf>);

impl Roots {
    /// The script's directory first, then `rest`, each once.
    pub fn new(script_dir: PathBuf, rest: &[PathBuf]) -> Roots {
        let mut all: Vec<PathBuf> = Vec::new();
        for r in std::iter::once(script_dir).chain(rest.iter().cloned()) {
            let r = if r.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                r
            };
            if !all.contains(&r) {
                all.push(r);
            }
        }
        Roots(all)
    }

    /// The file a module name names under the first root that has it, or every path tried.
    pub fn find(&self, name: &str) -> Result<PathBuf, Lookup> {
        let rel = relative(name).ok_or_else(|| Lookup::Invalid(name.to_string()))?;
        let mut tried = Vec::new();
        for root in &self.0 {
            for candidate in [
                root.join(format!("{rel}.lua")),
                root.join(&rel).join("init.lua"),
            ] {
                // Only whether something is there: read_source judges what it is.
                if std::fs::symlink_metadata(&candidate).is_ok() {
                    return Ok(candidate);
                }
                tried.push(candidate);
            }
        }
        Err(Lookup::Missing(tried))
    }
}

/// Why a module name gave no file.
#[derive(Debug)]
pub enum Lookup {
    /// Not a dotted path of plain names.
    Invalid(String),
    /// Every path tried.
    Missing(Vec<PathBuf>),
}

/// `a.b` -> `a/b`, when every part is letters, digits, `_` or `-`.
fn relative(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    ok.then(|| name.replace('.', "/"))
}

/// The script a command line names: `SCRIPT` as given when it is a file, else, for a name
/// without `.lua` (Lunatik's `lunatik run examples/dnsblock/nf_dnsblock`), `<root>/SCRIPT.lua`
/// under the first of `roots` that has it. `None` when neither exists.
pub fn resolve_script(script: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    if script.is_file() {
        return Some(script.to_path_buf());
    }
    if script.extension().is_some_and(|e| e == "lua") || script.is_absolute() {
        return None;
    }
    let mut name = script.as_os_str().to_owned();
    name.push(".lua");
    let rel = PathBuf::from(name);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    roots.iter().map(|r| r.join(&rel)).find(|p| p.is_file())
}

/// Installs `require` over `loaded` (lunet's modules and the standard libraries).
pub(crate) fn install(lua: &Lua, loaded: Table, roots: Roots) -> mlua::Result<()> {
    let g = lua.globals();
    for name in STANDARD {
        loaded.set(*name, g.get::<Table>(*name)?)?;
    }
    let require = lua.create_function(move |lua, name: String| {
        match loaded.get::<Option<Value>>(name.as_str())? {
            Some(Value::LightUserData(l)) if l.0.is_null() => {
                return Err(located(
                    lua,
                    format!("require: module '{name}' requires itself (it is still loading)"),
                ))
            }
            Some(m) => return Ok(m),
            None => {}
        }
        if super::absent::is_builtin(&name) {
            if let Some(absent) = super::absent::module(&name) {
                return Err(located(lua, absent));
            }
        }
        let path = match roots.find(&name) {
            Ok(p) => p,
            Err(Lookup::Invalid(n)) => {
                return Err(located(
                    lua,
                    format!(
                    "require: invalid module name '{n}' (letters, digits, '_', '-' and '.' only)"
                ),
                ))
            }
            Err(Lookup::Missing(tried)) => {
                if let Some(absent) = super::absent::module(&name) {
                    return Err(located(lua, absent));
                }
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                return Err(located(
                    lua,
                    format!(
                        "module '{name}' not found: no lunet module of that name, and no file {}",
                        tried.join(", ")
                    ),
                ));
            }
        };
        let source = crate::source::read_source(&path)
            .map_err(|e| located(lua, format!("module '{name}': {e}")))?;
        let chunk = lua
            .load(source)
            .set_name(format!("@{}", path.display()))
            .set_mode(ChunkMode::Text)
            .into_function()?;
        // A mark while it loads (a null light userdata, which no module returns), so a
        // module that requires itself says so instead of overflowing the C stack.
        let loading = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
        loaded.set(name.as_str(), loading)?;
        let value = match chunk.call::<Value>((name.as_str(), path.display().to_string())) {
            Ok(Value::Nil) => Value::Boolean(true),
            Ok(v) => v,
            Err(e) => {
                loaded.set(name.as_str(), Value::Nil)?;
                return Err(e);
            }
        };
        loaded.set(name.as_str(), value.clone())?;
        Ok(value)
    })?;
    g.set("require", require)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_cannot_leave_a_root() {
        assert_eq!(relative("lib.util").as_deref(), Some("lib/util"));
        for bad in [
            "../etc/passwd",
            "a..b",
            "/abs",
            "",
            ".a",
            "a.",
            "a/b",
            "a\0b",
        ] {
            assert!(relative(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_first_root_with_the_file_wins_and_init_lua_names_a_folder() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(b.path().join("examples/dnsblock")).unwrap();
        std::fs::write(b.path().join("examples/dnsblock/common.lua"), "").unwrap();
        std::fs::create_dir_all(a.path().join("pkg")).unwrap();
        std::fs::write(a.path().join("pkg/init.lua"), "").unwrap();
        let roots = Roots::new(a.path().into(), &[b.path().into()]);
        assert_eq!(
            roots.find("examples.dnsblock.common").unwrap(),
            b.path().join("examples/dnsblock/common.lua")
        );
        assert_eq!(roots.find("pkg").unwrap(), a.path().join("pkg/init.lua"));
        std::fs::write(b.path().join("examples/dnsblock/common.lua.bak"), "").unwrap();
        match roots.find("nope.x") {
            Err(Lookup::Missing(t)) => assert_eq!(t.len(), 4, "{t:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_script_named_like_a_module_is_found_under_a_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("examples/tcpreject")).unwrap();
        let file = root.path().join("examples/tcpreject/nf_tcpreject.lua");
        std::fs::write(&file, "").unwrap();
        let roots = [PathBuf::from("/nonexistent"), root.path().into()];
        assert_eq!(
            resolve_script(Path::new("examples/tcpreject/nf_tcpreject"), &roots),
            Some(file.clone())
        );
        assert_eq!(resolve_script(&file, &[]), Some(file));
        assert_eq!(
            resolve_script(Path::new("../tcpreject/nf_tcpreject"), &roots),
            None
        );
        assert_eq!(resolve_script(Path::new("missing"), &roots), None);
    }
}
