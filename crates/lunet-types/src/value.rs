//! What the kernel-tier compiler takes from a state: where a hook function is defined, and
//! the values its upvalues held when the body finished (folded into the program as
//! constants, as the script contract says).

use crate::map::MapRef;

/// Where a Lua function is in its file, as Lua's debug info gives it (`linedefined`,
/// `lastlinedefined`, 1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FnRef {
    pub line_defined: usize,
    pub last_line_defined: usize,
}

/// What the script's body left in an upvalue of the hook (or of a function it calls).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
    /// A table of constants; nested tables allowed.
    Table(Vec<(Value, Value)>),
    /// A lunet library function by its name, e.g. `"byteorder.ntoh16"` ([`crate::builtin`]).
    Builtin(String),
    /// A Lua function from the same file: inlined where it is called.
    Function {
        at: FnRef,
        upvalues: Vec<(String, Value)>,
    },
    /// A `bpf.map`: stays live, the compiled code calls the map helpers on it.
    Map(MapRef),
    /// Anything else (its Lua type name): an error only if the hook uses it.
    Opaque(String),
}

impl Value {
    /// The Lua type name, for messages.
    pub fn type_name(&self) -> &str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Table(_) => "table",
            Value::Builtin(_) | Value::Function { .. } => "function",
            Value::Map(_) => "userdata",
            Value::Opaque(t) => t,
        }
    }
}
