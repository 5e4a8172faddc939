//! The eager parser: the trees it builds, its errors and offsets, and — by property tests —
//! that its verdict agrees with the lazy matcher's and that its tree means what the pattern
//! means.

use lunet_pattern::{
    find, gsub, gsub_with, match_, parse, parse_gmatch, Capture, Class, ClassKind, Error, GMatch,
    Node, NodeKind, Pattern, PatternError, Quantifier, Replacement, Set, SetItem, Single,
    StepLimit, MAX_CAPTURES,
};
use proptest::prelude::*;

fn node(kind: NodeKind, span: std::ops::Range<usize>) -> Node {
    Node { kind, span }
}

fn single(s: Single, q: Quantifier, span: std::ops::Range<usize>) -> Node {
    node(NodeKind::Single(s, q), span)
}

#[test]
fn a_pattern_parses_into_its_tree_with_spans() {
    let p = parse(b"^(%a+)=()[^,]*%1$").unwrap();
    let alpha = Class {
        kind: ClassKind::Alpha,
        negated: false,
    };
    let not_comma = Set {
        negated: true,
        items: vec![SetItem::Byte(b',')],
    };
    let want = Pattern {
        anchored_start: true,
        anchored_end: true,
        captures: 2,
        nodes: vec![
            node(
                NodeKind::Capture {
                    index: 1,
                    nodes: vec![single(Single::Class(alpha), Quantifier::Plus, 2..5)],
                },
                1..6,
            ),
            single(Single::Byte(b'='), Quantifier::One, 6..7),
            node(NodeKind::Position { index: 2 }, 7..9),
            single(Single::Set(not_comma), Quantifier::Star, 9..14),
            node(NodeKind::BackRef { index: 1 }, 14..16),
        ],
    };
    assert_eq!(p, want);
}

#[test]
fn items_parse_as_lua_reads_them() {
    let items = |pat: &[u8]| -> Vec<NodeKind> {
        parse(pat)
            .unwrap()
            .nodes
            .into_iter()
            .map(|n| n.kind)
            .collect()
    };
    // `]` first in a set is literal; `-` at the end is literal.
    let set = |negated, items| Single::Set(Set { negated, items });
    assert_eq!(
        items(b"[]a-]"),
        vec![NodeKind::Single(
            set(
                false,
                vec![
                    SetItem::Byte(b']'),
                    SetItem::Byte(b'a'),
                    SetItem::Byte(b'-')
                ]
            ),
            Quantifier::One
        )]
    );
    // A range, a class, and the escaped closing bracket after a range ending in `%`.
    assert_eq!(
        items(b"[a-z%d][a-%%]"),
        vec![
            NodeKind::Single(
                set(
                    false,
                    vec![
                        SetItem::Range(b'a', b'z'),
                        SetItem::Class(Class {
                            kind: ClassKind::Digit,
                            negated: false
                        }),
                    ]
                ),
                Quantifier::One
            ),
            NodeKind::Single(
                set(false, vec![SetItem::Range(b'a', b'%'), SetItem::Byte(b']')]),
                Quantifier::One
            ),
        ]
    );
    // `%` + non-class letter, `%` + punctuation, `.`, quantifier-as-literal, `$` mid-pattern.
    assert_eq!(
        items(b"%q%.*.-+$b"),
        vec![
            NodeKind::Single(Single::Byte(b'q'), Quantifier::One),
            NodeKind::Single(Single::Byte(b'.'), Quantifier::Star),
            NodeKind::Single(Single::Any, Quantifier::Lazy),
            NodeKind::Single(Single::Byte(b'+'), Quantifier::One),
            NodeKind::Single(Single::Byte(b'$'), Quantifier::One),
            NodeKind::Single(Single::Byte(b'b'), Quantifier::One),
        ]
    );
    assert_eq!(
        items(b"%b()%f[%s]"),
        vec![
            NodeKind::Balance {
                open: b'(',
                close: b')'
            },
            NodeKind::Frontier(Set {
                negated: false,
                items: vec![SetItem::Class(Class {
                    kind: ClassKind::Space,
                    negated: false
                })]
            }),
        ]
    );
}

#[test]
fn gmatch_patterns_take_a_leading_caret_literally() {
    let p = parse_gmatch(b"^a").unwrap();
    assert!(!p.anchored_start);
    assert_eq!(
        p.nodes[0].kind,
        NodeKind::Single(Single::Byte(b'^'), Quantifier::One)
    );
    assert!(parse(b"^a").unwrap().anchored_start);
}

#[test]
fn each_error_is_reported_with_its_offset_in_the_pattern_as_given() {
    let e = |kind, offset| Err(PatternError { kind, offset });
    assert_eq!(parse(b"ab%"), e(Error::EndsWithPercent, 2));
    assert_eq!(parse(b"^ab%"), e(Error::EndsWithPercent, 3));
    assert_eq!(parse(b"a[b"), e(Error::MissingBracket, 1));
    assert_eq!(parse(b"a[]"), e(Error::MissingBracket, 1));
    assert_eq!(parse(b"%fx"), e(Error::MissingFrontierBracket, 0));
    assert_eq!(parse(b"%f[x"), e(Error::MissingBracket, 2));
    assert_eq!(parse(b"x%b("), e(Error::MissingBalanceArguments, 1));
    assert_eq!(parse(b"(a)%2"), e(Error::InvalidCaptureIndex(2), 3));
    assert_eq!(parse(b"(a%1)"), e(Error::InvalidCaptureIndex(1), 2));
    assert_eq!(parse(b"%0"), e(Error::InvalidCaptureIndex(0), 0));
    assert_eq!(parse(b"a)"), e(Error::InvalidPatternCapture, 1));
    assert_eq!(parse(b"(a(b)"), e(Error::UnfinishedCapture, 0));
    let many = b"()".repeat(MAX_CAPTURES + 1);
    assert_eq!(parse(&many), e(Error::TooManyCaptures, 2 * MAX_CAPTURES));
    assert!(parse(&many[2..]).is_ok());
    // Errors Lua would only meet on some subjects are errors here.
    assert_eq!(parse(b"x["), e(Error::MissingBracket, 1));
    // A back-reference to a position capture is accepted (it never matches).
    assert!(parse(b"()%1").is_ok());
    assert_eq!(
        parse(b"a%").unwrap_err().to_string(),
        "malformed pattern (ends with '%') (at byte 1)"
    );
}

const TOKENS: &[&[u8]] = &[
    b"a", b"b", b".", b"%", b"(", b")", b"[", b"]", b"^", b"$", b"*", b"+", b"-", b"?", b"%a",
    b"%z", b"%b", b"%bab", b"%f", b"%f[a]", b"%1", b"%2", b"%0", b"[a-b]", b"[^a]", b"()", b"(a)",
    b"a*", b".-", b"(.)", b"\0", b"\xff",
];

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..9).prop_map(|t| t.concat())
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"aab()\0"[..]), 0..10)
}

/// Every error the matcher raises for `pattern` on `subject`: from find, match and gsub
/// (which honour a leading `^`), and from gmatch (which does not).
fn matcher_errors(subject: &[u8], pattern: &[u8]) -> (Vec<Error>, Vec<Error>) {
    let b = || StepLimit::new(10_000_000);
    let mut errors = Vec::new();
    let mut note = |r: Result<(), Error>| errors.extend(r.err());
    note(find(subject, pattern, 1, false, &mut b()).map(drop));
    note(match_(subject, pattern, 1, &mut b()).map(drop));
    note(gsub(subject, pattern, b"%0", None, &mut b()).map(drop));
    let all = |c: &lunet_pattern::Captures<'_>| c.all().map(|_| Replacement::Keep);
    note(gsub_with(subject, pattern, None, &mut b(), all).map(drop));
    let first = |c: &lunet_pattern::Captures<'_>| c.first().map(|_| Replacement::Keep);
    note(gsub_with(subject, pattern, None, &mut b(), first).map(drop));
    let mut gmatch_errors = Vec::new();
    let mut it = GMatch::new(subject.len(), 1);
    let mut budget = b();
    for _ in 0..=subject.len() + 1 {
        match it.next(subject, pattern, &mut budget) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                gmatch_errors.push(e);
                break;
            }
        }
    }
    (errors, gmatch_errors)
}

/// The errors the matcher may raise given parse's verdict: only depth if it accepted, else
/// depth or the very error parse found (the matcher walks the pattern left to right, so the
/// first malformed construct it meets is the first one in the pattern).
fn allowed(verdict: Result<Pattern, PatternError>) -> Vec<Error> {
    match verdict {
        Ok(_) => vec![Error::TooComplex],
        Err(e) => vec![Error::TooComplex, e.kind],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parse_and_the_lazy_matcher_agree_on_errors(s in subject(), p in pattern()) {
        let (errors, gmatch_errors) = matcher_errors(&s, &p);
        let ok = allowed(parse(&p));
        for e in &errors {
            prop_assert!(ok.contains(e), "{:?}: matcher {e:?}, parse {:?}", String::from_utf8_lossy(&p), parse(&p));
        }
        let ok = allowed(parse_gmatch(&p));
        for e in &gmatch_errors {
            prop_assert!(ok.contains(e), "{:?}: gmatch {e:?}, parse_gmatch {:?}", String::from_utf8_lossy(&p), parse_gmatch(&p));
        }
    }

    /// The tree means what the pattern means: a small interpreter over the tree finds the same
    /// first match and captures as the engine.
    #[test]
    fn the_tree_matches_what_the_pattern_matches(s in subject(), p in pattern(), init in 1i64..4) {
        if let Ok(tree) = parse(&p) {
            let engine = find(&s, &p, init, false, &mut StepLimit::new(10_000_000));
            // Patterns without specials are plain searches in find; match uses the matcher.
            let engine = match_(&s, &p, init, &mut StepLimit::new(10_000_000)).map(|m| m.map(|_| ())).and(engine);
            match engine {
                Err(e) => prop_assert_eq!(e, Error::TooComplex),
                Ok(found) => {
                    let want = found.map(|f| (f.span, f.captures));
                    let got = interpret(&tree, &s, (init - 1) as usize);
                    prop_assert_eq!(got, want, "{:?} on {:?}", String::from_utf8_lossy(&p), s);
                }
            }
        }
    }
}

/// The tree flattened: captures become open/close markers around their contents.
enum Op<'t> {
    Single(&'t Single, Quantifier),
    Open(usize),
    Close(usize),
    Position(usize),
    BackRef(usize),
    Balance(u8, u8),
    Frontier(&'t Set),
}

fn flatten<'t>(nodes: &'t [Node], ops: &mut Vec<Op<'t>>) {
    for n in nodes {
        match &n.kind {
            NodeKind::Single(s, q) => ops.push(Op::Single(s, *q)),
            NodeKind::Capture { index, nodes } => {
                ops.push(Op::Open(*index));
                flatten(nodes, ops);
                ops.push(Op::Close(*index));
            }
            NodeKind::Position { index } => ops.push(Op::Position(*index)),
            NodeKind::BackRef { index } => ops.push(Op::BackRef(*index)),
            NodeKind::Balance { open, close } => ops.push(Op::Balance(*open, *close)),
            NodeKind::Frontier(set) => ops.push(Op::Frontier(set)),
        }
    }
}

/// A reference matcher over the tree (unbounded recursion: test inputs are small).
struct Interp<'t, 's> {
    ops: Vec<Op<'t>>,
    anchored_end: bool,
    subj: &'s [u8],
    /// Per capture: start, and length (None while open, or for a position capture).
    caps: Vec<(usize, Option<usize>)>,
    positions: Vec<bool>,
}

impl Interp<'_, '_> {
    fn at(&self, s: usize) -> Option<u8> {
        self.subj.get(s).copied()
    }

    fn run(&mut self, i: usize, s: usize) -> Option<usize> {
        let Some(op) = self.ops.get(i) else {
            return (!self.anchored_end || s == self.subj.len()).then_some(s);
        };
        match *op {
            Op::Single(item, q) => {
                let ok = |s: usize| self.at(s).is_some_and(|c| item.matches(c));
                let run_len = (s..).take_while(|&k| ok(k)).count();
                match q {
                    Quantifier::One => (run_len > 0).then(|| self.run(i + 1, s + 1)).flatten(),
                    Quantifier::Optional => {
                        if run_len > 0 {
                            if let Some(e) = self.run(i + 1, s + 1) {
                                return Some(e);
                            }
                        }
                        self.run(i + 1, s)
                    }
                    Quantifier::Star => (0..=run_len).rev().find_map(|k| self.run(i + 1, s + k)),
                    Quantifier::Plus => (1..=run_len).rev().find_map(|k| self.run(i + 1, s + k)),
                    Quantifier::Lazy => (0..=run_len).find_map(|k| self.run(i + 1, s + k)),
                }
            }
            Op::Open(n) => {
                self.caps[n - 1] = (s, None);
                self.run(i + 1, s)
            }
            Op::Close(n) => {
                let start = self.caps[n - 1].0;
                self.caps[n - 1].1 = Some(s - start);
                let r = self.run(i + 1, s);
                if r.is_none() {
                    self.caps[n - 1].1 = None;
                }
                r
            }
            Op::Position(n) => {
                self.caps[n - 1] = (s, None);
                self.positions[n - 1] = true;
                self.run(i + 1, s)
            }
            Op::BackRef(n) => {
                if self.positions[n - 1] {
                    return None;
                }
                let (start, len) = (self.caps[n - 1].0, self.caps[n - 1].1.unwrap());
                let want = &self.subj[start..start + len];
                (self.subj.get(s..s + len) == Some(want))
                    .then(|| self.run(i + 1, s + len))
                    .flatten()
            }
            Op::Balance(open, close) => {
                if self.at(s) != Some(open) {
                    return None;
                }
                let mut depth = 0usize;
                for k in s + 1..self.subj.len() {
                    if self.subj[k] == close {
                        if depth == 0 {
                            return self.run(i + 1, k + 1);
                        }
                        depth -= 1;
                    } else if self.subj[k] == open {
                        depth += 1;
                    }
                }
                None
            }
            Op::Frontier(set) => {
                let before = if s == 0 { 0 } else { self.subj[s - 1] };
                let after = self.at(s).unwrap_or(0);
                (!set.matches(before) && set.matches(after))
                    .then(|| self.run(i + 1, s))
                    .flatten()
            }
        }
    }
}

/// What `find` would return for the tree, starting at offset `from`.
fn interpret(
    tree: &Pattern,
    subj: &[u8],
    from: usize,
) -> Option<(std::ops::Range<usize>, Vec<Capture>)> {
    let mut ops = Vec::new();
    flatten(&tree.nodes, &mut ops);
    let mut it = Interp {
        ops,
        anchored_end: tree.anchored_end,
        subj,
        caps: vec![(0, None); tree.captures],
        positions: vec![false; tree.captures],
    };
    for start in from..=subj.len() {
        it.positions.iter_mut().for_each(|p| *p = false);
        if let Some(end) = it.run(0, start) {
            let caps = it
                .caps
                .iter()
                .zip(&it.positions)
                .map(|(&(st, len), &pos)| match (pos, len) {
                    (true, _) => Capture::Position(st + 1),
                    (false, len) => Capture::Bytes(st..st + len.unwrap()),
                })
                .collect();
            return Some((start..end, caps));
        }
        if tree.anchored_start {
            break;
        }
    }
    None
}
