//! How much a state may use: memory for the whole state, instructions per hook call and for
//! the body. Defaults are documented in docs/lua-tier.md; `run --mem/--budget` override them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes the Lua state may allocate in all (body, hooks, their data).
    pub memory: usize,
    /// Lua VM instructions one hook call may run before it gives its default verdict, for
    /// hooks whose registration sets no `budget` of its own.
    pub hook_budget: u64,
    /// Lua VM instructions the body may run.
    pub body_budget: u64,
}

impl Limits {
    pub const DEFAULT_MEMORY: usize = 32 << 20;
    pub const DEFAULT_HOOK_BUDGET: u64 = 100_000;
    pub const DEFAULT_BODY_BUDGET: u64 = 100_000_000;

    /// How often (in instructions) a budget this small is checked: often enough to be within
    /// a few percent of a small budget, rare enough to cost nothing on a large one.
    pub fn check_every(smallest_budget: u64) -> u32 {
        (smallest_budget / 16).clamp(1, 1000) as u32
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: Self::DEFAULT_MEMORY,
            hook_budget: Self::DEFAULT_HOOK_BUDGET,
            body_budget: Self::DEFAULT_BODY_BUDGET,
        }
    }
}
