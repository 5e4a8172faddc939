//! `lunet check`: what a script would become, without root and without touching the network:
//! the body runs (maps in memory), every hook is compiled, and each hook's tier is reported
//! with its reasons, instruction count and the script's maps. As root the compiled programs
//! also go through the kernel's verifier (loaded, never attached). The binary prints the
//! [`CheckReport`].

use std::path::Path;

use lunet_lua::{Limits, MapInfo, State, StateOptions};
use lunet_types::{Attach, Tier};
use serde::Serialize;

use crate::kernel::{self, KernelError, Script};

/// What `--emit` adds to each compiled hook's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Ast,
    Ir,
    Asm,
}

#[derive(Debug, Serialize)]
pub struct CheckedHook {
    pub hook: String,
    pub attach: String,
    pub defined_at: String,
    /// The tier it would run in, or None when it cannot run.
    pub tier: Option<Tier>,
    pub reasons: Vec<String>,
    pub instructions: Option<usize>,
    /// Whether the kernel's verifier accepted it (None: not tried, needs root).
    pub verified: Option<bool>,
    /// The compiler's diagnostics, rendered, when the hook is outside the kernel-tier subset.
    pub diagnostic: Option<String>,
    /// Each construct outside the subset, as `file:line:col: message`, in source order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constructs: Vec<String>,
    /// `--emit` output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emitted: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub script: String,
    pub hooks: Vec<CheckedHook>,
    pub maps: Vec<MapInfo>,
}

impl CheckReport {
    /// Every hook can run in some tier.
    pub fn ok(&self) -> bool {
        self.hooks.iter().all(|h| h.tier.is_some())
    }
}

/// Where a netfilter hook of the Lua tier gets its packets.
const NETFILTER_IN_LUA: &str = "Lua tier: fed through NFQUEUE by a rule at its hook and priority";

/// Where an XDP hook of the Lua tier gets its packets.
const XDP_IN_LUA: &str = "Lua tier: fed from raw PRE_ROUTING on its device through NFQUEUE \
    (IPv4 and IPv6 frames only; DROP, PASS and TX as at XDP)";

/// Why a script could not be checked at all (a hook that cannot run is in the report).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The script does not parse or its body failed.
    #[error(transparent)]
    Body(#[from] lunet_lua::ScriptError),
    #[error(transparent)]
    Read(KernelError),
}

/// Runs the body of `path` and compiles each hook; `cli_tier` applies to hooks that demand
/// none; `roots` are where `require` looks after the script's directory.
pub fn check(
    path: &Path,
    roots: &[std::path::PathBuf],
    cli_tier: Tier,
    emit: Option<Emit>,
) -> Result<CheckReport, CheckError> {
    // As root, maps are real kernel maps (unpinned) so compiled hooks can be verified with them.
    let may_load = kernel::can_load().is_ok();
    let state = State::load(
        path,
        StateOptions {
            limits: Limits::default(),
            maps: kernel::unpinned_maps(may_load),
            paths: roots.to_vec(),
            rcu: Default::default(),
            ..StateOptions::default()
        },
    )?;
    let script = Script::read(path).map_err(CheckError::Read)?;
    let mut hooks = Vec::new();
    for h in state.hooks() {
        let demanded = crate::runner::plan::demanded(&h, cli_tier);
        let mut c = CheckedHook {
            hook: h.name.clone(),
            attach: h.attach.to_string(),
            defined_at: h.defined_at.clone(),
            tier: None,
            reasons: Vec::new(),
            instructions: None,
            verified: None,
            diagnostic: None,
            constructs: Vec::new(),
            emitted: None,
        };
        let compiled = kernel::compile_unloaded(&state, &h, &script);
        let in_lua = match h.attach {
            Attach::Netfilter { .. } => NETFILTER_IN_LUA,
            Attach::Xdp { .. } => XDP_IN_LUA,
        };
        if let Some(e) = emit {
            c.emitted = Some(match (&compiled, e) {
                (Ok(p), Emit::Asm) => p.asm(&script.source),
                (_, Emit::Ast | Emit::Ir) => kernel::input(&state, &h, &script)
                    .and_then(|i| {
                        let r = if e == Emit::Ast {
                            lunet_compile::emit_ast(&i)
                        } else {
                            lunet_compile::emit_ir(&i)
                        };
                        r.map_err(|d| kernel::unsupported(d, &script))
                    })
                    .unwrap_or_else(|e| e.to_string()),
                _ => "(not compiled)".into(),
            });
        }
        match compiled {
            Ok(p) => {
                c.instructions = Some(p.insns.len());
                if may_load {
                    match kernel::compile_and_load(&state, &h, &script) {
                        Ok(kernel::Loaded { program: p, .. }) => {
                            c.verified = Some(true);
                            c.instructions = Some(p.insns.len());
                        }
                        Err(e) => {
                            c.verified = Some(false);
                            c.reasons.push(e.to_string());
                        }
                    }
                } else {
                    c.reasons.push(
                        "not verified: loading a program into the verifier needs root".into(),
                    );
                }
                if c.verified == Some(false) && demanded != Tier::Kernel {
                    c.tier = Some(Tier::Lua);
                    c.reasons.insert(0, in_lua.into());
                } else if c.verified != Some(false) && demanded != Tier::Lua {
                    c.tier = Some(Tier::Kernel);
                    c.reasons.insert(
                        0,
                        format!(
                            "compiles to {} eBPF instructions",
                            c.instructions.unwrap_or(0)
                        ),
                    );
                } else if demanded == Tier::Lua {
                    c.tier = Some(Tier::Lua);
                    c.reasons
                        .push(format!("the Lua tier was demanded: {in_lua}"));
                }
            }
            Err(e) => {
                if demanded == Tier::Kernel {
                    c.reasons.push(format!(
                        "cannot run: the kernel tier was demanded, and this hook does not compile: {e}"
                    ));
                } else {
                    c.tier = Some(Tier::Lua);
                    c.reasons
                        .push(format!("{in_lua}; it does not compile: {e}"));
                }
                if let KernelError::Unsupported {
                    rendered,
                    constructs,
                    ..
                } = e
                {
                    c.diagnostic = Some(rendered);
                    c.constructs = constructs;
                }
            }
        }
        hooks.push(c);
    }
    Ok(CheckReport {
        script: path.display().to_string(),
        hooks,
        maps: state.maps(),
    })
}
