//! Single items — the pattern pieces that match exactly one byte (`x`, `.`, `%a`, `%.`, `[...]`)
//! — and the quantifier that may follow one.
//!
//! The matcher works on the pattern bytes directly (it must not look past the item it is at,
//! so errors stay as lazy as Lua's); the parser turns the same spans into [`Single`] values.

use crate::class::{set_end, set_items, set_matches, Class, SetItem};
use crate::error::Error;

/// What one single item matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Single {
    /// One byte: a plain byte, `%` + a non-alphanumeric byte, or `%` + a letter that names no
    /// class (`%q` is `q`).
    Byte(u8),
    /// `.`: any byte.
    Any,
    /// `%a`, `%A`, ...
    Class(Class),
    /// `[...]` or `[^...]`.
    Set(Set),
}

/// A set `[...]`: the byte matches when it is one of `items`, or when it is none of them if
/// `negated` (`[^...]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Set {
    /// Written as `[^...]`.
    pub negated: bool,
    /// The members in pattern order.
    pub items: Vec<SetItem>,
}

impl Set {
    /// Reads the set spanning `pat[open..end]`.
    pub(crate) fn read(pat: &[u8], open: usize, end: usize) -> Set {
        let (negated, items) = set_items(pat, open, end);
        Set {
            negated,
            items: items.collect(),
        }
    }

    /// Whether byte `c` matches the set.
    pub fn matches(&self, c: u8) -> bool {
        self.items.iter().any(|item| item.matches(c)) != self.negated
    }
}

impl Single {
    /// Reads the single item spanning `pat[p..ep]` (as found by [`item_end`]).
    pub(crate) fn read(pat: &[u8], p: usize, ep: usize) -> Single {
        match pat[p] {
            b'.' => Single::Any,
            b'%' => match SetItem::escape(pat[p + 1]) {
                SetItem::Class(class) => Single::Class(class),
                _ => Single::Byte(pat[p + 1]),
            },
            b'[' => Single::Set(Set::read(pat, p, ep)),
            b => Single::Byte(b),
        }
    }

    /// Whether byte `c` matches the item.
    pub fn matches(&self, c: u8) -> bool {
        match self {
            Single::Byte(b) => *b == c,
            Single::Any => true,
            Single::Class(class) => class.matches(c),
            Single::Set(set) => set.matches(c),
        }
    }
}

/// How often a single item may repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantifier {
    /// No suffix: exactly once.
    One,
    /// `?`: once or not at all, preferring once.
    Optional,
    /// `*`: any number, longest first.
    Star,
    /// `+`: at least once, longest first.
    Plus,
    /// `-`: any number, shortest first.
    Lazy,
}

impl Quantifier {
    /// The quantifier at `pat[i]`; past the end there is none.
    pub(crate) fn at(pat: &[u8], i: usize) -> Quantifier {
        match pat.get(i) {
            Some(b'?') => Quantifier::Optional,
            Some(b'*') => Quantifier::Star,
            Some(b'+') => Quantifier::Plus,
            Some(b'-') => Quantifier::Lazy,
            _ => Quantifier::One,
        }
    }
}

/// The index just past the single item that starts at `p` (where its quantifier would be).
///
/// This is the only place a single item can be malformed: a `%` with nothing after it, or a
/// set with no closing `]`.
pub(crate) fn item_end(pat: &[u8], p: usize) -> Result<usize, Error> {
    match pat[p] {
        b'%' if p + 1 == pat.len() => Err(Error::EndsWithPercent),
        b'%' => Ok(p + 2),
        b'[' => set_end(pat, p),
        _ => Ok(p + 1),
    }
}

/// Whether byte `c` matches the single item spanning `pat[p..ep]`.
#[inline]
pub(crate) fn item_matches(pat: &[u8], p: usize, ep: usize, c: u8) -> bool {
    match pat[p] {
        b'.' => true,
        b'%' => SetItem::escape(pat[p + 1]).matches(c),
        b'[' => set_matches(pat, p, ep, c),
        b => b == c,
    }
}

/// Steps charged for trying the item spanning `p..ep` against one byte: one, and for a set one
/// more per pattern byte (measured: reading a set member costs about what a match call does),
/// so a huge set cannot hide work from the budget.
#[inline]
pub(crate) fn item_cost(p: usize, ep: usize) -> u64 {
    match ep - p {
        1 | 2 => 1,
        n => 1 + n as u64,
    }
}
