//! Joins and loops (part of pass `lower`).
//!
//! A join is a point where paths meet (after an `if`, the end of an inlined call, a loop's
//! exit, `a and b`): each path records its state as an edge, and placing the join merges the
//! kinds of every local ([`crate::types::merge`]) and makes each edge move its values into the
//! merged kind's home registers. A loop's head is a join with its back edges: the body is
//! lowered with the locals carried in homes, and lowered again with wider kinds when a back
//! edge brings a value that does not fit (`x = nil` before the loop, `x = 1` in it). Every
//! loop is bounded: a constant trip count, a hidden counter, or `may_goto` ([`LoopBound`]).

use std::collections::BTreeMap;

use full_moon::ast::{Block, Expression, NumericFor, Repeat, Stmt, While};
use full_moon::tokenizer::TokenReference;

use super::{loc, name_of, Edge, Join, LoopCtx, Lower, R};
use crate::diag::Loc;
use crate::hook::{LoopBound, LOOP_CAP};
use crate::ir::{AluOp, Cond, Inst, Label, Opnd, VReg};
use crate::resolve::{Env, SlotId};
use crate::types::{self, Kind, SVal};

/// A loop's kinds settle after this many re-lowerings, or it is a compiler bug.
const MAX_LOOP_ATTEMPTS: usize = 8;

/// Everything a loop's re-lowering must put back.
struct Mark<'a> {
    insts: usize,
    slots: Vec<SVal<'a>>,
    captured: Vec<bool>,
    env: Env,
    joins: usize,
    join_edges: Vec<usize>,
    dead: bool,
    prints: usize,
    globals: BTreeMap<String, SlotId>,
}

impl<'a> Lower<'a> {
    fn mark(&self) -> Mark<'a> {
        Mark {
            insts: self.insts.len(),
            slots: self.slots.clone(),
            captured: self.captured.clone(),
            env: self.env.clone(),
            joins: self.joins.len(),
            join_edges: self.joins.iter().map(|j| j.edges.len()).collect(),
            dead: self.dead,
            prints: self.prints.len(),
            globals: self.globals.clone(),
        }
    }

    fn restore(&mut self, m: &Mark<'a>) {
        self.ptrs.clear();
        self.insts.truncate(m.insts);
        self.slots = m.slots.clone();
        self.captured = m.captured.clone();
        self.env = m.env.clone();
        self.joins.truncate(m.joins);
        for (j, n) in self.joins.iter_mut().zip(&m.join_edges) {
            j.edges.truncate(*n);
        }
        self.dead = m.dead;
        self.prints.truncate(m.prints);
        self.globals = m.globals.clone();
    }

    // ---- joins ----

    pub(super) fn new_join(&mut self, at: Loc) -> usize {
        self.joins.push(Join {
            edges: Vec::new(),
            at,
        });
        self.joins.len() - 1
    }

    /// Records the current state as an edge into join `j`; returns the label to jump to,
    /// or `None` when no path reaches here.
    pub(super) fn edge_label(&mut self, j: usize, results: Vec<SVal<'a>>) -> Option<Label> {
        if self.dead {
            return None;
        }
        let label = self.label();
        let slots = self.slots.clone();
        self.joins[j].edges.push(Edge {
            label,
            slots,
            results,
        });
        Some(label)
    }

    pub(super) fn edge(&mut self, j: usize, results: Vec<SVal<'a>>) {
        if let Some(l) = self.edge_label(j, results) {
            self.jmp(l);
        }
    }

    fn edge_br(&mut self, cond: Cond, a: Opnd, b: Opnd, j: usize) {
        if self.dead {
            return;
        }
        if let (Opnd::Imm(x), Opnd::Imm(y)) = (a, b) {
            if cond.eval(x, y) {
                self.edge(j, vec![]);
            }
            return;
        }
        if let Some(l) = self.edge_label(j, vec![]) {
            self.br(cond, a, b, l);
        }
    }

    /// Places join `j`: merges the edges' states, emits each edge's conversions, and
    /// continues with the merged state. Returns the merged results.
    pub(super) fn place(&mut self, j: usize) -> R<Vec<SVal<'a>>> {
        let join = std::mem::replace(
            &mut self.joins[j],
            Join {
                edges: Vec::new(),
                at: Loc::default(),
            },
        );
        if join.edges.is_empty() {
            self.dead = true;
            return Ok(Vec::new());
        }
        let nslots = join
            .edges
            .iter()
            .map(|e| e.slots.len())
            .max()
            .unwrap_or(0)
            .max(self.slots.len());
        let nres = join
            .edges
            .iter()
            .map(|e| e.results.len())
            .max()
            .unwrap_or(0);
        let mut moves: Vec<Vec<(VReg, Opnd)>> = vec![Vec::new(); join.edges.len()];
        let mut merged_slots = Vec::with_capacity(nslots);
        let dead = SVal::Dead;
        let nil = SVal::Nil;
        for i in 0..nslots {
            let vals: Vec<&SVal<'a>> = join
                .edges
                .iter()
                .map(|e| e.slots.get(i).unwrap_or(&dead))
                .collect();
            let kind = self.merged_kind(&join.at, &vals)?;
            merged_slots.push(self.homes_for(&kind, &vals, &mut moves)?);
        }
        let mut results = Vec::with_capacity(nres);
        for k in 0..nres {
            let vals: Vec<&SVal<'a>> = join
                .edges
                .iter()
                .map(|e| e.results.get(k).unwrap_or(&nil))
                .collect();
            let kind = self.merged_kind(&join.at, &vals)?;
            let kind = if kind == Kind::Dead {
                Kind::Same(SVal::Nil)
            } else {
                kind
            };
            results.push(self.homes_for(&kind, &vals, &mut moves)?);
        }
        let target = self.label();
        self.dead = false;
        let n = join.edges.len();
        for (k, (e, mv)) in join.edges.iter().zip(moves).enumerate() {
            self.place_label(e.label);
            self.dead = false;
            for (dst, src) in mv {
                self.emit(Inst::Mov { dst, src });
            }
            if k + 1 < n {
                self.jmp(target);
            }
        }
        self.targeted.insert(target);
        self.place_label(target);
        self.slots = merged_slots;
        self.captured.resize(self.slots.len(), false);
        Ok(results)
    }

    /// The kind `vals` take where they meet (at `at`), or why they cannot meet.
    fn merged_kind(&mut self, at: &Loc, vals: &[&SVal<'a>]) -> R<Kind<'a>> {
        types::merge(vals, &mut self.pool)
            .map_err(|m| self.unsup_at(at, "a join of values", m.to_string()))
    }

    /// Home registers for a merged kind, and each edge's moves into them.
    fn homes_for(
        &mut self,
        kind: &Kind<'a>,
        vals: &[&SVal<'a>],
        moves: &mut [Vec<(VReg, Opnd)>],
    ) -> R<SVal<'a>> {
        let homes: Vec<VReg> = (0..types::home_count(kind)).map(|_| self.vreg()).collect();
        for (e, v) in vals.iter().enumerate() {
            let mv = types::convert(v, kind, &homes, &mut self.pool).ok_or_else(|| {
                self.internal(format!("cannot convert {} at a join", v.describe()))
            })?;
            moves[e].extend(mv);
        }
        Ok(types::in_homes(kind, &homes))
    }

    // ---- loops ----

    pub(super) fn while_loop(&mut self, s: &'a Stmt, w: &'a While) -> R<()> {
        self.loop_driver(s, &LoopShape::While(w.condition(), w.block()))
    }

    pub(super) fn repeat_loop(&mut self, s: &'a Stmt, r: &'a Repeat) -> R<()> {
        self.loop_driver(s, &LoopShape::Repeat(r.block(), r.until()))
    }

    pub(super) fn numeric_for(&mut self, s: &'a Stmt, f: &'a NumericFor) -> R<()> {
        let init = self.expr(f.start())?;
        let init = self.int_operand(init, f.start(), "a 'for' initial value")?;
        let limit = self.expr(f.end())?;
        let limit = self.int_operand(limit, f.end(), "a 'for' limit")?;
        let step =
            match f.step() {
                None => 1,
                Some(e) => {
                    let v = self.expr(e)?;
                    match v {
                        SVal::Int(Opnd::Imm(k)) => k,
                        _ => return Err(self.unsup(
                            e,
                            "a 'for' step",
                            "the step of a numeric `for` must be a constant the compiler can see",
                        )),
                    }
                }
            };
        if step == 0 {
            // Lua raises "'for' step is zero".
            self.fail_now();
            return Ok(());
        }
        let shape = LoopShape::For {
            var: f.index_variable(),
            init,
            limit,
            step,
            body: f.block(),
        };
        self.loop_driver(s, &shape)
    }

    fn loop_driver(&mut self, s: &'a Stmt, shape: &LoopShape<'a>) -> R<()> {
        let at = loc(s);
        let mark = self.mark();
        let mut kinds: BTreeMap<SlotId, Kind<'a>> = BTreeMap::new();
        for _ in 0..MAX_LOOP_ATTEMPTS {
            let exit = self.new_join(at.clone());
            // The trip count and the hidden counter, before the head.
            let pre = self.loop_prologue(shape, exit)?;
            // Loop-carried locals go to their homes.
            let mut carried = BTreeMap::new();
            let mut entry_moves = Vec::new();
            for (slot, kind) in &kinds {
                let cur = self.slots[*slot].clone();
                let homes: Vec<VReg> = (0..types::home_count(kind)).map(|_| self.vreg()).collect();
                let mv = types::convert(&cur, kind, &homes, &mut self.pool)
                    .ok_or_else(|| self.internal("a loop-carried value does not convert"))?;
                entry_moves.extend(mv);
                self.slots[*slot] = types::in_homes(kind, &homes);
                carried.insert(*slot, (kind.clone(), homes));
            }
            for (dst, src) in entry_moves {
                self.emit(Inst::Mov { dst, src });
            }
            let head = self.label();
            if !self.dead {
                self.targeted.insert(head);
            }
            self.place_label(head);
            let frame = self.frames.len() - 1;
            self.loops.push(LoopCtx {
                exit,
                head,
                head_len: self.slots.len(),
                head_state: self.slots.clone(),
                carried,
                widen: Vec::new(),
                frame,
            });
            let r = self.loop_body(shape, &pre, exit);
            let ctx = self
                .loops
                .pop()
                .ok_or_else(|| self.internal("loop stack"))?;
            r?;
            if ctx.widen.is_empty() {
                self.place(exit)?;
                return Ok(());
            }
            for (slot, v) in ctx.widen {
                let head_val = ctx.head_state[slot].clone();
                let entry_val = mark.slots[slot].clone();
                let k = types::merge(&[&head_val, &v, &entry_val], &mut self.pool)
                    .map_err(|m| self.unsup_at(&at, "a loop-carried value", m.to_string()))?;
                kinds.insert(slot, k);
            }
            self.restore(&mark);
        }
        Err(self.internal("the kinds of a loop's locals did not settle"))
    }

    fn loop_prologue(&mut self, shape: &LoopShape<'a>, exit: usize) -> R<LoopPre> {
        match shape {
            LoopShape::While(..) | LoopShape::Repeat(..) => {
                // With may_goto the kernel keeps the count: `VReg::MAX` marks "bounded".
                let counter = match self.loop_bound {
                    LoopBound::MayGoto => VReg::MAX,
                    LoopBound::Counter => self.hidden_counter(),
                };
                Ok(LoopPre {
                    counter: Some(counter),
                    ..LoopPre::default()
                })
            }
            LoopShape::For {
                init, limit, step, ..
            } => {
                let (init, limit, step) = (*init, *limit, *step);
                // Counting from `lo` up to `hi` by `size` (down from `hi` for a negative step):
                // the trip count less one is `(hi - lo) / size`, unsigned, which cannot overflow.
                let (lo, hi, size) = if step > 0 {
                    (init, limit, step as u64)
                } else {
                    (limit, init, step.unsigned_abs())
                };
                if let (Opnd::Imm(a), Opnd::Imm(lo), Opnd::Imm(hi)) = (init, lo, hi) {
                    if lo > hi {
                        self.edge(exit, vec![]);
                        // The body is never run; the code after the jump is unreachable.
                        return Ok(LoopPre::default());
                    }
                    let count = (hi as u64).wrapping_sub(lo as u64) / size;
                    let last = a.wrapping_add((count as i64).wrapping_mul(step));
                    let iv = self.mov(init);
                    let counter = (count >= LOOP_CAP as u64).then(|| self.hidden_counter());
                    return Ok(LoopPre {
                        counter,
                        iv: Some(iv),
                        count: None,
                        last: Some(last),
                    });
                }
                // Skip the loop unless init <= limit (init >= limit for a negative step).
                let skip = if step > 0 { Cond::Sgt } else { Cond::Slt };
                self.edge_br(skip, init, limit, exit);
                let count = self.vreg();
                self.emit(Inst::Mov {
                    dst: count,
                    src: hi,
                });
                self.emit(Inst::Alu {
                    op: AluOp::Sub,
                    dst: count,
                    src: lo,
                });
                if size != 1 {
                    let d = self.divisor(size);
                    self.emit(Inst::Alu {
                        op: AluOp::Div,
                        dst: count,
                        src: d,
                    });
                }
                let iv = self.mov(init);
                // The control variable is exact in the verifier's eyes whatever bounds it, so
                // pruning cannot help: a hidden counter caps the walk at LOOP_CAP.
                Ok(LoopPre {
                    counter: Some(self.hidden_counter()),
                    iv: Some(iv),
                    count: Some(count),
                    last: None,
                })
            }
        }
    }

    /// The bound of a loop the lowering makes itself (a scan over packet bytes): what
    /// [`Lower::scan_iteration`] counts at the loop's head, as for a `while` loop.
    pub(super) fn scan_bound(&mut self) -> Option<VReg> {
        Some(match self.loop_bound {
            LoopBound::MayGoto => VReg::MAX,
            LoopBound::Counter => self.hidden_counter(),
        })
    }

    /// One iteration of a loop bounded by [`Lower::scan_bound`].
    pub(super) fn scan_iteration(&mut self, bound: Option<VReg>) {
        self.count_iteration(&LoopPre {
            counter: bound,
            ..LoopPre::default()
        });
    }

    /// A hidden iteration counter, from 0.
    fn hidden_counter(&mut self) -> VReg {
        let c = self.vreg();
        self.emit(Inst::Mov {
            dst: c,
            src: Opnd::Imm(0),
        });
        c
    }

    /// An unsigned divisor as an operand (immediates must fit 31 bits).
    pub(super) fn divisor(&mut self, d: u64) -> Opnd {
        if d <= i32::MAX as u64 {
            Opnd::Imm(d as i64)
        } else {
            Opnd::V(self.mov(Opnd::Imm(d as i64)))
        }
    }

    fn count_iteration(&mut self, pre: &LoopPre) {
        if pre.counter == Some(VReg::MAX) {
            let f = self.fail;
            self.emit(Inst::MayGoto { target: f });
            return;
        }
        if let Some(c) = pre.counter {
            self.emit(Inst::Alu {
                op: AluOp::Add,
                dst: c,
                src: Opnd::Imm(1),
            });
            let f = self.fail;
            self.br(Cond::Sgt, Opnd::V(c), Opnd::Imm(LOOP_CAP), f);
        }
    }

    fn loop_body(&mut self, shape: &LoopShape<'a>, pre: &LoopPre, exit: usize) -> R<()> {
        match shape {
            LoopShape::While(cond, body) => {
                if let Some(l) = self.edge_label_if_live(exit) {
                    // The exit edge's state is the head's: a condition may not change locals.
                    self.test(cond, false, l)?;
                }
                self.count_iteration(pre);
                self.block(body)?;
                self.back_edge()?;
            }
            LoopShape::Repeat(body, until) => {
                self.count_iteration(pre);
                self.push_scope();
                let r = (|| -> R<()> {
                    self.block_body(body)?;
                    if let Some(l) = self.edge_label_if_live(exit) {
                        self.test(until, true, l)?;
                    }
                    self.back_edge()
                })();
                self.pop_scope();
                r?;
            }
            LoopShape::For {
                var, step, body, ..
            } => {
                let Some(iv) = pre.iv else { return Ok(()) };
                self.count_iteration(pre);
                self.push_scope();
                let copy = self.mov(Opnd::V(iv));
                let s = self.new_slot(SVal::Int(Opnd::V(copy)));
                self.env.declare(&name_of(var), s);
                let r = self.block(body);
                self.pop_scope();
                r?;
                match (pre.last, pre.count) {
                    (Some(last), _) => self.edge_br(Cond::Eq, Opnd::V(iv), Opnd::Imm(last), exit),
                    (None, Some(count)) => {
                        self.edge_br(Cond::Eq, Opnd::V(count), Opnd::Imm(0), exit);
                        self.emit(Inst::Alu {
                            op: AluOp::Sub,
                            dst: count,
                            src: Opnd::Imm(1),
                        });
                    }
                    _ => return Err(self.internal("numeric for without a bound")),
                }
                self.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: iv,
                    src: Opnd::Imm(*step),
                });
                self.back_edge()?;
            }
        }
        Ok(())
    }

    /// An exit edge label taken now, with a check at the end of the condition that the
    /// state did not change on the way.
    fn edge_label_if_live(&mut self, exit: usize) -> Option<Label> {
        self.edge_label(exit, vec![])
    }

    /// The end of a loop iteration: convert loop-carried locals into their homes and jump to
    /// the head; values that do not fit make the loop be lowered again.
    fn back_edge(&mut self) -> R<()> {
        if self.dead {
            return Ok(());
        }
        let Some(ctx) = self.loops.last() else {
            return Err(self.internal("back edge outside a loop"));
        };
        let mut moves: Vec<(VReg, Opnd)> = Vec::new();
        let mut widen = Vec::new();
        for i in 0..ctx.head_len {
            let cur = &self.slots[i];
            let head = &ctx.head_state[i];
            if cur == head || matches!(head, SVal::Dead) {
                continue;
            }
            match ctx.carried.get(&i) {
                Some((kind, homes)) => match types::convert(cur, kind, homes, &mut self.pool) {
                    Some(mv) => moves.extend(mv),
                    None => widen.push((i, cur.clone())),
                },
                None => widen.push((i, cur.clone())),
            }
        }
        let head = ctx.head;
        if !widen.is_empty() {
            if let Some(ctx) = self.loops.last_mut() {
                ctx.widen.extend(widen);
            }
            self.jmp(head);
            return Ok(());
        }
        self.parallel_moves(moves);
        self.jmp(head);
        Ok(())
    }

    /// Moves that may read each other's destinations: sources that are destinations go
    /// through temporaries first.
    fn parallel_moves(&mut self, moves: Vec<(VReg, Opnd)>) {
        let dsts: Vec<VReg> = moves.iter().map(|(d, _)| *d).collect();
        let mut fixed = Vec::with_capacity(moves.len());
        for (d, s) in moves {
            match s {
                Opnd::V(x) if x != d && dsts.contains(&x) => {
                    let t = self.mov(Opnd::V(x));
                    fixed.push((d, Opnd::V(t)));
                }
                _ => fixed.push((d, s)),
            }
        }
        for (dst, src) in fixed {
            if src != Opnd::V(dst) {
                self.emit(Inst::Mov { dst, src });
            }
        }
    }
}

enum LoopShape<'a> {
    While(&'a Expression, &'a Block),
    Repeat(&'a Block, &'a Expression),
    For {
        var: &'a TokenReference,
        init: Opnd,
        limit: Opnd,
        step: i64,
        body: &'a Block,
    },
}

#[derive(Default)]
struct LoopPre {
    counter: Option<VReg>,
    iv: Option<VReg>,
    count: Option<VReg>,
    last: Option<i64>,
}
