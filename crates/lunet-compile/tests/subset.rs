//! The idiomatic Lua of issue 9 (item 1) against the Lua tier: closures and functions that
//! return functions, `select` and varargs, globals of one call, values from a set of
//! constants and lookups with them, `string.format` in `print`, `ipairs`/`pairs`/`#t` of
//! constant tables. Each test compiles a hook, loads it (the real verifier) and runs the
//! same frames, well-formed and malformed, through BPF_PROG_TEST_RUN and lunet-lua's
//! `State::run_xdp`: the verdicts (and the printed lines) must agree. Root only: without
//! it each test prints `SKIP:` and passes. Lunatik's own `examples/filter/sni.lua` is read
//! from `LUNATIK_DIR` (skipped with a message when unset); `tests/golden/sni_style.lua`,
//! written here in its style, always runs.

mod common;

use common::*;

const PRELUDE: &str = "local xdp = require('xdp')\nlocal action = require('linux.xdp')\n";

fn script(before: &str, body: &str) -> String {
    format!(
        "{PRELUDE}{before}\nlocal function hook(packet, argument)\n{body}\nend\nxdp.attach(hook)\n"
    )
}

/// Every pair of the first two bytes in a small range: the inputs a hook reads.
fn byte_pairs() -> Vec<(Vec<u8>, Option<u32>)> {
    let mut out = Vec::new();
    for a in 0..8u8 {
        for b in 0..8u8 {
            out.push((frame(&[a, b, a ^ b, 3]), None));
        }
    }
    out
}

#[test]
fn closures_returned_from_functions_share_their_makers_variables() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // A counter closure over its maker's local, a function expression in a local, a
    // closure made in the hook over the hook's locals, two closures of one maker.
    let src = script(
        "local function counter(start)\n  local n = start\n  local function step(k) n = n + k return n end\n  local function get() return n end\n  return step, get\nend\n\
         local function reader(packet, base)\n  return function(off) return packet:getuint8(base + off) end\nend",
        "local step, get = counter(packet:getuint8(0))\n\
         step(2)\nstep(get())\n\
         local at = reader(packet, 1)\n\
         local twice = function(x) return x * 2 end\n\
         local last = 0\n\
         local function keep(v) last = v end\n\
         keep(twice(at(0)) + get())\n\
         if last > 20 then return action.DROP end\n\
         return last % 5",
    );
    let prog = differential("closures.lua", &src, &byte_pairs());
    eprintln!("closures: {} instructions", prog.insns.len());
}

#[test]
fn select_and_varargs_pass_values_through_inlined_functions() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = script(
        "local function three(packet)\n  return packet:getuint8(0), packet:getuint8(1), packet:getuint8(2)\nend\n\
         local function pass(...)\n  return ...\nend\n\
         local function count(...)\n  return select('#', ...)\nend\n\
         local function second(...)\n  local a, b = ...\n  return b\nend",
        "local a = select(2, three(packet))\n\
         local b = select(-1, three(packet))\n\
         local c, d = select(1, pass(three(packet)))\n\
         local n = count(three(packet)) + count() + count(nil, nil)\n\
         local e = second(pass(7, three(packet)))\n\
         if n ~= 5 then return action.ABORTED end\n\
         if a == 5 then return select(4, three(packet)) end\n\
         return (a + b + c + d + e) % 5",
    );
    differential("select.lua", &src, &byte_pairs());
}

#[test]
fn values_from_a_set_of_constants_index_compare_and_count() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // A string chosen at run time among two, three and with nil among them; lookups of
    // constant tables with it (a verdict, a nested table, an absent key), `==` against
    // constants and another choice, `#`, truth.
    let src = script(
        "local codes = { DROP = action.DROP, PASS = action.PASS, TX = action.TX }\n\
         local nested = { DROP = { n = 1 }, PASS = { n = 2 } }",
        "local a = packet:getuint8(0)\n\
         local v = a > 3 and 'DROP' or 'PASS'\n\
         local w = a % 3 == 0 and 'TX' or (a % 3 == 1 and 'PASS' or 'DROP')\n\
         local maybe = nil\n\
         if packet:getuint8(1) > 4 then maybe = 'TX' end\n\
         local score = #v + nested[v].n\n\
         if v == w then score = score + 10 end\n\
         if w ~= 'TX' then score = score + 100 end\n\
         if maybe then score = score + 1000 end\n\
         if maybe == 'TX' and not (v == 'PASS') then return codes[maybe] end\n\
         if score > 1000 then return codes[w] end\n\
         return codes[v]",
    );
    differential("choice.lua", &src, &byte_pairs());
}

#[test]
fn globals_of_one_call_work_as_locals() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = script(
        "local function note(x)\n  seen = x\n  total = (total or 0) + x\nend",
        "total = 0\n\
         note(packet:getuint8(0))\n\
         note(packet:getuint8(1))\n\
         if seen > 4 then verdict = 'DROP' else verdict = 'PASS' end\n\
         if total > 10 then return action.TX end\n\
         return action[verdict]",
    );
    differential("globals.lua", &src, &byte_pairs());
}

#[test]
fn ipairs_pairs_and_length_of_constant_tables() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = script(
        "local ports = { 3, 5, 7, 11 }\nlocal weights = { a = 1, b = 20, c = 300 }\nlocal names = { 'a', 'b', 'c', 'zz' }",
        "local x = packet:getuint8(0)\n\
         local sum = 0\n\
         for i, p in ipairs(ports) do\n    if p == x then sum = sum + i end\n    if p > 6 and x == 0 then break end\n  end\n\
         for k, w in pairs(weights) do\n    if packet:getuint8(1) % 3 == w % 3 then sum = sum + w end\n  end\n\
         for _, n in ipairs(names) do\n    if weights[n] == nil then sum = sum + #n end\n  end\n\
         for i = 1, #ports do sum = sum + ports[i] end\n\
         if sum > 400 then return action.DROP end\n\
         return sum % 5",
    );
    differential("iterate.lua", &src, &byte_pairs());
}

#[test]
fn string_format_in_print_matches_the_lua_tier() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = format!(
        "{PRELUDE}local why = {{ DROP = 'listed', PASS = 'fine' }}\n\
         local function hook(packet)\n\
           local a = packet:getint8(0)\n\
           local u = packet:getuint8(1)\n\
           local s = packet:getstring(2, u % 6)\n\
           local v = a > 0 and 'DROP' or 'PASS'\n\
           print(string.format('%d|%5d|%-5d|%05d|%+d|% d|%.3d|%i', a, a, a, a, a, a, a, u))\n\
           print(string.format('%x|%X|%#x|%04x|%u|%c|%%|%3c', a, u, u, u, a, 65 + u % 26, 97 + u % 26))\n\
           print(string.format('%s|%8s|%-8s|%.2s|%s|%s', s, s, v, v, why[v], a > 3), 'tab', string.format('%d', 42))\n\
           print(string.format('const %s %d %5.3s', 'x', 12, 'abcdef'), string.format('%s=%s', 'n', nil))\n\
           return action.PASS\n\
         end\n\
         xdp.attach(hook)\n"
    );
    let mut frames = Vec::new();
    let mut rng = Rng(0x00f0_4a11_77e5_0001);
    for _ in 0..200 {
        let mut f: Vec<u8> = (0..64).map(|_| b'a' + (rng.next() % 26) as u8).collect();
        f[0] = rng.next() as u8;
        f[1] = rng.next() as u8;
        frames.push(f);
    }
    let lines = compare_prints("format.lua", &src, &frames);
    assert_eq!(lines, 4 * frames.len());
}

/// TLS ClientHellos over TCP to `port`, for the SNI filters.
fn hellos(port: u16) -> Vec<Vec<u8>> {
    let names = [
        "blocked.example",
        "ebpf.io",
        "allowed.example",
        "ebpf.iox",
        "a",
    ];
    let mut out = Vec::new();
    for n in names {
        out.push(tcp4_to(port, &client_hello(Some(n), &[])));
        out.push(tcp4_to(
            port,
            &client_hello(Some(n), &[(10, vec![0, 2, 0, 29])]),
        ));
    }
    out.push(tcp4_to(
        port,
        &client_hello(None, &[(10, vec![0, 2, 0, 29])]),
    ));
    out
}

#[test]
fn the_sni_style_script_drops_listed_names_as_the_lua_tier_does() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/sni_style.lua");
    let src = std::fs::read_to_string(path).unwrap();
    let mut packets: Vec<(Vec<u8>, Option<u32>)> = Vec::new();
    for (i, h) in hellos(443).into_iter().enumerate() {
        // Names 0 and 1 (two frames each) are listed.
        let expect = if i < 4 { 1 } else { 2 };
        packets.push((h.clone(), Some(expect)));
        for m in mutations(&h, 11) {
            packets.push((m, None));
        }
    }
    for h in hellos(80) {
        packets.push((h, Some(2)));
    }
    let prog = differential("sni_style.lua", &src, &packets);
    let lines = compare_prints("sni_style.lua", &src, &hellos(8443));
    assert_eq!(lines, 10, "one line per ClientHello with a name");
    eprintln!("sni_style: {} instructions", prog.insns.len());
}

/// Lunatik's `examples/filter/sni.lua`, from `LUNATIK_DIR`.
fn lunatik_sni() -> Option<String> {
    let Some(dir) = std::env::var_os("LUNATIK_DIR") else {
        eprintln!("SKIP: set LUNATIK_DIR to a Lunatik checkout to run Lunatik's sni.lua");
        return None;
    };
    let path = std::path::Path::new(&dir).join("examples/filter/sni.lua");
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn lunatiks_sni_lua_compiles_unchanged_and_agrees_with_the_lua_tier() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let Some(src) = lunatik_sni() else { return };
    // lunet attaches the hook itself, so `argument` is empty: `offset(argument)` raises in
    // both tiers and every packet gets the default verdict (PASS).
    let packets: Vec<(Vec<u8>, Option<u32>)> =
        hellos(443).into_iter().map(|h| (h, Some(2))).collect();
    differential("sni.lua", &src, &packets);
}

#[test]
fn lunatiks_sni_lua_with_the_offset_in_the_frame_drops_the_blocked_name() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let Some(src) = lunatik_sni() else { return };
    // What https.c hands the hook as `argument` (the payload's offset, big-endian) is put in
    // the frame's first two bytes instead, and the hook reads it from there: every other
    // line of the script runs as shipped, on the ClientHello at that offset.
    let call = "unpacker(packet, offset(argument))";
    assert!(src.contains(call), "sni.lua has changed: no {call}");
    let src = src.replace(call, "unpacker(packet, offset(packet))");
    let names = ["ebpf.io", "lunatik.example", "ebpf.iox"];
    let mut packets = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let hello = client_hello(Some(n), &[(10, vec![0, 2, 0, 29])]);
        for off in [2usize, 54, 100] {
            let mut f = vec![0u8; off];
            f[..2].copy_from_slice(&(off as u16).to_be_bytes());
            f.extend_from_slice(&hello);
            let expect = if i == 0 { 1 } else { 2 };
            for m in mutations(&f, 13) {
                packets.push((m, None));
            }
            packets.push((f, Some(expect)));
        }
    }
    differential("sni.lua", &src, &packets);
    let frames: Vec<Vec<u8>> = packets.iter().map(|(p, _)| p.clone()).collect();
    let lines = compare_prints("sni.lua", &src, &frames);
    assert!(lines >= 9, "{lines} lines");
}
