//! What to start: a script, its name, namespace, device, tier and limits.

use std::path::{Path, PathBuf};

use lunet_lua::Limits;
use lunet_types::Tier;

use crate::protocol::RunRequest;

/// What to start.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub name: String,
    pub script: PathBuf,
    pub netns: Option<String>,
    pub dev: Option<String>,
    pub tier: Tier,
    pub limits: Limits,
    /// Where the state's maps are pinned (`<pin root>/<name>`); removed when it stops.
    pub pin_dir: PathBuf,
}

/// Where states pin their maps unless told otherwise.
pub const PIN_ROOT: &str = "/sys/fs/bpf/lunet";

impl RunSpec {
    /// The spec a `run` request asks for, with lunet's defaults where it is silent.
    pub fn from_request(r: RunRequest, pin_root: &Path) -> RunSpec {
        let defaults = Limits::default();
        let name = r.name.unwrap_or_else(|| default_name(&r.script));
        RunSpec {
            pin_dir: pin_root.join(&name),
            name,
            script: r.script,
            netns: r.netns,
            dev: r.dev,
            tier: r.tier,
            limits: Limits {
                memory: r.mem.unwrap_or(defaults.memory),
                hook_budget: r.budget.unwrap_or(defaults.hook_budget),
                ..defaults
            },
        }
    }
}

/// The state name `run` picks when none is given: the script's file stem.
pub fn default_name(script: &Path) -> String {
    script
        .file_stem()
        .map(|s| {
            s.to_string_lossy().replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "-",
            )
        })
        .unwrap_or_else(|| "script".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_silent_on_name_and_limits_gets_the_defaults() {
        let r = RunRequest {
            script: "/etc/lunet/my fw.v2.lua".into(),
            name: None,
            netns: Some("lab".into()),
            dev: None,
            tier: Tier::Auto,
            mem: None,
            budget: Some(5000),
        };
        let s = RunSpec::from_request(r, Path::new("/sys/fs/bpf/lunet"));
        assert_eq!(
            s.name, "my-fw-v2",
            "the file stem, with other characters as '-'"
        );
        assert_eq!(s.pin_dir, Path::new("/sys/fs/bpf/lunet/my-fw-v2"));
        assert_eq!(s.limits.memory, Limits::default().memory);
        assert_eq!(s.limits.hook_budget, 5000);
        assert_eq!(s.netns.as_deref(), Some("lab"));
    }
}
