//! Pass 2: the hook's AST to IR, with names resolved ([`crate::resolve`]) and values typed
//! ([`crate::types`]) as it goes.
//!
//! Lua semantics are kept exactly: 64-bit wrapping integers, floor division and modulo,
//! Lua 5.4 shifts. Wherever the Lua tier would raise an error (an access outside the packet,
//! division by zero, arithmetic on nil, a return value that is not a verdict) the code jumps
//! to the hook's default verdict. Calls of Lua functions are inlined; recursion is refused.
//! Map operations are in `lower/maps.rs`, `print` in `lower/print.rs`.

mod maps;
mod print;

use std::collections::BTreeMap;
use std::rc::Rc;

use full_moon::ast::punctuated::Punctuated;
use full_moon::ast::{
    BinOp, Block, Call, Expression, FunctionArgs, FunctionBody, Index, LastStmt, Parameter, Prefix,
    Stmt, Suffix, UnOp, Var,
};
use full_moon::node::Node;
use full_moon::tokenizer::{Symbol, TokenReference, TokenType};

use crate::diag::Loc;
use crate::ir::{
    AluOp, Cond, Inst, Ir, Label, Opnd, VReg, DATA, MAX_CONST_END, MAX_VAR_END, MAX_VAR_OFF,
};
use crate::resolve::{Binding, Captured, Env, SlotId};
use crate::source::{self, FoundFn, Number, Parsed};
use crate::types::{self, DataObj, Func, Kind, SVal};
use crate::{Diagnostic, HookInput, LoopBound, Options, Value, LOOP_CAP};
use lunet_types::builtin::ByteOrder;

type R<T> = Result<T, Diagnostic>;

/// Inlined calls may nest this deep.
const MAX_INLINE_DEPTH: usize = 24;
/// IR instructions one hook may lower to (compile time and the verifier's patience).
const MAX_INSTS: usize = 200_000;
/// A loop's kinds settle after this many re-lowerings, or it is a compiler bug.
const MAX_LOOP_ATTEMPTS: usize = 8;

pub fn lower(input: &HookInput, options: &Options, parsed: &Parsed, hook: &FoundFn) -> R<Ir> {
    let upvalues: Vec<(String, Rc<Value>)> = input
        .upvalues
        .iter()
        .map(|(n, v)| (n.clone(), Rc::new(v.clone())))
        .collect();
    let captured = Rc::new(Captured {
        names: Vec::new(),
        upvalues: Rc::new(upvalues),
    });
    let mut l = Lower {
        loop_bound: options.loop_bound,
        file: &input.file,
        parsed,
        insts: Vec::new(),
        nvregs: 0,
        nlabels: 0,
        slots: Vec::new(),
        captured: Vec::new(),
        env: Env::new(captured),
        line: hook.at.0.line() as u32,
        fail: 0,
        joins: Vec::new(),
        loops: Vec::new(),
        frames: Vec::new(),
        inlining: Vec::new(),
        dead: false,
        targeted: Default::default(),
        affine: Default::default(),
        ptrs: Default::default(),
        umax: Default::default(),
        map_names: Default::default(),
        prints: Vec::new(),
    };
    l.fail = l.label();
    l.frames.push(Frame { join: None });
    // Parameters: the packet, the argument; any others are nil.
    let mut n = 0;
    for p in hook.body.parameters() {
        match p {
            Parameter::Name(t) => {
                let v = match n {
                    0 => SVal::Data(DataObj::Packet),
                    1 => SVal::Data(DataObj::Argument),
                    _ => SVal::Nil,
                };
                let s = l.new_slot(v);
                l.env.declare(&t.token().to_string(), s);
                n += 1;
            }
            other => {
                return Err(l.unsup(
                    other,
                    "varargs",
                    "varargs (`...`) are not in the kernel-tier subset",
                ))
            }
        }
    }
    l.block(hook.body.block())?;
    // Falling off the end returns nothing, which is not a verdict.
    l.line = hook.at.1.line() as u32;
    l.jmp(l.fail);
    let fail = l.fail;
    l.place_label(fail);
    l.emit(Inst::Ret {
        src: Opnd::Imm(input.default_verdict as i64),
    });
    Ok(Ir {
        insts: l.insts,
        nvregs: l.nvregs,
        nlabels: l.nlabels,
        first_line: hook.at.0.line() as u32,
        map_names: l.map_names,
        prints: l.prints,
    })
}

/// Paths meeting at one point: each edge jumps to its own label with the state it had.
struct Join<'a> {
    edges: Vec<Edge<'a>>,
    at: Loc,
}

struct Edge<'a> {
    label: Label,
    slots: Vec<SVal<'a>>,
    results: Vec<SVal<'a>>,
}

struct Frame {
    /// Where `return` goes in an inlined function; `None` in the hook itself.
    join: Option<usize>,
}

struct LoopCtx<'a> {
    exit: usize,
    head: Label,
    head_len: usize,
    head_state: Vec<SVal<'a>>,
    carried: BTreeMap<SlotId, (Kind<'a>, Vec<VReg>)>,
    /// Values at back edges that do not fit the head's kinds: the loop is lowered again.
    widen: Vec<(SlotId, SVal<'a>)>,
    frame: usize,
}

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
}

struct Lower<'a> {
    loop_bound: LoopBound,
    file: &'a str,
    parsed: &'a Parsed,
    insts: Vec<(Inst, u32)>,
    nvregs: u32,
    nlabels: u32,
    /// The value of every local, by slot.
    slots: Vec<SVal<'a>>,
    /// A closure may use the slot after its scope ended: never kill it.
    captured: Vec<bool>,
    env: Env,
    line: u32,
    fail: Label,
    joins: Vec<Join<'a>>,
    loops: Vec<LoopCtx<'a>>,
    frames: Vec<Frame>,
    /// Functions being inlined (by body address), for the recursion check.
    inlining: Vec<usize>,
    /// No path reaches the current point.
    dead: bool,
    targeted: std::collections::HashSet<Label>,
    /// `v = base + k` for values made by adding a constant: a packet access at `v` uses a
    /// pointer to `base` and `k` as the instruction's offset. A value an `SVal` refers to is
    /// never redefined while it is in use (loop homes change only at back edges, when the
    /// values computed from them in the iteration are dead), so the facts stay true.
    affine: std::collections::HashMap<VReg, (VReg, i64)>,
    /// Packet pointers made since the last label: `base -> pointer`.
    ptrs: std::collections::HashMap<VReg, VReg>,
    /// Values known to be in `0..=umax` (loads of unsigned fields and what follows from
    /// them): only such a value may be the base of a pointer with a constant offset added.
    umax: std::collections::HashMap<VReg, u64>,
    /// The maps used, by id.
    map_names: BTreeMap<usize, String>,
    /// The print calls lowered so far, by site id.
    prints: Vec<crate::print::PrintSite>,
}

fn loc<N: Node>(n: &N) -> Loc {
    Loc::from(source::range_of(n))
}

fn tok_loc(t: &TokenReference) -> Loc {
    Loc::from((t.token().start_position(), t.token().end_position()))
}

fn name_of(t: &TokenReference) -> String {
    t.token().to_string()
}

/// Lua 5.4 integer floor division (`n` not 0).
pub fn lua_idiv(m: i64, n: i64) -> i64 {
    if n == -1 {
        return m.wrapping_neg();
    }
    let q = m / n;
    if (m ^ n) < 0 && m % n != 0 {
        q - 1
    } else {
        q
    }
}

/// Lua 5.4 integer floor modulo (`n` not 0).
pub fn lua_mod(m: i64, n: i64) -> i64 {
    if n == -1 {
        return 0;
    }
    let r = m % n;
    if r != 0 && (r ^ n) < 0 {
        r + n
    } else {
        r
    }
}

/// Lua 5.4 `x << y` (negative counts shift right, counts of 64 or more give 0).
pub fn lua_shl(x: i64, y: i64) -> i64 {
    if y <= -64 || y >= 64 {
        0
    } else if y >= 0 {
        ((x as u64) << y) as i64
    } else {
        ((x as u64) >> (-y)) as i64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arith {
    Add,
    Sub,
    Mul,
    IDiv,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl<'a> Lower<'a> {
    // ---- emission helpers ----

    fn vreg(&mut self) -> VReg {
        self.nvregs += 1;
        self.nvregs - 1
    }

    fn label(&mut self) -> Label {
        self.nlabels += 1;
        self.nlabels - 1
    }

    fn emit(&mut self, i: Inst) {
        let ends = i.ends_flow();
        if !self.dead {
            if let Some(t) = i.target() {
                self.targeted.insert(t);
            }
            self.insts.push((i, self.line));
        }
        if ends {
            self.dead = true;
        }
    }

    fn jmp(&mut self, target: Label) {
        self.emit(Inst::Jmp { target });
    }

    fn place_label(&mut self, l: Label) {
        self.ptrs.clear();
        self.insts.push((Inst::Label(l), self.line));
        if self.targeted.contains(&l) {
            self.dead = false;
        }
    }

    fn br(&mut self, cond: Cond, a: Opnd, b: Opnd, target: Label) {
        match (a, b) {
            (Opnd::Imm(x), Opnd::Imm(y)) => {
                if cond.eval(x, y) {
                    self.jmp(target);
                }
            }
            (Opnd::Imm(_), Opnd::V(v)) => self.emit(Inst::Br {
                cond: cond.swap(),
                a: v,
                b: a,
                target,
                w32: false,
            }),
            (Opnd::V(v), b) => self.emit(Inst::Br {
                cond,
                a: v,
                b,
                target,
                w32: false,
            }),
        }
    }

    fn mov(&mut self, src: Opnd) -> VReg {
        let d = self.vreg();
        self.emit(Inst::Mov { dst: d, src });
        d
    }

    fn fail_now(&mut self) {
        let f = self.fail;
        self.jmp(f);
    }

    fn check_size(&self, at: &Loc) -> R<()> {
        if self.insts.len() > MAX_INSTS {
            return Err(Diagnostic::unsupported(
                self.file,
                at.clone(),
                "a hook too large",
                format!("the hook lowers to more than {MAX_INSTS} instructions"),
            ));
        }
        Ok(())
    }

    fn unsup<N: Node>(&self, n: &N, construct: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::unsupported(self.file, loc(n), construct, message)
    }

    fn unsup_at(&self, at: &Loc, construct: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::unsupported(self.file, at.clone(), construct, message)
    }

    fn internal(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::internal(self.file, self.line as usize, message)
    }

    // ---- slots and scopes ----

    fn new_slot(&mut self, v: SVal<'a>) -> SlotId {
        self.slots.push(v);
        self.captured.push(false);
        self.slots.len() - 1
    }

    fn push_scope(&mut self) {
        self.env.push_scope();
    }

    fn pop_scope(&mut self) {
        for id in self.env.pop_scope() {
            if !self.captured.get(id).copied().unwrap_or(true) {
                self.slots[id] = SVal::Dead;
            }
        }
    }

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
    }

    // ---- joins ----

    fn new_join(&mut self, at: Loc) -> usize {
        self.joins.push(Join {
            edges: Vec::new(),
            at,
        });
        self.joins.len() - 1
    }

    /// Records the current state as an edge into join `j`; returns the label to jump to,
    /// or `None` when no path reaches here.
    fn edge_label(&mut self, j: usize, results: Vec<SVal<'a>>) -> Option<Label> {
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

    fn edge(&mut self, j: usize, results: Vec<SVal<'a>>) {
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
    fn place(&mut self, j: usize) -> R<Vec<SVal<'a>>> {
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
            let kind =
                types::merge(&vals).map_err(|m| self.unsup_at(&join.at, "a join of values", m))?;
            merged_slots.push(self.homes_for(&kind, &vals, &mut moves)?);
        }
        let mut results = Vec::with_capacity(nres);
        for k in 0..nres {
            let vals: Vec<&SVal<'a>> = join
                .edges
                .iter()
                .map(|e| e.results.get(k).unwrap_or(&nil))
                .collect();
            let kind =
                types::merge(&vals).map_err(|m| self.unsup_at(&join.at, "a join of values", m))?;
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

    /// Home registers for a merged kind, and each edge's moves into them.
    fn homes_for(
        &mut self,
        kind: &Kind<'a>,
        vals: &[&SVal<'a>],
        moves: &mut [Vec<(VReg, Opnd)>],
    ) -> R<SVal<'a>> {
        let homes: Vec<VReg> = (0..types::home_count(kind)).map(|_| self.vreg()).collect();
        for (e, v) in vals.iter().enumerate() {
            let mv = types::convert(v, kind, &homes).ok_or_else(|| {
                self.internal(format!("cannot convert {} at a join", v.describe()))
            })?;
            moves[e].extend(mv);
        }
        Ok(types::in_homes(kind, &homes))
    }

    // ---- blocks and statements ----

    fn block(&mut self, b: &'a Block) -> R<()> {
        self.push_scope();
        let r = self.block_body(b);
        self.pop_scope();
        r
    }

    fn block_body(&mut self, b: &'a Block) -> R<()> {
        for s in b.stmts() {
            self.stmt(s)?;
        }
        if let Some(l) = b.last_stmt() {
            self.last_stmt(l)?;
        }
        Ok(())
    }

    fn set_line<N: Node>(&mut self, n: &N) {
        if let Some(p) = n.start_position() {
            self.line = p.line() as u32;
        }
    }

    fn stmt(&mut self, s: &'a Stmt) -> R<()> {
        self.set_line(s);
        self.check_size(&loc(s))?;
        match s {
            Stmt::LocalAssignment(la) => {
                for a in la.attributes().flatten() {
                    let n = name_of(a.name());
                    if n != "const" {
                        return Err(self.unsup(a, "a <close> variable", format!("the <{n}> attribute is not in the kernel-tier subset")));
                    }
                }
                let names: Vec<String> = la.names().iter().map(name_of).collect();
                let vals = self.exprs(la.expressions(), Some(names.len()))?;
                for (n, v) in names.iter().zip(vals) {
                    let s = self.new_slot(v);
                    self.env.declare(n, s);
                }
                Ok(())
            }
            Stmt::Assignment(a) => {
                // As Lua does: the targets' tables and keys first, left to right, then the
                // values, then the stores from right to left.
                let mut targets = Vec::new();
                for var in a.variables() {
                    match var {
                        Var::Name(t) => match self.env.lookup(&name_of(t)) {
                            Binding::Local(s) => targets.push(Target::Local(s)),
                            Binding::Upvalue(_) => {
                                return Err(self.unsup(t, "an assignment to an upvalue", format!(
                                    "assigning to '{}', an upvalue: the kernel tier folds upvalues as the values the body left; keep per-packet state in locals (or a map)",
                                    name_of(t)
                                )))
                            }
                            Binding::Global => return Err(global(self.file, t, &name_of(t))),
                        },
                        Var::Expression(ve) => {
                            let sufs: Vec<&'a Suffix> = ve.suffixes().collect();
                            let Some((Suffix::Index(ix), init)) = sufs.split_last() else {
                                return Err(self.unsup(&**ve, "an assignment", "this assignment is not in the kernel-tier subset"));
                            };
                            let base = self.call_chain(ve.prefix(), init.to_vec(), &**ve)?;
                            let base = base.into_iter().next().unwrap_or(SVal::Nil);
                            let (key, _) = self.index_key(ix)?;
                            match base {
                                SVal::Map(m) => targets.push(Target::Map(m, key, loc(&**ve))),
                                _ => return Err(self.unsup(&**ve, "an assignment to a table field", "assigning to a table field is not in the kernel-tier subset (a map's are: `m[k] = v`)")),
                            }
                        }
                        other => {
                            return Err(self.unsup(other, "an assignment to a table field", "assigning to a table field is not in the kernel-tier subset"))
                        }
                    }
                }
                let vals = self.exprs(a.expressions(), Some(a.variables().len()))?;
                // Where each value comes from (the last expression may give several).
                let exprs: Vec<Loc> = a.expressions().iter().map(loc).collect();
                let value_at = |i: usize| exprs.get(i).or(exprs.last()).cloned().unwrap_or_default();
                for (i, (t, v)) in targets.into_iter().zip(vals).enumerate().rev() {
                    match t {
                        Target::Local(s) => self.slots[s] = v,
                        Target::Map(m, key, at) => self.map_set(&m, key, v, &at, &value_at(i))?,
                    }
                }
                Ok(())
            }
            Stmt::FunctionCall(fc) => {
                self.call_chain(fc.prefix(), fc.suffixes().collect(), fc)?;
                Ok(())
            }
            Stmt::Do(d) => self.block(d.block()),
            Stmt::If(i) => {
                let j = self.new_join(loc(s));
                let mut next = self.label();
                self.test(i.condition(), false, next)?;
                // Each branch starts from the state its condition's jump had.
                let mut at_next = self.slots.clone();
                self.block(i.block())?;
                self.edge(j, vec![]);
                for ei in i.else_if().into_iter().flatten() {
                    self.slots = at_next;
                    self.dead = true; // live again only if a jump reaches `next`
                    self.place_label(next);
                    self.set_line(ei);
                    next = self.label();
                    self.test(ei.condition(), false, next)?;
                    at_next = self.slots.clone();
                    self.block(ei.block())?;
                    self.edge(j, vec![]);
                }
                self.slots = at_next;
                self.dead = true;
                self.place_label(next);
                if let Some(b) = i.else_block() {
                    self.block(b)?;
                }
                self.edge(j, vec![]);
                self.place(j)?;
                Ok(())
            }
            Stmt::While(w) => self.run_loop(s, LoopShape::While(w.condition(), w.block())),
            Stmt::Repeat(r) => self.run_loop(s, LoopShape::Repeat(r.block(), r.until())),
            Stmt::NumericFor(f) => self.numeric_for(s, f),
            Stmt::LocalFunction(f) => {
                let name = name_of(f.name());
                let slot = self.new_slot(SVal::Nil);
                self.env.declare(&name, slot);
                for id in self.env.visible_slots() {
                    if let Some(c) = self.captured.get_mut(id) {
                        *c = true;
                    }
                }
                let captured = self.env.capture();
                self.slots[slot] = SVal::Func(Func::Local {
                    name,
                    body: f.body(),
                    captured,
                });
                Ok(())
            }
            Stmt::FunctionDeclaration(f) => Err(self.unsup(f, "a global function", "`function name()` assigns a global or a table field: use `local function`")),
            Stmt::GenericFor(g) => Err(self.unsup(g, "a generic for", "generic `for ... in` loops are not in the kernel-tier subset: use a numeric `for` or `while`")),
            Stmt::Goto(g) => Err(self.unsup(g, "goto", "`goto` is not in the kernel-tier subset")),
            Stmt::Label(g) => Err(self.unsup(g, "a label", "labels are not in the kernel-tier subset")),
            other => Err(self.unsup(other, "a statement", "this statement is not in the kernel-tier subset")),
        }
    }

    fn last_stmt(&mut self, l: &'a LastStmt) -> R<()> {
        self.set_line(l);
        match l {
            LastStmt::Break(t) => {
                let frame = self.frames.len() - 1;
                let Some(lp) = self.loops.last() else {
                    return Err(self.unsup(t, "break", "`break` outside a loop"));
                };
                if lp.frame != frame {
                    return Err(self.unsup(t, "break", "`break` outside a loop"));
                }
                let exit = lp.exit;
                self.edge(exit, vec![]);
                Ok(())
            }
            LastStmt::Return(r) => {
                let vals = self.exprs(r.returns(), None)?;
                let frame = self.frames.last().and_then(|f| f.join);
                match frame {
                    Some(j) => {
                        self.edge(j, vals);
                        Ok(())
                    }
                    None => self.hook_return(vals, l),
                }
            }
            other => Err(self.unsup(
                other,
                "a statement",
                "this statement is not in the kernel-tier subset",
            )),
        }
    }

    /// `return verdict` from the hook: an integer in 0..=4, and nothing but nil after it.
    fn hook_return(&mut self, vals: Vec<SVal<'a>>, at: &LastStmt) -> R<()> {
        if let Some(second) = vals.get(1) {
            match second {
                SVal::Nil => {}
                SVal::OptInt { flag, .. } => {
                    let f = self.fail;
                    self.br(Cond::Ne, *flag, Opnd::Imm(0), f);
                }
                SVal::Truthy(_) => {
                    return Err(self.unsup(
                        at,
                        "a second return value",
                        "a second return value that may be false: XDP hooks return one verdict",
                    ))
                }
                _ => {
                    self.fail_now();
                    return Ok(());
                }
            }
        }
        let v = vals.into_iter().next().unwrap_or(SVal::Nil);
        let v = match v {
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                SVal::Int(val)
            }
            v => v,
        };
        match v {
            SVal::Int(Opnd::Imm(k)) if (0..=4).contains(&k) => {
                self.emit(Inst::Ret { src: Opnd::Imm(k) })
            }
            SVal::Int(Opnd::V(r)) => {
                let f = self.fail;
                self.br(Cond::Gt, Opnd::V(r), Opnd::Imm(4), f);
                self.emit(Inst::Ret { src: Opnd::V(r) });
            }
            SVal::Truthy(_)
            | SVal::Bool(_)
            | SVal::Nil
            | SVal::Int(_)
            | SVal::Slice { .. }
            | SVal::Const(_)
            | SVal::Dead => self.fail_now(),
            other => {
                return Err(self.unsup(
                    at,
                    "a return value",
                    format!(
                        "the hook returns {}: it must return a verdict",
                        other.describe()
                    ),
                ))
            }
        }
        Ok(())
    }

    // ---- loops ----

    fn run_loop(&mut self, s: &'a Stmt, shape: LoopShape<'a>) -> R<()> {
        self.loop_driver(s, &shape)
    }

    fn numeric_for(&mut self, s: &'a Stmt, f: &'a full_moon::ast::NumericFor) -> R<()> {
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
                let mv = types::convert(&cur, kind, &homes)
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
                let k = types::merge(&[&head_val, &v, &entry_val])
                    .map_err(|m| self.unsup_at(&at, "a loop-carried value", m))?;
                kinds.insert(slot, k);
            }
            self.restore(&mark);
        }
        Err(self.internal("the kinds of a loop's locals did not settle"))
    }

    fn loop_prologue(&mut self, shape: &LoopShape<'a>, exit: usize) -> R<LoopPre> {
        // With may_goto the kernel keeps the count; `Some(u32::MAX)` marks "bounded".
        let counter = |l: &mut Self| {
            if l.loop_bound == LoopBound::MayGoto {
                return Some(VReg::MAX);
            }
            let c = l.vreg();
            l.emit(Inst::Mov {
                dst: c,
                src: Opnd::Imm(0),
            });
            Some(c)
        };
        match shape {
            LoopShape::While(..) | LoopShape::Repeat(..) => Ok(LoopPre {
                counter: counter(self),
                iv: None,
                count: None,
                last: None,
            }),
            LoopShape::For {
                init, limit, step, ..
            } => {
                let (init, limit, step) = (*init, *limit, *step);
                if let (Opnd::Imm(a), Opnd::Imm(b)) = (init, limit) {
                    let skip = if step > 0 { a > b } else { a < b };
                    if skip {
                        self.edge(exit, vec![]);
                        // The body is never run; the code after the jump is unreachable.
                        return Ok(LoopPre {
                            counter: None,
                            iv: None,
                            count: None,
                            last: None,
                        });
                    }
                    let count = if step > 0 {
                        (b as u64).wrapping_sub(a as u64) / step as u64
                    } else {
                        (a as u64).wrapping_sub(b as u64) / ((-(step + 1)) as u64 + 1)
                    };
                    let last = a.wrapping_add((count as i64).wrapping_mul(step));
                    let iv = self.mov(Opnd::Imm(a));
                    let counter = if count < LOOP_CAP as u64 {
                        None
                    } else {
                        let c = self.vreg();
                        self.emit(Inst::Mov {
                            dst: c,
                            src: Opnd::Imm(0),
                        });
                        Some(c)
                    };
                    return Ok(LoopPre {
                        counter,
                        iv: Some(iv),
                        count: None,
                        last: Some(last),
                    });
                }
                // if not (init <= limit) (for positive steps) skip the loop
                if step > 0 {
                    self.edge_br(Cond::Sgt, init, limit, exit);
                } else {
                    self.edge_br(Cond::Slt, init, limit, exit);
                }
                let count = self.vreg();
                if step > 0 {
                    self.emit(Inst::Mov {
                        dst: count,
                        src: limit,
                    });
                    self.emit(Inst::Alu {
                        op: AluOp::Sub,
                        dst: count,
                        src: init,
                    });
                    if step != 1 {
                        let d = self.divisor(step as u64);
                        self.emit(Inst::Alu {
                            op: AluOp::Div,
                            dst: count,
                            src: d,
                        });
                    }
                } else {
                    self.emit(Inst::Mov {
                        dst: count,
                        src: init,
                    });
                    self.emit(Inst::Alu {
                        op: AluOp::Sub,
                        dst: count,
                        src: limit,
                    });
                    let d = (-(step + 1)) as u64 + 1;
                    if d != 1 {
                        let d = self.divisor(d);
                        self.emit(Inst::Alu {
                            op: AluOp::Div,
                            dst: count,
                            src: d,
                        });
                    }
                }
                let iv = self.mov(init);
                // The control variable is exact in the verifier's eyes whatever bounds it, so
                // pruning cannot help: a hidden counter caps the walk at LOOP_CAP.
                let c = self.vreg();
                self.emit(Inst::Mov {
                    dst: c,
                    src: Opnd::Imm(0),
                });
                Ok(LoopPre {
                    counter: Some(c),
                    iv: Some(iv),
                    count: Some(count),
                    last: None,
                })
            }
        }
    }

    /// An unsigned divisor as an operand (immediates must fit 31 bits).
    fn divisor(&mut self, d: u64) -> Opnd {
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
                Some((kind, homes)) => match types::convert(cur, kind, homes) {
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

    // ---- expressions ----

    /// An expression list, the last one expanded to all its values; padded or cut to `want`.
    fn exprs(&mut self, es: &'a Punctuated<Expression>, want: Option<usize>) -> R<Vec<SVal<'a>>> {
        let list: Vec<&'a Expression> = es.iter().collect();
        let mut out = Vec::new();
        for (i, e) in list.iter().enumerate() {
            if i + 1 == list.len() {
                out.extend(self.multi(e)?);
            } else {
                out.push(self.expr(e)?);
            }
        }
        if let Some(n) = want {
            out.resize(n, SVal::Nil);
        }
        Ok(out)
    }

    /// All values of an expression (a call may give several).
    fn multi(&mut self, e: &'a Expression) -> R<Vec<SVal<'a>>> {
        match e {
            Expression::FunctionCall(fc) => {
                self.call_chain(fc.prefix(), fc.suffixes().collect(), fc)
            }
            Expression::Var(Var::Expression(ve)) => {
                let sufs: Vec<&'a Suffix> = ve.suffixes().collect();
                if matches!(sufs.last(), Some(Suffix::Call(_))) {
                    self.call_chain(ve.prefix(), sufs, e)
                } else {
                    Ok(vec![self.expr(e)?])
                }
            }
            Expression::Symbol(t) if t.is_symbol(Symbol::Ellipsis) => Err(self.unsup(
                t,
                "varargs",
                "varargs (`...`) are not in the kernel-tier subset",
            )),
            _ => Ok(vec![self.expr(e)?]),
        }
    }

    fn expr(&mut self, e: &'a Expression) -> R<SVal<'a>> {
        match e {
            Expression::Number(t) => {
                let text = match t.token_type() {
                    TokenType::Number { text } => text.to_string(),
                    _ => return Err(self.internal("number token")),
                };
                match source::number_value(&text) {
                    Some(Number::Int(k)) => Ok(SVal::Int(Opnd::Imm(k))),
                    Some(Number::Float(_)) => Err(self.unsup(t, "a float", format!("{text} is a float: floats are not in the kernel-tier subset"))),
                    None => Err(self.unsup(t, "a number", format!("cannot read the number {text}"))),
                }
            }
            Expression::String(t) => {
                let b = source::literal(self.parsed, t).map_err(|m| self.unsup(t, "a string", m))?;
                Ok(SVal::Const(Rc::new(Value::Str(b))))
            }
            Expression::Symbol(t) => match t.token_type() {
                TokenType::Symbol { symbol: Symbol::True } => Ok(SVal::Bool(Opnd::Imm(1))),
                TokenType::Symbol { symbol: Symbol::False } => Ok(SVal::Bool(Opnd::Imm(0))),
                TokenType::Symbol { symbol: Symbol::Nil } => Ok(SVal::Nil),
                TokenType::Symbol { symbol: Symbol::Ellipsis } => {
                    Err(self.unsup(t, "varargs", "varargs (`...`) are not in the kernel-tier subset"))
                }
                _ => Err(self.unsup(t, "a symbol", "this expression is not in the kernel-tier subset")),
            },
            Expression::Parentheses { expression, .. } => self.expr(expression),
            Expression::Var(Var::Name(t)) => self.name(t),
            Expression::Var(Var::Expression(ve)) => {
                let sufs: Vec<&'a Suffix> = ve.suffixes().collect();
                let vals = self.call_chain(ve.prefix(), sufs, e)?;
                Ok(vals.into_iter().next().unwrap_or(SVal::Nil))
            }
            Expression::FunctionCall(fc) => {
                let vals = self.call_chain(fc.prefix(), fc.suffixes().collect(), fc)?;
                Ok(vals.into_iter().next().unwrap_or(SVal::Nil))
            }
            Expression::TableConstructor(t) => Err(self.unsup(&**t, "a table constructor", "a table constructor in a hook builds a table per packet: not in the kernel-tier subset (build tables in the script's body)")),
            Expression::Function(f) => Err(self.unsup(&**f, "a closure", "a function expression makes a closure per packet: not in the kernel-tier subset (use `local function`)")),
            Expression::UnaryOperator { unop, expression } => self.unary(unop, expression, e),
            Expression::BinaryOperator { lhs, binop, rhs } => self.binary(lhs, binop, rhs, e),
            other => Err(self.unsup(other, "an expression", "this expression is not in the kernel-tier subset")),
        }
    }

    fn name(&mut self, t: &TokenReference) -> R<SVal<'a>> {
        let n = name_of(t);
        match self.env.lookup(&n) {
            Binding::Local(s) => Ok(self.slots[s].clone()),
            Binding::Upvalue(v) => Ok(SVal::from_value(&v)),
            // The sandbox's `print`: to the state's log through a ring buffer.
            Binding::Global if n == "print" => Ok(SVal::Builtin("print".into())),
            Binding::Global => Err(global(self.file, t, &n)),
        }
    }

    /// A value used as an integer operand: nil is a run-time error (the default verdict), a
    /// maybe-integer is checked.
    fn int_operand<N: Node>(&mut self, v: SVal<'a>, n: &N, what: &str) -> R<Opnd> {
        match v {
            SVal::Int(o) => Ok(o),
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                Ok(val)
            }
            SVal::Nil => {
                self.fail_now();
                Ok(Opnd::Imm(0))
            }
            other => Err(self.unsup(
                n,
                "a type error",
                format!("{what} must be an integer, not {}", other.describe()),
            )),
        }
    }

    fn unary(&mut self, op: &'a UnOp, x: &'a Expression, e: &'a Expression) -> R<SVal<'a>> {
        match op {
            UnOp::Not(_) => {
                let v = self.expr(x)?;
                match v.static_truth() {
                    Some(t) => Ok(SVal::Bool(Opnd::Imm((!t) as i64))),
                    None => {
                        let flag = match v {
                            SVal::Bool(o) | SVal::Truthy(o) => o,
                            SVal::OptInt { flag, .. } => flag,
                            _ => return Err(self.internal("truth of a value")),
                        };
                        let r = self.mov(flag);
                        self.emit(Inst::Alu {
                            op: AluOp::Xor,
                            dst: r,
                            src: Opnd::Imm(1),
                        });
                        Ok(SVal::Bool(Opnd::V(r)))
                    }
                }
            }
            UnOp::Minus(_) => {
                let v = self.expr(x)?;
                let o = self.int_operand(v, x, "the operand of unary minus")?;
                Ok(SVal::Int(match o {
                    Opnd::Imm(k) => Opnd::Imm(k.wrapping_neg()),
                    o => {
                        let r = self.mov(o);
                        self.emit(Inst::Neg { dst: r });
                        Opnd::V(r)
                    }
                }))
            }
            UnOp::Tilde(_) => {
                let v = self.expr(x)?;
                let o = self.int_operand(v, x, "the operand of `~`")?;
                Ok(SVal::Int(match o {
                    Opnd::Imm(k) => Opnd::Imm(!k),
                    o => {
                        let r = self.mov(o);
                        self.emit(Inst::Alu {
                            op: AluOp::Xor,
                            dst: r,
                            src: Opnd::Imm(-1),
                        });
                        Opnd::V(r)
                    }
                }))
            }
            UnOp::Hash(_) => {
                let v = self.expr(x)?;
                match v {
                    SVal::Data(DataObj::Packet) => {
                        let r = self.vreg();
                        self.emit(Inst::PktLen { dst: r });
                        self.umax.insert(r, 0xffff);
                        Ok(SVal::Int(Opnd::V(r)))
                    }
                    SVal::Data(DataObj::Argument) => Ok(SVal::Int(Opnd::Imm(0))),
                    SVal::Slice { len, .. } => Ok(SVal::Int(len)),
                    SVal::Const(c) if matches!(&*c, Value::Str(_)) => match &*c {
                        Value::Str(s) => Ok(SVal::Int(Opnd::Imm(s.len() as i64))),
                        _ => unreachable_ok(),
                    },
                    SVal::Nil => {
                        self.fail_now();
                        Ok(SVal::Int(Opnd::Imm(0)))
                    }
                    other => Err(self.unsup(
                        e,
                        "a length",
                        format!(
                            "the length of {} is not in the kernel-tier subset",
                            other.describe()
                        ),
                    )),
                }
            }
            other => Err(self.unsup(
                other,
                "an operator",
                "this operator is not in the kernel-tier subset",
            )),
        }
    }

    fn binary(
        &mut self,
        lhs: &'a Expression,
        op: &'a BinOp,
        rhs: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        let arith = match op {
            BinOp::Plus(_) => Some(Arith::Add),
            BinOp::Minus(_) => Some(Arith::Sub),
            BinOp::Star(_) => Some(Arith::Mul),
            BinOp::DoubleSlash(_) => Some(Arith::IDiv),
            BinOp::Percent(_) => Some(Arith::Mod),
            BinOp::Ampersand(_) => Some(Arith::And),
            BinOp::Pipe(_) => Some(Arith::Or),
            BinOp::Tilde(_) => Some(Arith::Xor),
            BinOp::DoubleLessThan(_) => Some(Arith::Shl),
            BinOp::DoubleGreaterThan(_) => Some(Arith::Shr),
            _ => None,
        };
        if let Some(a) = arith {
            let l = self.expr(lhs)?;
            let r = self.expr(rhs)?;
            let what = format!("an operand of `{}`", op.token().token());
            let lo = self.int_operand(l, lhs, &what)?;
            let ro = self.int_operand(r, rhs, &what)?;
            return Ok(SVal::Int(self.arith(a, lo, ro)));
        }
        match op {
            BinOp::TwoDots(_) => Err(self.unsup(e, "a string built at run time", "`..` builds a string per packet: not in the kernel-tier subset")),
            BinOp::Slash(_) | BinOp::Caret(_) => Err(self.unsup(op, "float arithmetic", format!(
                "`{}` gives a float: floats are not in the kernel-tier subset (use `//` for integer division)",
                op.token().token()
            ))),
            BinOp::And(_) => self.and_value(lhs, rhs, e),
            BinOp::Or(_) => self.or_value(lhs, rhs, e),
            BinOp::TwoEqual(_)
            | BinOp::TildeEqual(_)
            | BinOp::LessThan(_)
            | BinOp::LessThanEqual(_)
            | BinOp::GreaterThan(_)
            | BinOp::GreaterThanEqual(_) => {
                // A comparison as a value: a boolean.
                let r = self.vreg();
                self.emit(Inst::Mov { dst: r, src: Opnd::Imm(0) });
                let skip = self.label();
                self.test(e, false, skip)?;
                self.emit(Inst::Mov { dst: r, src: Opnd::Imm(1) });
                self.place_label(skip);
                self.dead = false;
                Ok(SVal::Bool(Opnd::V(r)))
            }
            other => Err(self.unsup(other, "an operator", "this operator is not in the kernel-tier subset")),
        }
    }

    /// `a and b` as a value.
    fn and_value(
        &mut self,
        lhs: &'a Expression,
        rhs: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        let va = self.expr(lhs)?;
        match va.static_truth() {
            Some(true) => return self.expr(rhs),
            Some(false) => return Ok(va),
            None => {}
        }
        let j = self.new_join(loc(e));
        let (flag, falsy) = self.truth_parts(&va)?;
        if let Some(l) = self.edge_label(j, vec![falsy]) {
            self.br(Cond::Eq, flag, Opnd::Imm(0), l);
        }
        let vb = self.expr(rhs)?;
        self.edge(j, vec![vb]);
        Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil))
    }

    /// `a or b` as a value, and the `c and x or y` idiom.
    fn or_value(
        &mut self,
        lhs: &'a Expression,
        rhs: &'a Expression,
        e: &'a Expression,
    ) -> R<SVal<'a>> {
        if let Expression::BinaryOperator {
            lhs: c,
            binop: BinOp::And(_),
            rhs: x,
        } = strip_parens(lhs)
        {
            // c and x or y: x when c is truthy and x is, else y.
            let j = self.new_join(loc(e));
            let else_l = self.label();
            self.test(c, false, else_l)?;
            let at_else = self.slots.clone();
            let vx = self.expr(x)?;
            if self.slots.iter().zip(&at_else).any(|(a, b)| a != b) {
                return Err(self.unsup(x, "a value with side effects", "in `c and x or y`, an `x` whose function calls change local variables is not in the kernel-tier subset"));
            }
            match vx.static_truth() {
                Some(true) => self.edge(j, vec![vx]),
                Some(false) => self.jmp(else_l),
                None => {
                    let (flag, _) = self.truth_parts(&vx)?;
                    self.br(Cond::Eq, flag, Opnd::Imm(0), else_l);
                    let t = self.truthy_part(&vx);
                    self.edge(j, vec![t]);
                }
            }
            self.slots = at_else;
            self.dead = true;
            self.place_label(else_l);
            let vy = self.expr(rhs)?;
            self.edge(j, vec![vy]);
            return Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil));
        }
        let va = self.expr(lhs)?;
        match va.static_truth() {
            Some(true) => return Ok(va),
            Some(false) => return self.expr(rhs),
            None => {}
        }
        let j = self.new_join(loc(e));
        let (flag, _) = self.truth_parts(&va)?;
        let t = self.truthy_part(&va);
        if let Some(l) = self.edge_label(j, vec![t]) {
            self.br(Cond::Ne, flag, Opnd::Imm(0), l);
        }
        let vb = self.expr(rhs)?;
        self.edge(j, vec![vb]);
        Ok(self.place(j)?.into_iter().next().unwrap_or(SVal::Nil))
    }

    /// The truth flag of a value whose truth is known only at run time, and the value it
    /// has when falsy.
    fn truth_parts(&self, v: &SVal<'a>) -> R<(Opnd, SVal<'a>)> {
        match v {
            SVal::Bool(o) => Ok((*o, SVal::Bool(Opnd::Imm(0)))),
            SVal::Truthy(o) => Ok((*o, SVal::Truthy(Opnd::Imm(0)))),
            SVal::OptInt { flag, .. } => Ok((*flag, SVal::Nil)),
            other => Err(self.internal(format!("truth of {}", other.describe()))),
        }
    }

    /// What a value is when it is truthy.
    fn truthy_part(&self, v: &SVal<'a>) -> SVal<'a> {
        match v {
            SVal::Bool(_) => SVal::Bool(Opnd::Imm(1)),
            SVal::Truthy(_) => SVal::Truthy(Opnd::Imm(1)),
            SVal::OptInt { val, .. } => SVal::Int(*val),
            other => other.clone(),
        }
    }

    // ---- arithmetic ----

    fn arith(&mut self, op: Arith, a: Opnd, b: Opnd) -> Opnd {
        if let (Opnd::Imm(x), Opnd::Imm(y)) = (a, b) {
            return match op {
                Arith::Add => Opnd::Imm(x.wrapping_add(y)),
                Arith::Sub => Opnd::Imm(x.wrapping_sub(y)),
                Arith::Mul => Opnd::Imm(x.wrapping_mul(y)),
                Arith::And => Opnd::Imm(x & y),
                Arith::Or => Opnd::Imm(x | y),
                Arith::Xor => Opnd::Imm(x ^ y),
                Arith::Shl => Opnd::Imm(lua_shl(x, y)),
                Arith::Shr => Opnd::Imm(lua_shl(x, y.wrapping_neg())),
                Arith::IDiv | Arith::Mod if y == 0 => {
                    self.fail_now();
                    Opnd::Imm(0)
                }
                Arith::IDiv => Opnd::Imm(lua_idiv(x, y)),
                Arith::Mod => Opnd::Imm(lua_mod(x, y)),
            };
        }
        let simple = |op: Arith| match op {
            Arith::Add => Some(AluOp::Add),
            Arith::Sub => Some(AluOp::Sub),
            Arith::Mul => Some(AluOp::Mul),
            Arith::And => Some(AluOp::And),
            Arith::Or => Some(AluOp::Or),
            Arith::Xor => Some(AluOp::Xor),
            _ => None,
        };
        if let Some(alu) = simple(op) {
            // Commutative operations keep the immediate on the right.
            let (a, b) = match (a, b) {
                (Opnd::Imm(_), Opnd::V(_)) if op != Arith::Sub => (b, a),
                _ => (a, b),
            };
            let r = self.mov(a);
            self.emit(Inst::Alu {
                op: alu,
                dst: r,
                src: b,
            });
            let bound = |o: Opnd, l: &Self| match o {
                Opnd::Imm(k) if k >= 0 => Some(k as u64),
                Opnd::V(v) => l.umax.get(&v).copied(),
                _ => None,
            };
            let (ba, bb) = (bound(a, self), bound(b, self));
            let m = match (op, ba, bb) {
                (Arith::Add, Some(x), Some(y)) => x.checked_add(y),
                (Arith::Mul, Some(x), Some(y)) => x.checked_mul(y),
                (Arith::And, x, y) => match (x, y) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (Some(x), None) | (None, Some(x)) => Some(x),
                    _ => None,
                },
                (Arith::Or | Arith::Xor, Some(x), Some(y)) => {
                    Some(u64::MAX.checked_shr(x.max(y).leading_zeros()).unwrap_or(0))
                }
                _ => None,
            };
            if let Some(m) = m.filter(|m| *m < 1 << 62) {
                self.umax.insert(r, m);
            }
            if let (Opnd::V(x), Opnd::Imm(k), Arith::Add | Arith::Sub) = (a, b, op) {
                let k = if op == Arith::Sub {
                    k.checked_neg()
                } else {
                    Some(k)
                };
                let (base, k0) = self.affine.get(&x).copied().unwrap_or((x, 0));
                if let Some(sum) = k.and_then(|k| k.checked_add(k0)) {
                    if sum.abs() <= MAX_CONST_END {
                        self.affine.insert(r, (base, sum));
                    }
                }
            }
            return Opnd::V(r);
        }
        match op {
            Arith::Shl => self.shift(a, b, false),
            Arith::Shr => self.shift(a, b, true),
            Arith::IDiv => self.idiv(a, b),
            Arith::Mod => self.modulo(a, b),
            _ => Opnd::Imm(0),
        }
    }

    /// Lua's `a << b` (or `a >> b` when `right`).
    fn shift(&mut self, a: Opnd, b: Opnd, right: bool) -> Opnd {
        if let Opnd::Imm(y) = b {
            let y = if right { y.wrapping_neg() } else { y };
            if y <= -64 || y >= 64 {
                return Opnd::Imm(0);
            }
            if y == 0 {
                return a;
            }
            let r = self.mov(a);
            let (op, n) = if y > 0 {
                (AluOp::Lsh, y)
            } else {
                (AluOp::Rsh, -y)
            };
            self.emit(Inst::Alu {
                op,
                dst: r,
                src: Opnd::Imm(n),
            });
            if op == AluOp::Rsh {
                let m = match a {
                    Opnd::V(v) => self.umax.get(&v).copied().unwrap_or(u64::MAX),
                    Opnd::Imm(_) => u64::MAX,
                };
                self.umax.insert(r, m >> n);
            }
            return Opnd::V(r);
        }
        // count in a register: left shift by `count`, negative counts shift right
        let count = self.mov(b);
        if right {
            self.emit(Inst::Neg { dst: count });
        }
        let r = self.vreg();
        self.emit(Inst::Mov {
            dst: r,
            src: Opnd::Imm(0),
        });
        let done = self.label();
        let neg = self.label();
        self.br(Cond::Sgt, Opnd::V(count), Opnd::Imm(63), done);
        self.br(Cond::Slt, Opnd::V(count), Opnd::Imm(-63), done);
        self.br(Cond::Slt, Opnd::V(count), Opnd::Imm(0), neg);
        self.emit(Inst::Mov { dst: r, src: a });
        self.emit(Inst::Alu {
            op: AluOp::Lsh,
            dst: r,
            src: Opnd::V(count),
        });
        self.jmp(done);
        self.place_label(neg);
        self.emit(Inst::Neg { dst: count });
        self.emit(Inst::Mov { dst: r, src: a });
        self.emit(Inst::Alu {
            op: AluOp::Rsh,
            dst: r,
            src: Opnd::V(count),
        });
        self.place_label(done);
        Opnd::V(r)
    }

    /// Lua's floor division `a // b`.
    fn idiv(&mut self, a: Opnd, b: Opnd) -> Opnd {
        if let Opnd::Imm(d) = b {
            if d == 0 {
                self.fail_now();
                return Opnd::Imm(0);
            }
            if d == 1 {
                return a;
            }
            if d == -1 {
                let r = self.mov(a);
                self.emit(Inst::Neg { dst: r });
                return Opnd::V(r);
            }
            if d > 0 && d <= i32::MAX as i64 {
                let r = self.mov(a);
                if d.count_ones() == 1 {
                    self.emit(Inst::Alu {
                        op: AluOp::Arsh,
                        dst: r,
                        src: Opnd::Imm(d.trailing_zeros() as i64),
                    });
                    return Opnd::V(r);
                }
                // floor(a / d) = a >= 0 ? a /u d : ~(~a /u d)
                let neg = self.label();
                let done = self.label();
                self.br(Cond::Slt, Opnd::V(r), Opnd::Imm(0), neg);
                self.emit(Inst::Alu {
                    op: AluOp::Div,
                    dst: r,
                    src: b,
                });
                self.jmp(done);
                self.place_label(neg);
                self.emit(Inst::Alu {
                    op: AluOp::Xor,
                    dst: r,
                    src: Opnd::Imm(-1),
                });
                self.emit(Inst::Alu {
                    op: AluOp::Div,
                    dst: r,
                    src: b,
                });
                self.emit(Inst::Alu {
                    op: AluOp::Xor,
                    dst: r,
                    src: Opnd::Imm(-1),
                });
                self.place_label(done);
                return Opnd::V(r);
            }
        }
        self.idiv_general(a, b)
    }

    /// Floor division with the divisor in a register: 0 is an error, -1 negates (so that
    /// `math.mininteger // -1` wraps as in Lua), the rest divides magnitudes and corrects.
    fn idiv_general(&mut self, a: Opnd, b: Opnd) -> Opnd {
        let bv = match b {
            Opnd::V(v) => v,
            Opnd::Imm(_) => self.mov(b),
        };
        let av = match a {
            Opnd::V(v) => v,
            Opnd::Imm(_) => self.mov(a),
        };
        let f = self.fail;
        self.br(Cond::Eq, Opnd::V(bv), Opnd::Imm(0), f);
        let q = self.vreg();
        let m1 = self.label();
        let done = self.label();
        self.br(Cond::Eq, Opnd::V(bv), Opnd::Imm(-1), m1);
        let ua = self.mov(Opnd::V(av));
        let l1 = self.label();
        self.br(Cond::Sge, Opnd::V(ua), Opnd::Imm(0), l1);
        self.emit(Inst::Neg { dst: ua });
        self.place_label(l1);
        let ub = self.mov(Opnd::V(bv));
        let l2 = self.label();
        self.br(Cond::Sge, Opnd::V(ub), Opnd::Imm(0), l2);
        self.emit(Inst::Neg { dst: ub });
        self.place_label(l2);
        self.emit(Inst::Mov {
            dst: q,
            src: Opnd::V(ua),
        });
        self.emit(Inst::Alu {
            op: AluOp::Div,
            dst: q,
            src: Opnd::V(ub),
        });
        // same signs: q is the quotient
        let t = self.mov(Opnd::V(av));
        self.emit(Inst::Alu {
            op: AluOp::Xor,
            dst: t,
            src: Opnd::V(bv),
        });
        self.br(Cond::Sge, Opnd::V(t), Opnd::Imm(0), done);
        // different signs: -q, minus one more when the division was not exact
        self.emit(Inst::Alu {
            op: AluOp::Mod,
            dst: ua,
            src: Opnd::V(ub),
        });
        self.emit(Inst::Neg { dst: q });
        self.br(Cond::Eq, Opnd::V(ua), Opnd::Imm(0), done);
        self.emit(Inst::Alu {
            op: AluOp::Sub,
            dst: q,
            src: Opnd::Imm(1),
        });
        self.jmp(done);
        self.place_label(m1);
        self.emit(Inst::Mov {
            dst: q,
            src: Opnd::V(av),
        });
        self.emit(Inst::Neg { dst: q });
        self.place_label(done);
        Opnd::V(q)
    }

    /// Lua's floor modulo `a % b`.
    fn modulo(&mut self, a: Opnd, b: Opnd) -> Opnd {
        if let Opnd::Imm(d) = b {
            if d == 0 {
                self.fail_now();
                return Opnd::Imm(0);
            }
            if d == 1 || d == -1 {
                return Opnd::Imm(0);
            }
            if d > 0 && d <= i32::MAX as i64 {
                let r = self.mov(a);
                if d.count_ones() == 1 {
                    self.emit(Inst::Alu {
                        op: AluOp::And,
                        dst: r,
                        src: Opnd::Imm(d - 1),
                    });
                    return Opnd::V(r);
                }
                // a >= 0 ? a %u d : d - 1 - (~a %u d)
                let neg = self.label();
                let done = self.label();
                self.br(Cond::Slt, Opnd::V(r), Opnd::Imm(0), neg);
                self.emit(Inst::Alu {
                    op: AluOp::Mod,
                    dst: r,
                    src: b,
                });
                self.jmp(done);
                self.place_label(neg);
                self.emit(Inst::Alu {
                    op: AluOp::Xor,
                    dst: r,
                    src: Opnd::Imm(-1),
                });
                self.emit(Inst::Alu {
                    op: AluOp::Mod,
                    dst: r,
                    src: b,
                });
                self.emit(Inst::Neg { dst: r });
                self.emit(Inst::Alu {
                    op: AluOp::Add,
                    dst: r,
                    src: Opnd::Imm(d - 1),
                });
                self.place_label(done);
                return Opnd::V(r);
            }
        }
        // a - (a // b) * b
        let q = self.idiv_general(a, b);
        let p = self.mov(q);
        self.emit(Inst::Alu {
            op: AluOp::Mul,
            dst: p,
            src: b,
        });
        let r = self.mov(a);
        self.emit(Inst::Alu {
            op: AluOp::Sub,
            dst: r,
            src: Opnd::V(p),
        });
        Opnd::V(r)
    }

    // ---- conditions ----

    /// Jumps to `target` when `e`'s truth is `sense`, falls through otherwise. The locals may
    /// not change on the way (a call in a condition that assigns outer locals is refused).
    fn test(&mut self, e: &'a Expression, sense: bool, target: Label) -> R<()> {
        let before: Vec<SVal<'a>> = self.slots.clone();
        self.test_inner(e, sense, target)?;
        let changed = before.iter().zip(&self.slots).any(|(a, b)| a != b);
        if changed {
            return Err(self.unsup(e, "a condition with side effects", "a condition whose function calls change local variables is not in the kernel-tier subset"));
        }
        Ok(())
    }

    fn test_inner(&mut self, e: &'a Expression, sense: bool, target: Label) -> R<()> {
        match e {
            Expression::Parentheses { expression, .. } => {
                self.test_inner(expression, sense, target)
            }
            Expression::UnaryOperator {
                unop: UnOp::Not(_),
                expression,
            } => self.test_inner(expression, !sense, target),
            Expression::BinaryOperator { lhs, binop, rhs } => match binop {
                BinOp::And(_) => {
                    if sense {
                        let skip = self.label();
                        self.test_inner(lhs, false, skip)?;
                        self.test_inner(rhs, true, target)?;
                        self.place_label(skip);
                    } else {
                        self.test_inner(lhs, false, target)?;
                        self.test_inner(rhs, false, target)?;
                    }
                    Ok(())
                }
                BinOp::Or(_) => {
                    if sense {
                        self.test_inner(lhs, true, target)?;
                        self.test_inner(rhs, true, target)?;
                    } else {
                        let skip = self.label();
                        self.test_inner(lhs, true, skip)?;
                        self.test_inner(rhs, false, target)?;
                        self.place_label(skip);
                    }
                    Ok(())
                }
                BinOp::TwoEqual(_) => self.compare(Cmp::Eq, lhs, rhs, sense, target, e),
                BinOp::TildeEqual(_) => self.compare(Cmp::Ne, lhs, rhs, sense, target, e),
                BinOp::LessThan(_) => self.compare(Cmp::Lt, lhs, rhs, sense, target, e),
                BinOp::LessThanEqual(_) => self.compare(Cmp::Le, lhs, rhs, sense, target, e),
                BinOp::GreaterThan(_) => self.compare(Cmp::Gt, lhs, rhs, sense, target, e),
                BinOp::GreaterThanEqual(_) => self.compare(Cmp::Ge, lhs, rhs, sense, target, e),
                _ => {
                    let v = self.expr(e)?;
                    self.test_value(&v, sense, target)
                }
            },
            _ => {
                let v = self.expr(e)?;
                self.test_value(&v, sense, target)
            }
        }
    }

    fn test_value(&mut self, v: &SVal<'a>, sense: bool, target: Label) -> R<()> {
        match v.static_truth() {
            Some(t) => {
                if t == sense {
                    self.jmp(target);
                }
            }
            None => {
                let (flag, _) = self.truth_parts(v)?;
                self.br(
                    if sense { Cond::Ne } else { Cond::Eq },
                    flag,
                    Opnd::Imm(0),
                    target,
                );
            }
        }
        Ok(())
    }

    fn compare(
        &mut self,
        op: Cmp,
        lhs: &'a Expression,
        rhs: &'a Expression,
        sense: bool,
        target: Label,
        e: &'a Expression,
    ) -> R<()> {
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        match op {
            Cmp::Eq | Cmp::Ne => {
                // jump when (a == b) == want
                let want = (op == Cmp::Eq) == sense;
                self.equality(a, b, want, target, e)
            }
            _ => {
                let (cond, a, b) = match op {
                    Cmp::Lt => (Cond::Slt, a, b),
                    Cmp::Le => (Cond::Sle, a, b),
                    Cmp::Gt => (Cond::Slt, b, a),
                    _ => (Cond::Sle, b, a),
                };
                let both_str = matches!((&a, &b), (SVal::Const(x), SVal::Const(y)) if matches!((&**x, &**y), (Value::Str(_), Value::Str(_))));
                if both_str {
                    let (SVal::Const(x), SVal::Const(y)) = (&a, &b) else {
                        return Err(self.internal("strings"));
                    };
                    let (Value::Str(x), Value::Str(y)) = (&**x, &**y) else {
                        return Err(self.internal("strings"));
                    };
                    let r = if cond == Cond::Slt { x < y } else { x <= y };
                    if r == sense {
                        self.jmp(target);
                    }
                    return Ok(());
                }
                let what = "an operand of an order comparison";
                let ao = self.int_operand(a, e, what)?;
                let bo = self.int_operand(b, e, what)?;
                let cond = if sense { cond } else { cond.negate() };
                self.br(cond, ao, bo, target);
                Ok(())
            }
        }
    }

    /// Jumps to `target` when `(a == b) == want`.
    fn equality(
        &mut self,
        a: SVal<'a>,
        b: SVal<'a>,
        want: bool,
        target: Label,
        e: &'a Expression,
    ) -> R<()> {
        use SVal as S;
        let jump_if = |l: &mut Self, eq: bool| {
            if eq == want {
                l.jmp(target);
            }
        };
        // Put the "bigger" kind on the left to halve the cases.
        let rank = |v: &SVal| match v {
            S::Slice { .. } => 0,
            S::OptInt { .. } => 1,
            S::Truthy(_) => 2,
            _ => 3,
        };
        let (a, b) = if rank(&b) < rank(&a) { (b, a) } else { (a, b) };
        match (&a, &b) {
            (S::Int(x), S::Int(y)) | (S::Bool(x), S::Bool(y)) => {
                let cond = if want { Cond::Eq } else { Cond::Ne };
                self.br(cond, *x, *y, target);
                Ok(())
            }
            (S::Nil, S::Nil) => {
                jump_if(self, true);
                Ok(())
            }
            (S::OptInt { flag, val }, S::Int(y)) => {
                if want {
                    let skip = self.label();
                    self.br(Cond::Eq, *flag, Opnd::Imm(0), skip);
                    self.br(Cond::Eq, *val, *y, target);
                    self.place_label(skip);
                } else {
                    self.br(Cond::Eq, *flag, Opnd::Imm(0), target);
                    self.br(Cond::Ne, *val, *y, target);
                }
                Ok(())
            }
            (S::OptInt { flag, .. }, S::Nil) => {
                self.br(
                    if want { Cond::Eq } else { Cond::Ne },
                    *flag,
                    Opnd::Imm(0),
                    target,
                );
                Ok(())
            }
            (S::OptInt { .. }, S::OptInt { .. }) => Err(self.unsup(
                e,
                "a comparison",
                "comparing two values that may both be nil is not in the kernel-tier subset",
            )),
            (S::OptInt { flag, .. }, _) => {
                // nil or an integer against a value of another type: equal never
                let _ = flag;
                jump_if(self, false);
                Ok(())
            }
            (S::Truthy(_), _) => Err(self.unsup(
                e,
                "a comparison",
                format!(
                    "comparing {} is not in the kernel-tier subset",
                    a.describe()
                ),
            )),
            (S::Slice { off, len }, S::Const(c)) => match &**c {
                Value::Str(s) => {
                    let s = s.clone();
                    self.slice_equals(*off, *len, &s, want, target);
                    Ok(())
                }
                _ => {
                    jump_if(self, false);
                    Ok(())
                }
            },
            (S::Slice { .. }, S::Slice { .. }) => Err(self.unsup(
                e,
                "a comparison",
                "comparing two strings of packet bytes is not in the kernel-tier subset",
            )),
            (S::Slice { .. }, _) => {
                jump_if(self, false);
                Ok(())
            }
            (S::Const(x), S::Const(y)) => {
                let eq = const_eq(x, y);
                jump_if(self, eq);
                Ok(())
            }
            (S::Data(x), S::Data(y)) => {
                jump_if(self, x == y);
                Ok(())
            }
            (S::Func(x), S::Func(y)) => {
                jump_if(self, x == y);
                Ok(())
            }
            (S::Builtin(x), S::Builtin(y)) => {
                jump_if(self, x == y);
                Ok(())
            }
            (S::Map(x), S::Map(y)) => {
                jump_if(self, x.id == y.id);
                Ok(())
            }
            (S::Dead, _) | (_, S::Dead) => Err(self.internal("a dead value compared")),
            // different types are never equal
            _ => {
                jump_if(self, false);
                Ok(())
            }
        }
    }

    // ---- packet access ----

    /// A pointer to packet offset `off` for accesses of up to `end` bytes from it, checked.
    /// Returns the pointer and the constant offset to add to it.
    fn pkt_ptr(&mut self, off: Opnd, end: i64) -> Option<(VReg, i64)> {
        match off {
            Opnd::Imm(c) => {
                if c < 0 || end < 0 || c.saturating_add(end) > MAX_CONST_END {
                    self.fail_now();
                    return None;
                }
                let f = self.fail;
                self.emit(Inst::PktCheck {
                    ptr: DATA,
                    end: Opnd::Imm(c + end),
                    fail: f,
                });
                Some((DATA, c))
            }
            Opnd::V(r) => {
                // `r = base + k` with k >= 0: a pointer to base, the access at +k.
                let (base, k) = match self.affine.get(&r) {
                    Some(&(b, k))
                        if k >= 0 && k + end <= MAX_VAR_END && self.umax.contains_key(&b) =>
                    {
                        (b, k)
                    }
                    _ => (r, 0),
                };
                if !(0..=MAX_VAR_END).contains(&(k + end)) {
                    self.fail_now();
                    return None;
                }
                let f = self.fail;
                let p = match self.ptrs.get(&base) {
                    Some(&p) => p,
                    None => {
                        let p = self.vreg();
                        self.emit(Inst::PktPtr {
                            dst: p,
                            off: base,
                            fail: f,
                        });
                        self.ptrs.insert(base, p);
                        p
                    }
                };
                self.emit(Inst::PktCheck {
                    ptr: p,
                    end: Opnd::Imm(k + end),
                    fail: f,
                });
                Some((p, k))
            }
        }
    }

    fn load(&mut self, obj: DataObj, off: Opnd, size: u8, signed: bool) -> SVal<'a> {
        if obj == DataObj::Argument {
            self.fail_now();
            return SVal::Int(Opnd::Imm(0));
        }
        let Some((p, k)) = self.pkt_ptr(off, size as i64) else {
            return SVal::Int(Opnd::Imm(0));
        };
        let d = self.vreg();
        self.emit(Inst::Load {
            dst: d,
            ptr: p,
            off: k as i16,
            size,
            signed,
        });
        if !signed && size < 8 {
            self.umax.insert(d, (1u64 << (8 * size as u32)) - 1);
        }
        SVal::Int(Opnd::V(d))
    }

    fn store(&mut self, obj: DataObj, off: Opnd, size: u8, v: Opnd) {
        if obj == DataObj::Argument {
            self.fail_now();
            return;
        }
        let Some((p, k)) = self.pkt_ptr(off, size as i64) else {
            return;
        };
        self.emit(Inst::Store {
            ptr: p,
            off: k as i16,
            size,
            src: v,
        });
    }

    /// `getstring(off, len)`: bounds checked now; the bytes are read where they are compared.
    fn get_string(&mut self, obj: DataObj, off: Opnd, len: Option<Opnd>) -> SVal<'a> {
        if obj == DataObj::Argument {
            // An empty object: only getstring(0, 0) and getstring(0) succeed.
            let f = self.fail;
            self.br(Cond::Ne, off, Opnd::Imm(0), f);
            if let Some(l) = len {
                self.br(Cond::Ne, l, Opnd::Imm(0), f);
            }
            return SVal::Slice {
                off: Opnd::Imm(0),
                len: Opnd::Imm(0),
            };
        }
        let f = self.fail;
        match len {
            None => {
                // to the end: 0 <= off <= #packet
                let n = self.vreg();
                self.emit(Inst::PktLen { dst: n });
                self.br(Cond::Gt, off, Opnd::V(n), f);
                self.emit(Inst::Alu {
                    op: AluOp::Sub,
                    dst: n,
                    src: off,
                });
                SVal::Slice {
                    off,
                    len: Opnd::V(n),
                }
            }
            Some(Opnd::Imm(n)) => {
                if n < 0 {
                    self.fail_now();
                    return SVal::Slice {
                        off,
                        len: Opnd::Imm(0),
                    };
                }
                self.pkt_ptr(off, n);
                SVal::Slice {
                    off,
                    len: Opnd::Imm(n),
                }
            }
            Some(Opnd::V(l)) => {
                self.br(Cond::Gt, Opnd::V(l), Opnd::Imm(MAX_VAR_OFF), f);
                let p = match off {
                    Opnd::Imm(c) => {
                        if !(0..=MAX_VAR_OFF).contains(&c) {
                            self.fail_now();
                            return SVal::Slice {
                                off,
                                len: Opnd::V(l),
                            };
                        }
                        let o = self.mov(off);
                        let p = self.vreg();
                        self.emit(Inst::PktPtr {
                            dst: p,
                            off: o,
                            fail: f,
                        });
                        p
                    }
                    Opnd::V(o) => {
                        let p = self.vreg();
                        self.emit(Inst::PktPtr {
                            dst: p,
                            off: o,
                            fail: f,
                        });
                        p
                    }
                };
                self.emit(Inst::PktCheck {
                    ptr: p,
                    end: Opnd::V(l),
                    fail: f,
                });
                SVal::Slice {
                    off,
                    len: Opnd::V(l),
                }
            }
        }
    }

    /// Loads the bytes `[k, k+L)` of a slice at `off` (whose length is known to be `L`) in
    /// 8/4/2/1-byte chunks: `(offset in the string, size, register)`.
    fn slice_chunks(&mut self, off: Opnd, l: usize) -> Vec<(usize, u8, VReg)> {
        let mut out = Vec::new();
        if l == 0 {
            return out;
        }
        let Some((p, base)) = self.pkt_ptr(off, l as i64) else {
            return out;
        };
        let mut k = 0;
        while k < l {
            let size = [8usize, 4, 2, 1]
                .into_iter()
                .find(|s| k + s <= l)
                .unwrap_or(1);
            let d = self.vreg();
            self.emit(Inst::Load {
                dst: d,
                ptr: p,
                off: (base + k as i64) as i16,
                size: size as u8,
                signed: false,
            });
            out.push((k, size as u8, d));
            k += size;
        }
        out
    }

    /// Jumps to `target` when `(slice == s) == want`.
    fn slice_equals(&mut self, off: Opnd, len: Opnd, s: &[u8], want: bool, target: Label) {
        let l = s.len();
        let miss = if want { self.label() } else { target };
        self.br(Cond::Ne, len, Opnd::Imm(l as i64), miss);
        let chunks = self.slice_chunks(off, l);
        for (k, size, r) in chunks {
            self.chunk_ne(r, &s[k..k + size as usize], miss);
        }
        if want {
            self.jmp(target);
            self.place_label(miss);
        }
    }

    /// `if chunk != bytes goto target`.
    fn chunk_ne(&mut self, r: VReg, bytes: &[u8], target: Label) {
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        let v = u64::from_le_bytes(b);
        let (imm, w32) = if bytes.len() == 4 {
            (v as u32 as i64, true)
        } else {
            (v as i64, false)
        };
        self.emit(Inst::Br {
            cond: Cond::Ne,
            a: r,
            b: Opnd::Imm(imm),
            target,
            w32,
        });
    }

    // ---- calls and indexing ----

    /// A prefix followed by indexes and calls; returns the last call's values (or the
    /// indexed value).
    fn call_chain<N: Node>(
        &mut self,
        prefix: &'a Prefix,
        sufs: Vec<&'a Suffix>,
        whole: &N,
    ) -> R<Vec<SVal<'a>>> {
        let _ = whole;
        let mut cur: Vec<SVal<'a>> = vec![match prefix {
            Prefix::Name(t) => self.name(t)?,
            Prefix::Expression(e) => self.expr(e)?,
            other => {
                return Err(self.unsup(
                    other,
                    "an expression",
                    "this expression is not in the kernel-tier subset",
                ))
            }
        }];
        for s in sufs {
            let base = cur.into_iter().next().unwrap_or(SVal::Nil);
            cur = match s {
                Suffix::Index(ix) => {
                    let (key, at) = self.index_key(ix)?;
                    vec![self.index(base, key, &at)?]
                }
                Suffix::Call(Call::AnonymousCall(args)) => {
                    let argv = self.args(args)?;
                    self.call(base, argv, &loc(s))?
                }
                Suffix::Call(Call::MethodCall(mc)) => {
                    let argv = self.args(mc.args())?;
                    let name = name_of(mc.name());
                    self.method(base, &name, argv, &loc(s))?
                }
                other => {
                    return Err(self.unsup(
                        other,
                        "a call",
                        "this call is not in the kernel-tier subset",
                    ))
                }
            };
        }
        Ok(cur)
    }

    /// The key of `t.name` or `t[expr]`, and where it is.
    fn index_key(&mut self, ix: &'a Index) -> R<(SVal<'a>, Loc)> {
        match ix {
            Index::Dot { name, .. } => Ok((
                SVal::Const(Rc::new(Value::Str(name_of(name).into_bytes()))),
                tok_loc(name),
            )),
            Index::Brackets { expression, .. } => Ok((self.expr(expression)?, loc(&**expression))),
            other => Err(self.unsup(
                other,
                "an index",
                "this index is not in the kernel-tier subset",
            )),
        }
    }

    fn args(&mut self, a: &'a FunctionArgs) -> R<Vec<SVal<'a>>> {
        match a {
            FunctionArgs::Parentheses { arguments, .. } => self.exprs(arguments, None),
            FunctionArgs::String(t) => {
                let b = source::literal(self.parsed, t).map_err(|m| self.unsup(t, "a string", m))?;
                Ok(vec![SVal::Const(Rc::new(Value::Str(b)))])
            }
            FunctionArgs::TableConstructor(t) => Err(self.unsup(&**t, "a table constructor", "a table constructor in a hook builds a table per packet: not in the kernel-tier subset")),
            other => Err(self.unsup(other, "arguments", "these arguments are not in the kernel-tier subset")),
        }
    }

    fn index(&mut self, base: SVal<'a>, key: SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        if let SVal::Map(m) = &base {
            let m = m.clone();
            return self.map_get(&m, key, at);
        }
        let table = match &base {
            SVal::Const(c) => match &**c {
                Value::Table(t) => Some(t),
                _ => None,
            },
            _ => None,
        };
        let Some(entries) = table else {
            return Err(match &base {
                SVal::Nil => self.unsup_at(
                    at,
                    "indexing nil",
                    "indexing a nil value (a missing field of an upvalue?)",
                ),
                SVal::Data(_) => self.unsup_at(
                    at,
                    "a data object field",
                    "data objects have only methods: call them with `:`",
                ),
                other => self.unsup_at(
                    at,
                    "an index",
                    format!(
                        "indexing {} is not in the kernel-tier subset",
                        other.describe()
                    ),
                ),
            });
        };
        // Constant keys fold.
        if let Some(k) = const_key(&key) {
            for (tk, tv) in entries.iter() {
                if key_matches(&k, tk) {
                    return Ok(SVal::from_value(&Rc::new(tv.clone())));
                }
            }
            return Ok(SVal::Nil);
        }
        match key {
            SVal::Nil => Ok(SVal::Nil),
            SVal::Int(_) | SVal::OptInt { .. } => self.int_lookup(entries, key, at),
            SVal::Slice { off, len } => self.string_lookup(entries, off, len, at),
            other => Err(self.unsup_at(
                at,
                "a table key",
                format!(
                    "looking up a constant table with {} is not in the kernel-tier subset",
                    other.describe()
                ),
            )),
        }
    }

    /// What a lookup by a run-time key gives: a maybe-integer when every value is an
    /// integer, else a truth flag.
    fn lookup_result(&self, values: &[&Value], at: &Loc) -> R<bool> {
        let all_int = values.iter().all(|v| match v {
            Value::Int(_) => true,
            Value::Float(f) => types::integral(*f),
            _ => false,
        });
        if !all_int
            && values
                .iter()
                .any(|v| matches!(v, Value::Float(f) if !types::integral(*f)))
        {
            return Err(self.unsup_at(
                at,
                "a float",
                "a table of floats looked up by a run-time key",
            ));
        }
        Ok(all_int)
    }

    fn value_int(v: &Value) -> i64 {
        match v {
            Value::Int(i) => *i,
            Value::Float(f) => *f as i64,
            _ => 0,
        }
    }

    fn value_truth(v: &Value) -> i64 {
        !matches!(v, Value::Nil | Value::Bool(false)) as i64
    }

    fn int_lookup(&mut self, entries: &[(Value, Value)], key: SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        let mut keys: Vec<(i64, &Value)> = entries
            .iter()
            .filter_map(|(k, v)| match k {
                Value::Int(i) => Some((*i, v)),
                Value::Float(f) if types::integral(*f) => Some((*f as i64, v)),
                _ => None,
            })
            .collect();
        keys.sort_by_key(|(k, _)| *k);
        keys.dedup_by_key(|(k, _)| *k);
        let vals: Vec<&Value> = keys.iter().map(|(_, v)| *v).collect();
        let ints = self.lookup_result(&vals, at)?;
        let flag = self.vreg();
        let val = self.vreg();
        self.emit(Inst::Mov {
            dst: flag,
            src: Opnd::Imm(0),
        });
        if ints {
            self.emit(Inst::Mov {
                dst: val,
                src: Opnd::Imm(0),
            });
        }
        let done = self.label();
        let k = match key {
            SVal::Int(o) => o,
            SVal::OptInt { flag: kf, val } => {
                self.br(Cond::Eq, kf, Opnd::Imm(0), done);
                val
            }
            _ => return Err(self.internal("int lookup key")),
        };
        let kv = match k {
            Opnd::V(v) => v,
            Opnd::Imm(_) => self.mov(k),
        };
        self.search(kv, &keys, flag, val, ints, done);
        self.place_label(done);
        self.dead = false;
        Ok(if ints {
            SVal::OptInt {
                flag: Opnd::V(flag),
                val: Opnd::V(val),
            }
        } else {
            SVal::Truthy(Opnd::V(flag))
        })
    }

    /// Binary search over sorted integer keys, a chain of compares at the leaves.
    fn search(
        &mut self,
        k: VReg,
        keys: &[(i64, &Value)],
        flag: VReg,
        val: VReg,
        ints: bool,
        done: Label,
    ) {
        if keys.len() > 6 {
            let mid = keys.len() / 2;
            let right = self.label();
            self.emit(Inst::Br {
                cond: Cond::Sgt,
                a: k,
                b: Opnd::Imm(keys[mid - 1].0),
                target: right,
                w32: false,
            });
            self.search(k, &keys[..mid], flag, val, ints, done);
            self.place_label(right);
            self.search(k, &keys[mid..], flag, val, ints, done);
            return;
        }
        for (key, v) in keys {
            let next = self.label();
            self.emit(Inst::Br {
                cond: Cond::Ne,
                a: k,
                b: Opnd::Imm(*key),
                target: next,
                w32: false,
            });
            if ints {
                self.emit(Inst::Mov {
                    dst: flag,
                    src: Opnd::Imm(1),
                });
                self.emit(Inst::Mov {
                    dst: val,
                    src: Opnd::Imm(Self::value_int(v)),
                });
            } else {
                self.emit(Inst::Mov {
                    dst: flag,
                    src: Opnd::Imm(Self::value_truth(v)),
                });
            }
            self.jmp(done);
            self.place_label(next);
        }
        self.jmp(done);
    }

    fn string_lookup(
        &mut self,
        entries: &[(Value, Value)],
        off: Opnd,
        len: Opnd,
        at: &Loc,
    ) -> R<SVal<'a>> {
        let mut by_len: BTreeMap<usize, Vec<(&[u8], &Value)>> = BTreeMap::new();
        for (k, v) in entries {
            if let Value::Str(s) = k {
                by_len.entry(s.len()).or_default().push((s.as_slice(), v));
            }
        }
        // Deterministic code whatever order the body's table iterated in.
        for keys in by_len.values_mut() {
            keys.sort_by(|a, b| a.0.cmp(b.0));
            keys.dedup_by(|a, b| a.0 == b.0);
        }
        let vals: Vec<&Value> = by_len.values().flatten().map(|(_, v)| *v).collect();
        let ints = self.lookup_result(&vals, at)?;
        let flag = self.vreg();
        let val = self.vreg();
        self.emit(Inst::Mov {
            dst: flag,
            src: Opnd::Imm(0),
        });
        if ints {
            self.emit(Inst::Mov {
                dst: val,
                src: Opnd::Imm(0),
            });
        }
        let done = self.label();
        for (l, keys) in &by_len {
            let next = self.label();
            self.br(Cond::Ne, len, Opnd::Imm(*l as i64), next);
            let chunks = self.slice_chunks(off, *l);
            for (key, v) in keys {
                let miss = self.label();
                for (k, size, r) in &chunks {
                    self.chunk_ne(*r, &key[*k..*k + *size as usize], miss);
                }
                if ints {
                    self.emit(Inst::Mov {
                        dst: flag,
                        src: Opnd::Imm(1),
                    });
                    self.emit(Inst::Mov {
                        dst: val,
                        src: Opnd::Imm(Self::value_int(v)),
                    });
                } else {
                    self.emit(Inst::Mov {
                        dst: flag,
                        src: Opnd::Imm(Self::value_truth(v)),
                    });
                }
                self.jmp(done);
                self.place_label(miss);
            }
            self.jmp(done);
            self.place_label(next);
        }
        self.place_label(done);
        self.dead = false;
        Ok(if ints {
            SVal::OptInt {
                flag: Opnd::V(flag),
                val: Opnd::V(val),
            }
        } else {
            SVal::Truthy(Opnd::V(flag))
        })
    }

    fn call(&mut self, callee: SVal<'a>, args: Vec<SVal<'a>>, at: &Loc) -> R<Vec<SVal<'a>>> {
        match callee {
            SVal::Builtin(name) => self.builtin(&name, args, at),
            SVal::Func(f) => self.inline(f, args, at),
            SVal::Nil => Err(self.unsup_at(
                at,
                "a call of nil",
                "calling a nil value (a missing function?)",
            )),
            other => Err(self.unsup_at(
                at,
                "a call",
                format!(
                    "calling {} is not in the kernel-tier subset",
                    other.describe()
                ),
            )),
        }
    }

    fn builtin(&mut self, name: &str, args: Vec<SVal<'a>>, at: &Loc) -> R<Vec<SVal<'a>>> {
        if name == "print" {
            return self.print(args, at);
        }
        let Some(op) = ByteOrder::from_builtin(name) else {
            return Err(self.unsup_at(
                at,
                "a library function",
                format!("{name} is not in the kernel-tier subset"),
            ));
        };
        let x = args.into_iter().next().unwrap_or(SVal::Nil);
        let x = match x {
            SVal::Int(o) => o,
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                val
            }
            SVal::Nil => {
                self.fail_now();
                return Ok(vec![SVal::Int(Opnd::Imm(0))]);
            }
            other => {
                return Err(self.unsup_at(
                    at,
                    "a type error",
                    format!("{name} takes an integer, not {}", other.describe()),
                ))
            }
        };
        if let Opnd::Imm(k) = x {
            return Ok(vec![SVal::Int(Opnd::Imm(op.apply(k)))]);
        }
        // BPF targets are little-endian: a big-endian conversion is a swap.
        let (swap, bits) = (op.big_endian, op.bits);
        let r = self.mov(x);
        if bits < 64 {
            self.umax.insert(r, (1u64 << bits) - 1);
        }
        match (swap, bits) {
            (true, b) => self.emit(Inst::Swap { dst: r, bits: b }),
            (false, 16) => self.emit(Inst::Alu {
                op: AluOp::And,
                dst: r,
                src: Opnd::Imm(0xffff),
            }),
            (false, 32) => self.emit(Inst::Zext32 { dst: r }),
            (false, _) => {}
        }
        Ok(vec![SVal::Int(Opnd::V(r))])
    }

    fn method(
        &mut self,
        recv: SVal<'a>,
        name: &str,
        args: Vec<SVal<'a>>,
        at: &Loc,
    ) -> R<Vec<SVal<'a>>> {
        match recv {
            SVal::Data(obj) => self.data_method(obj, name, args, at),
            SVal::Const(ref c) if matches!(&**c, Value::Table(_)) => {
                let f = self.index(recv.clone(), SVal::Const(Rc::new(Value::Str(name.as_bytes().to_vec()))), at)?;
                let mut all = vec![recv];
                all.extend(args);
                self.call(f, all, at)
            }
            SVal::Slice { .. } | SVal::Const(_) => Err(self.unsup_at(at, "a string method", format!("string methods (`:{name}`) build or scan strings per packet: not in the kernel-tier subset"))),
            other => Err(self.unsup_at(at, "a method call", format!("calling a method of {} is not in the kernel-tier subset", other.describe()))),
        }
    }

    fn data_method(
        &mut self,
        obj: DataObj,
        name: &str,
        args: Vec<SVal<'a>>,
        at: &Loc,
    ) -> R<Vec<SVal<'a>>> {
        let get = match name {
            "getbyte" | "getuint8" => Some((1, false)),
            "getint8" => Some((1, true)),
            "getuint16" => Some((2, false)),
            "getint16" => Some((2, true)),
            "getuint32" => Some((4, false)),
            "getint32" => Some((4, true)),
            "getint64" | "getnumber" => Some((8, false)),
            _ => None,
        };
        let set = match name {
            "setbyte" | "setuint8" | "setint8" => Some(1),
            "setuint16" | "setint16" => Some(2),
            "setuint32" | "setint32" => Some(4),
            "setint64" | "setnumber" => Some(8),
            _ => None,
        };
        let mut args = args.into_iter();
        let mut int_arg = |l: &mut Self, what: &str| -> R<Opnd> {
            let v = args.next().unwrap_or(SVal::Nil);
            l.int_operand_at(v, at, what)
        };
        if let Some((size, signed)) = get {
            let off = int_arg(self, "an offset")?;
            return Ok(vec![self.load(obj, off, size, signed)]);
        }
        if let Some(size) = set {
            let off = int_arg(self, "an offset")?;
            let v = int_arg(self, "a value to store")?;
            self.store(obj, off, size, v);
            return Ok(vec![]);
        }
        match name {
            "getstring" => {
                let off = int_arg(self, "an offset")?;
                let len = match args.next() {
                    None | Some(SVal::Nil) => None,
                    Some(v) => Some(self.int_operand_at(v, at, "a length")?),
                };
                Ok(vec![self.get_string(obj, off, len)])
            }
            "setstring" => {
                let off = int_arg(self, "an offset")?;
                let s = match args.next() {
                    Some(SVal::Const(c)) => match &*c {
                        Value::Str(s) => s.clone(),
                        _ => {
                            return Err(self.unsup_at(
                                at,
                                "setstring",
                                "setstring takes a constant string in the kernel tier",
                            ))
                        }
                    },
                    _ => {
                        return Err(self.unsup_at(
                            at,
                            "setstring",
                            "setstring takes a constant string in the kernel tier",
                        ))
                    }
                };
                if obj == DataObj::Argument {
                    if !s.is_empty() {
                        self.fail_now();
                    }
                    return Ok(vec![]);
                }
                if s.is_empty() {
                    let f = self.fail;
                    let n = self.vreg();
                    self.emit(Inst::PktLen { dst: n });
                    self.br(Cond::Gt, off, Opnd::V(n), f);
                    return Ok(vec![]);
                }
                let Some((p, base)) = self.pkt_ptr(off, s.len() as i64) else {
                    return Ok(vec![]);
                };
                let mut k = 0;
                while k < s.len() {
                    let size = [8usize, 4, 2, 1]
                        .into_iter()
                        .find(|z| k + z <= s.len())
                        .unwrap_or(1);
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(&s[k..k + size]);
                    let v = i64::from_le_bytes(b);
                    self.emit(Inst::Store {
                        ptr: p,
                        off: (base + k as i64) as i16,
                        size: size as u8,
                        src: Opnd::Imm(v),
                    });
                    k += size;
                }
                Ok(vec![])
            }
            _ => Err(self.unsup_at(
                at,
                "a data object method",
                format!("the data object method `{name}` is not in the kernel-tier subset"),
            )),
        }
    }

    fn int_operand_at(&mut self, v: SVal<'a>, at: &Loc, what: &str) -> R<Opnd> {
        match v {
            SVal::Int(o) => Ok(o),
            SVal::OptInt { flag, val } => {
                let f = self.fail;
                self.br(Cond::Eq, flag, Opnd::Imm(0), f);
                Ok(val)
            }
            SVal::Nil => {
                self.fail_now();
                Ok(Opnd::Imm(0))
            }
            other => Err(self.unsup_at(
                at,
                "a type error",
                format!("{what} must be an integer, not {}", other.describe()),
            )),
        }
    }

    fn inline(&mut self, f: Func<'a>, args: Vec<SVal<'a>>, at: &Loc) -> R<Vec<SVal<'a>>> {
        let (body, captured, is_method): (&'a FunctionBody, Rc<Captured>, bool) = match &f {
            Func::Upvalue { at: fr, upvalues } => {
                let found = source::find_function(self.parsed, self.file, *fr).map_err(|d| {
                    self.unsup_at(
                        at,
                        "a function",
                        format!("the called function: {}", d.message),
                    )
                })?;
                (
                    &found.body,
                    Rc::new(Captured {
                        names: Vec::new(),
                        upvalues: upvalues.clone(),
                    }),
                    found.is_method,
                )
            }
            Func::Local { body, captured, .. } => (*body, captured.clone(), false),
        };
        let key = body as *const FunctionBody as usize;
        if self.inlining.contains(&key) {
            return Err(self.unsup_at(
                at,
                "recursion",
                "a recursive call: recursion is not in the kernel-tier subset",
            ));
        }
        if self.inlining.len() >= MAX_INLINE_DEPTH {
            return Err(self.unsup_at(
                at,
                "deep calls",
                format!("calls nest deeper than {MAX_INLINE_DEPTH}"),
            ));
        }
        let saved_env = std::mem::replace(&mut self.env, Env::new(captured));
        let saved_line = self.line;
        let saved_loops = std::mem::take(&mut self.loops);
        self.inlining.push(key);
        let j = self.new_join(at.clone());
        self.frames.push(Frame { join: Some(j) });
        let r = (|| -> R<()> {
            let mut args = args.into_iter();
            if is_method {
                let s = self.new_slot(args.next().unwrap_or(SVal::Nil));
                self.env.declare("self", s);
            }
            for p in body.parameters() {
                match p {
                    Parameter::Name(t) => {
                        let s = self.new_slot(args.next().unwrap_or(SVal::Nil));
                        self.env.declare(&name_of(t), s);
                    }
                    other => {
                        return Err(self.unsup(
                            other,
                            "varargs",
                            "varargs (`...`) are not in the kernel-tier subset",
                        ))
                    }
                }
            }
            self.block(body.block())?;
            self.edge(j, vec![]);
            Ok(())
        })();
        self.frames.pop();
        self.inlining.pop();
        self.loops = saved_loops;
        // The callee's parameters and locals die with the call.
        for id in self.env.pop_scope() {
            if !self.captured.get(id).copied().unwrap_or(true) {
                self.slots[id] = SVal::Dead;
            }
        }
        self.env = saved_env;
        r?;
        self.line = saved_line;
        let results = self.place(j)?;
        for v in &results {
            if matches!(v, SVal::Func(Func::Local { .. })) {
                return Err(self.unsup_at(at, "a closure", "returning a function from a function makes a closure: not in the kernel-tier subset"));
            }
        }
        Ok(results)
    }
}

/// Where an assignment stores.
enum Target<'a> {
    Local(SlotId),
    Map(Rc<lunet_types::MapRef>, SVal<'a>, Loc),
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

struct LoopPre {
    counter: Option<VReg>,
    iv: Option<VReg>,
    count: Option<VReg>,
    last: Option<i64>,
}

/// A global: the message names the well-known ones.
fn global(file: &str, t: &TokenReference, n: &str) -> Diagnostic {
    let (construct, message) = match n {
        "pcall" | "xpcall" | "error" => (n.to_string(), format!("`{n}` is not in the kernel-tier subset: an error in a compiled hook gives its default verdict")),
        "setmetatable" | "getmetatable" | "rawget" | "rawset" => (n.to_string(), format!("`{n}`: metatables are not in the kernel-tier subset")),
        "string" | "table" | "math" | "utf8" | "os" | "coroutine" | "tostring" | "tonumber" | "type" | "pairs" | "ipairs" | "select" | "next" | "require" => (
            n.to_string(),
            format!("`{n}` is not in the kernel-tier subset (take what you need into a local of the script's body)"),
        ),
        _ => ("a global".to_string(), format!("'{n}' is a global: globals are not in the kernel-tier subset (make it a local of the script's body)")),
    };
    Diagnostic::unsupported(file, tok_loc(t), construct, message)
}

fn strip_parens(e: &Expression) -> &Expression {
    match e {
        Expression::Parentheses { expression, .. } => strip_parens(expression),
        other => other,
    }
}

fn unreachable_ok<T>() -> R<T> {
    Err(Diagnostic::internal("", 0, "unreachable"))
}

/// A key the compiler can look up at compile time.
enum ConstKey {
    Int(i64),
    Str(Vec<u8>),
    Bool(bool),
    Other,
}

fn const_key(v: &SVal) -> Option<ConstKey> {
    match v {
        SVal::Int(Opnd::Imm(k)) => Some(ConstKey::Int(*k)),
        SVal::Bool(Opnd::Imm(b)) => Some(ConstKey::Bool(*b != 0)),
        SVal::Const(c) => match &**c {
            Value::Str(s) => Some(ConstKey::Str(s.clone())),
            Value::Float(f) if types::integral(*f) => Some(ConstKey::Int(*f as i64)),
            _ => Some(ConstKey::Other),
        },
        SVal::Builtin(_) | SVal::Func(_) | SVal::Data(_) => Some(ConstKey::Other),
        _ => None,
    }
}

fn key_matches(k: &ConstKey, v: &Value) -> bool {
    match (k, v) {
        (ConstKey::Int(a), Value::Int(b)) => a == b,
        (ConstKey::Int(a), Value::Float(f)) => types::integral(*f) && *f as i64 == *a,
        (ConstKey::Str(a), Value::Str(b)) => a == b,
        (ConstKey::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn const_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Table(_), Value::Table(_)) => std::ptr::eq(a, b),
        _ => a == b,
    }
}
