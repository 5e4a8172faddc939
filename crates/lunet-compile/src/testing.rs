//! Helpers for the passes' unit tests: small hooks as [`HookInput`]s, the IR a pass leaves,
//! and IR written by hand.

use lunet_types::{FnRef, Value};

use crate::hook::{HookInput, Options, Target};
use crate::ir::{AluOp, Inst, Ir, Opnd, VReg};
use crate::passes::{self, Stage};

/// `local function hook(packet, argument) <body> end` as the hook (lines 1 to the `end`), with
/// `upvalues`, default verdict 2 (`XDP_PASS`).
pub fn hook_with(body: &str, upvalues: Vec<(&str, Value)>) -> HookInput {
    let source = format!("local function hook(packet, argument)\n{body}\nend\n");
    let last = source.lines().count();
    HookInput {
        file: "test.lua".into(),
        source,
        function: FnRef {
            line_defined: 1,
            last_line_defined: last,
        },
        upvalues: upvalues
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect(),
        target: Target::Xdp,
        default_verdict: 2,
    }
}

/// A hook without upvalues.
pub fn hook(body: &str) -> HookInput {
    hook_with(body, vec![])
}

/// The IR the pass named `pass` leaves for `input`, with `options`.
pub fn ir_after_with(input: &HookInput, options: &Options, pass: &str) -> Ir {
    let last = passes::find(pass).unwrap_or_else(|| panic!("no pass {pass}"));
    match passes::run(input, options, Some(last)) {
        Ok(Stage::Ir(ir)) => ir,
        Ok(other) => panic!("pass {pass} left {other:?}, not IR"),
        Err(d) => panic!("{}", d.render(&input.source)),
    }
}

/// The IR the pass named `pass` leaves for `input`, with the default options.
pub fn ir_after(input: &HookInput, pass: &str) -> Ir {
    ir_after_with(input, &Options::default(), pass)
}

/// IR of `insts` (each on line `k + 1` for instruction `k`), with `nvregs` registers.
pub fn ir(insts: Vec<Inst>, nvregs: u32) -> Ir {
    let nlabels = insts
        .iter()
        .filter_map(|i| match i {
            Inst::Label(l) => Some(*l + 1),
            _ => i.target().map(|t| t + 1),
        })
        .max()
        .unwrap_or(0);
    Ir {
        insts: insts
            .into_iter()
            .enumerate()
            .map(|(k, i)| (i, k as u32 + 1))
            .collect(),
        nvregs,
        nlabels,
        first_line: 1,
        ..Default::default()
    }
}

/// The instructions of `ir`, without their lines.
pub fn insts(ir: &Ir) -> Vec<Inst> {
    ir.insts.iter().map(|(i, _)| i.clone()).collect()
}

/// The instructions of `ir` as text, one a line (labels too), without line comments.
pub fn text(ir: &Ir) -> Vec<String> {
    ir.insts.iter().map(|(i, _)| i.to_string()).collect()
}

/// `dst = k`.
pub fn mov(dst: VReg, k: i64) -> Inst {
    Inst::Mov {
        dst,
        src: Opnd::Imm(k),
    }
}

/// `dst = src`.
pub fn copy(dst: VReg, src: VReg) -> Inst {
    Inst::Mov {
        dst,
        src: Opnd::V(src),
    }
}

/// `dst += src`.
pub fn add(dst: VReg, src: Opnd) -> Inst {
    Inst::Alu {
        op: AluOp::Add,
        dst,
        src,
    }
}

/// `return k`.
pub fn ret(k: i64) -> Inst {
    Inst::Ret { src: Opnd::Imm(k) }
}

/// `return v`.
pub fn ret_v(v: VReg) -> Inst {
    Inst::Ret { src: Opnd::V(v) }
}
