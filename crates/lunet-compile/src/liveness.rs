//! Analysis: liveness. Which virtual registers are live into and out of each basic block
//! (a backward data flow over [`crate::ir::blocks`] to its fixed point), and from that each
//! register's live interval in instruction positions. [`crate::dce`] and [`crate::regalloc`]
//! use it; it changes nothing.
//!
//! Positions: instruction `i` reads at `2i` and writes at `2i + 1`, so a value that dies
//! where another is born may share its register (`v2 = v1 + 1` in one register).

use std::collections::HashSet;

use crate::error::CodegenError;
use crate::ir::Ir;

/// Liveness bitsets beyond this many words are a hook too large to allocate.
const MAX_LIVENESS_WORDS: usize = 64 << 20;

/// A set of virtual registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// The empty set of registers below `n`.
    pub fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    pub fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    pub fn unset(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    pub fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The members, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
}

/// The blocks of a hook and what is live at their edges.
#[derive(Clone, Debug)]
pub struct Liveness {
    /// The basic blocks, as `(start, end)` instruction ranges.
    pub blocks: Vec<(usize, usize)>,
    /// By block: the registers live at its start.
    pub live_in: Vec<Bits>,
    /// By block: the registers live at its end.
    pub live_out: Vec<Bits>,
}

/// The liveness of `ir`'s virtual registers.
pub fn analyze(ir: &Ir) -> Result<Liveness, CodegenError> {
    let n = ir.nvregs as usize;
    let (ranges, succ) = crate::ir::blocks(&ir.insts);
    let nb = ranges.len();
    if nb.saturating_mul(n.div_ceil(64)) > MAX_LIVENESS_WORDS {
        return Err(CodegenError::TooLargeToAllocate {
            blocks: nb,
            values: n,
        });
    }
    // What each block reads before it writes, and what it writes.
    let mut uses = Vec::with_capacity(nb);
    let mut defs = Vec::with_capacity(nb);
    for &(s, e) in &ranges {
        let mut u = Bits::new(n);
        let mut d = Bits::new(n);
        let mut dset = HashSet::new();
        for (inst, _) in &ir.insts[s..e] {
            for v in inst.uses() {
                if !dset.contains(&v) {
                    u.set(v as usize);
                }
            }
            if let Some(v) = inst.def() {
                dset.insert(v);
                d.set(v as usize);
            }
        }
        uses.push(u);
        defs.push(d);
    }
    let words = n.div_ceil(64);
    let mut live_in = vec![Bits::new(n); nb];
    let mut live_out = vec![Bits::new(n); nb];
    let mut changed = true;
    while changed {
        changed = false;
        for b in (0..nb).rev() {
            let mut out = Bits::new(n);
            for &s in &succ[b] {
                for (o, i) in out.0.iter_mut().zip(&live_in[s].0) {
                    *o |= *i;
                }
            }
            let inn = Bits(
                (0..words)
                    .map(|w| uses[b].0[w] | (out.0[w] & !defs[b].0[w]))
                    .collect(),
            );
            if inn != live_in[b] || out != live_out[b] {
                live_in[b] = inn;
                live_out[b] = out;
                changed = true;
            }
        }
    }
    Ok(Liveness {
        blocks: ranges,
        live_in,
        live_out,
    })
}

/// Live intervals `[start, end]` in positions, by virtual register (`None` for registers no
/// instruction mentions).
pub fn intervals(ir: &Ir) -> Result<Vec<Option<(usize, usize)>>, CodegenError> {
    let n = ir.nvregs as usize;
    let live = analyze(ir)?;
    let mut iv: Vec<Option<(usize, usize)>> = vec![None; n];
    let mut extend = |v: usize, p: usize| {
        if v < n {
            iv[v] = Some(match iv[v] {
                None => (p, p),
                Some((s, e)) => (s.min(p), e.max(p)),
            });
        }
    };
    for (b, &(s, e)) in live.blocks.iter().enumerate() {
        for v in live.live_in[b].iter() {
            extend(v, 2 * s);
        }
        for v in live.live_out[b].iter() {
            extend(v, 2 * (e - 1) + 1);
        }
        for (i, (inst, _)) in ir.insts.iter().enumerate().take(e).skip(s) {
            for v in inst.uses() {
                extend(v as usize, 2 * i);
            }
            if let Some(v) = inst.def() {
                extend(v as usize, 2 * i + 1);
            }
        }
    }
    Ok(iv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, Inst, Opnd};
    use crate::testing::{add, ir, mov, ret, ret_v};

    #[test]
    fn an_interval_runs_from_the_write_to_the_last_read() {
        let p = ir(vec![mov(0, 1), mov(1, 2), add(0, Opnd::V(1)), ret_v(0)], 3);
        let iv = intervals(&p).unwrap();
        // Instruction i reads at 2i and writes at 2i + 1.
        assert_eq!(iv[0], Some((1, 6)));
        assert_eq!(iv[1], Some((3, 4)));
        assert_eq!(
            iv[2], None,
            "a register no instruction names has no interval"
        );
    }

    #[test]
    fn a_value_the_loop_reads_is_live_through_the_whole_loop() {
        let p = ir(
            vec![
                mov(0, 0),
                mov(1, 5),
                Inst::Label(1),
                add(0, Opnd::Imm(1)),
                Inst::Br {
                    cond: Cond::Slt,
                    a: 0,
                    b: Opnd::V(1),
                    target: 1,
                    w32: false,
                },
                ret_v(0),
            ],
            2,
        );
        let live = analyze(&p).unwrap();
        // Blocks: the two moves, the loop body (label to branch), the return.
        assert_eq!(live.blocks, [(0, 2), (2, 5), (5, 6)]);
        assert_eq!(live.live_in[1].iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(live.live_out[1].iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(live.live_out[2].iter().count(), 0);
        // v1 is read at the branch (position 8) and live out of its block, back to the head.
        assert_eq!(intervals(&p).unwrap()[1], Some((3, 9)));
    }

    #[test]
    fn a_hook_too_large_for_the_bitsets_is_refused() {
        let mut p = ir(vec![ret(0), Inst::Label(0), ret(1)], 0);
        p.nvregs = u32::MAX;
        let e = analyze(&p).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
    }
}
