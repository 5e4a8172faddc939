//! The backtracking matcher, with Lua 5.4's semantics.
//!
//! Lua patterns have no alternation, so a match is a walk through the pattern from left to
//! right where only quantifiers branch; backtracking is plain recursion. The matcher reads the
//! pattern as it goes and never looks ahead of the item it is at, because Lua doesn't:
//! `("abc"):find("x[")` is `nil` (the `[` is never reached), not an error.
//!
//! Exactness that Lua code can observe, and so is kept:
//! - the nesting limit ([`MAX_DEPTH`]) counts the same calls as Lua's `MAXCCALLS`: one per
//!   capture open/close, per `?` tried, per repetition count tried by `*`/`+`/`-`; a plain
//!   item, `%b`, `%f` and a back-reference continue without nesting;
//! - bytes past either end read as NUL where Lua reads the string's terminator (`%f` at the
//!   subject's edges, the byte after a pattern's last `(`, `%`, or `%f`).

use std::ops::Range;

use crate::budget::{Budget, Meter};
use crate::captures::{Captures, Extent, Slot, MAX_CAPTURES};
use crate::class::{set_end, set_matches, SetItem};
use crate::error::Error;
use crate::item::{item_cost, item_end, item_matches, Quantifier};
use crate::piece::{piece_at, Piece};

/// How deeply matching may nest before Lua's "pattern too complex" (Lua's `MAXCCALLS`).
pub const MAX_DEPTH: usize = 200;

/// One match attempt's state: the subject, the pattern (without a leading `^` anchor), the
/// captures so far and the budget.
pub(crate) struct Matcher<'a, 'b, B: Budget + ?Sized> {
    src: &'a [u8],
    pat: &'a [u8],
    depth_left: usize,
    level: usize,
    slots: [Slot; MAX_CAPTURES],
    meter: Meter<'b, B>,
    /// The byte every match must start with, when the pattern begins with a literal that has
    /// to match once or more.
    first_byte: Option<u8>,
}

/// The byte a match of `pat` must start with: its first piece is a literal byte (plain, or
/// `%` + a byte naming no class) with no quantifier or `+`.
fn leading_byte(pat: &[u8]) -> Option<u8> {
    if pat.is_empty() || piece_at(pat, 0) != Piece::Single {
        return None;
    }
    let ep = item_end(pat, 0).ok()?;
    if !matches!(Quantifier::at(pat, ep), Quantifier::One | Quantifier::Plus) {
        return None;
    }
    match pat[0] {
        b'.' | b'[' => None,
        b'%' => match SetItem::escape(pat[1]) {
            SetItem::Byte(b) => Some(b),
            _ => None,
        },
        b => Some(b),
    }
}

impl<'a, 'b, B: Budget + ?Sized> Matcher<'a, 'b, B> {
    pub(crate) fn new(src: &'a [u8], pat: &'a [u8], budget: &'b mut B) -> Self {
        Matcher {
            src,
            pat,
            depth_left: MAX_DEPTH,
            level: 0,
            slots: [Slot {
                start: 0,
                extent: Extent::Open,
            }; MAX_CAPTURES],
            meter: Meter::new(budget),
            first_byte: leading_byte(pat),
        }
    }

    /// The first match starting at `from` or later (only at `from` if `anchored`), skipping
    /// one that ends at `not_ending_at`: its start and end. This is the search loop of all
    /// four operations (gmatch and gsub pass where their previous match ended).
    pub(crate) fn search(
        &mut self,
        from: usize,
        anchored: bool,
        not_ending_at: Option<usize>,
    ) -> Result<Option<(usize, usize)>, Error> {
        let mut start = from;
        loop {
            if !anchored {
                start = self.candidate(start)?;
            }
            if start > self.src.len() {
                return Ok(None);
            }
            match self.match_at(start)? {
                Some(end) if Some(end) != not_ending_at => return Ok(Some((start, end))),
                _ if anchored => return Ok(None),
                _ => start += 1,
            }
        }
    }

    /// The first offset from `from` on where a match could start, past the end if none: when
    /// the pattern starts with one literal byte (maybe with `+`), only where that byte is. At
    /// other offsets Lua's matcher fails on that item at once, without error, so skipping them
    /// changes nothing but speed (a byte search instead of a match call per offset).
    fn candidate(&mut self, from: usize) -> Result<usize, Error> {
        let Some(first) = self.first_byte else {
            return Ok(from);
        };
        // In chunks, each charged (a step per four bytes) before the next is searched.
        let mut at = from;
        while at < self.src.len() {
            let part = &self.src[at..self.src.len().min(at + 4096)];
            let found = part.iter().position(|&c| c == first);
            self.meter
                .charge(scan_cost(found.map_or(part.len(), |k| k + 1)))?;
            if let Some(k) = found {
                return Ok(at + k);
            }
            at += part.len();
        }
        Ok(self.src.len() + 1)
    }

    /// Tries the whole pattern at subject offset `s`: the end of the match, if any. Captures
    /// from a previous attempt are forgotten.
    fn match_at(&mut self, s: usize) -> Result<Option<usize>, Error> {
        self.level = 0;
        self.depth_left = MAX_DEPTH;
        self.do_match(s, 0)
    }

    /// The captures of the last successful [`match_at`](Self::match_at), which matched `whole`.
    pub(crate) fn captures(&self, whole: Range<usize>) -> Captures<'_> {
        Captures::new(self.src, whole, &self.slots[..self.level])
    }

    /// Charges work done outside the matcher (gsub output) to the same budget.
    pub(crate) fn charge(&mut self, steps: u64) -> Result<(), Error> {
        Ok(self.meter.charge(steps)?)
    }

    /// Matches `pat[p..]` against `src[s..]`: one nesting level.
    fn do_match(&mut self, s: usize, p: usize) -> Result<Option<usize>, Error> {
        if self.depth_left == 0 {
            return Err(Error::TooComplex);
        }
        self.depth_left -= 1;
        let mut items = 0;
        let result = self.walk(s, p, &mut items);
        self.depth_left += 1;
        // One charge per call, made on the way out: work is charged when the call doing it
        // returns, and what a call does itself (not in the calls it nests) is bounded by the
        // pattern's length, so at most MAX_DEPTH calls' bounded work is ever uncharged. Every
        // expansion loop charges as it goes. One counter update per call instead of one per
        // item is what keeps metering within a few percent of not metering at all.
        self.meter.charge(1 + items)?;
        result
    }

    /// The body of [`do_match`](Self::do_match): steps through items that need no
    /// backtracking in a loop, and nests only where Lua nests. The single items it tries are
    /// counted in `items`, for the caller to charge.
    fn walk(
        &mut self,
        mut s: usize,
        mut p: usize,
        items: &mut u64,
    ) -> Result<Option<usize>, Error> {
        loop {
            if p == self.pat.len() {
                return Ok(Some(s));
            }
            match piece_at(self.pat, p) {
                Piece::PositionCapture => return self.open_capture(s, p + 2, Extent::Position),
                Piece::OpenCapture => return self.open_capture(s, p + 1, Extent::Open),
                Piece::CloseCapture => return self.close_capture(s, p + 1),
                Piece::EndAnchor => return Ok((s == self.src.len()).then_some(s)),
                Piece::Balance => match self.balance(s, p + 2)? {
                    Some(e) => {
                        s = e;
                        p += 4;
                        continue;
                    }
                    None => return Ok(None),
                },
                Piece::Frontier => match self.frontier(s, p + 2)? {
                    Some(next) => {
                        p = next;
                        continue;
                    }
                    None => return Ok(None),
                },
                Piece::BackRef(d) => match self.back_reference(s, d)? {
                    Some(e) => {
                        s = e;
                        p += 2;
                        continue;
                    }
                    None => return Ok(None),
                },
                Piece::Single => {}
            }
            // A single item, maybe quantified.
            let ep = item_end(self.pat, p)?;
            *items += item_cost(p, ep);
            let first = s < self.src.len() && item_matches(self.pat, p, ep, self.src[s]);
            let quantifier = Quantifier::at(self.pat, ep);
            if !first {
                match quantifier {
                    Quantifier::Optional | Quantifier::Star | Quantifier::Lazy => {
                        p = ep + 1;
                        continue;
                    }
                    Quantifier::One | Quantifier::Plus => return Ok(None),
                }
            }
            match quantifier {
                Quantifier::One => {
                    s += 1;
                    p = ep;
                }
                Quantifier::Optional => {
                    if let Some(e) = self.do_match(s + 1, ep + 1)? {
                        return Ok(Some(e));
                    }
                    p = ep + 1;
                }
                Quantifier::Star => return self.longest(s, p, ep),
                Quantifier::Plus => return self.longest(s + 1, p, ep),
                Quantifier::Lazy => return self.shortest(s, p, ep),
            }
        }
    }

    /// `*` (and `+` after its first byte): repeats the item at `p..ep` as often as it matches,
    /// then gives back one byte at a time until the rest of the pattern matches.
    fn longest(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, Error> {
        let rest = &self.src[s..];
        let count = rest
            .iter()
            .take_while(|&&c| item_matches(self.pat, p, ep, c))
            .count();
        self.meter
            .charge((count as u64 + 1).saturating_mul(item_cost(p, ep)))?;
        for i in (0..=count).rev() {
            if let Some(e) = self.do_match(s + i, ep + 1)? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// `-`: tries the rest of the pattern first, and one more repetition only when it fails.
    fn shortest(&mut self, mut s: usize, p: usize, ep: usize) -> Result<Option<usize>, Error> {
        loop {
            if let Some(e) = self.do_match(s, ep + 1)? {
                return Ok(Some(e));
            }
            self.meter.charge(item_cost(p, ep))?;
            if s < self.src.len() && item_matches(self.pat, p, ep, self.src[s]) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    fn open_capture(&mut self, s: usize, p: usize, extent: Extent) -> Result<Option<usize>, Error> {
        if self.level >= MAX_CAPTURES {
            return Err(Error::TooManyCaptures);
        }
        self.slots[self.level] = Slot { start: s, extent };
        self.level += 1;
        let result = self.do_match(s, p)?;
        if result.is_none() {
            self.level -= 1;
        }
        Ok(result)
    }

    /// `)`: closes the innermost capture still open (position captures are never open).
    fn close_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, Error> {
        let Some(l) = (0..self.level)
            .rev()
            .find(|&l| self.slots[l].extent == Extent::Open)
        else {
            return Err(Error::InvalidPatternCapture);
        };
        self.slots[l].extent = Extent::Closed(s - self.slots[l].start);
        let result = self.do_match(s, p)?;
        if result.is_none() {
            self.slots[l].extent = Extent::Open;
        }
        Ok(result)
    }

    /// `%bxy` with `x` at `pat[p]`: from an `x` at `s` to the `y` that balances it.
    fn balance(&mut self, s: usize, p: usize) -> Result<Option<usize>, Error> {
        if p + 1 >= self.pat.len() {
            return Err(Error::MissingBalanceArguments);
        }
        let (open, close) = (self.pat[p], self.pat[p + 1]);
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        for (i, &c) in self.src.iter().enumerate().skip(s + 1) {
            // The closing byte is tested first, so `%bxx` ends at the next `x`.
            if c == close {
                depth -= 1;
                if depth == 0 {
                    self.meter.charge(scan_cost(i - s))?;
                    return Ok(Some(i + 1));
                }
            } else if c == open {
                depth += 1;
            }
        }
        self.meter.charge(scan_cost(self.src.len() - s))?;
        Ok(None)
    }

    /// `%f[set]` with `[` expected at `pat[open]`: matches the empty string where the byte
    /// before (NUL at the start) is not in the set and the byte at `s` (NUL at the end) is.
    /// Returns where the pattern goes on.
    fn frontier(&mut self, s: usize, open: usize) -> Result<Option<usize>, Error> {
        if self.pat.get(open) != Some(&b'[') {
            return Err(Error::MissingFrontierBracket);
        }
        let end = set_end(self.pat, open)?;
        self.meter.charge(2 * item_cost(open, end))?;
        let before = if s == 0 { 0 } else { self.src[s - 1] };
        let at = self.src.get(s).copied().unwrap_or(0);
        let edge =
            !set_matches(self.pat, open, end, before) && set_matches(self.pat, open, end, at);
        Ok(edge.then_some(end))
    }

    /// `%1`..`%9` (digit `d`): the same bytes as that closed capture, at `s`. A position
    /// capture is closed but has no bytes, so it never matches (as in Lua). `%0`, a capture not
    /// opened yet, or one still open, is an error.
    fn back_reference(&mut self, s: usize, d: u8) -> Result<Option<usize>, Error> {
        let n = usize::from(d - b'0');
        let slot = match n.checked_sub(1) {
            Some(l) if l < self.level => self.slots[l],
            _ => return Err(Error::InvalidCaptureIndex(n)),
        };
        let len = match slot.extent {
            Extent::Open => return Err(Error::InvalidCaptureIndex(n)),
            Extent::Position => return Ok(None),
            Extent::Closed(len) => len,
        };
        self.meter.charge(compare_cost(len))?;
        let captured = &self.src[slot.start..slot.start + len];
        let here = self.src.get(s..s + len);
        Ok((here == Some(captured)).then_some(s + len))
    }
}

/// Steps for scanning `n` subject bytes one by one (`%b`): about four bytes per step.
fn scan_cost(n: usize) -> u64 {
    (n >> 2) as u64
}

/// Steps for comparing `n` bytes at once (a back-reference, a plain-search candidate): the
/// compare is vectorised, so 64 bytes per step, which still overcharges.
pub(crate) fn compare_cost(n: usize) -> u64 {
    1 + (n >> 6) as u64
}
