//! The errors the pattern functions raise.
//!
//! Each variant's `Display` is the exact message Lua 5.4's `string` library raises for the same
//! condition, so the sandbox binding can hand it to Lua unchanged (`error(msg)` at level 0,
//! matching the C library, whose messages carry no `file:line:` prefix because they are raised
//! inside a C function). [`Error::Interrupted`] is the one addition: Lua has no budget.

use std::fmt;

/// Why a find/match/gmatch/gsub call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// `malformed pattern (ends with '%')`: the pattern's last byte is a lone `%`.
    EndsWithPercent,
    /// `malformed pattern (missing ']')`: a set `[...]` runs to the end of the pattern.
    MissingBracket,
    /// `missing '[' after '%f' in pattern`.
    MissingFrontierBracket,
    /// `malformed pattern (missing arguments to '%b')`: fewer than two bytes after `%b`.
    MissingBalanceArguments,
    /// `invalid capture index %N`: a back-reference (`%0`..`%9`, N the digit written) to a
    /// capture not closed yet, or a template's `%N` or a [`Captures::get`](crate::Captures::get)
    /// naming a capture the match does not have. (Lua 5.4 says nothing after the index; 5.3
    /// added "in pattern"/"in replacement string".)
    InvalidCaptureIndex(usize),
    /// `invalid pattern capture`: a `)` with no open capture to close.
    InvalidPatternCapture,
    /// `unfinished capture`: a capture still open when its value is asked for.
    UnfinishedCapture,
    /// `too many captures`: more than [`MAX_CAPTURES`](crate::MAX_CAPTURES) at once.
    TooManyCaptures,
    /// `pattern too complex`: matching nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    TooComplex,
    /// `invalid use of '%' in replacement string`: `%` followed by neither a digit nor `%`.
    InvalidReplacementEscape,
    /// The caller's [`Budget`](crate::Budget) stopped the match. Lua never raises this.
    Interrupted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EndsWithPercent => f.write_str("malformed pattern (ends with '%')"),
            Error::MissingBracket => f.write_str("malformed pattern (missing ']')"),
            Error::MissingFrontierBracket => f.write_str("missing '[' after '%f' in pattern"),
            Error::MissingBalanceArguments => {
                f.write_str("malformed pattern (missing arguments to '%b')")
            }
            Error::InvalidCaptureIndex(n) => write!(f, "invalid capture index %{n}"),
            Error::InvalidPatternCapture => f.write_str("invalid pattern capture"),
            Error::UnfinishedCapture => f.write_str("unfinished capture"),
            Error::TooManyCaptures => f.write_str("too many captures"),
            Error::TooComplex => f.write_str("pattern too complex"),
            Error::InvalidReplacementEscape => {
                f.write_str("invalid use of '%' in replacement string")
            }
            Error::Interrupted => f.write_str("pattern matching interrupted by its budget"),
        }
    }
}

impl std::error::Error for Error {}

/// What a [`Budget`](crate::Budget) returns to stop a match; it surfaces as
/// [`Error::Interrupted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pattern matching interrupted by its budget")
    }
}

impl std::error::Error for Interrupted {}

impl From<Interrupted> for Error {
    fn from(_: Interrupted) -> Self {
        Error::Interrupted
    }
}

/// Why [`parse`](crate::parse) rejected a pattern: the error the lazy matcher would raise if
/// matching reached that point, and the byte offset in the pattern where it is detected.
///
/// `kind` is never [`Error::TooComplex`] (that depends on the subject),
/// [`Error::InvalidReplacementEscape`] (not a pattern error) or [`Error::Interrupted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatternError {
    /// The error, with Lua's message as its `Display`.
    pub kind: Error,
    /// Byte offset into the pattern (as given, including a leading `^`) of the construct at
    /// fault: the `%`, `[`, `(` or `)` that starts it.
    pub offset: usize,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.offset)
    }
}

impl std::error::Error for PatternError {}
