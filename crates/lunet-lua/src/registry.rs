//! The hooks a script's body registers (`netfilter.register`, `xdp.attach`), in registration
//! order, kept in the state's app data while the body runs.

use std::sync::Arc;

use mlua::Function;

use crate::hook::{HookSpec, HookStats};

/// Every hook a state registered, in registration order (ids are indexes).
#[derive(Default)]
pub(crate) struct Registry {
    pub hooks: Vec<Registered>,
    /// The device given with `--dev`, used by `xdp.attach` without `opts.dev`.
    pub dev: Option<String>,
}

pub(crate) struct Registered {
    pub spec: HookSpec,
    pub func: Function,
    pub active: bool,
    pub stats: Arc<HookStats>,
}

impl Registry {
    /// Adds a hook, giving it a unique default name `<HOOK>:<line>` when it has none.
    pub fn add(&mut self, mut spec: HookSpec, func: Function, default_name: String) -> usize {
        let id = self.hooks.len();
        if spec.name.is_empty() {
            spec.name = default_name;
        }
        if self.hooks.iter().any(|h| h.spec.name == spec.name) {
            spec.name = format!("{}#{}", spec.name, id + 1);
        }
        spec.id = id;
        self.hooks.push(Registered {
            spec,
            func,
            active: true,
            stats: Arc::default(),
        });
        id
    }
}

/// `file:line` where `f` is defined, and its line alone.
pub(crate) fn definition(f: &Function) -> (String, usize) {
    let info = f.info();
    let line = info.line_defined.unwrap_or(0);
    (
        format!("{}:{line}", info.short_src.unwrap_or_else(|| "?".into())),
        line,
    )
}
