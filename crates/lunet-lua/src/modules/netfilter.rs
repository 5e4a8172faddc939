//! `netfilter`: `register{hook = fn, pf, hooknum, priority, mark, ...}` records a hook in the
//! state's [`Registry`]; the daemon decides how packets reach it.

use mlua::{Function, Lua, Table, UserData, UserDataMethods};

use super::linux;
use crate::args::{self, opt_int, opt_str};
use crate::error::located;
use crate::hook::HookSpec;
use crate::registry::{definition, Registry};
use lunet_types::nf::{self, action};
use lunet_types::{Attach, Family, Hook};

/// The handle `register` returns.
struct Handle(usize);

impl UserData for Handle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("unregister", |lua, this, ()| {
            if let Some(mut reg) = lua.app_data_mut::<Registry>() {
                if let Some(h) = reg.hooks.get_mut(this.0) {
                    h.active = false;
                }
            }
            Ok(())
        });
    }
}

fn register(lua: &Lua, t: Table) -> mlua::Result<Handle> {
    const CTX: &str = "netfilter.register";
    let func: Function = match t.get::<mlua::Value>("hook")? {
        mlua::Value::Function(f) => f,
        other => {
            return Err(located(
                lua,
                format!(
                    "{CTX}: 'hook' must be a function, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    let pf = opt_int(lua, &t, "pf", CTX)?
        .ok_or_else(|| located(lua, format!("{CTX}: 'pf' is required")))?;
    let Some(family) = u32::try_from(pf)
        .ok()
        .and_then(|v| Family::from_raw(v).ok())
    else {
        return Err(located(
            lua,
            match nf::proto_name(pf) {
                Some(n) => format!(
                    "{CTX}: pf {n} is not supported: lunet hooks IPv4 and IPv6 (INET, IPV4, IPV6)"
                ),
                None => format!("{CTX}: pf {pf} is not a netfilter family"),
            },
        ));
    };
    let hooknum = opt_int(lua, &t, "hooknum", CTX)?
        .ok_or_else(|| located(lua, format!("{CTX}: 'hooknum' is required")))?;
    let hook = u32::try_from(hooknum)
        .ok()
        .and_then(|h| Hook::from_raw(h).ok())
        .ok_or_else(|| {
            located(
                lua,
                format!("{CTX}: hooknum {hooknum} is not one of linux.nf.inet (0-4)"),
            )
        })?;
    let priority = args::int_as(
        lua,
        &t,
        "priority",
        CTX,
        0i32,
        "does not fit a 32-bit integer",
    )?;
    let mark = args::int_as(lua, &t, "mark", CTX, 0u32, "is not a 32-bit unsigned value")?;
    let default_verdict = args::default_verdict(
        lua,
        &t,
        CTX,
        action::ACCEPT,
        [action::DROP, action::ACCEPT],
        "action.DROP or action.ACCEPT",
    )?;
    let tier = args::tier(lua, &t, CTX)?;
    let name = opt_str(lua, &t, "name", CTX)?.unwrap_or_default();
    let (budget, timeout) = args::call_limits(lua, &t, CTX)?;
    let overload = args::overload(lua, &t, CTX)?;
    let (defined_at, line) = definition(&func);
    let spec = HookSpec {
        id: 0,
        name,
        attach: Attach::Netfilter {
            family,
            hook,
            priority,
            mark,
        },
        default_verdict,
        tier,
        defined_at,
        budget,
        timeout,
        overload,
    };
    let mut reg = lua.app_data_mut::<Registry>().ok_or_else(|| {
        located(
            lua,
            format!("{CTX}: hooks can only be registered while the script's body runs"),
        )
    })?;
    Ok(Handle(reg.add(
        spec,
        func,
        format!("{}:{line}", hook.name()),
    )))
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("register", lua.create_function(register)?)?;
    // Lunatik's own names for the same constants, so its scripts run unchanged.
    let nf = linux::nf(lua)?;
    m.set("family", nf.get::<Table>("proto")?)?;
    m.set("action", nf.get::<Table>("action")?)?;
    m.set("inet_hooks", nf.get::<Table>("inet")?)?;
    m.set("ip_priority", nf.get::<Table>("ip")?.get::<Table>("pri")?)?;
    Ok(m)
}
