//! `lunet replay`: a script over a pcap file, with no root and no kernel.

mod support;

use std::net::{Ipv4Addr, Ipv6Addr};

use lunet_gen::packet;
use support::*;
use support::{MAC_A as A, MAC_B as B};

fn v4_query(name: &str, id: u16) -> Vec<u8> {
    packet::dns_query(
        A,
        B,
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(198, 18, 0, 2),
        40000,
        name,
        id,
    )
    .unwrap()
}

#[test]
fn replay_counts_the_dns_blocklist_verdicts_of_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("dns.pcap");
    let mut frames = Vec::new();
    for i in 0..5 {
        frames.push(v4_query("x.blocked.example", i));
    }
    for i in 0..7 {
        frames.push(v4_query("allowed.example", 100 + i));
    }
    for i in 0..2 {
        let (s, d) = (
            "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
            "2001:db8::2".parse::<Ipv6Addr>().unwrap(),
        );
        frames.push(packet::dns_query(A, B, s, d, 40000, "ads.test", 200 + i).unwrap());
    }
    // Truncated inside the query name: the hook reads out of bounds and gives its default.
    for i in 0..3 {
        let f = v4_query("truncated.blocked.example", 300 + i);
        frames.push(f[..f.len() - 20].to_vec());
    }
    // An ARP frame: netfilter hooks never see it.
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&A);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    frames.push(arp);
    write_pcap(&pcap, &frames);

    let o = lunet(&[
        "replay",
        examples_dir().join("dns-blocklist.lua").to_str().unwrap(),
        pcap.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{ "hook": "dns-blocklist", "verdicts": { "DROP": 7, "ACCEPT": 10 }, "errors": 3, "packets": 17 }])
    );

    let text = stdout(&lunet(&[
        "replay",
        examples_dir().join("dns-blocklist.lua").to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]));
    assert!(text.contains("18 packets"), "{text}");
    assert!(
        text.contains("out of bounds"),
        "the last error is shown: {text}"
    );
}

#[test]
fn replay_of_a_broken_script_or_file_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let not_pcap = dir.path().join("x.pcap");
    std::fs::write(&not_pcap, b"hello").unwrap();
    let o = lunet(&[
        "replay",
        examples_dir().join("port-filter.lua").to_str().unwrap(),
        not_pcap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a pcap file"), "{}", stderr(&o));

    let bad = write_script(dir.path(), "bad.lua", "return = 1\n");
    let o = lunet(&["replay", bad.to_str().unwrap(), not_pcap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("bad.lua:1:"), "{}", stderr(&o));
}

/// Hooks at one point run in priority order with the mark one gives the next, as live: the
/// MANGLE hook marks, the FILTER hook that wants the mark drops, the one that wants mark 0
/// never sees the packet; `print` shows, and `linux.time()` is each packet's capture time.
#[test]
fn replay_chains_hooks_by_priority_with_marks_and_shows_prints_at_capture_time() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        "chain.lua",
        r#"
local netfilter = require("netfilter")
local linux = require("linux")
local nf = linux.nf
local function at(pri, mark, name, fn)
	netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, priority = pri,
		mark = mark, name = name, hook = fn }
end
-- Registered out of priority order: FILTER first, MANGLE second.
at(nf.ip.pri.FILTER, 7, "drop-marked", function(skb)
	print("drop-marked sees mark " .. skb:mark() .. " at " .. linux.time())
	return nf.action.DROP
end)
at(nf.ip.pri.FILTER + 1, 0, "unmarked", function() print("unmarked ran") return nf.action.ACCEPT end)
at(nf.ip.pri.MANGLE, 0, "marker", function() return nf.action.ACCEPT, 7 end)
"#,
    );
    let pcap = dir.path().join("two.pcap");
    let frames = [v4_query("a.example", 1), v4_query("b.example", 2)];
    {
        use pcap_file::pcap::{PcapPacket, PcapWriter};
        let mut w = PcapWriter::new(std::fs::File::create(&pcap).unwrap()).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write_packet(&PcapPacket {
                timestamp: std::time::Duration::new(1_700_000_000 + i as u64, 5_000),
                orig_len: f.len() as u32,
                data: std::borrow::Cow::Borrowed(f),
            })
            .unwrap();
        }
    }
    let o = lunet(&["replay", script.to_str().unwrap(), pcap.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out.contains("drop-marked sees mark 7 at 1700000000000005000")
            && out.contains("drop-marked sees mark 7 at 1700000001000005000"),
        "{out}"
    );
    assert!(!out.contains("unmarked ran"), "{out}");
    let o = lunet(&[
        "replay",
        script.to_str().unwrap(),
        pcap.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_name = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|h| h["hook"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("marker")["verdicts"]["ACCEPT"], 2);
    assert_eq!(by_name("drop-marked")["verdicts"]["DROP"], 2);
    assert_eq!(by_name("unmarked")["packets"], 0);
    assert!(
        stderr(&o).contains("drop-marked sees mark 7"),
        "prints beside JSON go to stderr"
    );
}
