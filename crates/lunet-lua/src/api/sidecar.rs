//! The stubs written beside each module's registration (`<module>.meta.lua`): LuaLS
//! annotations, one entry per function, in blocks separated by blank lines.
//!
//! * The first block of a module's file is `---@meta NAME` and `local IDENT = {}`: the
//!   module and the local that stands for it (`local netfilter = {}`).
//! * A block ending in `function IDENT.name(...) end` describes the module's function
//!   `NAME.name` (`IDENT.a.b` for a function in a sub-table).
//! * A block with `---@class CLASS` and `local IDENT = {}` makes IDENT stand for the class;
//!   a block ending in `function IDENT:method(...) end` then describes a method of objects of
//!   that class.
//! * Any other block (types: `---@class`, `---@alias`, `---@field` ...) is copied as it is.
//!
//! A file without `---@meta` holds object classes only.

/// One stub file.
#[derive(Debug, Clone)]
pub(crate) struct Sidecar {
    /// Where it is in the repository (for messages).
    pub source: &'static str,
    /// The module it describes, and the local that stands for it.
    pub module: Option<(String, String)>,
    /// The classes it declares, each with the local that stands for it.
    pub classes: Vec<(String, String)>,
    /// Each class's parent (`---@class lunet.skb: lunet.data`), whose methods it has.
    pub parents: Vec<(String, String)>,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// Copied as it is.
    Text(String),
    /// `local IDENT = {}` of the module: generated constants follow it.
    ModuleTable(String),
    /// A module function, by its path (`netfilter.register`).
    Function { path: String, text: String },
    /// A method (`lunet.skb:getuint8`).
    Method {
        class: String,
        name: String,
        text: String,
    },
}

/// The identifier a line declares with `local IDENT = {}`, if it does.
fn local_table(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("local ")?;
    let (ident, value) = rest.split_once('=')?;
    (value.trim() == "{}").then(|| ident.trim())
}

/// `function A.b.c(` -> `("A", '.', "b.c")`; `function A:m(` -> `("A", ':', "m")`.
fn function_name(line: &str) -> Option<(&str, char, &str)> {
    let rest = line.strip_prefix("function ")?;
    let name = rest.split('(').next()?.trim();
    if let Some((ident, method)) = name.split_once(':') {
        return Some((ident, ':', method));
    }
    let (ident, path) = name.split_once('.')?;
    Some((ident, '.', path))
}

/// Reads a stub file.
pub(crate) fn parse(source: &'static str, text: &str) -> Result<Sidecar, String> {
    let mut module: Option<(String, String)> = None;
    let mut meta_name: Option<String> = None;
    let mut classes: Vec<(String, String)> = Vec::new();
    let mut parents: Vec<(String, String)> = Vec::new();
    let mut blocks = Vec::new();
    for raw in text.split("\n\n") {
        let block = raw.trim_matches('\n');
        if block.trim().is_empty() {
            continue;
        }
        let code: Vec<&str> = block
            .lines()
            .filter(|l| !l.trim_start().starts_with("--") && !l.trim().is_empty())
            .collect();
        if let Some(name) = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("---@meta"))
            .map(str::trim)
        {
            meta_name = Some(name.to_string());
        }
        let declared = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("---@class "));
        let class = declared.map(|c| {
            c.split([':', ' '])
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        });
        if let (Some(c), Some((_, parent))) = (&class, declared.and_then(|d| d.split_once(':'))) {
            let parent = parent.split_whitespace().next().unwrap_or_default();
            parents.push((c.clone(), parent.to_string()));
        }
        match code.as_slice() {
            [line] if local_table(line).is_some() => {
                let ident = local_table(line).unwrap_or_default().to_string();
                match (&class, &meta_name, &module) {
                    (Some(c), _, _) => {
                        classes.push((ident, c.clone()));
                        blocks.push(Block::Text(block.to_string()));
                    }
                    (None, Some(m), None) => {
                        module = Some((m.clone(), ident));
                        // The `---@meta` line is the generator's to write.
                        let rest: Vec<&str> = block
                            .lines()
                            .filter(|l| !l.trim().starts_with("---@meta"))
                            .collect();
                        blocks.push(Block::ModuleTable(rest.join("\n")));
                    }
                    _ => {
                        return Err(format!(
                            "{source}: `{line}` is neither the module's table nor a class's"
                        ))
                    }
                }
            }
            [line] if line.starts_with("function ") => {
                let Some((ident, sep, name)) = function_name(line) else {
                    return Err(format!(
                        "{source}: cannot read the function name in `{line}`"
                    ));
                };
                if sep == ':' {
                    let Some((_, class)) = classes.iter().find(|(i, _)| i == ident) else {
                        return Err(format!(
                            "{source}: `{line}`: `{ident}` is no class declared above (---@class C, then local {ident} = {{}})"
                        ));
                    };
                    blocks.push(Block::Method {
                        class: class.clone(),
                        name: name.to_string(),
                        text: block.to_string(),
                    });
                } else {
                    let Some((m, _)) = module.as_ref().filter(|(_, i)| i == ident) else {
                        return Err(format!(
                            "{source}: `{line}`: `{ident}` is not the module's table (local {ident} = {{}} after ---@meta)"
                        ));
                    };
                    blocks.push(Block::Function {
                        path: format!("{m}.{name}"),
                        text: block.to_string(),
                    });
                }
            }
            [] => blocks.push(Block::Text(block.to_string())),
            _ => {
                return Err(format!(
                    "{source}: a block has code other than one declaration:\n{block}"
                ))
            }
        }
    }
    Ok(Sidecar {
        source,
        module,
        classes,
        parents,
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stub_file_gives_its_module_functions_classes_and_methods() {
        let s = parse(
            "x.meta.lua",
            "---@meta m.sub\nlocal sub = {}\n\n---Adds.\n---@param a integer\nfunction sub.add(a) end\n\n---@class m.obj\nlocal obj = {}\n\n---@return integer\nfunction obj:len() end\n\n---@alias m.kind integer\n",
        )
        .unwrap();
        assert_eq!(s.module, Some(("m.sub".into(), "sub".into())));
        assert!(matches!(&s.blocks[0], Block::ModuleTable(t) if t == "local sub = {}"));
        assert!(matches!(&s.blocks[1], Block::Function { path, .. } if path == "m.sub.add"));
        assert!(
            matches!(&s.blocks[3], Block::Method { class, name, .. } if class == "m.obj" && name == "len")
        );
        assert!(matches!(&s.blocks[4], Block::Text(t) if t == "---@alias m.kind integer"));
        assert!(parse("y", "function nobody.f() end\n").is_err());
        assert!(parse(
            "y",
            "---@meta q\nlocal q = {}\n\nfunction q.f() end\nfunction q.g() end\n"
        )
        .is_err());
    }
}
