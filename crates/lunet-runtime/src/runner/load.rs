//! The first step of a start and of a reload: the body runs, the XDP and netfilter hooks
//! that can compile are compiled and loaded (not attached), and the hooks are planned with
//! what compiled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lunet_lua::{AbortHandle, HookSpec, Log, MapBacking, State, StateOptions};
use lunet_netfilter::IptablesVariant;
use lunet_types::{Attach, Tier};

use super::error::StartError;
use super::plan::{self, Plan};
use super::spec::RunSpec;
use crate::kernel::{self, Script};

/// A body run and planned: what both a start and a reload begin with.
pub(super) struct Loaded {
    pub(super) state: State,
    pub(super) specs: Vec<HookSpec>,
    pub(super) plan: Plan,
    pub(super) script: Script,
    pub(super) rcu: Arc<lunet_lua::RcuShared>,
    /// The XDP hooks compiled and loaded (not attached yet), by hook id.
    pub(super) compiled: BTreeMap<usize, kernel::Loaded>,
}

/// Runs the body of `spec`'s script and plans its hooks. With `adopt`, maps already pinned
/// under the state's directory with the declared layouts are taken over.
pub(super) fn load(
    spec: &RunSpec,
    log: &Log,
    abort: AbortHandle,
    adopt: bool,
) -> Result<Loaded, StartError> {
    // The version's rcu tables, which its per-CPU copies are given too.
    let rcu = Arc::new(lunet_lua::RcuShared::default());
    let opts = StateOptions {
        limits: spec.limits,
        dev: spec.dev.clone(),
        log: log.clone(),
        maps: MapBacking::Kernel {
            pin_dir: Some(spec.pin_dir.clone()),
            adopt,
        },
        abort,
        paths: spec.path.clone(),
        rcu: rcu.clone(),
    };
    let state = State::load(&spec.script, opts)?;
    let specs = state.hooks();
    let variant = IptablesVariant::detect().unwrap_or(IptablesVariant::Nft);
    let script = Script::read(&spec.script).map_err(StartError::Kernel)?;
    // XDP and netfilter hooks compile first: one that does not, and may have either tier,
    // goes to the Lua tier; one that demands the kernel tier fails the start with the
    // compiler's (or the verifier's) reason.
    let mut compiled = BTreeMap::new();
    let mut not_compiled = BTreeMap::new();
    let mut nf_compiled = BTreeSet::new();
    for h in &specs {
        let kind = match &h.attach {
            Attach::Xdp { dev: Some(_) } => "XDP",
            Attach::Netfilter { .. } => "netfilter",
            Attach::Xdp { dev: None } => continue,
        };
        let tier = plan::demanded(h, spec.tier);
        if tier == Tier::Lua {
            continue;
        }
        match kernel::compile_and_load(&state, h, &script) {
            Ok(k) => {
                compiled.insert(h.id, k);
                if kind == "netfilter" {
                    nf_compiled.insert(h.id);
                }
            }
            Err(e) if tier == Tier::Auto => {
                // An XDP hook in Lua is a surprise worth the log; a netfilter hook in Lua is
                // the usual case, said in the run's report (its tier and reason) only.
                if kind == "XDP" {
                    log.push(
                        lunet_lua::Stream::Error,
                        format!(
                            "{}: XDP hook '{}' runs in the Lua tier: {e}",
                            h.defined_at, h.name
                        ),
                    );
                }
                not_compiled.insert(h.id, e.to_string());
            }
            Err(e) => return Err(StartError::Kernel(e)),
        }
    }
    let plan = plan::plan(
        &specs,
        spec.tier,
        &spec.pin_dir,
        variant,
        &not_compiled,
        &nf_compiled,
    )?;
    Ok(Loaded {
        state,
        specs,
        plan,
        script,
        rcu,
        compiled,
    })
}
