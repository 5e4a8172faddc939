//! What the kernel-tier compiler needs from a state: where a hook function is defined and the
//! values its upvalues hold now that the body has finished (folded into the program as
//! constants, as the script contract says).

use std::collections::HashMap;
use std::ffi::CStr;

use lunet_types::{FnRef, MapRef, Value};

use crate::maps::{Handle, MapEntry};
use mlua::{Function, Lua, MultiValue};

/// Tables deeper or larger than this are not folded (a hook that uses one gets a diagnostic).
const MAX_DEPTH: usize = 4;
const MAX_ENTRIES: usize = 4096;

/// lunet's own library functions by identity, so a hook's `byteorder.ntoh16` is recognised.
#[derive(Default)]
pub(crate) struct Builtins(HashMap<usize, String>);

impl Builtins {
    pub fn add(&mut self, f: &Function, name: impl Into<String>) {
        self.0
            .entry(f.to_pointer() as usize)
            .or_insert_with(|| name.into());
    }
}

/// Where `f` is defined, by line.
pub(crate) fn fn_ref(f: &Function) -> FnRef {
    let info = f.info();
    FnRef {
        line_defined: info.line_defined.unwrap_or(0),
        last_line_defined: info.last_line_defined.unwrap_or(0),
    }
}

/// What the conversion needs besides the Lua state: lunet's functions and the state's maps.
struct Known<'a> {
    builtins: &'a Builtins,
    maps: &'a [std::rc::Rc<MapEntry>],
}

/// The upvalues of `f` as the compiler sees them (`_ENV`, the globals, is left out).
pub(crate) fn upvalues(
    lua: &Lua,
    f: &Function,
    maps: &[std::rc::Rc<MapEntry>],
) -> mlua::Result<Vec<(String, Value)>> {
    let builtins = lua.app_data_ref::<Builtins>();
    let empty = Builtins::default();
    let known = Known {
        builtins: builtins.as_deref().unwrap_or(&empty),
        maps,
    };
    upvalues_of(lua, f, &known, 0)
}

fn upvalues_of(
    lua: &Lua,
    f: &Function,
    known: &Known,
    depth: usize,
) -> mlua::Result<Vec<(String, Value)>> {
    // SAFETY: the closure only uses the Lua C API on the stack frame exec_raw gives it: the
    // function is argument 1; the stack is grown before each pair; each lua_getupvalue pushes
    // one value, the name (owned by Lua and valid while the function lives) is copied into a
    // pushed string below it, and the function is removed at the end, so the results are
    // name, value, name, value, ...
    let flat: MultiValue = unsafe {
        lua.exec_raw(f.clone(), |state| {
            let mut i = 1;
            loop {
                // Two slots per upvalue (a function has up to 255): a C function is promised
                // only LUA_MINSTACK (20), so grow first (raises, protected, if it cannot).
                mlua::ffi::luaL_checkstack(state, 2, c"upvalues".as_ptr());
                let name = mlua::ffi::lua_getupvalue(state, 1, i);
                if name.is_null() {
                    break;
                }
                let bytes = CStr::from_ptr(name).to_bytes();
                mlua::ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
                mlua::ffi::lua_insert(state, -2);
                i += 1;
            }
            mlua::ffi::lua_remove(state, 1);
        })?
    };
    let mut out = Vec::new();
    let mut it = flat.into_iter();
    while let (Some(name), Some(value)) = (it.next(), it.next()) {
        let name = match name {
            mlua::Value::String(s) => s.to_string_lossy(),
            _ => continue,
        };
        if name == "_ENV" {
            continue;
        }
        out.push((name, convert(lua, &value, known, depth)?));
    }
    Ok(out)
}

fn convert(lua: &Lua, v: &mlua::Value, known: &Known, depth: usize) -> mlua::Result<Value> {
    Ok(match v {
        mlua::Value::Nil => Value::Nil,
        mlua::Value::Boolean(b) => Value::Bool(*b),
        mlua::Value::Integer(i) => Value::Int(*i),
        mlua::Value::Number(n) => Value::Float(*n),
        mlua::Value::String(s) => Value::Str(s.as_bytes().to_vec()),
        mlua::Value::Table(t) if depth < MAX_DEPTH => {
            let mut entries = Vec::new();
            for pair in t.pairs::<mlua::Value, mlua::Value>() {
                let (k, v) = pair?;
                if entries.len() == MAX_ENTRIES {
                    return Ok(Value::Opaque(format!(
                        "table of more than {MAX_ENTRIES} entries"
                    )));
                }
                entries.push((
                    convert(lua, &k, known, depth + 1)?,
                    convert(lua, &v, known, depth + 1)?,
                ));
            }
            Value::Table(entries)
        }
        mlua::Value::Table(_) => Value::Opaque(format!("table nested deeper than {MAX_DEPTH}")),
        mlua::Value::Function(f) => match known.builtins.0.get(&(f.to_pointer() as usize)) {
            Some(name) => Value::Builtin(name.clone()),
            None if f.info().what == "Lua" && depth < MAX_DEPTH => Value::Function {
                at: fn_ref(f),
                upvalues: upvalues_of(lua, f, known, depth + 1)?,
            },
            None => Value::Opaque("function".into()),
        },
        mlua::Value::UserData(ud) => match ud.borrow::<Handle>() {
            Ok(h) => match known.maps.iter().position(|m| std::rc::Rc::ptr_eq(m, &h.0)) {
                Some(id) => Value::Map(MapRef {
                    id,
                    decl: h.0.decl.clone(),
                }),
                None => Value::Opaque("map of another state".into()),
            },
            Err(_) => Value::Opaque("userdata".into()),
        },
        other => Value::Opaque(other.type_name().to_string()),
    })
}
