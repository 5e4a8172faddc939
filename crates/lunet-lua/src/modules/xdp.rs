//! `xdp`: `attach(fn [, opts])` records an XDP hook on the script's device (or `opts.dev`);
//! `detach()` removes the state's XDP hooks.

use mlua::{Function, Lua, Table, Value};

use super::linux;
use crate::args::{self, opt_str};
use crate::error::located;
use crate::hook::HookSpec;
use crate::registry::{definition, Registry};
use lunet_types::{xdp, Attach};

fn attach(lua: &Lua, (func, opts): (Value, Option<Table>)) -> mlua::Result<()> {
    const CTX: &str = "xdp.attach";
    let func: Function = match func {
        Value::Function(f) => f,
        other => {
            return Err(located(
                lua,
                format!("{CTX}: expected a function, got {}", other.type_name()),
            ))
        }
    };
    let opts = match opts {
        Some(t) => t,
        None => lua.create_table()?,
    };
    let default_verdict = args::default_verdict(
        lua,
        &opts,
        CTX,
        xdp::PASS,
        [xdp::DROP, xdp::PASS],
        "xdp.DROP or xdp.PASS",
    )?;
    let tier = args::tier(lua, &opts, CTX)?;
    let name = opt_str(lua, &opts, "name", CTX)?.unwrap_or_default();
    let dev = opt_str(lua, &opts, "dev", CTX)?;
    let (budget, timeout) = args::call_limits(lua, &opts, CTX)?;
    let (defined_at, line) = definition(&func);
    let mut reg = lua.app_data_mut::<Registry>().ok_or_else(|| {
        located(
            lua,
            format!("{CTX}: hooks can only be attached while the script's body runs"),
        )
    })?;
    let dev = dev.or_else(|| reg.dev.clone());
    let spec = HookSpec {
        id: 0,
        name,
        attach: Attach::Xdp { dev },
        default_verdict,
        tier,
        defined_at,
        budget,
        timeout,
        overload: lunet_types::Overload::Pass,
    };
    reg.add(spec, func, format!("xdp:{line}"));
    Ok(())
}

fn detach(lua: &Lua, (): ()) -> mlua::Result<()> {
    if let Some(mut reg) = lua.app_data_mut::<Registry>() {
        for h in reg
            .hooks
            .iter_mut()
            .filter(|h| matches!(h.spec.attach, Attach::Xdp { .. }))
        {
            h.active = false;
        }
    }
    Ok(())
}

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = linux::xdp(lua)?;
    m.set("action", linux::xdp(lua)?)?;
    m.set("attach", lua.create_function(attach)?)?;
    m.set("detach", lua.create_function(detach)?)?;
    Ok(m)
}
