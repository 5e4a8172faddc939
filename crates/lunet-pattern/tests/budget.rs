//! The budget hook: runaway matches stop, checks come every CHECK_INTERVAL steps or so, and the
//! usual budget kinds (step limits, deadlines, closures) all work.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lunet_pattern::{
    find, gsub, match_, Budget, Deadline, Error, Interrupted, StepLimit, CHECK_INTERVAL,
};

/// The pattern from the brief: 5000 bytes and five lazy items, O(n^5) before failing.
fn runaway() -> (Vec<u8>, &'static [u8]) {
    (b"a".repeat(5000), b".-.-.-.-.-b")
}

#[test]
fn a_step_limit_stops_the_runaway_find_after_its_steps() {
    let (subject, pattern) = runaway();
    let mut limit = StepLimit::new(3_000_000);
    let started = Instant::now();
    let r = find(&subject, pattern, 1, false, &mut limit);
    let took = started.elapsed();
    assert_eq!(r, Err(Error::Interrupted));
    // Stopped at the first check past the limit: the steps counted are bounded by it plus one
    // interval's worth of work (one charge may overshoot an interval by an item's cost).
    assert!(limit.spent() > 3_000_000, "spent {}", limit.spent());
    assert!(
        limit.spent() <= 3_000_000 + 2 * CHECK_INTERVAL,
        "spent {}",
        limit.spent()
    );
    println!(
        "runaway find stopped after {} steps in {took:?}",
        limit.spent()
    );
}

#[test]
fn a_deadline_stops_the_runaway_find_soon_after_it_passes() {
    let (subject, pattern) = runaway();
    let started = Instant::now();
    let r = match_(
        &subject,
        pattern,
        1,
        &mut Deadline(started + Duration::from_millis(50)),
    );
    let took = started.elapsed();
    assert_eq!(r, Err(Error::Interrupted));
    // Unbounded, this runs for years; a check interval takes microseconds. The bound is loose
    // on purpose (a loaded CI machine): it only shows the deadline is what ended the call.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    println!("runaway match stopped {took:?} after start, deadline 50 ms");
}

#[test]
fn a_closure_behind_dyn_fnmut_can_stop_a_match_on_a_flag() {
    let (subject, pattern) = runaway();
    let stop = AtomicBool::new(false);
    let calls = Cell::new(0u32);
    let mut poll = || {
        calls.set(calls.get() + 1);
        if calls.get() == 100 {
            stop.store(true, Ordering::Relaxed);
        }
        if stop.load(Ordering::Relaxed) {
            Err(Interrupted)
        } else {
            Ok(())
        }
    };
    let budget: &mut dyn FnMut() -> Result<(), Interrupted> = &mut poll;
    assert_eq!(
        find(&subject, pattern, 1, false, budget),
        Err(Error::Interrupted)
    );
    assert_eq!(calls.get(), 100);
}

/// Records what the engine reports at each check.
struct Recorder(Vec<u64>);

impl Budget for Recorder {
    fn check(&mut self, spent: u64) -> Result<(), Interrupted> {
        self.0.push(spent);
        if self.0.len() == 1000 {
            Err(Interrupted)
        } else {
            Ok(())
        }
    }
}

#[test]
fn checks_come_once_per_interval_with_the_steps_spent() {
    let (subject, pattern) = runaway();
    let mut rec = Recorder(Vec::new());
    assert_eq!(
        find(&subject, pattern, 1, false, &mut rec),
        Err(Error::Interrupted)
    );
    assert_eq!(rec.0.len(), 1000);
    // Each report covers at least one interval, and at most one item's cost more.
    assert!(
        rec.0
            .iter()
            .all(|&s| (CHECK_INTERVAL..CHECK_INTERVAL + 8).contains(&s)),
        "{:?}",
        &rec.0[..10]
    );
}

#[test]
fn a_normal_match_under_a_small_budget_completes_and_leaves_the_rest_for_later_calls() {
    let mut limit = StepLimit::new(1_000_000);
    let r = find(
        b"GET /index.html HTTP/1.1",
        b"^(%u+) (%S+) HTTP/(%d)%.(%d)$",
        1,
        false,
        &mut limit,
    );
    assert!(r.unwrap().is_some());
    // The same StepLimit keeps counting across calls until it runs out.
    let (subject, pattern) = runaway();
    assert_eq!(
        find(&subject, pattern, 1, false, &mut limit),
        Err(Error::Interrupted)
    );
    assert_eq!(limit.remaining(), 0);
    assert_eq!(
        find(&subject, pattern, 1, false, &mut limit),
        Err(Error::Interrupted)
    );
}

#[test]
fn work_that_grows_with_the_input_is_charged_too() {
    // Each of these does quadratic (or output-bound) work that one step per match call would
    // not see; without its charge the call would finish (after a long time) instead.
    let budget = || StepLimit::new(3_000_000);
    let mut lap = Instant::now();
    let mut timed = |what: &str, r: Result<(), Error>| {
        assert_eq!(r, Err(Error::Interrupted), "{what}");
        println!("{what}: stopped in {:?}", lap.elapsed());
        lap = Instant::now();
    };
    let started = Instant::now();
    // %b rescans to the end from every start.
    let parens = b"(".repeat(40_000);
    timed(
        "%b",
        find(&parens, b"%b()", 1, false, &mut budget()).map(drop),
    );
    // A plain search for a long needle that almost matches everywhere.
    let hay = b"a".repeat(200_000);
    let needle = [b"a".repeat(100_000), b"b".to_vec()].concat();
    timed(
        "plain",
        find(&hay, &needle, 1, true, &mut budget()).map(drop),
    );
    // A set of 20000 bytes tested at every position.
    let set = [&b"["[..], &b"b".repeat(20_000), b"]"].concat();
    timed(
        "set",
        find(&b"a".repeat(20_000), &set, 1, false, &mut budget()).map(drop),
    );
    // A back-reference compare that grows with the capture.
    let long = [b"a".repeat(20_000), b"b".to_vec()].concat();
    timed(
        "backref",
        find(&long, b"(a*)%1c", 1, false, &mut budget()).map(drop),
    );
    // gsub output: 10 MB of replacement text.
    let template = b"%0".repeat(1000);
    let subject = b"a".repeat(10_000);
    let r = gsub(
        &subject,
        b".",
        &template,
        None,
        &mut StepLimit::new(100_000),
    );
    timed("gsub", r.map(drop));
    println!("all stopped in {:?}", started.elapsed());
}
