//! XDP hooks in the Lua tier (issue #10 item 3): an XDP hook the kernel tier cannot take runs
//! in Lua, fed from its device's raw PRE_ROUTING, instead of "cannot run"; `--tier lua` is
//! allowed for XDP hooks. Real traffic between two namespaces, counted at the sender and the
//! receiver: DROP drops, PASS delivers (with the bytes the hook wrote), TX sends the frame
//! back out of the device, so the sender gets an echo from a port nobody listens on.

mod support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use support::*;

const DROPPED: u16 = 7201;
const ECHOED: u16 = 7202;
const REWRITTEN: u16 = 7203;
const PASSED: u16 = 7204;

/// A coroutine keeps the hook out of the kernel tier (the compiler has none).
const SCRIPT: &str = r#"
local xdp = require("xdp")
local b = require("byteorder")
local tick = coroutine.wrap(function() while true do coroutine.yield(1) end end)
local function swap(p, a, c, n)
  for i = 0, n - 1 do
    local x, y = p:getuint8(a + i), p:getuint8(c + i)
    p:setuint8(a + i, y)
    p:setuint8(c + i, x)
  end
end
xdp.attach(function(p)
  tick()
  if #p < 42 or b.ntoh16(p:getuint16(12)) ~= 0x0800 or p:getuint8(23) ~= 17 then
    return xdp.action.PASS
  end
  local udp = 14 + (p:getuint8(14) & 0x0f) * 4
  local dport = b.ntoh16(p:getuint16(udp + 2))
  if dport == 7201 then return xdp.action.DROP end
  if dport == 7202 then
    swap(p, 0, 6, 6)           -- Ethernet addresses
    swap(p, 26, 30, 4)         -- IPv4 addresses (the checksums stay right)
    swap(p, udp, udp + 2, 2)   -- ports
    return xdp.action.TX
  end
  if dport == 7203 then p:setuint8(udp + 8, 33) end
  return xdp.action.PASS
end, { name = "echo" })
"#;

/// Sends `n` datagrams from one sender socket to `port` and gives what the receiver got on
/// it and what came back to the sender.
fn exchange(bed: &Testbed, port: u16, n: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let sink = UdpSink::bind(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), port),
    )
    .unwrap();
    let sock = lunet_netns::udp_socket(
        bed.sender_ns(),
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into(),
    )
    .unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let dst = SocketAddrV4::new(bed.receiver_addr(), port);
    for i in 0..n {
        sock.send_to(format!("p{i}").as_bytes(), dst).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = sink
        .recv_until(Instant::now() + Duration::from_millis(800), n)
        .unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 2048];
    let until = Instant::now() + Duration::from_millis(800);
    while back.len() < n && Instant::now() < until {
        if let Ok((k, from)) = sock.recv_from(&mut buf) {
            assert_eq!(
                from,
                std::net::SocketAddr::V4(dst),
                "the echo comes from the port"
            );
            back.push(buf[..k].to_vec());
        }
    }
    (got, back)
}

fn run_echo(extra: &[&str]) -> (Testbed, Daemon, String) {
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(d.dir.path(), "echo.lua", SCRIPT);
    let mut args = vec!["--name", "echo", "--dev", bed.receiver_if()];
    args.extend_from_slice(extra);
    let out = d.run_ok(&script, bed.receiver_ns(), &args);
    (bed, d, out)
}

fn check_verdicts(bed: &Testbed, d: &Daemon) {
    let (got, back) = exchange(bed, DROPPED, 5);
    assert_eq!((got.len(), back.len()), (0, 0), "XDP_DROP drops");
    let (got, back) = exchange(bed, PASSED, 5);
    assert_eq!((got.len(), back.len()), (5, 0), "XDP_PASS delivers");
    let (got, _) = exchange(bed, REWRITTEN, 5);
    assert_eq!(got.len(), 5, "rewritten and delivered");
    assert!(
        got.iter().all(|p| p[0] == b'!'),
        "the hook's byte arrived: {got:?}"
    );
    let (got, back) = exchange(bed, ECHOED, 5);
    assert_eq!(got.len(), 0, "XDP_TX: the receiver's stack never saw it");
    assert_eq!(back.len(), 5, "XDP_TX: every frame went back to the sender");
    assert_eq!(back[0], b"p0");
    let stats = d.stats_json("echo");
    let v = &stats["hooks"][0]["verdicts"];
    assert!(v["DROP"].as_u64() >= Some(5), "{stats}");
    assert!(v["TX"].as_u64() >= Some(5), "{stats}");
    assert!(v["PASS"].as_u64() >= Some(10), "{stats}");
}

#[test]
fn an_xdp_hook_the_kernel_tier_refuses_runs_in_lua_with_drop_pass_and_tx() {
    lunet_testkit::require_root!("namespaces, netfilter rules, NFQUEUE and AF_PACKET");
    let (bed, d, out) = run_echo(&[]);
    assert!(out.contains("[lua tier"), "{out}");
    assert!(
        out.contains("the kernel tier cannot take this XDP hook"),
        "the reason is the compiler's: {out}"
    );
    let rules = lunet_rules(bed.receiver_ns()).join("\n");
    assert!(
        rules.contains(&format!("-i {}", bed.receiver_if())),
        "fed from its device only: {rules}"
    );
    check_verdicts(&bed, &d);
    let o = d.cli(&["stop", "echo"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(lunet_rules(bed.receiver_ns()).is_empty());
}

#[test]
fn tier_lua_is_allowed_for_xdp_hooks() {
    lunet_testkit::require_root!("namespaces, netfilter rules, NFQUEUE and AF_PACKET");
    let (bed, d, out) = run_echo(&["--tier", "lua"]);
    assert!(out.contains("the Lua tier was demanded"), "{out}");
    check_verdicts(&bed, &d);
}
