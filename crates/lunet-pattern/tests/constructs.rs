//! One test per construct and per error, each with the expected Lua values written out, and
//! each expectation also checked against real Lua 5.4 so a wrong expectation cannot pass.

mod common;

use common::*;

fn s(x: &[u8]) -> Val {
    Val::Str(x.to_vec())
}

fn i(n: i64) -> Val {
    Val::Int(n)
}

fn err(msg: &str) -> Outcome {
    Err(msg.to_string())
}

fn find_is(
    lua: &Oracle,
    subj: &[u8],
    pat: &[u8],
    init: Option<i64>,
    plain: Option<bool>,
    want: Outcome,
) {
    assert_eq!(
        lua.find(subj, pat, init, plain),
        want,
        "Lua: find({subj:?}, {pat:?})"
    );
    assert_eq!(
        rust_find(subj, pat, init, plain),
        want,
        "Rust: find({subj:?}, {pat:?})"
    );
}

fn match_is(lua: &Oracle, subj: &[u8], pat: &[u8], init: Option<i64>, want: Outcome) {
    assert_eq!(
        lua.match_(subj, pat, init),
        want,
        "Lua: match({subj:?}, {pat:?})"
    );
    assert_eq!(
        rust_match(subj, pat, init),
        want,
        "Rust: match({subj:?}, {pat:?})"
    );
}

fn gmatch_is(lua: &Oracle, subj: &[u8], pat: &[u8], init: Option<i64>, want: GmatchOutcome) {
    assert_eq!(
        lua.gmatch(subj, pat, init),
        want,
        "Lua: gmatch({subj:?}, {pat:?})"
    );
    assert_eq!(
        rust_gmatch(subj, pat, init),
        want,
        "Rust: gmatch({subj:?}, {pat:?})"
    );
}

fn gsub_is(lua: &Oracle, subj: &[u8], pat: &[u8], repl: &[u8], n: Option<i64>, want: Outcome) {
    assert_eq!(
        lua.gsub(subj, pat, repl, n),
        want,
        "Lua: gsub({subj:?}, {pat:?}, {repl:?})"
    );
    assert_eq!(
        rust_gsub(subj, pat, repl, n),
        want,
        "Rust: gsub({subj:?}, {pat:?}, {repl:?})"
    );
}

fn one(v: &[u8]) -> Outcome {
    Ok(vec![s(v)])
}

fn nil() -> Outcome {
    Ok(vec![Val::Nil])
}

fn gsubbed(v: &[u8], n: i64) -> Outcome {
    Ok(vec![s(v), i(n)])
}

#[test]
fn dot_matches_any_byte_including_nul_and_high_bytes() {
    let lua = Oracle::new();
    match_is(&lua, b"\0", b".", None, one(b"\0"));
    match_is(&lua, b"\xff", b".", None, one(b"\xff"));
    match_is(&lua, b"", b".", None, nil());
}

#[test]
fn classes_have_their_c_locale_meaning_and_upper_case_complements() {
    let lua = Oracle::new();
    let all: Vec<u8> = (0..=255).collect();
    let expected: &[(&[u8], Vec<u8>)] = &[
        (
            b"[^%a]",
            [b'A'..=b'Z', b'a'..=b'z'].into_iter().flatten().collect(),
        ),
        (b"[^%c]", (0..32).chain([127]).collect()),
        (b"[^%d]", (b'0'..=b'9').collect()),
        (b"[^%g]", (33..127).collect()),
        (b"[^%l]", (b'a'..=b'z').collect()),
        (b"[^%s]", b"\t\n\x0b\x0c\r ".to_vec()),
        (b"[^%u]", (b'A'..=b'Z').collect()),
        (b"[^%x]", b"0123456789ABCDEFabcdef".to_vec()),
    ];
    for (pat, keep) in expected {
        let n = (256 - keep.len()) as i64;
        gsub_is(&lua, &all, pat, b"", None, gsubbed(keep, n));
    }
    // The rest, and every complement, against Lua alone.
    for class in b"acdglpsuwxzACDGLPSUWXZ" {
        for pat in [vec![b'[', b'^', b'%', *class, b']'], vec![b'%', *class]] {
            assert_eq!(
                rust_gsub(&all, &pat, b"", None),
                lua.gsub(&all, &pat, b"", None)
            );
        }
    }
}

#[test]
fn percent_escapes_a_non_alphanumeric_byte_and_other_letters_match_themselves() {
    let lua = Oracle::new();
    match_is(&lua, b"a.b", b"%.", None, one(b"."));
    match_is(&lua, b"a%b", b"%%", None, one(b"%"));
    match_is(&lua, b"q", b"%q", None, one(b"q"));
    match_is(&lua, b"q", b"%Q", None, nil());
    // %z is Lua 5.1's NUL class: deprecated, undocumented, and still in Lua 5.4.
    match_is(&lua, b"z\0", b"%z", None, one(b"\0"));
    match_is(&lua, b"\0z", b"%Z", None, one(b"z"));
    // % before a NUL byte escapes the NUL.
    match_is(&lua, b"a\0", b"%\0", None, one(b"\0"));
}

#[test]
fn sets_take_ranges_classes_complements_and_a_leading_bracket_literally() {
    let lua = Oracle::new();
    match_is(&lua, b"xabcd", b"[a-c]+", None, one(b"abc"));
    match_is(&lua, b"abcxyz", b"[^a-c]+", None, one(b"xyz"));
    match_is(&lua, b"a_1-", b"[%d_]+", None, one(b"_1"));
    match_is(&lua, b"a]b", b"[]]", None, one(b"]"));
    match_is(&lua, b"]]ab", b"[^]]+", None, one(b"ab"));
    match_is(&lua, b"b-", b"[a-]+", None, one(b"-"));
    match_is(&lua, b"q-z", b"[%a-]+", None, one(b"q-z"));
    // A reversed range is empty.
    match_is(&lua, b"m", b"[z-a]", None, nil());
    // The byte after a % is taken even when it is the closing bracket: `[a-%%]` is the
    // (empty) range a-% and then `%]`, so it matches "]".
    match_is(&lua, b"]", b"[a-%%]", None, one(b"]"));
    match_is(&lua, b"%", b"[%%]", None, one(b"%"));
}

#[test]
fn quantifiers_repeat_greedily_lazily_and_optionally() {
    let lua = Oracle::new();
    match_is(&lua, b"aaab", b"a*", None, one(b"aaa"));
    match_is(&lua, b"baaa", b"a*", None, one(b""));
    match_is(&lua, b"baaa", b"a+", None, one(b"aaa"));
    match_is(&lua, b"aaab", b"(a-)a", None, one(b""));
    match_is(&lua, b"<a><b>", b"<(.-)>", None, one(b"a"));
    match_is(&lua, b"<a><b>", b"<(.*)>", None, one(b"a><b"));
    match_is(&lua, b"color colour", b"colou?r", Some(2), one(b"colour"));
    // Greedy items give bytes back so the rest can match.
    match_is(&lua, b"aaa", b"(a*)(a)", None, Ok(vec![s(b"aa"), s(b"a")]));
    // A quantifier with nothing before it is a literal.
    match_is(&lua, b"a*b", b"*b", None, one(b"*b"));
}

#[test]
fn caret_anchors_only_at_the_start_and_not_in_gmatch() {
    let lua = Oracle::new();
    find_is(&lua, b"aaa", b"^a", None, None, Ok(vec![i(1), i(1)]));
    find_is(&lua, b"baa", b"^a", None, None, nil());
    // Anchored at init, not at the subject's start.
    find_is(&lua, b"baa", b"^a", Some(2), None, Ok(vec![i(2), i(2)]));
    find_is(&lua, b"a^b", b"a^b", None, None, Ok(vec![i(1), i(3)]));
    gmatch_is(
        &lua,
        b"^a^a",
        b"^a",
        None,
        (vec![vec![s(b"^a")], vec![s(b"^a")]], None),
    );
    gsub_is(&lua, b"aaa", b"^a", b"b", None, gsubbed(b"baa", 1));
}

#[test]
fn dollar_anchors_only_at_the_end() {
    let lua = Oracle::new();
    find_is(&lua, b"abab", b"b$", None, None, Ok(vec![i(4), i(4)]));
    find_is(&lua, b"a$b", b"$b", None, None, Ok(vec![i(2), i(3)]));
    match_is(&lua, b"ab", b"^(.-)$", None, one(b"ab"));
    match_is(&lua, b"a$", b"(a$)", None, one(b"a$"));
}

#[test]
fn captures_return_strings_and_position_captures_integers() {
    let lua = Oracle::new();
    match_is(
        &lua,
        b"hello world",
        b"(%w+) (%w+)",
        None,
        Ok(vec![s(b"hello"), s(b"world")]),
    );
    match_is(&lua, b"abc", b"()b()", None, Ok(vec![i(2), i(3)]));
    match_is(
        &lua,
        b"abc",
        b"((a)(b))",
        None,
        Ok(vec![s(b"ab"), s(b"a"), s(b"b")]),
    );
    find_is(
        &lua,
        b"abc",
        b"(b)",
        None,
        None,
        Ok(vec![i(2), i(2), s(b"b")]),
    );
    find_is(
        &lua,
        b"abc",
        b"()",
        Some(4),
        None,
        Ok(vec![i(4), i(3), i(4)]),
    );
}

#[test]
fn back_references_repeat_a_closed_capture() {
    let lua = Oracle::new();
    match_is(
        &lua,
        br#"say "hi" and 'yo'"#,
        br#"(["'])(.-)%1"#,
        None,
        Ok(vec![s(b"\""), s(b"hi")]),
    );
    match_is(&lua, b"abab", b"(ab)%1", None, one(b"ab"));
    match_is(&lua, b"abac", b"(ab)%1", None, nil());
    // A position capture has no bytes: referring back to it never matches.
    match_is(&lua, b"aa", b"()a%1", None, nil());
}

#[test]
fn balance_matches_nested_pairs() {
    let lua = Oracle::new();
    match_is(&lua, b"x(a(b)c)y", b"%b()", None, one(b"(a(b)c)"));
    match_is(&lua, b"x(a(b", b"%b()", None, nil());
    // With equal delimiters the first closing byte ends it.
    match_is(&lua, b"'a'b'", b"%b''", None, one(b"'a'"));
}

#[test]
fn frontier_sees_nul_beyond_both_ends_of_the_subject() {
    let lua = Oracle::new();
    gsub_is(
        &lua,
        b"THE (quick) fox",
        b"%f[%a]%a+",
        b"W",
        None,
        gsubbed(b"W (W) W", 3),
    );
    // At the end the next byte is NUL, a control character.
    find_is(&lua, b"ab", b"%f[%c]", None, None, Ok(vec![i(3), i(2)]));
    // At the start the previous byte is NUL, not in %C, and 'a' is.
    find_is(&lua, b"ab", b"%f[%C]", None, None, Ok(vec![i(1), i(0)]));
}

#[test]
fn nesting_deeper_than_200_is_pattern_too_complex() {
    let lua = Oracle::new();
    let subject = b"a".repeat(300);
    match_is(
        &lua,
        &subject,
        &b"a?".repeat(199),
        None,
        one(&b"a".repeat(199)),
    );
    match_is(
        &lua,
        &subject,
        &b"a?".repeat(200),
        None,
        err("pattern too complex"),
    );
    // An item that does not match at all continues without nesting.
    match_is(&lua, b"", &b"a?".repeat(400), None, one(b""));
}

#[test]
fn more_than_32_captures_is_too_many_captures() {
    let lua = Oracle::new();
    let ok: Vec<Val> = (0..32).map(|_| i(1)).collect();
    match_is(&lua, b"", &b"()".repeat(32), None, Ok(ok));
    match_is(&lua, b"", &b"()".repeat(33), None, err("too many captures"));
}

#[test]
fn malformed_items_are_errors_only_when_matching_reaches_them() {
    let lua = Oracle::new();
    find_is(
        &lua,
        b"abc",
        b"a%",
        None,
        None,
        err("malformed pattern (ends with '%')"),
    );
    find_is(&lua, b"xbc", b"a%", None, None, nil());
    find_is(
        &lua,
        b"abc",
        b"[a",
        None,
        None,
        err("malformed pattern (missing ']')"),
    );
    find_is(&lua, b"abc", b"x[", None, None, nil());
    find_is(
        &lua,
        b"abc",
        b"[]",
        None,
        None,
        err("malformed pattern (missing ']')"),
    );
    find_is(
        &lua,
        b"abc",
        b"[%]",
        None,
        None,
        err("malformed pattern (missing ']')"),
    );
    find_is(
        &lua,
        b"abc",
        b"%fa",
        None,
        None,
        err("missing '[' after '%f' in pattern"),
    );
    find_is(
        &lua,
        b"abc",
        b"%f",
        None,
        None,
        err("missing '[' after '%f' in pattern"),
    );
    find_is(
        &lua,
        b"abc",
        b"%ba",
        None,
        None,
        err("malformed pattern (missing arguments to '%b')"),
    );
    find_is(&lua, b"abc", b"x%ba", None, None, nil());
}

#[test]
fn capture_errors_have_lua_messages() {
    let lua = Oracle::new();
    match_is(&lua, b"aa", b"(a)%2", None, err("invalid capture index %2"));
    match_is(&lua, b"aa", b"%0", None, err("invalid capture index %0"));
    match_is(&lua, b"aa", b"(a%1)", None, err("invalid capture index %1"));
    match_is(&lua, b"a", b"a)", None, err("invalid pattern capture"));
    match_is(&lua, b"a", b"(a", None, err("unfinished capture"));
    // find without captures to return still reports the open one; a failed match does not.
    find_is(&lua, b"a", b"(a", None, None, err("unfinished capture"));
    find_is(&lua, b"b", b"(a", None, None, nil());
}

#[test]
fn find_searches_plainly_when_asked_or_when_there_are_no_specials() {
    let lua = Oracle::new();
    find_is(&lua, b"a.b", b".", None, Some(true), Ok(vec![i(2), i(2)]));
    find_is(&lua, b"a.b", b"%", None, Some(true), nil());
    // `)` is not special to find, so this is a substring search, while match errors.
    find_is(&lua, b"xa)b", b"a)", None, None, Ok(vec![i(2), i(3)]));
    match_is(&lua, b"xa)b", b"a)", None, err("invalid pattern capture"));
    find_is(&lua, b"", b"", None, None, Ok(vec![i(1), i(0)]));
}

#[test]
fn init_counts_from_the_end_when_negative_and_fails_past_the_end() {
    let lua = Oracle::new();
    find_is(&lua, b"abcabc", b"b", Some(-3), None, Ok(vec![i(5), i(5)]));
    find_is(&lua, b"abc", b"a", Some(0), None, Ok(vec![i(1), i(1)]));
    find_is(&lua, b"abc", b"a", Some(-100), None, Ok(vec![i(1), i(1)]));
    find_is(&lua, b"abc", b"", Some(4), None, Ok(vec![i(4), i(3)]));
    find_is(&lua, b"abc", b"", Some(5), None, nil());
    find_is(&lua, b"abc", b"x*", Some(i64::MAX), None, nil());
    match_is(&lua, b"abc", b".", Some(10), nil());
    match_is(&lua, b"abc", b"()", Some(-1), Ok(vec![i(3)]));
}

#[test]
fn gmatch_skips_a_match_ending_where_the_last_one_ended() {
    let lua = Oracle::new();
    gmatch_is(&lua, b"abc", b"%a*", None, (vec![vec![s(b"abc")]], None));
    let empty = vec![s(b"")];
    gmatch_is(
        &lua,
        b"ab",
        b".-",
        None,
        (vec![empty.clone(), empty.clone(), empty.clone()], None),
    );
    gmatch_is(
        &lua,
        b"k=v, x=y",
        b"(%w+)=(%w+)",
        None,
        (vec![vec![s(b"k"), s(b"v")], vec![s(b"x"), s(b"y")]], None),
    );
    // init, including past the end (nothing) and one past (the empty match at the end).
    gmatch_is(&lua, b"abab", b"a", Some(2), (vec![vec![s(b"a")]], None));
    gmatch_is(&lua, b"ab", b"", Some(3), (vec![empty], None));
    gmatch_is(&lua, b"ab", b"", Some(4), (vec![], None));
    // An error ends the loop after the matches before it.
    gmatch_is(
        &lua,
        b"aab",
        b"a(",
        None,
        (vec![], Some("unfinished capture".into())),
    );
}

#[test]
fn gsub_counts_limits_and_expands_templates() {
    let lua = Oracle::new();
    gsub_is(&lua, b"abc", b"%w*", b"-", None, gsubbed(b"-", 1));
    gsub_is(&lua, b"abc", b"", b"-", None, gsubbed(b"-a-b-c-", 4));
    gsub_is(&lua, b"aaa", b"a", b"b", Some(2), gsubbed(b"bba", 2));
    gsub_is(&lua, b"aaa", b"a", b"b", Some(0), gsubbed(b"aaa", 0));
    gsub_is(&lua, b"aaa", b"a", b"b", Some(-5), gsubbed(b"aaa", 0));
    gsub_is(
        &lua,
        b"hello world",
        b"(%w+)",
        b"<%1>",
        None,
        gsubbed(b"<hello> <world>", 2),
    );
    gsub_is(
        &lua,
        b"abc",
        b"b",
        b"[%0%%%1]",
        None,
        gsubbed(b"a[b%b]c", 1),
    );
    gsub_is(&lua, b"abc", b"()b", b"%1", None, gsubbed(b"a2c", 1));
    gsub_is(
        &lua,
        b"hello world",
        b"(o)",
        b"%2",
        None,
        err("invalid capture index %2"),
    );
    gsub_is(
        &lua,
        b"abc",
        b"b",
        b"%x",
        None,
        err("invalid use of '%' in replacement string"),
    );
    gsub_is(
        &lua,
        b"abc",
        b"b",
        b"%",
        None,
        err("invalid use of '%' in replacement string"),
    );
    // Template errors, like pattern errors, need a match to happen.
    gsub_is(&lua, b"abc", b"x", b"%", None, gsubbed(b"abc", 0));
    // An open capture is an error only if the template asks for it.
    gsub_is(&lua, b"abc", b"(b", b"x", None, gsubbed(b"axc", 1));
    gsub_is(&lua, b"abc", b"(b", b"%1", None, err("unfinished capture"));
}

#[test]
fn gsub_callbacks_see_captures_and_may_keep_the_match() {
    let lua = Oracle::new();
    // The function rule wraps when the joined arguments' length is 2 mod 3, else keeps.
    assert_eq!(
        rust_gsub_fn(b"ab cd e", b"%a+", None),
        gsubbed(b"<ab> <cd> e", 3)
    );
    assert_eq!(
        lua.gsub_fn(b"ab cd e", b"%a+", None),
        gsubbed(b"<ab> <cd> e", 3)
    );
    assert_eq!(
        rust_gsub_fn(b"xy", b"()(.)", None),
        lua.gsub_fn(b"xy", b"()(.)", None)
    );
    // The table is indexed by the first capture (an integer for a position capture).
    for (subj, pat) in [
        (&b"a b ab x"[..], &b"%a+"[..]),
        (b"ab", b"()."),
        (b"abc", b"()(.)"),
    ] {
        assert_eq!(
            rust_gsub_tbl(subj, pat, None),
            lua.gsub_tbl(subj, pat, None)
        );
    }
    assert_eq!(
        rust_gsub_tbl(b"abc", b"()c", None),
        err("invalid replacement value (a boolean)")
    );
    assert_eq!(
        lua.gsub_tbl(b"abc", b"()c", None),
        err("invalid replacement value (a boolean)")
    );
}

#[test]
fn long_subjects_agree_past_the_first_byte_search_chunks() {
    let lua = Oracle::new();
    // 10 KB with the only "k=v" pairs past the first 4096-byte chunk, and a literal-led
    // pattern, so the search skips ahead through several chunks.
    let mut subject: Vec<u8> = (0..10_000u32)
        .map(|i| b"xyz \x80"[(i % 5) as usize])
        .collect();
    subject[5000..5003].copy_from_slice(b"k=v");
    subject[9997..].copy_from_slice(b"a=b");
    for pat in [&b"k=(%a)"[..], b"=(.)", b"%=", b"b$", b"q", b"(%a)=(%a)"] {
        assert_eq!(
            rust_find(&subject, pat, None, None),
            lua.find(&subject, pat, None, None)
        );
        assert_eq!(
            rust_find(&subject, pat, Some(6000), None),
            lua.find(&subject, pat, Some(6000), None)
        );
        assert_eq!(
            rust_gmatch(&subject, pat, None),
            lua.gmatch(&subject, pat, None)
        );
        assert_eq!(
            rust_gsub(&subject, pat, b"<%0>", None),
            lua.gsub(&subject, pat, b"<%0>", None)
        );
    }
    assert_eq!(
        rust_find(&subject, b"k=(%a)", None, None),
        Ok(vec![i(5001), i(5003), s(b"v")])
    );
}
