//! `bpf.map`: maps declared in the body, used as tables by the body, by hooks (both tiers) and
//! from the shell. `m[k]` looks up (nil when absent), `m[k] = v` updates, `m[k] = nil`
//! deletes, `pairs(m)` walks it. Keys and values follow `string.pack`-style layouts: a
//! one-field layout is a plain Lua value, a longer one an array of values.

mod error;
mod opened;
pub mod store;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value};
use serde::Serialize;

use crate::args::{opt_int, opt_str};
use crate::error::located;
pub use error::{KernelOp, MapError, ValueError};
use lunet_types::{Layout, LayoutError, MapDecl, MapKind, Scalar};
use store::{KernelStore, MemoryStore, Store};

/// Where a state's maps live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MapBacking {
    /// In process memory (replay, tests): no root needed.
    #[default]
    Memory,
    /// Kernel eBPF maps, pinned under `pin_dir/<name>` once the body has finished. With
    /// `adopt`, a map already pinned there under its name with the declared kind, layouts
    /// and size is taken over with its entries (a reloaded script, a restarted daemon);
    /// any other pin of that name is replaced.
    Kernel {
        pin_dir: Option<PathBuf>,
        adopt: bool,
    },
}

/// A declared map, shared by every Lua value that refers to it.
pub struct MapEntry {
    pub decl: MapDecl,
    store: Box<dyn Store>,
    /// The kernel map, when there is one (for pinning and for compiled hooks).
    pub(crate) kernel: Option<Rc<KernelStore>>,
    /// Taken over from its pin (it is pinned already).
    adopted: bool,
}

/// What `lunet stats`/`lunet map` report about a map.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct MapInfo {
    pub name: String,
    pub kind: MapKind,
    pub key: String,
    pub value: String,
    pub entries: u32,
    pub pinned: Option<PathBuf>,
}

/// The state's maps, in declaration order.
#[derive(Default)]
pub(crate) struct Maps {
    pub backing: MapBacking,
    pub list: Vec<Rc<MapEntry>>,
    pub pinned: Vec<PathBuf>,
}

impl Maps {
    /// Pins every kernel map under the pin directory (called when the body has finished).
    pub fn pin_all(&mut self) -> Result<(), MapError> {
        let MapBacking::Kernel {
            pin_dir: Some(dir), ..
        } = &self.backing
        else {
            return Ok(());
        };
        if self.list.is_empty() {
            return Ok(());
        }
        lunet_bpf::pin::ensure_bpffs().map_err(MapError::NoBpffs)?;
        lunet_bpf::pin::make_state_dir(dir).map_err(|e| MapError::PinDir {
            dir: dir.clone(),
            source: e.into(),
        })?;
        for m in &self.list {
            if let Some(k) = &m.kernel {
                let path = dir.join(&m.decl.name);
                if !m.adopted {
                    // A pin of that name with another layout, left by an earlier version.
                    let _ = std::fs::remove_file(&path);
                    k.pin(&path)?;
                }
                self.pinned.push(path);
            }
        }
        Ok(())
    }

    pub fn info(&self) -> Vec<MapInfo> {
        self.list
            .iter()
            .map(|m| MapInfo {
                name: m.decl.name.clone(),
                kind: m.decl.kind,
                key: m.decl.key.format.clone(),
                value: m.decl.value.format.clone(),
                entries: m.decl.entries,
                pinned: self
                    .pinned
                    .iter()
                    .find(|p| p.file_name().is_some_and(|n| *n == *m.decl.name))
                    .cloned(),
            })
            .collect()
    }
}

impl MapInfo {
    /// The declaration back from what was reported (for tools that open the pin).
    pub fn decl(&self) -> Result<MapDecl, LayoutError> {
        Ok(MapDecl {
            name: self.name.clone(),
            kind: self.kind,
            key: Layout::parse(&self.key)?,
            value: Layout::parse(&self.value)?,
            entries: self.entries,
        })
    }
}

/// Removes the pins under `dir` (`<pin root>/<state>`) and the directory itself, and the pin
/// root above it when that is left empty (it is made again by the next state that pins).
/// Nothing is followed through a link, and a root that is a link or another user's is refused
/// ([`lunet_bpf::pin::remove_state_dir`]).
pub fn unpin_dir(dir: &Path) -> std::io::Result<()> {
    lunet_bpf::pin::remove_state_dir(dir).map_err(Into::into)
}

/// A Lua value for one layout: a scalar for one field, an array table for more.
pub(crate) fn to_lua(lua: &Lua, layout: &Layout, bytes: &[u8]) -> mlua::Result<Value> {
    let values = layout
        .unpack(bytes)
        .map_err(|e| mlua::Error::RuntimeError(e.to_string()))?;
    let one = |s: &Scalar| -> mlua::Result<Value> {
        Ok(match s {
            Scalar::Int(i) => Value::Integer(*i),
            Scalar::Bytes(b) => Value::String(lua.create_string(b)?),
        })
    };
    if values.len() == 1 {
        return one(&values[0]);
    }
    let t = lua.create_table()?;
    for (i, v) in values.iter().enumerate() {
        t.raw_set(i + 1, one(v)?)?;
    }
    Ok(Value::Table(t))
}

fn scalar(v: &Value) -> Result<Scalar, ValueError> {
    match v {
        Value::Integer(i) => Ok(Scalar::Int(*i)),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => Ok(Scalar::Int(*n as i64)),
        Value::String(s) => Ok(Scalar::Bytes(s.as_bytes().to_vec())),
        other => Err(ValueError::NotAField(other.type_name())),
    }
}

/// Bytes for a Lua value in `layout`.
pub(crate) fn from_lua(layout: &Layout, v: &Value) -> Result<Vec<u8>, ValueError> {
    let values = match v {
        Value::Table(t) if layout.arity() > 1 => t
            .sequence_values::<Value>()
            .map(|x| scalar(&x?))
            .collect::<Result<Vec<_>, _>>()?,
        other => vec![scalar(other)?],
    };
    Ok(layout.pack(&values)?)
}

/// The Lua handle of a map.
#[derive(Clone)]
pub(crate) struct Handle(pub(crate) Rc<MapEntry>);

impl UserData for Handle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: Value| {
            let m = &this.0;
            let k = from_lua(&m.decl.key, &key)
                .map_err(|e| located(lua, format!("map '{}': key: {e}", m.decl.name)))?;
            match m.store.get(&k).map_err(|e| located(lua, e))? {
                Some(v) => to_lua(lua, &m.decl.value, &v),
                None => Ok(Value::Nil),
            }
        });
        methods.add_meta_method(
            MetaMethod::NewIndex,
            |lua, this, (key, value): (Value, Value)| {
                let m = &this.0;
                let k = from_lua(&m.decl.key, &key)
                    .map_err(|e| located(lua, format!("map '{}': key: {e}", m.decl.name)))?;
                if value.is_nil() {
                    m.store.delete(&k).map_err(|e| located(lua, e))?;
                    return Ok(());
                }
                let v = from_lua(&m.decl.value, &value)
                    .map_err(|e| located(lua, format!("map '{}': value: {e}", m.decl.name)))?;
                m.store.set(&k, &v).map_err(|e| located(lua, e))
            },
        );
        methods.add_meta_method(MetaMethod::Pairs, |lua, this, ()| {
            // A snapshot of the keys: entries changed while walking are seen as they are then.
            let keys = this.0.store.keys().map_err(|e| located(lua, e))?;
            let entry = this.0.clone();
            let pos = std::cell::Cell::new(0usize);
            let next = lua.create_function(move |lua, _: MultiValue| {
                while let Some(k) = keys.get(pos.get()) {
                    pos.set(pos.get() + 1);
                    if let Some(v) = entry
                        .store
                        .get(k)
                        .map_err(|e| mlua::Error::RuntimeError(e.to_string()))?
                    {
                        return Ok((
                            to_lua(lua, &entry.decl.key, k)?,
                            to_lua(lua, &entry.decl.value, &v)?,
                        ));
                    }
                }
                Ok((Value::Nil, Value::Nil))
            })?;
            Ok((next, Value::Nil, Value::Nil))
        });
        // `local m <close> = map.hash(path, ...)`: a map opened by path is released; a
        // declared map belongs to the state and stays.
        methods.add_meta_method(MetaMethod::Close, |_, this, _: MultiValue| {
            this.0.store.close();
            Ok(())
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            let d = &this.0.decl;
            Ok(format!(
                "map {} ({}, key \"{}\", value \"{}\", {} entries)",
                d.name,
                d.kind.name(),
                d.key.format,
                d.value.format,
                d.entries
            ))
        });
    }
}

fn declare(lua: &Lua, kind: MapKind, t: Table) -> mlua::Result<Handle> {
    let ctx = format!("map.{}", kind.name());
    let layout = |field: &str| -> mlua::Result<Layout> {
        let f = opt_str(lua, &t, field, &ctx)?.ok_or_else(|| {
            located(
                lua,
                format!("{ctx}: '{field}' (a layout such as \"I4\") is required"),
            )
        })?;
        Layout::parse(&f).map_err(|e| located(lua, format!("{ctx}: {e}")))
    };
    let key = layout("key")?;
    let value = layout("value")?;
    let entries = opt_int(lua, &t, "entries", &ctx)?
        .ok_or_else(|| located(lua, format!("{ctx}: 'entries' is required")))?;
    let mut maps = lua
        .app_data_mut::<Maps>()
        .ok_or_else(|| located(lua, format!("{ctx}: maps are declared while the body runs")))?;
    let name = match opt_str(lua, &t, "name", &ctx)? {
        Some(n) => n,
        None => format!("map{}", maps.list.len() + 1),
    };
    if name.is_empty()
        || name.len() > 15
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(located(
            lua,
            format!("{ctx}: name '{name}' must be 1-15 letters, digits or '_'"),
        ));
    }
    if maps.list.iter().any(|m| m.decl.name == name) {
        return Err(located(
            lua,
            format!("{ctx}: a map named '{name}' exists already"),
        ));
    }
    let decl = MapDecl {
        name,
        kind,
        key,
        value,
        entries: u32::try_from(entries).unwrap_or(0),
    };
    decl.validate()
        .map_err(|e| located(lua, format!("{ctx}: {e}")))?;
    let entry = match maps.backing {
        MapBacking::Memory => MapEntry {
            store: Box::new(MemoryStore::new(decl.clone())),
            kernel: None,
            adopted: false,
            decl,
        },
        MapBacking::Kernel { ref pin_dir, adopt } => {
            let pinned = pin_dir
                .as_ref()
                .filter(|_| adopt)
                .map(|d| d.join(&decl.name))
                .and_then(|p| KernelStore::adopt(decl.clone(), &p));
            let adopted = pinned.is_some();
            let k = match pinned {
                Some(k) => k,
                None => KernelStore::create(decl.clone())
                    .map_err(|e| located(lua, format!("{ctx}: {e}")))?,
            };
            let k = Rc::new(k);
            MapEntry {
                store: Box::new(k.clone()),
                kernel: Some(k),
                adopted,
                decl,
            }
        }
    };
    let entry = Rc::new(entry);
    maps.list.push(entry.clone());
    Ok(Handle(entry))
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    for kind in [
        MapKind::Hash,
        MapKind::Array,
        MapKind::LruHash,
        MapKind::PercpuArray,
    ] {
        // A table declares a map (lunet's form); a path opens a pinned one (Lunatik's).
        m.set(
            kind.name(),
            lua.create_function(move |lua, args: MultiValue| match args.front() {
                Some(Value::Table(t)) => declare(lua, kind, t.clone()),
                Some(Value::String(_)) if kind != MapKind::PercpuArray => {
                    opened::proxy(lua, kind, args)
                }
                other => Err(located(
                    lua,
                    format!(
                        "map.{}: argument 1 is a {}, not a declaration table{}",
                        kind.name(),
                        other.map_or("no value", |v| v.type_name()),
                        if kind == MapKind::PercpuArray {
                            ""
                        } else {
                            " or a pinned map's path"
                        }
                    ),
                )),
            })?,
        )?;
    }
    for kind in [
        crate::modules::bpf::Kind::Queue,
        crate::modules::bpf::Kind::Stack,
    ] {
        m.set(
            kind.name(),
            lua.create_function(move |lua, args: MultiValue| opened::keyless(lua, kind, args))?,
        )?;
    }
    m.set("close", lua.create_function(opened::close)?)?;
    m.set("info", lua.create_function(opened::info)?)?;
    m.set(
        "lpm",
        lua.create_function(|lua, _: Value| -> mlua::Result<()> {
            Err(located(
                lua,
                "map.lpm: longest-prefix-match maps are not in this build of lunet yet",
            ))
        })?,
    )?;
    Ok(m)
}
