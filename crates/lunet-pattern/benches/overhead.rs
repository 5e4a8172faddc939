//! What the budget costs on ordinary matches: each workload timed with no metering at all
//! ([`Unlimited`], the counter compiled away) and with the budgets a sandbox would use. Also
//! Lua's own C matcher on the same workload, run in a Lua loop, for scale.
//!
//! `cargo bench -p lunet-pattern` prints ns per call and the overhead over `Unlimited`; it
//! asserts nothing (speed claims live here, not in timed tests). Best of several interleaved
//! runs. On a shared machine timings move by several percent from run to run; for a steady
//! figure count instructions instead: `valgrind --tool=cachegrind --cache-sim=no
//! target/release/deps/overhead-* --run W B 200` (see `run_only`), minus the same with 0.

use std::hint::black_box;
use std::time::{Duration, Instant};

use lunet_pattern::{
    find, gsub, match_, Budget, Deadline, GMatch, Interrupted, StepLimit, Unlimited,
};

/// One workload: an operation on a subject and pattern.
struct Op {
    name: &'static str,
    subject: Vec<u8>,
    pattern: &'static [u8],
    kind: Kind,
}

enum Kind {
    Find,
    Match,
    Gsub(&'static [u8]),
    Gmatch,
}

impl Op {
    /// Runs the operation once under `budget`.
    fn run<B: Budget + ?Sized>(&self, budget: &mut B) {
        let (s, p) = (black_box(&self.subject[..]), black_box(self.pattern));
        match self.kind {
            Kind::Find => drop(black_box(find(s, p, 1, false, budget))),
            Kind::Match => drop(black_box(match_(s, p, 1, budget))),
            Kind::Gsub(r) => drop(black_box(gsub(s, p, r, None, budget))),
            Kind::Gmatch => {
                let mut it = GMatch::new(s.len(), 1);
                while let Ok(Some(c)) = it.next(s, p, budget) {
                    black_box(c);
                }
            }
        }
    }

    /// The same operation in Lua, over globals `s`, `p` and `r`.
    fn lua(&self) -> &'static str {
        match self.kind {
            Kind::Find => "string.find(s, p)",
            Kind::Match => "string.match(s, p)",
            Kind::Gsub(_) => "string.gsub(s, p, r)",
            Kind::Gmatch => "for w in string.gmatch(s, p) do end",
        }
    }
}

fn text() -> Vec<u8> {
    let words = b"the quick brown fox jumps over the lazy dog while  packets\tflow through \
                  netfilter queues, mail admin@example.com for help; ";
    words.iter().copied().cycle().take(1400).collect()
}

fn request() -> Vec<u8> {
    let mut r = b"GET /index.html?user=alice&id=42 HTTP/1.1\r\n".to_vec();
    r.extend_from_slice(&b"Accept: */*\r\nUser-Agent: curl/8.5\r\n".repeat(20));
    r.extend_from_slice(b"Host: www.example.com\r\n\r\n");
    r
}

fn workloads() -> Vec<Op> {
    vec![
        Op {
            name: "find request line (anchored, 4 captures)",
            subject: request(),
            pattern: b"^(%u+) (%S+) HTTP/(%d)%.(%d)",
            kind: Kind::Find,
        },
        Op {
            name: "match Host header (scans ~800 bytes)",
            subject: request(),
            pattern: b"\r\nHost: ([^\r\n]+)",
            kind: Kind::Match,
        },
        Op {
            name: "find e-mail address (sets, 1.4 KB)",
            subject: text(),
            pattern: b"[%w_%.%-]+@[%w_%-]+%.%a+",
            kind: Kind::Find,
        },
        Op {
            name: "gsub whitespace runs (1.4 KB)",
            subject: text(),
            pattern: b"%s+",
            kind: Kind::Gsub(b" "),
        },
        Op {
            name: "gmatch words (1.4 KB)",
            subject: text(),
            pattern: b"%a+",
            kind: Kind::Gmatch,
        },
        Op {
            name: "find lazy key=value (backtracking)",
            subject: request(),
            pattern: b"user=(.-)&id=(%d+)",
            kind: Kind::Find,
        },
    ]
}

/// Rounds of runs per budget; each budget's best round counts.
const ROUNDS: usize = 15;

/// Time per call over one run of `iters` calls.
fn time(iters: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// Lua's C matcher on the same operation: a Lua loop, minus the empty loop's time.
fn lua_time(lua: &mlua::Lua, w: &Op, iters: u32) -> f64 {
    let g = lua.globals();
    g.set("s", lua.create_string(&w.subject[..]).unwrap())
        .unwrap();
    g.set("p", lua.create_string(w.pattern).unwrap()).unwrap();
    g.set("r", " ").unwrap();
    let body = format!("return function(n) for _ = 1, n do {} end end", w.lua());
    let f: mlua::Function = lua.load(&body).eval().unwrap();
    let empty: mlua::Function = lua
        .load("return function(n) for _ = 1, n do end end")
        .eval()
        .unwrap();
    let best = |f: &mlua::Function| {
        (0..ROUNDS)
            .map(|_| time(1, || f.call::<()>(iters).unwrap()))
            .fold(f64::MAX, f64::min)
    };
    (best(&f) - best(&empty)) / f64::from(iters)
}

/// `--run WORKLOAD BUDGET N`: just runs workload number WORKLOAD (from 0) N times under
/// budget BUDGET (0 Unlimited, 1 StepLimit, 2 closure, 3 Deadline), for an instruction
/// counter (`valgrind --tool=cachegrind`), which is not disturbed by a busy machine.
fn run_only(args: &[String]) {
    let num = |i: usize| args[i].parse::<usize>().expect("--run WORKLOAD BUDGET N");
    let (w, b, n) = (&workloads()[num(0)], num(1), num(2));
    let far = Instant::now() + Duration::from_secs(3600);
    for _ in 0..n {
        match b {
            0 => w.run(&mut Unlimited),
            1 => w.run(&mut StepLimit::new(u64::MAX)),
            2 => w.run(&mut || Ok::<(), Interrupted>(())),
            _ => w.run(&mut Deadline(far)),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--run") {
        return run_only(&args[i + 1..]);
    }
    let lua = mlua::Lua::new();
    println!(
        "{:<44} {:>10} {:>18} {:>18} {:>18} {:>10}",
        "workload (ns per call)", "Unlimited", "StepLimit", "FnMut closure", "Deadline", "C Lua"
    );
    let far = Instant::now() + Duration::from_secs(3600);
    for w in workloads() {
        // Calibrate to about 10 ms per run.
        let once = time(1, || w.run(&mut Unlimited)).max(1.0);
        let iters = ((10e6 / once) as u32).clamp(10, 1_000_000);
        // The budgets take turns, round after round, and each keeps its best run: the machine
        // is shared, and interleaving spreads its noise over all of them alike.
        let mut best = [f64::MAX; 4];
        for _ in 0..ROUNDS {
            let runs = [
                time(iters, || w.run(&mut Unlimited)),
                time(iters, || w.run(&mut StepLimit::new(u64::MAX))),
                time(iters, || w.run(&mut || Ok::<(), Interrupted>(()))),
                time(iters, || w.run(&mut Deadline(far))),
            ];
            for (b, r) in best.iter_mut().zip(runs) {
                *b = b.min(r);
            }
        }
        let c = lua_time(&lua, &w, iters);
        let base = best[0];
        let pct = |t: f64| format!("{t:>8.0} ({:+5.1}%)", (t / base - 1.0) * 100.0);
        println!(
            "{:<44} {:>10.0} {:>18} {:>18} {:>18} {:>10.0}",
            w.name,
            base,
            pct(best[1]),
            pct(best[2]),
            pct(best[3]),
            c
        );
    }
}
