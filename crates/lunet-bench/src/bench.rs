//! `lunet bench`: how fast each method filters, measured on this machine.
//!
//! One testbed (two fresh namespaces, a veth pair, 198.18.0.1 -> 198.18.0.2) for the whole
//! benchmark. For each filter, `runs` rounds; in each round every method in turn:
//!
//! 1. the method is installed in the receiver namespace, then the counting rules around it
//!    ([`counters`]);
//! 2. in the first round, a check run: 500 frames of each kind at 5 kpps, slow enough for
//!    every method to see every packet, after which the counters must show exactly the
//!    must-drop packets dropped and the others through;
//! 3. one timed run of `duration` at the generator's full rate (the `XDP_TX` live-frames
//!    generator on CPU 0 of the sender namespace), checked for consistency;
//! 4. the method and the rules are removed.
//!
//! Rounds rather than all of one method's runs in a row, so that a machine that drifts
//! (another guest, a frequency change) moves every method's figures alike.
//!
//! A method that filters at XDP (`lunet-kernel-xdp`) replaces the testbed's `XDP_PASS` program
//! on the receiver's veth for its turn and drops before the stack, so the counting rules see
//! only what it passed: its drops are the frames offered that never arrived, which the hook's
//! own verdict counters must account for in every run (less what the veth's ring lost), and
//! the veth's own XDP counters too in the check run. Its program, as attached, is also timed
//! with `BPF_PROG_TEST_RUN` (see [`crate::xdp`]).
//!
//! Methods not built yet have rows too, skipped with the reason ([`Method::cannot_express`]).
//!
//! Results go to a table on stdout and, with `--json`, to a file, and with `--docs FILE` to a
//! Markdown page with an SVG chart next to it ([`docs`]); a progress bar goes to stderr. The
//! testbed and everything in it is removed on every way out, Ctrl-C included
//! (which ends the current run within 0.2 s).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lunet_gen::Limit;

use crate::filters::{self, Filter};
use crate::methods::Method;
use crate::row::Row;
use crate::testbed::Bed;
use crate::{counters, cpu, docs, measure, report};

/// Frames of each kind in the check run, and its rate: 5 kpps goes out in bursts of 25
/// frames every 5 ms, so a queue consumer may stall for 50 ms (a busy machine) before the
/// socket's ~256 messages fill and NFQUEUE starts accepting packets unseen.
const CHECK_FRAMES_PER_KIND: u64 = 500;
const CHECK_RATE_PPS: u64 = 5_000;
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What `lunet bench` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub json: Option<PathBuf>,
    /// A Markdown page of the results, with an SVG chart next to it.
    pub docs: Option<PathBuf>,
    /// Empty: all.
    pub filters: Vec<Filter>,
    /// Empty: all.
    pub methods: Vec<Method>,
    pub duration: Option<f64>,
    pub runs: Option<u32>,
}

impl Options {
    /// Runs per (filter, method): `--runs`, else 1 with `--quick`, else 3.
    pub fn runs(&self) -> u32 {
        self.runs.unwrap_or(if self.quick { 1 } else { 3 })
    }

    /// Seconds per run: `--duration`, else 2 with `--quick`, else 5.
    pub fn duration(&self) -> f64 {
        self.duration.unwrap_or(if self.quick { 2.0 } else { 5.0 })
    }
}

/// Each item once, in the order given; all of `all` when none is given.
fn chosen<T: Copy + PartialEq>(given: &[T], all: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for &x in if given.is_empty() { all } else { given } {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Why the benchmark did not run to its end, or found a method that dropped the wrong
/// packets.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Not root, or `ip` or `iptables` missing.
    #[error("lunet bench: {0}")]
    Cannot(lunet_netns::NotPrivileged),
    /// The testbed, the generator, a counter: the benchmark itself failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("cannot build the {filter} frames: {source}")]
    Frames {
        filter: Filter,
        source: lunet_gen::packet::PacketError,
    },
    #[error("interrupted; the testbed was removed")]
    Interrupted,
    /// The benchmark ran, and these `filter/method` pairs dropped the wrong packets.
    #[error("{} dropped the wrong packets (see WRONG above)", .0.join(", "))]
    Wrong(Vec<String>),
}

/// Runs the benchmark `o` asks for (as root), printing the table to stdout and a progress
/// bar to stderr; `quit` (Ctrl-C) ends the current run within 0.2 s and removes the testbed.
pub fn run(o: Options, quit: Arc<AtomicBool>) -> Result<(), BenchError> {
    lunet_netns::require_root().map_err(BenchError::Cannot)?;
    let filters = chosen(&o.filters, &Filter::ALL);
    let methods = chosen(&o.methods, &Method::ALL);
    let (runs, secs) = (o.runs(), o.duration());

    let bed = Bed::create()?;
    // Printed with the table (on stdout, so it stays with the results when piped).
    let header = format!(
        "lunet bench: {} ({}) -> {} ({}), {} run(s) of {secs} s per filter and method{}\n\
         machine: Linux {}, {} CPU(s); generator: {}\n\n",
        bed.sender_ns(),
        bed.endpoints.src_ip,
        bed.receiver_ns(),
        bed.endpoints.dst_ip,
        runs,
        if bed.generator_pinned() {
            "; generator on CPU 0, Lua consumer on the last CPU"
        } else {
            ""
        },
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        cpu::cpus(),
        bed.generator_method()
    );
    let bar = progress((filters.len() * methods.len()) as u64 * (1 + runs as u64));
    let mut rows = Vec::new();
    for &filter in &filters {
        let mut pairs = methods
            .iter()
            .map(|&m| Pair::new(&bed, filter, m))
            .collect::<Result<Vec<_>, _>>()?;
        // Round by round, every method once per round: a machine that drifts (another
        // guest, a frequency change) moves every method's runs alike.
        for round in 0..runs {
            for pair in &mut pairs {
                let r = pair.round(&bed, round, secs, &quit, &bar);
                // Whatever happened, the next method starts from empty chains.
                let reset = bed.reset();
                r?;
                reset?;
            }
        }
        rows.extend(pairs.into_iter().map(|p| p.row(secs)));
    }
    bar.finish_and_clear();
    let generator = bed.generator_method();
    drop(bed);

    print!("{header}{}", report::table(&rows, runs as usize, secs));
    if let Some(path) = &o.json {
        report::write_json(path, &rows)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &o.docs {
        let info = docs::RunInfo::here(runs, secs, o.quick, generator);
        let svg = docs::write(path, &rows, &info)?;
        println!("wrote {} and {}", path.display(), svg.display());
    }
    let wrong: Vec<String> = rows
        .iter()
        .filter(|r| r.skipped.is_none() && !r.correct)
        .map(|r| format!("{}/{}", r.filter, r.method))
        .collect();
    if !wrong.is_empty() {
        return Err(BenchError::Wrong(wrong));
    }
    Ok(())
}

fn progress(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One (filter, method) pair while it is measured: what its rounds found so far.
struct Pair {
    filter: Filter,
    method: Method,
    /// Why the pair is not measured (it cannot be expressed or installed here).
    skipped: Option<String>,
    /// The filter's traffic, and its bytes as the generator takes them.
    frames: Vec<filters::Frame>,
    bytes: Arc<Vec<Vec<u8>>>,
    /// What the check run must deliver of each class to the counting rules.
    check_expected: [u64; 2],
    samples: Vec<measure::Sample>,
    mismatches: Vec<String>,
    note: Option<String>,
    ns_per_packet: Option<f64>,
    queue: bool,
}

impl Pair {
    fn new(bed: &Bed, filter: Filter, method: Method) -> Result<Pair, BenchError> {
        let frames = filter
            .frames(&bed.endpoints)
            .map_err(|source| BenchError::Frames { filter, source })?;
        // The check run sends each frame as often; everything must reach the counting rules
        // except what a filter before the stack drops.
        let mut check_expected = [0u64; 2];
        for f in &frames {
            let dropped_before = method.before_stack() && filter.drops(f.class);
            if !dropped_before {
                check_expected[f.class.index()] += CHECK_FRAMES_PER_KIND;
            }
        }
        Ok(Pair {
            filter,
            method,
            skipped: method.cannot_express(filter),
            bytes: Arc::new(frames.iter().map(|f| f.bytes.clone()).collect()),
            frames,
            check_expected,
            samples: Vec::new(),
            mismatches: Vec::new(),
            note: None,
            ns_per_packet: None,
            queue: false,
        })
    }

    /// Round `round` (from 0) of the pair: installs the method, in round 0 checks it
    /// (`BPF_PROG_TEST_RUN`, the slow check run), runs one timed run, and removes it.
    /// Errors are failures of the benchmark itself (the generator, reading counters,
    /// Ctrl-C); a method that cannot be installed is skipped.
    fn round(
        &mut self,
        bed: &Bed,
        round: u32,
        secs: f64,
        quit: &Arc<AtomicBool>,
        bar: &ProgressBar,
    ) -> Result<(), BenchError> {
        let (filter, method) = (self.filter, self.method);
        if self.skipped.is_some() {
            bar.inc(1 + u64::from(round == 0));
            return Ok(());
        }
        bar.set_message(format!("{filter} / {method}: installing"));
        let active = match method.install(filter, bed, &self.frames) {
            Ok(a) => a,
            Err(reason) if round == 0 => {
                self.skipped = Some(reason);
                bar.inc(2);
                return Ok(());
            }
            Err(reason) => {
                self.mismatches
                    .push(format!("round {}: cannot install: {reason}", round + 1));
                bar.inc(1);
                return Ok(());
            }
        };
        counters::install(bed, filter.protocol())?;
        if round == 0 {
            self.queue = active.is_queue();
            match active.test_run() {
                Some(Ok(t)) => {
                    for &(i, got, want) in &t.wrong {
                        self.mismatches.push(format!(
                            "BPF_PROG_TEST_RUN: frame {i} of the mix got verdict {got}, not {want}"
                        ));
                    }
                    self.ns_per_packet = Some((t.ns_per_packet * 10.0).round() / 10.0);
                }
                Some(Err(e)) => self.note = Some(e.clone()),
                None => {}
            }
            bar.set_message(format!("{filter} / {method}: check run"));
            let check = Limit {
                duration: CHECK_TIMEOUT,
                max_packets: CHECK_FRAMES_PER_KIND * self.bytes.len() as u64,
                rate_pps: Some(CHECK_RATE_PPS),
            };
            let s = measure::run(bed, &active, &self.bytes, check, quit)?;
            if quit.load(Ordering::SeqCst) {
                return Err(BenchError::Interrupted);
            }
            if s.counters.arrived != self.check_expected {
                self.mismatches.push(format!(
                    "check run: {:?} packets of each class reached the filter, {:?} were sent",
                    s.counters.arrived, self.check_expected
                ));
            }
            if let Err(e) = s.check(filter, method != Method::None, true) {
                self.mismatches.push(format!("check run: {e}"));
            }
            bar.inc(1);
        }
        let run = round + 1;
        bar.set_message(format!("{filter} / {method}: run {run}"));
        let limit = Limit::time(Duration::from_secs_f64(secs));
        let s = measure::run(bed, &active, &self.bytes, limit, quit)?;
        if quit.load(Ordering::SeqCst) {
            return Err(BenchError::Interrupted);
        }
        if s.delivered() == 0 {
            self.mismatches
                .push(format!("run {run}: no packet reached the filter"));
        }
        if let Err(e) = s.check(filter, method != Method::None, false) {
            self.mismatches.push(format!("run {run}: {e}"));
        }
        self.samples.push(s);
        if let Some(e) = active.last_error() {
            self.mismatches.push(format!("the hook reported: {e}"));
        }
        bar.inc(1);
        Ok(())
    }

    fn row(self, secs: f64) -> Row {
        let (filter, method) = (self.filter.name(), self.method.name());
        if let Some(reason) = self.skipped {
            return Row::skipped(filter, method, reason, secs);
        }
        let mut mismatches = self.mismatches;
        mismatches.dedup();
        let mut row = Row::measured(filter, method, &self.samples, self.queue, mismatches, secs);
        row.ns_per_packet = self.ns_per_packet;
        row.note = self.note;
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_default_to_all_and_drop_repeats() {
        assert_eq!(chosen(&[], &Filter::ALL), Filter::ALL.to_vec());
        assert_eq!(
            chosen(
                &[Method::LunetLua, Method::None, Method::LunetLua],
                &Method::ALL
            ),
            [Method::LunetLua, Method::None]
        );
    }

    #[test]
    fn quick_means_one_run_of_two_seconds_unless_told() {
        let mut o = Options {
            quick: true,
            json: None,
            docs: None,
            filters: vec![],
            methods: vec![],
            duration: None,
            runs: None,
        };
        assert_eq!((o.runs(), o.duration()), (1, 2.0));
        o.quick = false;
        assert_eq!((o.runs(), o.duration()), (3, 5.0));
        o.runs = Some(2);
        o.duration = Some(1.0);
        assert_eq!((o.runs(), o.duration()), (2, 1.0));
    }
}
