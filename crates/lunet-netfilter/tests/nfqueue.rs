//! Real NFQUEUE rules and real packets, each test in its own `Testbed` (two fresh namespaces
//! and a veth pair); root only, skipped otherwise.

mod common;

use common::*;
use lunet_netfilter::{install, priority, Backend, Family, Hook, QueueRule, QueueSocket, Verdict};
use lunet_netns::{in_netns, udp_send, Testbed, UdpSink};
use std::net::SocketAddrV4;
use std::time::Duration;

fn rule(hook: Hook, priority: i32, mark: u32) -> QueueRule {
    QueueRule {
        family: Family::Ipv4,
        hook,
        priority,
        mark,
        queue: 0,
        queues: 1,
        in_dev: None,
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

#[test]
fn odd_payloads_dropped_even_accepted() {
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
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
    assert_eq!(s.hw_source, Some(tb.sender_mac()));
}

#[test]
fn new_mark_is_applied() {
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
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
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
    let tb = Testbed::create().unwrap();
    let (_, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::FILTER, 0)]);
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let server = serve(q, 3, WAIT, |pkt, _| {
        (
            Verdict::Accept,
            None,
            Some(with_first_byte_x(pkt.payload())),
        )
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
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
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
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
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
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
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
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
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

/// What [`ten_thousand_packets_get_exactly_their_verdicts`] does with packet `i`, by runs of 8:
/// drop, accept, accept with mark 7, accept with the first data byte rewritten to `X`, stop.
fn verdict_of(i: usize) -> u8 {
    ((i / 8) % 5) as u8
}

#[test]
fn ten_thousand_packets_get_exactly_their_verdicts() {
    use lunet_netfilter::{Poller, RECV_BATCH};
    use std::os::fd::AsFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
    const N: usize = 10_000;
    const CHUNK: usize = 250;
    let tb = Testbed::create().unwrap();
    // mangle INPUT (-150) queues; filter INPUT (0) counts what comes out of it, and the
    // packets with mark 7 (STOP skips filter INPUT: those are counted by the sink only).
    let (_, mut q) = setup(&tb, vec![rule(Hook::LocalIn, priority::MANGLE, 0)]);
    // As root the receive buffer is forced past net.core.rmem_max (the kernel doubles it).
    assert_eq!(q.recv_buffer(), 16 << 20);
    for extra in [&["-m", "mark", "--mark", "7"][..], &[]] {
        let mut args = vec![
            "-w", "-t", "filter", "-A", "INPUT", "-p", "udp", "--dport", "9000",
        ];
        args.extend_from_slice(extra);
        run_in(tb.receiver_ns(), "iptables", &args);
    }
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();

    let decided = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let consumer = {
        let decided = decided.clone();
        std::thread::spawn(move || {
            let mut seen = vec![0u32; N];
            let mut poller = Poller::new();
            let mut batch = Vec::new();
            let mut largest = 0;
            while decided.load(Ordering::SeqCst) < N && Instant::now() < deadline {
                if poller.wait([q.as_fd()], Duration::from_millis(50)).unwrap() == 0 {
                    continue;
                }
                loop {
                    batch.clear();
                    let n = q.recv_batch(&mut batch, RECV_BATCH).unwrap();
                    largest = largest.max(n);
                    for pkt in batch.drain(..) {
                        let Some((PORT, data)) = udp_of(pkt.payload()) else {
                            q.push_verdict(pkt, Verdict::Accept, None, None).unwrap();
                            continue;
                        };
                        let i: usize = std::str::from_utf8(&data[1..]).unwrap().parse().unwrap();
                        seen[i] += 1;
                        let (v, mark, payload) = match verdict_of(i) {
                            0 => (Verdict::Drop, None, None),
                            1 => (Verdict::Accept, None, None),
                            2 => (Verdict::Accept, Some(7), None),
                            3 => (
                                Verdict::Accept,
                                None,
                                Some(with_first_byte_x(pkt.payload())),
                            ),
                            _ => (Verdict::Stop, None, None),
                        };
                        q.push_verdict(pkt, v, mark, payload).unwrap();
                        decided.fetch_add(1, Ordering::SeqCst);
                    }
                    q.flush_verdicts().unwrap();
                    if n < RECV_BATCH {
                        break;
                    }
                }
            }
            assert_eq!(q.awaiting_verdict(), 0);
            (seen, q.stats(), largest)
        })
    };
    let receiver = {
        let arrived = arrived.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while Instant::now() < deadline {
                let more = sink.recv_for(Duration::from_millis(20), N).unwrap();
                arrived.fetch_add(more.len(), Ordering::SeqCst);
                got.extend(more);
                if got.len() == N - N / 5 {
                    break;
                }
            }
            got
        })
    };

    // Chunks small enough for the sink's socket buffer; each waits for the one before.
    let sent: Vec<Vec<u8>> = (0..N).map(|i| format!("n{i:05}").into_bytes()).collect();
    let mut survivors = 0;
    for (c, chunk) in sent.chunks(CHUNK).enumerate() {
        assert_eq!(
            udp_send(tb.sender_ns(), dst(&tb), chunk).unwrap(),
            chunk.len()
        );
        let upto = (c + 1) * CHUNK;
        survivors += (c * CHUNK..upto).filter(|&i| verdict_of(i) != 0).count();
        while (decided.load(Ordering::SeqCst) < upto || arrived.load(Ordering::SeqCst) < survivors)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let (seen, stats, largest) = consumer.join().unwrap();
    let got = receiver.join().unwrap();

    let missed: Vec<usize> = (0..N).filter(|&i| seen[i] != 1).collect();
    assert!(missed.is_empty(), "not seen exactly once: {missed:?}");
    let mut want: Vec<Vec<u8>> = (0..N)
        .filter(|&i| verdict_of(i) != 0)
        .map(|i| {
            let mut d = sent[i].clone();
            if verdict_of(i) == 3 {
                d[0] = b'X';
            }
            d
        })
        .collect();
    let mut got = got;
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len(), "datagrams that came through");
    assert!(got == want, "the datagrams that came through differ");
    let count = |v| (0..N).filter(|&i| verdict_of(i) == v).count() as u64;
    assert_eq!(
        counter(tb.receiver_ns(), "filter", &["--mark 0x7"]),
        count(2)
    );
    assert_eq!(
        counter(tb.receiver_ns(), "filter", &["-A INPUT -p udp"]),
        count(1) + 2 * count(2) + count(3),
        "filter INPUT saw accepted packets once (marked ones on both rules), stopped ones never"
    );
    // Runs of 8 with one verdict and no payload went as batch messages.
    assert!(stats.verdicts >= N as u64, "{stats:?}");
    assert!(stats.batch_messages > 0, "{stats:?}");
    assert!(stats.verdict_messages < stats.verdicts, "{stats:?}");
    assert!(stats.receives < stats.packets, "{stats:?}");
    eprintln!("{stats:?}, largest batch {largest}");
}

/// A queued flow's connection mark, set through ctnetlink by the packet's tuple: the kernel
/// keeps it (an nft `ct mark` rule counts the flow's next datagram) and reads it back. On a
/// kernel whose queue carries conntrack (`QueueSocket::conntrack`), the next packet brings
/// the mark itself.
#[test]
fn a_flows_connection_mark_set_by_tuple_is_the_kernels() {
    lunet_testkit::require_root!("namespaces, nft, NFQUEUE and ctnetlink");
    use lunet_netfilter::{ConntrackSocket, Tuple};
    let tb = Testbed::create().unwrap();
    let nft = |args: &[&str]| run_in(tb.receiver_ns(), "nft", args);
    nft(&["add", "table", "ip", "ctm"]);
    nft(&[
        "add", "chain", "ip", "ctm", "input", "{", "type", "filter", "hook", "input", "priority",
        "10", ";", "}",
    ]);
    nft(&[
        "add", "rule", "ip", "ctm", "input", "ct", "mark", "0x99", "counter",
    ]);
    let (_, q) = setup(&tb, vec![rule(Hook::LocalIn, priority::FILTER, 0)]);
    let carries = q.conntrack();
    let server = serve(q, 2, WAIT, |_, _| (Verdict::Accept, None, None));
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let src = SocketAddrV4::new(tb.sender_addr(), 40001);
    let send = |data: &[u8]| {
        lunet_netns::udp_send_from(tb.sender_ns(), src, dst(&tb), &[data.to_vec()]).unwrap();
        assert_eq!(sink.recv_for(WAIT, 1).unwrap(), [data.to_vec()]);
    };
    send(b"first");
    let frame = lunet_testkit::packets::udp4_frame(src, dst(&tb), b"x");
    let tuple = Tuple::of_packet(&frame[14..]).unwrap();
    let (set, read) = in_netns(tb.receiver_ns(), move || {
        let mut ct = ConntrackSocket::open().unwrap();
        (ct.set_mark(&tuple, 0x99).unwrap(), ct.mark(&tuple).unwrap())
    })
    .unwrap();
    assert_eq!(
        (set, read),
        (true, Some(0x99)),
        "queue carries conntrack: {carries}"
    );
    send(b"second");
    server.join().unwrap();
    let rules = nft(&["list", "chain", "ip", "ctm", "input"]);
    assert!(
        rules.contains("packets 1 "),
        "the marked flow's next datagram: {rules}"
    );
    // A tuple conntrack does not know.
    let other = lunet_testkit::packets::udp4_frame(
        SocketAddrV4::new(tb.sender_addr(), 40002),
        dst(&tb),
        b"x",
    );
    let t = Tuple::of_packet(&other[14..]).unwrap();
    let none = in_netns(tb.receiver_ns(), move || {
        let mut ct = ConntrackSocket::open().unwrap();
        (ct.mark(&t).unwrap(), ct.set_mark(&t, 1).unwrap())
    })
    .unwrap();
    assert_eq!(none, (None, false));
}

/// `recv_batch_wait` sleeps inside the receive: with nothing queued it returns nothing after
/// its timeout (not at once, and not later than it should), it wakes for packets that come
/// meanwhile, and the receives that must not wait still do not.
#[test]
fn a_waiting_receive_sleeps_until_packets_come_and_no_longer() {
    use std::time::Instant;
    lunet_testkit::require_root!("namespaces, iptables rules and NFQUEUE");
    let tb = Testbed::create().unwrap();
    let (_, mut q) = setup(&tb, vec![rule(Hook::LocalIn, priority::FILTER, 0)]);
    let sink = UdpSink::bind(tb.receiver_ns(), dst(&tb)).unwrap();
    let mut batch = Vec::new();

    let t = Instant::now();
    assert_eq!(
        q.recv_batch_wait(&mut batch, 64, Duration::from_millis(80))
            .unwrap(),
        0
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(70) && waited < Duration::from_secs(2),
        "waited {waited:?} for an 80 ms timeout"
    );
    // The plain receives still return at once.
    let t = Instant::now();
    assert!(q.try_recv().unwrap().is_none());
    assert!(t.elapsed() < Duration::from_millis(50), "try_recv waited");

    let sent = payloads("wait-", 5);
    let sender = {
        let (ns, to, sent) = (tb.sender_ns().to_owned(), dst(&tb), sent.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            udp_send(&ns, to, &sent).unwrap()
        })
    };
    let t = Instant::now();
    let mut first = None;
    while batch.len() < 5 && t.elapsed() < Duration::from_secs(5) {
        if q.recv_batch_wait(&mut batch, 64, Duration::from_secs(3))
            .unwrap()
            > 0
        {
            first.get_or_insert(t.elapsed());
        }
    }
    assert_eq!(sender.join().unwrap(), 5);
    let first = first.expect("no packet came");
    assert!(
        first < Duration::from_secs(2),
        "the receive slept {first:?} with packets queued"
    );
    assert_eq!(batch.len(), 5);
    for pkt in batch.drain(..) {
        q.push_verdict(pkt, Verdict::Accept, None, None).unwrap();
    }
    q.flush_verdicts().unwrap();
    let mut got = sink.recv_for(WAIT, 5).unwrap();
    got.sort();
    assert_eq!(got, sent);
}
