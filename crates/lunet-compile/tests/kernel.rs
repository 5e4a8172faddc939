//! Compiled hooks against the real verifier and BPF_PROG_TEST_RUN, compared with the Lua
//! tier (lunet-lua's `State::run_xdp`) on the same packets. Root only: without it each test
//! prints `SKIP:` and passes.

mod common;

use common::*;

const PRELUDE: &str = "local xdp = require('xdp')\nlocal byteorder = require('byteorder')\nlocal linux = require('linux')\n";

fn script(body: &str) -> String {
    format!("{PRELUDE}local function hook(packet, argument)\n{body}\nend\nxdp.attach(hook)\n")
}

/// A DNS query for `name` (dotted), id 0x1234, type A.
fn dns_query(name: &str) -> Vec<u8> {
    lunet_gen::packet::dns_query_payload(name, 0x1234).unwrap_or_else(|e| panic!("{e}"))
}

/// A frame whose first 8-byte words are the given values (host order).
fn words(ws: &[i64]) -> Vec<u8> {
    let mut p = Vec::new();
    for w in ws {
        p.extend_from_slice(&w.to_ne_bytes());
    }
    frame(&p)
}

const EDGE: &[i64] = &[
    0,
    1,
    -1,
    2,
    -2,
    3,
    -3,
    7,
    -7,
    63,
    64,
    65,
    -63,
    -64,
    -65,
    i64::MIN,
    i64::MAX,
    i64::MIN + 1,
    1 << 32,
    -(1 << 40) + 5,
];

#[test]
fn arithmetic_matches_lua_bit_for_bit() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // Each result is written back into the packet, so the comparison covers all 64 bits.
    let ops = [
        "a + b", "a - b", "a * b", "a // b", "a % b", "a & b", "a | b", "a ~ b", "a << b",
        "a >> b", "-a", "~a", "a // 7", "a % 7", "a // -3", "a % -3", "a // 8", "a % 8", "a << 3",
        "a >> 70", "a << -2", "a // -1", "a % -1",
    ];
    let mut body = String::from("local a = packet:getint64(0)\nlocal b = packet:getint64(8)\n");
    for (i, e) in ops.iter().enumerate() {
        body.push_str(&format!("packet:setint64({}, {e})\n", 16 + 8 * i));
    }
    body.push_str("return xdp.PASS");
    let src = script(&body);
    let mut packets = Vec::new();
    for &a in EDGE {
        for &b in EDGE {
            let mut p = words(&[a, b]);
            p.resize(16 + 8 * ops.len(), 0);
            // b == 0 raises in Lua: the default verdict (PASS) either way.
            packets.push((p, Some(2)));
        }
    }
    let prog = differential("arith.lua", &src, &packets);
    eprintln!(
        "arith: {} instructions, {} pairs",
        prog.insns.len(),
        packets.len()
    );
}

#[test]
fn division_by_zero_and_nil_arithmetic_give_the_default_verdict() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = format!(
        "{PRELUDE}local t = {{[1] = 10}}\nlocal function hook(packet)\n  local d = packet:getint8(0)\n  local x = 100 // d\n  local y = t[packet:getuint8(1)] + 1\n  return (x + y) % 5\nend\nxdp.attach(hook, {{default = 1}})\n"
    );
    let packets = vec![
        (frame(&[0, 1]), Some(1)),    // division by zero
        (frame(&[3, 2]), Some(1)),    // t[2] is nil
        (frame(&[3, 1]), Some(4)),    // 33 + 11 = 44 % 5
        (frame(&[0xfd, 1]), Some(3)), // 100 // -3 = -34; -34 + 11 = -23 % 5 = 2? checked by Lua
    ];
    // The last expectation is Lua's to give: drop it.
    let mut packets = packets;
    packets[3].1 = None;
    differential("div0.lua", &src, &packets);
}

#[test]
fn verdicts_out_of_range_or_not_integers_give_the_default() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = script("local v = packet:getint8(0)\nif v == 100 then return nil end\nif v == 101 then return true end\nif v == 102 then return 1, 2 end\nif v == 103 then return 1, nil end\nreturn v");
    let mut packets = Vec::new();
    for v in [-1i8, 0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 127] {
        packets.push((frame(&[v as u8]), None));
    }
    differential("verdicts.lua", &src, &packets);
}

#[test]
fn byte_order_matches_host_loads_and_swaps() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let body = "packet:setint64(16, byteorder.ntoh16(packet:getuint16(0)))\n\
        packet:setint64(24, byteorder.ntoh32(packet:getuint32(0)))\n\
        packet:setint64(32, byteorder.ntoh64(packet:getint64(0)))\n\
        packet:setint64(40, byteorder.le16(packet:getint64(0)))\n\
        packet:setint64(48, byteorder.htonl and 0 or byteorder.be32toh(packet:getint32(4)))\n\
        packet:setint64(56, packet:getint16(2) + packet:getint8(7) + packet:getuint32(8))\n\
        return xdp.PASS";
    let src = script(body);
    let packets = vec![
        (
            frame(&[
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0xff, 0xff, 0xff, 0xff,
            ]),
            Some(2),
        ),
        (frame(&[0x80, 0, 0, 0, 0, 0, 0, 0x80]), Some(2)),
    ];
    differential("byteorder.lua", &src, &packets);
}

#[test]
fn out_of_bounds_reads_and_writes_give_the_default() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = format!(
        "{PRELUDE}local function hook(packet, argument)\n  local n = packet:getuint8(0)\n  if n == 1 then return packet:getuint8(#packet) end\n  if n == 2 then return packet:getuint16(#packet - 1) end\n  if n == 3 then return packet:getuint8(-1) end\n  if n == 4 then packet:setuint32(#packet - 3, 0) return 3 end\n  if n == 5 then return argument:getuint8(0) end\n  if n == 6 then return #argument end\n  if n == 7 then local s = packet:getstring(2, #packet) return 3 end\n  if n == 8 then local s = packet:getstring(#packet) return #s end\n  return packet:getuint8(packet:getuint8(1)) % 5\nend\nxdp.attach(hook, {{default = 1}})\n"
    );
    let mut packets = Vec::new();
    for n in 0..=9u8 {
        for len in [14usize, 20, 63] {
            let mut p = vec![0u8; len];
            p[0] = n;
            p[1] = 13;
            packets.push((p, None));
        }
    }
    differential("oob.lua", &src, &packets);
}

#[test]
fn loops_with_constant_and_runtime_bounds_and_the_cap() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // sum of bytes [2, 2 + n) with a numeric for, a while loop to the first zero byte, a
    // repeat loop, and a loop that runs past the cap (LOOP_CAP) and gives the default.
    let src = format!(
        "{PRELUDE}local function hook(packet)\n  local n = packet:getuint8(0)\n  local mode = packet:getuint8(1)\n  local sum = 0\n  if mode == 0 then\n    for i = 2, 1 + n do sum = sum + packet:getuint8(i) end\n  elseif mode == 1 then\n    local i = 2\n    while packet:getuint8(i) ~= 0 do sum = sum + 1 i = i + 1 end\n  elseif mode == 2 then\n    local i = 0\n    repeat i = i + 3 sum = sum + i until i > n\n  elseif mode == 3 then\n    local i = 0\n    while true do i = i + 1 if i > n * 10 then break end end\n    sum = i\n  elseif mode == 4 then\n    for i = 10, 1, -3 do sum = sum * 2 + i end\n  end\n  return sum % 5\nend\nxdp.attach(hook, {{default = 1}})\n"
    );
    let mut packets = Vec::new();
    for mode in 0..=4u8 {
        for n in [0u8, 1, 5, 40, 200, 255] {
            let mut p = vec![7u8; 64];
            p[0] = n;
            p[1] = mode;
            p[30] = 0;
            packets.push((p, None));
        }
    }
    // Mode 3 with n >= 103 runs more than LOOP_CAP iterations: the kernel tier gives the
    // default verdict there (its analog of the Lua tier's instruction budget), so those are
    // checked on their own below.
    packets.retain(|(p, _)| !(p[1] == 3 && p[0] as i64 * 10 >= lunet_compile::LOOP_CAP));
    let prog = differential("loops.lua", &src, &packets);
    eprintln!("loops: {} instructions", prog.insns.len());
}

#[test]
fn a_loop_past_the_cap_gives_the_default_verdict() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = format!(
        "{PRELUDE}local function hook(packet)\n  local n = byteorder.ntoh16(packet:getuint16(0))\n  local i = 0\n  while i < n do i = i + 1 end\n  return i == n and xdp.TX or xdp.ABORTED\nend\nxdp.attach(hook, {{default = xdp.DROP}})\n"
    );
    let input = &hook_inputs("cap.lua", &src)[0];
    let counter = lunet_compile::Options {
        loop_bound: lunet_compile::LoopBound::Counter,
    };
    let prog = lunet_compile::compile_with(input, &counter)
        .unwrap_or_else(|d| panic!("{}", d.render(&src)));
    let k = Kernel::load(&prog, &src);
    let lua = LuaTier::new("cap.lua", &src);
    let cap = lunet_compile::LOOP_CAP as u16;
    for n in [0u16, 1, 100, cap] {
        let p = frame(&n.to_be_bytes());
        assert_eq!(k.run(&p).0, 3, "n = {n}");
        assert_eq!(lua.run(0, &p).0, 3);
    }
    // One iteration more than the cap: the kernel tier stops with the default verdict where
    // the Lua tier (whose budget is larger) finishes the loop.
    let p = frame(&(cap + 1).to_be_bytes());
    assert_eq!(k.run(&p).0, 1);
    assert_eq!(lua.run(0, &p).0, 3);
    // With may_goto (the default) the kernel's budget is 8M iterations per run: the same
    // loop runs to the end.
    let prog = lunet_compile::compile(input).unwrap();
    let k = Kernel::load(&prog, &src);
    for n in [0u16, 1, cap + 1, 5000] {
        assert_eq!(k.run(&frame(&n.to_be_bytes())).0, 3, "n = {n}");
    }
}

#[test]
fn a_branchy_loop_verifies_with_may_goto() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // Every path through the body continues the loop: with a hidden counter the verifier
    // would walk (counter x c) states; with may_goto it prunes.
    let src = script(
        "local c = 0\nlocal a = packet:getuint8(0)\nrepeat\n  if packet:getuint8(c % 8) > a then c = c ~ c else c = c + 2 end\n  if a & 1 == 1 then c = c + 1 end\n  c = c + 1\nuntil c > 40\nreturn c % 5",
    );
    let mut packets = Vec::new();
    for a in [0u8, 1, 2, 3, 200] {
        let mut p = frame(&[a]);
        p[1..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7]);
        packets.push((p, None));
    }
    differential("branchy.lua", &src, &packets);
}

#[test]
fn set_lookup_of_a_packet_slice_and_string_equality() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = format!(
        "{PRELUDE}local blocked = {{['evil.example'] = true, ['ads.test'] = true, ['x'] = true, ['abcdefghijklmnopq'] = true}}\nlocal ports = {{[9] = 1, [7777] = 2, [53] = 3}}\nlocal function hook(packet)\n  local len = packet:getuint8(0)\n  local s = packet:getstring(1, len)\n  if blocked[s] then return xdp.DROP end\n  if s == 'hello' then return xdp.TX end\n  local p = ports[packet:getuint8(1)]\n  if p then return p end\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let mut packets = Vec::new();
    for s in [
        "evil.example",
        "ads.test",
        "x",
        "abcdefghijklmnopq",
        "hello",
        "evil.exampla",
        "ads.tesT",
        "",
        "y",
        "abcdefghijklmnopr",
    ] {
        let mut p = vec![s.len() as u8];
        p.extend_from_slice(s.as_bytes());
        packets.push((frame(&p), None));
    }
    let mut p = vec![200u8];
    p.extend_from_slice(&[b'a'; 30]);
    packets.push((frame(&p), None)); // slice past the end: default
    for port in [9u8, 53, 10] {
        packets.push((frame(&[1, port]), None));
    }
    differential("set.lua", &src, &packets);
}

/// The golden DNS walk (tests/golden/dns.lua), run here against the Lua tier.
const DNS: &str = include_str!("golden/dns.lua");

#[test]
fn dns_query_name_walk() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let mut packets = Vec::new();
    for (name, verdict) in [
        ("blocked.example", 1),
        ("ads.test", 1),
        ("tracker.invalid", 1),
        ("example.com", 2),
        ("ads.test.com", 2),
        ("a.b.c.d.e.f.g.h.i.j", 2),
        ("", 2),
    ] {
        packets.push((udp4_to(53, &dns_query(name)), Some(verdict)));
        packets.push((udp4_to(54, &dns_query(name)), Some(2)));
    }
    let mut long = String::new();
    for _ in 0..100 {
        long.push_str("a.");
    }
    packets.push((udp4_to(53, &dns_query(&long)), Some(2)));
    let mut comp = udp4_to(53, &dns_query("ads.test"));
    comp[14 + 20 + 8 + 12] = 0xc0; // a compression pointer
    packets.push((comp, Some(2)));
    for m in mutations(&udp4_to(53, &dns_query("ads.test")), 1) {
        packets.push((m, None));
    }
    let prog = differential("dns.lua", DNS, &packets);
    eprintln!(
        "dns: {} instructions, {} packets",
        prog.insns.len(),
        packets.len()
    );
}

/// The golden SNI walk (tests/golden/sni.lua), run here against the Lua tier.
pub const SNI: &str = include_str!("golden/sni.lua");

#[test]
fn tls_client_hello_sni_walk() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let mut packets = Vec::new();
    let pad = |n: usize| (21u16, vec![0u8; n]);
    for (sni, verdict) in [
        (Some("blocked.example"), 1),
        (Some("ads.test"), 1),
        (Some("example.com"), 2),
        (Some("ads.tes"), 2),
        (None, 2),
    ] {
        packets.push((tcp4_to(443, &client_hello(sni, &[])), Some(verdict)));
        packets.push((
            tcp4_to(
                443,
                &client_hello(sni, &[(10, vec![0, 2, 0, 29]), (11, vec![1, 0]), pad(40)]),
            ),
            Some(verdict),
        ));
        packets.push((tcp4_to(80, &client_hello(sni, &[])), Some(2)));
    }
    // many extensions before the name
    let many: Vec<(u16, Vec<u8>)> = (0..60).map(|i| (100 + i, vec![0u8; 3])).collect();
    packets.push((
        tcp4_to(443, &client_hello(Some("ads.test"), &many)),
        Some(1),
    ));
    for m in mutations(
        &tcp4_to(443, &client_hello(Some("ads.test"), &[(11, vec![1, 0])])),
        3,
    ) {
        packets.push((m, None));
    }
    let prog = differential("sni.lua", SNI, &packets);
    eprintln!(
        "sni: {} instructions, {} packets",
        prog.insns.len(),
        packets.len()
    );
}

#[test]
fn inlined_functions_closures_and_values_idioms() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = format!(
        "{PRELUDE}local K = 3\nlocal function scale(x) return x * K end\nlocal function hook(packet)\n  local count = 0\n  local function bump(by) count = count + by end\n  local a = packet:getuint8(0)\n  bump(scale(a))\n  bump(1)\n  local v = a > 10 and 4 or 3\n  local w = (a == 0) and 1 or nil\n  local t = {{}}\n  return (count + v + (w and 1 or 0)) % 5\nend\nxdp.attach(hook)\n"
    )
    .replace("  local t = {}\n", "");
    let mut packets = Vec::new();
    for a in [0u8, 1, 10, 11, 200] {
        packets.push((frame(&[a]), None));
    }
    differential("inline.lua", &src, &packets);
}

#[test]
fn random_arithmetic_expressions_match_lua() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // A small deterministic generator: expression trees over packet words and constants.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    fn gen(next: &mut dyn FnMut() -> u64, depth: u32) -> String {
        let r = next() % 100;
        if depth == 0 || r < 25 {
            return match next() % 6 {
                0 => "a".into(),
                1 => "b".into(),
                2 => "c".into(),
                3 => format!("{}", (next() % 20) as i64 - 10),
                4 => ["math_min", "0x7fffffffffffffff", "64", "-64", "63", "8"]
                    [(next() % 6) as usize]
                    .replace("math_min", "(-0x7fffffffffffffff - 1)"),
                _ => "packet:getint8(3)".into(),
            };
        }
        let ops = ["+", "-", "*", "//", "%", "&", "|", "~", "<<", ">>"];
        if r < 35 {
            let u = ["-", "~"][(next() % 2) as usize];
            return format!("{u}({})", gen(next, depth - 1));
        }
        let op = ops[(next() % ops.len() as u64) as usize];
        format!("({} {op} {})", gen(next, depth - 1), gen(next, depth - 1))
    }
    let mut body = String::from("local a = packet:getint64(0)\nlocal b = packet:getint64(8)\nlocal c = packet:getint32(16)\n");
    let n = 24;
    for i in 0..n {
        let e = gen(&mut next, 4);
        body.push_str(&format!("packet:setint64({}, {e})\n", 24 + 8 * i));
    }
    body.push_str("return xdp.PASS");
    let src = script(&body);
    let mut packets = Vec::new();
    for k in 0..60 {
        let mut p = words(&[
            EDGE[k % EDGE.len()],
            EDGE[(k * 7 + 3) % EDGE.len()],
            (next() as i64) >> (next() % 64),
        ]);
        p[3] = next() as u8;
        p.resize(24 + 8 * n, 0);
        packets.push((p, None));
    }
    differential("random.lua", &src, &packets);
}

#[test]
fn golden_scripts_match_lua() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // The hooks whose listings the golden tests pin also give the Lua tier's verdicts.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut packets: Vec<(Vec<u8>, Option<u32>)> = Vec::new();
    for dport in [9u16, 53, 7777, 443, 80] {
        packets.push((udp4_to(dport, &dns_query("ads.test")), None));
        packets.push((tcp4_to(dport, &client_hello(Some("ads.test"), &[])), None));
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for n in 0..40 {
        let len = 14 + (n * 7) % 80;
        let p: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 7) as u8
            })
            .collect();
        packets.push((p, None));
    }
    let base = packets.clone();
    for p in &base {
        for m in mutations(&p.0, 9) {
            packets.push((m, None));
        }
    }
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lua"))
        .collect();
    names.sort();
    for path in names {
        let src = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        differential(&file, &src, &packets);
    }
}

#[test]
fn strings_of_packet_bytes_and_writes() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = script(
        "local n = packet:getuint8(0)\nlocal rest = packet:getstring(n)\nif #rest == 3 and rest == 'abc' then packet:setstring(1, 'XY') return 3 end\nlocal s = packet:getstring(1, n)\nif s == 'hello world!' then packet:setstring(n, 'pong') return 4 end\nif s ~= 'zz' then return #s % 5 end\nreturn xdp.DROP",
    );
    let mut packets = Vec::new();
    let mut p = vec![11u8];
    p.extend_from_slice(b"..........abc");
    packets.push((p.clone(), Some(3)));
    let mut p = vec![12u8];
    p.extend_from_slice(b"hello world!....");
    packets.push((frame(&p), Some(4)));
    let mut p = vec![2u8];
    p.extend_from_slice(b"zz");
    packets.push((frame(&p), Some(1)));
    packets.push((frame(&[200, 1, 2]), None)); // getstring(200) is past the end: default
    packets.push((frame(&[5, 1, 2]), None));
    for m in mutations(&frame(b"\x0chello world!"), 1) {
        packets.push((m, None));
    }
    differential("strings.lua", &src, &packets);
}
