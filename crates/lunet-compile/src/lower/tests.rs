//! Pass `lower`: small hooks in, the IR it makes (before any clean-up) out.

use lunet_types::{Layout, MapDecl, MapKind, MapRef, Value};

use crate::ir::{Inst, MapOp, Opnd, DATA};
use crate::testing::{hook, hook_with, insts, ir_after, ir_after_with, text};
use crate::{compile, DiagKind, LoopBound, Options};

fn lowered(body: &str) -> Vec<String> {
    text(&ir_after(&hook(body), "lower"))
}

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_packet_load_is_a_bounds_check_then_the_load() {
    let ir = insts(&ir_after(
        &hook("if packet:getuint16(3) == 1 then return 1 end\nreturn 2"),
        "lower",
    ));
    let at = ir
        .iter()
        .position(|i| {
            matches!(
                i,
                Inst::PktCheck {
                    ptr: DATA,
                    end: Opnd::Imm(5),
                    ..
                }
            )
        })
        .expect("a check of data + 5");
    assert!(
        matches!(
            ir[at + 1],
            Inst::Load {
                ptr: DATA,
                off: 3,
                size: 2,
                signed: false,
                ..
            }
        ),
        "{ir:?}"
    );
}

#[test]
fn a_runtime_error_jumps_to_the_default_verdict() {
    let mut input = hook("return packet:getuint8(0) // 0");
    input.default_verdict = 1;
    let lines = text(&ir_after(&input, "lower"));
    // The division by zero is a jump to the one exit, which gives the default verdict.
    assert_eq!(count(&lines, "return"), 1, "{lines:#?}");
    assert!(lines.contains(&"return 1".to_string()), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("/=")), "{lines:#?}");
}

#[test]
fn floor_division_and_modulo_by_a_constant_correct_negative_dividends() {
    let lines = lowered("local a = packet:getint8(0)\nreturn (a // 3 + a % 3) & 3");
    // Each divides on both paths: as is when a >= 0, complemented when a < 0.
    assert_eq!(count(&lines, "/=u 3"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "%=u 3"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "Slt 0 goto"), 2, "{lines:#?}");
    // floor(a / 3) = ~(~a /u 3) and a % 3 = 2 - (~a %u 3) for negative a.
    assert_eq!(count(&lines, "^= -1"), 3, "{lines:#?}");
    assert_eq!(count(&lines, "+= 2"), 1, "{lines:#?}");
}

#[test]
fn a_power_of_two_divides_by_a_shift_and_takes_modulo_by_a_mask() {
    let lines = lowered("local a = packet:getint8(0)\nreturn (a // 8 + a % 8) & 3");
    assert_eq!(count(&lines, "s>>= 3"), 1, "{lines:#?}");
    assert_eq!(count(&lines, "&= 7"), 1, "{lines:#?}");
    assert_eq!(count(&lines, "/=u"), 0, "{lines:#?}");
}

#[test]
fn constants_fold() {
    assert_eq!(
        lowered("return (7 // -2) % 4 + (1 << 70)"),
        // -4 % 4 = 0, and shifts of 64 or more give 0: the verdict 0 is known, and nothing
        // jumps to the default verdict's exit (its label stays, for clean-up to drop).
        ["return 0", "L0:"]
    );
}

#[test]
fn a_loop_without_a_constant_trip_count_is_bounded_as_the_options_say() {
    let body = "local i = 0\nwhile i < packet:getuint8(0) do i = i + 1 end\nreturn 2";
    let may_goto = text(&ir_after(&hook(body), "lower"));
    assert_eq!(count(&may_goto, "may_goto"), 1, "{may_goto:#?}");
    let counter = text(&ir_after_with(
        &hook(body),
        &Options {
            loop_bound: LoopBound::Counter,
        },
        "lower",
    ));
    assert_eq!(count(&counter, "may_goto"), 0, "{counter:#?}");
    assert_eq!(count(&counter, "Sgt 1024 goto L0"), 1, "{counter:#?}");
}

#[test]
fn a_small_constant_trip_count_needs_no_bound() {
    let lines = lowered("local s = 0\nfor i = 1, 4 do s = s + i end\nreturn s & 3");
    assert_eq!(count(&lines, "may_goto"), 0, "{lines:#?}");
    assert_eq!(count(&lines, "1024"), 0, "{lines:#?}");
}

#[test]
fn recursion_is_refused_and_named() {
    let d = compile(&hook(
        "local function f(x) return f(x) end\nreturn f(packet:getuint8(0))",
    ))
    .unwrap_err();
    assert_eq!(d.kind, DiagKind::Unsupported);
    assert_eq!(d.construct, "recursion", "{d}");
}

#[test]
fn a_local_function_is_inlined_at_each_call() {
    let lines = lowered(
        "local function inc(x) return x + 5 end\nreturn (inc(packet:getuint8(0)) + inc(1)) & 3",
    );
    // The call with a run-time argument adds in place; the constant one folds to 6.
    assert_eq!(count(&lines, "+= 5"), 1, "{lines:#?}");
    assert_eq!(count(&lines, "+= 6"), 1, "{lines:#?}");
}

#[test]
fn a_constant_table_indexed_by_a_constant_folds() {
    let t = Value::Table(vec![(Value::Int(1), Value::Int(3))]);
    let lines = text(&ir_after(
        &hook_with("return t[1]", vec![("t", t)]),
        "lower",
    ));
    assert_eq!(lines, ["return 3", "L0:"]);
}

#[test]
fn a_map_lookup_is_a_helper_call_with_the_key_packed_as_its_layout() {
    let m = MapRef {
        id: 0,
        decl: MapDecl {
            name: "m".into(),
            kind: MapKind::Hash,
            key: Layout::parse(">I2").unwrap(),
            value: Layout::parse("I4").unwrap(),
            entries: 8,
        },
    };
    let ir = insts(&ir_after(
        &hook_with(
            "return (m[packet:getuint16(0)] or 0) & 3",
            vec![("m", Value::Map(m))],
        ),
        "lower",
    ));
    let call = ir
        .iter()
        .position(|i| {
            matches!(
                i,
                Inst::MapCall {
                    op: MapOp::Lookup,
                    map: 0,
                    key_size: 2,
                    value: None,
                    ..
                }
            )
        })
        .expect("a lookup");
    // The big-endian key is swapped into the buffer's byte order just before.
    assert!(
        ir[..call]
            .iter()
            .any(|i| matches!(i, Inst::Swap { bits: 16, .. })),
        "{ir:?}"
    );
}

#[test]
fn paths_that_meet_with_values_of_different_kinds_are_refused() {
    let d = compile(&hook(
        "local x = 1\nif packet:getuint8(0) == 1 then x = true end\nreturn 2",
    ))
    .unwrap_err();
    assert_eq!(d.construct, "a join of values", "{d}");
    assert!(d.message.contains("a boolean or an integer"), "{d}");
}
