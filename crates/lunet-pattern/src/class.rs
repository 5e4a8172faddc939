//! Character classes (`%a`, `%D`, ...) and sets (`[...]`): which bytes one pattern item matches.
//!
//! Both the lazy matcher and the eager parser read sets through [`SetItems`], so the two can
//! never disagree about what a set means — including Lua's corner cases: a `]` right after `[`
//! or `[^` is a literal, `-` is a range only between two plain bytes with a byte before the
//! closing `]`, and the byte after a `%` is taken even when it is the set's closing `]`.

use crate::error::Error;

/// The meaning of a class letter, with the C locale's ASCII-only definitions (Lua uses
/// `<ctype.h>`, and neither Lua nor lunet calls `setlocale`): bytes >= 0x80 are in no class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassKind {
    /// `%a`: `A-Z a-z`.
    Alpha,
    /// `%c`: bytes 0-31 and 127.
    Control,
    /// `%d`: `0-9`.
    Digit,
    /// `%g`: printable except space, 33-126.
    Graph,
    /// `%l`: `a-z`.
    Lower,
    /// `%p`: printable, not space, not alphanumeric.
    Punct,
    /// `%s`: space, `\t \n \v \f \r`.
    Space,
    /// `%u`: `A-Z`.
    Upper,
    /// `%w`: `0-9 A-Z a-z`.
    Alnum,
    /// `%x`: `0-9 A-F a-f`.
    HexDigit,
    /// `%z`: the NUL byte. Lua 5.1's class, deprecated and undocumented since 5.2, but still
    /// in Lua 5.4's matcher, so scripts may rely on it.
    Nul,
}

impl ClassKind {
    fn contains(self, c: u8) -> bool {
        match self {
            ClassKind::Alpha => c.is_ascii_alphabetic(),
            ClassKind::Control => c.is_ascii_control(),
            ClassKind::Digit => c.is_ascii_digit(),
            ClassKind::Graph => c.is_ascii_graphic(),
            ClassKind::Lower => c.is_ascii_lowercase(),
            ClassKind::Punct => c.is_ascii_punctuation(),
            // C's isspace includes \v (0x0b), which Rust's is_ascii_whitespace leaves out.
            ClassKind::Space => matches!(c, b' ' | b'\t'..=b'\r'),
            ClassKind::Upper => c.is_ascii_uppercase(),
            ClassKind::Alnum => c.is_ascii_alphanumeric(),
            ClassKind::HexDigit => c.is_ascii_hexdigit(),
            ClassKind::Nul => c == 0,
        }
    }

    fn letter(self) -> u8 {
        match self {
            ClassKind::Alpha => b'a',
            ClassKind::Control => b'c',
            ClassKind::Digit => b'd',
            ClassKind::Graph => b'g',
            ClassKind::Lower => b'l',
            ClassKind::Punct => b'p',
            ClassKind::Space => b's',
            ClassKind::Upper => b'u',
            ClassKind::Alnum => b'w',
            ClassKind::HexDigit => b'x',
            ClassKind::Nul => b'z',
        }
    }
}

/// A class as written after `%`: a lower-case letter is the class, upper-case its complement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Class {
    /// Which class.
    pub kind: ClassKind,
    /// True for the upper-case letter (`%A` is every byte `%a` is not, including >= 0x80).
    pub negated: bool,
}

impl Class {
    /// The class `%letter` names, or `None` when `%letter` is just the byte `letter`.
    pub fn from_letter(letter: u8) -> Option<Class> {
        let kind = match letter.to_ascii_lowercase() {
            b'a' => ClassKind::Alpha,
            b'c' => ClassKind::Control,
            b'd' => ClassKind::Digit,
            b'g' => ClassKind::Graph,
            b'l' => ClassKind::Lower,
            b'p' => ClassKind::Punct,
            b's' => ClassKind::Space,
            b'u' => ClassKind::Upper,
            b'w' => ClassKind::Alnum,
            b'x' => ClassKind::HexDigit,
            b'z' => ClassKind::Nul,
            _ => return None,
        };
        Some(Class {
            kind,
            negated: letter.is_ascii_uppercase(),
        })
    }

    /// The letter that names this class (`b'A'` for a negated `Alpha`).
    pub fn letter(self) -> u8 {
        let l = self.kind.letter();
        if self.negated {
            l.to_ascii_uppercase()
        } else {
            l
        }
    }

    /// Whether byte `c` is in the class.
    pub fn matches(self, c: u8) -> bool {
        self.kind.contains(c) != self.negated
    }
}

/// One member of a set `[...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetItem {
    /// One byte: plain, or `%` + a byte that names no class (`%]`, `%%`, `%q`).
    Byte(u8),
    /// `lo-hi`, inclusive; empty when `lo > hi`, as Lua compares the bytes as written.
    Range(u8, u8),
    /// `%a` and friends.
    Class(Class),
}

impl SetItem {
    /// What `%letter` stands for, inside a set or as a single item.
    pub(crate) fn escape(letter: u8) -> SetItem {
        match Class::from_letter(letter) {
            Some(class) => SetItem::Class(class),
            None => SetItem::Byte(letter),
        }
    }

    /// Whether byte `c` is this member.
    pub fn matches(self, c: u8) -> bool {
        match self {
            SetItem::Byte(b) => b == c,
            SetItem::Range(lo, hi) => lo <= c && c <= hi,
            SetItem::Class(class) => class.matches(c),
        }
    }
}

/// Finds the end of the set whose `[` is at `open`: the index just past its closing `]`.
///
/// The first byte of the body (after an optional `^`) is never the closing bracket, and a `%`
/// hides the byte after it; running off the end is Lua's "missing ']'".
pub(crate) fn set_end(pat: &[u8], open: usize) -> Result<usize, Error> {
    let mut i = open + 1;
    if pat.get(i) == Some(&b'^') {
        i += 1;
    }
    loop {
        let Some(&b) = pat.get(i) else {
            return Err(Error::MissingBracket);
        };
        i += 1;
        if b == b'%' && i < pat.len() {
            i += 1;
        }
        if pat.get(i) == Some(&b']') {
            return Ok(i + 1);
        }
    }
}

/// The members of the set spanning `pat[open..end]` (as found by [`set_end`]), in order.
pub(crate) struct SetItems<'p> {
    pat: &'p [u8],
    /// Next byte of the body to read.
    at: usize,
    /// Index of the closing `]`.
    close: usize,
}

/// Splits the set spanning `pat[open..end]` into "negated?" and its members.
pub(crate) fn set_items(pat: &[u8], open: usize, end: usize) -> (bool, SetItems<'_>) {
    let negated = pat.get(open + 1) == Some(&b'^');
    let at = open + 1 + usize::from(negated);
    let items = SetItems {
        pat,
        at,
        close: end - 1,
    };
    (negated, items)
}

impl Iterator for SetItems<'_> {
    type Item = SetItem;

    fn next(&mut self) -> Option<SetItem> {
        if self.at >= self.close {
            return None;
        }
        let b = self.pat[self.at];
        if b == b'%' {
            // The escaped byte may be the closing ']' itself (as in `[a-%%]`): Lua reads it.
            let letter = self.pat[self.at + 1];
            self.at += 2;
            return Some(SetItem::escape(letter));
        }
        if self.pat[self.at + 1] == b'-' && self.at + 2 < self.close {
            let hi = self.pat[self.at + 2];
            self.at += 3;
            return Some(SetItem::Range(b, hi));
        }
        self.at += 1;
        Some(SetItem::Byte(b))
    }
}

/// Whether byte `c` is in the set spanning `pat[open..end]`.
#[inline]
pub(crate) fn set_matches(pat: &[u8], open: usize, end: usize, c: u8) -> bool {
    let (negated, mut items) = set_items(pat, open, end);
    items.any(|item| item.matches(c)) != negated
}
