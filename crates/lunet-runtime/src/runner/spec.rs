//! What to start: a script, its name, namespace, device, tier and limits.

use std::path::{Path, PathBuf};

use std::time::Duration;

use lunet_lua::{LimitError, Limits};
use lunet_types::Tier;

use crate::protocol::{CpuSet, RunRequest};

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
    /// The script roots after the script's own directory (`RunRequest::path`).
    pub path: Vec<PathBuf>,
    /// Copies of the state's Lua tier, each with its own Lua state, thread (on its own CPU)
    /// and queue per group; the kernel spreads packets over them by flow. 1 is one state.
    pub copies: u16,
    /// The CPU each copy's thread is pinned to; empty: copy k on CPU k (modulo the CPUs
    /// online), and a single copy is not pinned.
    pub cpu_list: Vec<u32>,
}

/// Where states pin their maps unless told otherwise.
pub const PIN_ROOT: &str = "/sys/fs/bpf/lunet";

impl RunSpec {
    /// The spec a `run` request asks for, with lunet's defaults where it is silent; limits
    /// outside lunet's bounds (`mem: 0`, a budget of 2^64-1, ...) are refused.
    pub fn from_request(r: RunRequest, pin_root: &Path) -> Result<RunSpec, LimitError> {
        let defaults = Limits::default();
        let name = r.name.unwrap_or_else(|| default_name(&r.script));
        let limits = Limits {
            memory: r.mem.unwrap_or(defaults.memory),
            hook_budget: r.budget.unwrap_or(defaults.hook_budget),
            hook_time: r
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(defaults.hook_time),
            ..defaults
        };
        limits.check()?;
        let (copies, cpu_list) = match r.cpus {
            None => (1, Vec::new()),
            Some(CpuSet::Count(n)) => (n, Vec::new()),
            Some(CpuSet::List(l)) => (l.len().min(u16::MAX as usize) as u16, l),
        };
        if copies == 0 || copies > Limits::MAX_COPIES {
            return Err(LimitError::Copies(copies));
        }
        Ok(RunSpec {
            copies,
            cpu_list,
            pin_dir: pin_root.join(&name),
            name,
            script: r.script,
            netns: r.netns,
            dev: r.dev,
            tier: r.tier,
            limits,
            path: r.path,
        })
    }
}

/// A memory cap that is not a size lunet takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a size from 1M to 64G (bytes, or with K, M, G): a state's memory cap")]
pub struct SizeError(pub String);

/// A memory cap as the command line and script headers write it: bytes, or with a K, M or G
/// suffix, from [`Limits::MIN_MEMORY`] to [`Limits::MAX_MEMORY`].
pub fn parse_size(s: &str) -> Result<usize, SizeError> {
    let (digits, mult) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 1usize << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| (Limits::MIN_MEMORY..=Limits::MAX_MEMORY).contains(n))
        .ok_or_else(|| SizeError(s.to_string()))
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
            timeout_ms: None,
            path: Vec::new(),
            cpus: None,
        };
        let s = RunSpec::from_request(r, Path::new("/sys/fs/bpf/lunet")).unwrap();
        assert_eq!(
            s.name, "my-fw-v2",
            "the file stem, with other characters as '-'"
        );
        assert_eq!(s.pin_dir, Path::new("/sys/fs/bpf/lunet/my-fw-v2"));
        assert_eq!(s.limits.memory, Limits::default().memory);
        assert_eq!(s.limits.hook_budget, 5000);
        assert_eq!(s.netns.as_deref(), Some("lab"));
        assert_eq!((s.copies, s.cpu_list.len()), (1, 0), "one copy, not pinned");
    }

    #[test]
    fn zero_or_absurd_limits_are_refused_not_taken_as_unlimited() {
        let r = |mem, budget, timeout_ms| RunRequest {
            script: "/x.lua".into(),
            name: None,
            netns: None,
            dev: None,
            tier: Tier::Auto,
            mem,
            budget,
            timeout_ms,
            path: Vec::new(),
            cpus: None,
        };
        let root = Path::new("/sys/fs/bpf/lunet");
        for bad in [
            r(Some(0), None, None),
            r(Some(1_000_000usize << 30), None, None),
            r(None, Some(u64::MAX), None),
            r(None, Some(0), None),
            r(None, None, Some(0)),
            r(None, None, Some(60_000)),
        ] {
            assert!(RunSpec::from_request(bad.clone(), root).is_err(), "{bad:?}");
        }
        let ok = RunSpec::from_request(r(Some(16 << 20), Some(50_000), Some(5)), root).unwrap();
        assert_eq!(ok.limits.hook_time, Duration::from_millis(5));
        let copies = |c| RunRequest {
            cpus: Some(c),
            ..r(None, None, None)
        };
        for bad in [CpuSet::Count(0), CpuSet::Count(300), CpuSet::List(vec![])] {
            let e = RunSpec::from_request(copies(bad.clone()), root).unwrap_err();
            assert!(e.to_string().contains("per-CPU copies"), "{bad:?}: {e}");
        }
        let two = RunSpec::from_request(copies(CpuSet::List(vec![1, 0])), root).unwrap();
        assert_eq!((two.copies, two.cpu_list), (2, vec![1, 0]));
    }
}
