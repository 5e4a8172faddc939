//! Test helpers: run a script's body in a plain Lua state to get each XDP hook's
//! `HookInput` (its lines and upvalues, as the lead's integration will), run the same script
//! in the Lua tier (lunet-lua) for reference verdicts, and run compiled programs in the kernel.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use lunet_compile::{FnRef, HookInput, Program, Target, Value};
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
    let loaded = lua.create_table()?;
    let bo = lua.create_table()?;
    for name in BYTEORDER {
        let f = lua.create_function(|_, x: i64| Ok(x))?;
        builtins.insert(f.to_pointer() as usize, format!("byteorder.{name}"));
        bo.set(*name, f)?;
    }
    loaded.set("byteorder", bo)?;
    let xdp_pairs: Vec<(String, i64)> = indexed(lunet_lua::consts::XDP_ACTION);
    let xdp_pairs: Vec<(&str, i64)> = xdp_pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let nf = lua.create_table()?;
    nf.set("proto", constants(&lua, lunet_lua::consts::NF_PROTO)?)?;
    let act: Vec<(String, i64)> = indexed(lunet_lua::consts::NF_ACTION);
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
            upvalues: upvalues(&getupvalue, &f, &builtins, 0)?,
            target: Target::Xdp,
            default_verdict: default as i32,
        });
    }
    Ok(out)
}

fn upvalues(
    getupvalue: &Function,
    f: &Function,
    builtins: &HashMap<usize, String>,
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
    builtins: &HashMap<usize, String>,
    depth: usize,
) -> mlua::Result<Value> {
    Ok(match v {
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
            if let Some(name) = builtins.get(&(f.to_pointer() as usize)) {
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
pub struct LuaTier(lunet_lua::State);

impl LuaTier {
    pub fn new(file: &str, source: &str) -> LuaTier {
        let st = lunet_lua::State::from_source(
            file,
            source.as_bytes(),
            PathBuf::from("."),
            lunet_lua::StateOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        LuaTier(st)
    }

    pub fn run(&self, id: usize, frame: &[u8]) -> (u32, Option<Vec<u8>>) {
        let o = self.0.run_xdp(id, frame.to_vec());
        (o.verdict, o.rewritten)
    }
}

/// A compiled and loaded program.
pub struct Kernel(lunet_bpf::ProgFd);

/// Compiles and loads like a loader should: the default options first, and hidden loop
/// counters when the verifier finds the program too complex.
pub fn compile_and_load(input: &HookInput) -> Result<(Program, Kernel), lunet_compile::Diagnostic> {
    let p = lunet_compile::compile(input)?;
    match lunet_bpf::load(lunet_bpf::prog::prog_type::XDP, &p.insns, "GPL", None) {
        Ok(fd) => Ok((p, Kernel(fd))),
        Err(e) if too_complex(&e) => {
            let opts = lunet_compile::Options {
                loop_bound: lunet_compile::LoopBound::Counter,
            };
            let p = lunet_compile::compile_with(input, &opts)?;
            let k = Kernel::load(&p, &input.source);
            Ok((p, k))
        }
        Err(_) => {
            let k = Kernel::load(&p, &input.source);
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
    pub fn load(p: &Program, source: &str) -> Kernel {
        match lunet_bpf::load(lunet_bpf::prog::prog_type::XDP, &p.insns, "GPL", None) {
            Ok(fd) => Kernel(fd),
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
        let r = lunet_bpf::test_run(&self.0, frame, 1, None, 0, 0).expect("test_run");
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
