//! Pass `dce`: dead code removal. An instruction without side effects (a move, arithmetic, a
//! packet length or load) whose result no later instruction reads is removed, by a backward
//! walk of each block from what [`crate::liveness`] says is live out of it. Removing one may
//! make the instructions that fed it dead too: the pass repeats (at most 8 rounds).

use crate::error::CodegenError;
use crate::ir::{Inst, Ir};
use crate::liveness;

/// Whether `inst` only computes its result.
fn is_pure(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::Mov { .. }
            | Inst::Alu { .. }
            | Inst::Neg { .. }
            | Inst::Swap { .. }
            | Inst::Zext32 { .. }
            | Inst::PktLen { .. }
            | Inst::Load { .. }
    )
}

/// Removes instructions without side effects whose result nobody reads.
pub fn run(ir: &mut Ir) -> Result<(), CodegenError> {
    for _ in 0..8 {
        let live = liveness::analyze(ir)?;
        let mut keep = vec![true; ir.insts.len()];
        for (b, &(s, e)) in live.blocks.iter().enumerate() {
            let mut out = live.live_out[b].clone();
            for i in (s..e).rev() {
                let inst = &ir.insts[i].0;
                if let Some(d) = inst.def() {
                    if is_pure(inst) && !out.get(d as usize) {
                        keep[i] = false;
                        continue;
                    }
                    out.unset(d as usize);
                }
                for u in inst.uses() {
                    out.set(u as usize);
                }
            }
        }
        if keep.iter().all(|k| *k) {
            return Ok(());
        }
        ir.retain_marked(&keep);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, MapOp, Opnd, DATA};
    use crate::testing::{add, copy, insts, ir, mov, ret, ret_v};

    #[test]
    fn a_mov_nobody_reads_is_removed() {
        let mut p = ir(vec![mov(0, 1), mov(1, 2), ret_v(0)], 2);
        run(&mut p).unwrap();
        assert_eq!(insts(&p), [mov(0, 1), ret_v(0)]);
    }

    #[test]
    fn what_only_fed_dead_values_is_removed_too() {
        let mut p = ir(vec![mov(0, 1), copy(1, 0), add(1, Opnd::Imm(2)), ret(0)], 2);
        run(&mut p).unwrap();
        assert_eq!(insts(&p), [ret(0)]);
    }

    #[test]
    fn stores_and_helper_calls_stay_with_what_they_read() {
        let kept = vec![
            mov(0, 7),
            Inst::Store {
                ptr: DATA,
                off: 0,
                size: 1,
                src: Opnd::V(0),
            },
            // A lookup whose result nobody reads still calls the helper.
            Inst::MapCall {
                op: MapOp::Lookup,
                map: 0,
                key: Opnd::Imm(1),
                key_size: 4,
                value: None,
                dst: Some(1),
            },
            ret(2),
        ];
        let mut p = ir(kept.clone(), 2);
        run(&mut p).unwrap();
        assert_eq!(insts(&p), kept);
    }

    #[test]
    fn a_value_read_around_a_loop_stays() {
        let kept = vec![
            mov(0, 0),
            Inst::Label(1),
            add(0, Opnd::Imm(1)),
            Inst::Br {
                cond: Cond::Slt,
                a: 0,
                b: Opnd::Imm(10),
                target: 1,
                w32: false,
            },
            ret(2),
        ];
        let mut p = ir(kept.clone(), 1);
        run(&mut p).unwrap();
        assert_eq!(insts(&p), kept);
    }
}
