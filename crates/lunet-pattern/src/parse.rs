//! The eager parser: a whole pattern into a small tree, for a compiler that must know the
//! pattern up front (lunet's Lua-to-eBPF compiler turns simple ones into bounded loops).
//!
//! # How its errors relate to the matcher's
//!
//! The matcher reports a malformed construct only when matching reaches it; `parse` reports
//! the first one in the pattern. Because a Lua pattern has no alternation, the matcher walks
//! the pattern strictly left to right and, wherever it is, the same captures are open and
//! closed on every path that got there. So `parse` can decide every pattern error statically,
//! with the same scanning code the matcher uses ([`item_end`], [`set_end`]), and:
//!
//! - if `parse` accepts a pattern, matching it against any subject never fails, except with
//!   [`Error::TooComplex`] (depends on the subject) and [`Error::Interrupted`] (the budget);
//! - `parse` is stricter than the matcher in two ways: it rejects a pattern whose error Lua
//!   would only hit on some subjects (`x[` on a subject without `x`), and it rejects a capture
//!   left open at the end (`(a`), which Lua only reports when that capture's value is asked
//!   for: always by find, match, gmatch and a gsub function, but not by a gsub template that
//!   never names it, nor by a gsub table when the first capture is closed.
//!
//! Replacement-template errors (`%` misuse, `%2` with one capture) are gsub's, not the
//! pattern's, and parse does not see them.

use std::ops::Range;

use crate::captures::MAX_CAPTURES;
use crate::class::set_end;
use crate::error::{Error, PatternError};
use crate::item::{item_end, Quantifier, Set, Single};
use crate::piece::{piece_at, Piece};

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// Starts with the `^` anchor (only ever true from [`parse`], not [`parse_gmatch`]).
    pub anchored_start: bool,
    /// Ends with the `$` anchor: the match must end at the end of the subject.
    pub anchored_end: bool,
    /// The items, in order.
    pub nodes: Vec<Node>,
    /// How many captures (including position captures) the pattern has.
    pub captures: usize,
}

/// One piece of a pattern, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// Its bytes in the pattern as given (a leading `^` counts), quantifier included.
    pub span: Range<usize>,
}

/// The kinds of [`Node`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A single item and how often it repeats.
    Single(Single, Quantifier),
    /// `( ... )`: capture number `index` (from 1, by opening parenthesis).
    Capture {
        /// Its number, as `%index` names it.
        index: usize,
        /// What it encloses.
        nodes: Vec<Node>,
    },
    /// `()`: capture number `index` yields the position (1-based) where it stands.
    Position {
        /// Its number.
        index: usize,
    },
    /// `%1`..`%9`: the bytes capture `index` matched, again. `index` is always a capture
    /// closed earlier in the pattern; when it is a position capture the item never matches.
    BackRef {
        /// Which capture.
        index: usize,
    },
    /// `%bxy`: an `open` byte, then bytes up to the `close` that balances it.
    Balance {
        /// The `x` of `%bxy`.
        open: u8,
        /// The `y` of `%bxy`.
        close: u8,
    },
    /// `%f[set]`: empty, where the byte before (NUL at the start) is not in the set and the
    /// byte after (NUL at the end) is.
    Frontier(Set),
}

/// Parses a pattern as `string.find`, `string.match` and `string.gsub` read it: a leading `^`
/// anchors.
pub fn parse(pattern: &[u8]) -> Result<Pattern, PatternError> {
    match pattern.split_first() {
        Some((b'^', rest)) => Parser::new(rest, 1).run(true),
        _ => Parser::new(pattern, 0).run(false),
    }
}

/// Parses a pattern as `string.gmatch` reads it: a leading `^` is an ordinary byte.
pub fn parse_gmatch(pattern: &[u8]) -> Result<Pattern, PatternError> {
    Parser::new(pattern, 0).run(false)
}

/// A capture being parsed: its number, where its `(` is, and what it holds so far.
struct Open {
    index: usize,
    start: usize,
    nodes: Vec<Node>,
}

struct Parser<'p> {
    /// The pattern without a leading anchor.
    pat: &'p [u8],
    /// Where `pat` starts in the pattern as given, for spans and error offsets.
    base: usize,
    /// Captures opened so far, and whether each is still open (position captures never are).
    open_flags: Vec<bool>,
    /// The captures enclosing the current position, innermost last.
    stack: Vec<Open>,
    nodes: Vec<Node>,
}

impl<'p> Parser<'p> {
    fn new(pat: &'p [u8], base: usize) -> Self {
        Parser {
            pat,
            base,
            open_flags: Vec::new(),
            stack: Vec::new(),
            nodes: Vec::new(),
        }
    }

    fn error(&self, kind: Error, at: usize) -> PatternError {
        PatternError {
            kind,
            offset: self.base + at,
        }
    }

    fn push(&mut self, kind: NodeKind, span: Range<usize>) {
        let node = Node {
            kind,
            span: self.base + span.start..self.base + span.end,
        };
        match self.stack.last_mut() {
            Some(open) => open.nodes.push(node),
            None => self.nodes.push(node),
        }
    }

    fn run(mut self, anchored_start: bool) -> Result<Pattern, PatternError> {
        let mut anchored_end = false;
        let mut p = 0;
        while p < self.pat.len() {
            p = match piece_at(self.pat, p) {
                Piece::PositionCapture => self.open(p, true)?,
                Piece::OpenCapture => self.open(p, false)?,
                Piece::CloseCapture => self.close(p)?,
                Piece::EndAnchor => {
                    anchored_end = true;
                    p + 1
                }
                Piece::Balance => self.balance(p)?,
                Piece::Frontier => self.frontier(p)?,
                Piece::BackRef(d) => self.back_reference(p, d)?,
                Piece::Single => self.single(p)?,
            };
        }
        if let Some(outer) = self.stack.first() {
            return Err(self.error(Error::UnfinishedCapture, outer.start));
        }
        Ok(Pattern {
            anchored_start,
            anchored_end,
            nodes: self.nodes,
            captures: self.open_flags.len(),
        })
    }

    fn open(&mut self, p: usize, position: bool) -> Result<usize, PatternError> {
        if self.open_flags.len() >= MAX_CAPTURES {
            return Err(self.error(Error::TooManyCaptures, p));
        }
        let index = self.open_flags.len() + 1;
        if position {
            self.open_flags.push(false);
            self.push(NodeKind::Position { index }, p..p + 2);
            return Ok(p + 2);
        }
        self.open_flags.push(true);
        self.stack.push(Open {
            index,
            start: p,
            nodes: Vec::new(),
        });
        Ok(p + 1)
    }

    fn close(&mut self, p: usize) -> Result<usize, PatternError> {
        let Some(open) = self.stack.pop() else {
            return Err(self.error(Error::InvalidPatternCapture, p));
        };
        self.open_flags[open.index - 1] = false;
        let kind = NodeKind::Capture {
            index: open.index,
            nodes: open.nodes,
        };
        self.push(kind, open.start..p + 1);
        Ok(p + 1)
    }

    fn balance(&mut self, p: usize) -> Result<usize, PatternError> {
        let (Some(&open), Some(&close)) = (self.pat.get(p + 2), self.pat.get(p + 3)) else {
            return Err(self.error(Error::MissingBalanceArguments, p));
        };
        self.push(NodeKind::Balance { open, close }, p..p + 4);
        Ok(p + 4)
    }

    fn frontier(&mut self, p: usize) -> Result<usize, PatternError> {
        let open = p + 2;
        if self.pat.get(open) != Some(&b'[') {
            return Err(self.error(Error::MissingFrontierBracket, p));
        }
        let end = set_end(self.pat, open).map_err(|e| self.error(e, open))?;
        let set = Set::read(self.pat, open, end);
        self.push(NodeKind::Frontier(set), p..end);
        Ok(end)
    }

    fn back_reference(&mut self, p: usize, d: u8) -> Result<usize, PatternError> {
        let index = usize::from(d - b'0');
        let closed = index
            .checked_sub(1)
            .and_then(|i| self.open_flags.get(i))
            .is_some_and(|&open| !open);
        if !closed {
            return Err(self.error(Error::InvalidCaptureIndex(index), p));
        }
        self.push(NodeKind::BackRef { index }, p..p + 2);
        Ok(p + 2)
    }

    fn single(&mut self, p: usize) -> Result<usize, PatternError> {
        let ep = item_end(self.pat, p).map_err(|e| self.error(e, p))?;
        let single = Single::read(self.pat, p, ep);
        let quantifier = Quantifier::at(self.pat, ep);
        let end = if quantifier == Quantifier::One {
            ep
        } else {
            ep + 1
        };
        self.push(NodeKind::Single(single, quantifier), p..end);
        Ok(end)
    }
}
