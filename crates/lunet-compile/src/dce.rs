//! Pass `dce`: dead code removal. An instruction without side effects (a move, arithmetic, a
//! packet length or load) whose result no later instruction reads is removed, by a backward
//! walk of each block from what [`crate::liveness`] says is live out of it. Removing one may
//! make the instructions that fed it dead too: the pass repeats (at most 8 rounds).

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
pub fn run(ir: &mut Ir) -> Result<(), String> {
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
