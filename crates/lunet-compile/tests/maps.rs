//! Maps in compiled hooks, against real kernel maps and the Lua tier: the same script runs in
//! both tiers on the same packets (the kernel tier with maps made with lunet-bpf, the Lua tier
//! with lunet-lua's in-memory maps), and the verdicts, the rewritten packets and the maps'
//! contents afterwards (read back through Lua's `pairs` in the Lua tier) must be identical.
//! Also the verdict counters. Root only: without it each test prints `SKIP:` and passes.

mod common;

use common::*;
use lunet_compile::{Program, ProgramError};

/// Drives one script through both tiers.
struct Both {
    file: String,
    prog: Program,
    kernel: Kernel,
    lua: LuaTier,
    tools: MapTools,
    packets: usize,
    /// Verdicts the kernel tier gave, by value.
    tally: [u64; 5],
}

impl Both {
    /// `source` attaches one hook; `maps` names the locals holding its maps (all of them,
    /// so the comparison covers every map).
    fn new(file: &str, source: &str, maps: &[&str], count: bool) -> Both {
        let (src, tools) = with_map_tools(source, maps, 1);
        let inputs = hook_inputs(file, &src);
        let (prog, kernel) = compile_and_load_counting(&inputs[0], count)
            .unwrap_or_else(|d| panic!("{}", d.render(&src)));
        Both {
            file: file.to_string(),
            prog,
            kernel,
            lua: LuaTier::new(file, &src),
            tools,
            packets: 0,
            tally: [0; 5],
        }
    }

    /// Runs one packet in both tiers; the verdict.
    fn run(&mut self, pkt: &[u8]) -> u32 {
        let (kv, kout) = self.kernel.run(pkt);
        let (lv, lout) = self.lua.run(0, pkt);
        let n = self.packets;
        assert_eq!(kv, lv, "{}: packet #{n}: kernel {kv}, Lua {lv}", self.file);
        if let Some(out) = lout {
            assert_eq!(
                kout, out,
                "{}: packet #{n}: rewritten bytes differ",
                self.file
            );
        }
        self.packets += 1;
        self.tally[kv as usize] += 1;
        kv
    }

    /// The maps' contents in both tiers, which must agree.
    fn maps(&self) -> Vec<Vec<(i64, i64)>> {
        let lua = self.lua.dump_maps(&self.tools);
        for (i, name) in self.tools.names.iter().enumerate() {
            assert_eq!(
                self.kernel.maps.dump(name),
                lua[i],
                "{}: map {name} after {} packets: kernel (left) and Lua tier (right) differ",
                self.file,
                self.packets
            );
        }
        lua
    }

    /// `m[k] = v` from the shell, in both tiers: both take it or both refuse it.
    fn set(&self, name: &str, k: i64, v: Option<i64>) -> bool {
        let kernel = self.kernel.maps.set(name, k, v);
        let lua = self.lua.set(&self.tools, name, k, v);
        assert_eq!(
            kernel, lua,
            "{name}[{k}] = {v:?}: kernel took it: {kernel}, Lua: {lua}"
        );
        kernel
    }

    /// The verdict counters, summed over the CPUs.
    fn counters(&self) -> [u64; 5] {
        let mut c = [0u64; 5];
        for (v, slot) in c.iter_mut().enumerate() {
            let per_cpu = self
                .kernel
                .maps
                .per_cpu(lunet_compile::maps::COUNTER_MAP_NAME, v as i64)
                .expect("a counter slot");
            *slot = per_cpu.iter().map(|x| *x as u64).sum();
        }
        c
    }
}

/// Ethernet + IPv4 (+ 8 bytes of UDP) from 198.18.0.`src`.
fn from(src: u8) -> Vec<u8> {
    let mut p = udp4_to(9, b"hello");
    p[26..30].copy_from_slice(&[198, 18, 0, src]);
    p
}

const RATE_LIMIT: &str = r#"local xdp = require("xdp")
local byteorder = require("byteorder")
local map = require("bpf.map")

-- packets per IPv4 source; the shell reads and resets them (`lunet map STATE counts`)
local counts = map.lru_hash{ key = "I4", value = "I8", entries = 1024, name = "counts" }
-- limit[0]: packets a source may send before it is dropped; 0 means no limit
local limit = map.array{ key = "I4", value = "I8", entries = 1, name = "limit" }

local function hook(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then
    return xdp.PASS
  end
  local src = packet:getuint32(26)
  counts[src] = (counts[src] or 0) + 1
  local max = limit[0]
  if max ~= 0 and counts[src] > max then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(hook)
"#;

#[test]
fn rate_limiter_counts_sources_and_drops_past_a_limit_the_shell_sets() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let mut b = Both::new("rate.lua", RATE_LIMIT, &["counts", "limit"], true);
    let key = |src: u8| u32::from_ne_bytes([198, 18, 0, src]) as i64;
    // No limit yet: everything passes and is counted.
    for i in 0..12u8 {
        assert_eq!(b.run(&from(1 + i % 3)), 2);
    }
    assert_eq!(b.maps()[0], {
        let mut v = vec![(key(1), 4), (key(2), 4), (key(3), 4)];
        v.sort();
        v
    });
    // The shell sets a limit of 6: sources 1-3 pass two more packets each, then drop.
    b.set("limit", 0, Some(6));
    for round in 0..4 {
        for src in 1..=3 {
            let want = if round < 2 { 2 } else { 1 };
            assert_eq!(b.run(&from(src)), want, "round {round}, source {src}");
        }
    }
    // A new source has its own count; not IPv4 and truncated frames change nothing.
    assert_eq!(b.run(&from(200)), 2);
    let mut arp = from(1);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(b.run(&arp), 2);
    assert_eq!(
        b.run(&from(1)[..29]),
        2,
        "getuint32(26) past the end: default verdict"
    );
    let maps = b.maps();
    assert!(maps[0].contains(&(key(1), 8)) && maps[0].contains(&(key(200), 1)));
    assert_eq!(maps[1], vec![(0, 6)]);
    // The shell resets source 2 and raises the limit.
    b.set("counts", key(2), None);
    b.set("limit", 0, Some(11));
    assert_eq!(b.run(&from(2)), 2);
    for nth in 9..=11 {
        assert_eq!(b.run(&from(1)), 2, "packet {nth} of source 1");
    }
    assert_eq!(b.run(&from(1)), 1, "packet 12 of source 1");
    assert!(b.maps()[0].contains(&(key(2), 1)));
    // And a corpus of other sources, truncations and mutations.
    let mut corpus = Vec::new();
    for src in [1u8, 2, 3, 4, 5, 6, 7, 200] {
        for _ in 0..src % 5 + 1 {
            corpus.push(from(src));
        }
    }
    corpus.extend(mutations(&from(9), 1));
    for p in &corpus {
        b.run(p);
    }
    let maps = b.maps();
    // Every packet went out through a counted exit.
    assert_eq!(b.counters(), b.tally);
    eprintln!(
        "rate limiter: {} instructions, {} packets, {} sources counted, verdicts {:?}",
        b.prog.insns.len(),
        b.packets,
        maps[0].len(),
        b.tally
    );
}

const OPS: &str = r#"local xdp = require("xdp")
local map = require("bpf.map")

local h = map.hash{ key = ">I2", value = "i2", entries = 4, name = "h" }
local a = map.array{ key = "I4", value = ">i4", entries = 6, name = "a" }
local l = map.lru_hash{ key = "i8", value = ">I8", entries = 64, name = "l" }
local b = map.hash{ key = "B", value = ">h", entries = 300, name = "b" }
local p = map.percpu_array{ key = "I4", value = "I8", entries = 3, name = "p" }

-- op 0: look up (the value goes to the packet); 1: set; 2: delete; 3: add; 4: set a value
-- that is nil when 0 (a delete); 5: two stores in one statement
local function apply(packet, m, op, k, v)
  if op == 0 then
    local x = m[k]
    packet:setint64(14, x or -1)
    if x == nil then return xdp.TX end
    return xdp.REDIRECT
  elseif op == 1 then
    m[k] = v
  elseif op == 2 then
    m[k] = nil
  elseif op == 3 then
    m[k] = (m[k] or 0) + v
  elseif op == 4 then
    local x = nil
    if v ~= 0 then x = v end
    m[k] = x
  elseif op == 5 then
    m[k], m[k + 1] = v, m[k]
  end
  return xdp.PASS
end

local function hook(packet)
  local which = packet:getuint8(0)
  local op = packet:getuint8(1)
  local k = packet:getint32(2)
  local v = packet:getint64(6)
  if which == 0 then return apply(packet, h, op, k, v) end
  if which == 1 then return apply(packet, a, op, k, v) end
  if which == 2 then return apply(packet, l, op, k, v) end
  if which == 3 then return apply(packet, b, op, k, v) end
  -- per-CPU: increments only (a compiled hook reads its own CPU's slot, the Lua tier the sum)
  p[k] = (p[k] or 0) + v
  -- a packet read after map calls, covered by the bounds check made before them
  if which == 5 then return packet:getuint8(13) % 5 end
  return xdp.PASS
end

xdp.attach(hook, { default = xdp.DROP })
"#;

fn op_packet(which: u8, op: u8, k: i32, v: i64) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[0] = which;
    f[1] = op;
    f[2..6].copy_from_slice(&k.to_ne_bytes());
    f[6..14].copy_from_slice(&v.to_ne_bytes());
    f
}

#[test]
fn lookups_updates_and_deletes_match_the_lua_tier_on_every_kind_and_layout() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let mut b = Both::new("ops.lua", OPS, &["h", "a", "l", "b", "p"], false);
    // Keys and values at and past the edges of their fields.
    const KEYS: &[i32] = &[
        0,
        1,
        2,
        3,
        5,
        6,
        -1,
        255,
        256,
        0xffff,
        0x10000,
        i32::MAX,
        i32::MIN,
    ];
    const VALUES: &[i64] = &[
        0,
        1,
        -1,
        127,
        128,
        -129,
        255,
        32767,
        32768,
        -32768,
        -32769,
        0x7fff_ffff,
        0x8000_0000,
        -0x8000_0000,
        -0x8000_0001,
        i64::MAX,
        i64::MIN,
    ];
    let mut seed: u64 = 0x853c_49e6_748f_ea9b;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut verdicts = [0usize; 5];
    // Deterministic first: every op on every map with every edge key and value.
    for which in 0..6u8 {
        for op in 0..6u8 {
            for &k in KEYS {
                let v = VALUES[(k as u32 as usize + op as usize) % VALUES.len()];
                verdicts[b.run(&op_packet(which, op, k, v)) as usize] += 1;
            }
        }
        b.maps();
    }
    // Then random sequences over few keys, so that maps fill up and entries come and go.
    for round in 0..40 {
        for _ in 0..100 {
            let which = next(6) as u8;
            let op = next(6) as u8;
            let k = if next(8) == 0 {
                KEYS[next(KEYS.len())]
            } else {
                next(7) as i32
            };
            let v = if next(3) == 0 {
                VALUES[next(VALUES.len())]
            } else {
                next(100) as i64 - 20
            };
            verdicts[b.run(&op_packet(which, op, k, v)) as usize] += 1;
        }
        let maps = b.maps();
        if round % 10 == 0 {
            // The shell changes entries too.
            b.set("h", 1, Some(-7));
            b.set("a", 2, Some(1 << 20));
            b.set("l", -5, None);
            b.set("b", 200, Some(-300));
            eprintln!(
                "round {round}: sizes {:?}",
                maps.iter().map(Vec::len).collect::<Vec<_>>()
            );
        }
    }
    b.maps();
    // The corpus exercised every outcome: default verdicts (errors), lookups that found
    // something and lookups that did not, and plain passes.
    assert!(verdicts.iter().skip(1).all(|n| *n > 0), "{verdicts:?}");
    eprintln!(
        "map ops: {} instructions, {} packets, verdicts {verdicts:?}, 0 mismatches",
        b.prog.insns.len(),
        b.packets
    );
}

#[test]
fn a_full_hash_refuses_new_keys_in_both_tiers() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = r#"local xdp = require("xdp")
local map = require("bpf.map")
local seen = map.hash{ key = "I2", value = "B", entries = 3, name = "seen" }
local function hook(packet)
  seen[packet:getuint16(0)] = packet:getuint8(2)
  return xdp.TX
end
xdp.attach(hook)
"#;
    let mut b = Both::new("full.lua", src, &["seen"], true);
    let pkt = |k: u16, v: u8| {
        let mut f = vec![0u8; 14];
        f[..2].copy_from_slice(&k.to_ne_bytes());
        f[2] = v;
        f
    };
    for k in 1..=3 {
        assert_eq!(b.run(&pkt(k, 10)), 3);
    }
    assert_eq!(
        b.run(&pkt(4, 10)),
        2,
        "a fourth key: the map is full, default verdict"
    );
    assert_eq!(b.run(&pkt(2, 20)), 3, "an existing key is updated");
    b.set("seen", 1, None);
    assert_eq!(b.run(&pkt(4, 40)), 3, "room again");
    assert_eq!(b.maps()[0], vec![(2, 20), (3, 10), (4, 40)]);
    assert_eq!(b.counters(), [0, 0, 1, 5, 0]);
}

#[test]
fn a_per_cpu_array_is_read_and_written_in_this_cpus_slot() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = r#"local xdp = require("xdp")
local map = require("bpf.map")
local pc = map.percpu_array{ key = "I4", value = "i8", entries = 1, name = "pc" }
local function hook(packet)
  packet:setint64(0, pc[0])
  pc[0] = pc[0] + 1
  return xdp.PASS
end
xdp.attach(hook)
"#;
    let input = &hook_inputs("percpu.lua", src)[0];
    let (_, k) = compile_and_load(input).unwrap();
    let (r, m) = k.maps.get("pc");
    let cpus = m.lookup_len().unwrap() / 8;
    // CPU i holds 1000 * (i + 1).
    let mut all = Vec::new();
    for i in 0..cpus {
        all.extend_from_slice(&(1000 * (i as i64 + 1)).to_ne_bytes());
    }
    m.update(&0u32.to_ne_bytes(), &all, 0).unwrap();
    let n = 50;
    for _ in 0..n {
        let (v, out) = k.run(&[0u8; 14]);
        assert_eq!(v, 2);
        let seen = i64::from_ne_bytes(out[..8].try_into().unwrap());
        // One CPU's value, never the sum the Lua tier would read.
        assert!(
            (0..cpus as i64).any(|i| (1000 * (i + 1)..1000 * (i + 1) + n).contains(&seen)),
            "read {seen}"
        );
    }
    let per_cpu = k.maps.per_cpu(&r.decl.name, 0).unwrap();
    let base: i64 = (1..=cpus as i64).map(|i| 1000 * i).sum();
    assert_eq!(per_cpu.iter().sum::<i64>(), base + n, "{per_cpu:?}");
}

#[test]
fn verdict_counters_count_every_exit_including_errors() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // Exits: each verdict by value, and the default verdict (DROP) on errors: out of bounds,
    // division by zero, a bad return value.
    let src = r#"local xdp = require("xdp")
local function hook(packet)
  local n = packet:getuint8(0)
  if n == 100 then return 100 // (n - 100) end
  if n == 101 then return packet:getuint8(200) end
  if n == 102 then return 7 end
  return n % 5
end
xdp.attach(hook, { default = xdp.DROP })
"#;
    let mut b = Both::new("verdicts.lua", src, &[], true);
    let mut want = [0u64; 5];
    for n in (0..=102u8).chain([0, 3, 3, 4, 100, 100]) {
        let v = b.run(&frame_with(n));
        want[v as usize] += 1;
    }
    assert_eq!(want[1], 20 + 3 + 2, "{want:?}");
    assert_eq!(b.counters(), want);
    // Counting again is a no-op; the program still verifies with the counters map alone.
    let mut p = b.prog.clone();
    let len = p.insns.len();
    p.count_verdicts().unwrap();
    assert_eq!(p.insns.len(), len);
    assert_eq!(p.map_ids(), vec![lunet_compile::COUNTER_MAP_ID]);
    eprintln!(
        "verdict counters: {} instructions with counters; counts {:?}",
        b.prog.insns.len(),
        b.counters()
    );
}

fn frame_with(first: u8) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[0] = first;
    f
}

#[test]
fn unpatched_maps_are_refused_and_named() {
    // No root needed: patching is plain data.
    let input = &hook_inputs(
        "counter.lua",
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/counter.lua"),
        )
        .unwrap(),
    )[0];
    let mut p = lunet_compile::compile(input).unwrap();
    assert_eq!(p.map_ids(), vec![0, 1]);
    let names: Vec<&str> = p.maps.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["counts", "counts", "limit"]);
    let e = p.patch_map_fds(&[(0, 7)]).unwrap_err();
    assert_eq!(e, ProgramError::MissingFds(vec!["limit".into()]));
    assert_eq!(e.to_string(), "no fd for map(s) limit");
    p.patch_map_fds(&[(0, 7), (1, 8), (5, 9)]).unwrap();
    for u in &p.maps {
        let i = p.insns[u.insn];
        assert_eq!((i.src(), i.imm), (1, if u.map_id == 0 { 7 } else { 8 }));
    }
    p.count_verdicts().unwrap();
    assert_eq!(p.map_ids(), vec![0, 1, lunet_compile::COUNTER_MAP_ID]);
    assert_eq!(
        p.patch_map_fds(&[(0, 7), (1, 8)]).unwrap_err(),
        ProgramError::MissingFds(vec!["lunet_verdicts".into()])
    );
}

#[test]
fn multiple_assignment_stores_right_to_left_as_lua_does() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = r#"local xdp = require("xdp")
local map = require("bpf.map")
local m = map.hash{ key = "I4", value = "i8", entries = 8, name = "m" }
local function hook(packet)
  local k = packet:getuint8(0)
  local a = 0
  a, a = k, k + 1
  m[k], m[k] = 10, 20
  m[k + 1], a = a, 3
  return (m[k] + a) % 5
end
xdp.attach(hook)
"#;
    let mut b = Both::new("order.lua", src, &["m"], false);
    for k in 0..4 {
        b.run(&frame_with(k));
    }
    b.maps();
}
