//! `string.find`, `string.match` and `string.gmatch`, with Lua 5.4's argument rules.

use std::ops::Range;

use crate::budget::{Budget, Meter};
use crate::captures::Capture;
use crate::error::Error;
use crate::matcher::{compare_cost, Matcher};

/// The bytes that make `string.find` use the matcher instead of a plain substring search.
/// (`]` and `)` are not among them: `("a)"):find("a)")` is a plain search and finds it.)
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// What `string.find` found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Found {
    /// The match, as a byte range of the subject. Lua returns `span.start + 1, span.end`
    /// (see [`lua_positions`](Self::lua_positions)).
    pub span: Range<usize>,
    /// The captures, none when the pattern has none (find never returns the whole match as a
    /// capture).
    pub captures: Vec<Capture>,
}

impl Found {
    /// The two integers Lua's `find` returns first: 1-based start and inclusive end.
    pub fn lua_positions(&self) -> (usize, usize) {
        (self.span.start + 1, self.span.end)
    }
}

/// Where a search with Lua's `init` argument starts, as a 0-based offset: negative counts back
/// from the end (clipped to the start), 0 means 1; `None` when it is past the end by more than
/// one, where find and match fail at once.
pub(crate) fn start_offset(len: usize, init: i64) -> Option<usize> {
    let len64 = len as u64;
    let pos = if init > 0 {
        init as u64
    } else if init == 0 || init.unsigned_abs() > len64 {
        1
    } else {
        len64 - init.unsigned_abs() + 1
    };
    let offset = pos - 1;
    (offset <= len64).then_some(offset as usize)
}

/// Splits a leading `^` off: find, match and gsub anchor the match there; gmatch does not.
pub(crate) fn split_anchor(pattern: &[u8]) -> (bool, &[u8]) {
    match pattern.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pattern),
    }
}

/// `string.find(subject, pattern, init, plain)`: the first match at or after `init` (1 for
/// Lua's default).
///
/// With `plain`, or when the pattern has none of `^$*+?.([%-`, this is a substring search
/// and never fails with a pattern error, as in Lua.
pub fn find<B: Budget + ?Sized>(
    subject: &[u8],
    pattern: &[u8],
    init: i64,
    plain: bool,
    budget: &mut B,
) -> Result<Option<Found>, Error> {
    let Some(from) = start_offset(subject.len(), init) else {
        return Ok(None);
    };
    if plain || !pattern.iter().any(|b| SPECIALS.contains(b)) {
        let mut meter = Meter::new(budget);
        let at = plain_find(subject, from, pattern, &mut meter)?;
        return Ok(at.map(|at| Found {
            span: at..at + pattern.len(),
            captures: Vec::new(),
        }));
    }
    let (anchored, pat) = split_anchor(pattern);
    let mut m = Matcher::new(subject, pat, budget);
    let Some((start, end)) = m.search(from, anchored, None)? else {
        return Ok(None);
    };
    let captures = m.captures(start..end).listed()?;
    Ok(Some(Found {
        span: start..end,
        captures,
    }))
}

/// `string.match(subject, pattern, init)`: the captures of the first match at or after
/// `init`, or the whole match when the pattern has no captures.
pub fn match_<B: Budget + ?Sized>(
    subject: &[u8],
    pattern: &[u8],
    init: i64,
    budget: &mut B,
) -> Result<Option<Vec<Capture>>, Error> {
    let Some(from) = start_offset(subject.len(), init) else {
        return Ok(None);
    };
    let (anchored, pat) = split_anchor(pattern);
    let mut m = Matcher::new(subject, pat, budget);
    match m.search(from, anchored, None)? {
        Some((start, end)) => m.captures(start..end).all().map(Some),
        None => Ok(None),
    }
}

/// The state of a `string.gmatch(subject, pattern, init)` iterator, without borrowing either
/// string, so a Lua binding can keep it in the iterator closure beside the Lua strings.
///
/// Each [`next`](Self::next) must get the same subject and pattern. As in Lua, a leading `^`
/// is an ordinary byte here, and a match may not end where the previous one ended (so an
/// empty match right after a match is skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GMatch {
    /// Where the next search starts.
    at: usize,
    /// Where the previous match ended.
    last_end: Option<usize>,
}

impl GMatch {
    /// The iterator `string.gmatch(subject, pattern, init)` returns, for a subject of
    /// `subject_len` bytes (`init` 1 for Lua's default).
    pub fn new(subject_len: usize, init: i64) -> GMatch {
        let at = start_offset(subject_len, init).unwrap_or(subject_len.saturating_add(1));
        GMatch { at, last_end: None }
    }

    /// The next match's captures (or the whole match), or `None` when there are no more.
    pub fn next<B: Budget + ?Sized>(
        &mut self,
        subject: &[u8],
        pattern: &[u8],
        budget: &mut B,
    ) -> Result<Option<Vec<Capture>>, Error> {
        let mut m = Matcher::new(subject, pattern, budget);
        let Some((start, end)) = m.search(self.at, false, self.last_end)? else {
            return Ok(None);
        };
        self.at = end;
        self.last_end = Some(end);
        m.captures(start..end).all().map(Some)
    }
}

/// The first occurrence of `needle` in `hay[from..]`, as an offset into `hay`. Charged to the
/// budget per candidate position, since a long needle over a long subject is quadratic.
fn plain_find<B: Budget + ?Sized>(
    hay: &[u8],
    from: usize,
    needle: &[u8],
    meter: &mut Meter<'_, B>,
) -> Result<Option<usize>, Error> {
    let Some((&first, _)) = needle.split_first() else {
        return Ok(Some(from));
    };
    let hay = &hay[from..];
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return Ok(None);
    };
    let compare_cost = compare_cost(needle.len());
    let mut i = 0;
    while i <= last_start {
        let Some(skip) = hay[i..=last_start].iter().position(|&b| b == first) else {
            meter.charge(((last_start - i) >> 6) as u64)?;
            return Ok(None);
        };
        i += skip;
        meter.charge(compare_cost + (skip >> 6) as u64)?;
        if &hay[i..i + needle.len()] == needle {
            return Ok(Some(from + i));
        }
        i += 1;
    }
    Ok(None)
}
