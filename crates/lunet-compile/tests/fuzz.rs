//! The compiler never panics and never fails inside: random token soup and mutated scripts
//! give `Ok` or a `Diagnostic` of kind `Unsupported`, never `Internal` (a compiler bug). And
//! (root only) random hooks from a small grammar that compile also pass the verifier and give
//! the Lua tier's verdicts on a set of packets.

mod common;

use lunet_compile::{compile, emit_ast, emit_ir, DiagKind, HookInput, Target};
use lunet_types::{FnRef, MapDecl, MapKind, MapRef, Value};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "local",
    "x",
    "y",
    "a",
    "b",
    "t",
    "s",
    "packet",
    "argument",
    "=",
    "==",
    "~=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "//",
    "%",
    "/",
    "^",
    "..",
    "&",
    "|",
    "~",
    "<<",
    ">>",
    "not",
    "and",
    "or",
    "#",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ":",
    ".",
    "...",
    "if",
    "then",
    "elseif",
    "else",
    "end",
    "while",
    "do",
    "for",
    "in",
    "repeat",
    "until",
    "return",
    "break",
    "function",
    "goto",
    "::l::",
    "nil",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "63",
    "64",
    "0x7fffffffffffffff",
    "1.5",
    "'x'",
    "\"ab\"",
    "[[c]]",
    ":getuint8(0)",
    ":getuint16(1)",
    ":getstring(0, 2)",
    ":setuint8(0, 1)",
    "byteorder.ntoh16",
    "pcall",
    "print",
    "t[1]",
    "s.x",
    "mp",
    "mp[1]",
    "mp[t]",
    "mw",
    "\n",
];

fn input(source: String, first: usize, last: usize) -> HookInput {
    HookInput {
        file: "fuzz.lua".into(),
        source,
        function: FnRef {
            line_defined: first,
            last_line_defined: last,
        },
        upvalues: vec![
            (
                "t".into(),
                Value::Table(vec![
                    (Value::Int(1), Value::Int(2)),
                    (Value::Str(b"x".to_vec()), Value::Bool(true)),
                ]),
            ),
            ("s".into(), Value::Str(b"x".to_vec())),
            (
                "byteorder".into(),
                Value::Table(vec![(
                    Value::Str(b"ntoh16".to_vec()),
                    Value::Builtin("byteorder.ntoh16".into()),
                )]),
            ),
            (
                "f".into(),
                Value::Function {
                    at: FnRef {
                        line_defined: 1,
                        last_line_defined: 1,
                    },
                    upvalues: vec![],
                },
            ),
            ("o".into(), Value::Opaque("userdata".into())),
            (
                "mp".into(),
                Value::Map(map("mp", "I4", "i8", MapKind::Hash)),
            ),
            (
                "mw".into(),
                Value::Map(map("mw", ">I2I2", "c4", MapKind::Array)),
            ),
            ("fl".into(), Value::Float(0.5)),
        ],
        target: Target::Xdp,
        default_verdict: 2,
    }
}

fn map(name: &str, key: &str, value: &str, kind: MapKind) -> MapRef {
    MapRef {
        id: name.len(),
        decl: MapDecl {
            name: name.into(),
            kind,
            key: common::map_layout(key),
            value: common::map_layout(value),
            entries: 4,
        },
    }
}

/// Every way in: each may refuse the hook (`Unsupported`), none may panic or fail inside
/// (`Internal`: a compiler bug).
fn all_passes(i: &HookInput) {
    let results = [
        compile(i).map(|_| ()),
        emit_ast(i).map(|_| ()),
        emit_ir(i).map(|_| ()),
    ];
    for d in results.into_iter().filter_map(Result::err) {
        assert_ne!(
            d.kind,
            DiagKind::Internal,
            "a compiler bug:\n{}\n--- source\n{}",
            d.render(&i.source),
            i.source
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn compile_never_panics_on_token_soup(words in proptest::collection::vec(0..WORDS.len(), 0..40)) {
        let body: Vec<&str> = words.iter().map(|&w| WORDS[w]).collect();
        let src = format!("local function f() return 1 end\nlocal function hook(packet, argument)\n{}\nend\n", body.join(" "));
        let last = src.lines().count();
        all_passes(&input(src.clone(), 2, last));
        all_passes(&input(src, 1, last));
    }

    #[test]
    fn compile_never_panics_on_mutated_scripts(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..WORDS.len(), 0u8..3), 1..6),
    ) {
        let names = ["dns.lua", "sni.lua", "port.lua", "arith.lua", "loop.lua", "values.lua"];
        let path = format!("{}/tests/golden/{}", env!("CARGO_MANIFEST_DIR"), names[which]);
        let mut src = std::fs::read_to_string(path).unwrap();
        for (at, w, kind) in edits {
            let mut i = at.index(src.len().max(1));
            while i > 0 && !src.is_char_boundary(i) { i -= 1; }
            match kind {
                0 => src.insert_str(i, WORDS[w]),
                1 => { let mut j = (i + 1 + w % 7).min(src.len()); while j < src.len() && !src.is_char_boundary(j) { j += 1; } src.replace_range(i..j, ""); }
                _ => { let mut j = (i + 3).min(src.len()); while j < src.len() && !src.is_char_boundary(j) { j += 1; } src.replace_range(i..j, WORDS[w]); }
            }
        }
        let n = src.lines().count().max(1);
        for first in [1, n / 3, n / 2] {
            for last in [n / 2, n.saturating_sub(3), n] {
                all_passes(&input(src.clone(), first.max(1), last.max(1)));
            }
        }
    }
}

/// A tiny grammar of hooks within the subset (and a little outside it).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn expr(&mut self, d: u32) -> String {
        if d == 0 || self.next() % 3 == 0 {
            return self
                .pick(&[
                    "a",
                    "b",
                    "c",
                    "1",
                    "0",
                    "-2",
                    "7",
                    "64",
                    "packet:getuint8(a % 8)",
                    "packet:getint16(3)",
                    "#packet",
                    "(m[a] or 0)",
                    "(h[a % 4] or 0)",
                    "(h[c] or -1)",
                    "byteorder.ntoh16(packet:getuint16(b & 7))",
                ])
                .to_string();
        }
        match self.next() % 8 {
            0 => format!("-({})", self.expr(d - 1)),
            1 => format!("~({})", self.expr(d - 1)),
            2 => format!(
                "({} and {} or {})",
                self.cond(d - 1),
                self.expr(d - 1),
                self.expr(d - 1)
            ),
            _ => {
                let op = self.pick(&["+", "-", "*", "//", "%", "&", "|", "~", "<<", ">>"]);
                format!("({} {op} {})", self.expr(d - 1), self.expr(d - 1))
            }
        }
    }
    fn cond(&mut self, d: u32) -> String {
        match self.next() % 6 {
            0 => format!("not {}", self.cond(d.saturating_sub(1))),
            1 if d > 0 => format!("({} and {})", self.cond(d - 1), self.cond(d - 1)),
            2 if d > 0 => format!("({} or {})", self.cond(d - 1), self.cond(d - 1)),
            3 => format!(
                "set[packet:getstring({}, {})]",
                self.pick(&["0", "a % 4", "1"]),
                self.pick(&["1", "2", "b % 3"])
            ),
            4 => format!("m[{}]", self.expr(0)),
            _ => {
                let op = self.pick(&["==", "~=", "<", "<=", ">", ">="]);
                format!("{} {op} {}", self.expr(d), self.expr(d))
            }
        }
    }
    fn block(&mut self, d: u32, n: usize) -> String {
        (0..n).map(|_| self.stmt(d)).collect::<Vec<_>>().join("\n")
    }
    fn stmt(&mut self, d: u32) -> String {
        match self.next() % 14 {
            11 => format!("h[{}] = {}", self.expr(0), self.expr(1)),
            12 => format!("h[{}] = nil", self.expr(0)),
            0 | 1 => format!("a = {}", self.expr(2)),
            2 => format!("b = {}", self.expr(2)),
            3 if d > 0 => format!(
                "if {} then\n{}\nelseif {} then\n{}\nelse\n{}\nend",
                self.cond(1),
                self.block(d - 1, 2),
                self.cond(1),
                self.block(d - 1, 1),
                self.block(d - 1, 1)
            ),
            4 if d > 0 => format!(
                "for i = 1, {} do\n{}\nc = c + i\nend",
                self.next() % 12,
                self.block(d - 1, 2)
            ),
            5 if d > 0 => format!(
                "if {} then return {} end",
                self.cond(1),
                self.pick(&["1", "2", "3", "a % 5", "nil", "c"])
            ),
            6 => format!(
                "packet:setuint8({}, {})",
                self.pick(&["0", "1", "a % 16"]),
                self.expr(1)
            ),
            7 => format!("c = bump(c, {})", self.expr(1)),
            // Bounded below too: a loop from a very negative `c` could outrun the Lua tier's
            // instruction budget but not the kernel's, where the tiers differ by design.
            8 if d > 0 => format!(
                "repeat\n{}\nc = c + 1\nuntil c > {} or c < -64",
                self.block(d - 1, 1),
                self.next() % 30
            ),
            9 => "local z = c\nc = z + 1".to_string(),
            _ => format!("c = c ~ {}", self.expr(1)),
        }
    }
}

#[test]
fn generated_hooks_verify_and_match_lua() {
    lunet_testkit::require_root!("bpf(2), to load and run the programs");
    let mut g = Gen(0x1234_5678_9abc_def1);
    let mut compiled = 0;
    let mut refused = 0;
    let mut packets_run = 0;
    let mut map_entries = 0;
    let mut out_of_budget = 0;
    let packets: Vec<Vec<u8>> = (0..8u8)
        .map(|k| {
            (0..48u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(k.wrapping_mul(91)))
                .collect()
        })
        .chain([vec![0u8; 14], vec![0xffu8; 20]])
        .collect();
    for n in 0..120 {
        let body = g.block(2, 4);
        let src = format!(
            "local xdp = require('xdp')\nlocal byteorder = require('byteorder')\nlocal map = require('bpf.map')\nlocal h = map.hash{{ key = 'i2', value = 'i4', entries = 6, name = 'h' }}\nlocal set = {{ ['ab'] = true, ['\\x25'] = true, [''] = true }}\nlocal m = {{ [1] = 5, [7] = -3, [64] = 2 }}\nlocal function bump(x, y) return x + (y & 3) end\nlocal function hook(packet)\nlocal a = packet:getuint8(0)\nlocal b = packet:getuint8(1)\nlocal c = 0\n{body}\nreturn c % 5\nend\nxdp.attach(hook, {{default = xdp.DROP}})\n"
        );
        let file = format!("gen{n}.lua");
        let (src, tools) = common::with_map_tools(&src, &["h"], 1);
        let inputs = common::hook_inputs(&file, &src);
        match common::compile_and_load(&inputs[0]) {
            Err(d) => {
                assert_eq!(d.kind, DiagKind::Unsupported, "{}\n{src}", d.render(&src));
                refused += 1;
            }
            Ok((p, k)) => {
                compiled += 1;
                let lua = common::LuaTier::new(&file, &src);
                let mut ran_out = false;
                for pkt in &packets {
                    let (kv, _) = k.run(pkt);
                    let (lv, _) = lua.run(0, pkt);
                    let why = if lua.ran_out() {
                        " (the Lua tier ran out of budget)"
                    } else {
                        ""
                    };
                    assert_eq!(kv, lv, "{file} on {pkt:?}{why}:\n{src}\n{}", p.asm(&src));
                    packets_run += 1;
                    // A loop that exhausts both tiers' budgets gives the default verdict in
                    // both, but each stops at another iteration: the maps may differ after.
                    if lua.ran_out() {
                        ran_out = true;
                        break;
                    }
                }
                if ran_out {
                    out_of_budget += 1;
                    continue;
                }
                let lua_h = &lua.dump_maps(&tools)[0];
                // A hook that never names `h` has no kernel map for it.
                let kernel_h = if k.maps.has("h") {
                    k.maps.dump("h")
                } else {
                    vec![]
                };
                assert_eq!(&kernel_h, lua_h, "{file}: map h differs:\n{src}");
                map_entries += lua_h.len();
            }
        }
    }
    eprintln!(
        "generated hooks: {compiled} compiled and matched on {packets_run} runs, {refused} refused, {map_entries} map entries compared, {out_of_budget} stopped on both tiers' loop budgets"
    );
    assert!(
        compiled > 60,
        "too few generated hooks compiled: {compiled}"
    );
}
