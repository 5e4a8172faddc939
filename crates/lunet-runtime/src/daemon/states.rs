//! The daemon's running states by name, behind one lock that no panic can take down.
//!
//! Every change under the lock is one insert or one remove of the map, and nothing else runs
//! under it (a state's counters, its stop, the record file: all after the lock is released),
//! so no panic can happen there and the map is never left half-changed. Should a thread still
//! panic while holding the guard, [`States::lock`] takes the poisoned guard back instead of
//! failing every later request on it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::runner::Running;

/// A name is reserved (`None`) while its state starts, so two `run`s cannot take it twice.
type Map = BTreeMap<String, Option<Arc<Running>>>;

#[derive(Default)]
pub struct States(Mutex<Map>);

/// What a name stands for.
pub enum Lookup {
    Running(Arc<Running>),
    /// Reserved by a `run` that has not finished starting.
    Starting,
    Absent,
}

impl States {
    /// The one way to the map.
    fn lock(&self) -> MutexGuard<'_, Map> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, name: &str) -> Lookup {
        match self.lock().get(name) {
            Some(Some(r)) => Lookup::Running(r.clone()),
            Some(None) => Lookup::Starting,
            None => Lookup::Absent,
        }
    }

    /// The running states, in name order.
    pub fn running(&self) -> Vec<Arc<Running>> {
        self.lock().values().flatten().cloned().collect()
    }

    /// Whether `r` is still the state running under `name`.
    pub fn is_current(&self, name: &str, r: &Arc<Running>) -> bool {
        matches!(self.lock().get(name), Some(Some(cur)) if Arc::ptr_eq(cur, r))
    }

    /// Takes `name` for a state about to start; `None` when it is taken.
    pub fn reserve(&self, name: &str) -> Option<Reservation<'_>> {
        let mut map = self.lock();
        if map.contains_key(name) {
            return None;
        }
        map.insert(name.to_string(), None);
        Some(Reservation {
            states: self,
            name: name.to_string(),
            filled: false,
        })
    }

    /// Removes the state running under `name` (a reservation stays with its starter).
    pub fn remove(&self, name: &str) -> Lookup {
        let mut map = self.lock();
        match map.get(name) {
            Some(Some(_)) => match map.remove(name) {
                Some(Some(r)) => Lookup::Running(r),
                _ => Lookup::Absent,
            },
            Some(None) => Lookup::Starting,
            None => Lookup::Absent,
        }
    }

    /// Removes every running state (reservations stay with their starters).
    pub fn take_all(&self) -> Vec<Arc<Running>> {
        let mut map = self.lock();
        let names: Vec<String> = map
            .iter()
            .filter(|(_, r)| r.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        names
            .iter()
            .filter_map(|n| map.remove(n).flatten())
            .collect()
    }
}

/// A name taken by a state that is starting. Dropped without [`Reservation::fill`] (the
/// start failed, or panicked), it gives the name back.
pub struct Reservation<'a> {
    states: &'a States,
    name: String,
    filled: bool,
}

impl Reservation<'_> {
    /// The state started: it runs under the reserved name.
    pub fn fill(mut self, running: Arc<Running>) {
        self.states.lock().insert(self.name.clone(), Some(running));
        self.filled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.filled {
            self.states.lock().remove(&self.name);
        }
    }
}

#[cfg(test)]
impl States {
    /// Panics while holding the lock, on another thread, as a request that failed there
    /// would: the mutex is poisoned afterwards.
    pub fn poison(&self) {
        let panicked = std::thread::scope(|s| {
            s.spawn(|| {
                let _held = self.0.lock();
                panic!("a request panicked while it held the states' lock");
            })
            .join()
        });
        assert!(panicked.is_err());
        assert!(self.0.is_poisoned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_reserves_finds_and_removes() {
        let states = States::default();
        let kept = states.reserve("fw");
        assert!(kept.is_some());
        states.poison();
        assert!(matches!(states.get("fw"), Lookup::Starting));
        assert!(
            states.reserve("fw").is_none(),
            "a reserved name stays taken"
        );
        assert!(
            matches!(states.remove("fw"), Lookup::Starting),
            "stop leaves a reservation"
        );
        let other = states.reserve("other").expect("a free name");
        drop(other);
        assert!(
            matches!(states.get("other"), Lookup::Absent),
            "an unfilled reservation goes"
        );
        drop(kept);
        assert!(matches!(states.get("fw"), Lookup::Absent));
        assert!(states.running().is_empty());
        assert!(states.take_all().is_empty());
    }

    #[test]
    fn a_start_that_panics_gives_its_name_back() {
        let states = States::default();
        let started = std::thread::scope(|s| {
            s.spawn(|| {
                let _r = states.reserve("fw");
                panic!("the start failed");
            })
            .join()
        });
        assert!(started.is_err());
        assert!(states.reserve("fw").is_some(), "the name is free again");
    }
}
