//! `print` in a compiled hook: the record a print call writes into the hook's ring buffer,
//! and [`decode_print`], which turns a record back into the line the Lua tier's `print` would
//! have written for the same values. The format is defined here and only here; the lowering
//! (`lower/print.rs`) and the emitter place fields with [`PrintSite::value_offsets`].
//!
//! ## The record
//! A `print(a, b, ...)` call is a *print site*: its place in [`crate::Program::prints`] is the
//! hook-local site id, and the site keeps the file, the line and each argument's
//! [`PrintArg`] (what the compiler knew about it). Every record of a site has the same size,
//! [`PrintSite::record_size`]; all fields are in host byte order:
//!
//! ```text
//! offset 0   u16  site id (index into Program::prints)
//!        2   u8   argument count n
//!        3   u8   format version (FORMAT_VERSION)
//!        4   u32  0
//!        8   u8   kind of each argument (KIND_*), n bytes, zero-padded to a multiple of 8
//!  8 + pad       each argument's value, in order, 8-byte aligned:
//!                  PrintArg::Const, PrintArg::Bool    nothing (the kind byte says it all)
//!                  PrintArg::Int, PrintArg::MaybeInt  8 bytes: the integer (0 when nil)
//!                  PrintArg::Bytes                    8 bytes: the string's length,
//!                                                     then STR_CAP bytes: its first
//!                                                     min(length, STR_CAP) bytes (the
//!                                                     rest is zero or packet bytes
//!                                                     past the string: not read)
//! ```
//!
//! Kind bytes: [`KIND_NIL`], [`KIND_INT`] (a maybe-integer writes one or the other at run
//! time), [`KIND_FALSE`], [`KIND_TRUE`] (a boolean writes `KIND_FALSE + b`), [`KIND_CONST`]
//! (text known when compiled: a constant string, or a constant integer, boolean or nil,
//! folded), [`KIND_BYTES`] (a string of packet bytes from `getstring`).
//!
//! ## The text
//! The arguments' texts joined by tabs, as Lua's `print` joins `tostring` of each: integers in
//! decimal, `true`/`false`, `nil`, the raw bytes of strings. Each text is made valid UTF-8 the
//! way the Lua tier's log does it (invalid sequences become U+FFFD). Limits, where the kernel
//! tier differs: a packet string longer than [`STR_CAP`] bytes shows its first `STR_CAP`
//! bytes and then `...[N bytes]` (`N` its whole length); a float constant from the body that
//! is integral prints as an integer (`2`, where Lua prints `2.0`); at most [`MAX_ARGS`]
//! arguments and [`MAX_RECORD`] bytes of record per call (else the hook does not compile).
//!
//! ## Maps
//! Records go to a `BPF_MAP_TYPE_RINGBUF` ([`print_ring_map`], id [`PRINT_MAP_ID`]) with
//! `bpf_ringbuf_output`. When the ring is full the record is dropped (never the packet) and
//! slot 0 of a per-CPU array ([`print_lost_map`], id [`PRINT_LOST_MAP_ID`]) counts it. A hook
//! that does not print has neither map. Packet strings are copied with `bpf_xdp_load_bytes`
//! (Linux 5.18).

use lunet_types::{Layout, MapDecl, MapKind, MapRef};

/// Bytes of a packet string a record carries; longer strings are cut, with a marker.
pub const STR_CAP: usize = 64;
/// Arguments one `print` call may have in a compiled hook.
pub const MAX_ARGS: usize = 16;
/// The largest record one call may write (it is built on the program's 512-byte stack).
pub const MAX_RECORD: usize = 256;
/// Bytes of the fixed header before the kind bytes.
pub const HEADER: usize = 8;
/// The version byte of the records this crate writes.
pub const FORMAT_VERSION: u8 = 1;
/// The ring buffer's size: 256 KiB, a few thousand lines.
pub const PRINT_RING_SIZE: u32 = 256 * 1024;

pub const KIND_NIL: u8 = 0;
pub const KIND_INT: u8 = 1;
pub const KIND_FALSE: u8 = 2;
pub const KIND_TRUE: u8 = 3;
pub const KIND_CONST: u8 = 4;
pub const KIND_BYTES: u8 = 5;
pub const KIND_CHOICE: u8 = 6;

/// The map id of the print ring buffer.
pub const PRINT_MAP_ID: usize = usize::MAX - 1;
/// The map id of the per-CPU count of records the full ring buffer refused.
pub const PRINT_LOST_MAP_ID: usize = usize::MAX - 2;
/// The ring buffer's name (at most 15 bytes, as the kernel's map names).
pub const PRINT_MAP_NAME: &str = "lunet_print";
/// The lost-records counter's name.
pub const PRINT_LOST_MAP_NAME: &str = "lunet_printlost";

/// What the compiler knew about one argument of a print call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrintArg {
    /// Its text, known when compiled (a constant string's bytes; `nil`, `true`, `42` folded).
    Const(Vec<u8>),
    /// An integer.
    Int,
    /// An integer or nil.
    MaybeInt,
    /// A boolean.
    Bool,
    /// A string of packet bytes (`getstring`).
    Bytes,
    /// A string of packet bytes or nil (a capture of a pattern that may not match).
    MaybeBytes,
    /// One of a few constants ([`crate::types::SVal::OneOf`]): the record holds the id of
    /// the one it is; each id's text.
    Choice(Vec<(u64, Vec<u8>)>),
}

/// How a site's line is made of its arguments' texts: Lua's `print` puts a tab between
/// arguments; `string.format`'s pieces join without one, each through its conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Tab,
    /// Argument `.0`'s text, through a conversion when `string.format` gave one.
    Arg(usize, Option<crate::format::Spec>),
}

impl PrintArg {
    /// Bytes of the argument's value in a record.
    pub fn value_size(&self) -> usize {
        match self {
            PrintArg::Const(_) | PrintArg::Bool => 0,
            PrintArg::Int | PrintArg::MaybeInt | PrintArg::Choice(_) => 8,
            PrintArg::Bytes | PrintArg::MaybeBytes => 8 + STR_CAP,
        }
    }
}

/// One `print` call of a hook (or of a function inlined into it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintSite {
    pub file: String,
    pub line: u32,
    /// The values of a record: each of `print`'s arguments, or each piece of a
    /// `string.format` among them.
    pub args: Vec<PrintArg>,
    /// How the line is made of them.
    pub layout: Vec<Item>,
}

impl PrintSite {
    /// A site that prints `args` as `print` does: tab-separated, each as `tostring` gives it.
    pub fn plain(file: &str, line: u32, args: Vec<PrintArg>) -> PrintSite {
        let mut layout = Vec::new();
        for i in 0..args.len() {
            if i > 0 {
                layout.push(Item::Tab);
            }
            layout.push(Item::Arg(i, None));
        }
        PrintSite {
            file: file.to_string(),
            line,
            args,
            layout,
        }
    }

    /// Where each argument's value starts in a record.
    pub fn value_offsets(&self) -> Vec<usize> {
        let mut at = HEADER + self.args.len().div_ceil(8) * 8;
        self.args
            .iter()
            .map(|a| {
                let here = at;
                at += a.value_size();
                here
            })
            .collect()
    }

    /// Bytes of every record of this site (a multiple of 8).
    pub fn record_size(&self) -> usize {
        HEADER
            + self.args.len().div_ceil(8) * 8
            + self.args.iter().map(PrintArg::value_size).sum::<usize>()
    }
}

/// The first 4 bytes of a record as one host-order `u32`: site id, argument count, version.
pub fn header_word(site: u16, argc: u8) -> u32 {
    let mut b = [0u8; 4];
    b[..2].copy_from_slice(&site.to_ne_bytes());
    b[2] = argc;
    b[3] = FORMAT_VERSION;
    u32::from_ne_bytes(b)
}

/// The map print records go to: a `BPF_MAP_TYPE_RINGBUF` of [`PRINT_RING_SIZE`] bytes (no
/// key or value), id [`PRINT_MAP_ID`].
pub fn print_ring_map() -> MapRef {
    let none = Layout {
        format: String::new(),
        fields: Vec::new(),
        size: 0,
    };
    MapRef {
        id: PRINT_MAP_ID,
        decl: MapDecl {
            name: PRINT_MAP_NAME.to_string(),
            kind: MapKind::RingBuf,
            key: none.clone(),
            value: none,
            entries: PRINT_RING_SIZE,
        },
    }
}

/// The count of records a full ring refused: a per-CPU array of one host-order `u64`
/// (key `0u32`), id [`PRINT_LOST_MAP_ID`]; the count is the sum over the CPUs.
pub fn print_lost_map() -> MapRef {
    let big = cfg!(target_endian = "big");
    MapRef {
        id: PRINT_LOST_MAP_ID,
        decl: MapDecl {
            name: PRINT_LOST_MAP_NAME.to_string(),
            kind: MapKind::PercpuArray,
            key: Layout::int("I4", 4, false, big),
            value: Layout::int("I8", 8, false, big),
            entries: 1,
        },
    }
}

/// The line a record stands for, as the Lua tier's `print` writes it. A record that does not
/// fit `sites` (another program's, or damaged) gives a line saying so.
pub fn decode_print(record: &[u8], sites: &[PrintSite]) -> String {
    try_decode_print(record, sites)
        .unwrap_or_else(|e| format!("[lunet: unreadable print record: {e}]"))
}

/// Why a print record is unreadable ([`try_decode_print`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} bytes, shorter than a header")]
    NoHeader(usize),
    #[error("{0} bytes, cut short")]
    CutShort(usize),
    #[error("format version {0}")]
    Version(u8),
    #[error("site {id} of a hook with {sites} print calls")]
    NoSite { id: usize, sites: usize },
    /// The record's argument count or size is not its site's.
    #[error("site {id} ({file}:{line}) has {args} arguments and {size}-byte records, the record {argc} and {len} bytes")]
    NotItsSite {
        id: usize,
        file: String,
        line: u32,
        args: usize,
        size: usize,
        argc: usize,
        len: usize,
    },
    /// Argument `arg` (from 1) has a kind byte its site's argument cannot have.
    #[error("argument {arg} is {expected:?} but has kind {kind}")]
    WrongKind {
        arg: usize,
        expected: PrintArg,
        kind: u8,
    },
}

/// [`decode_print`], with the reason a record is unreadable.
pub fn try_decode_print(record: &[u8], sites: &[PrintSite]) -> Result<String, DecodeError> {
    let byte = |at: usize| {
        record
            .get(at)
            .copied()
            .ok_or(DecodeError::CutShort(record.len()))
    };
    let word = |at: usize| {
        record
            .get(at..at + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or_default()))
            .ok_or(DecodeError::CutShort(record.len()))
    };
    let head = record
        .get(..HEADER)
        .ok_or(DecodeError::NoHeader(record.len()))?;
    let id = u16::from_ne_bytes([head[0], head[1]]) as usize;
    let (argc, version) = (head[2] as usize, head[3]);
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version(version));
    }
    let site = sites.get(id).ok_or(DecodeError::NoSite {
        id,
        sites: sites.len(),
    })?;
    if argc != site.args.len() || record.len() < site.record_size() {
        return Err(DecodeError::NotItsSite {
            id,
            file: site.file.clone(),
            line: site.line,
            args: site.args.len(),
            size: site.record_size(),
            argc,
            len: record.len(),
        });
    }
    let mut parts: Vec<Decoded> = Vec::with_capacity(argc);
    for (i, (arg, at)) in site.args.iter().zip(site.value_offsets()).enumerate() {
        let kind = byte(HEADER + i)?;
        let text: Vec<u8> = match (arg, kind) {
            (PrintArg::Const(t), KIND_CONST) => t.clone(),
            (PrintArg::Int | PrintArg::MaybeInt, KIND_INT) => {
                parts.push(Decoded::Int(word(at)? as i64));
                continue;
            }
            (PrintArg::MaybeInt | PrintArg::MaybeBytes, KIND_NIL) => b"nil".to_vec(),
            (PrintArg::Bool, KIND_FALSE) => b"false".to_vec(),
            (PrintArg::Bool, KIND_TRUE) => b"true".to_vec(),
            (PrintArg::Choice(texts), KIND_CHOICE) => {
                let id = word(at)?;
                match texts.iter().find(|(i, _)| *i == id) {
                    Some((_, t)) => t.clone(),
                    None => {
                        return Err(DecodeError::WrongKind {
                            arg: i + 1,
                            expected: arg.clone(),
                            kind,
                        })
                    }
                }
            }
            (PrintArg::Bytes | PrintArg::MaybeBytes, KIND_BYTES) => {
                let len = word(at)?;
                let kept = (len as usize).min(STR_CAP);
                let mut t = record[at + 8..at + 8 + kept].to_vec();
                if len > STR_CAP as u64 {
                    t.extend_from_slice(format!("...[{len} bytes]").as_bytes());
                }
                t
            }
            (arg, kind) => {
                return Err(DecodeError::WrongKind {
                    arg: i + 1,
                    expected: arg.clone(),
                    kind,
                })
            }
        };
        parts.push(Decoded::Text(text));
    }
    let mut line: Vec<u8> = Vec::new();
    for item in &site.layout {
        match item {
            Item::Tab => line.push(b'\t'),
            Item::Arg(i, spec) => {
                let Some(d) = parts.get(*i) else { continue };
                let arg = match d {
                    Decoded::Int(k) => crate::format::Arg::Int(*k),
                    Decoded::Text(t) => crate::format::Arg::Text(t),
                };
                match (spec, d) {
                    (Some(s), _) => line.extend(s.apply(&arg)),
                    (None, Decoded::Int(k)) => line.extend(k.to_string().as_bytes()),
                    (None, Decoded::Text(t)) => line.extend(t),
                }
            }
        }
    }
    // Each piece made valid UTF-8 alone, as the Lua tier's log makes each argument.
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// An argument's value read from a record.
enum Decoded {
    Int(i64),
    Text(Vec<u8>),
}

/// A record as the compiled code writes it, for tests: `values` are the run-time parts of each
/// argument (ignored for [`PrintArg::Const`]).
pub fn encode_print(site_id: u16, site: &PrintSite, values: &[PrintValue]) -> Vec<u8> {
    let mut r = vec![0u8; site.record_size()];
    r[..4].copy_from_slice(&header_word(site_id, site.args.len() as u8).to_ne_bytes());
    for (i, ((arg, at), v)) in site
        .args
        .iter()
        .zip(site.value_offsets())
        .zip(values)
        .enumerate()
    {
        let kind = match (arg, v) {
            (PrintArg::Const(_), _) => KIND_CONST,
            (_, PrintValue::Nil) => KIND_NIL,
            (_, PrintValue::Int(k)) => {
                r[at..at + 8].copy_from_slice(&k.to_ne_bytes());
                KIND_INT
            }
            (_, PrintValue::Bool(b)) => KIND_FALSE + *b as u8,
            (_, PrintValue::Choice(id)) => {
                r[at..at + 8].copy_from_slice(&id.to_ne_bytes());
                KIND_CHOICE
            }
            (_, PrintValue::Bytes(s)) => {
                r[at..at + 8].copy_from_slice(&(s.len() as u64).to_ne_bytes());
                let n = s.len().min(STR_CAP);
                r[at + 8..at + 8 + n].copy_from_slice(&s[..n]);
                KIND_BYTES
            }
        };
        r[HEADER + i] = kind;
    }
    r
}

/// A run-time value of a print argument ([`encode_print`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrintValue {
    Nil,
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    Choice(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(args: Vec<PrintArg>) -> PrintSite {
        PrintSite::plain("t.lua", 3, args)
    }

    #[test]
    fn formatted_pieces_join_without_tabs_through_their_conversions() {
        let (spec, c) = match &crate::format::parse(b"%04x").unwrap()[0] {
            crate::format::Part::Conv(s) => (s.clone(), 0),
            _ => unreachable!(),
        };
        let _ = c;
        let mut s = site(vec![
            PrintArg::Const(b"sni: ".to_vec()),
            PrintArg::Choice(vec![(3, b"DROP".to_vec()), (5, b"PASS".to_vec())]),
            PrintArg::Int,
        ]);
        s.layout = vec![
            Item::Arg(0, None),
            Item::Arg(1, None),
            Item::Tab,
            Item::Arg(2, Some(spec)),
        ];
        let r = encode_print(
            0,
            &s,
            &[PrintValue::Nil, PrintValue::Choice(5), PrintValue::Int(255)],
        );
        assert_eq!(decode_print(&r, &[s]), "sni: PASS\t00ff");
    }

    #[test]
    fn layout_is_header_kinds_then_aligned_values() {
        let s = site(vec![
            PrintArg::Const(b"port".to_vec()),
            PrintArg::Int,
            PrintArg::Bool,
            PrintArg::Bytes,
            PrintArg::MaybeInt,
        ]);
        assert_eq!(s.value_offsets(), vec![16, 16, 24, 24, 24 + 72]);
        assert_eq!(s.record_size(), 16 + 8 + 72 + 8);
        let nine = site(vec![PrintArg::Bool; 9]);
        assert_eq!(nine.record_size(), 8 + 16);
        assert_eq!(site(vec![]).record_size(), HEADER);
    }

    #[test]
    fn decodes_as_lua_prints() {
        let s = site(vec![
            PrintArg::Const(b"dport".to_vec()),
            PrintArg::Int,
            PrintArg::MaybeInt,
            PrintArg::MaybeInt,
            PrintArg::Bool,
            PrintArg::Bool,
            PrintArg::Bytes,
            PrintArg::Const(b"nil".to_vec()),
        ]);
        let r = encode_print(
            0,
            &s,
            &[
                PrintValue::Nil,
                PrintValue::Int(-53),
                PrintValue::Nil,
                PrintValue::Int(i64::MIN),
                PrintValue::Bool(true),
                PrintValue::Bool(false),
                PrintValue::Bytes(b"a\tb".to_vec()),
                PrintValue::Nil,
            ],
        );
        assert_eq!(r.len(), s.record_size());
        assert_eq!(
            decode_print(&r, &[s]),
            "dport\t-53\tnil\t-9223372036854775808\ttrue\tfalse\ta\tb\tnil"
        );
        assert_eq!(
            decode_print(&encode_print(0, &site(vec![]), &[]), &[site(vec![])]),
            ""
        );
    }

    #[test]
    fn long_strings_are_cut_with_a_marker_and_bytes_made_utf8() {
        let s = site(vec![PrintArg::Bytes, PrintArg::Bytes]);
        let long: Vec<u8> = (0..200u32).map(|i| b'a' + (i % 26) as u8).collect();
        let r = encode_print(
            0,
            &s,
            &[
                PrintValue::Bytes(long.clone()),
                PrintValue::Bytes(vec![0xff, b'x']),
            ],
        );
        let text = decode_print(&r, &[s]);
        let want = format!(
            "{}...[200 bytes]\t\u{fffd}x",
            String::from_utf8_lossy(&long[..STR_CAP])
        );
        assert_eq!(text, want);
        let exact: Vec<u8> = vec![b'z'; STR_CAP];
        let s = site(vec![PrintArg::Bytes]);
        let r = encode_print(0, &s, &[PrintValue::Bytes(exact.clone())]);
        assert_eq!(
            decode_print(&r, &[s]),
            "z".repeat(STR_CAP),
            "no marker at the cap"
        );
    }

    #[test]
    fn records_that_do_not_fit_their_site_are_reported_not_trusted() {
        let s = site(vec![PrintArg::Int]);
        let good = encode_print(0, &s, &[PrintValue::Int(1)]);
        let sites = [s.clone()];
        assert_eq!(decode_print(&good, &sites), "1");
        assert_eq!(
            try_decode_print(&good[..4], &sites),
            Err(DecodeError::NoHeader(4))
        );
        assert!(matches!(
            try_decode_print(&good[..12], &sites),
            Err(DecodeError::NotItsSite { len: 12, .. })
        ));
        let other = encode_print(1, &s, &[PrintValue::Int(1)]);
        let e = try_decode_print(&other, &sites).unwrap_err();
        assert_eq!(e, DecodeError::NoSite { id: 1, sites: 1 });
        assert!(e.to_string().contains("site 1"));
        let mut bad_kind = good.clone();
        bad_kind[HEADER] = KIND_BYTES;
        assert_eq!(
            try_decode_print(&bad_kind, &sites),
            Err(DecodeError::WrongKind {
                arg: 1,
                expected: PrintArg::Int,
                kind: KIND_BYTES
            })
        );
        let mut bad_version = good;
        bad_version[3] = 9;
        assert!(decode_print(&bad_version, &sites).starts_with("[lunet: unreadable print record"));
    }

    #[test]
    fn the_header_word_is_site_count_version() {
        let w = header_word(0x1234, 5).to_ne_bytes();
        assert_eq!(u16::from_ne_bytes([w[0], w[1]]), 0x1234);
        assert_eq!((w[2], w[3]), (5, FORMAT_VERSION));
    }
}
