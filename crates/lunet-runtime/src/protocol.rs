//! The daemon's protocol: one JSON object per line over a Unix socket (docs/protocol.md).
//! A request is answered by one response line, except `logs` with `follow`, which streams
//! `{"ok":true,"result":{"line":...}}` lines until the state stops or the client goes away.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lunet_lua::{Line, StatsSnapshot};
use lunet_types::Tier;
use serde::{Deserialize, Serialize};

pub const DEFAULT_SOCKET: &str = "/run/lunet/lunet.sock";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Ping,
    Run(RunRequest),
    Stop {
        name: String,
    },
    /// Replaces a running state's script (`lunet reload`): `script` is an absolute path the
    /// daemon can read; the state keeps its name, namespace, device, tier and limits.
    Reload {
        name: String,
        script: PathBuf,
    },
    List,
    Stats {
        name: String,
    },
    /// Reads or changes a state's map (`lunet map`).
    Map {
        name: String,
        #[serde(default)]
        map: Option<String>,
        #[serde(default)]
        op: MapOp,
        #[serde(default)]
        key: Option<String>,
        #[serde(default)]
        value: Option<String>,
    },
    Logs {
        name: String,
        #[serde(default)]
        follow: bool,
        #[serde(default)]
        since: u64,
    },
    /// Reads the scripts directory again and makes the running states equal to it
    /// (`lunet apply`); files that failed before are tried again.
    Apply,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapOp {
    /// The state's maps and their layouts.
    #[default]
    List,
    Get,
    Set,
    Del,
    Dump,
}

/// One map entry, each side a scalar or (for several fields) an array.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapEntryReport {
    pub key: serde_json::Value,
    pub value: serde_json::Value,
}

/// What `lunet run` asks for. `script` is an absolute path the daemon can read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRequest {
    pub script: PathBuf,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub netns: Option<String>,
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default)]
    pub tier: Tier,
    #[serde(default)]
    pub mem: Option<usize>,
    #[serde(default)]
    pub budget: Option<u64>,
    /// Milliseconds one hook call may take.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Where `require` looks after the script's own directory, in order (absolute paths;
    /// `lunet run` sends its current directory, each `--path DIR`, then `LUNET_PATH`'s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<PathBuf>,
    /// Per-CPU copies of the state: a count (copy k on CPU k), or the CPUs themselves, one
    /// copy on each. One copy unless set.
    #[serde(default)]
    pub cpus: Option<CpuSet>,
}

/// `cpus` of a run request: `2` or `[0, 3]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CpuSet {
    Count(u16),
    List(Vec<u32>),
}

impl CpuSet {
    /// What `run --cpus` takes: a count (`4`), `all` (one copy per CPU online), or a CPU list
    /// (`0-3,6`; a single number is a count).
    pub fn parse(s: &str, online: usize) -> Result<CpuSet, String> {
        if s == "all" {
            return Ok(CpuSet::Count(online.clamp(1, u16::MAX as usize) as u16));
        }
        if let Ok(n) = s.parse::<u16>() {
            return Ok(CpuSet::Count(n));
        }
        CpuSet::parse_list(s)
            .map(CpuSet::List)
            .map_err(|_| format!("'{s}' is not a count, 'all', or a CPU list such as 0-3,6"))
    }

    /// A CPU list as the kernel writes them: `0-3,6`.
    pub fn parse_list(s: &str) -> Result<Vec<u32>, String> {
        let bad = || format!("cpus: '{s}' is not a CPU list such as \"0-3,6\"");
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        a.trim().parse::<u32>().map_err(|_| bad())?,
                        b.trim().parse::<u32>().map_err(|_| bad())?,
                    );
                    if a > b || b - a >= 4096 {
                        return Err(bad());
                    }
                    out.extend(a..=b);
                }
                None => out.push(part.parse().map_err(|_| bad())?),
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Why a request failed; `kind` decides the client's exit code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The script does not parse, its body failed, or a hook cannot have the tier it demands.
    Script,
    /// No state of that name.
    NotFound,
    /// A state of that name runs already.
    Exists,
    /// Installing rules or binding queues failed.
    Netfilter,
    /// Not JSON, not a request, or longer than the daemon's line bound (1 MiB).
    BadRequest,
    Internal,
    /// Every connection the daemon serves at once is in use (or this one was closed, idle,
    /// to make room); try again.
    Busy,
    /// The client is not root: the daemon serves uid 0 only.
    Denied,
}

impl Response {
    pub fn ok(result: impl Serialize) -> Response {
        Response {
            ok: true,
            result: Some(serde_json::to_value(result).unwrap_or_default()),
            error: None,
        }
    }

    pub fn err(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response {
            ok: false,
            result: None,
            error: Some(ErrorBody {
                kind,
                message: message.into(),
            }),
        }
    }
}

/// A hook as `run`, `list` and `stats` report it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookReport {
    pub name: String,
    pub tier: Tier,
    /// Why the hook runs in that tier.
    pub tier_reason: String,
    /// What the script asked for, e.g. `netfilter IPV4 LOCAL_IN priority 0 mark 0`.
    pub attach: String,
    /// Where it really went, e.g. `LOCAL_IN prio 0 -> iptables filter/INPUT (prio 0)`.
    pub placement: Vec<String>,
    /// The NFQUEUE number feeding it.
    pub queue: Option<u16>,
    /// Lua instructions one call may run.
    pub budget: Option<u64>,
    pub defined_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateReport {
    pub name: String,
    pub script: PathBuf,
    pub netns: Option<String>,
    pub hooks: Vec<HookReport>,
    pub memory_cap: usize,
    pub hook_budget: u64,
    /// The maps the body declared, with where they are pinned.
    #[serde(default)]
    pub maps: Vec<lunet_lua::MapInfo>,
    /// Per-CPU copies of the Lua tier, each with its own state, thread and queues.
    #[serde(default = "one_copy")]
    pub copies: u16,
}

fn one_copy() -> u16 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListEntry {
    pub name: String,
    pub script: PathBuf,
    pub netns: Option<String>,
    pub hooks: usize,
    pub packets: u64,
    pub errors: u64,
    pub running: bool,
    /// The scripts directory's file the state runs from (`None`: started by `lunet run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why the file's current version does not run (the version shown runs on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    /// Per-CPU copies of the state (`packets` and `errors` are their sum), with each one's
    /// share under `per_copy` when there are several.
    #[serde(default = "one_copy")]
    pub copies: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_copy: Vec<CopyShare>,
}

/// One copy's part of a state's counts, for `lunet list --json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CopyShare {
    pub copy: u16,
    pub cpu: Option<u32>,
    pub packets: u64,
    pub errors: u64,
}

/// What `lunet apply` (or the daemon's own look at its scripts directory) found and did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApplyReport {
    pub dir: PathBuf,
    /// Why the directory could not be used at all (nothing was changed then).
    #[serde(default)]
    pub error: Option<String>,
    pub files: Vec<FileReport>,
}

/// One file of the scripts directory (or one that was removed) and its state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileReport {
    pub file: String,
    /// The state it runs as (or ran as, for a removed file).
    pub state: Option<String>,
    pub action: FileAction,
    /// Why its current version does not run.
    #[serde(default)]
    pub error: Option<String>,
    /// The CPUs its header names: recorded, not used yet (per-CPU states are not built).
    #[serde(default)]
    pub cpus: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    /// A new file: its state started.
    Started,
    /// Its script changed: the state was reloaded (no packet lost).
    Reloaded,
    /// Its header's options changed: the state was stopped and started again.
    Restarted,
    /// The file is gone: its state was stopped.
    Stopped,
    /// Nothing changed.
    Unchanged,
    /// It cannot run, and no older version of it runs.
    Failed,
    /// Its new version cannot run: the older one runs on.
    Kept,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookStatsReport {
    #[serde(flatten)]
    pub hook: HookReport,
    #[serde(flatten)]
    pub stats: StatsSnapshot,
    /// A state with per-CPU copies: each copy's own counts (copy 0 first); `stats` is their
    /// sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_copy: Vec<StatsSnapshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatsReport {
    pub name: String,
    pub memory_used: usize,
    pub hooks: Vec<HookStatsReport>,
    /// The NFQUEUEs feeding the state's Lua-tier hooks, with what overload did to them.
    #[serde(default)]
    pub queues: Vec<QueueReport>,
    /// A state with per-CPU copies: each copy (copy 0 first); `memory_used` is their sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<CopyReport>,
}

/// One per-CPU copy of a state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CopyReport {
    pub copy: u16,
    /// The CPU its thread is pinned to.
    pub cpu: Option<u32>,
    pub memory_used: usize,
    /// The queue of each group it reads.
    pub queues: Vec<u16>,
}

/// What became of the packets lunet's rules sent to one queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueReport {
    pub queue: u16,
    /// The per-CPU copy that reads it (0: the state's own thread).
    #[serde(default)]
    pub copy: u16,
    /// What a full queue does with packets: `pass` them unseen, or `drop` them.
    pub overload: lunet_types::Overload,
    /// Packets lunet's rules matched (`iptables-save -c`); `null` where the backend keeps no
    /// counters (nft) or they could not be read.
    pub queued: Option<u64>,
    /// Packets the state's hooks judged (their verdict went back to the kernel).
    pub judged: u64,
    /// Packets in the kernel's queue waiting for a verdict now (the state's thread may be
    /// judging them).
    pub waiting: u64,
    /// Packets the kernel dropped because the queue or the socket was full (overload
    /// `drop`).
    pub dropped: u64,
    /// Packets that passed without a hook seeing them because the queue was full (overload
    /// `pass`): `queued - judged - waiting - dropped`.
    pub unseen: Option<u64>,
    /// Packets whose hook kept returning REPEAT: they got its default verdict.
    pub repeats_cut: u64,
}

/// One streamed log line, or the end of the stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogEvent {
    Line(Line),
    End { reason: String },
}

/// Verdict counts by name, as `replay --json` and `stats --json` give them.
pub type Verdicts = BTreeMap<String, u64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_request_carries_its_script_roots_in_order_and_may_leave_them_out() {
        let r: Request = serde_json::from_str(
            r#"{"cmd":"run","script":"/x.lua","path":["/home/u","/opt/lunatik/lib"]}"#,
        )
        .unwrap();
        let Request::Run(run) = r else { panic!() };
        assert_eq!(
            run.path,
            [PathBuf::from("/home/u"), PathBuf::from("/opt/lunatik/lib")]
        );
        let r: Request = serde_json::from_str(r#"{"cmd":"run","script":"/x.lua"}"#).unwrap();
        assert!(matches!(r, Request::Run(RunRequest { path, .. }) if path.is_empty()));
    }

    #[test]
    fn requests_are_one_json_object_with_a_cmd() {
        let r: Request = serde_json::from_str(r#"{"cmd":"stop","name":"fw"}"#).unwrap();
        assert!(matches!(r, Request::Stop { name } if name == "fw"));
        let r: Request =
            serde_json::from_str(r#"{"cmd":"run","script":"/x.lua","tier":"lua"}"#).unwrap();
        assert!(matches!(
            r,
            Request::Run(RunRequest {
                tier: Tier::Lua,
                ..
            })
        ));
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"reboot"}"#).is_err());
        let line =
            serde_json::to_string(&Response::err(ErrorKind::NotFound, "no state 'x'")).unwrap();
        assert_eq!(
            line,
            r#"{"ok":false,"error":{"kind":"not_found","message":"no state 'x'"}}"#
        );
    }
}
