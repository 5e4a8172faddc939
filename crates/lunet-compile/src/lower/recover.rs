//! Going on past an unsupported construct (part of pass `lower`), so that one run names every
//! construct of a hook outside the subset (`lunet check`).
//!
//! A statement that fails is recorded ([`Lower::errors`]) and lowering goes on with the next
//! one; the IR is thrown away at the end if anything was recorded. What the failed statement
//! would have declared or assigned is *poisoned*: its names get empty slots, and an error in a
//! later statement that mentions a poisoned name (or inside a call from one) is a consequence
//! of the first, not recorded. Errors of a function inlined twice are recorded once. Compiler
//! bugs are not recovered from, except where a poisoned value reached them.

use std::collections::HashSet;

use full_moon::ast::{LastStmt, Stmt, Var};
use full_moon::node::Node;
use full_moon::tokenizer::TokenType;

use super::{name_of, Lower, R};
use crate::diag::{DiagKind, Diagnostic};
use crate::types::SVal;

/// A statement being lowered: what [`Lower::recover`] looks at for poisoned names.
#[derive(Clone, Copy)]
pub(super) enum Lowering<'a> {
    Stmt(&'a Stmt),
    Last(&'a LastStmt),
}

impl Lowering<'_> {
    fn mentions(&self, names: &HashSet<String>) -> bool {
        let tokens: Vec<_> = match self {
            Lowering::Stmt(s) => s.tokens().collect(),
            Lowering::Last(l) => l.tokens().collect(),
        };
        tokens.iter().any(|t| match t.token_type() {
            TokenType::Identifier { identifier } => names.contains(identifier.as_str()),
            _ => false,
        })
    }

    /// The names the statement declares or assigns.
    fn names(&self) -> Vec<String> {
        match self {
            Lowering::Stmt(Stmt::LocalAssignment(a)) => a.names().iter().map(name_of).collect(),
            Lowering::Stmt(Stmt::LocalFunction(f)) => vec![name_of(f.name())],
            Lowering::Stmt(Stmt::Assignment(a)) => a
                .variables()
                .iter()
                .filter_map(|v| match v {
                    Var::Name(t) => Some(name_of(t)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl<'a> Lower<'a> {
    /// Lowers `s` (or `last`) with what [`Lower::recover`] needs to go on past it.
    pub(super) fn lowering(&mut self, s: Lowering<'a>) -> R<()> {
        self.stack.push(s);
        let r = match s {
            Lowering::Stmt(st) => self.stmt(st),
            Lowering::Last(l) => self.last_stmt(l),
        };
        let r = match r {
            Ok(()) => Ok(()),
            Err(d) => {
                let names = s.names();
                self.recover(d, names)
            }
        };
        self.stack.pop();
        r
    }

    /// Records `d` (unless it follows from an earlier one) and poisons `names`; a compiler
    /// bug goes on up.
    pub(super) fn recover(&mut self, d: Diagnostic, names: Vec<String>) -> R<()> {
        let follows = self.stack.iter().any(|s| s.mentions(&self.poisoned));
        // A poisoned (empty) value where the lowering assumed a real one is a consequence
        // too; any other compiler bug goes on up.
        if d.kind == DiagKind::Internal && !follows {
            return Err(d);
        }
        let again = self
            .errors
            .iter()
            .any(|e| (e.line, e.col, &e.message) == (d.line, d.col, &d.message));
        if !follows && !again {
            self.errors.push(d);
        }
        for n in names {
            let slot = self.new_slot(SVal::Dead);
            self.env.declare(&n, slot);
            self.poisoned.insert(n);
        }
        // Go on as if the statement had run.
        self.dead = false;
        Ok(())
    }
}
