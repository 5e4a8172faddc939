//! Where a hook attaches and the tier it asks for.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::nf::{self, Family, Hook};
use crate::xdp;

/// The tier a hook asks for (`tier = ...` in its registration, or `--tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Auto,
    Kernel,
    Lua,
}

impl Tier {
    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "auto" => Some(Tier::Auto),
            "kernel" => Some(Tier::Kernel),
            "lua" => Some(Tier::Lua),
            _ => None,
        }
    }

    /// The name [`Tier::parse`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Auto => "auto",
            Tier::Kernel => "kernel",
            Tier::Lua => "lua",
        }
    }
}

/// What a Lua-tier hook's queue does with packets when it is full (the hook cannot keep up):
/// `overload = "pass"` (the default: they pass unseen, counted) or `"drop"` (they are dropped,
/// counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overload {
    #[default]
    Pass,
    Drop,
}

impl Overload {
    pub fn parse(s: &str) -> Option<Overload> {
        match s {
            "pass" => Some(Overload::Pass),
            "drop" => Some(Overload::Drop),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Overload::Pass => "pass",
            Overload::Drop => "drop",
        }
    }
}

/// Where a hook attaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Attach {
    Netfilter {
        family: Family,
        hook: Hook,
        priority: i32,
        /// The hook sees only packets whose mark equals this (Lunatik's `mark`).
        mark: u32,
    },
    Xdp {
        dev: Option<String>,
    },
}

impl Attach {
    /// The names of this hook's verdicts, indexed by value.
    pub fn verdict_names(&self) -> &'static [&'static str] {
        match self {
            Attach::Netfilter { .. } => nf::action::NAMES,
            Attach::Xdp { .. } => xdp::NAMES,
        }
    }
}

impl fmt::Display for Attach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attach::Netfilter {
                family,
                hook,
                priority,
                mark,
            } => write!(
                f,
                "netfilter {family} {hook} priority {priority} mark {mark}"
            ),
            Attach::Xdp { dev: Some(d) } => write!(f, "xdp dev {d}"),
            Attach::Xdp { dev: None } => write!(f, "xdp (no device)"),
        }
    }
}
