//! `print` in compiled hooks: the programs are loaded into the kernel and run with
//! BPF_PROG_TEST_RUN, their ring buffer is read and each record decoded with
//! `decode_print`, and the lines are compared packet by packet with what the Lua tier's
//! `print` wrote to the state's log for the same packets (lunet-lua's `State::run_xdp`).
//! Tests that load programs need root: without it they print `SKIP:` and pass.

mod common;

use common::*;
use lunet_compile::print::{self, PrintArg};

const PRELUDE: &str =
    "local xdp = require('xdp')\nlocal byteorder = require('byteorder')\nlocal map = require('bpf.map')\n";

#[test]
fn printed_lines_match_the_lua_tier_packet_by_packet() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // Integers (negative, 64-bit), booleans, maybe-integers (a constant table's lookup and a
    // map's), constant strings, nil, packet strings (empty, short, exactly the cap, with tabs
    // and bytes that are not UTF-8), prints in an inlined function and in a loop, a print
    // before an error, `print()` and `print` held in a local of the body.
    let source = format!(
        "{PRELUDE}local names = {{ [1] = 10, [2] = 20, [5] = -5 }}\n\
         local seen = map.hash{{ key = 'I4', value = 'i8', entries = 64, name = 'seen' }}\n\
         local say = print\n\
         local function show(tag, v)\n  print(tag, v, v == nil)\nend\n\
         local function hook(packet)\n\
           local mode = packet:getuint8(0)\n\
           local len = packet:getuint8(1)\n\
           local n = packet:getint64(8)\n\
           local s = packet:getstring(16, len)\n\
           print(mode, n, n < 0, names[mode], s, 'const', nil, true, 42)\n\
           show('inlined', names[mode])\n\
           say('map', seen[mode], mode % 2 == 0)\n\
           seen[mode] = n\n\
           for i = 1, mode % 3 do print('loop', i, byteorder.ntoh16(packet:getuint16(2))) end\n\
           if mode == 7 then\n    print('before an error')\n    return packet:getuint8(#packet)\n  end\n\
           print()\n\
           return mode % 5\n\
         end\n\
         xdp.attach(hook, {{ default = xdp.DROP }})\n"
    );
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let mut frames = Vec::new();
    for i in 0..400u64 {
        let len = [0u8, 1, 5, 17, 63, 64][rng.below(6) as usize];
        let mut f: Vec<u8> = (0..16 + 64 + 8).map(|_| rng.next() as u8).collect();
        f[0] = (i % 10) as u8;
        f[1] = len;
        if i % 3 == 0 {
            // Printable text with a tab, or bytes that are not UTF-8.
            for (j, b) in f[16..].iter_mut().enumerate() {
                *b = if j % 9 == 4 {
                    b'\t'
                } else {
                    b'a' + (j % 26) as u8
                };
            }
        }
        let n = [0i64, -1, 7, i64::MIN, i64::MAX, 1 << 40, -123_456_789][rng.below(7) as usize];
        f[8..16].copy_from_slice(&n.to_ne_bytes());
        // Some frames too short for the string: Lua raises before printing.
        let cut = [f.len(), 16 + len as usize, 16 + len as usize - 1, 20][rng.below(4) as usize];
        f.truncate(cut.max(MIN_FRAME));
        frames.push(f);
    }
    let lines = compare_prints("print.lua", &source, &frames);
    eprintln!("print: {} frames, {lines} lines compared", frames.len());
    assert!(lines > 1000, "only {lines} lines compared");
}

#[test]
fn values_live_across_prints_survive_their_helper_calls() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // Ten values live across every print (more than the callee-saved registers: some are
    // spilled), a map call between prints (its key and value buffers beside the record), and
    // prints whose packet strings start at run-time offsets, in a loop.
    let source = format!(
        "{PRELUDE}local m = map.array{{ key = 'I4', value = 'I8', entries = 4, name = 'm' }}\n\
         local function hook(packet)\n\
           local a, b, c, d = packet:getuint8(0), packet:getuint8(1), packet:getint8(2), packet:getuint16(3)\n\
           local e, f, g, h = packet:getint32(5), packet:getuint8(9), packet:getint64(10), packet:getuint8(18)\n\
           local s = packet:getstring(a % 8, b % 24)\n\
           local t = packet:getstring(20, 4)\n\
           print(a, b, c, d, s, e < 0, t)\n\
           m[a % 4] = (m[a % 4] or 0) + g\n\
           print(e, f, g, h, m[a % 4], t == 'abcd')\n\
           for i = 1, a % 4 do\n    print(i, packet:getstring(i, h % 9), a + i, s)\n  end\n\
           print(a + b + c + d + e + f + g + h)\n\
           return (a + b + c + d + e + f + g + h) % 5\n\
         end\n\
         xdp.attach(hook)\n"
    );
    let mut rng = Rng(0x0bad_cafe_0000_0007);
    let frames: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let n = 20 + rng.below(40) as usize;
            (0..n).map(|_| rng.next() as u8).collect()
        })
        .collect();
    let inputs = hook_inputs("live.lua", &source);
    let p = lunet_compile::compile(&inputs[0]).unwrap();
    assert!(p.spilled > 0, "the test means to spill: {} values", p.vregs);
    let lines = compare_prints("live.lua", &source, &frames);
    eprintln!("live: {} frames, {lines} lines compared", frames.len());
    assert!(lines > 600, "only {lines} lines compared");
}

#[test]
fn packet_strings_past_the_cap_are_cut_with_a_marker() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let source = format!(
        "{PRELUDE}local function hook(packet)\n  print(#packet, packet:getstring(0))\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let inputs = hook_inputs("long.lua", &source);
    let (prog, k) = compile_and_load(&inputs[0]).unwrap();
    assert_eq!(prog.prints[0].args, vec![PrintArg::Int, PrintArg::Bytes]);
    let mut ring = k.maps.print_ring();
    let lua = LuaTier::new("long.lua", &source);
    let mut seq = 0;
    for len in [14usize, 63, 64, 65, 100, 1500] {
        let frame: Vec<u8> = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
        k.run(&frame);
        lua.run(0, &frame);
        let mut kernel = Vec::new();
        ring.consume(|r| kernel.push(lunet_compile::decode_print(r, &prog.prints)));
        let (texts, next) = lua.prints_since(seq);
        seq = next;
        let whole = String::from_utf8(frame.clone()).unwrap();
        assert_eq!(
            texts,
            vec![format!("{len}\t{whole}")],
            "the Lua tier prints it all"
        );
        let want = if len <= print::STR_CAP {
            texts[0].clone()
        } else {
            format!("{len}\t{}...[{len} bytes]", &whole[..print::STR_CAP])
        };
        assert_eq!(kernel, vec![want], "{len} bytes");
    }
}

#[test]
fn a_full_ring_buffer_drops_messages_not_packets_and_counts_them() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let source = format!(
        "{PRELUDE}local function hook(packet)\n  print('packet', packet:getuint8(0))\n  return xdp.TX\nend\nxdp.attach(hook)\n"
    );
    let inputs = hook_inputs("full.lua", &source);
    let prog = lunet_compile::compile(&inputs[0]).unwrap();
    // One page of ring: 32-byte records (24 + the kernel's 8-byte header); the kernel keeps
    // the ring short of full by at least a byte, so one less than fills it (127 in 4 KiB).
    let page = 4096u32.max(lunet_bpf::sys::page_size() as u32);
    let k = Kernel::load_with(&prog, &source, KernelMaps::default().with_print(page));
    let mut ring = k.maps.print_ring();
    let kept = page as usize / 32 - 1;
    let runs = kept + 500;
    for i in 0..runs {
        let (v, _) = k.run(&[i as u8; 64]);
        assert_eq!(v, 3, "packet {i} got its verdict whatever the ring");
    }
    let mut lines = Vec::new();
    ring.consume(|r| lines.push(lunet_compile::decode_print(r, &prog.prints)));
    assert_eq!(lines.len(), kept);
    assert_eq!(lines[0], "packet\t0");
    assert_eq!(lines[kept - 1], format!("packet\t{}", (kept - 1) % 256));
    assert_eq!(k.maps.print_lost(), (runs - kept) as i64);
    k.run(&[9u8; 64]);
    ring.consume(|r| lines.push(lunet_compile::decode_print(r, &prog.prints)));
    assert_eq!(
        lines.last().unwrap(),
        "packet\t9",
        "read space takes records again"
    );
}

#[test]
fn a_hook_that_does_not_print_has_no_print_maps() {
    let source = format!(
        "{PRELUDE}local function hook(packet)\n  return packet:getuint8(0) == 1 and xdp.DROP or xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let p = compile_first("quiet.lua", &source).unwrap();
    assert!(p.prints.is_empty());
    assert!(p.map_ids().is_empty(), "{:?}", p.map_ids());
    let source = format!(
        "{PRELUDE}local verbose = false\nlocal function hook(packet)\n  if verbose then print('x') end\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let p = compile_first("off.lua", &source).unwrap();
    assert!(
        p.prints.is_empty() && p.map_ids().is_empty(),
        "a print never reached"
    );
    let source = format!(
        "{PRELUDE}local function hook(packet)\n  print('x', packet:getuint8(0))\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let p = compile_first("loud.lua", &source).unwrap();
    assert_eq!(
        p.map_ids(),
        vec![
            lunet_compile::PRINT_MAP_ID,
            lunet_compile::PRINT_LOST_MAP_ID
        ]
    );
    assert_eq!(p.prints.len(), 1);
    assert_eq!(
        (p.prints[0].file.as_str(), p.prints[0].line),
        ("loud.lua", 5)
    );
}

#[test]
fn values_print_cannot_show_are_diagnostics() {
    for (arg, what) in [
        ("{}", "table constructor"),
        ("names", "a constant table"),
        ("packet", "a data object"),
        ("1.5", "a float"),
        ("hook", "a function"),
    ] {
        let source = format!(
            "{PRELUDE}local names = {{ 'a' }}\nlocal hook\nhook = function(packet)\n  print({arg})\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
        );
        let e = compile_first("bad.lua", &source).unwrap_err();
        assert_eq!(e.kind, lunet_compile::DiagKind::Unsupported, "{e}");
        assert!(e.to_string().contains(what), "{arg}: {e}");
    }
    let many = vec!["1"; print::MAX_ARGS + 1].join(", ");
    let source = format!(
        "{PRELUDE}local function hook(packet)\n  print({many})\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let e = compile_first("many.lua", &source).unwrap_err();
    assert!(e.to_string().contains("at most 16"), "{e}");
    let strings = "packet:getstring(0, 1), ".repeat(4);
    let source = format!(
        "{PRELUDE}local function hook(packet)\n  print({strings}1)\n  return xdp.PASS\nend\nxdp.attach(hook)\n"
    );
    let e = compile_first("big.lua", &source).unwrap_err();
    assert!(e.to_string().contains("at most 256"), "{e}");
}
