//! A script's XDP hooks as [`HookInput`]s, built the way lunet builds them for the kernel
//! tier (crates/lunet's `kernel::input`): the script is loaded into a real lunet-lua
//! [`State`] (maps in memory), its body runs, and [`State::compile_input`] snapshots each
//! hook's upvalues. And [`LuaTier`]: the same script run in the Lua tier, for the verdicts,
//! rewritten packets, printed lines and map contents a compiled hook must reproduce.

use std::cell::Cell;
use std::path::PathBuf;

use lunet_compile::{HookInput, Target};
use lunet_lua::{MapBacking, State, StateOptions};
use lunet_types::{Attach, MapRef, Value};

/// Why a script gave no hook inputs.
#[derive(Debug, thiserror::Error)]
pub enum HookInputError {
    /// The body did not load or run.
    #[error(transparent)]
    Body(#[from] lunet_lua::ScriptError),
    /// The snapshot of a hook's upvalues failed.
    #[error("hook {id}: {source}")]
    Snapshot {
        id: usize,
        source: lunet_lua::CompileInputError,
    },
}

/// Loads `source` (as file `file`) in a Lua state with in-memory maps, runs its body, and
/// gives every hook it attached to XDP, in the order it attached them.
pub fn try_hook_inputs(file: &str, source: &str) -> Result<Vec<HookInput>, HookInputError> {
    inputs_of(file, source, false)
}

/// Every hook the script registered with `netfilter.register`, for the kernel tier's
/// netfilter programs (kfunc ids and `sk_buff` offsets from the running kernel's BTF).
pub fn nf_hook_inputs(file: &str, source: &str) -> Vec<HookInput> {
    inputs_of(file, source, true).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The running kernel's [`lunet_compile::NfKernel`].
pub fn nf_kernel() -> lunet_compile::NfKernel {
    let btf = std::fs::read(lunet_bpf::btf::VMLINUX).expect("reading vmlinux BTF");
    lunet_compile::NfKernel::from_btf(&btf).expect("netfilter kfuncs in vmlinux BTF")
}

fn inputs_of(file: &str, source: &str, nf: bool) -> Result<Vec<HookInput>, HookInputError> {
    let options = StateOptions {
        maps: MapBacking::Memory,
        ..StateOptions::default()
    };
    let state = State::from_source(file, source.as_bytes(), PathBuf::from("."), options)?;
    let mut out = Vec::new();
    for spec in state.hooks() {
        let target = match spec.attach {
            Attach::Xdp { .. } if !nf => Target::Xdp,
            Attach::Netfilter { mark, .. } if nf => Target::Netfilter(lunet_compile::Netfilter {
                mark,
                kernel: nf_kernel(),
            }),
            _ => continue,
        };
        let input = state
            .compile_input(spec.id)
            .map_err(|source| HookInputError::Snapshot {
                id: spec.id,
                source,
            })?;
        out.push(HookInput {
            file: file.to_string(),
            source: source.to_string(),
            function: input.function,
            upvalues: input.upvalues,
            target,
            default_verdict: spec.default_verdict as i32,
        });
    }
    Ok(out)
}

/// [`try_hook_inputs`], panicking with the reason when the script gives none.
pub fn hook_inputs(file: &str, source: &str) -> Vec<HookInput> {
    try_hook_inputs(file, source).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every map a hook's upvalues reach (in tables and in the functions it calls), by id.
pub fn maps_of(input: &HookInput) -> Vec<MapRef> {
    fn walk(v: &Value, out: &mut Vec<MapRef>) {
        match v {
            Value::Map(m) if !out.iter().any(|x| x.id == m.id) => out.push(m.clone()),
            Value::Table(t) => t.iter().for_each(|(k, v)| {
                walk(k, out);
                walk(v, out)
            }),
            Value::Function { upvalues, .. } => upvalues.iter().for_each(|(_, v)| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    input.upvalues.iter().for_each(|(_, v)| walk(v, &mut out));
    out.sort_by_key(|m| m.id);
    out
}

/// A script in the Lua tier: the verdict of hook `id` on a frame, and the frame if the hook
/// rewrote it.
pub struct LuaTier {
    state: State,
    ran_out: Cell<bool>,
}

impl LuaTier {
    /// Loads `source` and runs its body; panics when the body fails.
    pub fn new(file: &str, source: &str) -> LuaTier {
        let state = State::from_source(
            file,
            source.as_bytes(),
            PathBuf::from("."),
            StateOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        LuaTier {
            state,
            ran_out: Cell::new(false),
        }
    }

    pub fn run(&self, id: usize, frame: &[u8]) -> (u32, Option<Vec<u8>>) {
        let o = self.state.run_xdp(id, frame);
        self.ran_out
            .set(matches!(o.error, Some(lunet_lua::HookError::Budget(_))));
        (o.verdict, o.rewritten)
    }

    /// Netfilter hook `id`'s verdict on `net` (from the IP header on), for a packet with
    /// `mark`.
    pub fn run_nf(&self, id: usize, net: &[u8], mark: u32) -> u32 {
        let o = self.state.run_netfilter(
            id,
            lunet_lua::NfPacket {
                net,
                link_header: &[],
                ifindex: 1,
                mark,
                vlan: None,
                connmark: None,
            },
        );
        self.ran_out
            .set(matches!(o.error, Some(lunet_lua::HookError::Budget(_))));
        o.verdict
    }

    /// What `print` wrote to the state's log since the log's line `from`, and the next line's
    /// number.
    pub fn prints_since(&self, from: u64) -> (Vec<String>, u64) {
        let lines = self.state.log().since(from);
        let next = lines.last().map_or(from, |l| l.seq + 1);
        let texts = lines
            .into_iter()
            .filter(|l| l.stream == lunet_lua::Stream::Print)
            .map(|l| l.text)
            .collect();
        (texts, next)
    }

    /// The last run ended on the instruction budget (where the tiers may differ: the kernel
    /// tier's loop budget is another).
    pub fn ran_out(&self) -> bool {
        self.ran_out.get()
    }

    /// The entries of every map [`with_map_tools`] named, through its dump hook (`pairs`),
    /// each sorted by key.
    pub fn dump_maps(&self, tools: &MapTools) -> Vec<Vec<(i64, i64)>> {
        let (v, out) = self.run(tools.dump, &vec![0u8; DUMP_BYTES]);
        assert_eq!(v, 2, "the dump hook failed");
        let out = out.expect("the dump hook wrote nothing");
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&out[at..at + 8]);
            i64::from_ne_bytes(b)
        };
        let mut at = 0;
        let mut maps = Vec::new();
        for _ in &tools.names {
            let n = word(at) as usize;
            let mut entries: Vec<(i64, i64)> = (0..n)
                .map(|i| (word(at + 8 + 16 * i), word(at + 16 + 16 * i)))
                .collect();
            entries.sort();
            maps.push(entries);
            at += 8 + 16 * n;
        }
        maps
    }

    /// `m[k] = v` (or `m[k] = nil`) in the map named `name`, through the set hook: what a
    /// user does from the shell with `lunet map`. False when the map refused (full, ...).
    pub fn set(&self, tools: &MapTools, name: &str, k: i64, v: Option<i64>) -> bool {
        let idx = tools.index(name);
        let mut frame = Vec::new();
        for w in [idx as i64 + 1, k, v.is_some() as i64, v.unwrap_or(0)] {
            frame.extend_from_slice(&w.to_ne_bytes());
        }
        self.run(tools.set, &frame).0 == 2
    }
}

/// The frame the dump hook writes the maps' entries into.
const DUMP_BYTES: usize = 1 << 16;

/// The hooks [`with_map_tools`] added to a script, by id, and the maps they reach.
pub struct MapTools {
    pub names: Vec<String>,
    pub dump: usize,
    pub set: usize,
}

impl MapTools {
    pub fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no map {name}"))
    }
}

/// `source` with two more XDP hooks that read and write the maps held by the locals
/// `names` (of the chunk's top level, after every other `xdp.attach`): a dump hook that
/// writes each map's `pairs` into the packet, and a set hook that does `m[k] = v` from the
/// packet. The Lua tier runs them to read its maps as a script sees them; they are not
/// compiled. `hooks` is how many hooks the script attaches itself.
pub fn with_map_tools(source: &str, names: &[&str], hooks: usize) -> (String, MapTools) {
    let list = names.join(", ");
    let src = format!(
        "{source}\n-- test tools: dump and set the maps\n\
         xdp.attach(function(packet)\n  local off = 0\n  for _, m in ipairs({{{list}}}) do\n    local n = 0\n    for k, v in pairs(m) do\n      packet:setint64(off + 8 + 16 * n, k)\n      packet:setint64(off + 16 + 16 * n, v)\n      n = n + 1\n    end\n    packet:setint64(off, n)\n    off = off + 8 + 16 * n\n  end\n  return xdp.PASS\nend, {{ budget = 100000000, default = xdp.DROP }})\n\
         xdp.attach(function(packet)\n  local m = ({{{list}}})[packet:getint64(0)]\n  local v = nil\n  if packet:getint64(16) ~= 0 then v = packet:getint64(24) end\n  m[packet:getint64(8)] = v\n  return xdp.PASS\nend, {{ default = xdp.DROP }})\n"
    );
    (
        src,
        MapTools {
            names: names.iter().map(|n| n.to_string()).collect(),
            dump: hooks,
            set: hooks + 1,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "local xdp = require('xdp')\nlocal map = require('bpf.map')\n\
        local counts = map.hash{ key = 'I4', value = 'i8', entries = 4 }\n\
        local ports = { [53] = true, [443] = true }\n\
        local function hook(packet)\n  counts[1] = 1\n  return ports[packet:getuint16(0)] and xdp.DROP or xdp.PASS\nend\n\
        xdp.attach(hook, { default = xdp.DROP })\n";

    #[test]
    fn a_hook_input_has_the_function_lines_the_upvalues_and_the_default() {
        let inputs = hook_inputs("t.lua", SCRIPT);
        assert_eq!(inputs.len(), 1);
        let i = &inputs[0];
        assert_eq!(
            (i.function.line_defined, i.function.last_line_defined),
            (5, 8)
        );
        assert_eq!(i.default_verdict, 1);
        let names: Vec<&str> = i.upvalues.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["counts", "ports", "xdp"]);
        let maps = maps_of(i);
        assert_eq!(maps.len(), 1);
        assert_eq!((maps[0].id, maps[0].decl.name.as_str()), (0, "map1"));
    }

    #[test]
    fn a_body_that_fails_is_an_error() {
        let e = try_hook_inputs("t.lua", "error('no')\n").unwrap_err();
        assert!(matches!(e, HookInputError::Body(_)), "{e}");
    }

    #[test]
    fn the_lua_tier_runs_the_hooks_and_the_map_tools() {
        let (src, tools) = with_map_tools(SCRIPT, &["counts"], 1);
        let lua = LuaTier::new("t.lua", &src);
        // getuint16 reads host order.
        assert_eq!(lua.run(0, &53u16.to_ne_bytes()).0, 1);
        assert_eq!(lua.run(0, &80u16.to_ne_bytes()).0, 2);
        assert_eq!(lua.dump_maps(&tools), [vec![(1, 1)]]);
        assert!(lua.set(&tools, "counts", 2, Some(7)));
        assert_eq!(lua.dump_maps(&tools), [vec![(1, 1), (2, 7)]]);
    }
}
