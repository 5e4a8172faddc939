//! Lunatik's `bpf.map` table proxies over pinned maps (its lib/bpf/map.lua):
//! `map.hash|array|lru_hash(path, keyspec, valuespec)` give the same table a declared map is
//! (`m[k]`, `m[k] = v`, `m[k] = nil`, `pairs`), `map.queue|stack(path, valuespec)` an object
//! with `push pop peek info close`; both close with `<close>` or `map.close(m)`. Specs are
//! `string.pack` formats whose size must be the map's (Lunatik's `struct` codecs are not
//! taken). The map underneath is the raw `bpf` module's ([`crate::modules::bpf`]).

use std::rc::Rc;

use mlua::{Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value};

use super::error::{KernelOp, MapError};
use super::store::Store;
use super::{from_lua, to_lua, Handle, MapEntry};
use crate::error::located;
use crate::modules::bpf::{self, Kind, Raw};
use lunet_bpf::map::Map;
use lunet_types::{Layout, MapDecl, MapKind};

/// A pinned map opened by path, as a [`Store`].
pub(crate) struct Opened {
    raw: Raw,
    name: String,
}

impl Opened {
    fn kernel<T>(
        &self,
        op: KernelOp,
        f: impl FnOnce(&Map) -> std::io::Result<T>,
    ) -> Result<T, MapError> {
        self.raw.op(f).map_err(|source| MapError::Kernel {
            map: self.name.clone(),
            op,
            source,
        })
    }
}

impl Store for Opened {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.kernel(KernelOp::Lookup, |m| m.lookup(key))
    }
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        self.kernel(KernelOp::Update, |m| m.update(key, value, 0))
    }
    fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        self.kernel(KernelOp::Delete, |m| m.delete(key))
    }
    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.kernel(KernelOp::Keys, |m| m.keys())
    }
    fn close(&self) {
        self.raw.close();
    }
    fn info(&self, lua: &Lua) -> mlua::Result<Option<Table>> {
        self.raw.info(lua).map(Some)
    }
}

/// A `string.pack` spec of exactly `expected` bytes (Lunatik's messages).
fn spec(lua: &Lua, ctx: &str, v: &Value, what: &str, expected: usize) -> mlua::Result<Layout> {
    let f = match v {
        Value::String(s) => s.to_str()?.to_string(),
        Value::Table(_) => {
            return Err(located(
                lua,
                format!("{ctx}: {what} spec: struct codecs (Lunatik's lib/struct.lua) are not taken here; give a string.pack format"),
            ))
        }
        _ => return Err(located(lua, format!("{ctx}: invalid {what} spec"))),
    };
    let layout = Layout::parse(&f).map_err(|e| located(lua, format!("{ctx}: {what} spec: {e}")))?;
    if layout.size != expected {
        return Err(located(
            lua,
            format!(
                "{ctx}: {what} spec packs {} bytes, map expects {expected}",
                layout.size
            ),
        ));
    }
    Ok(layout)
}

/// `map.hash(path, keyspec, valuespec)` and its kin.
pub(crate) fn proxy(lua: &Lua, kind: MapKind, args: MultiValue) -> mlua::Result<Handle> {
    let ctx = format!("map.{}", kind.name());
    let bkind = match kind {
        MapKind::Hash => Kind::Hash,
        MapKind::Array => Kind::Array,
        MapKind::LruHash => Kind::LruHash,
        _ => return Err(located(lua, format!("{ctx}: opens no pinned map"))),
    };
    let path = args.front().cloned().unwrap_or(Value::Nil);
    let path = path.to_string()?;
    let raw = bpf::open(lua, bkind, &ctx, &path)?;
    let nil = Value::Nil;
    let key = spec(
        lua,
        &ctx,
        args.get(1).unwrap_or(&nil),
        "key",
        raw.key_size(lua)?,
    )?;
    let value = spec(
        lua,
        &ctx,
        args.get(2).unwrap_or(&nil),
        "value",
        raw.value_size(lua)?,
    )?;
    let entries = raw.info(lua)?.get::<u32>("max_entries")?;
    let name = std::path::Path::new(&path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(path.clone());
    let decl = MapDecl {
        name: name.clone(),
        kind,
        key,
        value,
        entries,
    };
    Ok(Handle(Rc::new(MapEntry {
        decl,
        store: Box::new(Opened { raw, name }),
        kernel: None,
        adopted: false,
    })))
}

/// `map.queue(path, valuespec)`, `map.stack(...)`.
pub(crate) struct Keyless {
    raw: Raw,
    value: Layout,
}

pub(crate) fn keyless(lua: &Lua, kind: Kind, args: MultiValue) -> mlua::Result<Keyless> {
    let ctx = format!("map.{}", kind.name());
    let path = args.front().cloned().unwrap_or(Value::Nil).to_string()?;
    let raw = bpf::open(lua, kind, &ctx, &path)?;
    let nil = Value::Nil;
    let value = spec(
        lua,
        &ctx,
        args.get(1).unwrap_or(&nil),
        "value",
        raw.value_size(lua)?,
    )?;
    Ok(Keyless { raw, value })
}

impl UserData for Keyless {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("push", |lua, this, v: Value| {
            let b = from_lua(&this.value, &v).map_err(|e| located(lua, format!("push: {e}")))?;
            this.raw.push(lua, &b, 0)
        });
        methods.add_method("pop", |lua, this, ()| match this.raw.pop(lua)? {
            Some(b) => to_lua(lua, &this.value, &b),
            None => Ok(Value::Nil),
        });
        methods.add_method("peek", |lua, this, ()| match this.raw.peek(lua)? {
            Some(b) => to_lua(lua, &this.value, &b),
            None => Ok(Value::Nil),
        });
        methods.add_method("info", |lua, this, ()| this.raw.info(lua));
        methods.add_method("close", |_, this, ()| {
            this.raw.close();
            Ok(())
        });
        methods.add_meta_method(MetaMethod::Close, |_, this, _: MultiValue| {
            this.raw.close();
            Ok(())
        });
    }
}

/// `map.close(m)`: a proxy's or a keyless object's map is released (a declared map's stays:
/// the state owns it).
pub(crate) fn close(lua: &Lua, v: Value) -> mlua::Result<()> {
    if let Value::UserData(ud) = &v {
        if let Ok(h) = ud.borrow::<Handle>() {
            h.0.store.close();
            return Ok(());
        }
        if let Ok(k) = ud.borrow::<Keyless>() {
            k.raw.close();
            return Ok(());
        }
    }
    Err(located(lua, "map.close: argument 1 is not a map"))
}

/// `map.info(m)`: `type`, `key_size`, `value_size`, `max_entries`.
pub(crate) fn info(lua: &Lua, v: Value) -> mlua::Result<Table> {
    if let Value::UserData(ud) = &v {
        if let Ok(h) = ud.borrow::<Handle>() {
            if let Some(t) = h.0.store.info(lua)? {
                return Ok(t);
            }
            let d = &h.0.decl;
            let t = lua.create_table()?;
            t.set("type", lunet_bpf::map::map_type::of(d.kind))?;
            t.set("key_size", d.key.size)?;
            t.set("value_size", d.value.size)?;
            t.set("max_entries", d.entries)?;
            return Ok(t);
        }
        if let Ok(k) = ud.borrow::<Keyless>() {
            return k.raw.info(lua);
        }
    }
    Err(located(lua, "map.info: argument 1 is not a map"))
}
