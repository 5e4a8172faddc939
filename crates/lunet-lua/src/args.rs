//! Reading the fields of a Lua table of arguments (`netfilter.register{...}`, `xdp.attach(f,
//! opts)`, `map.hash{...}`), with messages that name the call, the field and the line.

use mlua::{Lua, Table, Value};

use crate::error::located;
use lunet_types::{Overload, Tier};

/// Reads an optional integer field, with a clear message when it is something else.
pub(crate) fn opt_int(lua: &Lua, t: &Table, field: &str, ctx: &str) -> mlua::Result<Option<i64>> {
    match t.get::<Value>(field)? {
        Value::Nil => Ok(None),
        Value::Integer(i) => Ok(Some(i)),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Ok(Some(n as i64)),
        other => Err(located(
            lua,
            format!(
                "{ctx}: '{field}' must be an integer, got {}",
                other.type_name()
            ),
        )),
    }
}

/// Reads an optional string field.
pub(crate) fn opt_str(
    lua: &Lua,
    t: &Table,
    field: &str,
    ctx: &str,
) -> mlua::Result<Option<String>> {
    match t.get::<Value>(field)? {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(s.to_string_lossy())),
        other => Err(located(
            lua,
            format!(
                "{ctx}: '{field}' must be a string, got {}",
                other.type_name()
            ),
        )),
    }
}

/// `tier = "auto" | "kernel" | "lua"` of a registration; `auto` when absent.
pub(crate) fn tier(lua: &Lua, t: &Table, ctx: &str) -> mlua::Result<Tier> {
    match opt_str(lua, t, "tier", ctx)? {
        None => Ok(Tier::Auto),
        Some(s) => Tier::parse(&s).ok_or_else(|| {
            located(
                lua,
                format!("{ctx}: tier must be \"auto\", \"kernel\" or \"lua\", got \"{s}\""),
            )
        }),
    }
}

/// `overload = "pass" | "drop"` of a registration; `pass` when absent.
pub(crate) fn overload(lua: &Lua, t: &Table, ctx: &str) -> mlua::Result<Overload> {
    match opt_str(lua, t, "overload", ctx)? {
        None => Ok(Overload::Pass),
        Some(s) => Overload::parse(&s).ok_or_else(|| {
            located(
                lua,
                format!("{ctx}: overload must be \"pass\" or \"drop\", got \"{s}\""),
            )
        }),
    }
}

/// `budget = N` of a registration: a positive instruction count, if given.
pub(crate) fn budget(lua: &Lua, t: &Table, ctx: &str) -> mlua::Result<Option<u64>> {
    match opt_int(lua, t, "budget", ctx)? {
        None => Ok(None),
        Some(n) if n > 0 => Ok(Some(n as u64)),
        Some(n) => Err(located(
            lua,
            format!("{ctx}: budget must be a positive number of instructions, got {n}"),
        )),
    }
}

/// `budget = N` and `timeout = MS` of a registration: the instructions and milliseconds one
/// call may take, if given, within [`crate::Limits`]'s bounds.
pub(crate) fn call_limits(
    lua: &Lua,
    t: &Table,
    ctx: &str,
) -> mlua::Result<(Option<u64>, Option<std::time::Duration>)> {
    let budget = budget(lua, t, ctx)?;
    if let Some(b) = budget {
        crate::limits::check_budget(b).map_err(|e| located(lua, format!("{ctx}: {e}")))?;
    }
    let timeout = match opt_int(lua, t, "timeout", ctx)? {
        None => None,
        Some(ms) if ms > 0 => {
            let d = std::time::Duration::from_millis(ms as u64);
            crate::limits::check_time(d, crate::Limits::MAX_HOOK_TIME, "a hook call")
                .map_err(|e| located(lua, format!("{ctx}: timeout: {e}")))?;
            Some(d)
        }
        Some(ms) => {
            return Err(located(
                lua,
                format!("{ctx}: timeout must be a positive number of milliseconds, got {ms}"),
            ))
        }
    };
    Ok((budget, timeout))
}

/// An optional integer field that must fit `T` (`default` when absent); otherwise
/// `<ctx>: <field> <value> <why>`.
pub(crate) fn int_as<T: TryFrom<i64>>(
    lua: &Lua,
    t: &Table,
    field: &str,
    ctx: &str,
    default: T,
    why: &str,
) -> mlua::Result<T> {
    match opt_int(lua, t, field, ctx)? {
        None => Ok(default),
        Some(v) => T::try_from(v).map_err(|_| located(lua, format!("{ctx}: {field} {v} {why}"))),
    }
}

/// `default = V` of a registration: the verdict a hook gives when it fails, one of `allowed`
/// (named `names` in the message), `fallback` when absent.
pub(crate) fn default_verdict(
    lua: &Lua,
    t: &Table,
    ctx: &str,
    fallback: u32,
    allowed: [u32; 2],
    names: &str,
) -> mlua::Result<u32> {
    match opt_int(lua, t, "default", ctx)? {
        None => Ok(fallback),
        Some(v) if allowed.iter().any(|a| i64::from(*a) == v) => Ok(v as u32),
        Some(v) => Err(located(
            lua,
            format!("{ctx}: default must be {names}, got {v}"),
        )),
    }
}
