//! A running script: its sandboxed Lua state, the hooks its body registered, and the call
//! that turns one packet into one verdict. A state is single-threaded (one per script, on its
//! own thread in the daemon); its counters and log are shared with whoever asks.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::{ChunkMode, Function, Lua, Value};

use crate::budget::{AbortHandle, Budget, Stop};
use crate::data::{SkbMeta, Slot, View};
use crate::error::{
    describe, is_memory, CompileInputError, HookError, ScriptError, ScriptErrorKind,
};
use crate::hook::{HookSpec, HookStats};
use crate::limits::Limits;
use crate::log::{Log, Stream};
use crate::maps::{MapBacking, MapInfo, Maps};
use crate::modules;
use crate::registry::Registry;
use lunet_types::{nf, xdp, Attach};

/// How a state is started.
#[derive(Clone)]
pub struct StateOptions {
    pub limits: Limits,
    /// The device `xdp.attach` uses when the script names none (`--dev`).
    pub dev: Option<String>,
    pub log: Log,
    /// Where `bpf.map` maps live: process memory, or kernel maps pinned for other tools.
    pub maps: MapBacking,
    /// Stops the state's calls, its body's included, from another thread.
    pub abort: AbortHandle,
    /// Where `require` looks after the script's own directory, in order (the command line
    /// gives the current directory, each `--path DIR`, then `LUNET_PATH`'s).
    pub paths: Vec<PathBuf>,
    /// The `rcu` tables this state shares with its per-CPU copies (each copy gets the same).
    pub rcu: Arc<crate::modules::rcu::RcuShared>,
}

impl Default for StateOptions {
    fn default() -> Self {
        StateOptions {
            limits: Limits::default(),
            dev: None,
            log: Log::new(1000),
            maps: MapBacking::Memory,
            abort: AbortHandle::new(),
            paths: Vec::new(),
            rcu: Arc::default(),
        }
    }
}

/// A packet as netfilter hands it to a hook (borrowed: the hook's views read a copy).
#[derive(Debug, Clone, Copy, Default)]
pub struct NfPacket<'a> {
    /// From the network header on.
    pub net: &'a [u8],
    /// The link-layer header behind `skb:data("mac")` (14 bytes for Ethernet; empty when
    /// the packet has none: then `skb:data("mac")` and `skb:forward()` raise).
    pub link_header: &'a [u8],
    pub ifindex: u32,
    pub mark: u32,
    /// The VLAN id the kernel reported, if any (`skb:vlan()`).
    pub vlan: Option<u16>,
    /// The connection's conntrack mark, when the packet has a conntrack entry.
    pub connmark: Option<u32>,
}

/// A hook function as the kernel-tier compiler takes it.
pub struct CompileInput {
    pub function: lunet_types::FnRef,
    /// The function's upvalues by name, as the body left them.
    pub upvalues: Vec<(String, lunet_types::Value)>,
}

/// What one hook call decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: u32,
    /// The new mark, when the hook returned one.
    pub mark: Option<u32>,
    /// The packet's bytes when a setter changed them (never after an error).
    pub rewritten: Option<Vec<u8>>,
    /// The conntrack mark the hook set with `skb:connmark(v)` (never after an error).
    pub connmark: Option<u32>,
    /// Why the hook gave its default verdict.
    pub error: Option<HookError>,
}

struct Hook {
    spec: HookSpec,
    func: Function,
    stats: Arc<HookStats>,
    last_warning: Cell<Option<Instant>>,
    /// The packet of the call in progress, reused call after call.
    slot: Rc<Slot>,
    /// A netfilter hook's `skb`: one userdata for the hook's life (see [`crate::skb`]).
    skb: Option<Value>,
}

pub struct State {
    lua: Lua,
    budget: Rc<Budget>,
    limits: Limits,
    log: Log,
    hooks: Vec<Hook>,
    maps: Maps,
}

impl State {
    /// Reads and starts the script at `path`: its body runs once, within the body budget.
    pub fn load(path: &Path, opts: StateOptions) -> Result<State, ScriptError> {
        let source = crate::source::read_source(path).map_err(|e| ScriptError {
            kind: ScriptErrorKind::Io,
            message: match e.io() {
                Some(io) => format!("{}: cannot read script: {io}", path.display()),
                None => format!("cannot read script: {e}"),
            },
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        State::from_source(&path.display().to_string(), &source, dir, opts)
    }

    /// Starts a script from source text; `chunk` names it in messages, `dir` is the first
    /// root its `require`d files are looked for under (then `opts.paths`).
    pub fn from_source(
        chunk: &str,
        source: &[u8],
        dir: PathBuf,
        opts: StateOptions,
    ) -> Result<State, ScriptError> {
        let internal = |e: mlua::Error| ScriptError {
            kind: ScriptErrorKind::Runtime,
            message: format!(
                "{chunk}: lunet could not build the Lua state: {}",
                describe(&e)
            ),
        };
        let lua =
            crate::sandbox::new_state(opts.limits.memory, opts.log.clone()).map_err(internal)?;
        let budget = Budget::install(&lua, &opts.abort).map_err(internal)?;
        let roots = modules::Roots::new(dir, &opts.paths);
        modules::install(&lua, roots).map_err(internal)?;
        lua.set_app_data(crate::modules::rcu::RcuContext::new(opts.rcu.clone()));
        lua.set_app_data(Registry {
            hooks: Vec::new(),
            dev: opts.dev.clone(),
        });
        lua.set_app_data(Maps {
            backing: opts.maps.clone(),
            ..Maps::default()
        });
        if let MapBacking::Kernel { pin_dir, .. } = &opts.maps {
            lua.set_app_data(modules::bpf::Access::kernel(pin_dir.as_deref()));
        }

        let call = budget.begin(opts.limits.body_budget, opts.limits.body_time);
        let result = lua
            .load(source)
            .set_name(format!("@{chunk}"))
            .set_mode(ChunkMode::Text)
            .exec();
        drop(call);
        let registry = lua.remove_app_data::<Registry>().unwrap_or_default();
        let mut maps = lua.remove_app_data::<Maps>().unwrap_or_default();
        if let Err(e) = result {
            let (kind, message) = if matches!(e, mlua::Error::SyntaxError { .. }) {
                (ScriptErrorKind::Syntax, describe(&e))
            } else if let Some(stop) = budget.stopped() {
                let kind = match stop {
                    Stop::Budget => ScriptErrorKind::Budget,
                    Stop::Time => ScriptErrorKind::Time,
                    Stop::Aborted => ScriptErrorKind::Stopped,
                };
                (kind, describe(&e))
            } else if is_memory(&e) {
                (
                    ScriptErrorKind::Memory,
                    memory_message(&budget, chunk, opts.limits.memory),
                )
            } else {
                (ScriptErrorKind::Runtime, describe(&e))
            };
            return Err(ScriptError { kind, message });
        }
        // Unregistered hooks are gone before anything attaches them; ids index what is left.
        let hooks: Vec<Hook> = registry
            .hooks
            .into_iter()
            .filter(|h| h.active)
            .enumerate()
            .map(|(id, mut h)| {
                h.spec.id = id;
                h.spec.budget = Some(h.spec.budget.unwrap_or(opts.limits.hook_budget));
                h.spec.timeout = Some(h.spec.timeout.unwrap_or(opts.limits.hook_time));
                let slot = Rc::new(Slot::default());
                let skb = match h.spec.attach {
                    Attach::Netfilter { .. } => Some(crate::skb::make(&lua, &slot)?),
                    _ => None,
                };
                Ok(Hook {
                    spec: h.spec,
                    func: h.func,
                    stats: h.stats,
                    last_warning: Cell::new(None),
                    slot,
                    skb,
                })
            })
            .collect::<mlua::Result<_>>()
            .map_err(internal)?;
        maps.pin_all().map_err(|e| ScriptError {
            kind: ScriptErrorKind::Runtime,
            message: format!("{chunk}: {e}"),
        })?;
        Ok(State {
            lua,
            budget,
            limits: opts.limits,
            log: opts.log,
            hooks,
            maps,
        })
    }

    /// What the kernel-tier compiler needs to compile hook `id`: where its function is, and
    /// the values its upvalues hold now.
    pub fn compile_input(&self, id: usize) -> Result<CompileInput, CompileInputError> {
        let hook = self.hooks.get(id).ok_or(CompileInputError::NoHook(id))?;
        let upvalues = crate::snapshot::upvalues(&self.lua, &hook.func, &self.maps.list)
            .map_err(|e| CompileInputError::Lua(describe(&e)))?;
        Ok(CompileInput {
            function: crate::snapshot::fn_ref(&hook.func),
            upvalues,
        })
    }

    /// The kernel map fds of the state's maps by id (declaration order), for compiled hooks;
    /// empty when the maps live in process memory.
    pub fn map_fds(&self) -> Vec<(usize, std::os::fd::RawFd)> {
        use std::os::fd::AsRawFd;
        self.maps
            .list
            .iter()
            .enumerate()
            .filter_map(|(id, m)| m.kernel.as_ref().map(|k| (id, k.map.as_raw_fd())))
            .collect()
    }

    /// The maps the body declared.
    pub fn maps(&self) -> Vec<MapInfo> {
        self.maps.info()
    }

    /// The hooks the body registered, in registration order (`spec.id` indexes them).
    pub fn hooks(&self) -> Vec<HookSpec> {
        self.hooks.iter().map(|h| h.spec.clone()).collect()
    }

    /// The counters of hook `id`, shareable with other threads.
    pub fn stats(&self, id: usize) -> Option<Arc<HookStats>> {
        self.hooks.get(id).map(|h| h.stats.clone())
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Stops this state's calls from another thread (`lunet stop`, the daemon's SIGTERM).
    pub fn abort_handle(&self) -> AbortHandle {
        self.budget.abort_handle()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes the state holds now.
    /// Where `skb:connmark()` goes when a packet came without its connection's mark (the
    /// kernel's queue cannot send it): the runner's conntrack lookups.
    pub fn set_conn_marks(&self, marks: Box<dyn crate::ConnMarks>) {
        self.lua.set_app_data(crate::skbops::Marks(marks));
    }

    /// Makes `linux.time()` give `ns` (nanoseconds since the Unix epoch) from now on, or its
    /// own clock again with `None`: `lunet replay` sets each packet's capture time.
    pub fn set_clock(&self, ns: Option<i64>) {
        crate::clock::set(&self.lua, ns);
    }

    /// The frames hooks forwarded (`skb:forward()`) since the last call of this; the runner
    /// sends them out of their interfaces.
    pub fn take_forwarded(&self) -> Vec<crate::Forwarded> {
        crate::skbops::take_forwarded(&self.lua)
    }

    /// The flow verdicts hooks gave (`skb:flow()`) since the last call of this; the runner
    /// writes them into the state's flow map.
    pub fn take_flow_verdicts(&self) -> Vec<crate::flows::FlowVerdict> {
        crate::flows::take(&self.lua)
    }

    pub fn memory_used(&self) -> usize {
        self.lua.used_memory()
    }

    /// Runs netfilter hook `id` on `pkt`. Whatever the script does, this returns a verdict.
    pub fn run_netfilter(&self, id: usize, pkt: NfPacket<'_>) -> Outcome {
        let meta = SkbMeta {
            ifindex: pkt.ifindex,
            mark: pkt.mark,
            vlan: pkt.vlan,
            connmark: pkt.connmark,
        };
        self.call(
            id,
            pkt.link_header,
            pkt.net,
            nf::action::NAMES,
            true,
            |hook| {
                hook.slot.set_meta(meta);
                match &hook.skb {
                    Some(skb) => hook.func.call::<(Value, Value)>(skb),
                    None => Err(mlua::Error::runtime("not a netfilter hook")),
                }
            },
        )
    }

    /// Runs XDP hook `id` on a whole Ethernet frame (used by `replay`; the daemon's XDP hooks
    /// run in the kernel tier). Its second argument, Lunatik's `argument` data, is empty.
    pub fn run_xdp(&self, id: usize, frame: &[u8]) -> Outcome {
        self.call(id, &[], frame, xdp::NAMES, false, |hook| {
            let packet = View::new(hook.slot.clone(), hook.slot.current(), false, true);
            let empty = Rc::new(Slot::default());
            let argument = View::new(empty.clone(), empty.begin(&[], &[]), false, false);
            let packet = self.lua.create_userdata(packet)?;
            let argument = self.lua.create_userdata(argument)?;
            let result = hook.func.call::<(Value, Value)>((packet, argument));
            empty.retire();
            result
        })
    }

    /// Runs hook `id` on a copy of `head` and `body` in its slot: `run` calls the hook's
    /// function with its arguments. The lean path of every packet: no allocation for a
    /// netfilter hook (its `skb` is made once).
    fn call(
        &self,
        id: usize,
        head: &[u8],
        body: &[u8],
        names: &[&str],
        takes_mark: bool,
        run: impl FnOnce(&Hook) -> mlua::Result<(Value, Value)>,
    ) -> Outcome {
        let Some(hook) = self.hooks.get(id) else {
            let pass = if takes_mark {
                nf::action::ACCEPT
            } else {
                xdp::PASS
            };
            return Outcome {
                verdict: pass,
                mark: None,
                rewritten: None,
                connmark: None,
                error: None,
            };
        };
        hook.slot.begin(head, body);
        let call = self.budget.begin(
            hook.spec.budget.unwrap_or(self.limits.hook_budget),
            hook.spec.timeout.unwrap_or(self.limits.hook_time),
        );
        let result = run(hook);
        drop(call);
        hook.slot.retire();

        let decided = match result {
            Ok((verdict, mark)) => verdict_of(&verdict, &mark, names, takes_mark, &hook.spec),
            Err(e) => Err(match self.budget.stopped() {
                Some(Stop::Budget) => HookError::Budget(describe(&e)),
                Some(Stop::Time) => HookError::Time(describe(&e)),
                Some(Stop::Aborted) => HookError::Runtime(describe(&e)),
                None if is_memory(&e) => {
                    let _ = self.lua.gc_collect();
                    HookError::Memory(memory_message(
                        &self.budget,
                        &hook.spec.defined_at,
                        self.limits.memory,
                    ))
                }
                None => HookError::Runtime(describe(&e)),
            }),
        };
        let outcome = match decided {
            Ok((verdict, mark)) => Outcome {
                verdict,
                mark,
                rewritten: hook.slot.rewritten(),
                connmark: hook.slot.connmark_set(),
                error: None,
            },
            Err(e) => Outcome {
                verdict: hook.spec.default_verdict,
                mark: None,
                rewritten: None,
                connmark: None,
                error: Some(e),
            },
        };
        hook.stats.count(outcome.verdict, outcome.error.as_ref());
        if let Some(e) = &outcome.error {
            self.report(hook, e);
        }
        outcome
    }

    /// Logs a hook error to the state's log, and to the daemon's at most once a second per hook.
    fn report(&self, hook: &Hook, e: &HookError) {
        self.log
            .push(Stream::Error, format!("hook {}: {e}", hook.spec.name));
        let now = Instant::now();
        if hook
            .last_warning
            .get()
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            hook.last_warning.set(Some(now));
            tracing::warn!(hook = %hook.spec.name, "{e} (default verdict given)");
        }
    }
}

fn memory_message(budget: &Budget, fallback: &str, cap: usize) -> String {
    let at = budget.last_line();
    let at = if at.is_empty() {
        format!("{fallback}: ")
    } else {
        at
    };
    format!("{at}not enough memory: the state's memory cap of {cap} bytes was reached")
}

/// Reads `verdict [, newmark]` from what a hook returned.
/// (A hook that returns nothing gives `nil`: the first two results are read straight off the
/// stack.)
fn verdict_of(
    verdict: &Value,
    mark: &Value,
    names: &[&str],
    takes_mark: bool,
    spec: &HookSpec,
) -> Result<(u32, Option<u32>), HookError> {
    let bad = |what: String| {
        HookError::Verdict(format!(
            "{}: hook '{}' returned {what}, not a verdict",
            spec.defined_at, spec.name
        ))
    };
    let verdict = match verdict {
        Value::Integer(v) if (0..names.len() as i64).contains(v) => *v as u32,
        Value::Number(n) if n.fract() == 0.0 && (0.0..names.len() as f64).contains(n) => *n as u32,
        Value::Nil => return Err(bad("nothing (nil)".into())),
        v => return Err(bad(describe_value(v))),
    };
    let mark = match mark {
        Value::Nil => None,
        Value::Integer(m) if takes_mark && u32::try_from(*m).is_ok() => Some(*m as u32),
        v => {
            return Err(HookError::Verdict(format!(
                "{}: hook '{}' returned {} as its new mark, not a 32-bit unsigned integer",
                spec.defined_at,
                spec.name,
                describe_value(v)
            )))
        }
    };
    debug_assert!(matches!(spec.attach, Attach::Netfilter { .. }) == takes_mark);
    Ok((verdict, mark))
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::String(s) => format!("\"{}\"", s.to_string_lossy()),
        other => other.type_name().to_string(),
    }
}
