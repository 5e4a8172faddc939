//! Pass `emit`: IR and an allocation in, eBPF instructions and their Lua lines out.

use lunet_bpf::insn::{op, reg::*, Insn};

use super::emit;
use crate::ir::{Cond, Inst, MapOp, Opnd};
use crate::regalloc::{allocate, Alloc, Loc};
use crate::testing::{add, hook, ir, mov, ret, ret_v};

/// The two prologue loads: `r9 = ctx->data`, `r8 = ctx->data_end`.
const PROLOGUE: [Insn; 2] = [Insn::ldx(op::W, R9, R1, 0), Insn::ldx(op::W, R8, R1, 4)];

#[test]
fn every_instruction_gets_the_line_of_its_ir_instruction() {
    // Instruction k of the IR is on Lua line k + 1; the prologue is on the hook's first line.
    let p = ir(
        vec![mov(0, 1), mov(1, 1 << 40), add(0, Opnd::V(1)), ret_v(0)],
        2,
    );
    let alloc = allocate(&p).unwrap();
    let prog = emit(&p, &alloc, &hook("return 2")).unwrap();
    assert_eq!(prog.insns.len(), prog.lines.len());
    // Both slots of the ld_imm64 of line 2 get line 2; `return` is a mov and an exit.
    assert_eq!(prog.lines, [1, 1, 1, 2, 2, 3, 4, 4]);
    assert_eq!(&prog.insns[..2], &PROLOGUE);
    assert_eq!(prog.insns[7], Insn::exit());
}

#[test]
fn a_jump_lands_on_the_instruction_after_its_label() {
    let p = ir(
        vec![
            mov(0, 1),
            Inst::Br {
                cond: Cond::Eq,
                a: 0,
                b: Opnd::Imm(0),
                target: 1,
                w32: false,
            },
            ret(1),
            Inst::Label(1),
            ret(2),
        ],
        1,
    );
    let alloc = allocate(&p).unwrap();
    let prog = emit(&p, &alloc, &hook("return 2")).unwrap();
    // 2: r = 1; 3: if r == 0 goto 6; 4: r0 = 1; 5: exit; 6: r0 = 2; 7: exit.
    assert_eq!(prog.insns[3].code, op::JMP | op::JEQ | op::K);
    assert_eq!(prog.insns[3].off, 2);
    assert_eq!(prog.insns[6], Insn::mov64_imm(R0, 2));
}

#[test]
fn a_spilled_value_goes_through_a_scratch_register_and_back_to_its_slot() {
    let p = ir(vec![mov(0, 5), add(0, Opnd::Imm(1)), ret_v(0)], 1);
    let alloc = Alloc {
        locs: vec![Some(Loc::Slot(0))],
        slots: 1,
        spilled: 1,
    };
    let prog = emit(&p, &alloc, &hook("return 2")).unwrap();
    assert_eq!(
        prog.insns[2..],
        [
            Insn::mov64_imm(R0, 5),
            Insn::stx(op::DW, R10, -8, R0),
            Insn::ldx(op::DW, R0, R10, -8),
            Insn::alu64_imm(op::ADD, R0, 1),
            Insn::stx(op::DW, R10, -8, R0),
            Insn::ldx(op::DW, R0, R10, -8),
            Insn::exit(),
        ]
    );
    assert_eq!(prog.stack_size, 8);
}

#[test]
fn a_map_call_records_the_load_to_patch() {
    let p = ir(
        vec![
            Inst::MapCall {
                op: MapOp::Lookup,
                map: 3,
                key: Opnd::Imm(9),
                key_size: 4,
                value: None,
                dst: Some(0),
            },
            ret_v(0),
        ],
        1,
    );
    let alloc = allocate(&p).unwrap();
    let prog = emit(&p, &alloc, &hook("return 2")).unwrap();
    assert_eq!(prog.maps.len(), 1);
    let at = prog.maps[0].insn;
    assert_eq!(prog.maps[0].map_id, 3);
    assert_eq!(&prog.insns[at..at + 2], &Insn::ld_map_fd(R1, -1));
    // The key buffer and the value buffer below the (no) spill slots.
    assert_eq!(prog.stack_size, 16);
}

#[test]
fn more_than_512_bytes_of_stack_is_an_error() {
    let p = ir(
        vec![
            Inst::MapCall {
                op: MapOp::Delete,
                map: 0,
                key: Opnd::Imm(1),
                key_size: 4,
                value: None,
                dst: None,
            },
            ret(2),
        ],
        0,
    );
    // 64 spill slots and the two map buffers: 528 bytes.
    let alloc = Alloc {
        locs: vec![],
        slots: 64,
        spilled: 0,
    };
    let e = emit(&p, &alloc, &hook("return 2")).unwrap_err();
    assert!(e.to_string().contains("528 bytes"), "{e}");
}

#[test]
fn a_jump_to_a_label_never_placed_is_an_error() {
    let p = ir(vec![Inst::Jmp { target: 7 }], 0);
    let e = emit(&p, &Alloc::default(), &hook("return 2")).unwrap_err();
    assert!(e.to_string().contains("L7"), "{e}");
}
