//! Calls (part of pass `lower`): call chains (`a.b:c(d)(e)`), Lua functions inlined with their
//! arguments bound to fresh slots and their returns meeting at a join (recursion refused),
//! library functions (`byteorder.*`, `print`), and methods (of data objects, of tables).

use std::rc::Rc;

use full_moon::ast::{Call, FunctionArgs, FunctionBody, Index, Parameter, Prefix, Suffix};
use full_moon::node::Node;
use lunet_types::builtin::ByteOrder;

use super::{loc, name_of, tok_loc, Frame, Lower, R};
use crate::diag::Loc;
use crate::ir::{AluOp, Cond, Inst, Opnd};
use crate::resolve::{Captured, Env};
use crate::types::{Func, SVal};
use crate::{literal, source};
use lunet_types::Value;

/// Inlined calls may nest this deep.
const MAX_INLINE_DEPTH: usize = 24;

impl<'a> Lower<'a> {
    // ---- calls and indexing ----

    /// A prefix followed by indexes and calls; returns the last call's values (or the
    /// indexed value).
    pub(super) fn call_chain<N: Node>(
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
    pub(super) fn index_key(&mut self, ix: &'a Index) -> R<(SVal<'a>, Loc)> {
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

    pub(super) fn args(&mut self, a: &'a FunctionArgs) -> R<Vec<SVal<'a>>> {
        match a {
            FunctionArgs::Parentheses { arguments, .. } => self.exprs(arguments, None),
            FunctionArgs::String(t) => {
                let b = literal::literal(self.parsed, t)
                    .map_err(|m| self.unsup(t, "a string", m.to_string()))?;
                Ok(vec![SVal::Const(Rc::new(Value::Str(b)))])
            }
            FunctionArgs::TableConstructor(t) => Err(self.unsup(&**t, "a table constructor", "a table constructor in a hook builds a table per packet: not in the kernel-tier subset")),
            other => Err(self.unsup(other, "arguments", "these arguments are not in the kernel-tier subset")),
        }
    }

    pub(super) fn call(
        &mut self,
        callee: SVal<'a>,
        args: Vec<SVal<'a>>,
        at: &Loc,
    ) -> R<Vec<SVal<'a>>> {
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
        if super::library::CALLS.contains(&name) {
            return self.library_call(name, args, at);
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

    pub(super) fn method(
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
            SVal::Slice { .. } | SVal::OptSlice { .. } | SVal::Const(_)
                if super::strings::STRING_FUNCTIONS.contains(&name) =>
            {
                let mut all = vec![recv];
                all.extend(args);
                self.string_function(name, all, at)
            }
            SVal::Slice { .. } | SVal::Const(_) => Err(self.unsup_at(at, "a string method", format!("string methods (`:{name}`) build or scan strings per packet: not in the kernel-tier subset"))),
            other => Err(self.unsup_at(at, "a method call", format!("calling a method of {} is not in the kernel-tier subset", other.describe()))),
        }
    }

    /// Binds a function's parameters to `args` in fresh slots of the current scope (`self`
    /// first for a method); gives the values of `...` when the function has it.
    pub(super) fn bind_parameters(
        &mut self,
        body: &'a FunctionBody,
        args: Vec<SVal<'a>>,
        is_method: bool,
    ) -> Option<Vec<SVal<'a>>> {
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
                _ => return Some(args.collect()),
            }
        }
        None
    }

    /// A Lua function defined here (`local function`, or a function expression): it closes
    /// over the slots visible now, which stay alive as long as a closure may reach them, so
    /// a closure returned from an inlined call reads and writes its maker's variables.
    pub(super) fn closure(&mut self, name: String, body: &'a FunctionBody) -> SVal<'a> {
        for id in self.env.visible_slots() {
            if let Some(c) = self.captured.get_mut(id) {
                *c = true;
            }
        }
        SVal::Func(Func::Local {
            name,
            body,
            captured: self.env.capture(),
        })
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
        self.lowered.push(crate::globals::bytes_of(body));
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
        let varargs = self.bind_parameters(body, args, is_method);
        self.frames.push(Frame {
            join: Some(j),
            varargs,
        });
        let r = (|| -> R<()> {
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
        self.place(j)
    }
}
