//! The `data` module (Lunatik's `lib/luadata.c`): `data.new(size [, mode])`, buffers of the
//! script's own (kept inside the state's memory cap by [`crate::data::charge`]).

use crate::data::View;
use crate::error::located;

/// The `data` module (Lunatik's `lib/luadata.c`): `data.new(size [, mode])`.
pub(crate) fn module(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    // Every data object's missing method raises with its name (the type's methods table is
    // made with the first object).
    let sample = lua.create_userdata(View::owned(0))?;
    crate::missing::name_missing_methods(lua, sample, "data")?;
    let m = lua.create_table()?;
    m.set(
        "new",
        lua.create_function(|lua, (size, mode): (i64, Option<String>)| {
            // "shared" and "single" are the same here: a state is one thread.
            if let Some(m) = mode.as_deref() {
                if m != "shared" && m != "single" {
                    return Err(located(
                        lua,
                        format!("data.new: invalid mode '{m}' (expected \"shared\" or \"single\")"),
                    ));
                }
            }
            let cap = MAX_NEW;
            let size = usize::try_from(size)
                .ok()
                .filter(|&s| s <= cap)
                .ok_or_else(|| {
                    located(
                        lua,
                        format!("data.new: cannot allocate {size} bytes (0 to {cap})"),
                    )
                })?;
            let ud = lua.create_userdata(View::owned(size))?;
            crate::data::charge(lua, &ud, size)?;
            Ok(ud)
        })?,
    )?;
    Ok(m)
}

/// Largest `data.new` (its bytes count against the memory cap too: [`charge`]).
const MAX_NEW: usize = 16 << 20;
