//! How much a state may use: memory for the whole state; instructions and wall-clock time per
//! hook call and for the body. Defaults are documented in docs/lua-tier.md; `run --mem`,
//! `--budget` and `--timeout` override them, within the bounds [`Limits::check`] enforces.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes the Lua state may allocate in all (body, hooks, their data).
    pub memory: usize,
    /// Lua VM instructions one hook call may run before it gives its default verdict, for
    /// hooks whose registration sets no `budget` of its own.
    pub hook_budget: u64,
    /// Lua VM instructions the body may run.
    pub body_budget: u64,
    /// Wall-clock time one hook call may take, for hooks whose registration sets no
    /// `timeout` of its own.
    #[serde(default = "default_hook_time", with = "millis")]
    pub hook_time: Duration,
    /// Wall-clock time the body may take.
    #[serde(default = "default_body_time", with = "millis")]
    pub body_time: Duration,
}

/// The state's memory cap, kept in its app data for code that must not build more outside it
/// than is left inside (gsub's output).
pub(crate) struct MemoryCap(pub usize);

fn default_hook_time() -> Duration {
    Limits::DEFAULT_HOOK_TIME
}

fn default_body_time() -> Duration {
    Limits::DEFAULT_BODY_TIME
}

/// A limit outside what lunet accepts, and the bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("memory cap of {0} bytes: a state needs at least {min} bytes", min = Limits::MIN_MEMORY)]
    MemoryTooSmall(usize),
    #[error("memory cap of {0} bytes: more than the {max} bytes a state may have", max = Limits::MAX_MEMORY)]
    MemoryTooLarge(usize),
    #[error("instruction budget of {0}: a budget is at least 1 instruction")]
    BudgetZero(u64),
    #[error("instruction budget of {0}: more than the {max} a call may have", max = Limits::MAX_BUDGET)]
    BudgetTooLarge(u64),
    #[error("time limit of {}: more than the {} {what} may have", show_duration(*.time), show_duration(*.max))]
    TimeTooLong {
        time: Duration,
        max: Duration,
        what: &'static str,
    },
    #[error("time limit of 0: a call needs some time")]
    TimeZero,
    #[error("{0} per-CPU copies: a state runs 1 to {max} copies", max = Limits::MAX_COPIES)]
    Copies(u16),
}

impl Limits {
    pub const DEFAULT_MEMORY: usize = 32 << 20;
    /// Per-CPU copies a state may run (`run --cpus`).
    pub const MAX_COPIES: u16 = 256;
    pub const DEFAULT_HOOK_BUDGET: u64 = 100_000;
    pub const DEFAULT_BODY_BUDGET: u64 = 100_000_000;
    pub const DEFAULT_HOOK_TIME: Duration = Duration::from_millis(100);
    pub const DEFAULT_BODY_TIME: Duration = Duration::from_secs(10);
    /// A state with its modules takes about 200 KiB before the script allocates anything.
    pub const MIN_MEMORY: usize = 1 << 20;
    pub const MAX_MEMORY: usize = 64 << 30;
    /// About a minute of Lua on a fast core: any more is a mistake, not a budget.
    pub const MAX_BUDGET: u64 = 100_000_000_000;
    /// A packet waits for its hook: a second is already far more than a filter should take.
    pub const MAX_HOOK_TIME: Duration = Duration::from_secs(1);
    pub const MAX_BODY_TIME: Duration = Duration::from_secs(600);

    /// Whether these limits are within lunet's bounds (`mem: 0` is not "unlimited", it is an
    /// error).
    pub fn check(&self) -> Result<(), LimitError> {
        check_memory(self.memory)?;
        check_budget(self.hook_budget)?;
        check_budget(self.body_budget)?;
        check_time(self.hook_time, Self::MAX_HOOK_TIME, "a hook call")?;
        check_time(self.body_time, Self::MAX_BODY_TIME, "a body")
    }
}

pub fn check_memory(bytes: usize) -> Result<(), LimitError> {
    if bytes < Limits::MIN_MEMORY {
        Err(LimitError::MemoryTooSmall(bytes))
    } else if bytes > Limits::MAX_MEMORY {
        Err(LimitError::MemoryTooLarge(bytes))
    } else {
        Ok(())
    }
}

pub fn check_budget(instructions: u64) -> Result<(), LimitError> {
    if instructions == 0 {
        Err(LimitError::BudgetZero(instructions))
    } else if instructions > Limits::MAX_BUDGET {
        Err(LimitError::BudgetTooLarge(instructions))
    } else {
        Ok(())
    }
}

pub fn check_time(time: Duration, max: Duration, what: &'static str) -> Result<(), LimitError> {
    if time.is_zero() {
        Err(LimitError::TimeZero)
    } else if time > max {
        Err(LimitError::TimeTooLong { time, max, what })
    } else {
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: Self::DEFAULT_MEMORY,
            hook_budget: Self::DEFAULT_HOOK_BUDGET,
            body_budget: Self::DEFAULT_BODY_BUDGET,
            hook_time: Self::DEFAULT_HOOK_TIME,
            body_time: Self::DEFAULT_BODY_TIME,
        }
    }
}

/// `20 ms`, `1.5 s`: a duration as messages write it.
pub fn show_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_absurd_limits_are_refused_with_the_bound() {
        assert!(Limits::default().check().is_ok());
        let mem = |memory| Limits {
            memory,
            ..Limits::default()
        };
        assert_eq!(mem(0).check(), Err(LimitError::MemoryTooSmall(0)));
        let huge = 1_000_000usize << 30;
        let e = mem(huge).check().unwrap_err().to_string();
        assert!(e.contains("more than the 68719476736 bytes"), "{e}");
        let budget = |hook_budget| Limits {
            hook_budget,
            ..Limits::default()
        };
        assert_eq!(budget(0).check(), Err(LimitError::BudgetZero(0)));
        assert!(budget(u64::MAX).check().is_err());
        let slow = Limits {
            hook_time: Duration::from_secs(5),
            ..Limits::default()
        };
        assert_eq!(
            slow.check().unwrap_err().to_string(),
            "time limit of 5 s: more than the 1 s a hook call may have"
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(show_duration(Duration::from_millis(20)), "20 ms");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5 s");
    }
}
