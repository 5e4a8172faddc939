//! Lua 5.4 patterns, read when compiling: [`parse`] turns a constant pattern into
//! [`Item`]s the lowering makes a bounded matcher of (`lower/matcher.rs`). The subset:
//! literal characters (and `%` escapes of punctuation), `.`, the classes `%a %c %d %g %l %p
//! %s %u %w %x` and their complements (upper case), sets `[...]` with ranges, classes and
//! `^`, the quantifiers `* + - ?` on one item, the anchors `^` and `$`, and captures of a
//! span `( )` and of a position `()`. Not in it (a [`PatternError`]): `%b`, `%f`, back
//! references `%1`-`%9`. Each class is a set of bytes, as C's `ctype` functions in the "C"
//! locale give them (what the Lua tier's `isalpha`... give).

/// A set of bytes (a bit each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class([u64; 4]);

impl Class {
    fn none() -> Class {
        Class([0; 4])
    }

    fn of(f: impl Fn(u8) -> bool) -> Class {
        let mut c = Class::none();
        for b in 0..=255u8 {
            if f(b) {
                c.0[b as usize / 64] |= 1 << (b % 64);
            }
        }
        c
    }

    fn union(&mut self, o: &Class) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a |= *b;
        }
    }

    /// The bytes not in the set.
    pub fn complement(&self) -> Class {
        Class(self.0.map(|w| !w))
    }

    /// Whether `b` is in the set.
    pub fn has(&self, b: u8) -> bool {
        self.0[b as usize / 64] & (1 << (b % 64)) != 0
    }

    /// The set as inclusive byte ranges, in order.
    pub fn ranges(&self) -> Vec<(u8, u8)> {
        let mut out: Vec<(u8, u8)> = Vec::new();
        for b in 0..=255u8 {
            if !self.has(b) {
                continue;
            }
            match out.last_mut() {
                Some((_, hi)) if *hi as u16 + 1 == b as u16 => *hi = b,
                _ => out.push((b, b)),
            }
        }
        out
    }
}

/// How many times an item may repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rep {
    One,
    /// `*`: as many as possible.
    Star,
    /// `+`: one, then as many as possible.
    Plus,
    /// `-`: as few as possible.
    Lazy,
    /// `?`: one or none.
    Opt,
}

/// One element of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Char(Class, Rep),
    /// `(`: capture `.0` starts here; `()`: a position capture.
    Open(usize),
    Close(usize),
    Position(usize),
}

/// A parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub anchored: bool,
    pub items: Vec<Item>,
    /// `$` at the end: the match must end at the string's end.
    pub at_end: bool,
    pub captures: usize,
}

/// Why a pattern is refused: Lua's own errors, or what the subset lacks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("malformed pattern ({0})")]
    Malformed(&'static str),
    #[error("`%{0}` in a pattern is not in the kernel-tier subset")]
    Unsupported(char),
    #[error("a pattern with more than 32 captures")]
    TooManyCaptures,
}

/// The class `%c` names, if any.
fn class_of(c: u8) -> Option<Class> {
    let lower = c.to_ascii_lowercase();
    let f: fn(u8) -> bool = match lower {
        b'a' => |b| b.is_ascii_alphabetic(),
        b'c' => |b| b.is_ascii_control(),
        b'd' => |b| b.is_ascii_digit(),
        b'g' => |b| b.is_ascii_graphic(),
        b'l' => |b| b.is_ascii_lowercase(),
        b'p' => |b| b.is_ascii_punctuation(),
        b's' => |b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b'u' => |b| b.is_ascii_uppercase(),
        b'w' => |b| b.is_ascii_alphanumeric(),
        b'x' => |b| b.is_ascii_hexdigit(),
        _ => return None,
    };
    let class = Class::of(f);
    Some(if c.is_ascii_uppercase() {
        class.complement()
    } else {
        class
    })
}

/// `%x` after a `%`: a class, or the character itself (`%.` is a dot).
fn escape(c: u8) -> Result<Class, PatternError> {
    if let Some(k) = class_of(c) {
        return Ok(k);
    }
    match c {
        b'b' | b'f' => Err(PatternError::Unsupported(c as char)),
        b'0'..=b'9' => Err(PatternError::Unsupported(c as char)),
        _ => Ok(Class::of(|b| b == c)),
    }
}

/// Reads `p`.
pub fn parse(p: &[u8]) -> Result<Pattern, PatternError> {
    let mut i = 0;
    let anchored = p.first() == Some(&b'^');
    if anchored {
        i = 1;
    }
    let mut items = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut captures = 0;
    let mut at_end = false;
    while i < p.len() {
        let c = p[i];
        match c {
            b'(' => {
                if p.get(i + 1) == Some(&b')') {
                    items.push(Item::Position(captures));
                    i += 2;
                } else {
                    items.push(Item::Open(captures));
                    open.push(captures);
                    i += 1;
                }
                captures += 1;
                if captures > 32 {
                    return Err(PatternError::TooManyCaptures);
                }
                continue;
            }
            b')' => {
                let k = open
                    .pop()
                    .ok_or(PatternError::Malformed("invalid pattern capture"))?;
                items.push(Item::Close(k));
                i += 1;
                continue;
            }
            b'$' if i + 1 == p.len() => {
                at_end = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        let (class, next) = single(p, i)?;
        i = next;
        let rep = match p.get(i) {
            Some(b'*') => Rep::Star,
            Some(b'+') => Rep::Plus,
            Some(b'-') => Rep::Lazy,
            Some(b'?') => Rep::Opt,
            _ => Rep::One,
        };
        if rep != Rep::One {
            i += 1;
        }
        items.push(Item::Char(class, rep));
    }
    if !open.is_empty() {
        return Err(PatternError::Malformed("unfinished capture"));
    }
    Ok(Pattern {
        anchored,
        items,
        at_end,
        captures,
    })
}

/// The single-character class at `p[i..]` and where it ends.
fn single(p: &[u8], i: usize) -> Result<(Class, usize), PatternError> {
    match p[i] {
        b'.' => Ok((Class::of(|_| true), i + 1)),
        b'%' => {
            let c = *p
                .get(i + 1)
                .ok_or(PatternError::Malformed("ends with '%'"))?;
            Ok((escape(c)?, i + 2))
        }
        b'[' => set(p, i),
        c => Ok((Class::of(|b| b == c), i + 1)),
    }
}

/// A set `[...]` at `p[i]`, as Lua's `matchbracketclass` reads it.
fn set(p: &[u8], i: usize) -> Result<(Class, usize), PatternError> {
    let mut j = i + 1;
    let negate = p.get(j) == Some(&b'^');
    if negate {
        j += 1;
    }
    let mut c = Class::none();
    let mut first = true;
    loop {
        let Some(&b) = p.get(j) else {
            return Err(PatternError::Malformed("missing ']'"));
        };
        if b == b']' && !first {
            j += 1;
            break;
        }
        first = false;
        if b == b'%' {
            let e = *p.get(j + 1).ok_or(PatternError::Malformed("missing ']'"))?;
            c.union(&escape(e)?);
            j += 2;
        } else if p.get(j + 1) == Some(&b'-') && p.get(j + 2).is_some_and(|&x| x != b']') {
            let hi = p[j + 2];
            c.union(&Class::of(|x| x >= b && x <= hi));
            j += 3;
        } else {
            c.union(&Class::of(|x| x == b));
            j += 1;
        }
    }
    Ok((if negate { c.complement() } else { c }, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_classes_sets_and_captures() {
        let p = parse(b"([^\0]*)").unwrap();
        assert_eq!(p.captures, 1);
        let Item::Char(c, Rep::Star) = &p.items[1] else {
            panic!("{p:?}")
        };
        assert!(!c.has(0) && c.has(b'a') && c.has(255));
        let p = parse(b"^%d+%.[a-cx]?$").unwrap();
        assert!(p.anchored && p.at_end);
        assert_eq!(p.items.len(), 3);
        let Item::Char(c, Rep::Opt) = &p.items[2] else {
            panic!()
        };
        assert_eq!(c.ranges(), vec![(b'a', b'c'), (b'x', b'x')]);
        assert!(parse(b"%b()").is_err());
        assert!(parse(b"(a").is_err());
        assert!(parse(b"[a").is_err());
        assert_eq!(parse(b"github.com").unwrap().items.len(), 10);
        let Item::Char(dot, Rep::One) = &parse(b"a.b").unwrap().items[1] else {
            panic!()
        };
        assert!(dot.has(b'x'));
        let Item::Char(s, _) = &parse(b"%S").unwrap().items[0] else {
            panic!()
        };
        assert!(!s.has(b' ') && s.has(b'x'));
    }
}
