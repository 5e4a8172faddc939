//! The instruction budget: a Lua count hook that fails the running call once it has run its
//! share, and keeps failing it so `pcall` cannot swallow the stop.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::{HookTriggers, Lua, MultiValue, Value, VmState};

#[derive(Default)]
pub(crate) struct Budget {
    remaining: Cell<i64>,
    limit: Cell<u64>,
    exhausted: Cell<bool>,
    /// `file:line` last seen by the count hook: where a memory error most likely happened.
    last_line: RefCell<String>,
}

impl Budget {
    pub fn arm(&self, instructions: u64) {
        self.remaining.set(instructions.min(i64::MAX as u64) as i64);
        self.limit.set(instructions);
        self.exhausted.set(false);
        self.last_line.borrow_mut().clear();
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted.get()
    }

    pub fn last_line(&self) -> String {
        self.last_line.borrow().clone()
    }

    fn error(&self, at: &str) -> mlua::Error {
        mlua::Error::RuntimeError(format!(
            "{at}instruction budget of {} exhausted",
            self.limit.get()
        ))
    }
}

/// Installs the count hook on `lua` (and the coroutines it creates), checking every `every`
/// instructions, and the `pcall` wrappers that keep a budget stop from being caught.
pub(crate) fn install(lua: &Lua, budget: Rc<Budget>, every: u32) -> mlua::Result<()> {
    set_check_interval(lua, budget.clone(), every)?;
    install_wrappers(lua, budget)
}

/// (Re)installs the count hook with a new interval.
pub(crate) fn set_check_interval(lua: &Lua, budget: Rc<Budget>, every: u32) -> mlua::Result<()> {
    let b = budget;
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(every),
        move |_, debug| {
            let at = match (debug.source().short_src, debug.current_line()) {
                (Some(src), Some(line)) => format!("{src}:{line}: "),
                _ => String::new(),
            };
            let left = b.remaining.get() - every as i64;
            b.remaining.set(left);
            if left <= 0 {
                b.exhausted.set(true);
                return Err(b.error(&at));
            }
            *b.last_line.borrow_mut() = at;
            Ok(VmState::Continue)
        },
    )
}

fn install_wrappers(lua: &Lua, budget: Rc<Budget>) -> mlua::Result<()> {
    // `pcall`, `xpcall` and `coroutine.resume` catch errors; after a budget stop they re-raise.
    // Errors raised by lunet's Rust functions reach Lua as mlua error objects: turn them into
    // the plain `file:line: message` strings Lua code expects from `pcall`.
    let check = lua.create_function(move |lua, mut results: MultiValue| {
        if budget.exhausted() {
            return Err(budget.error(""));
        }
        if let Some(Value::Error(e)) = results.get(1) {
            let text = lua.create_string(crate::error::describe(e))?;
            results[1] = Value::String(text);
        }
        Ok(results)
    })?;
    lua.load(
        r#"
        local check, rawpcall, rawxpcall, rawresume = ...
        pcall = function(...) return check(rawpcall(...)) end
        xpcall = function(...) return check(rawxpcall(...)) end
        coroutine.resume = function(...) return check(rawresume(...)) end
        "#,
    )
    .set_name("=lunet-budget")
    .call::<()>((
        check,
        lua.globals().get::<mlua::Function>("pcall")?,
        lua.globals().get::<mlua::Function>("xpcall")?,
        lua.globals()
            .get::<mlua::Table>("coroutine")?
            .get::<mlua::Function>("resume")?,
    ))
}
