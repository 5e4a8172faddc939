//! Passes `cleanup` and `cleanup-again`: remove unreachable instructions (the verifier
//! refuses them), thread jumps to jumps (and jumps to a `return` become the `return`), drop
//! jumps to the next instruction. Repeats until nothing changes. Runs after lowering, again
//! after [`crate::checks`] removed checks, and in the emitter after register allocation made
//! some copies free.

use std::collections::HashMap;

use crate::ir::{Inst, Ir, Label};

/// Cleans `ir` up (see the module's doc).
pub fn run(ir: &mut Ir) {
    for _ in 0..16 {
        let mut changed = thread_jumps(ir);
        changed |= drop_jumps_to_next(ir);
        changed |= drop_unreachable(ir);
        if !changed {
            break;
        }
    }
}

fn label_positions(insts: &[(Inst, u32)]) -> HashMap<Label, usize> {
    insts
        .iter()
        .enumerate()
        .filter_map(|(i, (inst, _))| match inst {
            Inst::Label(l) => Some((*l, i)),
            _ => None,
        })
        .collect()
}

/// The first non-label instruction at or after `i`.
fn first_real(insts: &[(Inst, u32)], mut i: usize) -> Option<usize> {
    while i < insts.len() {
        if !matches!(insts[i].0, Inst::Label(_)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn thread_jumps(ir: &mut Ir) -> bool {
    let pos = label_positions(&ir.insts);
    // Where a jump to each label really goes: follow chains of unconditional jumps.
    let resolve = |mut l: Label| {
        for _ in 0..64 {
            let Some(&p) = pos.get(&l) else { return l };
            match first_real(&ir.insts, p).map(|i| &ir.insts[i].0) {
                Some(Inst::Jmp { target }) if *target != l => l = *target,
                _ => return l,
            }
        }
        l
    };
    let mut new = Vec::new();
    for (i, (inst, _)) in ir.insts.iter().enumerate() {
        if let Some(t) = inst.target() {
            let r = resolve(t);
            if r != t {
                new.push((i, r));
            }
        }
    }
    let mut changed = !new.is_empty();
    for (i, r) in new {
        if let Some(t) = ir.insts[i].0.target_mut() {
            *t = r;
        }
    }
    // A jump to a `return`: copy the return (it is one instruction either way, and the
    // code after the jump's block may then become unreachable).
    for i in 0..ir.insts.len() {
        if let Inst::Jmp { target } = ir.insts[i].0 {
            if let Some(&p) = pos.get(&target) {
                if let Some(j) = first_real(&ir.insts, p) {
                    if let Inst::Ret { src } = ir.insts[j].0 {
                        ir.insts[i].0 = Inst::Ret { src };
                        changed = true;
                    }
                }
            }
        }
    }
    changed
}

fn drop_jumps_to_next(ir: &mut Ir) -> bool {
    let mut keep = vec![true; ir.insts.len()];
    for (i, (inst, _)) in ir.insts.iter().enumerate() {
        let t = match inst {
            Inst::Jmp { target } | Inst::Br { target, .. } => *target,
            _ => continue,
        };
        // Only labels between the jump and its target.
        let mut j = i + 1;
        while j < ir.insts.len() {
            match ir.insts[j].0 {
                Inst::Label(l) if l == t => {
                    keep[i] = false;
                    break;
                }
                Inst::Label(_) => j += 1,
                _ => break,
            }
        }
    }
    let changed = keep.iter().any(|k| !k);
    ir.retain_marked(&keep);
    changed
}

fn drop_unreachable(ir: &mut Ir) -> bool {
    let pos = label_positions(&ir.insts);
    let n = ir.insts.len();
    let mut seen = vec![false; n];
    let mut work = vec![0usize];
    while let Some(mut i) = work.pop() {
        while i < n && !seen[i] {
            seen[i] = true;
            let inst = &ir.insts[i].0;
            if let Some(t) = inst.target() {
                if let Some(&p) = pos.get(&t) {
                    work.push(p);
                }
            }
            if inst.ends_flow() {
                break;
            }
            i += 1;
        }
    }
    let changed = seen.iter().any(|s| !s);
    ir.retain_marked(&seen);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, Opnd};
    use crate::testing::{insts, ir, mov, ret, ret_v};

    fn br(a: u32, target: Label) -> Inst {
        Inst::Br {
            cond: Cond::Eq,
            a,
            b: Opnd::Imm(0),
            target,
            w32: false,
        }
    }

    #[test]
    fn code_no_path_reaches_is_dropped() {
        let mut p = ir(
            vec![
                mov(0, 1),
                ret_v(0),
                // After a return, and under a label nothing jumps to.
                mov(1, 2),
                Inst::Label(5),
                ret(3),
            ],
            2,
        );
        run(&mut p);
        assert_eq!(
            insts(&p),
            [
                Inst::Mov {
                    dst: 0,
                    src: Opnd::Imm(1)
                },
                ret_v(0)
            ]
        );
    }

    #[test]
    fn a_jump_to_a_jump_goes_to_where_the_second_goes() {
        let mut p = ir(
            vec![
                br(0, 1),
                ret(1),
                Inst::Label(1),
                Inst::Jmp { target: 2 },
                Inst::Label(2),
                ret(2),
            ],
            1,
        );
        run(&mut p);
        // The branch now targets L2; L1 and its jump, reached by nothing, are gone.
        assert_eq!(insts(&p), [br(0, 2), ret(1), Inst::Label(2), ret(2)]);
    }

    #[test]
    fn a_jump_to_a_return_becomes_the_return() {
        let mut p = ir(
            vec![
                br(0, 1),
                Inst::Jmp { target: 2 },
                Inst::Label(1),
                ret(1),
                Inst::Label(2),
                ret(2),
            ],
            1,
        );
        run(&mut p);
        assert_eq!(insts(&p), [br(0, 1), ret(2), Inst::Label(1), ret(1)]);
    }

    #[test]
    fn a_jump_to_the_next_instruction_is_dropped() {
        let mut p = ir(vec![br(0, 1), Inst::Label(1), ret_v(0)], 1);
        run(&mut p);
        assert_eq!(insts(&p), [Inst::Label(1), ret_v(0)]);
    }
}
