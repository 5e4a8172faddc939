//! Tests against the real kernel. They need root; without it each says why it skipped and passes.

use std::io;
use std::path::{Path, PathBuf};

use lunet_bpf::insn::{op, reg::*};
use lunet_bpf::map::{map_type, update_flags};
use lunet_bpf::prog::{attach_type, prog_type, xdp_action};
use lunet_bpf::{pin, probe, Insn, Map};
use lunet_types::{Family, Hook};

fn packet64() -> Vec<u8> {
    (0..64u8).collect()
}

#[test]
fn xdp_pass_program_runs_and_returns_2() {
    lunet_testkit::require_root!("bpf(2)");
    let insns = [Insn::mov64_imm(R0, xdp_action::PASS), Insn::exit()];
    let p = lunet_bpf::load(prog_type::XDP, &insns, "GPL", None).expect("load");
    let data = packet64();
    let r = lunet_bpf::test_run(&p, &data, 1, None, 0, 0).expect("test_run");
    assert_eq!(r.retval, 2);
    assert_eq!(r.data_out, data, "XDP_PASS leaves the packet as it was");
}

#[test]
fn verifier_rejection_keeps_errno_and_log() {
    lunet_testkit::require_root!("bpf(2)");
    // `exit` with r0 never written.
    let err = lunet_bpf::load(prog_type::XDP, &[Insn::exit()], "GPL", None).unwrap_err();
    assert_eq!(err.errno, libc::EACCES, "{err}");
    assert!(err.log.contains("R0"), "log: {}", err.log);
    assert!(!err.log_truncated);
    let io: io::Error = err.into();
    assert_eq!(io.kind(), io::ErrorKind::PermissionDenied, "EACCES's kind");
    assert!(
        io.to_string().contains("R0"),
        "the io::Error still carries the log"
    );
}

#[test]
fn the_verifiers_statistics_name_the_instructions_it_processed() {
    lunet_testkit::require_root!("bpf(2)");
    let opts = |insns| lunet_bpf::LoadOptions {
        prog_type: prog_type::XDP,
        insns,
        license: "GPL",
        expected_attach_type: None,
        name: "",
    };
    let pass = [Insn::mov64_imm(R0, xdp_action::PASS), Insn::exit()];
    let (r, log) = lunet_bpf::prog::verifier_log(&opts(&pass), 4, 1 << 16);
    assert!(r.is_ok(), "{r:?}");
    let stats = log.lines().find(|l| l.starts_with("processed"));
    assert!(
        stats.is_some_and(|l| l.starts_with("processed 2 insns")),
        "BPF_LOG_STATS: {log}"
    );
    let (r, log) = lunet_bpf::prog::verifier_log(&opts(&[Insn::exit()]), 1, 1 << 16);
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EACCES));
    assert!(log.contains("R0"), "level 1 says why: {log}");
}

#[test]
fn map_round_trip() {
    lunet_testkit::require_root!("bpf(2)");
    let m = Map::create(map_type::HASH, 4, 8, 16, "lunet_test").expect("create");
    let k1 = 7u32.to_ne_bytes();
    let k2 = 9u32.to_ne_bytes();
    assert_eq!(m.lookup(&k1).unwrap(), None);
    m.update(&k1, &100u64.to_ne_bytes(), update_flags::ANY)
        .unwrap();
    m.update(&k2, &200u64.to_ne_bytes(), update_flags::NOEXIST)
        .unwrap();
    let again = m.update(&k2, &1u64.to_ne_bytes(), update_flags::NOEXIST);
    assert_eq!(again.unwrap_err().raw_os_error(), Some(libc::EEXIST));
    assert_eq!(m.lookup(&k1).unwrap(), Some(100u64.to_ne_bytes().to_vec()));
    let mut keys = m.keys().unwrap();
    keys.sort();
    let mut want = vec![k1.to_vec(), k2.to_vec()];
    want.sort();
    assert_eq!(keys, want);
    assert!(m.delete(&k1).unwrap());
    assert!(!m.delete(&k1).unwrap());
    assert_eq!(m.lookup(&k1).unwrap(), None);
    assert_eq!(m.next_key(None).unwrap(), Some(k2.to_vec()));
    assert_eq!(m.next_key(Some(&k2)).unwrap(), None);
}

/// XDP program counting its runs in an array map: exercises `ld_map_fd`, a helper call, the
/// null check and memory access, and reading the map back from userspace.
#[test]
fn program_updates_map_through_ld_map_fd() {
    lunet_testkit::require_root!("bpf(2)");
    let m = Map::create(map_type::ARRAY, 4, 8, 1, "lunet_cnt").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&m);
    let mut insns = vec![Insn::st_imm(op::W, R10, -4, 0), Insn::mov64_reg(R2, R10)];
    insns.push(Insn::alu64_imm(op::ADD, R2, -4));
    insns.extend(Insn::ld_map_fd(R1, fd));
    insns.extend([
        Insn::call(1), // bpf_map_lookup_elem
        Insn::jmp_imm(op::JEQ, R0, 0, 3),
        Insn::ldx(op::DW, R1, R0, 0),
        Insn::alu64_imm(op::ADD, R1, 1),
        Insn::stx(op::DW, R0, 0, R1),
        Insn::mov64_imm(R0, xdp_action::DROP),
        Insn::exit(),
    ]);
    let p = lunet_bpf::load(prog_type::XDP, &insns, "GPL", None).unwrap_or_else(|e| panic!("{e}"));
    let r = lunet_bpf::test_run(&p, &packet64(), 5, None, 0, 0).unwrap();
    assert_eq!(r.retval, xdp_action::DROP as u32);
    assert_eq!(
        m.lookup(&0u32.to_ne_bytes()).unwrap(),
        Some(5u64.to_ne_bytes().to_vec())
    );
}

/// Removes the test's bpffs directory (and the pins in it) even when the test fails.
struct PinDir(PathBuf);
impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pin_and_reopen_under_bpffs() {
    lunet_testkit::require_root!("bpf(2)");
    pin::ensure_bpffs().expect("bpffs");
    assert!(pin::is_bpffs(Path::new(pin::BPFFS)).unwrap());
    let dir = PinDir(PathBuf::from(format!(
        "{}/lunet-test-{}",
        pin::BPFFS,
        std::process::id()
    )));
    std::fs::create_dir(&dir.0).unwrap();

    let m = Map::create(map_type::HASH, 4, 4, 4, "lunet_pin").unwrap();
    m.update(&1u32.to_ne_bytes(), &42u32.to_ne_bytes(), 0)
        .unwrap();
    let map_path = dir.0.join("map");
    pin::pin(&m, &map_path).unwrap();
    drop(m); // the pin keeps the map alive
    let m2 = Map::from_fd(pin::get(&map_path).unwrap()).unwrap();
    assert_eq!((m2.map_type(), m2.key_size(), m2.value_size()), (1, 4, 4));
    assert_eq!(
        m2.lookup(&1u32.to_ne_bytes()).unwrap(),
        Some(42u32.to_ne_bytes().to_vec())
    );

    let p = lunet_bpf::load(
        prog_type::XDP,
        &[Insn::mov64_imm(R0, 2), Insn::exit()],
        "GPL",
        None,
    )
    .unwrap();
    let prog_path = dir.0.join("prog");
    pin::pin(&p, &prog_path).unwrap();
    let p2 = lunet_bpf::ProgFd::from_owned(pin::get(&prog_path).unwrap());
    assert_eq!(
        lunet_bpf::test_run(&p2, &packet64(), 1, None, 0, 0)
            .unwrap()
            .retval,
        2
    );

    pin::unpin(&map_path).unwrap();
    pin::unpin(&prog_path).unwrap();
    assert!(pin::get(&map_path).is_err());
}

/// Runs `f` on a new thread inside a fresh, private network namespace (unshare(2)); the
/// namespace disappears when the thread ends and nothing else holds it.
fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(CLONE_NEWNET) only changes this (new, single-purpose) thread's
        // network namespace; no memory is involved.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "unshare: {}", io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread panicked")
}

#[test]
fn xdp_and_netfilter_links_attach_and_detach() {
    lunet_testkit::require_root!("bpf(2)");
    in_private_netns(|| {
        let lo = lunet_bpf::ifindex("lo").unwrap();
        let p = lunet_bpf::load(
            prog_type::XDP,
            &[Insn::mov64_imm(R0, 2), Insn::exit()],
            "GPL",
            None,
        )
        .unwrap();
        let link = lunet_bpf::link_create_xdp(&p, lo, 0).expect("xdp link on lo");
        // A second link on the same device is refused while the first lives...
        assert!(lunet_bpf::link_create_xdp(&p, lo, 0).is_err());
        drop(link);
        // ...and accepted once it was dropped (Drop detached the program).
        let _again = lunet_bpf::link_create_xdp(&p, lo, 0).expect("re-attach after drop");

        let nfp = lunet_bpf::load(
            prog_type::NETFILTER,
            &[Insn::mov64_imm(R0, 1), Insn::exit()],
            "GPL",
            Some(attach_type::NETFILTER),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let _l = lunet_bpf::link_create_netfilter(&nfp, Family::Ipv4, Hook::LocalIn, -100, 0)
            .expect("netfilter link");
    });
}

#[test]
fn probes_find_this_kernels_features() {
    lunet_testkit::require_root!("bpf(2)");
    assert!(probe::xdp_supported());
    assert!(probe::netfilter_prog_supported());
    // Live frames are a kernel choice, not a given: a 6.18 build of this project's machine
    // kind refuses them (EPERM) while every other XDP test run works; lunet-gen then sends
    // through a packet socket. Said, not asserted.
    if !probe::xdp_live_frames_supported() {
        eprintln!("note: this kernel refuses BPF_F_TEST_XDP_LIVE_FRAMES");
    }
    // A made-up program type is not supported.
    assert!(!probe::prog_type_supported(999, None, "GPL", 0));
}

/// An XDP program that reserves 16 bytes of `ring` and discards them, then writes the
/// packet's first 8 bytes as a record with `bpf_ringbuf_output`: PASS when the output
/// succeeded, DROP when the ring was full.
fn ring_writer(ring: &lunet_bpf::RingBuf) -> lunet_bpf::ProgFd {
    use std::os::fd::AsRawFd;
    const RINGBUF_OUTPUT: i32 = 130;
    const RINGBUF_RESERVE: i32 = 131;
    const RINGBUF_DISCARD: i32 = 133;
    let fd = ring.as_raw_fd();
    let mut insns = vec![
        Insn::ldx(op::W, R6, R1, 0), // data
        Insn::ldx(op::W, R7, R1, 4), // data_end
        Insn::mov64_reg(R0, R6),
        Insn::alu64_imm(op::ADD, R0, 8),
        Insn::jmp_reg(op::JGT, R0, R7, 1),
        Insn::ja(2),
        Insn::mov64_imm(R0, xdp_action::ABORTED),
        Insn::exit(),
        Insn::ldx(op::DW, R8, R6, 0),
    ];
    insns.extend(Insn::ld_map_fd(R1, fd));
    insns.extend([
        Insn::mov64_imm(R2, 16),
        Insn::mov64_imm(R3, 0),
        Insn::call(RINGBUF_RESERVE),
        Insn::jmp_imm(op::JEQ, R0, 0, 3),
        Insn::mov64_reg(R1, R0),
        Insn::mov64_imm(R2, 0),
        Insn::call(RINGBUF_DISCARD),
        Insn::stx(op::DW, R10, -8, R8),
    ]);
    insns.extend(Insn::ld_map_fd(R1, fd));
    insns.extend([
        Insn::mov64_reg(R2, R10),
        Insn::alu64_imm(op::ADD, R2, -8),
        Insn::mov64_imm(R3, 8),
        Insn::mov64_imm(R4, 0),
        Insn::call(RINGBUF_OUTPUT),
        Insn::mov64_reg(R1, R0),
        Insn::mov64_imm(R0, xdp_action::PASS),
        Insn::jmp_imm(op::JEQ, R1, 0, 1),
        Insn::mov64_imm(R0, xdp_action::DROP),
        Insn::exit(),
    ]);
    lunet_bpf::load(prog_type::XDP, &insns, "GPL", None)
        .unwrap_or_else(|e| panic!("load: {e}\n{}", e.log))
}

fn numbered(i: u64) -> Vec<u8> {
    let mut p = i.to_ne_bytes().to_vec();
    p.resize(64, 0);
    p
}

#[test]
fn ring_buffer_records_arrive_in_order_across_many_wraps() {
    lunet_testkit::require_root!("bpf(2)");
    let page = 4096u32.max(lunet_bpf::sys::page_size() as u32);
    let mut ring = lunet_bpf::RingBuf::create(page, "lunet_test_rb").expect("create");
    let prog = ring_writer(&ring);
    assert!(!ring.wait(Some(std::time::Duration::ZERO)).unwrap());
    // 16 bytes per record (and 24 discarded): a 4 KiB page holds about 100, so 2000 records
    // wrap the area many times; records are read every 37.
    let mut got: Vec<u64> = Vec::new();
    for i in 0..2000u64 {
        let r = lunet_bpf::test_run(&prog, &numbered(i), 1, None, 0, 0).expect("test_run");
        assert_eq!(r.retval, xdp_action::PASS as u32, "record {i} fit");
        if i % 37 == 36 {
            assert!(ring.wait(Some(std::time::Duration::ZERO)).unwrap());
            ring.consume(|p| got.push(u64::from_ne_bytes(p.try_into().unwrap())));
        }
    }
    ring.consume(|p| got.push(u64::from_ne_bytes(p.try_into().unwrap())));
    assert_eq!(got, (0..2000).collect::<Vec<u64>>());
    assert_eq!(ring.pending(), 0);
    assert!(!ring.wait(Some(std::time::Duration::ZERO)).unwrap());
}

#[test]
fn a_full_ring_buffer_refuses_records_until_read() {
    lunet_testkit::require_root!("bpf(2)");
    let page = 4096u32.max(lunet_bpf::sys::page_size() as u32);
    let mut ring = lunet_bpf::RingBuf::create(page, "lunet_test_rb").expect("create");
    let prog = ring_writer(&ring);
    let mut kept = 0u64;
    let mut refused = 0u64;
    // 40 bytes of ring per run (a discarded record holds its space until read past).
    for i in 0..page as u64 / 40 + 100 {
        match lunet_bpf::test_run(&prog, &numbered(i), 1, None, 0, 0)
            .unwrap()
            .retval
        {
            2 => kept += 1,
            _ => refused += 1,
        }
    }
    assert!(kept > 0 && refused > 0, "kept {kept}, refused {refused}");
    let mut got = Vec::new();
    assert_eq!(
        ring.consume(|p| got.push(u64::from_ne_bytes(p.try_into().unwrap()))),
        kept as usize
    );
    assert_eq!(got, (0..kept).collect::<Vec<u64>>(), "the first ones stay");
    let r = lunet_bpf::test_run(&prog, &numbered(7), 1, None, 0, 0).unwrap();
    assert_eq!(r.retval, 2, "read space is free again");
}

#[test]
fn ring_buffer_maps_only_the_consumer_page_writable() {
    lunet_testkit::require_root!("bpf(2)");
    let ring = lunet_bpf::RingBuf::create(
        4096u32.max(lunet_bpf::sys::page_size() as u32),
        "lunet_test_rb",
    )
    .expect("create");
    use std::os::fd::AsFd;
    let page = lunet_bpf::sys::page_size();
    let e = lunet_bpf::sys::mmap_shared(ring.as_fd(), page, page, true).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    let not_ring = Map::create(map_type::ARRAY, 4, 8, 1, "lunet_test").unwrap();
    assert!(lunet_bpf::RingBuf::new(not_ring).is_err());
}
