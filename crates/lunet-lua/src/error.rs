//! Errors a script can cause, each carrying the `file:line` a person needs to fix it.

use std::fmt::Display;

use mlua::Lua;
use serde::Serialize;

/// Why a script could not start: it is reported by `lunet run` and ends the state.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct ScriptError {
    pub kind: ScriptErrorKind,
    /// `file:line: what went wrong`, as Lua reports it.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptErrorKind {
    /// The script file could not be read.
    Io,
    /// The script does not parse.
    Syntax,
    /// The body raised an error.
    Runtime,
    /// The body ran past its instruction budget.
    Budget,
    /// The body ran past its time limit.
    Time,
    /// The state was stopped while its body ran.
    Stopped,
    /// The body ran past the state's memory cap.
    Memory,
}

/// Why one hook call gave its default verdict instead of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "lowercase")]
pub enum HookError {
    Runtime(String),
    Budget(String),
    /// The call ran past its time limit.
    Time(String),
    Memory(String),
    /// The hook returned something that is not a verdict.
    Verdict(String),
}

impl HookError {
    pub fn message(&self) -> &str {
        match self {
            HookError::Runtime(m)
            | HookError::Budget(m)
            | HookError::Time(m)
            | HookError::Memory(m)
            | HookError::Verdict(m) => m,
        }
    }
}

impl Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Why [`crate::State::compile_input`] has nothing to give the kernel-tier compiler.
#[derive(Debug, thiserror::Error)]
pub enum CompileInputError {
    /// The state has no hook of that id.
    #[error("no hook {0}")]
    NoHook(usize),
    /// Reading the hook's upvalues failed in Lua: the error as [`describe`] tells it (text,
    /// not the `mlua::Error`, so that the error can leave the state's thread).
    #[error("{0}")]
    Lua(String),
}

/// An error raised from Rust that names the Lua line that called in, as `luaL_error` does.
pub(crate) fn located(lua: &Lua, msg: impl Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{msg}", caller(lua)))
}

/// `file:line: ` of the Lua function calling the running Rust function, or "".
pub(crate) fn caller(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        d.source().short_src.map(|src| format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// The longest error message lunet keeps (a script can raise a string of any size; lunet
/// keeps its messages outside the state's memory cap, in counters and logs).
pub const MAX_ERROR: usize = 2048;

/// The message a person should see for a Lua error, without mlua's wrapping and traceback,
/// cut to [`MAX_ERROR`] bytes.
pub fn describe(err: &mlua::Error) -> String {
    let full = describe_full(err);
    let message = match full.find("\nstack traceback:") {
        // An error raised inside a C function ("C stack overflow" under a metamethod, ...)
        // names no line: the innermost script frame of the traceback does.
        Some(i) if !has_location(&full[..i]) => match script_frame(&full[i..]) {
            Some(at) => format!("{at}: {}", &full[..i]),
            None => full[..i].to_string(),
        },
        Some(i) => full[..i].to_string(),
        None => full,
    };
    crate::log::cut(named_nil_call(message), MAX_ERROR)
}

/// A call of a name lunet does not have is Lua's "attempt to call a nil value (field 'x')":
/// true, but it does not say that the name is missing from lunet. Says so, keeping Lua's
/// text (a script may still test `if linux.x then` and get nil).
fn named_nil_call(message: String) -> String {
    const CALL: &str = "attempt to call a nil value (";
    let Some(at) = message.find(CALL) else {
        return message;
    };
    let rest = &message[at + CALL.len()..];
    let Some((what, tail)) = rest.split_once(')') else {
        return message;
    };
    let Some((kind, name)) = what.split_once(' ') else {
        return message;
    };
    let name = name.trim_matches('\'');
    let hint = match kind {
        "field" => format!(
            "there is no function '{name}' in that table: lunet's modules have only what \
             docs/lua-tier.md lists (\"Lunatik compatibility\")"
        ),
        "global" => {
            format!("there is no global '{name}' (a typo, or a function the script never defined)")
        }
        _ => return message,
    };
    format!("{}{CALL}{what}){tail}: {hint}", &message[..at])
}

/// Whether `message` starts with `file:line: `.
fn has_location(message: &str) -> bool {
    message
        .split_once(": ")
        .and_then(|(at, _)| at.rsplit_once(':'))
        .is_some_and(|(_, line)| !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
}

/// The first `file:line` of a Lua traceback that is a script's (not `[C]` or lunet's own).
fn script_frame(traceback: &str) -> Option<&str> {
    traceback.lines().skip(1).find_map(|l| {
        let frame = l.trim_start().split_once(": in ")?.0;
        let ok = !frame.starts_with('[')
            && !frame.starts_with("lunet-")
            && has_location(&format!("{frame}: "));
        ok.then_some(frame)
    })
}

fn describe_full(err: &mlua::Error) -> String {
    match err {
        mlua::Error::CallbackError { cause, .. } => describe_full(cause),
        mlua::Error::WithContext { cause, .. } => describe_full(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Whether the error is the memory cap (possibly wrapped by a callback).
pub(crate) fn is_memory(err: &mlua::Error) -> bool {
    match err {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            is_memory(cause)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_of_a_missing_name_says_the_name_is_missing() {
        let m = named_nil_call("s.lua:2: attempt to call a nil value (field 'frob')".into());
        assert!(
            m.starts_with(
                "s.lua:2: attempt to call a nil value (field 'frob'): there is no function 'frob'"
            ),
            "{m}"
        );
        let g = named_nil_call("s.lua:3: attempt to call a nil value (global 'nope')".into());
        assert!(g.contains("there is no global 'nope'"), "{g}");
        let other = "s.lua:4: attempt to index a nil value (local 'x')".to_string();
        assert_eq!(named_nil_call(other.clone()), other);
    }
}
