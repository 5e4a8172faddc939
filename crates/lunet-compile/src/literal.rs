//! Literals as Lua 5.4 reads them: numerals (decimal and hexadecimal integers and floats)
//! and string literals with their escapes (part of pass `lower`, which folds them).

use full_moon::tokenizer::{TokenReference, TokenType};

use crate::source::Parsed;

/// A number literal's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// Reads a Lua 5.4 numeral: decimal and hexadecimal integers (hexadecimal ones wrap around,
/// decimal ones too large become floats), floats in both bases.
pub fn number_value(text: &str) -> Option<Number> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.contains(['.', 'p', 'P']) {
            return hex_float(hex).map(Number::Float);
        }
        if hex.is_empty() {
            return None;
        }
        let mut v: u64 = 0;
        for c in hex.chars() {
            v = v.wrapping_mul(16).wrapping_add(c.to_digit(16)? as u64);
        }
        return Some(Number::Int(v as i64));
    }
    if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
        return Some(match t.parse::<i64>() {
            Ok(v) => Number::Int(v),
            Err(_) => Number::Float(t.parse::<f64>().ok()?),
        });
    }
    t.parse::<f64>().ok().map(Number::Float)
}

fn hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// Why a string literal does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiteralError {
    #[error("not a string literal")]
    NotAString,
    #[error("unfinished escape")]
    UnfinishedEscape,
    #[error("bad \\x escape")]
    BadHex,
    /// A `\x` whose two bytes are not text (they cut a character).
    #[error("bad \\x")]
    HexNotText,
    #[error("bad \\u escape")]
    BadUnicode,
    #[error("decimal escape too large")]
    DecimalTooLarge,
    #[error("invalid escape '\\{0}'")]
    Invalid(char),
    #[error("UTF-8 value too large")]
    Utf8TooLarge,
}

/// The bytes of a string literal token of `parsed`, escapes decoded as Lua does.
pub fn literal(parsed: &Parsed, token: &TokenReference) -> Result<Vec<u8>, LiteralError> {
    let mut b = string_value(token)?;
    if parsed.backtick {
        for c in &mut b {
            if *c == 1 {
                *c = b'`';
            }
        }
    }
    Ok(b)
}

/// The bytes of a string literal token, escapes decoded as Lua does.
pub fn string_value(token: &TokenReference) -> Result<Vec<u8>, LiteralError> {
    let TokenType::StringLiteral {
        literal,
        multi_line_depth,
        quote_type,
    } = token.token_type()
    else {
        return Err(LiteralError::NotAString);
    };
    let s = literal.as_str();
    if matches!(
        quote_type,
        full_moon::tokenizer::StringLiteralQuoteType::Brackets
    ) {
        let _ = multi_line_depth;
        let s = s
            .strip_prefix("\r\n")
            .or_else(|| s.strip_prefix("\n\r"))
            .or_else(|| s.strip_prefix('\n'))
            .or_else(|| s.strip_prefix('\r'))
            .unwrap_or(s);
        return Ok(s.as_bytes().to_vec());
    }
    unescape(s)
}

fn unescape(s: &str) -> Result<Vec<u8>, LiteralError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&c) = b.get(i) else {
            return Err(LiteralError::UnfinishedEscape);
        };
        i += 1;
        match c {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' | b'\n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' | b'"' | b'\'' => out.push(c),
            b'\r' => {
                out.push(b'\n');
                if b.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'x' => {
                let h = b.get(i..i + 2).ok_or(LiteralError::BadHex)?;
                let h = std::str::from_utf8(h).map_err(|_| LiteralError::HexNotText)?;
                let v = u8::from_str_radix(h, 16).map_err(|_| LiteralError::BadHex)?;
                out.push(v);
                i += 2;
            }
            b'z' => {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            b'u' => {
                if b.get(i) != Some(&b'{') {
                    return Err(LiteralError::BadUnicode);
                }
                let end = s[i..].find('}').ok_or(LiteralError::BadUnicode)? + i;
                let v = u32::from_str_radix(&s[i + 1..end], 16)
                    .map_err(|_| LiteralError::BadUnicode)?;
                i = end + 1;
                utf8_extended(v, &mut out)?;
            }
            b'0'..=b'9' => {
                let mut v: u32 = (c - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && b[i].is_ascii_digit() {
                    v = v * 10 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(u8::try_from(v).map_err(|_| LiteralError::DecimalTooLarge)?);
            }
            _ => return Err(LiteralError::Invalid(c as char)),
        }
    }
    Ok(out)
}

/// Lua's `\u{...}`: UTF-8 extended to 31 bits.
fn utf8_extended(v: u32, out: &mut Vec<u8>) -> Result<(), LiteralError> {
    if v > 0x7fff_ffff {
        return Err(LiteralError::Utf8TooLarge);
    }
    if v < 0x80 {
        out.push(v as u8);
        return Ok(());
    }
    let mut buf = [0u8; 6];
    let mut n = 0;
    let mut x = v;
    let mut mfb: u32 = 0x3f;
    loop {
        buf[5 - n] = (0x80 | (x & 0x3f)) as u8;
        n += 1;
        x >>= 6;
        mfb >>= 1;
        if x <= mfb {
            break;
        }
    }
    buf[5 - n] = ((!mfb << 1) | x) as u8;
    n += 1;
    out.extend_from_slice(&buf[6 - n..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_lua() {
        assert_eq!(number_value("42"), Some(Number::Int(42)));
        assert_eq!(number_value("0xff"), Some(Number::Int(255)));
        assert_eq!(number_value("0xffffffffffffffff"), Some(Number::Int(-1)));
        assert_eq!(
            number_value("9223372036854775808"),
            Some(Number::Float(9223372036854775808.0))
        );
        assert_eq!(number_value("1e9"), Some(Number::Float(1e9)));
        assert_eq!(number_value("0x1p4"), Some(Number::Float(16.0)));
    }

    #[test]
    fn escapes_follow_lua() {
        assert_eq!(unescape(r"a\x41\65\n\z   b").unwrap(), b"aAA\nb");
        assert_eq!(unescape(r"\u{20AC}").unwrap(), "€".as_bytes());
        assert_eq!(unescape(r"\q"), Err(LiteralError::Invalid('q')));
        assert_eq!(
            unescape(r"\q").unwrap_err().to_string(),
            r"invalid escape '\q'"
        );
        assert_eq!(unescape(r"\300"), Err(LiteralError::DecimalTooLarge));
        assert_eq!(unescape(r"\xg1").unwrap_err().to_string(), r"bad \x escape");
        assert_eq!(unescape(r"\u{80000000}"), Err(LiteralError::Utf8TooLarge));
    }
}
