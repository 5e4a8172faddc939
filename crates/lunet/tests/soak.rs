//! A soak: a couple of minutes of numbered traffic on two ports, one filtered by a Lua-tier
//! hook and one by a compiled XDP hook, while the scripts are reloaded, the Lua state is
//! stopped and started again, and the daemon is killed with SIGKILL and restarted. Every
//! packet is accounted for: each arrived or not exactly as one of the versions in force
//! around its time says, versions taking over in the order they were put in place (issue #14
//! item 7). `LUNET_SOAK_SECS` sets the length (default 120).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

const NF_PORT: u16 = 7100;
const XDP_PORT: u16 = 7200;
/// Datagrams per second on each port.
const RATE: u64 = 2000;

/// What was in force for a stretch of the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Version {
    /// A script dropping `seq % 3 == r`.
    Drops(u32),
    /// No filter: the state stopped (its queue drained with its hooks' default verdict,
    /// ACCEPT), or its daemon dead and its queue bypassed.
    PassAll,
    /// The packets waiting in a queue when its daemon was killed: the kernel drops them with
    /// the queue, so they are lost or, if they got through, passed. At most [`IN_FLIGHT`].
    Killed,
}

/// Packets a killed daemon's queue may have held (a few milliseconds of the stream).
const IN_FLIGHT: u32 = 200;

fn explains(v: Version, seq: u32, arrived: bool) -> bool {
    match v {
        Version::Drops(r) => arrived == (seq % 3 != r),
        Version::PassAll => arrived,
        Version::Killed => true,
    }
}

fn nf_script(rest: u32) -> String {
    format!(
        r#"local netfilter = require("netfilter")
local nf = require("linux").nf
local b = require("byteorder")
netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, name = "seq", hook = function(skb)
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  if skb:getuint8(9) ~= 17 or b.ntoh16(skb:getuint16(ihl + 2)) ~= {NF_PORT} then return nf.action.ACCEPT end
  if b.ntoh32(skb:getuint32(ihl + 8)) % 3 == {rest} then return nf.action.DROP end
  return nf.action.ACCEPT
end }}
"#
    )
}

fn xdp_script(rest: u32) -> String {
    format!(
        r#"local xdp = require("xdp")
local b = require("byteorder")
xdp.attach(function(p)
  if #p < 42 or b.ntoh16(p:getuint16(12)) ~= 0x0800 or p:getuint8(23) ~= 17 then return xdp.action.PASS end
  local ihl = (p:getuint8(14) & 0x0f) * 4
  local udp = 14 + ihl
  if #p < udp + 12 or b.ntoh16(p:getuint16(udp + 2)) ~= {XDP_PORT} then return xdp.action.PASS end
  if b.ntoh32(p:getuint32(udp + 8)) % 3 == {rest} then return xdp.action.DROP end
  return xdp.action.PASS
end, {{ name = "seq" }})
"#
    )
}

/// Checks that `arrived` (of `0..sent`) is what the `versions`, in order, explain: each
/// packet consistent with the version in force, which moves on only when a packet needs it
/// (the earliest version that explains a packet is never later than the one that judged it).
/// Gives how far it got.
fn explained(arrived: &BTreeSet<u32>, sent: u32, versions: &[Version], what: &str) -> usize {
    let mut at = 0;
    let mut in_flight = 0;
    for seq in 0..sent {
        let fate = arrived.contains(&seq);
        if versions[at] == Version::Killed {
            in_flight += 1;
        }
        while !explains(versions[at], seq, fate)
            || (versions[at] == Version::Killed && in_flight > IN_FLIGHT)
        {
            at += 1;
            in_flight = 0;
            assert!(
                at < versions.len(),
                "{what}: packet {seq} {} and no version from #{} on explains it ({versions:?})",
                if fate {
                    "arrived"
                } else {
                    "was lost or dropped"
                },
                at - 1
            );
        }
    }
    at
}

/// Sets the socket's receive buffer past the system's maximum (root's SO_RCVBUFFORCE).
fn force_recv_buffer(sink: &UdpSink, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a socket this test owns, with a pointer to a live c_int.
    let r = unsafe {
        libc::setsockopt(
            sink.socket().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
}

/// UDP datagrams dropped because a socket's buffer was full, in namespace `ns`
/// (`RcvbufErrors` of /proc/net/snmp).
fn udp_rcvbuf_errors(ns: &str) -> u64 {
    lunet_netns::in_netns(ns, || {
        let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
        let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == "RcvbufErrors")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    })
    .unwrap()
}

/// What happened to each residue in blocks of 50 packets, where it changes: `.` all arrived,
/// `D` all dropped, `p` some lost (for `LUNET_SOAK_DEBUG`).
fn fates(arrived: &BTreeSet<u32>, total: u32) -> String {
    let mut line = String::new();
    let mut last = String::new();
    for blk in 0..total / 50 {
        let mut miss = [0u32; 3];
        for seq in blk * 50..(blk + 1) * 50 {
            if !arrived.contains(&seq) {
                miss[(seq % 3) as usize] += 1;
            }
        }
        let tag: String = miss
            .iter()
            .map(|&m| match m {
                0 => '.',
                16 | 17 => 'D',
                _ => 'p',
            })
            .collect();
        if tag != last {
            line.push_str(&format!(" @{}:{tag}", blk * 50));
            last = tag;
        }
    }
    line
}

#[test]
fn soak_with_reloads_stops_and_a_daemon_kill_loses_nothing() {
    lunet_testkit::require_root!("namespaces, XDP, netfilter rules and NFQUEUE");
    let secs: u64 = std::env::var("LUNET_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    let nf: Vec<_> = (0..3)
        .map(|r| write_script(d.dir.path(), &format!("nf{r}.lua"), &nf_script(r)))
        .collect();
    let xdp: Vec<_> = (0..3)
        .map(|r| write_script(d.dir.path(), &format!("xdp{r}.lua"), &xdp_script(r)))
        .collect();
    d.run_ok(&nf[0], bed.receiver_ns(), &["--name", "lua"]);
    d.run_ok(
        &xdp[0],
        bed.receiver_ns(),
        &["--name", "kern", "--dev", bed.receiver_if()],
    );
    let mut nf_versions = vec![Version::Drops(0)];
    let mut xdp_versions = vec![Version::Drops(0)];

    // The stream: both ports, paced, numbered, for `secs`.
    let total = (secs * RATE) as u32;
    let done = Arc::new(AtomicBool::new(false));
    let sinks: Vec<_> = [NF_PORT, XDP_PORT]
        .into_iter()
        .map(|port| {
            let sink = UdpSink::bind(
                bed.receiver_ns(),
                SocketAddrV4::new(bed.receiver_addr(), port),
            )
            .unwrap();
            // Room for seconds of the stream: this test's receiver may be descheduled for a
            // while on a loaded machine, and what it drops must not pass for lunet's losses.
            force_recv_buffer(&sink, 64 << 20);
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(secs + 5);
                sink.recv_until(deadline, total as usize).unwrap()
            })
        })
        .collect();
    let sender = {
        let sock = lunet_netns::udp_socket(bed.sender_ns(), "0.0.0.0:0".parse().unwrap()).unwrap();
        let to = |port| SocketAddrV4::new(bed.receiver_addr(), port);
        let (a, b) = (to(NF_PORT), to(XDP_PORT));
        let done = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            for seq in 0..total {
                let due = start + Duration::from_micros(seq as u64 * 1_000_000 / RATE);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let mut p = seq.to_be_bytes().to_vec();
                p.extend_from_slice(&[0; 28]);
                sock.send_to(&p, a).unwrap();
                sock.send_to(&p, b).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    // The events, spread over the run, until the stream ends.
    let step = Duration::from_secs(secs / 12).max(Duration::from_secs(2));
    let mut round = 0u32;
    while !done.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        if done.load(Ordering::SeqCst) {
            break;
        }
        round += 1;
        let r = round % 3;
        if std::env::var_os("LUNET_SOAK_DEBUG").is_some() {
            eprintln!("event {round} kind {}", round % 4);
        }
        match round % 4 {
            1 | 3 => {
                for (name, scripts, versions) in [
                    ("lua", &nf, &mut nf_versions),
                    ("kern", &xdp, &mut xdp_versions),
                ] {
                    let o = d.cli(&["reload", name, scripts[r as usize].to_str().unwrap()]);
                    assert!(o.status.success(), "reload {name}: {}", text(&o));
                    versions.push(Version::Drops(r));
                }
            }
            2 => {
                assert!(d.cli(&["stop", "lua"]).status.success());
                nf_versions.push(Version::PassAll);
                d.run_ok(&nf[r as usize], bed.receiver_ns(), &["--name", "lua"]);
                nf_versions.push(Version::Drops(r));
            }
            _ => {
                d.kill();
                // The Lua tier's queue has no reader: bypass passes its packets, but those it
                // held are gone; its rule queues the XDP port's packets too.
                let last_xdp = *xdp_versions.last().unwrap();
                nf_versions.extend([Version::Killed, Version::PassAll]);
                xdp_versions.extend([Version::Killed, last_xdp]);
                std::thread::sleep(Duration::from_millis(500));
                d.spawn();
                let list: serde_json::Value =
                    serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
                assert_eq!(
                    list.as_array().map(Vec::len),
                    Some(2),
                    "both restored: {list}"
                );
                // Both come back with the script they had.
                let last = *nf_versions
                    .iter()
                    .rev()
                    .find(|v| matches!(v, Version::Drops(_)))
                    .unwrap();
                nf_versions.push(last);
            }
        }
    }
    sender.join().unwrap();
    let arrived: Vec<BTreeSet<u32>> = sinks
        .into_iter()
        .map(|s| {
            s.join()
                .unwrap()
                .iter()
                .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
                .collect()
        })
        .collect();
    if std::env::var_os("LUNET_SOAK_DEBUG").is_some() {
        arrived
            .iter()
            .for_each(|a| eprintln!("{}", fates(a, total)));
    }
    let overflowed = udp_rcvbuf_errors(bed.receiver_ns());
    assert_eq!(
        overflowed, 0,
        "the test's own receiver fell behind: its sockets dropped {overflowed} datagrams"
    );
    let nf_at = explained(&arrived[0], total, &nf_versions, "Lua tier");
    let xdp_at = explained(&arrived[1], total, &xdp_versions, "XDP");
    eprintln!(
        "{total} packets a port over {secs} s, {round} events; Lua tier through {} of {} versions, XDP through {} of {}",
        nf_at + 1,
        nf_versions.len(),
        xdp_at + 1,
        xdp_versions.len()
    );
    assert!(round >= 4, "every kind of event happened");
    assert!(d.cli(&["stop", "lua"]).status.success());
    assert!(d.cli(&["stop", "kern"]).status.success());
    assert!(lunet_rules(bed.receiver_ns()).is_empty());
}
