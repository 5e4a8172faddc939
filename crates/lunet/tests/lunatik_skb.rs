//! Lunatik's networking scripts under `lunet run`, with real traffic in namespaces, counted
//! where it arrives: tcpreject's resets (skb:copy, resize, checksum, forward and the `mac`
//! view), dnsdoctor's rewritten answers (a write through the `mac` view, delivered), and the
//! rest of the skb API (vlan, connmark, ifindex, the data module) through a real queue.
//!
//! Lunatik's own scripts come from `LUNATIK_DIR` (a checkout of Lunatik; the test skips with
//! a message when it is unset); in-tree scripts of the same shape (tests/lunatik-skb/) take the
//! same paths always.

mod support;

use std::io::ErrorKind;
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lunet_netns::{in_netns, run_in_netns, TempNetns};
use support::*;

/// Connection attempts each reset test makes.
const ATTEMPTS: usize = 5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lunatik-skb")
        .join(name)
}

/// A checkout of Lunatik, from `LUNATIK_DIR`; `None` (the caller skips) when unset.
fn lunatik_dir() -> Option<PathBuf> {
    match std::env::var_os("LUNATIK_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!("skipped: LUNATIK_DIR is not set (a checkout of Lunatik's repository)");
            None
        }
    }
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn wait_up(ns: &str, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let o = Command::new("ip")
            .args(["-n", ns, "-o", "link", "show", "dev", dev])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).contains("LOWER_UP") {
            return;
        }
        assert!(Instant::now() < deadline, "{dev} in {ns} has no carrier");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Three namespaces: a client (198.18.1.2) and a server (198.18.2.2), each behind its own
/// veth to a router (198.18.1.1, 198.18.2.1) that forwards between them. Dropping it deletes
/// the namespaces, and with them the links and rules made in them.
struct Routed {
    client: TempNetns,
    router: TempNetns,
    server: TempNetns,
}

impl Routed {
    const SERVER: &'static str = "198.18.2.2";

    fn create() -> Routed {
        let r = Routed {
            client: TempNetns::create("lkc").unwrap(),
            router: TempNetns::create("lkr").unwrap(),
            server: TempNetns::create("lks").unwrap(),
        };
        let (c, rt, s) = (r.client.name(), r.router.name(), r.server.name());
        ip(&[
            "-n", rt, "link", "add", "rc0", "type", "veth", "peer", "name", "cl0", "netns", c,
        ]);
        ip(&[
            "-n", rt, "link", "add", "rs0", "type", "veth", "peer", "name", "sv0", "netns", s,
        ]);
        for (ns, dev, cidr) in [
            (c, "cl0", "198.18.1.2/24"),
            (rt, "rc0", "198.18.1.1/24"),
            (rt, "rs0", "198.18.2.1/24"),
            (s, "sv0", "198.18.2.2/24"),
        ] {
            ip(&["-n", ns, "addr", "add", cidr, "dev", dev]);
            ip(&["-n", ns, "link", "set", "dev", dev, "up"]);
        }
        ip(&["-n", c, "route", "add", "default", "via", "198.18.1.1"]);
        ip(&["-n", s, "route", "add", "default", "via", "198.18.2.1"]);
        run_in_netns(rt, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]).unwrap();
        for (ns, dev) in [(c, "cl0"), (rt, "rc0"), (rt, "rs0"), (s, "sv0")] {
            wait_up(ns, dev);
        }
        // The client checks every checksum itself, as behind a NIC without offload (a veth
        // would otherwise take a frame from a packet socket as already verified).
        run_in_netns(c, "ethtool", &["-K", "cl0", "rx", "off"]).unwrap();
        r
    }

    /// Marks the router's forwarded TCP to port 443 with 0x403 at mangle priority, as
    /// tcpreject's setup.sh does (before the Lua hook at FILTER).
    fn mark_https(&self) {
        let nft = |args: &[&str]| run_in_netns(self.router.name(), "nft", args).unwrap();
        nft(&["add", "table", "ip", "lktest"]);
        nft(&[
            "add", "chain", "ip", "lktest", "forward", "{", "type", "filter", "hook", "forward",
            "priority", "mangle", ";", "}",
        ]);
        nft(&[
            "add",
            "rule",
            "ip",
            "lktest",
            "forward",
            "ip",
            "daddr",
            Self::SERVER,
            "tcp",
            "dport",
            "443",
            "meta",
            "mark",
            "set",
            "0x403",
        ]);
    }

    /// `n` connection attempts from the client to the server's `port`: (refused, connected,
    /// other outcomes), each bounded by a second.
    fn connect(&self, port: u16, n: usize) -> (usize, usize, Vec<String>) {
        let to: SocketAddr = format!("{}:{port}", Self::SERVER).parse().unwrap();
        in_netns(self.client.name(), move || {
            let (mut refused, mut connected, mut other) = (0, 0, Vec::new());
            for _ in 0..n {
                match TcpStream::connect_timeout(&to, Duration::from_secs(1)) {
                    Ok(_) => connected += 1,
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => refused += 1,
                    Err(e) => other.push(e.to_string()),
                }
            }
            (refused, connected, other)
        })
        .unwrap()
    }
}

/// The server's listener on port 443: without the script, every connection succeeds.
fn listen(r: &Routed) -> TcpListener {
    let at = format!("{}:443", Routed::SERVER);
    in_netns(r.server.name(), move || TcpListener::bind(at))
        .unwrap()
        .unwrap()
}

/// Runs `script` on the router and checks that every marked connection attempt is refused
/// by the reset the script sent (the client counts them), and that the script dropped each
/// SYN.
fn resets_reach_the_client(script: &Path) {
    let r = Routed::create();
    let _listener = listen(&r);
    let (_, connected, other) = r.connect(443, 1);
    assert_eq!(
        (connected, &other),
        (1, &vec![]),
        "the path works without the script"
    );

    r.mark_https();
    let d = Daemon::start();
    d.run_ok(script, r.router.name(), &["--name", "rst"]);
    let (refused, connected, other) = r.connect(443, ATTEMPTS);
    let logs = stdout(&d.cli(&["logs", "rst"]));
    assert_eq!(
        (refused, connected, other),
        (ATTEMPTS, 0, vec![]),
        "every attempt refused by the script's reset\n{logs}"
    );
    let stats = d.stats_json("rst");
    let drops: u64 = stats["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["verdicts"]["DROP"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(drops, ATTEMPTS as u64, "{stats}");
}

#[test]
fn an_in_tree_tcpreject_refuses_marked_connections_with_its_forwarded_reset() {
    lunet_testkit::require_root!("namespaces, nft, NFQUEUE and a packet socket");
    resets_reach_the_client(&fixture("tcp-reset.lua"));
}

#[test]
fn lunatiks_tcpreject_runs_unchanged_and_its_reset_reaches_the_client() {
    lunet_testkit::require_root!("namespaces, nft, NFQUEUE and a packet socket");
    let Some(dir) = lunatik_dir() else { return };
    resets_reach_the_client(&dir.join("examples/tcpreject/nf_tcpreject.lua"));
}

/// A DNS answer to `query` with one A record `addr` (a name pointer to the question).
fn answer(query: &[u8], addr: [u8; 4]) -> Vec<u8> {
    let mut a = query.to_vec();
    a[2] = 0x81;
    a[3] = 0x80; // a response, recursion desired and available
    a[6..8].copy_from_slice(&1u16.to_be_bytes()); // one answer
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    a.extend_from_slice(&addr);
    a
}

/// A DNS server on the sender side answering every query with 198.18.0.77; the client on
/// the receiver side, where `script` runs at PRE_ROUTING, asks `names` and gets back the
/// address of each answer.
fn resolve_through(script: &Path, names: &[&str]) -> Vec<[u8; 4]> {
    let bed = Testbed::create().unwrap();
    let server_at = SocketAddrV4::new(bed.sender_addr(), 53);
    let server: UdpSocket = lunet_netns::udp_socket(bed.sender_ns(), server_at.into()).unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let count = names.len();
    let serving = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        let mut buf = [0u8; 512];
        while served < count && Instant::now() < deadline {
            if let Ok((n, from)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&answer(&buf[..n], [198, 18, 0, 77]), from);
                served += 1;
            }
        }
    });
    let d = Daemon::start();
    d.run_ok(script, bed.receiver_ns(), &["--name", "doctor"]);
    let client = lunet_netns::udp_socket(
        bed.receiver_ns(),
        SocketAddrV4::new(bed.receiver_addr(), 0).into(),
    )
    .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut got = Vec::new();
    for (i, name) in names.iter().enumerate() {
        client
            .send_to(&dns_query(i as u16, name), server_at)
            .unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = client.recv(&mut buf) {
            let a: [u8; 4] = buf[n - 4..n].try_into().unwrap();
            got.push(a);
        }
    }
    serving.join().unwrap();
    let logs = stdout(&d.cli(&["logs", "doctor"]));
    assert!(!logs.contains("error"), "{logs}");
    got
}

fn answers_are_doctored(script: &Path) {
    let names = ["lunatik.com", "other.com", "lunatik.com", "lunatik.com"];
    let got = resolve_through(script, &names);
    let want: Vec<[u8; 4]> = names
        .iter()
        .map(|n| {
            if *n == "lunatik.com" {
                [198, 18, 0, 99]
            } else {
                [198, 18, 0, 77]
            }
        })
        .collect();
    assert_eq!(got, want, "every answer arrives, lunatik.com's rewritten");
}

#[test]
fn an_in_tree_dnsdoctor_rewrites_answers_through_the_mac_view_and_they_are_delivered() {
    lunet_testkit::require_root!("namespaces and NFQUEUE");
    answers_are_doctored(&fixture("dns-rewrite.lua"));
}

/// Lunatik's dnsdoctor with its addresses in 198.18.0.0/15 and its offsets fixed for the
/// `mac` view it reads (it reads the IP header at offset 0 of that view, 14 bytes early);
/// each change must match exactly once, so a changed upstream file fails here, loudly.
fn patched_dnsdoctor(lunatik: &Path, into: &Path) -> PathBuf {
    let src = lunatik.join("examples/dnsdoctor");
    let mut main = std::fs::read_to_string(src.join("nf_dnsdoctor.lua")).unwrap();
    for (from, to) in [
        ("\"10.1.2.3\"", "\"198.18.0.99\""),
        ("\"10.1.1.2\"", "\"198.18.0.2\""),
        ("pkt:getuint8(0)", "pkt:getuint8(14)"),
        ("local thoff = ihl * 4", "local thoff = 14 + ihl * 4"),
        ("pkt:getuint8(9)", "pkt:getuint8(14 + 9)"),
        ("pkt:getuint32(16)", "pkt:getuint32(14 + 16)"),
    ] {
        assert_eq!(
            main.matches(from).count(),
            1,
            "`{from}` in nf_dnsdoctor.lua"
        );
        main = main.replace(from, to);
    }
    // `require("examples.dnsdoctor.common")` finds it under the script's directory.
    let common = into.join("examples/dnsdoctor");
    std::fs::create_dir_all(&common).unwrap();
    std::fs::copy(src.join("common.lua"), common.join("common.lua")).unwrap();
    write_script(into, "nf_dnsdoctor.lua", &main)
}

#[test]
fn lunatiks_dnsdoctor_with_its_addresses_and_offsets_fixed_delivers_rewritten_answers() {
    lunet_testkit::require_root!("namespaces and NFQUEUE");
    let Some(dir) = lunatik_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    answers_are_doctored(&patched_dnsdoctor(&dir, tmp.path()));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The `mac` line skb-probe.lua prints for a datagram from the sender to the receiver.
fn mac_line(bed: &Testbed) -> String {
    format!(
        "mac dst={} src={} type=0800 ifindex={} vlan=nil",
        hex(&bed.receiver_mac()),
        hex(&bed.sender_mac()),
        bed.receiver_ifindex()
    )
}

#[test]
fn live_the_mac_view_holds_the_real_ethernet_header_and_connmark_counts_in_the_kernel() {
    lunet_testkit::require_root!("namespaces, nft, NFQUEUE and ctnetlink");
    let bed = Testbed::create().unwrap();
    // Conntrack runs in a namespace once a rule needs it.
    let nft = |args: &[&str]| run_in_netns(bed.receiver_ns(), "nft", args).unwrap();
    nft(&["add", "table", "ip", "lkct"]);
    nft(&[
        "add", "chain", "ip", "lkct", "input", "{", "type", "filter", "hook", "input", "priority",
        "0", ";", "}",
    ]);
    nft(&[
        "add",
        "rule",
        "ip",
        "lkct",
        "input",
        "ct",
        "state",
        "new,established",
        "counter",
    ]);
    let d = Daemon::start();
    d.run_ok(
        &fixture("skb-probe.lua"),
        bed.receiver_ns(),
        &["--name", "probe"],
    );
    // One flow (one source port), a datagram at a time: each is through its hooks, and its
    // connection confirmed, before the next comes.
    let dst = SocketAddrV4::new(bed.receiver_addr(), 7777);
    let src = SocketAddrV4::new(bed.sender_addr(), 40000);
    let sink = UdpSink::bind(bed.receiver_ns(), dst).unwrap();
    for i in 0..4u8 {
        lunet_netns::udp_send_from(bed.sender_ns(), src, dst, &[vec![i]]).unwrap();
        let got = sink.recv_for(Duration::from_millis(800), 1).unwrap();
        assert_eq!(got, [vec![i]], "datagram {i} arrives");
    }
    let logs = stdout(&d.cli(&["logs", "probe"]));
    let lines: Vec<&str> = logs
        .lines()
        .filter_map(|l| {
            l.split_once("mac dst=")
                .map(|_| l)
                .or(l.find("connmark ").map(|_| l))
        })
        .collect();
    let macs = lines.iter().filter(|l| l.contains(&mac_line(&bed))).count();
    assert_eq!(macs, 4, "the real header of each datagram:\n{logs}");
    assert_eq!(
        logs.matches("iphdr sum=0 length=20").count(),
        4,
        "a resized buffer's checksum over a right IPv4 header:\n{logs}"
    );
    // The first datagram's connection is not confirmed yet when the hook sees it; from the
    // second on, each sees the mark the one before it set, kept by the kernel.
    let marks: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("connmark ").nth(1))
        .collect();
    assert_eq!(marks, ["nil", "0", "1", "2"], "{logs}");

    // Replay of the same frame shows the same header (a capture has it all).
    let frame = lunet_gen::packet::udp(
        bed.sender_mac(),
        bed.receiver_mac(),
        bed.sender_addr(),
        bed.receiver_addr(),
        40000,
        7777,
        &[0],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("one.pcap");
    write_pcap(&pcap, &[frame]);
    let o = lunet(&[
        "replay",
        fixture("skb-probe.lua").to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    let replayed = stdout(&o);
    let header = mac_line(&bed);
    let header = header.split(" ifindex=").next().unwrap();
    assert!(
        replayed.contains(header),
        "live and replay agree on {header}:\n{replayed}"
    );
}

/// A priority-tagged frame (802.1Q, VLAN id 0) sent raw onto the veth: the kernel takes the
/// tag off before IP sees the packet, so at LOCAL_IN `skb:vlan()` is nil, as on Lunatik (which
/// reads the skb's tag, gone by then), and the `mac` view's EtherType is IPv4's.
#[test]
fn a_tagged_frame_reaches_the_hook_untagged_as_on_lunatik() {
    lunet_testkit::require_root!("namespaces, a packet socket and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    d.run_ok(
        &fixture("skb-probe.lua"),
        bed.receiver_ns(),
        &["--name", "vlan"],
    );
    let dst = SocketAddrV4::new(bed.receiver_addr(), 7777);
    let sink = UdpSink::bind(bed.receiver_ns(), dst).unwrap();
    let plain = lunet_gen::packet::udp(
        bed.sender_mac(),
        bed.receiver_mac(),
        bed.sender_addr(),
        bed.receiver_addr(),
        40000,
        7777,
        b"tagged",
    )
    .unwrap();
    let mut tagged = plain[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x00]); // TPID, TCI: priority 0, VLAN 0
    tagged.extend_from_slice(&plain[12..]);
    let sender_if = bed.sender_ifindex();
    in_netns(bed.sender_ns(), move || {
        lunet_netfilter::LinkSocket::open()
            .unwrap()
            .send(sender_if, &tagged)
    })
    .unwrap()
    .unwrap();
    let got = sink.recv_for(Duration::from_millis(800), 1).unwrap();
    assert_eq!(got, [b"tagged".to_vec()]);
    let logs = stdout(&d.cli(&["logs", "vlan"]));
    assert!(
        logs.contains(&mac_line(&bed)),
        "{}:\n{logs}",
        mac_line(&bed)
    );
}
