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
    /// tcx (Linux 6.6): `BPF_TCX_INGRESS`, `BPF_TCX_EGRESS`.
    pub const TCX_INGRESS: u32 = 46;
    pub const TCX_EGRESS: u32 = 47;
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

/// One `BPF_PROG_LOAD` call (Linux 3.18), with a log buffer (at log level 1) if given.
fn prog_load(
    opts: &LoadOptions<'_>,
    license: &CString,
    log: Option<(&mut [u8], &mut u32)>,
) -> io::Result<OwnedFd> {
    prog_load_at(opts, license, log.map(|(buf, size)| (1, buf, size)))
}

/// [`prog_load`] with the log at `level` (1: every state the verifier walked; 4,
/// `BPF_LOG_STATS`: only its closing statistics).
fn prog_load_at(
    opts: &LoadOptions<'_>,
    license: &CString,
    log: Option<(u32, &mut [u8], &mut u32)>,
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
    if let Some((level, buf, _)) = log.as_mut() {
        attr.log_level = *level;
        attr.log_size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        attr.log_buf = sys::ptr_u64(buf.as_mut_ptr());
    }
    // SAFETY: `insns` points to `insn_cnt` 8-byte instructions borrowed for the call, `license`
    // is a NUL-terminated string alive for the call, and `log_buf` (if set) is a writable
    // buffer of exactly `log_size` bytes borrowed mutably for the call.
    let result = unsafe { sys::bpf_fd(Cmd::ProgLoad, &mut attr) };
    if let Some((_, _, true_size)) = log {
        *true_size = attr.log_true_size;
    }
    result
}

/// What the verifier says of `opts`' program in one load at log `level` (1: every state it
/// walked; 4, `BPF_LOG_STATS`: only its closing statistics, "processed N insns ..."), kept
/// in a buffer of `size` bytes, and the load's outcome. For reports about a program (the
/// compiler's benchmark prints the statistics); [`load_with`] is the loader.
pub fn verifier_log(
    opts: &LoadOptions<'_>,
    level: u32,
    size: usize,
) -> (io::Result<ProgFd>, String) {
    let Ok(license) = CString::new(opts.license) else {
        return (
            Err(io::Error::from_raw_os_error(libc::EINVAL)),
            String::new(),
        );
    };
    let mut buf = vec![0u8; size];
    let mut true_size = 0u32;
    let r = prog_load_at(opts, &license, Some((level, &mut buf, &mut true_size)));
    (r.map(ProgFd), log_text(&buf))
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
mod tests;
