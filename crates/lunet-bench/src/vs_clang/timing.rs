//! The timing: every program anchored in the XDP dispatcher ([`lunet_gen::Anchor`]), this
//! thread pinned to one CPU, a warm-up, then `rounds` rounds in which every filter's frame
//! kinds are timed with lunet's program and the C program back to back (alternating which
//! goes first) and with the empty program, the floor both pay.

use std::time::Duration;

use lunet_bpf::ProgFd;
use lunet_gen::live::XDP_PASS_PROG;
use lunet_gen::Anchor;
use lunet_types::xdp;

use super::load::{load_xdp, Filter};
use super::{interp, Options, VsClangError};
use crate::cpu;
use crate::row::median as median_of;

/// The instructions both programs execute on one frame kind (the interpreter's count).
#[derive(Clone, Copy, Default)]
pub struct Counts {
    pub lunet: Option<interp::Run>,
    pub c: Option<interp::Run>,
}

/// One filter and frame kind: what every round measured.
pub struct Cell {
    pub filter: &'static str,
    pub kind: &'static str,
    pub frame_len: usize,
    pub verdict: u32,
    /// This thread's CPU ns per run, and the kernel's whole ns per run, of each round.
    pub lunet_ns: Vec<f64>,
    pub lunet_kernel: Vec<f64>,
    pub c_ns: Vec<f64>,
    pub c_kernel: Vec<f64>,
    /// The empty program (`r0 = XDP_PASS; exit`) on the same frame: the cost of the run
    /// itself, which both programs pay.
    pub floor_ns: Vec<f64>,
    pub counts: Counts,
}

impl Cell {
    /// The median over rounds of lunet's time / C's time, each round timing the two back to
    /// back (a pair sees the same machine, so the ratio cancels most of the drift).
    pub fn ratio(&self) -> f64 {
        let r: Vec<f64> = self
            .lunet_ns
            .iter()
            .zip(&self.c_ns)
            .map(|(l, c)| l / c)
            .collect();
        median(&r)
    }
}

/// The median of measurements there is at least one of (NaN for none).
pub fn median(v: &[f64]) -> f64 {
    median_of(&mut v.to_vec()).unwrap_or(f64::NAN)
}

/// What was timed, where.
pub struct Timed {
    /// One per filter and frame kind, in the filters' order.
    pub cells: Vec<Cell>,
    /// The CPU this thread was pinned to.
    pub cpu: usize,
    /// Whether every program was anchored in the XDP dispatcher.
    pub anchored: bool,
}

/// One timed call: (this thread's CPU ns per run, the kernel's whole ns per run).
fn time_once(
    fd: &ProgFd,
    frame: &[u8],
    repeat: u32,
    expect: u32,
) -> Result<(f64, u32), VsClangError> {
    let t = cpu::this_thread_ns().map_err(VsClangError::Clock)?;
    let r = lunet_bpf::test_run(fd, frame, repeat, None, 0, 0).map_err(VsClangError::TestRun)?;
    let cpu = (cpu::this_thread_ns().map_err(VsClangError::Clock)? - t) as f64 / repeat as f64;
    if r.retval != expect {
        return Err(VsClangError::TimedVerdict {
            got: r.retval,
            want: expect,
        });
    }
    Ok((cpu, r.duration_ns))
}

/// Anchors every program, pins this thread, and times (module docs).
pub fn time(filters: &[Filter], opts: &Options) -> Result<Timed, VsClangError> {
    let floor_fd = load_xdp(&XDP_PASS_PROG, "floor_pass").map_err(VsClangError::Floor)?;
    let mut anchors = Vec::new();
    let mut anchored = true;
    let all_fds = filters
        .iter()
        .flat_map(|f| [&f.lunet_fd, &f.c_fd])
        .chain([&floor_fd]);
    for fd in all_fds {
        match Anchor::new(fd) {
            Ok(a) => anchors.push(a),
            Err(e) => {
                anchored = false;
                eprintln!(
                    "vs_clang: warning: cannot anchor a program in the XDP dispatcher \
                     ({e}); each call pays the dispatcher update (outside the kernel's \
                     timed loop, ~22 ns/pkt added to the CPU time at 10^6 repeats)"
                );
            }
        }
    }
    let cpu = opts.cpu.unwrap_or(cpu::cpus() - 1);
    cpu::pin(0, cpu).map_err(|source| VsClangError::Pin { cpu, source })?;

    let mut cells: Vec<Cell> = Vec::new();
    for f in filters {
        for fr in &f.frames {
            cells.push(Cell {
                filter: f.name,
                kind: fr.kind,
                frame_len: fr.bytes.len(),
                verdict: fr.verdict,
                lunet_ns: vec![],
                lunet_kernel: vec![],
                c_ns: vec![],
                c_kernel: vec![],
                floor_ns: vec![],
                counts: Counts {
                    lunet: interp::run(&f.lunet.insns, &fr.bytes).ok(),
                    c: interp::run(&f.c_insns, &fr.bytes).ok(),
                },
            });
        }
    }
    let warm = (opts.repeat / 10).max(1);
    for f in filters {
        for fr in &f.frames {
            time_once(&f.lunet_fd, &fr.bytes, warm, fr.verdict)?;
            time_once(&f.c_fd, &fr.bytes, warm, fr.verdict)?;
        }
    }
    for round in 0..opts.rounds {
        let mut i = 0;
        for f in filters {
            for fr in &f.frames {
                let cell = &mut cells[i];
                i += 1;
                let lunet_first = round % 2 == 0;
                for lunet in [lunet_first, !lunet_first] {
                    let fd = if lunet { &f.lunet_fd } else { &f.c_fd };
                    let (w, k) = time_once(fd, &fr.bytes, opts.repeat, fr.verdict)?;
                    if lunet {
                        cell.lunet_ns.push(w);
                        cell.lunet_kernel.push(k as f64);
                    } else {
                        cell.c_ns.push(w);
                        cell.c_kernel.push(k as f64);
                    }
                }
                let (w, _) = time_once(&floor_fd, &fr.bytes, opts.repeat, xdp::PASS)?;
                cell.floor_ns.push(w);
            }
        }
    }
    if opts.hold > 0 {
        eprintln!(
            "holding the programs loaded for {} s (bpftool prog show name lunet_sni ...)",
            opts.hold
        );
        std::thread::sleep(Duration::from_secs(opts.hold));
    }
    drop(anchors);
    Ok(Timed {
        cells,
        cpu,
        anchored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_the_median_of_each_rounds_ratio() {
        let cell = Cell {
            filter: "sni",
            kind: "blocked",
            frame_len: 60,
            verdict: xdp::DROP,
            lunet_ns: vec![10.0, 30.0, 22.0],
            lunet_kernel: vec![],
            c_ns: vec![10.0, 20.0, 20.0],
            c_kernel: vec![],
            floor_ns: vec![],
            counts: Counts::default(),
        };
        // Per round 1.0, 1.5, 1.1: the median is 1.1, not 24 / 20 (the medians' ratio).
        assert!((cell.ratio() - 1.1).abs() < 1e-12, "{}", cell.ratio());
        assert!(median(&[]).is_nan());
    }
}
