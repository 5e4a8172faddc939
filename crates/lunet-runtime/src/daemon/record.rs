//! The daemon's record of its running states (`<socket>.states.json`): what a daemon that
//! starts after a crash needs to clean up after each state and start it again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runner::RunSpec;

/// A running state as the record keeps it: enough to clean up after it, and (with `script`)
/// to start it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Persisted {
    pub(super) name: String,
    pub(super) netns: Option<String>,
    #[serde(default)]
    pub(super) script: Option<PathBuf>,
    #[serde(default)]
    pub(super) dev: Option<String>,
    #[serde(default)]
    pub(super) tier: lunet_types::Tier,
    #[serde(default)]
    pub(super) limits: Option<lunet_lua::Limits>,
    /// The scripts directory's file it runs from (`None`: started by `lunet run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) file: Option<String>,
    /// The script roots after the script's directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) path: Vec<PathBuf>,
    /// Per-CPU copies, and the CPUs they were pinned to.
    #[serde(default = "one")]
    pub(super) copies: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) cpu_list: Vec<u32>,
}

fn one() -> u16 {
    1
}

impl Persisted {
    pub(super) fn of(spec: &RunSpec, file: Option<String>) -> Persisted {
        Persisted {
            name: spec.name.clone(),
            netns: spec.netns.clone(),
            script: Some(spec.script.clone()),
            dev: spec.dev.clone(),
            tier: spec.tier,
            limits: Some(spec.limits),
            file,
            path: spec.path.clone(),
            copies: spec.copies,
            cpu_list: spec.cpu_list.clone(),
        }
    }

    /// The spec to start it again with, if the record has one.
    pub(super) fn spec(&self, pin_root: &Path) -> Option<RunSpec> {
        Some(RunSpec {
            name: self.name.clone(),
            script: self.script.clone()?,
            netns: self.netns.clone(),
            dev: self.dev.clone(),
            tier: self.tier,
            limits: self.limits?,
            pin_dir: pin_root.join(&self.name),
            path: self.path.clone(),
            copies: self.copies.max(1),
            cpu_list: self.cpu_list.clone(),
        })
    }
}
