//! The script loader under generated scripts: token soup, half-right registrations with
//! fields of every type, requires of odd names, maps with odd layouts, loops, errors. Every
//! script either starts or fails with a message naming `fuzz.lua` and a line; none panics,
//! none runs past its limits; a state that starts gives every hook a verdict on a packet.
//! A bounded number of cases, for CI.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lunet_lua::{Limits, State, StateOptions};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "local",
    "function",
    "end",
    "if",
    "then",
    "else",
    "return",
    "for",
    "in",
    "do",
    "while",
    "repeat",
    "until",
    "and",
    "or",
    "not",
    "nil",
    "true",
    "false",
    "x",
    "y",
    "skb",
    "=",
    "==",
    "~=",
    "+",
    "-",
    "*",
    "//",
    "%",
    "..",
    "#",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ".",
    ":",
    ";",
    "0",
    "1",
    "-1",
    "1e9",
    "0x7fffffffffffffff",
    "'s'",
    "\"\\0\"",
    "...",
    "print",
    "pairs",
    "coroutine.wrap",
    "pcall",
    "error",
    "string.rep",
    "setmetatable",
    "\n",
];

/// A value of some Lua type, as source text.
fn lua_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nil".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        "[a-zA-Z0-9_ .]{0,10}".prop_map(|s| format!("{s:?}")),
        Just("{}".to_string()),
        Just("function() end".to_string()),
        Just("nf.action.DROP".to_string()),
        Just("nf.proto.INET".to_string()),
    ]
}

/// `netfilter.register{...}` or `xdp.attach(...)` with random fields.
fn registration() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("hook"),
        Just("pf"),
        Just("hooknum"),
        Just("priority"),
        Just("mark"),
        Just("default"),
        Just("tier"),
        Just("name"),
        Just("budget"),
        Just("timeout"),
        Just("overload"),
        Just("dev"),
    ];
    (
        any::<bool>(),
        prop::collection::vec((field, lua_value()), 0..7),
        prop::sample::select(
            &[
                "return nf.action.ACCEPT",
                "return 7",
                "error('e')",
                "return",
                "while true do end",
            ][..],
        ),
    )
        .prop_map(|(nf, fields, body)| {
            let mut f: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            f.push(format!("hook = function(skb) {body} end"));
            if nf {
                format!(
                    "netfilter.register{{ pf = 2, hooknum = 1, {} }}",
                    f.join(", ")
                )
            } else {
                format!(
                    "xdp.attach(function(p) {body} end, {{ {} }})",
                    f[..f.len() - 1].join(", ")
                )
            }
        })
}

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(TOKENS), 1..12).prop_map(|t| t.join(" ")),
        3 => registration(),
        1 => "[a-z.]{0,12}".prop_map(|n| format!("pcall(require, {n:?})")),
        1 => ("[a-zA-Z0-9<>=]{0,6}", "[a-zA-Z0-9<>=]{0,6}", any::<i32>())
            .prop_map(|(k, v, n)| format!("pcall(require('bpf.map').hash, {{ key = {k:?}, value = {v:?}, entries = {n} }})")),
        1 => Just("local t = {} for i = 1, 1e7 do t[i] = i end".to_string()),
        1 => Just("print(('x'):rep(1e6))".to_string()),
    ]
}

fn script() -> impl Strategy<Value = String> {
    prop::collection::vec(statement(), 0..6).prop_map(|s| {
        format!(
            "local netfilter = require('netfilter')\nlocal xdp = require('xdp')\nlocal nf = require('linux').nf\n{}\n",
            s.join("\n")
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_script_starts_or_says_where_it_failed(source in script()) {
        let opts = StateOptions {
            limits: Limits {
                memory: 8 << 20,
                body_time: Duration::from_millis(100),
                hook_time: Duration::from_millis(20),
                ..Limits::default()
            },
            dev: Some("lo".into()),
            ..StateOptions::default()
        };
        let t = Instant::now();
        match State::from_source("fuzz.lua", source.as_bytes(), ".".into(), opts) {
            Ok(st) => {
                for h in st.hooks() {
                    let out = if matches!(h.attach, lunet_types::Attach::Netfilter { .. }) {
                        st.run_netfilter(h.id, udp4(9, b"x").nf())
                    } else {
                        st.run_xdp(h.id, &lunet_testkit::packets::udp4_to(9, b"x"))
                    };
                    prop_assert!((out.verdict as usize) < h.attach.verdict_names().len());
                }
            }
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(
                    e.message.contains("fuzz.lua"),
                    "no file named in {:?} for\n{}", e.message, source
                );
            }
        }
        prop_assert!(t.elapsed() < Duration::from_secs(3), "{:?} for\n{}", t.elapsed(), source);
    }
}
