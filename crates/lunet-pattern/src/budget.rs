//! The budget hook: how a caller stops a match that would run too long.
//!
//! Lua's own matcher backtracks without bound (`("a"):rep(5000):find(".-.-.-.-.-b")` runs for
//! years), so the engine counts *steps* — one per recursive match call, one per subject byte an
//! item is tried against, plus proportional charges for work whose cost grows with the input
//! (long sets, back-reference compares, `%b` scans, plain-search candidates, gsub output) — and
//! every [`CHECK_INTERVAL`] steps hands the count to the caller's [`Budget`]. Between checks
//! the cost is one subtraction and one branch.

use std::time::Instant;

use crate::error::Interrupted;

/// Steps between two calls of [`Budget::check`]. A check may come a little later than this
/// (one item's charge is added whole), never much earlier.
pub const CHECK_INTERVAL: u64 = 512;

/// Decides, every [`CHECK_INTERVAL`] steps or so, whether a match may go on.
///
/// Any `FnMut() -> Result<(), Interrupted>` closure (also behind `&mut dyn FnMut`) is a budget
/// that ignores the step count: use it to poll a deadline or a cancel flag.
pub trait Budget {
    /// Whether the engine counts steps for this budget at all. Only budgets that can never
    /// interrupt ([`Unlimited`]) set this to `false`; the counter then compiles away.
    const METERED: bool = true;

    /// Called with the steps spent since the previous call; `Err` stops the match with
    /// [`Error::Interrupted`](crate::Error::Interrupted).
    fn check(&mut self, spent: u64) -> Result<(), Interrupted>;
}

impl<F> Budget for F
where
    F: FnMut() -> Result<(), Interrupted> + ?Sized,
{
    fn check(&mut self, _spent: u64) -> Result<(), Interrupted> {
        self()
    }
}

/// No limit: the match runs as long as Lua's would. For trusted patterns and for measuring
/// what the metering costs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl Budget for Unlimited {
    const METERED: bool = false;

    fn check(&mut self, _spent: u64) -> Result<(), Interrupted> {
        Ok(())
    }
}

/// Stops once more than a given number of steps have been spent. Reusable across calls: the
/// remaining allowance carries over, so one `StepLimit` can bound a whole script run.
#[derive(Debug, Clone, Copy)]
pub struct StepLimit {
    remaining: u64,
    spent: u64,
}

impl StepLimit {
    /// A budget of `steps` steps.
    pub fn new(steps: u64) -> Self {
        StepLimit {
            remaining: steps,
            spent: 0,
        }
    }

    /// Steps reported so far (a multiple of the check interval, roughly; the steps since the
    /// last check are not counted yet).
    pub fn spent(&self) -> u64 {
        self.spent
    }

    /// Steps still allowed.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl Budget for StepLimit {
    fn check(&mut self, spent: u64) -> Result<(), Interrupted> {
        self.spent = self.spent.saturating_add(spent);
        match self.remaining.checked_sub(spent) {
            Some(left) => {
                self.remaining = left;
                Ok(())
            }
            None => {
                self.remaining = 0;
                Err(Interrupted)
            }
        }
    }
}

/// Stops once the clock passes a deadline (checked with [`Instant::now`] at each check, so the
/// overrun is at most one check interval's worth of work).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

impl Budget for Deadline {
    fn check(&mut self, _spent: u64) -> Result<(), Interrupted> {
        if Instant::now() >= self.0 {
            Err(Interrupted)
        } else {
            Ok(())
        }
    }
}

/// The engine's side of the budget: a countdown to the next check.
pub(crate) struct Meter<'b, B: Budget + ?Sized> {
    /// Steps left before the next check.
    fuel: u64,
    budget: &'b mut B,
}

impl<'b, B: Budget + ?Sized> Meter<'b, B> {
    pub(crate) fn new(budget: &'b mut B) -> Self {
        Meter {
            fuel: CHECK_INTERVAL,
            budget,
        }
    }

    /// Spends `steps`; every [`CHECK_INTERVAL`] steps asks the budget whether to go on.
    #[inline(always)]
    pub(crate) fn charge(&mut self, steps: u64) -> Result<(), Interrupted> {
        if !B::METERED {
            return Ok(());
        }
        if steps < self.fuel {
            self.fuel -= steps;
            Ok(())
        } else {
            self.refill(steps)
        }
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, steps: u64) -> Result<(), Interrupted> {
        let spent = (CHECK_INTERVAL - self.fuel).saturating_add(steps);
        self.fuel = CHECK_INTERVAL;
        self.budget.check(spent)
    }
}
