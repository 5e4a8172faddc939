//! The report: the table on stdout (one row per filter and frame kind, then one line per
//! filter with its ratio on a mix of the kinds and whether the goal is met) and, with
//! `--json`, every figure of every round.

use std::time::Instant;

use lunet_types::xdp;
use serde_json::{json, Value};

use super::load::Filter;
use super::timing::{median, Cell, Timed};
use super::{interp, Options, VsClangError};

/// The goal: lunet's program costs at most this times the C program on the mix.
const GOAL: f64 = 1.10;

fn verdict_name(v: u32) -> &'static str {
    match v {
        xdp::DROP => "DROP",
        xdp::PASS => "PASS",
        _ => "?",
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Prints the table and writes the JSON (module docs).
pub fn report(
    opts: &Options,
    filters: &[Filter],
    timed: &Timed,
    checked: usize,
    started: Instant,
) -> Result<(), VsClangError> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    println!(
        "lunet vs C: BPF_PROG_TEST_RUN, {} rounds x {} repeats per program and frame, \
         interleaved, CPU {}, {}; Linux {kernel}{}",
        opts.rounds,
        opts.repeat,
        timed.cpu,
        if timed.anchored {
            "programs anchored in the XDP dispatcher"
        } else {
            "NOT anchored"
        },
        opts.compiler
            .as_ref()
            .map(|c| format!("; {c}"))
            .unwrap_or_default()
    );
    println!("ns/pkt: median over rounds of the calling thread's CPU time per call / repeats (the kernel's whole-ns `duration` in parentheses)");
    println!("ratio: median over rounds of lunet / C, timed back to back in each round");
    println!("insns: program size; run: instructions executed on the frame (interpreter; a may_goto counts 1, the kernel's rewrite runs 5)");
    println!("floor: the same for `r0 = XDP_PASS; exit` (the cost of a run itself); net: ratio of the ns above the floor (- when C is within 2 ns of it)\n");
    println!(
        "{:<6} {:<8} {:>5} {:<7} {:>13} {:>13} {:>6} {:>11} {:>7} {:>9} {:>5} {:>6} {:>6}",
        "filter",
        "packet",
        "bytes",
        "verdict",
        "lunet ns/pkt",
        "C ns/pkt",
        "ratio",
        "lunet insns",
        "C insns",
        "lunet run",
        "C run",
        "floor",
        "net"
    );
    let mut rows = Vec::new();
    for c in &timed.cells {
        if let Some(f) = filters.iter().find(|f| f.name == c.filter) {
            rows.push(row(c, f));
        }
    }
    println!();
    let per_filter: Vec<Value> = filters
        .iter()
        .map(|f| filter_line(f, &timed.cells, opts.rounds))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    println!("({secs:.1} s)");
    if let Some(p) = &opts.json {
        let doc = json!({
            "benchmark": "lunet-compile vs C (clang -target bpf), BPF_PROG_TEST_RUN",
            "kernel": kernel, "compiler": opts.compiler, "cpu": timed.cpu,
            "anchored": timed.anchored, "rounds": opts.rounds, "repeat": opts.repeat,
            "verdict_check": {"frames": checked, "mismatches": 0},
            "rows": rows, "filters": per_filter, "seconds": secs,
        });
        std::fs::write(p, format!("{doc:#}\n")).map_err(|source| VsClangError::Write {
            path: p.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Prints the row of one filter and frame kind; gives its JSON.
fn row(c: &Cell, f: &Filter) -> Value {
    let (lw, cw) = (median(&c.lunet_ns), median(&c.c_ns));
    let (lk, ck) = (median(&c.lunet_kernel), median(&c.c_kernel));
    let floor = median(&c.floor_ns);
    let ratio = c.ratio();
    let net = (lw - floor) / (cw - floor);
    let net_text = if cw - floor >= 2.0 {
        format!("{net:.2}")
    } else {
        "-".to_string()
    };
    let min_ratio = min(&c.lunet_ns) / min(&c.c_ns);
    let run = |r: Option<interp::Run>| r.map_or("?".into(), |r| r.executed.to_string());
    println!(
        "{:<6} {:<8} {:>5} {:<7} {:>7.2} ({:>3}) {:>7.2} ({:>3}) {:>6.3} {:>11} {:>7} {:>9} {:>5} {:>6.2} {:>6}",
        c.filter,
        c.kind,
        c.frame_len,
        verdict_name(c.verdict),
        lw,
        lk,
        cw,
        ck,
        ratio,
        f.lunet.insns.len(),
        f.c_insns.len(),
        run(c.counts.lunet),
        run(c.counts.c),
        floor,
        net_text
    );
    let counts = |r: Option<interp::Run>| {
        r.map(|r| {
            json!({"executed": r.executed, "packet_loads": r.packet_loads,
                   "stack_ops": r.stack_ops, "branches": r.branches,
                   "may_gotos": r.may_gotos})
        })
    };
    json!({
        "filter": c.filter, "packet": c.kind, "frame_bytes": c.frame_len,
        "verdict": verdict_name(c.verdict),
        "lunet": {"ns_per_pkt": lw, "kernel_ns_per_pkt": lk, "rounds_cpu_ns": c.lunet_ns,
                  "rounds_kernel_ns": c.lunet_kernel, "insns": f.lunet.insns.len(),
                  "run": counts(c.counts.lunet)},
        "c": {"ns_per_pkt": cw, "kernel_ns_per_pkt": ck, "rounds_cpu_ns": c.c_ns,
              "rounds_kernel_ns": c.c_kernel, "insns": f.c_insns.len(),
              "run": counts(c.counts.c)},
        "ratio": ratio, "ratio_of_medians": lw / cw, "ratio_of_minimums": min_ratio,
        "kernel_ratio": lk / ck,
        "floor_ns_per_pkt": floor, "rounds_floor_cpu_ns": c.floor_ns, "net_ratio": net,
    })
}

/// Prints filter `f`'s ratio on a mix of one frame of each kind; gives its JSON.
fn filter_line(f: &Filter, cells: &[Cell], rounds: usize) -> Value {
    let mine: Vec<&Cell> = cells.iter().filter(|c| c.filter == f.name).collect();
    // Per round, the time of one frame of each kind; the median of the rounds' ratios.
    let per_round: Vec<f64> = (0..rounds)
        .map(|r| {
            let l: f64 = mine.iter().map(|c| c.lunet_ns[r]).sum();
            let c: f64 = mine.iter().map(|c| c.c_ns[r]).sum();
            l / c
        })
        .collect();
    let ratio = median(&per_round);
    let worst = mine.iter().map(|c| c.ratio()).fold(0.0, f64::max);
    println!(
        "{}: lunet / C = {ratio:.3} on a mix of one frame of each kind (worst kind \
         {worst:.3}); goal <= {GOAL:.2}: {}",
        f.name,
        if ratio <= GOAL { "met" } else { "NOT met" }
    );
    json!({"filter": f.name, "ratio": ratio, "worst_kind_ratio": worst,
        "lunet_loop_bound": format!("{:?}", f.lunet_loop_bound),
        "lunet_insns": f.lunet.insns.len(), "c_insns": f.c_insns.len(),
        "goal_met": ratio <= GOAL})
}
