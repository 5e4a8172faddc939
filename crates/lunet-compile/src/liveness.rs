//! Analysis: liveness. Which virtual registers are live into and out of each basic block
//! (a backward data flow over [`crate::ir::blocks`] to its fixed point), and from that each
//! register's live interval in instruction positions. [`crate::dce`] and [`crate::regalloc`]
//! use it; it changes nothing.
//!
//! Positions: instruction `i` reads at `2i` and writes at `2i + 1`, so a value that dies
//! where another is born may share its register (`v2 = v1 + 1` in one register).

use std::collections::HashSet;

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
pub fn analyze(ir: &Ir) -> Result<Liveness, String> {
    let n = ir.nvregs as usize;
    let (ranges, succ) = crate::ir::blocks(&ir.insts);
    let nb = ranges.len();
    if nb.saturating_mul(n.div_ceil(64)) > MAX_LIVENESS_WORDS {
        return Err(format!(
            "the hook is too large to allocate registers ({nb} blocks, {n} values)"
        ));
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
pub fn intervals(ir: &Ir) -> Result<Vec<Option<(usize, usize)>>, String> {
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
