//! Fuzzing the data-object accessors through Lua: for random packets (truncated ones included)
//! and random calls at random offsets, no call panics, every in-bounds read returns what a C
//! load would, every out-of-bounds access raises, and writes land where asked (through the
//! `mac` view too: into the link-layer header, or across it into the packet).

mod common;

use lunet_lua::{NfPacket, State, StateOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Get {
        mac: bool,
        width: usize,
        signed: bool,
        off: i64,
    },
    Set {
        width: usize,
        off: i64,
        value: i64,
    },
    GetString {
        mac: bool,
        off: i64,
        len: Option<i64>,
    },
    SetString {
        mac: bool,
        off: i64,
        bytes: Vec<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let off = -3i64..100;
    prop_oneof![
        (
            any::<bool>(),
            prop::sample::select(vec![1usize, 2, 4, 8]),
            any::<bool>(),
            off.clone()
        )
            .prop_map(|(mac, width, signed, off)| Op::Get {
                mac,
                width,
                signed,
                off
            }),
        (
            prop::sample::select(vec![1usize, 2, 4, 8]),
            off.clone(),
            any::<i64>()
        )
            .prop_map(|(width, off, value)| Op::Set { width, off, value }),
        (any::<bool>(), off.clone(), prop::option::of(-2i64..40))
            .prop_map(|(mac, off, len)| Op::GetString { mac, off, len }),
        (any::<bool>(), off, prop::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(mac, off, bytes)| Op::SetString { mac, off, bytes }),
    ]
}

fn method(width: usize, signed: bool, set: bool) -> String {
    format!(
        "{}{}int{}",
        if set { "set" } else { "get" },
        if signed { "" } else { "u" },
        width * 8
    )
}

fn lua_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b}")).collect()
}

/// What the model says one op prints: `true <value>` or `false <error kind>`.
fn model(op: &Op, head: &mut [u8], body: &mut [u8]) -> String {
    let view_len = |mac: bool| body.len() + if mac { head.len() } else { 0 };
    let in_bounds = |off: i64, n: usize, len: usize| {
        off >= 0 && (off as usize).checked_add(n).is_some_and(|e| e <= len)
    };
    let read = |mac: bool, off: usize, n: usize, head: &[u8], body: &[u8]| -> Vec<u8> {
        let all: Vec<u8> = if mac {
            head.iter().chain(body.iter()).copied().collect()
        } else {
            body.to_vec()
        };
        all[off..off + n].to_vec()
    };
    match op {
        Op::Get {
            mac,
            width,
            signed,
            off,
        } => {
            if !in_bounds(*off, *width, view_len(*mac)) {
                return "false out of bounds".into();
            }
            let b = read(*mac, *off as usize, *width, head, body);
            let mut raw = [0u8; 8];
            raw[..*width].copy_from_slice(&b);
            let u = u64::from_ne_bytes(raw);
            let v: i64 = match (width, signed) {
                (1, true) => u as u8 as i8 as i64,
                (2, true) => u as u16 as i16 as i64,
                (4, true) => u as u32 as i32 as i64,
                (8, _) => u as i64,
                _ => u as i64,
            };
            format!("true {v}")
        }
        Op::Set { width, off, value } => {
            if !in_bounds(*off, *width, body.len()) {
                return "false out of bounds".into();
            }
            let o = *off as usize;
            body[o..o + width].copy_from_slice(&value.to_ne_bytes()[..*width]);
            "true".into()
        }
        Op::GetString { mac, off, len } => {
            let total = view_len(*mac);
            let n = match len {
                Some(n) if *n < 0 => return "false out of bounds".into(),
                Some(n) => *n as usize,
                None => usize::try_from(*off)
                    .ok()
                    .and_then(|o| total.checked_sub(o))
                    .unwrap_or(0),
            };
            if !in_bounds(*off, n, total) {
                return "false out of bounds".into();
            }
            format!("true {}", hex(&read(*mac, *off as usize, n, head, body)))
        }
        Op::SetString { mac, off, bytes } => {
            if !in_bounds(*off, bytes.len(), view_len(*mac)) {
                return "false out of bounds".into();
            }
            let o = *off as usize;
            let h = if *mac { head.len() } else { 0 };
            for (i, b) in bytes.iter().enumerate() {
                if o + i < h {
                    head[o + i] = *b;
                } else {
                    body[o + i - h] = *b;
                }
            }
            "true".into()
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn lua_call(op: &Op) -> String {
    let target = |mac: bool| if mac { "mac" } else { "skb" };
    match op {
        Op::Get {
            mac,
            width,
            signed,
            off,
        } => {
            let m = if *width == 8 {
                "getint64".into()
            } else {
                method(*width, *signed, false)
            };
            format!("show(pcall({t}.{m}, {t}, {off}))", t = target(*mac))
        }
        Op::Set { width, off, value } => {
            let m = if *width == 8 {
                "setint64".into()
            } else {
                method(*width, false, true)
            };
            format!("show(pcall(skb.{m}, skb, {off}, {value}))")
        }
        Op::GetString { mac, off, len } => {
            let len = len.map(|l| format!(", {l}")).unwrap_or_default();
            format!(
                "show(pcall({t}.getstring, {t}, {off}{len}))",
                t = target(*mac)
            )
        }
        Op::SetString { mac, off, bytes } => {
            format!(
                "show(pcall({t}.setstring, {t}, {off}, \"{}\"))",
                lua_string(bytes),
                t = target(*mac)
            )
        }
    }
}

const SHOW: &str = r#"
local function show(ok, v)
    if not ok then
        print("false " .. (v:find("out of bounds", 1, true) and "out of bounds" or v:find("read-only", 1, true) and "read-only" or v))
    elseif v == nil then print("true")
    elseif type(v) == "string" then print("true " .. (v:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
    else print("true " .. v) end
end
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn accessors_match_the_model_and_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..64),
        head in prop::sample::select(vec![0usize, 14]),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        let head: Vec<u8> = (0..head as u8).map(|i| i.wrapping_mul(17)).collect();
        let calls: Vec<String> = ops.iter().map(lua_call).collect();
        let source = format!(
            "local netfilter = require('netfilter')\n{SHOW}\nnetfilter.register{{ pf = 2, hooknum = 1, hook = function(skb)\nlocal ok, mac = pcall(skb.data, skb, 'mac')\nif not ok then mac = skb end\n{}\nreturn 1\nend }}\n",
            calls.join("\n")
        );
        let s = common::script(&source);
        let st = State::load(&s.path, StateOptions::default()).unwrap();
        let out = st.run_netfilter(0, NfPacket { net: &body, link_header: &head, ifindex: 1, mark: 0, ..NfPacket::default() });
        prop_assert_eq!(out.error, None);

        let mut model_body = body.clone();
        let mut model_head = head.clone();
        let expected: Vec<String> = ops.iter().map(|o| model(o, &mut model_head, &mut model_body)).collect();
        let printed: Vec<String> = st.log().since(0).into_iter().map(|l| l.text).collect();
        prop_assert_eq!(printed, expected);
        // A write to the packet (not only its link-layer header) hands it back, with exactly
        // the model's bytes.
        match out.rewritten {
            Some(bytes) => prop_assert_eq!(bytes, model_body),
            None => prop_assert_eq!(model_body, body, "a write changed bytes but the packet was not handed back"),
        }
    }
}
