//! Netfilter hooks compiled to `BPF_PROG_TYPE_NETFILTER` programs, against the real verifier
//! and `BPF_PROG_TEST_RUN` (a PRE_ROUTING `nf_hook_state` context), compared with the Lua
//! tier (`State::run_netfilter`) on the same packets. Root only: without it each test
//! prints `SKIP:` and passes.

mod common;

use common::*;

const PRELUDE: &str = "local netfilter = require('netfilter')\nlocal nf = require('linux').nf\nlocal b = require('byteorder')\n";

/// A script registering `body` as a netfilter hook `function(skb)`, with `extra` fields in
/// the registration (e.g. `mark = 5`).
fn script(body: &str, extra: &str) -> String {
    format!(
        "{PRELUDE}local function hook(skb)\n{body}\nend\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.PRE_ROUTING, \
         priority = nf.ip.pri.FILTER, hook = hook, {extra} }}\n"
    )
}

/// `BPF_PROG_TEST_RUN` for netfilter refuses packets shorter than an IPv4 header.
const MIN_NET: usize = 20;

/// Compiles the script's netfilter hook (registered with `mark`), loads it, and checks each
/// packet against the Lua tier and against `expect` when given. The test run's skb has mark
/// 0: with another registration mark the hook must not see it and the packet is accepted
/// (the Lua tier's hook never sees such a packet either); packets with a mark of their own
/// are tested on real traffic (crates/lunet/tests/nf_kernel.rs).
fn nf_differential(
    file: &str,
    source: &str,
    mark: u32,
    packets: &[(Vec<u8>, Option<u32>)],
) -> (lunet_compile::Program, Kernel) {
    let inputs = nf_hook_inputs(file, source);
    let input = inputs.first().unwrap_or_else(|| panic!("{file}: no hook"));
    let (prog, k) = compile_and_load(input).unwrap_or_else(|d| panic!("{}", d.render(source)));
    let lua = LuaTier::new(file, source);
    let mut compared = 0;
    for (i, (net, expect)) in packets.iter().enumerate() {
        if net.len() < MIN_NET {
            continue;
        }
        let (kv, _) = k.run_nf(net, 1);
        let lv = if mark == 0 {
            lua.run_nf(0, net, 0)
        } else {
            1 // not this hook's packet: netfilter passes it on
        };
        assert_eq!(
            kv,
            lv,
            "{file}: packet #{i} ({} bytes): kernel {kv}, Lua {lv}\n{}",
            net.len(),
            prog.asm(source)
        );
        if let Some(e) = expect {
            assert_eq!(kv, *e, "{file}: packet #{i}: expected verdict {e}");
        }
        compared += 1;
    }
    assert!(compared > 0, "{file}: no packet compared");
    (prog, k)
}

fn net(frame: Vec<u8>) -> Vec<u8> {
    split_frame(&frame).1.to_vec()
}

const PORT_FILTER: &str = "
  if skb:getuint8(0) >> 4 ~= 4 then return nf.action.ACCEPT end
  local proto = skb:getuint8(9)
  if proto ~= 6 and proto ~= 17 then return nf.action.ACCEPT end
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  local port = b.ntoh16(skb:getuint16(ihl + 2))
  if port == 9 or port == 7777 then return nf.action.DROP end
  return nf.action.ACCEPT";

fn port_packets() -> Vec<(Vec<u8>, Option<u32>)> {
    let mut v = vec![
        (net(udp4_to(9, b"x")), Some(0)),
        (net(udp4_to(7777, b"hello")), Some(0)),
        (net(udp4_to(53, b"x")), Some(1)),
        (net(tcp4_to(9, b"")), Some(0)),
        (net(tcp4_to(80, b"GET /")), Some(1)),
    ];
    // Truncated: the header says 20 bytes of IP, the port is past the end.
    let mut short = net(udp4_to(9, b""));
    short.truncate(21);
    v.push((short, None));
    // An IHL pointing past the end.
    let mut far = net(udp4_to(9, b"abc"));
    far[0] = 0x4f;
    v.push((far, None));
    // Not IPv4 by its version nibble.
    let mut six = net(udp4_to(9, b"abc"));
    six[0] = 0x65;
    v.push((six, None));
    v
}

#[test]
fn a_port_filter_drops_and_accepts_as_the_lua_tier_does() {
    lunet_testkit::require_root!("bpf(2), to load and run netfilter programs");
    let src = script(PORT_FILTER, "");
    nf_differential("port.lua", &src, 0, &port_packets());
}

#[test]
fn packets_of_another_mark_are_accepted_untouched() {
    lunet_testkit::require_root!("bpf(2), to load and run netfilter programs");
    // The test run's packets have mark 0: hooks registered for another mark accept them all.
    for mark in [5u32, 0x8000_0000] {
        let src = script(PORT_FILTER, &format!("mark = {mark}"));
        let packets: Vec<_> = port_packets()
            .into_iter()
            .map(|(p, _)| (p, Some(1)))
            .collect();
        nf_differential("mark.lua", &src, mark, &packets);
    }
}

#[test]
fn payload_strings_loops_and_errors_match_the_lua_tier() {
    lunet_testkit::require_root!("bpf(2), to load and run netfilter programs");
    // A constant-length string compare in the payload, a byte loop, and an error (an
    // out-of-bounds read) that gives the default verdict.
    let body = "
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  local data = ihl + 8
  if skb:getstring(data, 4) == 'evil' then return nf.action.DROP end
  local sum = 0
  for i = 0, 7 do sum = sum + skb:getuint8(data + i) end
  if sum == 8 * 0x41 then return nf.action.DROP end
  return nf.action.ACCEPT";
    let src = script(body, "");
    let packets = vec![
        (net(udp4_to(1000, b"evil and more")), Some(0)),
        (net(udp4_to(1000, b"good and more")), Some(1)),
        (net(udp4_to(1000, b"AAAAAAAA")), Some(0)),
        (net(udp4_to(1000, b"AAAAAAAB")), Some(1)),
        (net(udp4_to(1000, b"AAA")), None),
        (net(udp4_to(1000, b"")), None),
    ];
    nf_differential("payload.lua", &src, 0, &packets);
}

#[test]
fn hooks_the_kernel_cannot_run_say_why() {
    // No root needed: this only compiles.
    let cases = [
        ("skb:setuint8(0, 1)\n  return nf.action.ACCEPT", "a packet write"),
        ("return nf.action.ACCEPT, 5", "a returned mark"),
        ("return nf.action.STOLEN", "a verdict other than DROP or ACCEPT"),
        (
            "local n = skb:getuint8(0)\n  if skb:getstring(0, n) == 'x' then return nf.action.DROP end\n  return nf.action.ACCEPT",
            "a packet string of run-time length",
        ),
    ];
    if std::fs::read(lunet_bpf::btf::VMLINUX).is_err() {
        eprintln!("SKIP: no vmlinux BTF");
        return;
    }
    for (body, construct) in cases {
        let src = script(body, "");
        let inputs = nf_hook_inputs("refused.lua", &src);
        let d = lunet_compile::compile(&inputs[0]).expect_err(body);
        assert!(
            d.all().any(|c| c.construct == construct),
            "{body}: expected {construct:?}, got {}",
            d.render(&src)
        );
    }
}

#[test]
fn the_compiled_port_filter_costs_little_per_packet() {
    lunet_testkit::require_root!("bpf(2), to load and run netfilter programs");
    let src = script(PORT_FILTER, "");
    let (_, k) = nf_differential("port.lua", &src, 0, &port_packets());
    let (v, ns) = k.run_nf(&net(udp4_to(53, b"x")), 1_000_000);
    assert_eq!(v, 1);
    eprintln!("compiled netfilter port filter: {ns} ns per packet (BPF_PROG_TEST_RUN)");
    assert!(ns < 10_000, "{ns} ns per packet");
}

#[test]
fn a_hook_that_reads_nothing_and_one_that_prints_packet_bytes_match_the_lua_tier() {
    lunet_testkit::require_root!("bpf(2), to load and run netfilter programs");
    // No packet read: no dynptr is made, the verdict is all there is.
    let src = script("return nf.action.DROP", "");
    let packets: Vec<_> = port_packets()
        .into_iter()
        .map(|(p, _)| (p, Some(0)))
        .collect();
    nf_differential("drop-all.lua", &src, 0, &packets);

    // print copies packet bytes with bpf_dynptr_read: the same lines as the Lua tier's.
    let body = "
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  print('proto', skb:getuint8(9), 'data', skb:getstring(ihl + 8, 4), #skb)
  return nf.action.ACCEPT";
    let src = script(body, "");
    let inputs = nf_hook_inputs("print.lua", &src);
    let (prog, k) = compile_and_load(&inputs[0]).unwrap_or_else(|d| panic!("{}", d.render(&src)));
    assert!(!prog.prints.is_empty());
    let mut ring = k.maps.print_ring();
    let lua = LuaTier::new("print.lua", &src);
    let mut seq = 0;
    let frames = [
        net(udp4_to(1000, b"abcdefgh")),
        net(udp4_to(1000, b"xy")),
        net(tcp4_to(80, b"GET / HTTP/1.1")),
    ];
    let mut compared = 0;
    for (i, f) in frames.iter().enumerate() {
        let (kv, _) = k.run_nf(f, 1);
        let lv = lua.run_nf(0, f, 0);
        assert_eq!(kv, lv, "frame #{i}");
        let mut kernel = Vec::new();
        ring.consume(|r| kernel.push(lunet_compile::decode_print(r, &prog.prints)));
        let (texts, next) = lua.prints_since(seq);
        seq = next;
        assert_eq!(kernel, texts, "frame #{i} printed differently");
        compared += texts.len();
    }
    assert!(compared >= 2, "{compared} lines compared");
}
