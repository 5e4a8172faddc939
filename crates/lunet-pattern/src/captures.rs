//! Captures: what the matcher records while it runs, and the values Lua hands back.

use std::ops::Range;

use crate::error::Error;

/// Most captures a pattern may have open or closed at once (Lua's `LUA_MAXCAPTURES`).
pub const MAX_CAPTURES: usize = 32;

/// The state of one capture slot while matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extent {
    /// `(` seen, `)` not yet.
    Open,
    /// `()`: records a position, has no length.
    Position,
    /// Closed, this many bytes long.
    Closed(usize),
}

/// One capture slot: where it starts in the subject and how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) start: usize,
    pub(crate) extent: Extent,
}

/// One value a match returns, as Lua would return it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capture {
    /// A string: these bytes of the subject (0-based, half-open).
    Bytes(Range<usize>),
    /// A position capture `()`: the Lua integer it yields, 1-based (offset + 1).
    Position(usize),
}

impl Capture {
    /// The captured bytes, or `None` for a position capture.
    pub fn bytes<'s>(&self, subject: &'s [u8]) -> Option<&'s [u8]> {
        match self {
            Capture::Bytes(r) => subject.get(r.clone()),
            Capture::Position(_) => None,
        }
    }
}

/// The captures of one successful match, handed to [`gsub_with`](crate::gsub_with)'s callback.
///
/// Asking for a value can fail the way Lua does (an unfinished capture, an index the pattern
/// does not have), so each accessor returns a `Result`: a table replacement asks only for
/// [`first`](Self::first), a function replacement for [`all`](Self::all), and only what is
/// asked for can raise.
#[derive(Debug, Clone, Copy)]
pub struct Captures<'a> {
    subject: &'a [u8],
    whole: (usize, usize),
    slots: &'a [Slot],
}

impl<'a> Captures<'a> {
    pub(crate) fn new(subject: &'a [u8], whole: Range<usize>, slots: &'a [Slot]) -> Self {
        Captures {
            subject,
            whole: (whole.start, whole.end),
            slots,
        }
    }

    /// The subject the ranges index.
    pub fn subject(&self) -> &'a [u8] {
        self.subject
    }

    /// The whole match, as a byte range of the subject.
    pub fn whole(&self) -> Range<usize> {
        self.whole.0..self.whole.1
    }

    /// How many captures the match recorded (0 when the pattern has none).
    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// Capture `n` as `%n` means it: 0 is the whole match, and so is 1 when the pattern has no
    /// captures; otherwise `n` counts captures from 1 by their opening parenthesis.
    pub fn get(&self, n: usize) -> Result<Capture, Error> {
        if n == 0 || (n == 1 && self.slots.is_empty()) {
            return Ok(Capture::Bytes(self.whole()));
        }
        match self.slots.get(n - 1) {
            None => Err(Error::InvalidCaptureIndex(n)),
            Some(slot) => match slot.extent {
                Extent::Open => Err(Error::UnfinishedCapture),
                Extent::Position => Ok(Capture::Position(slot.start + 1)),
                Extent::Closed(len) => Ok(Capture::Bytes(slot.start..slot.start + len)),
            },
        }
    }

    /// The first capture, or the whole match when there is none: the key a table replacement
    /// looks up.
    pub fn first(&self) -> Result<Capture, Error> {
        self.get(1)
    }

    /// Every capture, or just the whole match when there is none: what `string.match` and
    /// `string.gmatch` return and what a function replacement receives.
    pub fn all(&self) -> Result<Vec<Capture>, Error> {
        let n = self.slots.len().max(1);
        (1..=n).map(|i| self.get(i)).collect()
    }

    /// Only the captures (none when there are none): what `string.find` returns after the two
    /// positions.
    pub fn listed(&self) -> Result<Vec<Capture>, Error> {
        (1..=self.slots.len()).map(|i| self.get(i)).collect()
    }
}
