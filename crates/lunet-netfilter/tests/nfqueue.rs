//! Real NFQUEUE rules and real packets, each test in its own `Testbed` (two fresh namespaces
//! and a veth pair); root only, skipped otherwise.

mod common;

use common::*;
use lunet_netfilter::{install, priority, Backend, Family, Hook, QueueRule, QueueSocket, Verdict};
use lunet_netns::{in_netns, skip_unless_root, udp_send, Testbed, UdpSink};
use std::net::SocketAddrV4;
use std::time::Duration;

fn rule(hook: Hook, priority: i32, mark: u32) -> QueueRule {
    QueueRule {
        family: Family::Ipv4,
        hook,
        priority,
        mark,
        queue: 0,
    }
}

/// Installs `rules` for state `t` in the receiver and binds queue 0 there.
fn setup(tb: &Testbed, rules: Vec<QueueRule>) -> (Vec<String>, QueueSocket) {
    in_netns(tb.receiver_ns(), move || {
        let (installed, placements) = install(Backend::Iptables, "t", &rules).unwrap();
        // The namespace (and with it every rule) goes away with the testbed.
        std::mem::forget(installed);
        let q = QueueSocket::bind(0).unwrap();
        (placements.iter().map(ToString::to_string).collect(), q)
    })
    .unwrap()
}

fn dst(tb: &Testbed) -> SocketAddrV4 {
    SocketAddrV4::new(tb.receiver_addr(), PORT)
}

fn mac_of(ns: &str, dev: &str) -> [u8; 6] {
    let out = run_in(ns, "ip", &["-o", "link", "show", "dev", dev]);
    let mac = out
        .split("link/ether ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let v: Vec<u8> = mac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

#[test]
fn odd_payloads_dropped_even_accepted() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    let (placements, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::FILTER, 0)]);
    assert_eq!(
        placements,
        ["LOCAL_IN prio 0 -> iptables filter/INPUT (prio 0)"]
    );
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let server = serve(q, 20, WAIT, |_, data| {
        (
            if index(data) % 2 == 1 {
                Verdict::Drop
            } else {
                Verdict::Accept
            },
            None,
            None,
        )
    });
    let sent = payloads("odd-even-", 20);
    assert_eq!(udp_send(tb.sender_ns(), dst(&tb), &sent).unwrap(), 20);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 20, "the queue saw {} of 20", seen.len());

    let mut got = sink.recv_for(WAIT, 10).unwrap();
    got.extend(sink.recv_for(Duration::from_millis(300), 10).unwrap());
    got.sort();
    let even: Vec<Vec<u8>> = sent.iter().step_by(2).cloned().collect();
    assert_eq!(got, even);

    // What the hook sees of a packet arriving on the receiver's veth.
    let s = &seen[0];
    assert_eq!(s.hook, Hook::LocalIn.raw() as u8);
    assert_eq!(s.mark, 0);
    assert_eq!(s.indev, tb.receiver_ifindex());
    assert_eq!(s.outdev, 0);
    assert_eq!(s.hw_protocol, 0x0800);
    assert_eq!(s.hw_source, Some(mac_of(tb.sender_ns(), tb.sender_if())));
}

#[test]
fn new_mark_is_applied() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    // mangle INPUT (-150) queues; filter INPUT (0) runs after it and counts mark 7.
    let (placements, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::MANGLE, 0)]);
    assert_eq!(
        placements,
        ["LOCAL_IN prio -150 -> iptables mangle/INPUT (prio -150)"]
    );
    run_in(
        tb.receiver_ns(),
        "iptables",
        &[
            "-w", "-t", "filter", "-A", "INPUT", "-p", "udp", "--dport", "9000", "-m", "mark",
            "--mark", "7",
        ],
    );
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let server = serve(q, 5, WAIT, |_, _| (Verdict::Accept, Some(7), None));
    udp_send(tb.sender_ns(), dst(&tb), &payloads("mark-", 5)).unwrap();
    assert_eq!(server.join().unwrap().len(), 5);
    assert_eq!(sink.recv_for(WAIT, 5).unwrap().len(), 5);
    assert_eq!(counter(tb.receiver_ns(), "filter", &["--mark 0x7"]), 5);
}

#[test]
fn rewritten_payload_arrives() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    let (_, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::FILTER, 0)]);
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let server = serve(q, 3, WAIT, |pkt, _| {
        let mut p = pkt.payload().to_vec();
        let ihl = usize::from(p[0] & 0x0f) * 4;
        p[ihl + 8] = b'X'; // first byte of the UDP data
        p[ihl + 6] = 0; // UDP checksum 0: "none" (allowed for IPv4)
        p[ihl + 7] = 0;
        (Verdict::Accept, None, Some(p))
    });
    udp_send(tb.sender_ns(), dst(&tb), &payloads("rewrite-", 3)).unwrap();
    assert_eq!(server.join().unwrap().len(), 3);
    let mut got = sink.recv_for(WAIT, 3).unwrap();
    got.sort();
    assert_eq!(
        got,
        [
            b"Xewrite-000".to_vec(),
            b"Xewrite-001".to_vec(),
            b"Xewrite-002".to_vec()
        ]
    );
}

#[test]
fn bypass_when_no_queue_is_bound() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    let rules = vec![rule(Hook::LocalIn, priority::FILTER, 0)];
    in_netns(tb.receiver_ns(), move || {
        std::mem::forget(install(Backend::Iptables, "t", &rules).unwrap())
    })
    .unwrap();
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    udp_send(tb.sender_ns(), dst(&tb), &payloads("bypass-", 10)).unwrap();
    assert_eq!(sink.recv_for(WAIT, 10).unwrap().len(), 10);
    // They really went through the NFQUEUE rule.
    assert_eq!(counter(tb.receiver_ns(), "filter", &["NFQUEUE"]), 10);
}

#[test]
fn packets_with_another_mark_are_not_queued() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    let (_, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::FILTER, 5)]);
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let server = serve(q, 1, Duration::from_millis(800), |_, _| {
        (Verdict::Drop, None, None)
    });
    udp_send(tb.sender_ns(), dst(&tb), &payloads("mark5-", 10)).unwrap();
    assert_eq!(sink.recv_for(WAIT, 10).unwrap().len(), 10);
    assert!(
        server.join().unwrap().is_empty(),
        "mark 0 packets reached a mark 5 hook"
    );
}

#[test]
fn repeat_runs_the_table_again() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    let (_, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::MANGLE, 0)]);
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    // Packets 0..3: Repeat with mark 9, so the mark-0 rule no longer matches: seen once.
    // Packets 3..6: Repeat with the mark unchanged: queued again, then accepted.
    let mut repeated = std::collections::HashSet::new();
    let server = serve(q, 9, WAIT, move |_, data| {
        let i = index(data);
        if i < 3 {
            (Verdict::Repeat, Some(9), None)
        } else if repeated.insert(i) {
            (Verdict::Repeat, None, None)
        } else {
            (Verdict::Accept, None, None)
        }
    });
    udp_send(tb.sender_ns(), dst(&tb), &payloads("repeat-", 6)).unwrap();
    let seen = server.join().unwrap();
    let count = |i: usize| seen.iter().filter(|s| index(&s.data) == i).count();
    assert_eq!(
        (0..6).map(count).collect::<Vec<_>>(),
        [1, 1, 1, 2, 2, 2],
        "{seen:?}"
    );
    assert_eq!(sink.recv_for(WAIT, 6).unwrap().len(), 6);
}

#[test]
fn stop_skips_the_later_tables() {
    skip_unless_root!();
    let tb = Testbed::create().unwrap();
    let (_, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::MANGLE, 0)]);
    run_in(
        tb.receiver_ns(),
        "iptables",
        &[
            "-w", "-t", "filter", "-A", "INPUT", "-p", "udp", "--dport", "9000",
        ],
    );
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    // Even: Stop (accepted, filter INPUT never runs); odd: Accept (filter INPUT counts it).
    let server = serve(q, 6, WAIT, |_, data| {
        (
            if index(data) % 2 == 0 {
                Verdict::Stop
            } else {
                Verdict::Accept
            },
            None,
            None,
        )
    });
    udp_send(tb.sender_ns(), dst(&tb), &payloads("stop-", 6)).unwrap();
    assert_eq!(server.join().unwrap().len(), 6);
    assert_eq!(sink.recv_for(WAIT, 6).unwrap().len(), 6);
    assert_eq!(counter(tb.receiver_ns(), "filter", &["-A INPUT -p udp"]), 3);
}
