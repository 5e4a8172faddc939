//! Pass `lower`: the hook's AST to IR, with names resolved ([`crate::resolve`]) and values
//! typed ([`crate::types`]) as it goes.
//!
//! Lua semantics are kept exactly: 64-bit wrapping integers, floor division and modulo,
//! Lua 5.4 shifts. Wherever the Lua tier would raise an error (an access outside the packet,
//! division by zero, arithmetic on nil, a return value that is not a verdict) the code jumps
//! to the hook's default verdict. Calls of Lua functions are inlined; recursion is refused.
//!
//! One `Lower` walks the function; its methods are split by what they lower:
//! - this file: the walker's state and the plumbing every part uses (emitting instructions,
//!   labels, slots and scopes, diagnostics);
//! - `stmt.rs`: blocks, statements, assignments, `return` from the hook;
//! - `loops.rs`: joins (paths meeting, each converting its values to the merged kinds) and
//!   the loops built on them (`while`, `repeat`, numeric `for`, their bounds);
//! - `expr.rs`: expressions as values (names, literals, unary operators, `and`/`or`);
//! - `arith.rs`: integer arithmetic with Lua's semantics (floor division and modulo, shifts);
//! - `cond.rs`: conditions as jumps (tests, comparisons, equality of every kind);
//! - `packet.rs`: the data objects' methods (loads, stores, `getstring` slices, bounds checks);
//! - `tables.rs`: constant tables from the upvalues, folded or looked up at run time;
//! - `calls.rs`: call chains, inlined Lua functions and closures, library functions, methods;
//! - `library.rs`: the sandbox's globals (`select`, `ipairs`, `string`...) and globals of
//!   one call; `format.rs`: `string.format`; `strings.rs`: `string.len/byte/sub`;
//! - `choice.rs`: values drawn from a set of constants; `unroll.rs`: generic `for` over
//!   constant tables;
//! - `maps.rs`: `bpf.map` lookups, updates and deletes; `print.rs`: `print`;
//! - `recover.rs`: going on past an unsupported statement, so that one run names them all.

mod arith;
mod calls;
mod choice;
mod cond;
mod expr;
mod format;
mod library;
mod loops;
mod maps;
mod matcher;
mod nf;
mod packet;
mod print;
mod recover;
mod scan;
mod stmt;
mod strings;
mod tables;
mod unroll;

use std::collections::BTreeMap;
use std::rc::Rc;

use full_moon::node::Node;
use full_moon::tokenizer::TokenReference;

use crate::diag::Diagnostic;
use crate::diag::Loc;
use crate::hook::{HookInput, LoopBound, Options};
use crate::ir::{Cond, Inst, Ir, Label, Opnd, VReg};
use crate::resolve::{Captured, Env, SlotId};
use crate::source::{self, FoundFn, Parsed};
use crate::types::{DataObj, Kind, SVal};
use lunet_types::Value;

type R<T> = Result<T, Diagnostic>;

/// IR instructions one hook may lower to (compile time and the verifier's patience).
const MAX_INSTS: usize = 200_000;

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
        netfilter: input.target.is_netfilter(),
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
        globals: Default::default(),
        global_sites: Default::default(),
        lowered: vec![crate::globals::bytes_of(&hook.body)],
        pool: Default::default(),
        errors: Vec::new(),
        poisoned: Default::default(),
        stack: Vec::new(),
    };
    l.fail = l.label();
    // Parameters: the packet, the argument (XDP) or the skb alone (netfilter); any others
    // are nil.
    let args = if l.netfilter {
        vec![SVal::Data(DataObj::Packet)]
    } else {
        vec![SVal::Data(DataObj::Packet), SVal::Data(DataObj::Argument)]
    };
    let varargs = l.bind_parameters(&hook.body, args, false);
    l.frames.push(Frame {
        join: None,
        varargs,
    });
    l.block(hook.body.block())?;
    if let Err(d) = l.check_globals() {
        l.errors.push(d);
    }
    if let Some(d) = Diagnostic::gather(std::mem::take(&mut l.errors)) {
        return Err(d);
    }
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

struct Frame<'a> {
    /// Where `return` goes in an inlined function; `None` in the hook itself.
    join: Option<usize>,
    /// The values of `...` in a vararg function; `None` in a function without `...`.
    varargs: Option<Vec<SVal<'a>>>,
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

struct Lower<'a> {
    /// A netfilter hook: `fn(skb)`, verdicts DROP and ACCEPT only, no new mark.
    netfilter: bool,
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
    frames: Vec<Frame<'a>>,
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
    /// The globals this call assigns, by name: slots of the call (`library.rs`).
    globals: BTreeMap<String, SlotId>,
    /// Where each was first assigned.
    global_sites: BTreeMap<String, Loc>,
    /// The byte ranges of the functions lowered (the hook and those it inlines).
    lowered: Vec<std::ops::Range<usize>>,
    /// The ids of constants values drawn from a finite set may be.
    pool: crate::types::Pool,
    /// The unsupported constructs found so far, and the names they poisoned (`recover.rs`).
    errors: Vec<Diagnostic>,
    poisoned: std::collections::HashSet<String>,
    /// The statements being lowered, outermost first.
    stack: Vec<recover::Lowering<'a>>,
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
}

/// A global: the message names the well-known ones.
fn global(file: &str, t: &TokenReference, n: &str) -> Diagnostic {
    let (construct, message) = match n {
        "pcall" | "xpcall" | "error" => (n.to_string(), format!("`{n}` is not in the kernel-tier subset: an error in a compiled hook gives its default verdict")),
        "setmetatable" | "getmetatable" | "rawget" | "rawset" => (n.to_string(), format!("`{n}`: metatables are not in the kernel-tier subset")),
        "table" | "math" | "utf8" | "os" | "coroutine" | "tostring" | "tonumber" | "type" | "require" => (
            n.to_string(),
            format!("`{n}` is not in the kernel-tier subset (take what you need into a local of the script's body)"),
        ),
        _ => ("a global".to_string(), format!("'{n}' is a global: globals are not in the kernel-tier subset (make it a local of the script's body)")),
    };
    Diagnostic::unsupported(file, tok_loc(t), construct, message)
}

#[cfg(test)]
mod tests;
