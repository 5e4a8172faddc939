//! A state's log: what `print` wrote and what went wrong, kept in a bounded ring so a chatty
//! script cannot grow the daemon, numbered so `lunet logs --follow` can ask for what is new.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Written by the script's `print`.
    Print,
    /// Written by lunet: a hook error, a budget hit, a body failure.
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub seq: u64,
    /// Seconds since the Unix epoch.
    pub time: f64,
    pub stream: Stream,
    pub text: String,
}

#[derive(Default)]
struct Ring {
    lines: VecDeque<Line>,
    next_seq: u64,
}

/// Shared between the state's thread (writer) and the daemon's clients (readers).
#[derive(Clone)]
pub struct Log {
    inner: Arc<(Mutex<Ring>, Condvar)>,
    capacity: usize,
}

impl Log {
    pub fn new(capacity: usize) -> Self {
        Log {
            inner: Arc::new((Mutex::new(Ring::default()), Condvar::new())),
            capacity: capacity.max(1),
        }
    }

    pub fn push(&self, stream: Stream, text: impl Into<String>) {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let (lock, cv) = &*self.inner;
        let mut ring = lock.lock().unwrap_or_else(|e| e.into_inner());
        let seq = ring.next_seq;
        ring.next_seq += 1;
        if ring.lines.len() == self.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(Line {
            seq,
            time,
            stream,
            text: text.into(),
        });
        cv.notify_all();
    }

    /// Lines numbered `from` or later that are still kept.
    pub fn since(&self, from: u64) -> Vec<Line> {
        let ring = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        ring.lines
            .iter()
            .filter(|l| l.seq >= from)
            .cloned()
            .collect()
    }

    /// Like [`Log::since`], but waits up to `timeout` for a line when there is none yet.
    pub fn wait_since(&self, from: u64, timeout: Duration) -> Vec<Line> {
        let (lock, cv) = &*self.inner;
        let ring = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (ring, _) = cv
            .wait_timeout_while(ring, timeout, |r| r.next_seq <= from)
            .unwrap_or_else(|e| e.into_inner());
        ring.lines
            .iter()
            .filter(|l| l.seq >= from)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_up_to_capacity() {
        let log = Log::new(2);
        for i in 0..5 {
            log.push(Stream::Print, format!("line {i}"));
        }
        let lines = log.since(0);
        assert_eq!(
            lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["line 3", "line 4"]
        );
        assert_eq!(lines[0].seq, 3);
        assert!(log.since(5).is_empty());
    }
}
