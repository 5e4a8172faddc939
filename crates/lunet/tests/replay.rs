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
