//! Differential tests: the Rust engine against real Lua 5.4 (through mlua) on random subjects
//! and random patterns — well-formed and malformed — comparing returned values and error
//! messages exactly.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Pattern pieces: every special on its own, plus fragments that make well-formed constructs
/// (classes, sets, %b, %f, back-references, captures) likely.
const PATTERN_TOKENS: &[&[u8]] = &[
    b"a", b"b", b"x", b".", b"%", b"(", b")", b"[", b"]", b"^", b"$", b"*", b"+", b"-", b"?", b"0",
    b"1", b"%a", b"%d", b"%s", b"%w", b"%x", b"%p", b"%c", b"%g", b"%l", b"%u", b"%A", b"%S",
    b"%.", b"%%", b"%]", b"%b", b"%bab", b"%b()", b"%f", b"%f[a]", b"%f[%w]", b"%1", b"%2", b"%0",
    b"[a-b]", b"[^a]", b"[]", b"[%a-]", b"()", b"(a)", b"a*", b"b-", b"\0", b"\x80", b"\xff", b" ",
];

/// Subject bytes: the pattern specials themselves, letters, digits, space, NUL and high bytes.
const SUBJECT_BYTES: &[u8] = b"aabbx()[]%.01 \0\x80\xff-^$A";

const REPLACEMENT_TOKENS: &[&[u8]] = &[
    b"r", b"%0", b"%1", b"%2", b"%3", b"%%", b"%", b"%a", b"-", b"%\0", b"\0",
];

/// Pieces that tend to build patterns which match: captures around greedy and lazy items.
const MATCHING_TOKENS: &[&[u8]] = &[
    b".", b"a", b"b", b"a*", b"b*", b".-", b"a+", b"(", b")", b"(.)", b"(a*)", b"()", b"%a+",
    b"[ab]", b"[^b]", b"b?", b"%1", b"$", b"^", b"%bab", b"%f[b]", b"(%1)",
];

/// Well-formed patterns, built as a tree: quantified items, nested captures, back-references.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    const ITEMS: &[&[u8]] = &[b".", b"a", b"b", b"%a", b"[ab]", b"[^a]", b"%w", b"x"];
    const QUANTIFIERS: &[&[u8]] = &[b"", b"", b"*", b"+", b"-", b"?"];
    let item = prop::sample::select(ITEMS);
    let quantifier = prop::sample::select(QUANTIFIERS);
    let leaf = prop_oneof![
        6 => (item, quantifier).prop_map(|(i, q)| [i, q].concat()),
        1 => Just(b"()".to_vec()),
        1 => Just(b"%1".to_vec()),
        1 => Just(b"%bab".to_vec()),
        1 => Just(b"%f[a]".to_vec()),
    ];
    let tree = leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner, 1..4).prop_map(|v| [&b"("[..], &v.concat(), b")"].concat())
    });
    let anchor = |a: &'static [u8]| prop_oneof![3 => Just(&b""[..]), 1 => Just(a)];
    (
        anchor(b"^"),
        prop::collection::vec(tree, 0..5),
        anchor(b"$"),
    )
        .prop_map(|(start, body, end)| [start, &body.concat(), end].concat())
}

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    let any_token = prop::sample::select(PATTERN_TOKENS);
    let matching = prop::sample::select(MATCHING_TOKENS);
    prop_oneof![
        prop::collection::vec(any_token, 0..9).prop_map(|t| t.concat()),
        prop::collection::vec(matching, 0..7).prop_map(|t| t.concat()),
        structured(),
    ]
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(SUBJECT_BYTES), 0..14),
        prop::collection::vec(prop::sample::select(&b"aab"[..]), 0..10),
    ]
}

fn replacement() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(REPLACEMENT_TOKENS), 0..4).prop_map(|t| t.concat())
}

fn init() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        2 => Just(None),
        5 => (-18i64..18).prop_map(Some),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1 << 40, 1 << 40]).prop_map(Some),
    ]
}

fn max_n() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![3 => Just(None), 2 => (-1i64..4).prop_map(Some), 1 => Just(Some(i64::MIN))]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn shown(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// Runs `cases` random cases; `both` returns Lua's outcome, Rust's, and the call as text.
fn agree<S, T>(cases: u32, strategy: S, both: impl Fn(S::Value) -> (T, T, String))
where
    S: Strategy,
    T: PartialEq + std::fmt::Debug,
{
    runner(cases)
        .run(&strategy, |v| {
            let (lua, rust, call) = both(v);
            prop_assert_eq!(rust, lua, "{}", call);
            Ok(())
        })
        .unwrap();
}

#[test]
fn find_agrees_with_lua() {
    let lua = Oracle::new();
    let plain = prop_oneof![Just(None), Just(Some(false)), Just(Some(true))];
    agree(
        4000,
        (subject(), pattern(), init(), plain),
        |(s, p, i, pl)| {
            let call = format!("find({}, {}, {i:?}, {pl:?})", shown(&s), shown(&p));
            (lua.find(&s, &p, i, pl), rust_find(&s, &p, i, pl), call)
        },
    );
}

#[test]
fn match_agrees_with_lua() {
    let lua = Oracle::new();
    agree(4000, (subject(), pattern(), init()), |(s, p, i)| {
        let call = format!("match({}, {}, {i:?})", shown(&s), shown(&p));
        (lua.match_(&s, &p, i), rust_match(&s, &p, i), call)
    });
}

#[test]
fn gmatch_agrees_with_lua() {
    let lua = Oracle::new();
    agree(4000, (subject(), pattern(), init()), |(s, p, i)| {
        let call = format!("gmatch({}, {}, {i:?})", shown(&s), shown(&p));
        (lua.gmatch(&s, &p, i), rust_gmatch(&s, &p, i), call)
    });
}

#[test]
fn gsub_with_a_template_agrees_with_lua() {
    let lua = Oracle::new();
    let args = (subject(), pattern(), replacement(), max_n());
    agree(4000, args, |(s, p, r, n)| {
        let call = format!("gsub({}, {}, {}, {n:?})", shown(&s), shown(&p), shown(&r));
        (lua.gsub(&s, &p, &r, n), rust_gsub(&s, &p, &r, n), call)
    });
}

#[test]
fn gsub_with_a_function_agrees_with_lua() {
    let lua = Oracle::new();
    agree(3000, (subject(), pattern(), max_n()), |(s, p, n)| {
        let call = format!("gsub({}, {}, rule, {n:?})", shown(&s), shown(&p));
        (lua.gsub_fn(&s, &p, n), rust_gsub_fn(&s, &p, n), call)
    });
}

#[test]
fn gsub_with_a_table_agrees_with_lua() {
    let lua = Oracle::new();
    agree(3000, (subject(), pattern(), max_n()), |(s, p, n)| {
        let call = format!("gsub({}, {}, T, {n:?})", shown(&s), shown(&p));
        (lua.gsub_tbl(&s, &p, n), rust_gsub_tbl(&s, &p, n), call)
    });
}

/// Any bytes at all, not just the rich alphabet: mostly malformed patterns.
#[test]
fn arbitrary_bytes_agree_with_lua() {
    let lua = Oracle::new();
    let bytes = |n| prop::collection::vec(any::<u8>(), 0..n);
    runner(2000)
        .run(&(bytes(12), bytes(10), bytes(4), init()), |(s, p, r, i)| {
            prop_assert_eq!(rust_find(&s, &p, i, None), lua.find(&s, &p, i, None));
            prop_assert_eq!(rust_match(&s, &p, i), lua.match_(&s, &p, i));
            prop_assert_eq!(rust_gmatch(&s, &p, i), lua.gmatch(&s, &p, i));
            prop_assert_eq!(rust_gsub(&s, &p, &r, None), lua.gsub(&s, &p, &r, None));
            Ok(())
        })
        .unwrap();
}

/// Long patterns of items that nest one level each, against subjects around the same length:
/// the matcher must hit "pattern too complex" (and "too many captures") at exactly Lua's depth.
#[test]
fn nesting_limits_agree_with_lua() {
    let lua = Oracle::new();
    // Every unit can match empty anywhere, so nothing fails and backtracks exponentially.
    let plain = prop::sample::select(vec![
        &b"a?"[..],
        b"a?",
        b"b?",
        b".-",
        b"a-",
        b"%w?",
        b"[ab]?",
    ]);
    let unit = prop_oneof![40 => plain, 1 => Just(&b"(a?)"[..]), 1 => Just(&b"()"[..])];
    let units = prop::collection::vec(unit, 150..260).prop_map(|u| u.concat());
    // Some patterns open 28 to 36 position captures first, around the 32-capture limit.
    let pat = (prop_oneof![3 => Just(0usize), 1 => 28usize..37], units)
        .prop_map(|(n, rest)| [b"()".repeat(n), rest].concat());
    let subj = (150usize..260, prop::sample::select(vec![b'a', b'b'])).prop_map(|(n, tail)| {
        let mut s = vec![b'a'; n];
        s.push(tail);
        s
    });
    runner(150)
        .run(&(subj, pat), |(s, p)| {
            prop_assert_eq!(rust_find(&s, &p, None, None), lua.find(&s, &p, None, None));
            prop_assert_eq!(rust_match(&s, &p, None), lua.match_(&s, &p, None));
            prop_assert_eq!(
                rust_gsub(&s, &p, b"%0", Some(3)),
                lua.gsub(&s, &p, b"%0", Some(3))
            );
            Ok(())
        })
        .unwrap();
}
