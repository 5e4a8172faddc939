//! What the compiler takes: one hook function ([`HookInput`]) and the [`Options`].

use lunet_types::{FnRef, Value};

/// Iterations one loop may run before the hook gives its default verdict, with
/// [`LoopBound::Counter`]; also the largest constant trip count compiled without a bound.
pub const LOOP_CAP: i64 = 1024;

/// How loops without a small constant trip count are bounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoopBound {
    /// `may_goto` at each loop head (Linux 6.9+).
    #[default]
    MayGoto,
    /// A hidden counter per loop, capped at [`LOOP_CAP`].
    Counter,
}

/// Compiler options; [`crate::compile`] uses the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub loop_bound: LoopBound,
}

/// Where the compiled program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `fn(packet, argument)` at XDP: `r1` is a `struct xdp_md *`.
    Xdp,
}

/// One hook function to compile.
#[derive(Clone, Debug)]
pub struct HookInput {
    /// The script's path, as messages name it.
    pub file: String,
    /// The whole file.
    pub source: String,
    pub function: FnRef,
    /// The hook's upvalues by name, as the body left them.
    pub upvalues: Vec<(String, Value)>,
    pub target: Target,
    /// The verdict on any error (out of bounds, division by zero, a bad return value, ...).
    pub default_verdict: i32,
}
