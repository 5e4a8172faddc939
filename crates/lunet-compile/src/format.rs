//! `string.format`'s conversions as Lua 5.4 does them (`%s %d %i %u %c %x %X %%` with flags,
//! width and precision): [`parse`] reads a format into pieces when compiling, and
//! [`Spec::apply`] formats one value. Both tiers' text comes from here on the kernel side: a
//! constant argument is formatted when compiling, a run-time one by [`crate::decode_print`].

/// One conversion: `%[flags][width][.precision]conv`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// `d i u c x X s`.
    pub conv: u8,
    pub left: bool,
    pub zero: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub width: usize,
    pub precision: Option<usize>,
}

/// What a conversion formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg<'b> {
    Int(i64),
    /// The text `tostring` gives (strings, `nil`, booleans).
    Text(&'b [u8]),
}

/// A piece of a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(Vec<u8>),
    Conv(Spec),
}

/// Why a format is refused (Lua raises the same at run time).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("invalid conversion '%{0}' to 'format'")]
    Invalid(String),
    #[error("'%{0}' is a conversion of floats (or `%q`, `%p`): not in the kernel-tier subset")]
    Unsupported(char),
}

/// The flags each conversion takes (Lua 5.4's `L_FMTFLAGS*`), and whether a precision.
fn allowed(conv: u8) -> Option<(&'static str, bool)> {
    Some(match conv {
        b'c' => ("-", false),
        b'd' | b'i' => ("-+0 ", true),
        b'u' => ("-0", true),
        b'x' | b'X' => ("-#0", true),
        b's' => ("-", true),
        _ => return None,
    })
}

/// The pieces of `fmt`, or why Lua would refuse it.
pub fn parse(fmt: &[u8]) -> Result<Vec<Part>, FormatError> {
    let mut out = Vec::new();
    let mut text = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            text.push(fmt[i]);
            i += 1;
            continue;
        }
        i += 1;
        if fmt.get(i) == Some(&b'%') {
            text.push(b'%');
            i += 1;
            continue;
        }
        let start = i;
        let mut spec = Spec::default();
        while let Some(&c) = fmt.get(i) {
            match c {
                b'-' => spec.left = true,
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        let flags = &fmt[start..i];
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < fmt.len() && fmt[*i].is_ascii_digit() && *i - s < 3 {
                *i += 1;
            }
            (
                *i - s,
                std::str::from_utf8(&fmt[s..*i])
                    .ok()
                    .and_then(|d| d.parse().ok()),
            )
        };
        let (wn, w) = digits(&mut i);
        spec.width = w.unwrap_or(0);
        let mut pn = 0;
        if fmt.get(i) == Some(&b'.') {
            i += 1;
            let (n, p) = digits(&mut i);
            pn = n;
            spec.precision = Some(p.unwrap_or(0));
        }
        let conv = fmt.get(i).copied().unwrap_or(0);
        let whole = String::from_utf8_lossy(&fmt[start..(i + 1).min(fmt.len())]).into_owned();
        i += 1;
        let Some((ok_flags, ok_precision)) = allowed(conv) else {
            return Err(match conv {
                b'a' | b'A' | b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'q' | b'p' | b'o' => {
                    FormatError::Unsupported(conv as char)
                }
                _ => FormatError::Invalid(whole),
            });
        };
        let bad_flag = flags.iter().any(|f| !ok_flags.as_bytes().contains(f));
        if bad_flag || wn > 2 || pn > 2 || (spec.precision.is_some() && !ok_precision) {
            return Err(FormatError::Invalid(whole));
        }
        spec.conv = conv;
        if !text.is_empty() {
            out.push(Part::Text(std::mem::take(&mut text)));
        }
        out.push(Part::Conv(spec));
    }
    if !text.is_empty() {
        out.push(Part::Text(text));
    }
    Ok(out)
}

impl Spec {
    /// Whether the conversion takes an integer (`%s` takes anything `tostring` takes).
    pub fn wants_int(&self) -> bool {
        self.conv != b's'
    }

    /// Whether the spec is plain `%s` (Lua adds the value as it is).
    pub fn plain(&self) -> bool {
        *self
            == Spec {
                conv: b's',
                ..Spec::default()
            }
    }

    /// `arg` converted, as C's `snprintf` does for Lua.
    pub fn apply(&self, arg: &Arg) -> Vec<u8> {
        match (self.conv, arg) {
            (b's', Arg::Text(t)) => self.text(t),
            (b's', Arg::Int(k)) => self.text(k.to_string().as_bytes()),
            (b'c', Arg::Int(k)) => self.pad(Vec::new(), vec![*k as u8], false),
            (b'd' | b'i', Arg::Int(k)) => {
                let sign: &[u8] = if *k < 0 {
                    b"-"
                } else if self.plus {
                    b"+"
                } else if self.space {
                    b" "
                } else {
                    b""
                };
                self.number(sign.to_vec(), k.unsigned_abs().to_string())
            }
            (b'u', Arg::Int(k)) => self.number(Vec::new(), (*k as u64).to_string()),
            (b'x' | b'X', Arg::Int(k)) => {
                let mut d = format!("{:x}", *k as u64);
                if self.conv == b'X' {
                    d = d.to_uppercase();
                }
                let prefix = match (self.alt && *k != 0, self.conv) {
                    (true, b'x') => b"0x".to_vec(),
                    (true, _) => b"0X".to_vec(),
                    _ => Vec::new(),
                };
                self.number(prefix, d)
            }
            // A text where a number is wanted: the lowering refuses it; show it as it is.
            (_, Arg::Text(t)) => t.to_vec(),
            (_, Arg::Int(k)) => k.to_string().into_bytes(),
        }
    }

    fn text(&self, t: &[u8]) -> Vec<u8> {
        // Lua adds a long string (100 bytes or more) whole when there is no precision.
        if self.plain() || (self.precision.is_none() && t.len() >= 100) {
            return t.to_vec();
        }
        let t = match self.precision {
            Some(p) => &t[..t.len().min(p)],
            None => t,
        };
        self.pad(Vec::new(), t.to_vec(), false)
    }

    fn number(&self, prefix: Vec<u8>, digits: String) -> Vec<u8> {
        let mut d = digits.into_bytes();
        if let Some(p) = self.precision {
            if p == 0 && d == b"0" {
                d.clear();
            }
            while d.len() < p {
                d.insert(0, b'0');
            }
        }
        let zeros = self.zero && !self.left && self.precision.is_none();
        self.pad(prefix, d, zeros)
    }

    /// `prefix` and `body` padded to the width: spaces before (after with `-`), or zeros
    /// between them.
    fn pad(&self, mut prefix: Vec<u8>, body: Vec<u8>, zeros: bool) -> Vec<u8> {
        let n = prefix.len() + body.len();
        let fill = self.width.saturating_sub(n);
        if zeros {
            prefix.extend(std::iter::repeat_n(b'0', fill));
            prefix.extend(body);
            return prefix;
        }
        let mut out = Vec::with_capacity(n + fill);
        if !self.left {
            out.extend(std::iter::repeat_n(b' ', fill));
        }
        out.extend(prefix);
        out.extend(body);
        if self.left {
            out.extend(std::iter::repeat_n(b' ', fill));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, arg: Arg) -> String {
        let parts = parse(fmt.as_bytes()).unwrap();
        let Part::Conv(s) = &parts[0] else {
            panic!("{parts:?}")
        };
        String::from_utf8(s.apply(&arg)).unwrap()
    }

    #[test]
    fn conversions_are_cs() {
        assert_eq!(f("%5d", Arg::Int(-42)), "  -42");
        assert_eq!(f("%-5d|", Arg::Int(42)), "42   ");
        assert_eq!(f("%05d", Arg::Int(-42)), "-0042");
        assert_eq!(f("%+d", Arg::Int(7)), "+7");
        assert_eq!(f("% d", Arg::Int(7)), " 7");
        assert_eq!(f("%.3d", Arg::Int(7)), "007");
        assert_eq!(f("%.0d", Arg::Int(0)), "");
        assert_eq!(f("%x", Arg::Int(-1)), "ffffffffffffffff");
        assert_eq!(f("%#06x", Arg::Int(255)), "0x00ff");
        assert_eq!(f("%X", Arg::Int(0xbeef)), "BEEF");
        assert_eq!(f("%u", Arg::Int(-1)), "18446744073709551615");
        assert_eq!(f("%3c", Arg::Int(0x141)), "  A");
        assert_eq!(f("%-4s|", Arg::Text(b"ab")), "ab  ");
        assert_eq!(f("%.2s", Arg::Text(b"abc")), "ab");
        assert_eq!(f("%s", Arg::Int(-3)), "-3");
    }

    #[test]
    fn formats_split_into_text_and_conversions() {
        let p = parse(b"a %s %% %02x!").unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(p[0], Part::Text(b"a ".to_vec()));
        assert_eq!(p[2], Part::Text(b" % ".to_vec()));
        assert_eq!(p[4], Part::Text(b"!".to_vec()));
        assert!(matches!(parse(b"%f"), Err(FormatError::Unsupported('f'))));
        assert!(matches!(parse(b"%#d"), Err(FormatError::Invalid(_))));
        assert!(matches!(parse(b"%123d"), Err(FormatError::Invalid(_))));
        assert!(matches!(parse(b"%y"), Err(FormatError::Invalid(_))));
        assert!(matches!(parse(b"%.3c"), Err(FormatError::Invalid(_))));
    }
}
