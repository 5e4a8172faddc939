//! Unit tests of the loader and the test runs, against a faked `bpf(2)` ([`crate::sys::with_fake`]).

use super::*;
use crate::sys::with_fake;
use std::cell::RefCell;
use std::os::fd::IntoRawFd;
use std::rc::Rc;

fn dev_null_fd() -> i64 {
    std::fs::File::open("/dev/null").unwrap().into_raw_fd() as i64
}

const PROG: [Insn; 2] = [Insn::mov64_imm(0, 2), Insn::exit()];

#[test]
fn load_sets_attr_fields_and_loads_without_log_first() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let fd = with_fake(
        move |cmd, attr| {
            assert_eq!(cmd, Cmd::ProgLoad);
            let a = attr.downcast_mut::<ProgLoadAttr>().unwrap();
            s.borrow_mut().push(*a);
            Ok(dev_null_fd())
        },
        || load(prog_type::XDP, &PROG, "GPL", Some(attach_type::XDP)),
    )
    .unwrap();
    drop(fd);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    let a = seen[0];
    assert_eq!(a.prog_type, 6);
    assert_eq!(a.insn_cnt, 2);
    assert_eq!(a.expected_attach_type, 37);
    assert_eq!((a.log_level, a.log_size, a.log_buf), (0, 0, 0));
    assert_ne!(a.insns, 0);
    assert_ne!(a.license, 0);
}

#[test]
fn enospc_grows_the_log_and_keeps_errno_and_text() {
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let s = sizes.clone();
    let err = with_fake(
        move |_, attr| {
            let a = attr.downcast_mut::<ProgLoadAttr>().unwrap();
            s.borrow_mut().push((a.log_level, a.log_size));
            if a.log_level == 0 {
                return Err(io::Error::from_raw_os_error(libc::EACCES));
            }
            if a.log_size < 256 * 1024 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let text = b"0: R0 !read_ok\nprocessed 1 insns\0";
            // SAFETY: `log_buf` points to the wrapper's buffer of `log_size` (>= 256 KiB) bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    text.as_ptr(),
                    a.log_buf as usize as *mut u8,
                    text.len(),
                )
            };
            Err(io::Error::from_raw_os_error(libc::EACCES))
        },
        || load(prog_type::XDP, &PROG, "GPL", None),
    )
    .unwrap_err();
    assert_eq!(
        *sizes.borrow(),
        vec![(0, 0), (1, 64 * 1024), (1, 128 * 1024), (1, 256 * 1024)]
    );
    assert_eq!(err.errno, libc::EACCES);
    assert_eq!(err.log, "0: R0 !read_ok\nprocessed 1 insns");
    assert!(!err.log_truncated);
    assert!(err.to_string().contains("R0 !read_ok"));
}

#[test]
fn a_verifier_that_gave_up_is_told_from_one_that_refused() {
    let e = |errno, log: &str| LoadError {
        errno,
        log: log.into(),
        log_truncated: false,
    };
    assert!(
        e(libc::E2BIG, "").too_complex(),
        "a million instructions walked"
    );
    assert!(e(
        libc::EINVAL,
        "BPF program is too large. Processed 1000001 insn"
    )
    .too_complex());
    assert!(e(libc::EFAULT, "The sequence of 8193 jumps is too complex.").too_complex());
    assert!(!e(libc::EACCES, "R1 invalid mem access 'scalar'").too_complex());
    assert!(!e(libc::EPERM, "").too_complex());
}

#[test]
fn log_stops_growing_at_16_mib() {
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let s = sizes.clone();
    let err = with_fake(
        move |_, attr| {
            let a = attr.downcast_mut::<ProgLoadAttr>().unwrap();
            s.borrow_mut().push(a.log_size);
            if a.log_level == 0 {
                Err(io::Error::from_raw_os_error(libc::EINVAL))
            } else {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
        },
        || load(prog_type::XDP, &PROG, "GPL", None),
    )
    .unwrap_err();
    let sizes = sizes.borrow();
    assert_eq!(*sizes.last().unwrap() as usize, LOG_MAX);
    assert_eq!(sizes.len(), 1 + 9); // 64K, 128K, ..., 16M
    assert_eq!(err.errno, libc::EINVAL, "the real error, not ENOSPC");
    assert!(err.log_truncated);
}

#[test]
fn log_true_size_is_used_when_reported() {
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let s = sizes.clone();
    let _ = with_fake(
        move |_, attr| {
            let a = attr.downcast_mut::<ProgLoadAttr>().unwrap();
            s.borrow_mut().push(a.log_size);
            if a.log_level == 0 {
                return Err(io::Error::from_raw_os_error(libc::EACCES));
            }
            if a.log_size < 3_000_000 {
                a.log_true_size = 3_000_000;
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            Err(io::Error::from_raw_os_error(libc::EACCES))
        },
        || load(prog_type::XDP, &PROG, "GPL", None),
    );
    assert_eq!(*sizes.borrow(), vec![0, 64 * 1024, 3_000_000]);
}

#[test]
fn a_program_is_opened_by_its_id() {
    let fd = with_fake(
        |cmd, attr| {
            assert_eq!(cmd, Cmd::ProgGetFdById);
            let a = attr.downcast_mut::<GetFdByIdAttr>().unwrap();
            assert_eq!(
                *a,
                GetFdByIdAttr {
                    id: 42,
                    next_id: 0,
                    open_flags: 0
                }
            );
            Ok(dev_null_fd())
        },
        || from_id(42),
    );
    assert!(fd.is_ok());
    let gone = with_fake(
        |_, _| Err(io::Error::from_raw_os_error(libc::ENOENT)),
        || from_id(7),
    );
    assert_eq!(gone.unwrap_err().raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn test_run_live_sets_ctx_flags_batch_and_no_output() {
    let fd = ProgFd(std::fs::File::open("/dev/null").unwrap().into());
    let ctx = XdpMd::for_packet(64, 9).to_bytes();
    let data = [0u8; 64];
    let r = with_fake(
        move |cmd, attr| {
            assert_eq!(cmd, Cmd::ProgTestRun);
            let a = attr.downcast_mut::<TestRunAttr>().unwrap();
            assert_eq!(a.data_size_in, 64);
            assert_eq!(a.repeat, 4096);
            assert_eq!(a.flags, test_run_flags::XDP_LIVE_FRAMES);
            assert_eq!(a.batch_size, 64);
            assert_eq!(a.ctx_size_in, 24);
            assert_eq!((a.data_out, a.data_size_out, a.ctx_out), (0, 0, 0));
            // SAFETY: ctx_in points to the 24-byte ctx array of the caller.
            let ctx = unsafe { std::slice::from_raw_parts(a.ctx_in as usize as *const u8, 24) };
            assert_eq!(&ctx[4..8], &64u32.to_ne_bytes());
            assert_eq!(&ctx[12..16], &9u32.to_ne_bytes());
            a.duration = 20;
            Ok(0)
        },
        || {
            test_run(
                &fd,
                &data,
                4096,
                Some(&ctx),
                test_run_flags::XDP_LIVE_FRAMES,
                64,
            )
        },
    )
    .unwrap();
    assert_eq!(r.duration_ns, 20);
    assert!(r.data_out.is_empty());
}

#[test]
fn verifier_log_loads_once_at_the_level_asked_and_keeps_the_log() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let (r, log) = with_fake(
        move |_, attr| {
            let a = attr.downcast_mut::<ProgLoadAttr>().unwrap();
            s.borrow_mut().push((a.log_level, a.log_size));
            let text = b"processed 2 insns (limit 1000000)\0";
            // SAFETY: log_buf points to the caller's buffer of log_size (4096) bytes.
            let buf = unsafe {
                std::slice::from_raw_parts_mut(a.log_buf as usize as *mut u8, a.log_size as usize)
            };
            buf[..text.len()].copy_from_slice(text);
            Ok(dev_null_fd())
        },
        || {
            let opts = LoadOptions {
                prog_type: prog_type::XDP,
                insns: &PROG,
                license: "GPL",
                expected_attach_type: None,
                name: "",
            };
            verifier_log(&opts, 4, 4096)
        },
    );
    assert!(r.is_ok());
    assert_eq!(log, "processed 2 insns (limit 1000000)");
    assert_eq!(*seen.borrow(), vec![(4, 4096)], "one load, BPF_LOG_STATS");
}
