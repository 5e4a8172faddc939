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
    /// The body ran past the state's memory cap.
    Memory,
}

/// Why one hook call gave its default verdict instead of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "lowercase")]
pub enum HookError {
    Runtime(String),
    Budget(String),
    Memory(String),
    /// The hook returned something that is not a verdict.
    Verdict(String),
}

impl HookError {
    pub fn message(&self) -> &str {
        match self {
            HookError::Runtime(m)
            | HookError::Budget(m)
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
    /// Reading the hook's upvalues failed in Lua.
    #[error("{}", describe(.0))]
    Lua(#[source] mlua::Error),
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

/// The message a person should see for a Lua error, without mlua's wrapping and traceback.
pub fn describe(err: &mlua::Error) -> String {
    let full = describe_full(err);
    match full.find("\nstack traceback:") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
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
