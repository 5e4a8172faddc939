//! Pass `regalloc`: register allocation. Linear scan over the live intervals of
//! [`crate::liveness`], `r2`-`r7` allocatable ([`crate::regset`]), with a spill to an 8-byte
//! stack slot when no register is free (Winch's shape: a small allocator that spills the
//! value needed furthest away). A value live across a helper call (which clobbers `r0`-`r5`)
//! gets `r6`/`r7` or a slot; a copy prefers its source's register, so it costs nothing.

use crate::error::CodegenError;
use crate::ir::{Inst, Ir, VReg};
use crate::liveness::intervals;
use crate::regset::{ALLOCATABLE, CALLEE_SAVED};

/// Where a virtual register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    Reg(u8),
    /// Stack slot `k`: `*(u64 *)(r10 - 8 * (k + 1))`.
    Slot(u16),
}

#[derive(Clone, Debug, Default)]
pub struct Alloc {
    /// By virtual register; `None` for registers no reachable instruction mentions.
    pub locs: Vec<Option<Loc>>,
    pub slots: usize,
    pub spilled: usize,
}

impl Alloc {
    pub fn loc(&self, v: VReg) -> Option<Loc> {
        self.locs.get(v as usize).copied().flatten()
    }
}

/// The most stack slots one program may use (512 bytes).
pub const MAX_SLOTS: usize = 64;

pub fn allocate(ir: &Ir) -> Result<Alloc, CodegenError> {
    let iv = intervals(ir)?;
    let n = iv.len();
    // Copies prefer their source's register.
    let mut hint: Vec<Option<VReg>> = vec![None; n];
    let mut calls = Vec::new();
    for (i, (inst, _)) in ir.insts.iter().enumerate() {
        match inst {
            Inst::Mov {
                dst,
                src: crate::ir::Opnd::V(s),
            } if (*dst as usize) < n => {
                hint[*dst as usize] = Some(*s);
            }
            inst if inst.is_call() => calls.push(2 * i),
            _ => {}
        }
    }
    let mut order: Vec<(usize, usize, VReg)> = iv
        .iter()
        .enumerate()
        .filter_map(|(v, r)| r.map(|(s, e)| (s, e, v as VReg)))
        .collect();
    order.sort();
    let mut locs: Vec<Option<Loc>> = vec![None; n];
    let mut free = ALLOCATABLE;
    // (end, vreg) of values in registers, and of values in slots.
    let mut active: Vec<(usize, VReg)> = Vec::new();
    let mut active_slots: Vec<(usize, u16)> = Vec::new();
    let mut free_slots: Vec<u16> = Vec::new();
    let mut nslots = 0usize;
    let mut spilled = 0usize;
    // A value lives in one place for its whole interval, so a slot may take a value from
    // `from` (its interval's start) only if the slot's last value ended before: a value spilled
    // as a victim started before now, and a slot freed since may have been in use then.
    let mut slot_end: Vec<usize> = Vec::new();
    let mut new_slot = |free_slots: &mut Vec<u16>,
                        nslots: &mut usize,
                        from: usize,
                        to: usize|
     -> Result<u16, CodegenError> {
        if let Some(i) = free_slots
            .iter()
            .rposition(|&k| slot_end[k as usize] < from)
        {
            let k = free_slots.remove(i);
            slot_end[k as usize] = to;
            return Ok(k);
        }
        if *nslots >= MAX_SLOTS {
            return Err(CodegenError::OutOfSlots { slots: MAX_SLOTS });
        }
        *nslots += 1;
        slot_end.push(to);
        Ok((*nslots - 1) as u16)
    };
    for (s, e, v) in order {
        // Expire values that ended before this one starts.
        active.retain(|&(end, a)| {
            if end < s {
                if let Some(Loc::Reg(r)) = locs[a as usize] {
                    free.free(r);
                }
                false
            } else {
                true
            }
        });
        active_slots.retain(|&(end, k)| {
            if end < s {
                free_slots.push(k);
                false
            } else {
                true
            }
        });
        let crosses_call = calls.iter().any(|&c| s < c && e > c);
        let allowed = if crosses_call {
            ALLOCATABLE.intersect(CALLEE_SAVED)
        } else {
            ALLOCATABLE
        };
        let hinted = hint[v as usize]
            .and_then(|h| locs.get(h as usize).copied().flatten())
            .and_then(|l| match l {
                Loc::Reg(r) if allowed.contains(r) && free.contains(r) => Some(r),
                _ => None,
            });
        let reg = match hinted {
            Some(r) => {
                free.take(r);
                Some(r)
            }
            None => free.take_any(allowed),
        };
        if let Some(r) = reg {
            locs[v as usize] = Some(Loc::Reg(r));
            active.push((e, v));
            continue;
        }
        // Spill whichever value (this one or an active one in an allowed register) ends last.
        let victim = active
            .iter()
            .enumerate()
            .filter(
                |(_, (_, a))| matches!(locs[*a as usize], Some(Loc::Reg(r)) if allowed.contains(r)),
            )
            .max_by_key(|(_, (end, _))| *end)
            .map(|(i, &(end, a))| (i, end, a));
        match victim {
            Some((i, end, a)) if end > e => {
                let Some(Loc::Reg(r)) = locs[a as usize] else {
                    return Err(CodegenError::SpillNotInRegister);
                };
                let from = iv[a as usize].map(|(s, _)| s).unwrap_or(0);
                let k = new_slot(&mut free_slots, &mut nslots, from, end)?;
                locs[a as usize] = Some(Loc::Slot(k));
                active_slots.push((end, k));
                active.remove(i);
                locs[v as usize] = Some(Loc::Reg(r));
                active.push((e, v));
            }
            _ => {
                let k = new_slot(&mut free_slots, &mut nslots, s, e)?;
                locs[v as usize] = Some(Loc::Slot(k));
                active_slots.push((e, k));
            }
        }
        spilled += 1;
    }
    Ok(Alloc {
        locs,
        slots: nslots,
        spilled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Opnd;
    use crate::testing::{add, copy, ir, mov, ret_v};

    /// `v0 = 0; ...; v{n-1} = n - 1`, then `v0 += v1 + ... + v{n-1}` (all live at once), with
    /// a helper call between the two halves when `call`.
    fn all_live(n: u32, call: bool) -> Ir {
        let mut insts: Vec<Inst> = (0..n).map(|v| mov(v, v as i64)).collect();
        if call {
            insts.push(Inst::Call { helper: 7 });
        }
        for v in 1..n {
            insts.push(add(0, Opnd::V(v)));
        }
        insts.push(ret_v(0));
        ir(insts, n)
    }

    #[test]
    fn a_copy_shares_its_dying_source_register() {
        let p = ir(
            vec![mov(0, 1), copy(1, 0), add(1, Opnd::Imm(2)), ret_v(1)],
            2,
        );
        let a = allocate(&p).unwrap();
        assert_eq!(a.loc(0), a.loc(1));
        assert_eq!(a.slots, 0);
    }

    #[test]
    fn a_value_spilled_late_never_shares_a_slot_with_one_it_overlapped() {
        // v0 is spilled first (slot 0) and ends at 14; v7, in a register since 8, is spilled
        // at 20, after slot 0 came free: v7 lives in its slot from 8 on, so slot 0 (v0's
        // until 14) would have both at once.
        let mut insts: Vec<Inst> = (0..6).map(|v| mov(v, v as i64)).collect();
        insts.push(mov(6, 6));
        insts.push(add(6, Opnd::Imm(1)));
        insts.push(mov(7, 7));
        for v in 1..6 {
            insts.push(add(0, Opnd::V(v)));
        }
        insts.push(add(7, Opnd::V(0)));
        for v in 8..13 {
            insts.push(mov(v, v as i64));
        }
        insts.push(mov(13, 13));
        insts.push(add(13, Opnd::V(8)));
        for v in 8..14 {
            insts.push(add(7, Opnd::V(v)));
        }
        insts.push(ret_v(7));
        let p = ir(insts, 14);
        let a = allocate(&p).unwrap();
        let iv = intervals(&p).unwrap();
        for x in 0..14u32 {
            for y in x + 1..14 {
                let (Some(Loc::Slot(k)), Some(Loc::Slot(l))) = (a.loc(x), a.loc(y)) else {
                    continue;
                };
                let ((s1, e1), (s2, e2)) = (iv[x as usize].unwrap(), iv[y as usize].unwrap());
                assert!(
                    k != l || e1 < s2 || e2 < s1,
                    "v{x} {:?} and v{y} {:?} share slot {k}",
                    (s1, e1),
                    (s2, e2)
                );
            }
        }
        assert!(a.slots >= 2, "{a:?}");
    }

    #[test]
    fn more_live_values_than_registers_spill() {
        let a = allocate(&all_live(10, false)).unwrap();
        let in_slots = (0..10)
            .filter(|&v| matches!(a.loc(v), Some(Loc::Slot(_))))
            .count();
        assert!(in_slots >= 4, "{a:?}");
        assert!(a.slots >= 1);
        // No two values live at once share a register.
        let regs: Vec<u8> = (0..10)
            .filter_map(|v| match a.loc(v) {
                Some(Loc::Reg(r)) => Some(r),
                _ => None,
            })
            .collect();
        let mut d = regs.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), regs.len());
    }

    #[test]
    fn values_live_across_a_call_get_callee_saved_registers() {
        let p = ir(
            vec![
                mov(0, 1),
                mov(1, 2),
                Inst::Call { helper: 7 },
                add(0, Opnd::V(1)),
                ret_v(0),
            ],
            2,
        );
        let a = allocate(&p).unwrap();
        for v in 0..2 {
            match a.loc(v) {
                Some(Loc::Reg(r)) => assert!(CALLEE_SAVED.contains(r), "v{v} in r{r}"),
                Some(Loc::Slot(_)) => {}
                None => panic!("v{v} not allocated"),
            }
        }
    }

    #[test]
    fn a_third_value_across_a_call_goes_to_the_stack() {
        // r6 and r7 are the only allocatable registers a helper call leaves alone.
        let a = allocate(&all_live(3, true)).unwrap();
        let mut regs = Vec::new();
        let mut slots = 0;
        for v in 0..3 {
            match a.loc(v) {
                Some(Loc::Reg(r)) => regs.push(r),
                Some(Loc::Slot(_)) => slots += 1,
                None => panic!("v{v} not allocated"),
            }
        }
        regs.sort();
        assert_eq!(regs, [6, 7], "{a:?}");
        assert_eq!(slots, 1);
        assert_eq!(a.spilled, 1);
    }

    #[test]
    fn more_live_values_than_registers_and_slots_is_an_error() {
        let n = (ALLOCATABLE.len() + MAX_SLOTS) as u32;
        assert!(allocate(&all_live(n, false)).is_ok(), "exactly full");
        let e = allocate(&all_live(n + 1, false)).unwrap_err();
        assert!(e.to_string().contains("512 bytes"), "{e}");
    }
}
