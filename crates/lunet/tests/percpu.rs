//! Per-CPU copies of a state (`run --cpus 2`), with real traffic counted at the receiver:
//! each copy judges its share, a flow always meets the same copy, the maps and `rcu` tables
//! are shared, and one copy's endless loop leaves the other's verdicts intact (issue #11).

mod support;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use support::*;

const PORT: u16 = 7100;
/// Flows: one per source port.
const FLOWS: u16 = 16;
const FIRST_SPORT: u16 = 41000;

/// Each copy learns its number from a shared map in its body (bodies run one after the
/// other, copy 0 first); every packet records which copy saw its flow first, and counts when
/// its flow's first copy was another; a packet starting with `!` sends copy 1 into an
/// endless loop. (No shared counter: a read-modify-write of a map from two copies races, as
/// from two CPUs in eBPF.)
const SCRIPT: &str = r#"
local map = require("bpf.map")
local netfilter = require("netfilter")
local b = require("byteorder")
local nf = require("linux").nf
local copies = map.array{ name = "copies", key = "I4", value = "I8", entries = 1 }
local owner = map.hash{ name = "owner", key = "I2", value = "I8", entries = 256 }
local moved = map.array{ name = "moved", key = "I4", value = "I8", entries = 1 }
local crossed = map.array{ name = "crossed", key = "I4", value = "I8", entries = 1 }
local shared = require("rcu").table()
local me = copies[0] or 0
copies[0] = me + 1
netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "spread",
  default = nf.action.DROP, hook = function(skb)
  if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  if b.ntoh16(skb:getuint16(ihl + 2)) ~= 7100 then return nf.action.ACCEPT end
  local sport = b.ntoh16(skb:getuint16(ihl))
  local o = owner[sport]
  if o == nil then
    owner[sport] = me + 1
  elseif o ~= me + 1 then
    moved[0] = (moved[0] or 0) + 1
  end
  -- An rcu table is one table for every copy: one of them sees the other's write.
  if shared.first == nil then
    shared.first = me + 1
  elseif shared.first ~= me + 1 then
    crossed[0] = 1
  end
  if me == 1 and skb:getuint8(ihl + 8) == 33 then
    while true do end
  end
  return nf.action.ACCEPT
end }
"#;

/// Sends `per_flow` datagrams on each flow (interleaved, paced), each starting with `lead`,
/// and gives how many arrived per source port.
fn send_flows(bed: &Testbed, per_flow: usize, lead: u8) -> BTreeMap<u16, usize> {
    let sink = UdpSink::bind(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), PORT),
    )
    .unwrap();
    let want = per_flow * FLOWS as usize;
    // Received while sent, so the socket's buffer never fills.
    let receiver = std::thread::spawn(move || {
        sink.recv_until(Instant::now() + Duration::from_secs(8), want)
            .unwrap()
    });
    let dst = SocketAddrV4::new(bed.receiver_addr(), PORT);
    let socks: Vec<_> = (0..FLOWS)
        .map(|i| {
            lunet_netns::udp_socket(
                bed.sender_ns(),
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, FIRST_SPORT + i).into(),
            )
            .unwrap()
        })
        .collect();
    for n in 0..per_flow {
        for (i, s) in socks.iter().enumerate() {
            let mut p = vec![lead, i as u8];
            p.extend_from_slice(&(n as u32).to_be_bytes());
            s.send_to(&p, dst).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let got = receiver.join().unwrap();
    let mut by_flow = BTreeMap::new();
    for p in got {
        *by_flow.entry(FIRST_SPORT + p[1] as u16).or_insert(0) += 1;
    }
    by_flow
}

/// The entries of one of the state's maps, as `lunet map --json` gives them.
fn map_entries(d: &Daemon, map: &str) -> BTreeMap<u64, u64> {
    let o = d.cli(&["map", "spread", map, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap_or_else(|| panic!("a list of entries: {v}"))
        .iter()
        .map(|e| (e["key"].as_u64().unwrap(), e["value"].as_u64().unwrap()))
        .collect()
}

#[test]
fn two_copies_share_the_flows_and_the_maps_and_one_copys_loop_spares_the_other() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let script = write_script(d.dir.path(), "spread.lua", SCRIPT);
    let out = d.run_ok(
        &script,
        bed.receiver_ns(),
        &["--name", "spread", "--cpus", "2", "--timeout", "5"],
    );
    assert!(out.contains("2 per-CPU copies"), "{out}");
    let queues = bound_queues(bed.receiver_ns());
    assert_eq!(queues.len(), 2, "one queue per copy: {queues:?}");
    assert_eq!(queues[1], queues[0] + 1, "consecutive: {queues:?}");
    let rules = lunet_rules(bed.receiver_ns()).join("\n");
    for q in &queues {
        assert!(
            rules.contains(&format!("--queue-num {q}")) || rules.contains("queue num"),
            "a rule feeds queue {q}: {rules}"
        );
    }

    // Every packet arrives; both copies judged some; no flow met two copies.
    let arrived = send_flows(&bed, 30, b'.');
    let total: usize = arrived.values().sum();
    let stats = d.stats_json("spread");
    assert_eq!(
        total,
        30 * FLOWS as usize,
        "all arrived: {arrived:?}; {stats}"
    );
    let hook = &stats["hooks"][0];
    let per_copy = hook["per_copy"].as_array().expect("per-copy stats");
    assert_eq!(per_copy.len(), 2, "{hook}");
    let shares: Vec<u64> = per_copy
        .iter()
        .map(|c| c["packets"].as_u64().unwrap())
        .collect();
    eprintln!("packets judged by copy 0 and copy 1: {shares:?}");
    assert!(
        shares.iter().all(|&n| n > 0),
        "each copy saw a share: {shares:?}"
    );
    assert_eq!(
        hook["packets"].as_u64().unwrap(),
        shares.iter().sum::<u64>(),
        "the hook's count is the copies' sum"
    );
    assert_eq!(stats["copies"].as_array().map(Vec::len), Some(2), "{stats}");
    // `list` shows the copies as one state, with each one's share under --json.
    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    let me = &list[0];
    assert_eq!(me["copies"], 2, "{list}");
    let listed: Vec<u64> = me["per_copy"]
        .as_array()
        .expect("per-copy shares")
        .iter()
        .map(|c| c["packets"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, shares, "list and stats agree on each copy's share");
    assert_eq!(me["packets"].as_u64(), Some(shares.iter().sum::<u64>()));

    // The maps are the same kernel maps in both: copy 1 read copy 0's write in its body,
    // the owner map holds both copies' entries, and each flow kept its first copy.
    assert_eq!(
        map_entries(&d, "copies").get(&0),
        Some(&2),
        "both bodies ran"
    );
    assert_eq!(
        map_entries(&d, "moved").get(&0).copied().unwrap_or(0),
        0,
        "a flow met two copies"
    );
    let owner = map_entries(&d, "owner");
    let flows_of = |copy: u64| -> Vec<u16> {
        owner
            .iter()
            .filter(|(port, c)| {
                **c == copy && (FIRST_SPORT..FIRST_SPORT + FLOWS).contains(&(**port as u16))
            })
            .map(|(p, _)| *p as u16)
            .collect()
    };
    let (of0, of1) = (flows_of(1), flows_of(2));
    assert_eq!(of0.len() + of1.len(), FLOWS as usize, "{owner:?}");
    assert!(!of0.is_empty() && !of1.is_empty(), "{owner:?}");

    // Copy 1 loops forever on `!` packets: they get the default verdict (DROP) at the time
    // limit, while copy 0's flows all arrive.
    let arrived = send_flows(&bed, 5, b'!');
    for p in &of0 {
        assert_eq!(arrived.get(p), Some(&5), "copy 0's flow {p}: {arrived:?}");
    }
    for p in &of1 {
        assert_eq!(
            arrived.get(p),
            None,
            "copy 1's flow {p} got its default verdict"
        );
    }
    let stats = d.stats_json("spread");
    let per_copy = &stats["hooks"][0]["per_copy"];
    let hits = |c: usize| {
        per_copy[c]["time_hits"].as_u64().unwrap() + per_copy[c]["budget_hits"].as_u64().unwrap()
    };
    assert_eq!(hits(0), 0, "copy 0 never looped: {per_copy}");
    assert_eq!(hits(1), 5 * of1.len() as u64, "{per_copy}");
    // The log is the state's, each line saying which copy wrote it.
    let logs = stdout(&d.cli(&["logs", "spread"]));
    assert!(
        logs.lines()
            .any(|l| l.starts_with("[copy 1] error: ") && l.contains("budget")),
        "copy 1's budget stops are in the state's log, tagged: {logs}"
    );

    // Stopping removes both queues and the rules.
    let o = d.cli(&["stop", "spread"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(bound_queues(bed.receiver_ns()).is_empty());
    assert!(lunet_rules(bed.receiver_ns()).is_empty());
}
