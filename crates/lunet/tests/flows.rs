//! Flow verdicts (issue #10 item 4): a Lua-tier hook that calls `skb:flow(verdict, seconds)`
//! decides the rest of the flow; its later packets get that verdict in the kernel, in front
//! of the queue, without waking Lua, until the verdict ends. Real traffic between two
//! namespaces, counted at the receiver and in the hook's own counters.

mod support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use support::*;

const PORT: u16 = 7300;

const SCRIPT: &str = r#"
local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "flows", hook = function(skb)
  if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  if b.ntoh16(skb:getuint16(ihl + 2)) ~= 7300 then return nf.action.ACCEPT end
  local first = skb:getuint8(ihl + 8)
  if first == 68 then       -- "D": drop this flow for 2 s
    skb:flow(nf.action.DROP, 2)
    return nf.action.DROP
  elseif first == 65 then   -- "A": accept this flow for 30 s
    skb:flow(nf.action.ACCEPT, 30)
  end
  return nf.action.ACCEPT
end }
"#;

/// Sends `payloads` from source port `sport` and counts what arrived.
fn send(bed: &Testbed, sport: u16, payloads: &[&[u8]]) -> usize {
    let sink = UdpSink::bind(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), PORT),
    )
    .unwrap();
    let sock = lunet_netns::udp_socket(
        bed.sender_ns(),
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, sport).into(),
    )
    .unwrap();
    let dst = SocketAddrV4::new(bed.receiver_addr(), PORT);
    for p in payloads {
        sock.send_to(p, dst).unwrap();
        std::thread::sleep(Duration::from_millis(3));
    }
    sink.recv_until(Instant::now() + Duration::from_millis(600), payloads.len())
        .unwrap()
        .len()
}

fn hook_packets(d: &Daemon) -> u64 {
    d.stats_json("flows")["hooks"][0]["packets"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_flow_verdict_decides_the_flows_later_packets_in_the_kernel_until_it_ends() {
    lunet_testkit::require_root!("namespaces, netfilter rules, NFQUEUE and bpf(2)");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(d.dir.path(), "flows.lua", SCRIPT);
    d.run_ok(&script, bed.receiver_ns(), &["--name", "flows"]);
    let rules = lunet_rules(bed.receiver_ns()).join("\n");
    assert!(
        rules.matches("-m bpf --object-pinned").count() >= 2,
        "the flow rules sit in the state's chain: {rules}"
    );
    let rest: Vec<&[u8]> = vec![b"x"; 20];

    // A flow the hook dropped for 2 s: its next 20 packets are dropped without the hook.
    assert_eq!(send(&bed, 42001, &[b"D"]), 0);
    assert_eq!(hook_packets(&d), 1);
    assert_eq!(send(&bed, 42001, &rest), 0, "dropped by the flow verdict");
    assert_eq!(hook_packets(&d), 1, "the hook never saw them");

    // A flow it accepted: every packet arrives, the hook saw the first only.
    let mut first: Vec<&[u8]> = vec![b"A"];
    first.extend(rest.iter().copied());
    assert_eq!(send(&bed, 42002, &first), 21);
    assert_eq!(hook_packets(&d), 2);

    // A flow with no verdict: the hook sees every packet.
    assert_eq!(send(&bed, 42003, &rest), 20);
    assert_eq!(hook_packets(&d), 22);

    // The drop verdict ends after its 2 s: the flow's packets reach the hook again.
    std::thread::sleep(Duration::from_millis(2300));
    assert_eq!(
        send(&bed, 42001, &rest[..5]),
        5,
        "accepted by the hook again"
    );
    assert_eq!(hook_packets(&d), 27);

    // `lunet map` shows the flows and their verdicts (the accepted flow: port 42002).
    let o = d.cli(&["map", "flows", "flows", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let entries: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let accepted = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"][2] == 42002)
        .unwrap_or_else(|| panic!("flow 42002 in {entries}"));
    assert_eq!(accepted["value"][0], 1, "ACCEPT: {accepted}");
    // Stop removes the flow map, its programs and rules.
    let pins = d.pin_root.join("flows");
    assert!(pins.join("flows").exists(), "{}", pins.display());
    let o = d.cli(&["stop", "flows"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(lunet_rules(bed.receiver_ns()).is_empty());
    assert!(!pins.exists(), "the state's pins are gone");
}
