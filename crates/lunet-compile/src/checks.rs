//! Pass `checks`: packet bounds checks that other checks imply.
//!
//! Within a basic block (straight-line code: nothing leaves it but a failing check) the first
//! check of a pointer is widened to the largest constant end any later check of the same
//! pointer asks for, before the pointer is redefined: if a later check would fail, the hook
//! gives its default verdict either way. Then a forward data flow over the blocks removes
//! every check whose end a check on each path to it already covered. The verifier tracks the
//! same facts (a packet pointer's `range`), so the remaining accesses still verify.
//!
//! Widening stops at a helper call: a map update or a `print` before a later failing check
//! happens in the Lua tier too (its error comes after), so the check may not move above it.

use std::collections::BTreeMap;

use crate::ir::{self, Inst, Ir, Opnd, VReg};

type Facts = BTreeMap<VReg, i64>;

pub fn elide(ir: &mut Ir) {
    widen_in_blocks(ir);
    remove_implied(ir);
}

fn widen_in_blocks(ir: &mut Ir) {
    let n = ir.insts.len();
    let region_end = |insts: &[(Inst, u32)], i: usize| {
        let mut j = i + 1;
        while j < n {
            match insts[j].0 {
                Inst::Label(_) | Inst::Jmp { .. } | Inst::Br { .. } | Inst::Ret { .. } => break,
                ref call if call.is_call() => break,
                _ => j += 1,
            }
        }
        j
    };
    for i in 0..n {
        let (ptr, end) = match ir.insts[i].0 {
            Inst::PktCheck {
                ptr,
                end: Opnd::Imm(end),
                ..
            } => (ptr, end),
            _ => continue,
        };
        let mut max = end;
        for j in i + 1..region_end(&ir.insts, i) {
            match &ir.insts[j].0 {
                Inst::PktCheck {
                    ptr: p,
                    end: Opnd::Imm(k),
                    ..
                } if *p == ptr => max = max.max(*k),
                inst if inst.def() == Some(ptr) => break,
                _ => {}
            }
        }
        if let Inst::PktCheck { end, .. } = &mut ir.insts[i].0 {
            *end = Opnd::Imm(max);
        }
    }
}

fn transfer(
    insts: &[(Inst, u32)],
    s: usize,
    e: usize,
    facts: &mut Facts,
    mut drop: Option<&mut Vec<usize>>,
) {
    for (i, (inst, _)) in insts.iter().enumerate().take(e).skip(s) {
        match inst {
            Inst::PktCheck {
                ptr,
                end: Opnd::Imm(end),
                ..
            } => {
                if facts.get(ptr).is_some_and(|k| k >= end) {
                    if let Some(d) = drop.as_deref_mut() {
                        d.push(i);
                    }
                } else {
                    facts.insert(*ptr, *end);
                }
            }
            // Map helpers leave packet pointers alone (they do not change packet data), and
            // the pointers live in callee-saved registers or stack slots across the call.
            Inst::Call { .. } => facts.clear(),
            other => {
                if let Some(d) = other.def() {
                    facts.remove(&d);
                }
            }
        }
    }
}

fn meet(a: &Facts, b: &Facts) -> Facts {
    a.iter()
        .filter_map(|(k, v)| b.get(k).map(|w| (*k, (*v).min(*w))))
        .collect()
}

/// What holds on entry to block `b`: what holds at the end of every predecessor reached so
/// far (`None` while none is); nothing at the program's entry.
fn facts_in(b: usize, preds: &[usize], out: &[Option<Facts>]) -> Option<Facts> {
    let mut inp: Option<Facts> = if b == 0 { Some(Facts::new()) } else { None };
    for &p in preds {
        if let Some(o) = &out[p] {
            inp = Some(match inp {
                None => o.clone(),
                Some(f) => meet(&f, o),
            });
        }
    }
    inp
}

fn remove_implied(ir: &mut Ir) {
    let (ranges, succ) = ir::blocks(&ir.insts);
    let n = ranges.len();
    if n == 0 {
        return;
    }
    let mut preds = vec![Vec::new(); n];
    for (b, ss) in succ.iter().enumerate() {
        for &t in ss {
            preds[t].push(b);
        }
    }
    let mut out: Vec<Option<Facts>> = vec![None; n];
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds < 1000 {
        changed = false;
        rounds += 1;
        for b in 0..n {
            let Some(mut facts) = facts_in(b, &preds[b], &out) else {
                continue;
            };
            transfer(&ir.insts, ranges[b].0, ranges[b].1, &mut facts, None);
            if out[b].as_ref() != Some(&facts) {
                out[b] = Some(facts);
                changed = true;
            }
        }
    }
    let mut drop = Vec::new();
    for b in 0..n {
        if let Some(mut facts) = facts_in(b, &preds[b], &out) {
            transfer(
                &ir.insts,
                ranges[b].0,
                ranges[b].1,
                &mut facts,
                Some(&mut drop),
            );
        }
    }
    let mut keep = vec![true; ir.insts.len()];
    for i in drop {
        keep[i] = false;
    }
    ir.retain_marked(&keep);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, Label, MapOp, DATA};
    use crate::testing::{insts, ir, ret, ret_v};

    fn check(end: i64) -> Inst {
        Inst::PktCheck {
            ptr: DATA,
            end: Opnd::Imm(end),
            fail: 0,
        }
    }

    fn load(dst: VReg, off: i16) -> Inst {
        Inst::Load {
            dst,
            ptr: DATA,
            off,
            size: 1,
            signed: false,
        }
    }

    fn br(a: VReg, target: Label) -> Inst {
        Inst::Br {
            cond: Cond::Eq,
            a,
            b: Opnd::Imm(0),
            target,
            w32: false,
        }
    }

    /// The ends of the packet checks left, in order.
    fn ends(p: &Ir) -> Vec<i64> {
        p.insts
            .iter()
            .filter_map(|(i, _)| match i {
                Inst::PktCheck {
                    end: Opnd::Imm(k), ..
                } => Some(*k),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_later_check_in_the_block_widens_the_first_and_goes() {
        let mut p = ir(
            vec![
                check(4),
                load(0, 3),
                check(8),
                load(1, 7),
                ret_v(1),
                Inst::Label(0),
                ret(2),
            ],
            2,
        );
        elide(&mut p);
        assert_eq!(ends(&p), [8]);
        assert_eq!(insts(&p)[0], check(8));
    }

    #[test]
    fn a_check_on_every_path_removes_the_checks_it_dominates() {
        let mut p = ir(
            vec![
                check(8),
                load(0, 0),
                br(0, 1),
                check(4),
                ret(1),
                Inst::Label(1),
                check(6),
                ret(3),
                Inst::Label(0),
                ret(2),
            ],
            1,
        );
        elide(&mut p);
        assert_eq!(ends(&p), [8]);
    }

    #[test]
    fn a_check_on_one_path_only_leaves_the_later_check() {
        let mut p = ir(
            vec![
                load(0, 0),
                br(0, 1),
                check(8),
                Inst::Jmp { target: 2 },
                Inst::Label(1),
                Inst::Label(2),
                check(4),
                ret(1),
                Inst::Label(0),
                ret(2),
            ],
            1,
        );
        elide(&mut p);
        assert_eq!(ends(&p), [8, 4]);
    }

    #[test]
    fn a_check_is_not_widened_above_a_helper_call() {
        // A map update before a failing access happens in the Lua tier too.
        let mut p = ir(
            vec![
                check(4),
                Inst::MapCall {
                    op: MapOp::Delete,
                    map: 0,
                    key: Opnd::Imm(1),
                    key_size: 4,
                    value: None,
                    dst: None,
                },
                check(8),
                ret(1),
                Inst::Label(0),
                ret(2),
            ],
            0,
        );
        elide(&mut p);
        assert_eq!(ends(&p), [4, 8]);
    }

    #[test]
    fn a_redefined_pointer_needs_its_own_check() {
        let ptr = |dst| Inst::PktPtr {
            dst,
            off: 0,
            fail: 0,
        };
        let check_of = |ptr, end| Inst::PktCheck {
            ptr,
            end: Opnd::Imm(end),
            fail: 0,
        };
        let mut p = ir(
            vec![
                load(0, 0),
                ptr(1),
                check_of(1, 8),
                ptr(1),
                check_of(1, 4),
                ret(1),
                Inst::Label(0),
                ret(2),
            ],
            2,
        );
        elide(&mut p);
        assert_eq!(ends(&p), [8, 4]);
    }
}
