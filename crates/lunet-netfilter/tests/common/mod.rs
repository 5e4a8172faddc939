//! Helpers shared by the real-rule tests: every rule and socket lives in a namespace the test
//! created (a `TempNetns` or `Testbed`), and every loop is bounded in time and count.
#![allow(dead_code)]

use lunet_netfilter::{QueueSocket, QueuedPacket, Verdict};
use lunet_netns::in_netns;
use lunet_testkit::packets;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// UDP port the tests send to.
pub const PORT: u16 = 9000;
/// Upper bound for any wait in these tests.
pub const WAIT: Duration = Duration::from_secs(5);

/// `n` payloads `<tag>000`, `<tag>001`, ...
pub fn payloads(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{tag}{i:03}").into_bytes())
        .collect()
}

/// The index at the end of a payload made by [`payloads`].
pub fn index(data: &[u8]) -> usize {
    std::str::from_utf8(&data[data.len() - 3..])
        .unwrap()
        .parse()
        .unwrap()
}

/// (destination port, UDP data) of an IPv4/UDP packet.
pub fn udp_of(ip: &[u8]) -> Option<(u16, &[u8])> {
    packets::udp4_of(ip).map(|u| (u.dst.port(), u.data))
}

/// The queued IPv4/UDP packet `ip` with the first byte of its data rewritten to `X`, built
/// anew by lunet-gen's builder (so its UDP checksum is right for the new data).
pub fn with_first_byte_x(ip: &[u8]) -> Vec<u8> {
    let (_, data) = udp_of(ip).expect("an IPv4/UDP packet");
    let mut data = data.to_vec();
    data[0] = b'X';
    packets::udp4_with_data(ip, &data).expect("an IPv4/UDP packet")
}

/// Runs a command inside `ns` and returns stdout (panics with stderr on failure).
pub fn run_in(ns: &str, prog: &str, args: &[&str]) -> String {
    let (prog, args): (String, Vec<String>) =
        (prog.into(), args.iter().map(|s| s.to_string()).collect());
    in_netns(ns, move || {
        let out = Command::new(&prog).args(&args).output().expect("spawn");
        assert!(
            out.status.success(),
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .unwrap()
}

/// Packet count of the rules in `table` (inside `ns`) whose `iptables-save` line contains
/// every string in `needles`.
pub fn counter(ns: &str, table: &str, needles: &[&str]) -> u64 {
    run_in(ns, "iptables-save", &["-c", "-t", table])
        .lines()
        .filter(|l| l.starts_with('[') && needles.iter().all(|n| l.contains(n)))
        .map(|l| l[1..l.find(':').unwrap()].parse::<u64>().unwrap())
        .sum()
}

/// What the queue consumer saw of one test packet.
#[derive(Debug, Clone)]
pub struct Seen {
    pub data: Vec<u8>,
    pub mark: u32,
    pub hook: u8,
    pub indev: u32,
    pub outdev: u32,
    pub hw_source: Option<[u8; 6]>,
    pub hw_protocol: u16,
}

/// The verdict for a test packet: (verdict, new mark, new payload).
pub type Decision = (Verdict, Option<u32>, Option<Vec<u8>>);

/// Serves `queue` on a thread: packets to UDP [`PORT`] get `decide(packet, data)`, others are
/// accepted. Stops after `expect` test packets or after `wait`, and returns what it saw.
pub fn serve<F>(
    mut queue: QueueSocket,
    expect: usize,
    wait: Duration,
    mut decide: F,
) -> JoinHandle<Vec<Seen>>
where
    F: FnMut(&QueuedPacket, &[u8]) -> Decision + Send + 'static,
{
    std::thread::spawn(move || {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while seen.len() < expect && Instant::now() < deadline {
            let Some(pkt) = queue.recv_timeout(Duration::from_millis(50)).unwrap() else {
                continue;
            };
            let Some((PORT, data)) = udp_of(pkt.payload()) else {
                queue.verdict(pkt, Verdict::Accept, None, None).unwrap();
                continue;
            };
            let data = data.to_vec();
            let (v, mark, payload) = decide(&pkt, &data);
            seen.push(Seen {
                data,
                mark: pkt.mark(),
                hook: pkt.hook_raw(),
                indev: pkt.indev(),
                outdev: pkt.outdev(),
                hw_source: pkt.hw_source(),
                hw_protocol: pkt.hw_protocol(),
            });
            queue.verdict(pkt, v, mark, payload).unwrap();
        }
        seen
    })
}
