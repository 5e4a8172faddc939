//! Test helpers: run a script's body in a plain Lua state to get each XDP hook's
//! `HookInput` (its lines and upvalues, as the lead's integration will), run the same script
//! in the Lua tier (lunet-lua) for reference verdicts, and run compiled programs in the kernel,
//! with real maps for the `bpf.map`s they use.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;

use lunet_compile::{HookInput, Program, Target};
use lunet_types::{FnRef, Layout, MapDecl, MapKind, MapRef, Scalar, Value};
use mlua::{Function, Lua, Table};

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                == Some("0")
        })
        .unwrap_or(false)
}

#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("SKIP: needs root for bpf(2)");
            return;
        }
    };
}

const BYTEORDER: &[&str] = &[
    "ntoh16", "hton16", "be16", "htobe16", "be16toh", "ntoh32", "hton32", "be32", "htobe32",
    "be32toh", "ntoh64", "hton64", "be64", "htobe64", "be64toh", "le16", "htole16", "le16toh",
    "le32", "htole32", "le32toh", "le64", "htole64", "le64toh",
];

fn constants(lua: &Lua, pairs: &[(&str, i64)]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (k, v) in pairs {
        t.set(*k, *v)?;
    }
    Ok(t)
}

/// A parsed layout (panics on a bad format: tests write good ones).
pub fn map_layout(format: &str) -> Layout {
    Layout::parse(format).unwrap_or_else(|e| panic!("{e}"))
}

const MAP_KINDS: [MapKind; 4] = [
    MapKind::Hash,
    MapKind::Array,
    MapKind::LruHash,
    MapKind::PercpuArray,
];

/// The `bpf.map` module of the body runner: each map is an empty table, recognised by
/// identity when the upvalues are read; ids in declaration order, as lunet-lua numbers them.
fn map_module(lua: &Lua, maps: Rc<RefCell<HashMap<usize, MapRef>>>) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    for kind in MAP_KINDS {
        let maps = maps.clone();
        m.set(
            kind.name(),
            lua.create_function(move |lua, t: Table| {
                let key: String = t.get("key")?;
                let value: String = t.get("value")?;
                let entries: u32 = t.get("entries")?;
                let name: Option<String> = t.get("name")?;
                let mut maps = maps.borrow_mut();
                let id = maps.len();
                let handle = lua.create_table()?;
                maps.insert(
                    handle.to_pointer() as usize,
                    MapRef {
                        id,
                        decl: MapDecl {
                            name: name.unwrap_or_else(|| format!("map{}", id + 1)),
                            kind,
                            key: map_layout(&key),
                            value: map_layout(&value),
                            entries,
                        },
                    },
                );
                Ok(handle)
            })?,
        )?;
    }
    Ok(m)
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

fn indexed(names: &[&str]) -> Vec<(String, i64)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as i64))
        .collect()
}

/// Runs the body of `source` and returns every hook `xdp.attach` registered.
pub fn hook_inputs(file: &str, source: &str) -> Vec<HookInput> {
    try_hook_inputs(file, source).unwrap_or_else(|e| panic!("{file}: body failed: {e}"))
}

pub fn try_hook_inputs(file: &str, source: &str) -> mlua::Result<Vec<HookInput>> {
    // SAFETY-free: unsafe_new only opens the debug library, which the extractor needs.
    let lua = unsafe { Lua::unsafe_new() };
    let mut builtins: HashMap<usize, String> = HashMap::new();
    let maps: Rc<RefCell<HashMap<usize, MapRef>>> = Rc::default();
    let loaded = lua.create_table()?;
    loaded.set("bpf.map", map_module(&lua, maps.clone())?)?;
    let bo = lua.create_table()?;
    for name in BYTEORDER {
        let f = lua.create_function(|_, x: i64| Ok(x))?;
        builtins.insert(f.to_pointer() as usize, format!("byteorder.{name}"));
        bo.set(*name, f)?;
    }
    loaded.set("byteorder", bo)?;
    let print: Function = lua.globals().get("print")?;
    builtins.insert(print.to_pointer() as usize, "print".to_string());
    let xdp_pairs: Vec<(String, i64)> = indexed(lunet_types::xdp::NAMES);
    let xdp_pairs: Vec<(&str, i64)> = xdp_pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let nf = lua.create_table()?;
    nf.set("proto", constants(&lua, lunet_types::nf::PROTO)?)?;
    let act: Vec<(String, i64)> = indexed(lunet_types::nf::action::NAMES);
    let act: Vec<(&str, i64)> = act.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    nf.set("action", constants(&lua, &act)?)?;
    let linux = lua.create_table()?;
    linux.set("xdp", constants(&lua, &xdp_pairs)?)?;
    linux.set("nf", nf.clone())?;
    loaded.set("linux", linux.clone())?;
    loaded.set("linux.xdp", constants(&lua, &xdp_pairs)?)?;
    loaded.set("linux.nf", nf)?;
    let registry = lua.create_table()?;
    let xdp = constants(&lua, &xdp_pairs)?;
    xdp.set("action", constants(&lua, &xdp_pairs)?)?;
    let reg = registry.clone();
    xdp.set(
        "attach",
        lua.create_function(move |lua, (f, opts): (Function, Option<Table>)| {
            let entry = lua.create_table()?;
            entry.set("f", f)?;
            let d: Option<i64> = match &opts {
                Some(t) => t.get("default")?,
                None => None,
            };
            entry.set("default", d.unwrap_or(2))?;
            reg.push(entry)?;
            Ok(())
        })?,
    )?;
    loaded.set("xdp", xdp)?;
    let cache = loaded.clone();
    lua.globals().set(
        "require",
        lua.create_function(move |_, name: String| cache.get::<mlua::Value>(name))?,
    )?;
    lua.load(source).set_name(format!("@{file}")).exec()?;
    let getupvalue: Function = lua.globals().get::<Table>("debug")?.get("getupvalue")?;
    let maps = maps.borrow();
    let known = Known {
        builtins: &builtins,
        maps: &maps,
    };
    let mut out = Vec::new();
    for entry in registry.sequence_values::<Table>() {
        let entry = entry?;
        let f: Function = entry.get("f")?;
        let default: i64 = entry.get("default")?;
        let info = f.info();
        out.push(HookInput {
            file: file.to_string(),
            source: source.to_string(),
            function: FnRef {
                line_defined: info.line_defined.unwrap_or(0),
                last_line_defined: info.last_line_defined.unwrap_or(0),
            },
            upvalues: upvalues(&getupvalue, &f, &known, 0)?,
            target: Target::Xdp,
            default_verdict: default as i32,
        });
    }
    Ok(out)
}

/// What the body runner recognises by identity.
struct Known<'a> {
    builtins: &'a HashMap<usize, String>,
    maps: &'a HashMap<usize, MapRef>,
}

fn upvalues(
    getupvalue: &Function,
    f: &Function,
    builtins: &Known,
    depth: usize,
) -> mlua::Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for i in 1..=255 {
        let (name, v): (Option<String>, mlua::Value) = getupvalue.call((f.clone(), i))?;
        let Some(name) = name else { break };
        if name == "_ENV" {
            continue;
        }
        out.push((name, convert(getupvalue, v, builtins, depth + 1)?));
    }
    Ok(out)
}

fn convert(
    getupvalue: &Function,
    v: mlua::Value,
    known: &Known,
    depth: usize,
) -> mlua::Result<Value> {
    let builtins = known;
    Ok(match v {
        mlua::Value::Table(t) if known.maps.contains_key(&(t.to_pointer() as usize)) => {
            Value::Map(known.maps[&(t.to_pointer() as usize)].clone())
        }
        mlua::Value::Nil => Value::Nil,
        mlua::Value::Boolean(b) => Value::Bool(b),
        mlua::Value::Integer(i) => Value::Int(i),
        mlua::Value::Number(n) => Value::Float(n),
        mlua::Value::String(s) => Value::Str(s.as_bytes().to_vec()),
        mlua::Value::Table(t) if depth < 8 => {
            let mut entries = Vec::new();
            for pair in t.pairs::<mlua::Value, mlua::Value>() {
                let (k, v) = pair?;
                entries.push((
                    convert(getupvalue, k, builtins, depth + 1)?,
                    convert(getupvalue, v, builtins, depth + 1)?,
                ));
            }
            Value::Table(entries)
        }
        mlua::Value::Function(f) => {
            if let Some(name) = known.builtins.get(&(f.to_pointer() as usize)) {
                Value::Builtin(name.clone())
            } else {
                let info = f.info();
                if info.what == "Lua" && depth < 8 {
                    Value::Function {
                        at: FnRef {
                            line_defined: info.line_defined.unwrap_or(0),
                            last_line_defined: info.last_line_defined.unwrap_or(0),
                        },
                        upvalues: upvalues(getupvalue, &f, builtins, depth)?,
                    }
                } else {
                    Value::Opaque("function".into())
                }
            }
        }
        other => Value::Opaque(other.type_name().to_string()),
    })
}

/// The Lua tier's verdict for hook `id` on `frame`, and the packet if the hook rewrote it.
pub struct LuaTier(lunet_lua::State, std::cell::Cell<bool>);

impl LuaTier {
    pub fn new(file: &str, source: &str) -> LuaTier {
        let st = lunet_lua::State::from_source(
            file,
            source.as_bytes(),
            PathBuf::from("."),
            lunet_lua::StateOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        LuaTier(st, Default::default())
    }

    pub fn run(&self, id: usize, frame: &[u8]) -> (u32, Option<Vec<u8>>) {
        let o = self.0.run_xdp(id, frame);
        self.1
            .set(matches!(o.error, Some(lunet_lua::HookError::Budget(_))));
        (o.verdict, o.rewritten)
    }

    /// What `print` wrote to the state's log since the log's line `from`, and the next line's
    /// number.
    pub fn prints_since(&self, from: u64) -> (Vec<String>, u64) {
        let lines = self.0.log().since(from);
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
        self.1.get()
    }

    /// The entries of every map [`with_map_tools`] named, through its dump hook (`pairs`),
    /// each sorted by key.
    pub fn dump_maps(&self, tools: &MapTools) -> Vec<Vec<(i64, i64)>> {
        let (v, out) = self.run(tools.dump, &vec![0u8; DUMP_BYTES]);
        assert_eq!(v, 2, "the dump hook failed");
        let out = out.expect("the dump hook wrote nothing");
        let word = |at: usize| i64::from_ne_bytes(out[at..at + 8].try_into().unwrap());
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

/// Kernel maps for the `MapRef`s a program uses, created fresh.
#[derive(Default)]
pub struct KernelMaps {
    pub list: Vec<(MapRef, lunet_bpf::Map)>,
}

impl KernelMaps {
    pub fn create(refs: &[MapRef]) -> KernelMaps {
        let list = refs
            .iter()
            .map(|r| {
                let m = lunet_bpf::Map::create(
                    lunet_bpf::map::map_type::of(r.decl.kind),
                    r.decl.key.size as u32,
                    r.decl.value.size as u32,
                    r.decl.entries,
                    &r.decl.name,
                )
                .unwrap_or_else(|e| panic!("creating map {}: {e}", r.decl.name));
                (r.clone(), m)
            })
            .collect();
        KernelMaps { list }
    }

    /// With the verdict counters too.
    pub fn with_counters(mut self) -> KernelMaps {
        self.list
            .extend(KernelMaps::create(&[lunet_compile::verdict_counter_map()]).list);
        self
    }

    /// With the print ring buffer (of `ring_size` bytes) and the lost-records counter.
    pub fn with_print(mut self, ring_size: u32) -> KernelMaps {
        let mut ring = lunet_compile::print_ring_map();
        ring.decl.entries = ring_size;
        self.list
            .extend(KernelMaps::create(&[ring, lunet_compile::print_lost_map()]).list);
        self
    }

    /// A consumer of the print ring buffer (a second mapping of the same map).
    pub fn print_ring(&self) -> lunet_bpf::RingBuf {
        use std::os::fd::AsFd;
        let (_, m) = self.get(lunet_compile::print::PRINT_MAP_NAME);
        let fd = m.as_fd().try_clone_to_owned().expect("dup");
        lunet_bpf::RingBuf::new(lunet_bpf::Map::from_fd(fd).expect("map info")).expect("mmap")
    }

    /// Records the full ring buffer refused, summed over the CPUs.
    pub fn print_lost(&self) -> i64 {
        self.dump(lunet_compile::print::PRINT_LOST_MAP_NAME)
            .iter()
            .map(|(_, v)| v)
            .sum()
    }

    pub fn fds(&self) -> Vec<(usize, RawFd)> {
        self.list
            .iter()
            .map(|(r, m)| (r.id, m.as_raw_fd()))
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|(r, _)| r.decl.name == name)
    }

    pub fn get(&self, name: &str) -> &(MapRef, lunet_bpf::Map) {
        self.list
            .iter()
            .find(|(r, _)| r.decl.name == name)
            .unwrap_or_else(|| panic!("no kernel map {name}"))
    }

    /// The value of `key` on each CPU (one entry unless the map is per-CPU), decoded as
    /// lunet-lua's layout does; `None` when absent.
    pub fn per_cpu(&self, name: &str, key: i64) -> Option<Vec<i64>> {
        let (r, m) = self.get(name);
        let kl = Layout::parse(&r.decl.key.format).unwrap();
        let vl = Layout::parse(&r.decl.value.format).unwrap();
        let k = kl.pack(&[Scalar::Int(key)]).ok()?;
        let raw = m.lookup(&k).unwrap()?;
        let slot = if r.decl.kind == MapKind::PercpuArray {
            r.decl.value.size.div_ceil(8) * 8
        } else {
            r.decl.value.size
        };
        Some(
            raw.chunks(slot)
                .map(|c| int(&vl.unpack(&c[..r.decl.value.size]).unwrap()))
                .collect(),
        )
    }

    /// Every entry, decoded, per-CPU values summed (as lunet-lua reads them), sorted by key.
    pub fn dump(&self, name: &str) -> Vec<(i64, i64)> {
        let (r, m) = self.get(name);
        let kl = Layout::parse(&r.decl.key.format).unwrap();
        let mut out: Vec<(i64, i64)> = m
            .keys()
            .unwrap()
            .iter()
            .filter_map(|k| {
                let key = int(&kl.unpack(k).unwrap());
                let vals = self.per_cpu(name, key)?;
                Some((key, vals.into_iter().fold(0i64, i64::wrapping_add)))
            })
            .collect();
        out.sort();
        out
    }

    /// `m[k] = v` (or a delete) as `lunet map` does it: per-CPU values go to CPU 0, the other
    /// CPUs' slots are zeroed. False when the kernel refused (a full hash: E2BIG, ...).
    pub fn set(&self, name: &str, k: i64, v: Option<i64>) -> bool {
        let (r, m) = self.get(name);
        let kl = Layout::parse(&r.decl.key.format).unwrap();
        let vl = Layout::parse(&r.decl.value.format).unwrap();
        let key = kl.pack(&[Scalar::Int(k)]).unwrap();
        match v {
            None => m.delete(&key).is_ok(),
            Some(v) => {
                let mut bytes = vec![0u8; m.lookup_len().unwrap()];
                let b = vl.pack(&[Scalar::Int(v)]).unwrap();
                bytes[..b.len()].copy_from_slice(&b);
                m.update(&key, &bytes, 0).is_ok()
            }
        }
    }
}

fn int(s: &[Scalar]) -> i64 {
    match s.first() {
        Some(Scalar::Int(i)) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A compiled and loaded program, with the maps it uses.
pub struct Kernel {
    pub fd: lunet_bpf::ProgFd,
    pub maps: KernelMaps,
}

/// Compiles and loads like a loader should: the default options first, and hidden loop
/// counters when the verifier finds the program too complex. Creates the maps the hook uses.
pub fn compile_and_load(input: &HookInput) -> Result<(Program, Kernel), lunet_compile::Diagnostic> {
    compile_and_load_counting(input, false)
}

/// [`compile_and_load`], with verdict counters when `count` is set.
pub fn compile_and_load_counting(
    input: &HookInput,
    count: bool,
) -> Result<(Program, Kernel), lunet_compile::Diagnostic> {
    let fresh_maps = |p: &Program| {
        let mut m = KernelMaps::create(&maps_of(input));
        if count {
            m = m.with_counters();
        }
        if !p.prints.is_empty() {
            m = m.with_print(lunet_compile::print::PRINT_RING_SIZE);
        }
        m
    };
    let compile = |opts: &lunet_compile::Options| {
        let mut p = lunet_compile::compile_with(input, opts)?;
        if count {
            p.count_verdicts().expect("count_verdicts");
        }
        Ok::<_, lunet_compile::Diagnostic>(p)
    };
    let p = compile(&lunet_compile::Options::default())?;
    match Kernel::try_load(&p, fresh_maps(&p)) {
        Ok(k) => Ok((p, k)),
        Err(e) if too_complex(&e) => {
            let opts = lunet_compile::Options {
                loop_bound: lunet_compile::LoopBound::Counter,
            };
            let p = compile(&opts)?;
            let k = Kernel::load_with(&p, &input.source, fresh_maps(&p));
            Ok((p, k))
        }
        Err(_) => {
            let k = Kernel::load_with(&p, &input.source, fresh_maps(&p));
            Ok((p, k))
        }
    }
}

/// The verifier gave up (1M instructions: E2BIG; too many pending branches: EFAULT with
/// "too complex"), as opposed to finding the program unsafe.
pub fn too_complex(e: &lunet_bpf::LoadError) -> bool {
    e.errno == 7 || e.log.contains("too complex") || e.log.contains("too large")
}

impl Kernel {
    /// Loads a program that uses no maps.
    pub fn load(p: &Program, source: &str) -> Kernel {
        Kernel::load_with(p, source, KernelMaps::default())
    }

    /// Patches `maps`' fds into a copy of `p` and loads it.
    pub fn try_load(p: &Program, maps: KernelMaps) -> Result<Kernel, lunet_bpf::LoadError> {
        let mut p = p.clone();
        p.patch_map_fds(&maps.fds())
            .unwrap_or_else(|e| panic!("patching map fds: {e}"));
        let fd = lunet_bpf::load(lunet_bpf::prog::prog_type::XDP, &p.insns, "GPL", None)?;
        Ok(Kernel { fd, maps })
    }

    pub fn load_with(p: &Program, source: &str, maps: KernelMaps) -> Kernel {
        match Kernel::try_load(p, maps) {
            Ok(k) => k,
            Err(e) => {
                let at = p.verifier_line(&e.log);
                let tail: Vec<&str> = e.log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "verifier refused ({:?} -> Lua line {:?}):\n{}\n--- program ---\n{}",
                    e.io_error(),
                    at,
                    tail.join("\n"),
                    p.asm(source)
                )
            }
        }
    }

    /// The verdict and the packet after the program.
    pub fn run(&self, frame: &[u8]) -> (u32, Vec<u8>) {
        let r = lunet_bpf::test_run(&self.fd, frame, 1, None, 0, 0).expect("test_run");
        (r.retval, r.data_out)
    }
}

/// Compiles the only (or first) hook of a script.
pub fn compile_first(file: &str, source: &str) -> Result<Program, lunet_compile::Diagnostic> {
    let inputs = hook_inputs(file, source);
    let input = inputs
        .first()
        .unwrap_or_else(|| panic!("{file}: no xdp.attach"));
    lunet_compile::compile(input)
}

/// Compiles, loads, and checks every packet against the Lua tier (and `expect`, when given).
/// Returns the program for instruction counts.
pub fn differential(file: &str, source: &str, packets: &[(Vec<u8>, Option<u32>)]) -> Program {
    let inputs = hook_inputs(file, source);
    let input = &inputs[0];
    let (prog, k) = compile_and_load(input).unwrap_or_else(|d| panic!("{}", d.render(source)));
    let lua = LuaTier::new(file, source);
    for (i, (pkt, expect)) in packets.iter().enumerate() {
        if pkt.len() < MIN_FRAME {
            continue;
        }
        let (kv, kout) = k.run(pkt);
        let (lv, lout) = lua.run(0, pkt);
        assert_eq!(
            kv,
            lv,
            "{file}: packet #{i} ({} bytes): kernel {kv}, Lua {lv}\n{}",
            pkt.len(),
            prog.asm(source)
        );
        if let Some(e) = expect {
            assert_eq!(kv, *e, "{file}: packet #{i}: expected verdict {e}");
        }
        if let Some(out) = lout {
            assert_eq!(kout, out, "{file}: packet #{i}: rewritten bytes differ");
        }
    }
    prog
}

// ---- packets ----

/// Ethernet + IPv4 + UDP to `dport`, 198.18.0.1 -> 198.18.0.2.
pub fn udp4(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    p[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    p[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    p[12] = 0x08;
    let total = 28 + payload.len();
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    p.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    let ulen = 8 + payload.len();
    p.extend_from_slice(&[
        0x9c,
        0x40,
        (dport >> 8) as u8,
        dport as u8,
        (ulen >> 8) as u8,
        ulen as u8,
        0,
        0,
    ]);
    p.extend_from_slice(payload);
    p
}

/// Ethernet + IPv4 + TCP (no options) to `dport` with `payload`.
pub fn tcp4(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    p[12] = 0x08;
    let total = 40 + payload.len();
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    p.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    p.extend_from_slice(&[0xc3, 0x50, (dport >> 8) as u8, dport as u8]);
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// A DNS query for `name` (dotted) in wire format, id 0x1234, type A.
pub fn dns_query(name: &str) -> Vec<u8> {
    let mut d = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        d.push(label.len() as u8);
        d.extend_from_slice(label.as_bytes());
    }
    d.push(0);
    d.extend_from_slice(&[0, 1, 0, 1]);
    d
}

/// A TLS record holding a ClientHello with the extensions given (`(type, body)`), and a
/// server_name extension for `sni` first when given.
pub fn client_hello(sni: Option<&str>, extra: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut exts: Vec<u8> = Vec::new();
    let mut push_ext = |t: u16, body: &[u8]| {
        exts.extend_from_slice(&t.to_be_bytes());
        exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
        exts.extend_from_slice(body);
    };
    for (t, b) in extra {
        push_ext(*t, b);
    }
    if let Some(name) = sni {
        let mut b = Vec::new();
        b.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        push_ext(0, &b);
    }
    let mut hello = vec![0x03, 0x03];
    hello.extend_from_slice(&[0xab; 32]);
    hello.push(32);
    hello.extend_from_slice(&[0xcd; 32]);
    hello.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
    hello.extend_from_slice(&[1, 0]);
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);
    let mut hs = vec![
        1,
        (hello.len() >> 16) as u8,
        (hello.len() >> 8) as u8,
        hello.len() as u8,
    ];
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// BPF_PROG_TEST_RUN refuses XDP frames shorter than an Ethernet header.
pub const MIN_FRAME: usize = 14;

/// Every prefix of `p` (truncations) plus `p` with each byte in `at` flipped.
pub fn mutations(p: &[u8], every: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in (MIN_FRAME..p.len()).step_by(every.max(1)) {
        out.push(p[..n].to_vec());
    }
    for i in (0..p.len()).step_by(every.max(1)) {
        let mut q = p.to_vec();
        q[i] ^= 0xff;
        out.push(q);
    }
    out.push(p.to_vec());
    out
}
