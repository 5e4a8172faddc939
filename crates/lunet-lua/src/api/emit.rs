//! The stub files made from the live surface and the stubs beside the registrations, and
//! where the two disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::live::{Item, Surface};
use super::sidecar::{Block, Sidecar};

/// The live API and the stubs written for it, disagreeing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// Live functions and methods without a stub, each with where to add one.
    pub missing: Vec<String>,
    /// Stubs that name no live function or method, each with where it is.
    pub stale: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty()
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for m in &self.missing {
            writeln!(f, "missing: {m}")?;
        }
        for s in &self.stale {
            writeln!(f, "stale: {s}")?;
        }
        Ok(())
    }
}

const API_RS: &str = "crates/lunet-lua/src/api/mod.rs";

/// Every function path under `items` (`prefix.a.b`).
fn functions(prefix: &str, items: &BTreeMap<String, Item>, out: &mut BTreeSet<String>) {
    for (k, v) in items {
        match v {
            Item::Function => {
                out.insert(format!("{prefix}.{k}"));
            }
            Item::Table(t) => functions(&format!("{prefix}.{k}"), t, out),
            _ => {}
        }
    }
}

fn live_functions(s: &Surface) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (m, items) in &s.modules {
        functions(m, items, &mut out);
    }
    out
}

/// The stub file whose module is the longest prefix of `path`.
fn home<'a>(path: &str, cars: &'a [Sidecar]) -> Option<&'a Sidecar> {
    cars.iter()
        .filter(|c| {
            c.module
                .as_ref()
                .is_some_and(|(m, _)| path.starts_with(&format!("{m}.")))
        })
        .max_by_key(|c| c.module.as_ref().map_or(0, |(m, _)| m.len()))
}

/// The stub file that declares `class`.
fn class_home<'a>(class: &str, cars: &'a [Sidecar]) -> Option<&'a Sidecar> {
    cars.iter()
        .find(|c| c.classes.iter().any(|(_, k)| k == class))
}

/// `class` and its ancestors (`---@class C: P`), nearest first.
fn lineage<'a>(class: &'a str, cars: &'a [Sidecar]) -> Vec<&'a str> {
    let mut out = vec![class];
    while let Some(parent) = cars
        .iter()
        .flat_map(|c| &c.parents)
        .find(|(c, _)| c == out[out.len() - 1])
        .map(|(_, p)| p.as_str())
    {
        if out.contains(&parent) {
            break;
        }
        out.push(parent);
    }
    out
}

/// The methods the stubs give `class`, its ancestors' included.
fn stubbed_methods<'a>(class: &'a str, cars: &'a [Sidecar]) -> BTreeSet<&'a str> {
    let line = lineage(class, cars);
    cars.iter()
        .flat_map(|c| &c.blocks)
        .filter_map(|b| match b {
            Block::Method { class: k, name, .. } if line.contains(&k.as_str()) => {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn drift(s: &Surface, cars: &[Sidecar]) -> Drift {
    let live = live_functions(s);
    let mut d = Drift::default();
    let mut stubbed = BTreeSet::new();
    for c in cars {
        for b in &c.blocks {
            match b {
                Block::Function { path, .. } => {
                    stubbed.insert(path.clone());
                    if !live.contains(path) {
                        d.stale.push(format!(
                            "{path} in {}: no live state has this function (remove the entry, or fix its name)",
                            c.source
                        ));
                    }
                }
                Block::Method { class, name, .. } => {
                    match s.classes.get(class.as_str()) {
                        None => d.stale.push(format!(
                            "{class}:{name} in {}: lunet has no way to make a {class} to check it against (add one to PROBES in {API_RS})",
                            c.source
                        )),
                        Some(None) => d.stale.push(format!(
                            "{class}:{name} in {}: a {class}'s methods cannot be listed (its __index is a function), so it gets no method stubs",
                            c.source
                        )),
                        Some(Some(live)) if !live.contains(name) => d.stale.push(format!(
                            "{class}:{name} in {}: a live {class} has no such method (remove the entry, or fix its name)",
                            c.source
                        )),
                        Some(Some(_)) => {}
                    }
                }
                _ => {}
            }
        }
    }
    for path in live.difference(&stubbed) {
        d.missing.push(match home(path, cars) {
            Some(c) => format!("{path}: a live function with no stub: add its entry to {}", c.source),
            None => {
                let module = s
                    .modules
                    .keys()
                    .filter(|m| path.starts_with(&format!("{m}.")))
                    .max_by_key(|m| m.len())
                    .cloned()
                    .unwrap_or_default();
                format!(
                    "{path}: a live function of module {module}, which has no stub file: add \
                     <module>.meta.lua beside its registration (---@meta {module}, then local M = {{}}) \
                     and list it in SIDECARS in {API_RS}"
                )
            }
        });
    }
    for (class, live) in &s.classes {
        let Some(live) = live else { continue };
        let have = stubbed_methods(class, cars);
        for m in live {
            if have.contains(m.as_str()) {
                continue;
            }
            d.missing.push(match class_home(class, cars) {
                Some(c) => format!(
                    "{class}:{m}: a live method with no stub: add its entry to {}",
                    c.source
                ),
                None => format!(
                    "{class}:{m}: a live method of a class no stub file declares: add ---@class {class} (and its methods) to the .meta.lua beside its registration"
                ),
            });
        }
    }
    d
}

/// A Lua identifier, as a key can be written `t.key`.
fn is_ident(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\{}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn has_functions(items: &BTreeMap<String, Item>) -> bool {
    items.values().any(|v| match v {
        Item::Function => true,
        Item::Table(t) => has_functions(t),
        _ => false,
    })
}

/// A constant as Lua source; `None` for what has no literal. A table is a class of its
/// own (`class`), so that a misspelt constant is an unknown field, not a new key.
fn literal(item: &Item, indent: usize, class: &str) -> Option<String> {
    Some(match item {
        Item::Integer(i) => i.to_string(),
        Item::Number(n) => format!("{n:?}"),
        Item::Bool(b) => b.to_string(),
        Item::Text(t) => lua_string(t),
        Item::Table(t) => {
            let pad = "  ".repeat(indent + 1);
            let mut s = String::from("{\n");
            for (k, v) in t {
                let inner = format!("{class}.{k}");
                let Some(lit) = literal(v, indent + 1, &inner) else {
                    continue;
                };
                let key = if is_ident(k) {
                    k.clone()
                } else {
                    format!("[{}]", lua_string(k))
                };
                if matches!(v, Item::Table(_)) {
                    let _ = writeln!(s, "{pad}---@class {inner}");
                }
                let _ = writeln!(s, "{pad}{key} = {lit},");
            }
            s.push_str(&"  ".repeat(indent));
            s.push('}');
            s
        }
        Item::Function | Item::Other(_) => return None,
    })
}

fn field(prefix: &str, k: &str) -> String {
    if is_ident(k) {
        format!("{prefix}.{k}")
    } else {
        format!("{prefix}[{}]", lua_string(k))
    }
}

/// The module's constants (and the sub-tables its functions live in) as assignments to
/// `prefix`; `class` names the module's tables (`linux.nf`).
fn constants(prefix: &str, class: &str, items: &BTreeMap<String, Item>, out: &mut String) {
    for (k, v) in items {
        let target = field(prefix, k);
        let inner = format!("{class}.{k}");
        match v {
            Item::Function => {}
            Item::Table(t) if has_functions(t) => {
                let _ = writeln!(out, "{target} = {{}}");
                constants(&target, &inner, t, out);
            }
            Item::Other(kind) => {
                let _ = writeln!(out, "---@type any ({kind})\n{target} = nil");
            }
            other => {
                if let Some(l) = literal(other, 0, &inner) {
                    if matches!(other, Item::Table(_)) {
                        let _ = writeln!(out, "---@class {inner}");
                    }
                    let _ = writeln!(out, "{target} = {l}");
                }
            }
        }
    }
}

/// The stub files.
pub(super) fn files(s: &Surface, cars: &[Sidecar]) -> Vec<(String, String)> {
    let live = live_functions(s);
    let version = env!("CARGO_PKG_VERSION");
    let mut out = Vec::new();
    for (module, items) in &s.modules {
        let car = cars
            .iter()
            .find(|c| c.module.as_ref().is_some_and(|(m, _)| m == module));
        let mut text = format!("---@meta {module}\n");
        let _ = writeln!(
            text,
            "-- lunet {version}: the `{module}` module, as a live state registers it{}.\n-- Made by `lunet stubs`; do not edit (the stubs are written beside each registration).\n",
            car.map(|c| format!(", described in {}", c.source)).unwrap_or_default()
        );
        let ident = match car {
            Some(c) => c
                .module
                .as_ref()
                .map(|(_, i)| i.clone())
                .unwrap_or_default(),
            None => module.rsplit('.').next().unwrap_or("M").replace('-', "_"),
        };
        let mut described = BTreeSet::new();
        match car {
            Some(c) => {
                for b in &c.blocks {
                    block(
                        b,
                        (&ident, module),
                        items,
                        &live,
                        s,
                        &mut described,
                        &mut text,
                    );
                }
            }
            None => {
                let _ = writeln!(text, "local {ident} = {{}}");
                constants(&ident, module, items, &mut text);
                text.push('\n');
            }
        }
        let mut own = BTreeSet::new();
        functions(module, items, &mut own);
        for path in own.difference(&described) {
            let rest = &path[module.len() + 1..];
            let _ = writeln!(
                text,
                "---Not described yet (lunet has it; its stub is missing).\nfunction {ident}.{rest}(...) end\n"
            );
        }
        let _ = writeln!(text, "return {ident}");
        out.push((format!("{}.lua", module.replace('.', "/")), text));
    }
    let mut objects = String::from(
        "---@meta _\n-- lunet's objects: what hooks and modules hand a script.\n-- Made by `lunet stubs`; do not edit.\n\n",
    );
    for c in cars.iter().filter(|c| c.module.is_none()) {
        let mut described = BTreeSet::new();
        for b in &c.blocks {
            block(
                b,
                ("", ""),
                &BTreeMap::new(),
                &live,
                s,
                &mut described,
                &mut objects,
            );
        }
        for (ident, class) in &c.classes {
            let Some(Some(methods)) = s.classes.get(class) else {
                continue;
            };
            let have = stubbed_methods(class, cars);
            for m in methods.iter().filter(|m| !have.contains(m.as_str())) {
                let _ = writeln!(
                    objects,
                    "---Not described yet (lunet has it; its stub is missing).\nfunction {ident}:{m}(...) end\n"
                );
            }
        }
    }
    out.push(("lunet-objects.lua".into(), objects));
    out
}

/// One block of a stub file into `text`, unless it names nothing live.
fn block(
    b: &Block,
    (ident, module): (&str, &str),
    items: &BTreeMap<String, Item>,
    live: &BTreeSet<String>,
    s: &Surface,
    described: &mut BTreeSet<String>,
    text: &mut String,
) {
    match b {
        Block::Text(t) => {
            text.push_str(t);
            text.push_str("\n\n");
        }
        Block::ModuleTable(t) => {
            text.push_str(t);
            text.push('\n');
            constants(ident, module, items, text);
            text.push('\n');
        }
        Block::Function { path, text: t } if live.contains(path) => {
            described.insert(path.clone());
            text.push_str(t);
            text.push_str("\n\n");
        }
        Block::Method {
            class,
            name,
            text: t,
        } => {
            let is_live = matches!(s.classes.get(class), Some(Some(m)) if m.contains(name));
            if is_live {
                described.insert(format!("{class}:{name}"));
                text.push_str(t);
                text.push_str("\n\n");
            }
        }
        Block::Function { .. } => {}
    }
}
