//! Map key and value layouts, written as `string.pack` formats (`"I4"`, `">I2I2"`, `"c16"`).
//!
//! lunet reads the subset of formats that describe fixed-size C structs: integers (`b B h H i
//! I l L j J T`, with optional sizes `i4`, `I2`...), fixed strings `cN`, padding `x`, and the
//! byte-order marks `< > =`. The same layout is used by Lua code, by compiled hooks and by
//! `lunet map` on the shell, so a value means the same bytes everywhere.

use std::fmt;

/// Why a format, a value or some bytes do not fit a layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The format itself is not a fixed-size layout.
    #[error("map layout \"{format}\": {why}")]
    Format { format: String, why: String },
    /// A value (or a value's bytes) does not fit the layout.
    #[error("{0}")]
    Value(String),
}

/// One field of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// An integer of 1, 2, 4 or 8 bytes.
    Int {
        size: usize,
        signed: bool,
        big_endian: bool,
    },
    /// A fixed string `cN`.
    Bytes(usize),
    /// One byte of padding `x`.
    Pad,
}

/// A parsed format: the fields in order, and the total size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The `string.pack` format the script wrote, for messages.
    pub format: String,
    pub fields: Vec<Field>,
    pub size: usize,
}

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Int(i64),
    Bytes(Vec<u8>),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Bytes(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
        }
    }
}

impl Layout {
    pub fn parse(format: &str) -> Result<Layout, LayoutError> {
        let bad = |why: String| LayoutError::Format {
            format: format.to_string(),
            why,
        };
        let mut big_endian = cfg!(target_endian = "big");
        let mut fields = Vec::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            let n: Option<usize> = if digits.is_empty() {
                None
            } else {
                digits.parse().ok()
            };
            let int = |size: usize, signed: bool| Field::Int {
                size,
                signed,
                big_endian,
            };
            let field = match c {
                ' ' => continue,
                '<' => {
                    big_endian = false;
                    continue;
                }
                '>' => {
                    big_endian = true;
                    continue;
                }
                '=' => {
                    big_endian = cfg!(target_endian = "big");
                    continue;
                }
                'b' => int(1, true),
                'B' => int(1, false),
                'h' => int(2, true),
                'H' => int(2, false),
                'l' | 'j' => int(8, true),
                'L' | 'J' | 'T' => int(8, false),
                'i' | 'I' => {
                    let size = n.unwrap_or(4);
                    if ![1, 2, 4, 8].contains(&size) {
                        return Err(bad(format!("integer size {size} (1, 2, 4 or 8)")));
                    }
                    int(size, c == 'i')
                }
                'c' => match n {
                    Some(len) if len > 0 => Field::Bytes(len),
                    _ => return Err(bad("'c' needs a length, e.g. c16".into())),
                },
                'x' => Field::Pad,
                other => {
                    return Err(bad(format!(
                        "'{other}' is not a fixed-size field lunet knows"
                    )))
                }
            };
            fields.push(field);
        }
        if !fields.iter().any(|f| *f != Field::Pad) {
            return Err(bad("no fields".into()));
        }
        let size = fields.iter().map(Field::size).sum();
        Ok(Layout {
            format: format.to_string(),
            fields,
            size,
        })
    }

    /// A layout of one integer field (`"I4"` is `int("I4", 4, false, false)` on x86).
    pub fn int(format: &str, size: usize, signed: bool, big_endian: bool) -> Layout {
        Layout {
            format: format.to_string(),
            fields: vec![Field::Int {
                size,
                signed,
                big_endian,
            }],
            size,
        }
    }

    /// The one integer field a compiled hook can pack and unpack, if that is what this
    /// layout is: `(size, signed, big_endian)`. Padding or a second field gives `None`.
    pub fn one_int(&self) -> Option<(usize, bool, bool)> {
        match self.fields[..] {
            [Field::Int {
                size,
                signed,
                big_endian,
            }] if matches!(size, 1 | 2 | 4 | 8) && self.size == size => {
                Some((size, signed, big_endian))
            }
            _ => None,
        }
    }

    /// The fields that carry values (padding excluded).
    pub fn arity(&self) -> usize {
        self.fields.iter().filter(|f| **f != Field::Pad).count()
    }

    pub fn pack(&self, values: &[Scalar]) -> Result<Vec<u8>, LayoutError> {
        if values.len() != self.arity() {
            return Err(LayoutError::Value(format!(
                "layout \"{}\" takes {} value(s), got {}",
                self.format,
                self.arity(),
                values.len()
            )));
        }
        let mut out = Vec::with_capacity(self.size);
        let mut it = values.iter();
        for f in &self.fields {
            match (f, f.takes_value().then(|| it.next()).flatten()) {
                (Field::Pad, _) => out.push(0),
                (
                    Field::Int {
                        size,
                        signed,
                        big_endian,
                    },
                    Some(Scalar::Int(v)),
                ) => {
                    let fits = match (size, signed) {
                        (8, _) => true,
                        (s, true) => (-(1i64 << (s * 8 - 1))..(1i64 << (s * 8 - 1))).contains(v),
                        (s, false) => (0..(1i64 << (s * 8))).contains(v),
                    };
                    if !fits {
                        return Err(LayoutError::Value(format!(
                            "{v} does not fit a {}{}-byte integer",
                            if *signed { "signed " } else { "" },
                            size
                        )));
                    }
                    let bytes = if *big_endian {
                        v.to_be_bytes()[8 - size..].to_vec()
                    } else {
                        v.to_le_bytes()[..*size].to_vec()
                    };
                    out.extend_from_slice(&bytes);
                }
                (Field::Bytes(n), Some(Scalar::Bytes(b))) => {
                    if b.len() > *n {
                        return Err(LayoutError::Value(format!(
                            "a string of {} bytes does not fit c{n}",
                            b.len()
                        )));
                    }
                    out.extend_from_slice(b);
                    out.resize(out.len() + n - b.len(), 0);
                }
                (_, v) => {
                    return Err(LayoutError::Value(format!(
                        "layout \"{}\": wrong kind of value {v:?}",
                        self.format
                    )))
                }
            }
        }
        Ok(out)
    }

    pub fn unpack(&self, bytes: &[u8]) -> Result<Vec<Scalar>, LayoutError> {
        if bytes.len() != self.size {
            return Err(LayoutError::Value(format!(
                "layout \"{}\" is {} bytes, got {}",
                self.format,
                self.size,
                bytes.len()
            )));
        }
        let mut out = Vec::new();
        let mut at = 0;
        for f in &self.fields {
            let chunk = &bytes[at..at + f.size()];
            at += f.size();
            match *f {
                Field::Pad => {}
                Field::Int {
                    size,
                    signed,
                    big_endian,
                } => {
                    let mut buf = [0u8; 8];
                    if big_endian {
                        buf[8 - size..].copy_from_slice(chunk);
                        let u = u64::from_be_bytes(buf);
                        out.push(Scalar::Int(extend(u, size, signed)));
                    } else {
                        buf[..size].copy_from_slice(chunk);
                        let u = u64::from_le_bytes(buf);
                        out.push(Scalar::Int(extend(u, size, signed)));
                    }
                }
                Field::Bytes(_) => out.push(Scalar::Bytes(chunk.to_vec())),
            }
        }
        Ok(out)
    }
}

impl Layout {
    /// Bytes from shell text: one comma-separated item per field; integers in decimal or
    /// `0x` hex, strings as they are (`lunet map fw counts set 17 100`).
    pub fn parse_text(&self, text: &str) -> Result<Vec<u8>, LayoutError> {
        let items: Vec<&str> = if self.arity() == 1 {
            vec![text]
        } else {
            text.split(',').collect()
        };
        let mut values = Vec::new();
        let mut it = items.iter();
        for f in self.fields.iter().filter(|f| **f != Field::Pad) {
            let item = it
                .next()
                .ok_or_else(|| {
                    LayoutError::Value(format!(
                        "\"{text}\" has fewer items than layout \"{}\"",
                        self.format
                    ))
                })?
                .trim();
            values.push(match f {
                Field::Int { .. } => {
                    let (neg, digits) = item.strip_prefix('-').map_or((false, item), |d| (true, d));
                    let v = match digits.strip_prefix("0x") {
                        Some(hex) => i64::from_str_radix(hex, 16),
                        None => digits.parse::<i64>(),
                    }
                    .map_err(|_| LayoutError::Value(format!("\"{item}\" is not an integer")))?;
                    Scalar::Int(if neg { -v } else { v })
                }
                _ => Scalar::Bytes(item.as_bytes().to_vec()),
            });
        }
        if it.next().is_some() {
            return Err(LayoutError::Value(format!(
                "\"{text}\" has more items than layout \"{}\"",
                self.format
            )));
        }
        self.pack(&values)
    }
}

fn extend(u: u64, size: usize, signed: bool) -> i64 {
    if !signed || size == 8 {
        return u as i64;
    }
    let shift = 64 - size * 8;
    ((u << shift) as i64) >> shift
}

impl Field {
    pub fn size(&self) -> usize {
        match self {
            Field::Int { size, .. } => *size,
            Field::Bytes(n) => *n,
            Field::Pad => 1,
        }
    }

    fn takes_value(&self) -> bool {
        *self != Field::Pad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_like_string_packsize() {
        assert_eq!(Layout::parse("I4").unwrap().size, 4);
        assert_eq!(Layout::parse(">I2I2c16").unwrap().size, 20);
        assert_eq!(Layout::parse("Bxxxi8").unwrap().size, 12);
        assert!(
            Layout::parse("z").is_err(),
            "variable-size strings have no fixed layout"
        );
        assert!(Layout::parse("i3").is_err());
        assert!(Layout::parse("").is_err());
    }

    #[test]
    fn packs_and_unpacks_round_trip_with_byte_order() {
        let l = Layout::parse(">I2<i4c3").unwrap();
        let v = vec![
            Scalar::Int(0x1234),
            Scalar::Int(-2),
            Scalar::Bytes(b"ab".to_vec()),
        ];
        let bytes = l.pack(&v).unwrap();
        assert_eq!(bytes, [0x12, 0x34, 0xfe, 0xff, 0xff, 0xff, b'a', b'b', 0]);
        assert_eq!(
            l.unpack(&bytes).unwrap(),
            vec![
                Scalar::Int(0x1234),
                Scalar::Int(-2),
                Scalar::Bytes(b"ab\0".to_vec())
            ]
        );
        assert!(
            l.pack(&[Scalar::Int(70000), Scalar::Int(0), Scalar::Bytes(vec![])])
                .is_err(),
            "70000 > u16"
        );
    }
}
