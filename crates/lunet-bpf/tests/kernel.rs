//! Tests against the real kernel. They need root; without it each prints `SKIP:` and passes.

use std::io;
use std::path::{Path, PathBuf};

use lunet_bpf::insn::{op, reg::*};
use lunet_bpf::link::nf;
use lunet_bpf::map::{map_type, update_flags};
use lunet_bpf::prog::{attach_type, prog_type, xdp_action};
use lunet_bpf::{pin, probe, Insn, Map};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2)) // effective uid
                == Some("0")
        })
        .unwrap_or(false)
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIP: needs root for bpf(2)");
            return;
        }
    };
}

fn packet64() -> Vec<u8> {
    (0..64u8).collect()
}

#[test]
fn xdp_pass_program_runs_and_returns_2() {
    require_root!();
    let insns = [Insn::mov64_imm(R0, xdp_action::PASS), Insn::exit()];
    let p = lunet_bpf::load(prog_type::XDP, &insns, "GPL", None).expect("load");
    let data = packet64();
    let r = lunet_bpf::test_run(&p, &data, 1, None, 0, 0).expect("test_run");
    assert_eq!(r.retval, 2);
    assert_eq!(r.data_out, data, "XDP_PASS leaves the packet as it was");
}

#[test]
fn verifier_rejection_keeps_errno_and_log() {
    require_root!();
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
fn map_round_trip() {
    require_root!();
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
    require_root!();
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
    require_root!();
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
    require_root!();
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
        let _l = lunet_bpf::link_create_netfilter(&nfp, nf::NFPROTO_IPV4, nf::LOCAL_IN, -100, 0)
            .expect("netfilter link");
    });
}

#[test]
fn probes_find_this_kernels_features() {
    require_root!();
    assert!(probe::xdp_supported());
    assert!(probe::netfilter_prog_supported());
    assert!(probe::xdp_live_frames_supported());
    // A made-up program type is not supported.
    assert!(!probe::prog_type_supported(999, None, "GPL", 0));
}
