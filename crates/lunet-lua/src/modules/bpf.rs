//! `bpf`: Lunatik's pinned-map access (lib/luabpf.c). `bpf.hash|array|lru_hash(path)` open a
//! pinned key-value map (`lookup update delete remove next info close`, `#m` its
//! `max_entries`), `bpf.queue|stack(path)` a keyless one (`push pop peek info close`). Keys
//! and values are packed strings of exactly the map's sizes. The same kernel maps as
//! lunet's declared maps, through lunet-bpf's map layer.
//!
//! Which pins a script may open: absolute paths that resolve (links followed) to a map on a
//! BPF filesystem under `/sys/fs/bpf` or under the daemon's pin root, and whose type is the
//! constructor's (docs/security.md, "Pinned maps a script opens").

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use lunet_bpf::map::{map_type, Map};
use mlua::{Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value};

use crate::error::located;

/// Where a state may open pins: set by the state when its maps are kernel maps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    /// Canonical directories pins may be under; empty: no kernel (replay, the API probe).
    pub roots: Vec<PathBuf>,
}

impl Access {
    /// The bpffs mount, and the pin root above `pin_dir` (`<root>/<state>`) when there is one.
    pub fn kernel(pin_dir: Option<&Path>) -> Access {
        let mut roots = vec![PathBuf::from(lunet_bpf::pin::BPFFS)];
        if let Some(root) = pin_dir.and_then(Path::parent) {
            roots.push(root.to_path_buf());
        }
        Access {
            roots: roots
                .into_iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .collect(),
        }
    }
}

/// A constructor's map type and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Hash,
    Array,
    LruHash,
    Queue,
    Stack,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Hash,
        Kind::Array,
        Kind::LruHash,
        Kind::Queue,
        Kind::Stack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hash => "hash",
            Kind::Array => "array",
            Kind::LruHash => "lru_hash",
            Kind::Queue => "queue",
            Kind::Stack => "stack",
        }
    }

    fn map_type(self) -> u32 {
        match self {
            Kind::Hash => map_type::HASH,
            Kind::Array => map_type::ARRAY,
            Kind::LruHash => map_type::LRU_HASH,
            Kind::Queue => map_type::QUEUE,
            Kind::Stack => map_type::STACK,
        }
    }

    fn keyless(self) -> bool {
        matches!(self, Kind::Queue | Kind::Stack)
    }
}

/// An open pinned map; `None` once closed.
pub(crate) struct Raw {
    kind: Kind,
    path: PathBuf,
    map: RefCell<Option<Map>>,
}

/// Opens the pin at `path` as a `kind` map, or says why not (the message names `ctx`).
pub(crate) fn open(lua: &Lua, kind: Kind, ctx: &str, path: &str) -> mlua::Result<Raw> {
    let fail = |why: String| located(lua, format!("{ctx}: {path}: {why}"));
    let access = lua
        .app_data_ref::<Access>()
        .map(|a| a.clone())
        .unwrap_or_default();
    if access.roots.is_empty() {
        return Err(fail(
            "pinned maps are opened only by states whose maps are kernel maps (lunet run, lunet check as root); lunet replay keeps its maps in memory".into(),
        ));
    }
    let given = Path::new(path);
    if !given.is_absolute() {
        return Err(fail("a pinned map's path is absolute".into()));
    }
    let real = std::fs::canonicalize(given).map_err(|e| fail(e.to_string()))?;
    if !access.roots.iter().any(|r| real.starts_with(r)) {
        let roots: Vec<String> = access
            .roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        return Err(fail(format!(
            "not under {} (where a script may open pinned maps)",
            roots.join(" or ")
        )));
    }
    if !lunet_bpf::pin::is_bpffs(&real).unwrap_or(false) {
        return Err(fail("not on a BPF filesystem".into()));
    }
    let fd = lunet_bpf::pin::get(&real).map_err(|e| fail(format!("not a pinned map ({e})")))?;
    let map = Map::from_fd(fd).map_err(|e| fail(format!("not a pinned map ({e})")))?;
    if map.map_type() != kind.map_type() {
        return Err(fail(format!(
            "a map of type {}, not a {} map",
            map.map_type(),
            kind.name()
        )));
    }
    Ok(Raw {
        kind,
        path: real,
        map: RefCell::new(Some(map)),
    })
}

impl Raw {
    /// `f` on the open map; an error once it is closed.
    pub fn op<T>(&self, f: impl FnOnce(&Map) -> std::io::Result<T>) -> std::io::Result<T> {
        match &*self.map.borrow() {
            Some(m) => f(m),
            None => Err(std::io::Error::other(format!(
                "{} is closed",
                self.path.display()
            ))),
        }
    }

    /// [`Raw::op`] from Lua: a kernel error raised as Lunatik does (its name), with the line.
    fn lua_op<T>(
        &self,
        lua: &Lua,
        what: &str,
        f: impl FnOnce(&Map) -> std::io::Result<T>,
    ) -> mlua::Result<T> {
        self.op(f).map_err(|e| {
            let why = match e.raw_os_error() {
                Some(n) => format!("{} ({e})", super::linux::errname(n as i64)),
                None => e.to_string(),
            };
            located(
                lua,
                format!(
                    "bpf.{} {what} on {}: {why}",
                    self.kind.name(),
                    self.path.display()
                ),
            )
        })
    }

    pub fn key_size(&self, lua: &Lua) -> mlua::Result<usize> {
        self.lua_op(lua, "key size", |m| Ok(m.key_size() as usize))
    }

    pub fn value_size(&self, lua: &Lua) -> mlua::Result<usize> {
        self.lua_op(lua, "value size", |m| Ok(m.value_size() as usize))
    }

    pub fn close(&self) {
        self.map.borrow_mut().take();
    }

    pub fn push(&self, lua: &Lua, value: &[u8], flags: u64) -> mlua::Result<bool> {
        self.lua_op(lua, "push", |m| m.push(value, flags))
    }

    pub fn pop(&self, lua: &Lua) -> mlua::Result<Option<Vec<u8>>> {
        self.lua_op(lua, "pop", |m| m.pop())
    }

    pub fn peek(&self, lua: &Lua) -> mlua::Result<Option<Vec<u8>>> {
        self.lua_op(lua, "peek", |m| m.peek())
    }

    pub fn info(&self, lua: &Lua) -> mlua::Result<Table> {
        let (ty, k, v, n) = self.lua_op(lua, "info", |m| {
            Ok((m.map_type(), m.key_size(), m.value_size(), m.max_entries()))
        })?;
        let t = lua.create_table()?;
        t.set("type", ty)?;
        t.set("key_size", k)?;
        t.set("value_size", v)?;
        t.set("max_entries", n)?;
        Ok(t)
    }
}

/// `update`'s result: `false` when its flag's condition is not met, as Lunatik's.
pub(crate) fn updated(r: std::io::Result<()>) -> std::io::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EEXIST)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A packed argument of exactly `size` bytes (Lunatik: "invalid key size").
fn sized(
    lua: &Lua,
    v: &Value,
    size: usize,
    what: &str,
    arg: usize,
    f: &str,
) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) if s.as_bytes().len() == size => Ok(s.as_bytes().to_vec()),
        Value::String(s) => Err(located(
            lua,
            format!(
                "bad argument #{arg} to '{f}' (invalid {what} size: {} bytes, the map's are {size})",
                s.as_bytes().len()
            ),
        )),
        other => Err(located(
            lua,
            format!("bad argument #{arg} to '{f}' (string expected, got {})", other.type_name()),
        )),
    }
}

fn bytes(lua: &Lua, b: Option<Vec<u8>>) -> mlua::Result<Value> {
    b.map_or(Ok(Value::Nil), |b| lua.create_string(b).map(Value::String))
}

fn flags(lua: &Lua, v: Option<i64>) -> mlua::Result<u64> {
    u64::try_from(v.unwrap_or(0)).map_err(|_| located(lua, "bpf: flags are not negative"))
}

impl UserData for Raw {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("lookup", |lua, this, key: Value| {
            check_family(lua, this, "lookup")?;
            let k = sized(lua, &key, this.key_size(lua)?, "key", 1, "lookup")?;
            bytes(lua, this.lua_op(lua, "lookup", |m| m.lookup(&k))?)
        });
        methods.add_method(
            "update",
            |lua, this, (key, value, f): (Value, Value, Option<i64>)| {
                check_family(lua, this, "update")?;
                let k = sized(lua, &key, this.key_size(lua)?, "key", 1, "update")?;
                let v = sized(lua, &value, this.value_size(lua)?, "value", 2, "update")?;
                let f = flags(lua, f)?;
                this.lua_op(lua, "update", |m| updated(m.update(&k, &v, f)))
            },
        );
        methods.add_method("delete", |lua, this, key: Value| {
            check_family(lua, this, "delete")?;
            let k = sized(lua, &key, this.key_size(lua)?, "key", 1, "delete")?;
            this.lua_op(lua, "delete", |m| m.delete(&k))
        });
        methods.add_method("remove", |lua, this, key: Value| {
            check_family(lua, this, "remove")?;
            let k = sized(lua, &key, this.key_size(lua)?, "key", 1, "remove")?;
            bytes(
                lua,
                this.lua_op(lua, "remove", |m| m.lookup_and_delete(&k))?,
            )
        });
        methods.add_method("next", |lua, this, key: Option<Value>| {
            check_family(lua, this, "next")?;
            let k = match key {
                None | Some(Value::Nil) => None,
                Some(v) => Some(sized(lua, &v, this.key_size(lua)?, "key", 1, "next")?),
            };
            bytes(lua, this.lua_op(lua, "next", |m| m.next_key(k.as_deref()))?)
        });
        methods.add_method("push", |lua, this, (value, f): (Value, Option<i64>)| {
            check_family(lua, this, "push")?;
            let v = sized(lua, &value, this.value_size(lua)?, "value", 1, "push")?;
            this.push(lua, &v, flags(lua, f)?)
        });
        methods.add_method("pop", |lua, this, ()| {
            check_family(lua, this, "pop")?;
            bytes(lua, this.pop(lua)?)
        });
        methods.add_method("peek", |lua, this, ()| {
            check_family(lua, this, "peek")?;
            bytes(lua, this.peek(lua)?)
        });
        methods.add_method("info", |lua, this, ()| this.info(lua));
        methods.add_method("close", |_, this, ()| {
            this.close();
            Ok(())
        });
        methods.add_meta_method(MetaMethod::Close, |_, this, _: MultiValue| {
            this.close();
            Ok(())
        });
        methods.add_meta_method(MetaMethod::Len, |lua, this, ()| {
            this.lua_op(lua, "len", |m| Ok(m.max_entries()))
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!("bpf.{} {}", this.kind.name(), this.path.display()))
        });
    }
}

/// Refuses the methods of the other family (a hash has no `push`, a queue no `lookup`), as
/// Lunatik's two classes do, with the name instead of a kernel error.
fn check_family(lua: &Lua, raw: &Raw, method: &str) -> mlua::Result<()> {
    let keyed = ["lookup", "update", "delete", "remove", "next"].contains(&method);
    let keyless = ["push", "pop", "peek"].contains(&method);
    if (keyed && raw.kind.keyless()) || (keyless && !raw.kind.keyless()) {
        return Err(located(
            lua,
            format!("bpf.{} map has no method '{method}'", raw.kind.name()),
        ));
    }
    Ok(())
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for kind in Kind::ALL {
        t.set(
            kind.name(),
            lua.create_function(move |lua, path: Value| {
                let ctx = format!("bpf.{}", kind.name());
                let Value::String(p) = &path else {
                    return Err(located(
                        lua,
                        format!(
                            "{ctx}: the path of a pinned map is a string, not {}",
                            path.type_name()
                        ),
                    ));
                };
                let raw = open(lua, kind, &ctx, &p.to_str()?)?;
                let ud = lua.create_userdata(raw)?;
                Ok(ud)
            })?,
        )?;
    }
    Ok(t)
}
