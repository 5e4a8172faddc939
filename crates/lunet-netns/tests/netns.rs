//! Real namespaces, a real veth pair and real datagrams (root only; skips otherwise).

use lunet_netns::{
    current_netns_id, in_netns, run_in_netns, udp_send, TempNetns, Testbed, UdpSink,
};
use std::net::SocketAddrV4;
use std::process::Command;
use std::time::Duration;

fn netns_list() -> String {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("run ip netns list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listed(name: &str) -> bool {
    netns_list()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn temp_netns_is_entered_and_deleted() {
    lunet_testkit::require_root!("network namespaces");
    let host = current_netns_id().unwrap();
    let ns = TempNetns::create("ltt").unwrap();
    let name = ns.name().to_owned();
    assert!(name.len() <= 15, "{name}");
    assert!(ns.path().exists());
    assert!(listed(&name));
    let inside = in_netns(&name, || current_netns_id().unwrap()).unwrap();
    assert_ne!(inside, host, "the thread did not change namespace");
    assert_eq!(
        current_netns_id().unwrap(),
        host,
        "the calling thread must stay put"
    );
    // lo is up inside, so loopback traffic works.
    let lo = UdpSink::bind(&name, "127.0.0.1:9100".parse().unwrap()).unwrap();
    udp_send(&name, "127.0.0.1:9100".parse().unwrap(), &[b"x".to_vec()]).unwrap();
    assert_eq!(
        lo.recv_for(Duration::from_secs(2), 1).unwrap(),
        vec![b"x".to_vec()]
    );
    drop(lo);
    drop(ns);
    assert!(!listed(&name), "{name} still listed: {}", netns_list());
}

#[test]
fn testbed_carries_udp_and_is_deleted() {
    lunet_testkit::require_root!("network namespaces and a veth pair");
    let tb = Testbed::create().unwrap();
    let (s, r) = (tb.sender_ns().to_owned(), tb.receiver_ns().to_owned());
    assert!(tb.sender_ifindex() > 1 && tb.receiver_ifindex() > 1);
    assert_eq!(tb.receiver_addr().to_string(), "198.18.0.2");
    // Two locally administered unicast addresses (veth makes random ones), one per end.
    assert_ne!(tb.sender_mac(), tb.receiver_mac());
    for mac in [tb.sender_mac(), tb.receiver_mac()] {
        assert_eq!(mac[0] & 0x03, 0x02, "{mac:02x?}");
    }

    // The veth ends live only in the two namespaces, never in the host's.
    let host_links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let host_links = String::from_utf8_lossy(&host_links.stdout);
    assert!(!host_links.contains(tb.sender_if()) && !host_links.contains(tb.receiver_if()));

    let dst = SocketAddrV4::new(tb.receiver_addr(), 9000);
    let sink = UdpSink::bind(&r, dst).unwrap();
    let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![b'p', i]).collect();
    assert_eq!(udp_send(&s, dst, &payloads).unwrap(), 10);
    let mut got = sink.recv_for(Duration::from_secs(3), 10).unwrap();
    // Nothing beyond the ten (a short extra wait catches duplicates).
    got.extend(sink.recv_for(Duration::from_millis(200), 10).unwrap());
    assert_eq!(got.len(), 10, "{got:?}");
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, payloads);

    drop(sink);
    drop(tb);
    assert!(
        !listed(&s) && !listed(&r),
        "namespaces left: {}",
        netns_list()
    );
}

#[test]
fn traffic_to_other_addresses_is_refused() {
    lunet_testkit::require_root!("network namespaces");
    let ns = TempNetns::create("ltt").unwrap();
    let e = udp_send(ns.name(), "192.0.2.1:9".parse().unwrap(), &[vec![0]]).unwrap_err();
    assert!(e.to_string().contains("outside 198.18.0.0/15"), "{e}");
    assert!(UdpSink::bind(ns.name(), "10.1.2.3:9".parse().unwrap()).is_err());
}

#[test]
fn a_program_run_in_a_namespace_sees_its_devices_and_a_failure_names_it() {
    lunet_testkit::require_root!("network namespaces");
    let ns = TempNetns::create("ltr").unwrap();
    let links = run_in_netns(ns.name(), "ip", &["-o", "link", "show"]).unwrap();
    assert_eq!(
        links.lines().count(),
        1,
        "a new namespace has only lo: {links}"
    );
    assert!(links.contains(": lo:"), "{links}");
    let e = run_in_netns(ns.name(), "ip", &["link", "show", "dev", "nosuchdev"]).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with("`ip link show dev nosuchdev` failed ("),
        "{e}"
    );
}
