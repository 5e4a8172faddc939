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

/// A script of `tests/golden/` (each is also a golden test of what it compiles to).
fn golden(name: &str) -> String {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Frames whose first bytes take every pair of values in a small range (the inputs the
/// construct hooks read), and each cut to the shortest frame a test run takes.
fn byte_pairs() -> Vec<(Vec<u8>, Option<u32>)> {
    let mut out = Vec::new();
    for a in 0..8u8 {
        for b in 0..8u8 {
            let f = frame(&[a, b, a ^ b, 3, b'x', b'y', b'z', 0, 0xff]);
            out.push((f[..MIN_FRAME].to_vec(), None));
            out.push((f, None));
        }
    }
    out
}

#[test]
fn closures_returned_from_functions_share_their_makers_variables() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    differential("closures.lua", &golden("closures.lua"), &byte_pairs());
}

#[test]
fn select_and_varargs_pass_values_through_inlined_functions() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    differential("select.lua", &golden("select.lua"), &byte_pairs());
}

#[test]
fn values_from_a_set_of_constants_and_globals_of_one_call() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    differential("choice.lua", &golden("choice.lua"), &byte_pairs());
}

#[test]
fn ipairs_pairs_and_length_of_constant_tables() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    differential("iterate.lua", &golden("iterate.lua"), &byte_pairs());
}

#[test]
fn string_byte_sub_and_len_on_packet_strings() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = golden("strings.lua");
    let mut frames = Vec::new();
    for n in 0..8u8 {
        for text in [&b"xabyzz"[..], b"axyzab", b"zzzzzzzz", b"ab"] {
            for m in 0..8u8 {
                let mut f = vec![n, m];
                f.extend_from_slice(text);
                frames.push(frame(&f));
            }
        }
    }
    let packets: Vec<(Vec<u8>, Option<u32>)> = frames.iter().map(|f| (f.clone(), None)).collect();
    differential("strings.lua", &src, &packets);
    let lines = compare_prints("strings.lua", &src, &frames);
    assert_eq!(lines, 3 * frames.len());
}

#[test]
fn packet_strings_compared_and_searched_byte_by_byte() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = golden("scan.lua");
    let texts: [&[u8]; 5] = [b"abzab", b"xxabzz", b"zzzzzzzz", b"ab", b"bzabzab"];
    let mut frames = Vec::new();
    for (x, ta) in texts.iter().enumerate() {
        for (y, tb) in texts.iter().enumerate() {
            for (la, lb) in [(ta.len(), tb.len()), (2, 2), (0, 0), (5, 6), (7, 7)] {
                let mut f = vec![la as u8, lb as u8];
                let mut sa = ta.to_vec();
                sa.resize(8, b'_');
                let mut sb = if (x + y) % 3 == 0 {
                    ta.to_vec()
                } else {
                    tb.to_vec()
                };
                sb.resize(8, b'_');
                f.extend_from_slice(&sa);
                f.extend_from_slice(&sb);
                frames.push(frame(&f));
            }
        }
    }
    let packets: Vec<(Vec<u8>, Option<u32>)> = frames.iter().map(|f| (f.clone(), None)).collect();
    differential("scan.lua", &src, &packets);
    assert_eq!(compare_prints("scan.lua", &src, &frames), frames.len());
}

#[test]
fn lua_patterns_match_as_the_lua_tier_matches() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = golden("patterns.lua");
    let names: [&[u8]; 9] = [
        b"github.com\0zz",
        b"www.gitlab.com",
        b"a1b22c333.co",
        b"gitXcom",
        b"git.co\0.com",
        b"Hello World_x.o",
        b"githubXcom",
        b"\0github.com",
        b"",
    ];
    let mut frames = Vec::new();
    for n in names {
        for len in [n.len(), n.len().saturating_sub(1), 3, 23] {
            let mut f = vec![len as u8, 0];
            f.extend_from_slice(n);
            f.resize(2 + 24, b'-');
            frames.push(frame(&f));
        }
    }
    let packets: Vec<(Vec<u8>, Option<u32>)> = frames.iter().map(|f| (f.clone(), None)).collect();
    differential("patterns.lua", &src, &packets);
    assert_eq!(compare_prints("patterns.lua", &src, &frames), frames.len());
    // More patterns, a hook each: sets, complements, `-`, `?`, init, match's whole match.
    for (k, body) in [
        "local a, b = s:find('[%a_]-%.c?o', 2)\n  print(a, b)",
        "local w = s:match('^[^\\0]*')\n  print(w, #w)",
        "print((s:find('%u%l+')), (s:find('[^%w%.]')))",
        "print(s:find('o?m$'), (s:find('%.')))",
    ]
    .iter()
    .enumerate()
    {
        let src = format!(
            "local xdp = require('xdp')\nlocal function hook(packet)\n  local s = packet:getstring(2, packet:getuint8(0) % 24)\n  {body}\n  return 2\nend\nxdp.attach(hook)\n"
        );
        let file = format!("pattern{k}.lua");
        assert_eq!(compare_prints(&file, &src, &frames), frames.len(), "{body}");
    }
}

#[test]
fn packet_strings_that_may_be_nil_behave_as_in_lua() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = golden("maybe_string.lua");
    let texts: [&[u8]; 7] = [b"ab", b"xyz12", b"12", b"ab cd", b"Q9", b"--", b"bcd"];
    let mut frames = Vec::new();
    for t in texts {
        for (len, flag) in [(t.len(), 0u8), (t.len(), 9), (1, 9), (0, 0)] {
            let mut f = vec![len as u8, flag];
            f.extend_from_slice(t);
            frames.push(frame(&f));
        }
    }
    let packets: Vec<(Vec<u8>, Option<u32>)> = frames.iter().map(|f| (f.clone(), None)).collect();
    differential("maybe_string.lua", &src, &packets);
    assert_eq!(
        compare_prints("maybe_string.lua", &src, &frames),
        2 * frames.len()
    );
}

#[test]
fn library_functions_held_in_locals_of_the_body_work_as_the_globals() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let src = "local xdp = require('xdp')\n\
               local sel, fmt, each, all, byte = select, string.format, ipairs, pairs, string.byte\n\
               local t = { 4, 5, 6 }\n\
               local function hook(packet)\n\
                 local n = 0\n\
                 for i, v in each(t) do n = n + i * v end\n\
                 for _, v in all(t) do n = n + v end\n\
                 local s = packet:getstring(0, 4)\n\
                 print(fmt('%d %s', sel(2, 1, n), s), byte(s, 2))\n\
                 return (n + byte(s, 1)) % 5\n\
               end\n\
               xdp.attach(hook)\n";
    let frames: Vec<Vec<u8>> = byte_pairs().into_iter().map(|(f, _)| f).collect();
    assert_eq!(compare_prints("locals.lua", src, &frames), frames.len());
}

#[test]
fn pairs_over_string_keys_visits_every_entry_once() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    // The order of string keys differs between Lua states (the snapshot's and the Lua
    // tier's here): the hook's result depends only on which entries it saw.
    let src = "local xdp = require('xdp')\n\
               local weights = { a = 1, b = 20, c = 300, [7] = 4000 }\n\
               local function hook(packet)\n\
                 local sum = 0\n\
                 for k, w in pairs(weights) do\n\
                   if packet:getuint8(1) % 3 == w % 3 then sum = sum + w end\n\
                   if k == 'b' and packet:getuint8(0) == 1 then sum = sum + 1 end\n\
                 end\n\
                 return sum % 5\n\
               end\n\
               xdp.attach(hook)\n";
    differential("pairs.lua", src, &byte_pairs());
}

#[test]
fn string_format_in_print_matches_the_lua_tier() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let mut frames = Vec::new();
    let mut rng = Rng(0x00f0_4a11_77e5_0001);
    for _ in 0..200 {
        let mut f: Vec<u8> = (0..64).map(|_| b'a' + (rng.next() % 26) as u8).collect();
        f[0] = rng.next() as u8;
        f[1] = rng.next() as u8;
        frames.push(f);
    }
    let lines = compare_prints("format.lua", &golden("format.lua"), &frames);
    assert_eq!(lines, 5 * frames.len());
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
    let src = golden("sni_style.lua");
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

#[test]
fn lunatiks_dnsblock_common_lua_blocks_names_as_the_lua_tier_does() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let Some(dir) = std::env::var_os("LUNATIK_DIR") else {
        eprintln!("SKIP: set LUNATIK_DIR to a Lunatik checkout to run Lunatik's dnsblock");
        return;
    };
    let path = std::path::Path::new(&dir).join("examples/dnsblock/common.lua");
    let common =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The module as shipped, with an XDP hook in place of its `return`, called as
    // nf_dnsblock.lua calls it: the frames are IPv4 packets from their IP header on, as
    // `skb:data("net")` gives them (lunet does not compile netfilter hooks yet, and inlines
    // functions of the hook's own file only).
    let tail = "return common";
    assert!(
        common.trim_end().ends_with(tail),
        "common.lua has changed: no `{tail}` at its end"
    );
    let src = format!(
        "{}\nlocal xdp = require('xdp')\n\
         local function dnsblock_hook(pkt)\n\
           local proto = pkt:getuint8(9)\n\
           local thoff = (pkt:getuint8(0) & 0x0F) * 4\n\
           return common.hook(pkt, thoff, proto) and xdp.DROP or xdp.PASS\n\
         end\n\
         xdp.attach(dnsblock_hook)\n",
        &common.trim_end()[..common.trim_end().len() - tail.len()]
    );
    let mut packets = Vec::new();
    for (name, blocked) in [
        ("github.com", true),
        ("www.gitlab.com", true),
        ("githubXcom.example", true),
        ("example.org", false),
        ("gitlab.co", false),
    ] {
        let q = lunet_gen::packet::dns_query_payload(name, 0x4242).unwrap();
        let ip = split_frame(&udp4_to(53, &q)).1.to_vec();
        for m in mutations(&ip, 17) {
            packets.push((m, None));
        }
        packets.push((ip.clone(), Some(if blocked { 1 } else { 2 })));
        packets.push((split_frame(&udp4_to(5353, &q)).1.to_vec(), Some(2)));
    }
    differential("common.lua", &src, &packets);
    let frames: Vec<Vec<u8>> = packets.iter().map(|(p, _)| p.clone()).collect();
    assert!(compare_prints("common.lua", &src, &frames) >= 3);
}
