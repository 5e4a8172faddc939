//! Program load (`BPF_PROG_LOAD`) with the verifier log, and `BPF_PROG_TEST_RUN`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::insn::Insn;
use crate::sys::{self, Cmd, GetFdByIdAttr, ProgLoadAttr, TestRunAttr};

/// Program types (`enum bpf_prog_type`).
pub mod prog_type {
    pub const SOCKET_FILTER: u32 = 1;
    pub const SCHED_CLS: u32 = 3;
    pub const XDP: u32 = 6;
    /// Linux 6.4; missing from Debian 12's headers.
    pub const NETFILTER: u32 = 32;
}

/// Attach types (`enum bpf_attach_type`).
pub mod attach_type {
    pub const XDP: u32 = 37;
    /// Linux 6.4; missing from Debian 12's headers.
    pub const NETFILTER: u32 = 45;
}

/// `BPF_PROG_TEST_RUN` flags.
pub mod test_run_flags {
    /// `BPF_F_TEST_RUN_ON_CPU`.
    pub const RUN_ON_CPU: u32 = 1 << 0;
    /// `BPF_F_TEST_XDP_LIVE_FRAMES` (Linux 5.18): frames really go where the program sends them.
    pub const XDP_LIVE_FRAMES: u32 = 1 << 1;
}

/// XDP verdicts (`enum xdp_action`) as instruction immediates: [`lunet_types::xdp`]'s numbers.
pub mod xdp_action {
    use lunet_types::xdp;

    pub const ABORTED: i32 = xdp::ABORTED as i32;
    pub const DROP: i32 = xdp::DROP as i32;
    pub const PASS: i32 = xdp::PASS as i32;
    pub const TX: i32 = xdp::TX as i32;
    pub const REDIRECT: i32 = xdp::REDIRECT as i32;
}

/// Size of the first verifier log buffer, used only after a load failed without a log.
pub const LOG_INITIAL: usize = 64 * 1024;
/// The largest verifier log buffer tried.
pub const LOG_MAX: usize = 16 * 1024 * 1024;

/// A loaded program. Dropping it closes the fd; the kernel frees the program once nothing
/// else (a link, a pin) holds it.
#[derive(Debug)]
pub struct ProgFd(OwnedFd);

impl ProgFd {
    /// Wraps an fd known to refer to a program (for example from [`crate::pin::get`]).
    pub fn from_owned(fd: OwnedFd) -> ProgFd {
        ProgFd(fd)
    }

    pub fn into_owned(self) -> OwnedFd {
        self.0
    }
}

impl AsFd for ProgFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for ProgFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A failed `BPF_PROG_LOAD`: the errno and the verifier's log.
#[derive(Debug, thiserror::Error)]
#[error("BPF_PROG_LOAD failed: {}{}", io::Error::from_raw_os_error(*.errno), log_tail(.log))]
pub struct LoadError {
    /// The errno of the failed load (`EACCES`/`EINVAL` for a verifier rejection).
    pub errno: i32,
    /// The verifier log (log level 1), empty if the kernel wrote none.
    pub log: String,
    /// The log did not fit even in [`LOG_MAX`] bytes; `log` holds its beginning.
    pub log_truncated: bool,
}

impl LoadError {
    /// The errno as an [`io::Error`].
    pub fn io_error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }

    /// The verifier gave up on the program rather than finding it unsafe: it walked a
    /// million instructions (`E2BIG`, "BPF program is too large"), or kept too many states
    /// or branches ("too complex"). A program bounded more simply may pass.
    pub fn too_complex(&self) -> bool {
        self.errno == libc::E2BIG
            || self.log.contains("too complex")
            || self.log.contains("too large")
    }
}

impl From<LoadError> for io::Error {
    fn from(e: LoadError) -> io::Error {
        io::Error::new(e.io_error().kind(), e)
    }
}

fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(20);
    format!(
        "\nverifier log (last lines):\n{}",
        lines[start..].join("\n")
    )
}

/// Everything `BPF_PROG_LOAD` needs; [`load`] covers the usual case.
#[derive(Clone, Debug)]
pub struct LoadOptions<'a> {
    pub prog_type: u32,
    pub insns: &'a [Insn],
    pub license: &'a str,
    pub expected_attach_type: Option<u32>,
    /// Shown by `bpftool prog`; at most 15 bytes are kept.
    pub name: &'a str,
}

/// Loads a program: first without a verifier log; if that fails, again with log level 1 and
/// a 64 KiB buffer, doubling it (or growing it to the size the kernel reports) on `ENOSPC` up
/// to 16 MiB. The error keeps the errno and the log.
pub fn load(
    prog_type: u32,
    insns: &[Insn],
    license: &str,
    expected_attach_type: Option<u32>,
) -> Result<ProgFd, LoadError> {
    load_with(&LoadOptions {
        prog_type,
        insns,
        license,
        expected_attach_type,
        name: "",
    })
}

/// [`load`] with all options.
pub fn load_with(opts: &LoadOptions<'_>) -> Result<ProgFd, LoadError> {
    let license = CString::new(opts.license).map_err(|_| LoadError {
        errno: libc::EINVAL,
        log: "licence string contains a NUL byte".into(),
        log_truncated: false,
    })?;
    let first_errno = match prog_load(opts, &license, None) {
        Ok(fd) => return Ok(ProgFd(fd)),
        Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
    };
    let mut size = LOG_INITIAL;
    loop {
        let mut buf = vec![0u8; size];
        let mut true_size = 0u32;
        match prog_load(opts, &license, Some((&mut buf, &mut true_size))) {
            Ok(fd) => {
                tracing::warn!(
                    errno = first_errno,
                    "program load failed without a log but passed with one"
                );
                return Ok(ProgFd(fd));
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EINVAL);
                if errno == libc::ENOSPC && size < LOG_MAX {
                    let wanted = (true_size as usize).max(size * 2);
                    size = wanted.min(LOG_MAX);
                    tracing::debug!(
                        size,
                        "verifier log did not fit, retrying with a larger buffer"
                    );
                    continue;
                }
                let truncated = errno == libc::ENOSPC;
                return Err(LoadError {
                    errno: if truncated { first_errno } else { errno },
                    log: log_text(&buf),
                    log_truncated: truncated,
                });
            }
        }
    }
}

fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// One `BPF_PROG_LOAD` call (Linux 3.18), with a log buffer if given.
fn prog_load(
    opts: &LoadOptions<'_>,
    license: &CString,
    log: Option<(&mut [u8], &mut u32)>,
) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: opts.prog_type,
        insn_cnt: u32::try_from(opts.insns.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: sys::ptr_u64(opts.insns.as_ptr()),
        license: sys::ptr_u64(license.as_ptr()),
        expected_attach_type: opts.expected_attach_type.unwrap_or(0),
        prog_name: sys::obj_name(opts.name),
        ..Default::default()
    };
    let mut log = log;
    if let Some((buf, _)) = log.as_mut() {
        attr.log_level = 1;
        attr.log_size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        attr.log_buf = sys::ptr_u64(buf.as_mut_ptr());
    }
    // SAFETY: `insns` points to `insn_cnt` 8-byte instructions borrowed for the call, `license`
    // is a NUL-terminated string alive for the call, and `log_buf` (if set) is a writable
    // buffer of exactly `log_size` bytes borrowed mutably for the call.
    let result = unsafe { sys::bpf_fd(Cmd::ProgLoad, &mut attr) };
    if let Some((_, true_size)) = log {
        *true_size = attr.log_true_size;
    }
    result
}

/// A new fd for the loaded program whose id is `id` (`BPF_PROG_GET_FD_BY_ID`, Linux 4.13):
/// for example the program a pinned link attaches ([`crate::link::prog_id`]).
pub fn from_id(id: u32) -> io::Result<ProgFd> {
    let mut attr = GetFdByIdAttr {
        id,
        ..Default::default()
    };
    // SAFETY: the attr holds no pointers; BPF_PROG_GET_FD_BY_ID returns a new fd.
    let fd = unsafe { sys::bpf_fd(Cmd::ProgGetFdById, &mut attr)? };
    Ok(ProgFd(fd))
}

/// The result of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (of the last run).
    pub retval: u32,
    /// Average run time per repetition in nanoseconds, as the kernel measured it.
    pub duration_ns: u32,
    /// The packet after the program ran (empty in live-frames mode).
    pub data_out: Vec<u8>,
}

/// Runs a loaded program in the kernel on `data_in` (`BPF_PROG_TEST_RUN`, Linux 4.12).
///
/// `ctx` is the program's context struct if it takes one (for XDP a [`XdpMd`]). With
/// [`test_run_flags::XDP_LIVE_FRAMES`] no output is read back and `batch_size` (0 means the
/// kernel default of 64, at most 256) applies; without it `batch_size` must be 0.
pub fn test_run(
    prog: &ProgFd,
    data_in: &[u8],
    repeat: u32,
    ctx: Option<&[u8]>,
    flags: u32,
    batch_size: u32,
) -> io::Result<TestRunResult> {
    let live = flags & test_run_flags::XDP_LIVE_FRAMES != 0;
    let too_big = || io::Error::from_raw_os_error(libc::E2BIG);
    // Room for programs that grow the packet (XDP tail adjustment is bounded by a page).
    let mut data_out = if live {
        Vec::new()
    } else {
        vec![0u8; data_in.len() + 4096]
    };
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: u32::try_from(data_in.len()).map_err(|_| too_big())?,
        data_in: sys::ptr_u64(data_in.as_ptr()),
        repeat,
        flags,
        batch_size,
        ..Default::default()
    };
    if !live {
        attr.data_size_out = u32::try_from(data_out.len()).map_err(|_| too_big())?;
        attr.data_out = sys::ptr_u64(data_out.as_mut_ptr());
    }
    if let Some(ctx) = ctx {
        attr.ctx_size_in = u32::try_from(ctx.len()).map_err(|_| too_big())?;
        attr.ctx_in = sys::ptr_u64(ctx.as_ptr());
    }
    // SAFETY: `data_in` and `ctx` are read-only buffers of the given sizes borrowed for the
    // call; `data_out`, when set, is a writable buffer of `data_size_out` bytes that the kernel
    // never writes past; `ctx_out` is null.
    unsafe { sys::bpf(Cmd::ProgTestRun, &mut attr)? };
    data_out.truncate((attr.data_size_out as usize).min(data_out.len()));
    if live {
        data_out.clear();
    }
    Ok(TestRunResult {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_out,
    })
}

/// The XDP context as `BPF_PROG_TEST_RUN` takes it (`struct xdp_md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpMd {
    pub data: u32,
    pub data_end: u32,
    pub data_meta: u32,
    pub ingress_ifindex: u32,
    pub rx_queue_index: u32,
    pub egress_ifindex: u32,
}

impl XdpMd {
    /// A context for a packet of `len` bytes arriving on `ifindex`, queue 0.
    pub fn for_packet(len: usize, ifindex: u32) -> XdpMd {
        XdpMd {
            data_end: u32::try_from(len).unwrap_or(u32::MAX),
            ingress_ifindex: ifindex,
            ..Default::default()
        }
    }

    /// The 24 bytes of `struct xdp_md` in host byte order.
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        let fields = [
            self.data,
            self.data_end,
            self.data_meta,
            self.ingress_ifindex,
            self.rx_queue_index,
            self.egress_ifindex,
        ];
        for (i, f) in fields.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&f.to_ne_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
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
}
