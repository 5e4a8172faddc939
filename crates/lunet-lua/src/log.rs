//! A state's log: what `print` wrote and what went wrong, kept in a ring bounded in lines and
//! in bytes, so a chatty script cannot grow the daemon (its memory cap does not count the log),
//! numbered so `lunet logs --follow` can ask for what is new. A line longer than [`MAX_LINE`]
//! bytes is cut there, with a note saying how much was cut.

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
    /// The per-CPU copy of the state that wrote it (`run --cpus`); absent for copy 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<u16>,
}

/// The longest line the log keeps, in bytes; the rest is cut.
pub const MAX_LINE: usize = 4096;

/// The bytes of text a log keeps at most, unless made with [`Log::with_limits`].
pub const DEFAULT_BYTES: usize = 1 << 20;

#[derive(Default)]
struct Ring {
    lines: VecDeque<Line>,
    next_seq: u64,
    /// Bytes of text in `lines`.
    bytes: usize,
}

/// Shared between the state's thread (writer) and the daemon's clients (readers).
#[derive(Clone)]
pub struct Log {
    inner: Arc<(Mutex<Ring>, Condvar)>,
    capacity: usize,
    max_bytes: usize,
    /// The copy this handle writes for: its lines say so.
    copy: Option<u16>,
}

/// Room kept past [`MAX_LINE`] for the note that says how much was cut.
const NOTE_ROOM: usize = 48;

/// The note appended to a line that lost `bytes` bytes.
pub fn cut_note(bytes: usize) -> String {
    format!(" [... {bytes} more bytes cut]")
}

/// `text` cut to at most `max` bytes at a character boundary, with a note of what was cut.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let total = text.len();
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&cut_note(total - end));
    text
}

impl Log {
    /// A log of at most `capacity` lines and [`DEFAULT_BYTES`] of text.
    pub fn new(capacity: usize) -> Self {
        Log::with_limits(capacity, DEFAULT_BYTES)
    }

    /// A log of at most `lines` lines and `bytes` bytes of text (the newest line is always
    /// kept, cut to [`MAX_LINE`]).
    pub fn with_limits(lines: usize, bytes: usize) -> Self {
        Log {
            inner: Arc::new((Mutex::new(Ring::default()), Condvar::new())),
            capacity: lines.max(1),
            max_bytes: bytes,
            copy: None,
        }
    }

    /// The same log, for per-CPU copy `copy` of the state: the lines it writes say so.
    pub fn for_copy(&self, copy: u16) -> Log {
        Log {
            copy: (copy > 0).then_some(copy),
            ..self.clone()
        }
    }

    pub fn push(&self, stream: Stream, text: impl Into<String>) {
        let text = text.into();
        // A line already cut to MAX_LINE by its writer keeps its own note.
        let text = if text.len() > MAX_LINE + NOTE_ROOM {
            cut(text, MAX_LINE)
        } else {
            text
        };
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let (lock, cv) = &*self.inner;
        let mut ring = lock.lock().unwrap_or_else(|e| e.into_inner());
        let seq = ring.next_seq;
        ring.next_seq += 1;
        while !ring.lines.is_empty()
            && (ring.lines.len() >= self.capacity || ring.bytes + text.len() > self.max_bytes)
        {
            if let Some(old) = ring.lines.pop_front() {
                ring.bytes -= old.text.len();
            }
        }
        ring.bytes += text.len();
        ring.lines.push_back(Line {
            seq,
            time,
            stream,
            text,
            copy: self.copy,
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

    #[test]
    fn long_lines_are_cut_and_the_ring_is_bounded_in_bytes() {
        // The probe's two-line daemon killer: 2000 prints of an 8 MiB string.
        let log = Log::with_limits(2000, 64 * 1024);
        let big = "x".repeat(8 << 20);
        for _ in 0..2000 {
            log.push(Stream::Print, big.as_str());
        }
        let lines = log.since(0);
        let kept: usize = lines.iter().map(|l| l.text.len()).sum();
        assert!(kept <= 64 * 1024, "{kept} bytes kept");
        assert!(!lines.is_empty());
        let last = &lines.last().unwrap().text;
        assert!(last.len() < MAX_LINE + 64, "{}", last.len());
        assert!(last.ends_with(&format!("[... {} more bytes cut]", (8 << 20) - MAX_LINE)));
        assert_eq!(lines.last().unwrap().seq, 1999, "the newest line is kept");
    }

    #[test]
    fn cutting_keeps_whole_characters() {
        let s = cut("ééé".to_string(), 3);
        assert!(s.starts_with('é') && !s.starts_with("éé"), "{s}");
        assert_eq!(cut("short".into(), 10), "short");
    }
}
