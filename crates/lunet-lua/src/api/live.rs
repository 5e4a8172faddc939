//! What a live state offers: the modules `require` gives (walked from the table the
//! runtime registers them in), and the methods of the objects a script meets (made by a
//! probe script that runs in a real sandboxed state, one netfilter hook call included).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use mlua::{ffi, Lua, Table, Value};

use super::loaded::Loaded;
use crate::data::{SkbMeta, Slot};
use crate::log::Log;
use crate::maps::{MapBacking, Maps};
use crate::registry::Registry;

/// A value a module holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Function,
    Integer(i64),
    Number(f64),
    Text(String),
    Bool(bool),
    Table(BTreeMap<String, Item>),
    /// Userdata and the like: named in the stubs as `any`.
    Other(&'static str),
}

/// What the live state offers.
#[derive(Debug, Clone)]
pub(crate) struct Surface {
    pub modules: BTreeMap<String, BTreeMap<String, Item>>,
    /// Each probed class's method names; `None` when its methods cannot be listed (an
    /// `__index` function, as maps have).
    pub classes: BTreeMap<String, Option<BTreeSet<String>>>,
}

/// How the probe makes an object of a class: in the body, or in a netfilter hook's call
/// (where `skb` is the hook's argument).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Probe {
    Body(&'static str),
    Hook(&'static str),
}

/// The classes of the objects a script meets, each with a Lua expression that makes one.
pub(crate) const PROBES: &[(&str, Probe)] = &[
    ("lunet.skb", Probe::Hook("skb")),
    ("lunet.data", Probe::Hook("skb:data('net')")),
    (
        "netfilter.handle",
        Probe::Body(
            "require('netfilter').register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_OUT, \
             hook = function() return nf.action.ACCEPT end }",
        ),
    ),
    (
        "bpf.map.object",
        Probe::Body("require('bpf.map').hash{ key = 'I', value = 'I', entries = 1 }"),
    ),
];

/// An IPv4/UDP packet for the probe's hook call.
const PACKET: [u8; 28] = [
    0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, 0x9c, 0x40, 0, 9, 0,
    8, 0, 0,
];

/// The probe script: its first hook captures what a hook call gives, then the body's
/// probes run.
fn probe_script() -> String {
    let mut s = String::from(
        "local probe = {}\n__lunet_probe = probe\n\
         local nf = require('linux').nf\n\
         require('netfilter').register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,\n  hook = function(skb)\n",
    );
    for (class, p) in PROBES {
        if let Probe::Hook(expr) = p {
            s.push_str(&format!("    probe[{class:?}] = ({expr})\n"));
        }
    }
    s.push_str("    return nf.action.ACCEPT\n  end }\n");
    for (class, p) in PROBES {
        if let Probe::Body(expr) = p {
            s.push_str(&format!("probe[{class:?}] = ({expr})\n"));
        }
    }
    s
}

/// Walks a live state.
pub(crate) fn surface() -> Result<Surface, mlua::Error> {
    let lua = crate::sandbox::new_state(64 << 20, Log::new(100))?;
    let _budget = crate::budget::Budget::install(&lua, &crate::AbortHandle::new())?;
    // No script roots: the probe requires lunet's modules only.
    crate::modules::install(&lua, crate::modules::Roots::default())?;
    lua.set_app_data(Registry::default());
    lua.set_app_data(Maps {
        backing: MapBacking::Memory,
        ..Maps::default()
    });
    lua.load(probe_script())
        .set_name("=lunet-api-probe")
        .exec()?;
    let registry = lua.remove_app_data::<Registry>().unwrap_or_default();
    let hook = registry
        .hooks
        .first()
        .ok_or_else(|| mlua::Error::runtime("the probe registered no hook"))?;
    let slot = Rc::new(Slot::default());
    let skb = crate::skb::make(&lua, &slot)?;
    slot.begin(&[], &PACKET);
    slot.set_meta(SkbMeta {
        ifindex: 1,
        ..SkbMeta::default()
    });
    let called = hook.func.call::<Value>(skb);
    slot.retire();
    called?;

    let loaded = lua
        .app_data_ref::<Loaded>()
        .map(|l| l.0.clone())
        .ok_or_else(|| mlua::Error::runtime("the modules' table was not kept"))?;
    let mut modules = BTreeMap::new();
    for pair in loaded.pairs::<String, Table>() {
        let (name, t) = pair?;
        // A standard library `require` also serves (the same table as the global of its
        // name) is Lua's: editors know it.
        if let Ok(Value::Table(g)) = lua.globals().raw_get::<Value>(name.as_str()) {
            if g.to_pointer() == t.to_pointer() {
                continue;
            }
        }
        let mut seen = BTreeSet::new();
        modules.insert(name, walk(&t, &mut seen)?);
    }
    let probe: Table = lua.globals().get("__lunet_probe")?;
    let mut classes = BTreeMap::new();
    for (class, _) in PROBES {
        let v: Value = probe.get(*class)?;
        classes.insert(class.to_string(), methods(&lua, v)?);
    }
    Ok(Surface { modules, classes })
}

fn walk(t: &Table, seen: &mut BTreeSet<usize>) -> mlua::Result<BTreeMap<String, Item>> {
    let mut out = BTreeMap::new();
    if !seen.insert(t.to_pointer() as usize) {
        return Ok(out);
    }
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Value::String(k) = k else { continue };
        let item = match v {
            Value::Function(_) => Item::Function,
            Value::Integer(i) => Item::Integer(i),
            Value::Number(n) => Item::Number(n),
            Value::Boolean(b) => Item::Bool(b),
            Value::String(s) => Item::Text(s.to_string_lossy()),
            Value::Table(sub) => Item::Table(walk(&sub, seen)?),
            other => Item::Other(other.type_name()),
        };
        out.insert(k.to_string_lossy(), item);
    }
    Ok(out)
}

/// The names of the functions in `v`'s metatable's `__index` table (read raw: a script
/// sees a protected metatable).
fn methods(lua: &Lua, v: Value) -> mlua::Result<Option<BTreeSet<String>>> {
    // SAFETY: `exec_raw` runs the closure in a protected call with `v` at index 1; it
    // replaces it with its metatable's `__index` (or nil) and leaves that one value.
    let index: Value = unsafe {
        lua.exec_raw(v, |l| {
            if ffi::lua_getmetatable(l, 1) == 0 {
                ffi::lua_pushnil(l);
            } else {
                ffi::lua_pushstring(l, c"__index".as_ptr());
                ffi::lua_rawget(l, -2);
                ffi::lua_replace(l, -2);
            }
            ffi::lua_replace(l, 1);
            ffi::lua_settop(l, 1);
        })
    }?;
    match index {
        Value::Table(t) => {
            let mut names = BTreeSet::new();
            for pair in t.pairs::<Value, Value>() {
                if let (Value::String(k), Value::Function(_)) = pair? {
                    let k = k.to_string_lossy();
                    if !k.starts_with("__") {
                        names.insert(k);
                    }
                }
            }
            Ok(Some(names))
        }
        Value::Nil => Ok(Some(BTreeSet::new())),
        _ => Ok(None),
    }
}
