//! End-to-end tests of both generators (live frames, and the packet socket used where the
//! kernel refuses them) between two private network namespaces. Need root; say why they
//! skipped and pass otherwise.
//!
//! Traffic stays inside namespaces this test creates (a `lunet_netns::Testbed`), over the veth
//! pair it creates, with addresses in 198.18.0.0/15; every loop is bounded; the namespaces are
//! deleted on Drop.

use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use lunet_bpf::insn::{op, reg::*};
use lunet_bpf::map::map_type;
use lunet_bpf::prog::{prog_type, xdp_action};
use lunet_bpf::{Insn, Map};
use lunet_gen::packet;
use lunet_gen::{attach_pass, Generator, Limit, LiveGen, SocketGen};
use lunet_netns::{in_netns, Testbed};

const PORT: u16 = 9999;

/// Runs `f` on a thread inside namespace `ns`.
fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    in_netns(ns, f).expect("enter the namespace")
}

/// A UDP socket in the receiver namespace with a large receive buffer.
fn bind_receiver(bed: &Testbed) -> UdpSocket {
    let rx = bed.receiver_addr();
    run_in(bed.receiver_ns(), move || {
        let s = UdpSocket::bind((rx, PORT)).expect("bind 198.18.0.2:9999");
        let size: libc::c_int = 32 << 20;
        // SAFETY: setsockopt on an open socket with a pointer to a live c_int and its size.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_RCVBUFFORCE: {}", io::Error::last_os_error());
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        s
    })
}

/// Reads datagrams until `want` arrived or `deadline`; counts them by payload.
fn drain(
    sock: &UdpSocket,
    from: std::net::Ipv4Addr,
    want: usize,
    deadline: Instant,
) -> HashMap<Vec<u8>, usize> {
    let mut got = HashMap::new();
    let mut total = 0;
    let mut buf = [0u8; 2048];
    while total < want && Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((n, came_from)) => {
                assert_eq!(came_from.ip(), std::net::IpAddr::V4(from));
                *got.entry(buf[..n].to_vec()).or_insert(0) += 1;
                total += 1;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("recv: {e}"),
        }
    }
    got
}

/// Makes the generator under test for the sender veth, `repeat` frames per call where the
/// generator has calls of one frame (live frames); the socket cycles frame by frame anyway.
type Make = fn(u32, u32) -> io::Result<Generator>;

#[test]
fn live_frames_reach_the_receiver_namespace() {
    lunet_testkit::require_root!("namespaces, a veth pair and bpf(2)");
    if !lunet_bpf::probe::xdp_live_frames_supported() {
        eprintln!(
            "SKIP: this kernel refuses BPF_F_TEST_XDP_LIVE_FRAMES; \
             socket_frames_reach_the_receiver_namespace covers the generator it falls back to"
        );
        return;
    }
    exercise(|ifindex, repeat| {
        let g = LiveGen::new(ifindex)?.with_repeat_per_call(repeat);
        assert!(g.anchored(), "dispatcher anchor in a private namespace");
        Ok(Generator::Live(g))
    });
}

#[test]
fn socket_frames_reach_the_receiver_namespace() {
    lunet_testkit::require_root!("namespaces, a veth pair and an AF_PACKET socket");
    exercise(|ifindex, _| Ok(Generator::Socket(SocketGen::new(ifindex)?)));
}

/// Count, mix, rate limit and throughput of one generator, counted at the receiver.
fn exercise(make: Make) {
    let bed = Testbed::create().expect("test bed");
    let (tx, rx) = (bed.sender_ns().to_string(), bed.receiver_ns().to_string());
    let (tx_ip, rx_ip) = (bed.sender_addr(), bed.receiver_addr());
    let (tx_mac, rx_mac) = (bed.sender_mac(), bed.receiver_mac());
    let (tx_if, rx_if) = (bed.sender_ifindex(), bed.receiver_ifindex());

    let pass = run_in(&rx, move || attach_pass(rx_if)).expect("XDP_PASS on receiver veth");
    let sock = bind_receiver(&bed);
    let frame =
        |payload: &[u8]| packet::udp(tx_mac, rx_mac, tx_ip, rx_ip, 40000, PORT, payload).unwrap();

    // 1. Exactly 1000 frames; at least 99% must arrive.
    let frames = vec![frame(b"lunet-gen")];
    let stats = run_in(&tx, move || {
        make(tx_if, lunet_gen::live::DEFAULT_REPEAT)?
            .run(&frames, Limit::count(1000, Duration::from_secs(10)))
    })
    .expect("generator run");
    assert_eq!(stats.sent, 1000);
    let got = drain(&sock, tx_ip, 1000, Instant::now() + Duration::from_secs(3));
    let n = got.get(&b"lunet-gen"[..]).copied().unwrap_or(0);
    eprintln!(
        "1000 frames: {n} received in the receiver namespace ({:?})",
        stats.elapsed
    );
    assert!(n >= 990, "only {n} of 1000 frames arrived");

    // 2. A mix of three frames (50 per call where calls send one frame) cycles A, B, C:
    // 100 of each.
    let mix = vec![frame(b"A"), frame(b"B"), frame(b"C")];
    let stats = run_in(&tx, move || {
        make(tx_if, 50)?.run(&mix, Limit::count(300, Duration::from_secs(10)))
    })
    .unwrap();
    assert_eq!(stats.sent, 300);
    let got = drain(&sock, tx_ip, 300, Instant::now() + Duration::from_secs(3));
    for p in [&b"A"[..], b"B", b"C"] {
        let n = got.get(p).copied().unwrap_or(0);
        assert!(n >= 99, "{n} of 100 frames {:?} arrived", p);
    }

    // 3. Rate limit: 20k pps for 0.5 s is about 10000 frames.
    let one = vec![frame(b"rate")];
    let stats = run_in(&tx, move || {
        let g = make(tx_if, lunet_gen::live::DEFAULT_REPEAT)?;
        let limit = Limit {
            duration: Duration::from_millis(500),
            max_packets: u64::MAX,
            rate_pps: Some(20_000),
        };
        g.run(&one, limit)
    })
    .unwrap();
    eprintln!(
        "rate-limited to 20000 pps: sent {} in {:?} ({:.0} pps)",
        stats.sent, stats.elapsed, stats.pps
    );
    assert!(stats.sent <= 10_100, "sent {}", stats.sent);
    assert!(stats.sent >= 5_000, "sent {}", stats.sent);
    let got = drain(
        &sock,
        tx_ip,
        stats.sent as usize,
        Instant::now() + Duration::from_secs(3),
    );
    let n = got.get(&b"rate"[..]).copied().unwrap_or(0) as u64;
    assert!(
        n * 100 >= stats.sent * 99,
        "{n} of {} paced frames arrived",
        stats.sent
    );
    drop(sock);

    // 4. Throughput (printed, not asserted), 2 s each: into a receiver XDP program that
    // counts frames in a per-CPU map and passes them to the stack (no socket on the port any
    // more), then one that counts and drops them. "sent" is what the generator handed to the
    // sender veth, "delivered" what the receiver's XDP program saw.
    drop(pass);
    for verdict in [xdp_action::PASS, xdp_action::DROP] {
        let counter = Map::create(map_type::PERCPU_ARRAY, 4, 8, 1, "lunet_gen_cnt").unwrap();
        let prog = counting_prog(&counter, verdict);
        let link = run_in(&rx, move || lunet_bpf::link_create_xdp(&prog, rx_if, 0)).unwrap();
        let f = vec![frame(b"throughput")];
        let (s, name) = run_in(&tx, move || {
            let g = make(tx_if, lunet_gen::live::DEFAULT_REPEAT)?;
            io::Result::Ok((g.run(&f, Limit::time(Duration::from_secs(2)))?, g.method()))
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(100)); // let the receiver finish its queue
        drop(link);
        let slots = counter.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
        let delivered: u64 = slots
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .sum();
        let secs = s.elapsed.as_secs_f64();
        eprintln!(
            "throughput of {}, receiver XDP_{}: sent {} in {secs:.2} s = {:.2} Mpps; delivered {} = {:.2} Mpps",
            name,
            if verdict == xdp_action::PASS { "PASS (to the stack)" } else { "DROP" },
            s.sent,
            s.pps / 1e6,
            delivered,
            delivered as f64 / secs / 1e6
        );
        // A few extra frames are the namespaces' own IPv6 neighbour discovery.
        assert!(
            delivered <= s.sent + 100,
            "delivered {delivered} > sent {}",
            s.sent
        );
    }
}

/// XDP program for the receiver: count the frame in slot 0 of a per-CPU array, return `verdict`.
fn counting_prog(counter: &Map, verdict: i32) -> lunet_bpf::ProgFd {
    let mut insns = vec![
        Insn::st_imm(op::W, R10, -4, 0),
        Insn::mov64_reg(R2, R10),
        Insn::alu64_imm(op::ADD, R2, -4),
    ];
    insns.extend(Insn::ld_map_fd(R1, counter.as_raw_fd()));
    insns.extend([
        Insn::call(1), // bpf_map_lookup_elem
        Insn::jmp_imm(op::JEQ, R0, 0, 3),
        Insn::ldx(op::DW, R1, R0, 0),
        Insn::alu64_imm(op::ADD, R1, 1),
        Insn::stx(op::DW, R0, 0, R1),
        Insn::mov64_imm(R0, verdict),
        Insn::exit(),
    ]);
    lunet_bpf::load(prog_type::XDP, &insns, "GPL", None).unwrap_or_else(|e| panic!("{e}"))
}
