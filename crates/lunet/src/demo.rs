//! `lunet demo`: the whole path on one screen. Two fresh network namespaces joined by a veth
//! pair (198.18.0.1 -> 198.18.0.2), the built-in port filter running in the receiver's, real UDP
//! datagrams to four ports, and a table of what was sent, what arrived and why. Everything it
//! makes is removed when it ends, on error and on Ctrl-C too (drop guards; Ctrl-C only ends
//! the wait early).

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lunet_lua::Limits;
use lunet_netns::{udp_send, Testbed, UdpSink};
use lunet_types::Tier;

use crate::exit::{require_root, Failure};
use lunet_runtime::runner::{self, RunSpec, Running};

/// The script the demo runs: the port-filter example, built in.
const SCRIPT: &str = include_str!("../../../examples/port-filter.lua");
const PORTS: [u16; 4] = [53, 9, 8080, 7777];

pub fn run(count: usize) -> Result<(), Failure> {
    require_root("lunet demo")?;
    let count = count.clamp(1, 10_000);
    // Without the handler Ctrl-C cannot end the wait early; the demo runs all the same.
    let quit = crate::signal::quit_flag().unwrap_or_default();
    let dir = tempfile_dir()?;
    let script = dir.join("port-filter.lua");
    std::fs::write(&script, SCRIPT)?;
    let result = demo(count, &script, &quit);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, Failure> {
    let dir = std::env::temp_dir().join(format!("lunet-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn demo(count: usize, script: &std::path::Path, quit: &AtomicBool) -> Result<(), Failure> {
    let bed = Testbed::create()
        .map_err(|e| Failure::internal(format!("cannot create the demo namespaces: {e}")))?;
    println!(
        "namespaces {} ({}) -> {} ({}), joined by a veth pair",
        bed.sender_ns(),
        bed.sender_addr(),
        bed.receiver_ns(),
        bed.receiver_addr()
    );
    let spec = RunSpec {
        name: "demo".into(),
        script: script.to_path_buf(),
        netns: Some(bed.receiver_ns().to_string()),
        dev: None,
        tier: Tier::Auto,
        limits: Limits::default(),
        copies: 1,
        cpu_list: Vec::new(),
        pin_dir: std::path::Path::new(runner::PIN_ROOT)
            .join(format!("demo-{}", std::process::id())),
        path: Vec::new(),
    };
    let running = Running::start(spec)?;
    println!(
        "running the built-in port filter (examples/port-filter.lua) in {}:",
        bed.receiver_ns()
    );
    crate::show::started(&running.report(), false);

    let sinks = PORTS
        .iter()
        .map(|&p| UdpSink::bind(bed.receiver_ns(), SocketAddrV4::new(bed.receiver_addr(), p)))
        .collect::<std::io::Result<Vec<_>>>()?;
    println!(
        "\nsending {count} UDP datagrams to each of ports {PORTS:?} from {}",
        bed.sender_ns()
    );
    for &p in &PORTS {
        if quit.load(Ordering::SeqCst) {
            break;
        }
        let payloads: Vec<Vec<u8>> = (0..count)
            .map(|i| format!("lunet demo {p} #{i}").into_bytes())
            .collect();
        udp_send(
            bed.sender_ns(),
            SocketAddrV4::new(bed.receiver_addr(), p),
            &payloads,
        )?;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut received = Vec::new();
    for s in &sinks {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(50));
        received.push(if quit.load(Ordering::SeqCst) {
            0
        } else {
            s.recv_for(left, count)?.len()
        });
    }

    println!("\n{:>6} {:>6} {:>9}  verdict", "PORT", "SENT", "RECEIVED");
    let reasons: Vec<String> = running.log.since(0).into_iter().map(|l| l.text).collect();
    for (p, got) in PORTS.iter().zip(&received) {
        let why = reasons
            .iter()
            .find(|r| r.contains(&format!("port {p}:")))
            .map(|r| format!("dropped by the script: {r}"))
            .unwrap_or_else(|| "accepted by the script".into());
        println!("{p:>6} {count:>6} {got:>9}  {why}");
    }
    println!();
    crate::show::stats(&running.stats(), false);
    running.stop();
    drop(bed);
    println!("\nremoved the rules, queues and namespaces the demo made");
    if quit.load(Ordering::SeqCst) {
        println!("(interrupted)");
    }
    Ok(())
}
