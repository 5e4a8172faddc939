//! `string.gsub`: replacement by a template string, or by a caller's callback (which is how a
//! Lua binding maps a replacement table or function onto this library without the library
//! knowing Lua values).

use std::borrow::Cow;

use crate::budget::Budget;
use crate::captures::{Capture, Captures};
use crate::error::Error;
use crate::matcher::Matcher;
use crate::ops::split_anchor;

/// What a replacement callback wants done with one match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Replacement {
    /// Leave the matched text as it is (Lua: the function or table gave `nil` or `false`).
    Keep,
    /// Put these bytes in its place (Lua: a string, or a number converted to one).
    With(Vec<u8>),
}

/// What `string.gsub` returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Substituted<'s> {
    /// The new string; borrowed from the subject when nothing was replaced.
    pub text: Cow<'s, [u8]>,
    /// How many matches were found (and offered for replacement, kept or not).
    pub count: usize,
}

/// `string.gsub(subject, pattern, template, max)` with a string (or number) replacement:
/// `%0` is the whole match, `%1`-`%9` the captures (`%1` is the whole match when there are
/// none), `%%` a percent sign. `max` limits the replacements (`None`: Lua's default, all).
pub fn gsub<'s, B: Budget + ?Sized>(
    subject: &'s [u8],
    pattern: &[u8],
    template: &[u8],
    max: Option<i64>,
    budget: &mut B,
) -> Result<Substituted<'s>, Error> {
    // Expanding costs about a step per template byte, on top of the output it makes.
    let per_match = template.len() as u64;
    substitute(subject, pattern, max, budget, per_match, |caps, out| {
        expand(template, caps, out).map(|()| true)
    })
}

/// `string.gsub(subject, pattern, f, max)` where `f` stands for a Lua table or function:
/// called once per match with its [`Captures`], in order. A table binding looks up
/// [`Captures::first`]; a function binding passes [`Captures::all`]. `f`'s own errors, and the
/// matcher's (through `E: From<Error>`), end the call.
pub fn gsub_with<'s, B, E, F>(
    subject: &'s [u8],
    pattern: &[u8],
    max: Option<i64>,
    budget: &mut B,
    mut f: F,
) -> Result<Substituted<'s>, E>
where
    B: Budget + ?Sized,
    E: From<Error>,
    F: FnMut(&Captures<'_>) -> Result<Replacement, E>,
{
    substitute(subject, pattern, max, budget, 0, |caps, out| {
        Ok(match f(caps)? {
            Replacement::Keep => false,
            Replacement::With(bytes) => {
                out.extend_from_slice(&bytes);
                true
            }
        })
    })
}

/// The gsub loop. `replace` writes a match's replacement into a scratch buffer and says
/// whether it replaced anything. The output is only started at the first replacement, and the
/// text between replacements (kept or skipped) is copied from the subject in one piece.
/// Each replacement is charged `per_match` steps plus a step per 8 bytes it adds.
fn substitute<'s, B, E, R>(
    subject: &'s [u8],
    pattern: &[u8],
    max: Option<i64>,
    budget: &mut B,
    per_match: u64,
    mut replace: R,
) -> Result<Substituted<'s>, E>
where
    B: Budget + ?Sized,
    E: From<Error>,
    R: FnMut(&Captures<'_>, &mut Vec<u8>) -> Result<bool, E>,
{
    let (anchored, pat) = split_anchor(pattern);
    let mut m = Matcher::new(subject, pat, budget);
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let mut copied = 0; // subject bytes before this offset are accounted for in `out`
    let mut changed = false;
    let mut count = 0usize;
    let mut at = 0;
    let mut last_end = None;
    while max.is_none_or(|max| i64::try_from(count).is_ok_and(|n| n < max)) {
        // Lua steps one byte at a time past where nothing (new) matches; the search does
        // the same stepping, and the bytes stepped over are kept as they are.
        let Some((start, end)) = m.search(at, anchored, last_end)? else {
            break;
        };
        count += 1;
        scratch.clear();
        if replace(&m.captures(start..end), &mut scratch)? {
            m.charge(per_match + (scratch.len() >> 3) as u64)?;
            out.extend_from_slice(&subject[copied..start]);
            out.extend_from_slice(&scratch);
            copied = end;
            changed = true;
        }
        at = end;
        last_end = Some(end);
        if anchored {
            break;
        }
    }
    if !changed {
        return Ok(Substituted {
            text: Cow::Borrowed(subject),
            count,
        });
    }
    out.extend_from_slice(&subject[copied..]);
    Ok(Substituted {
        text: Cow::Owned(out),
        count,
    })
}

/// Appends `template` with its `%` escapes expanded for one match. Errors come only from the
/// escapes actually reached, as in Lua.
fn expand(template: &[u8], caps: &Captures<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut rest = template;
    while let Some(i) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(&rest[..i]);
        match rest.get(i + 1) {
            Some(b'%') => out.push(b'%'),
            Some(&d @ b'0'..=b'9') => match caps.get(usize::from(d - b'0'))? {
                Capture::Bytes(r) => out.extend_from_slice(&caps.subject()[r]),
                Capture::Position(p) => out.extend_from_slice(p.to_string().as_bytes()),
            },
            _ => return Err(Error::InvalidReplacementEscape),
        }
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
    Ok(())
}
