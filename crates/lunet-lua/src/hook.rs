//! What a script registered: where each hook attaches, what it gives on error, and its counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::HookError;
use lunet_types::{Attach, Tier};

/// One registered hook, as the rest of lunet sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookSpec {
    /// Index in the state's hook list; stable for the state's life.
    pub id: usize,
    /// `name = ...` from the registration, or `<HOOK>:<line>`.
    pub name: String,
    pub attach: Attach,
    /// What the hook gives when it errors or runs out of budget.
    pub default_verdict: u32,
    pub tier: Tier,
    /// `file:line` where the hook function is defined.
    pub defined_at: String,
    /// Instructions one call may run: `budget = N` from the registration, else the state's
    /// default (filled in when the body has finished).
    pub budget: Option<u64>,
    /// Wall-clock time one call may take: `timeout = MS` from the registration, else the
    /// state's default (filled in when the body has finished).
    pub timeout: Option<std::time::Duration>,
    /// What its queue does with packets when it is full (netfilter hooks in the Lua tier).
    #[serde(default)]
    pub overload: lunet_types::Overload,
}

/// A hook's counters, written by the state's thread and read by the daemon's clients.
#[derive(Debug, Default)]
pub struct HookStats {
    packets: AtomicU64,
    verdicts: [AtomicU64; 6],
    errors: AtomicU64,
    budget_hits: AtomicU64,
    time_hits: AtomicU64,
    memory_hits: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A copy of [`HookStats`] with verdicts by name, for `stats` and `replay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub packets: u64,
    pub verdicts: BTreeMap<String, u64>,
    /// Calls that gave the default verdict because of an error (budget and memory included).
    pub errors: u64,
    pub budget_hits: u64,
    /// Calls stopped at their time limit.
    #[serde(default)]
    pub time_hits: u64,
    pub memory_hits: u64,
    pub last_error: Option<String>,
}

impl HookStats {
    /// One call of the hook. Only the state's thread writes the counters (this and
    /// [`overrule`](Self::overrule)), so the two counted on every call are bumped with a
    /// load and a store, not a locked add: those were ~10 ns of a ~80 ns call.
    pub(crate) fn count(&self, verdict: u32, error: Option<&HookError>) {
        let bump = |c: &AtomicU64| c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
        bump(&self.packets);
        if let Some(slot) = self.verdicts.get(verdict as usize) {
            bump(slot);
        }
        if let Some(e) = error {
            self.errors.fetch_add(1, Relaxed);
            match e {
                HookError::Budget(_) => self.budget_hits.fetch_add(1, Relaxed),
                HookError::Time(_) => self.time_hits.fetch_add(1, Relaxed),
                HookError::Memory(_) => self.memory_hits.fetch_add(1, Relaxed),
                _ => 0,
            };
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(e.message().to_string());
        }
    }

    /// A counted call whose verdict `from` lunet replaced with `to` (a hook that kept
    /// returning REPEAT for one packet): the count moves, and `error` is counted as the
    /// call's error.
    pub fn overrule(&self, from: u32, to: u32, error: &HookError) {
        if let Some(slot) = self.verdicts.get(from as usize) {
            let _ = slot.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        }
        if let Some(slot) = self.verdicts.get(to as usize) {
            slot.fetch_add(1, Relaxed);
        }
        self.errors.fetch_add(1, Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(error.message().to_string());
    }

    pub fn snapshot(&self, names: &[&str]) -> StatsSnapshot {
        let verdicts = names
            .iter()
            .zip(&self.verdicts)
            .map(|(n, c)| (n.to_string(), c.load(Relaxed)))
            .filter(|(_, c)| *c > 0)
            .collect();
        StatsSnapshot {
            packets: self.packets.load(Relaxed),
            verdicts,
            errors: self.errors.load(Relaxed),
            budget_hits: self.budget_hits.load(Relaxed),
            time_hits: self.time_hits.load(Relaxed),
            memory_hits: self.memory_hits.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

impl StatsSnapshot {
    /// Adds `other`'s counts (another copy of the same hook); its last error wins if it has
    /// one.
    pub fn add(&mut self, other: &StatsSnapshot) {
        self.packets += other.packets;
        for (k, v) in &other.verdicts {
            *self.verdicts.entry(k.clone()).or_default() += v;
        }
        self.errors += other.errors;
        self.budget_hits += other.budget_hits;
        self.time_hits += other.time_hits;
        self.memory_hits += other.memory_hits;
        if other.last_error.is_some() {
            self.last_error = other.last_error.clone();
        }
    }
}
