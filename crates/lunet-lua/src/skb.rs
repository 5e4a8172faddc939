//! A netfilter hook's `skb`: one object for the hook's life (see [`crate::data`]), built
//! here so that its getters, the calls a filter makes per packet, are cheap.
//!
//! The `skb` is a plain Lua userdata with a metatable of its own hook, whose getters
//! (`getuint8`, `getuint16`, ..., `getstring`, `#skb`) are C closures over the hook's
//! [`Slot`]: a call is a bounds check and a load, about 20 ns, where a method through mlua's
//! userdata machinery costs about 80 (argument conversion, error wrapping, a type check).
//! The other methods (setters, `data`, `ifindex`, `mark`) are ordinary mlua functions on the
//! same slot. Each method acts on its hook's slot whatever its first argument: a getter taken
//! from one hook's `skb` and called in another hook raises, as the `skb` itself would.
//!
//! Raising an error from a C closure is a `longjmp` in Lua: the closures raise only from
//! frames that own nothing with a destructor (the message is formatted into a stack buffer
//! and every borrow of the slot has ended).

use std::ffi::{c_char, c_int, c_void};
use std::io::Write;
use std::rc::Rc;

use mlua::{ffi, AnyUserData, Function, Lua, MetaMethod, Table, Value};

use crate::data::{Fault, Slot, View};
use crate::error::located;
use crate::skbops as ops;

/// Builds the `skb` of the hook whose packets go through `slot`. The slot must outlive the
/// Lua state's calls of the `skb`'s getters: the hook keeps it.
pub fn make(lua: &Lua, slot: &Rc<Slot>) -> mlua::Result<Value> {
    let methods = lua.create_table()?;
    let ptr = Rc::as_ptr(slot) as *mut c_void;
    let getters: [(&str, ffi::lua_CFunction); 10] = [
        ("getbyte", get::<1, false>),
        ("getuint8", get::<1, false>),
        ("getint8", get::<1, true>),
        ("getuint16", get::<2, false>),
        ("getint16", get::<2, true>),
        ("getuint32", get::<4, false>),
        ("getint32", get::<4, true>),
        ("getint64", get::<8, true>),
        ("getnumber", get::<8, true>),
        ("getstring", getstring),
    ];
    for (name, f) in getters {
        methods.raw_set(name, closure(lua, f, ptr)?)?;
    }
    setters(lua, slot, &methods)?;
    let s = slot.clone();
    methods.raw_set(
        "data",
        lua.create_function(move |lua, (_, layer): (Value, Option<String>)| {
            View::skb(s.clone()).layer(lua, layer.as_deref())
        })?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "ifindex",
        lua.create_function(move |_, _: Value| Ok(ops::ifindex(&s)))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "mark",
        lua.create_function(move |_, _: Value| Ok(s.meta().mark))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "vlan",
        lua.create_function(move |_, _: Value| Ok(ops::vlan(&s)))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "connmark",
        lua.create_function(move |lua, (_, v): (Value, Option<i64>)| ops::connmark(lua, &s, v))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "flow",
        lua.create_function(move |lua, (_, v, secs): (Value, i64, Option<i64>)| {
            crate::flows::flow(lua, &s, v, secs)
        })?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "copy",
        lua.create_function(move |lua, _: Value| ops::copy(lua, &s))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "resize",
        lua.create_function(move |lua, (_, n): (Value, i64)| ops::resize(lua, &s, n))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "checksum",
        lua.create_function(move |lua, _: Value| ops::checksum(lua, &s))?,
    )?;
    let s = slot.clone();
    methods.raw_set(
        "forward",
        lua.create_function(move |lua, _: Value| ops::forward(lua, &s))?,
    )?;
    // A method lunet does not have raises with its name, not as a call of nil.
    let missing = lua.create_table()?;
    missing.raw_set(
        MetaMethod::Index.name(),
        lua.create_function(|lua, (_, name): (Value, Value)| {
            Err::<(), _>(crate::missing::missing(lua, "skb", &name))
        })?,
    )?;
    methods.set_metatable(Some(missing))?;

    let meta = lua.create_table()?;
    meta.raw_set(MetaMethod::Index.name(), methods)?;
    meta.raw_set(MetaMethod::Len.name(), closure(lua, len, ptr)?)?;
    let s = slot.clone();
    meta.raw_set(
        MetaMethod::ToString.name(),
        lua.create_function(move |_, _: Value| Ok(format!("data: {} bytes", s.body_len())))?,
    )?;
    meta.raw_set("__name", "skb")?;
    meta.raw_set("__metatable", false)?;
    // SAFETY: `exec_raw` runs the closure in a protected call with the metatable on the
    // stack at index 1; it makes a userdata (0 bytes, no user values) with that metatable
    // and puts it in the metatable's place: the one value left, returned.
    let skb = unsafe {
        lua.exec_raw::<Value>(meta, |l| {
            ffi::lua_newuserdatauv(l, 0, 0);
            ffi::lua_pushvalue(l, 1);
            ffi::lua_setmetatable(l, -2);
            ffi::lua_replace(l, 1);
        })
    }?;
    // Known by address to the modules that take a data object (`checksum`).
    let known = (skb.to_pointer() as usize, slot.clone());
    match lua.app_data_mut::<Known>() {
        Some(mut k) => k.0.push(known),
        None => {
            lua.set_app_data(Known(vec![known]));
        }
    }
    Ok(skb)
}

/// The `skb`s of the state's hooks, by address.
struct Known(Vec<(usize, Rc<Slot>)>);

/// The data object `ud` is, for the modules that take one: a view, or a hook's `skb`.
pub fn view_of(lua: &Lua, ud: &AnyUserData) -> Option<View> {
    if let Ok(v) = ud.borrow::<View>() {
        return Some(v.clone());
    }
    if let Some(v) = ops::view_of_copy(ud) {
        return Some(v);
    }
    let at = ud.to_pointer() as usize;
    let known = lua.app_data_ref::<Known>()?;
    let slot = known.0.iter().find(|(p, _)| *p == at)?.1.clone();
    Some(View::skb(slot))
}

/// A C closure `f` with the slot's address as its one upvalue.
fn closure(lua: &Lua, f: ffi::lua_CFunction, slot: *mut c_void) -> mlua::Result<Function> {
    // SAFETY: pushes a light userdata and a C closure that takes it as upvalue 1; the
    // closure is the one value left on the stack, returned as a function.
    unsafe {
        lua.exec_raw::<Function>((), |l| {
            ffi::lua_pushlightuserdata(l, slot);
            ffi::lua_pushcclosure(l, f, 1);
        })
    }
}

/// The setters, through mlua (rarer than reads; a write marks the packet rewritten).
fn setters(lua: &Lua, slot: &Rc<Slot>, methods: &Table) -> mlua::Result<()> {
    macro_rules! setter {
        ($($name:literal $t:ty),* $(,)?) => {$(
            let s = slot.clone();
            methods.raw_set($name, lua.create_function(move |lua, (_, off, v): (Value, i64, i64)| {
                // A store truncates to the field's width, as the C assignment in Lunatik does.
                View::skb(s.clone())
                    .write(off, &(v as $t).to_ne_bytes())
                    .map_err(|f| located(lua, f))
            })?)?;
        )*};
    }
    setter!(
        "setbyte" u8, "setuint8" u8, "setint8" i8, "setuint16" u16, "setint16" i16,
        "setuint32" u32, "setint32" i32, "setint64" i64, "setnumber" i64,
    );
    let s = slot.clone();
    methods.raw_set(
        "setstring",
        lua.create_function(move |lua, (_, off, v): (Value, i64, mlua::String)| {
            View::skb(s.clone())
                .write(off, &v.as_bytes())
                .map_err(|f| located(lua, f))
        })?,
    )?;
    Ok(())
}

/// The slot behind upvalue 1 of the running C closure.
///
/// # Safety
/// Only inside a closure made by [`closure`], while the hook (which owns the slot) lives.
unsafe fn slot_of<'a>(l: *mut ffi::lua_State) -> &'a Slot {
    &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const Slot)
}

/// Raises `file:line: MESSAGE` (the caller's position, as the mlua methods do).
///
/// # Safety
/// A `longjmp`: callers must own nothing with a destructor.
unsafe fn raise(l: *mut ffi::lua_State, msg: &[u8]) -> ! {
    ffi::luaL_where(l, 1);
    ffi::lua_pushlstring(l, msg.as_ptr() as *const c_char, msg.len());
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// Formats `fault` into `buf`; returns the length written.
fn describe(fault: &Fault, buf: &mut [u8; 128]) -> usize {
    let mut w: &mut [u8] = &mut buf[..];
    let _ = write!(w, "{fault}");
    128 - w.len()
}

/// `skb:getXXX(offset)`: `N` bytes at `offset` in host byte order.
unsafe extern "C-unwind" fn get<const N: usize, const SIGNED: bool>(
    l: *mut ffi::lua_State,
) -> c_int {
    let off = ffi::luaL_checkinteger(l, 2);
    match slot_of(l).read::<N>(off) {
        Ok(b) => {
            let v = match (N, SIGNED) {
                (1, false) => i64::from(b[0]),
                (1, true) => i64::from(b[0] as i8),
                (2, false) => i64::from(u16::from_ne_bytes([b[0], b[1]])),
                (2, true) => i64::from(i16::from_ne_bytes([b[0], b[1]])),
                (4, false) => i64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                (4, true) => i64::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                _ => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b[..8.min(N)]);
                    i64::from_ne_bytes(a)
                }
            };
            ffi::lua_pushinteger(l, v);
            1
        }
        Err(f) => {
            let mut buf = [0u8; 128];
            let n = describe(&f, &mut buf);
            raise(l, &buf[..n])
        }
    }
}

/// `skb:getstring(offset [, length])`: the bytes from `offset`, `length` of them or to the end.
unsafe extern "C-unwind" fn getstring(l: *mut ffi::lua_State) -> c_int {
    let off = ffi::luaL_checkinteger(l, 2);
    let len = if ffi::lua_isnoneornil(l, 3) != 0 {
        None
    } else {
        Some(ffi::luaL_checkinteger(l, 3))
    };
    match slot_of(l).body_range(off, len) {
        // The pointer stays valid: nothing touches the packet while Lua copies it.
        Ok((p, n)) => {
            ffi::lua_pushlstring(l, p as *const c_char, n);
            1
        }
        Err(f) => {
            let mut buf = [0u8; 128];
            let n = describe(&f, &mut buf);
            raise(l, &buf[..n])
        }
    }
}

/// `#skb`: the network layer's length.
unsafe extern "C-unwind" fn len(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushinteger(l, slot_of(l).body_len() as i64);
    1
}
