//! Where a file reads a global name: the check behind globals in compiled hooks.
//!
//! A hook may assign globals and read them back in the same call (Lunatik's `sni.lua` sets
//! `verdict` and reads it two lines on): the compiler keeps such a global as a local of one
//! call. That is only what the Lua tier does when nothing else reads the global, since there
//! the value outlives the call. [`reads_outside`] finds the reads of a name, as a global, in
//! the parts of the file the hook did not inline: each one is a diagnostic.

use std::ops::Range;

use full_moon::ast::{self, Ast, Prefix, Var};
use full_moon::node::Node;
use full_moon::tokenizer::TokenReference;
use full_moon::visitors::Visitor;

use crate::diag::Loc;

/// The places `ast` reads `name` as a global (no local of that name in scope), leaving out
/// those whose byte offset falls in one of `inside`.
pub fn reads_outside(ast: &Ast, name: &str, inside: &[Range<usize>]) -> Vec<Loc> {
    let mut v = Reads {
        name,
        inside,
        scopes: vec![Vec::new()],
        writes: Vec::new(),
        found: Vec::new(),
    };
    v.visit_ast(ast);
    v.found
}

struct Reads<'n> {
    name: &'n str,
    inside: &'n [Range<usize>],
    scopes: Vec<Vec<String>>,
    /// Byte offsets of names assigned to (`x = ...`): writes, not reads.
    writes: Vec<usize>,
    found: Vec<Loc>,
}

impl Reads<'_> {
    fn declare(&mut self, t: &TokenReference) {
        if let Some(s) = self.scopes.last_mut() {
            s.push(t.token().to_string());
        }
    }

    fn local(&self, n: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|x| x == n))
    }

    fn name_used(&mut self, t: &TokenReference) {
        let at = t.token().start_position().bytes();
        if t.token().to_string() != self.name
            || self.local(self.name)
            || self.writes.contains(&at)
            || self.inside.iter().any(|r| r.contains(&at))
        {
            return;
        }
        self.found.push(Loc::from((
            t.token().start_position(),
            t.token().end_position(),
        )));
    }
}

impl Visitor for Reads<'_> {
    fn visit_block(&mut self, _: &ast::Block) {
        self.scopes.push(Vec::new());
    }
    fn visit_block_end(&mut self, _: &ast::Block) {
        self.scopes.pop();
    }
    fn visit_function_body(&mut self, b: &ast::FunctionBody) {
        self.scopes.push(Vec::new());
        for p in b.parameters() {
            if let ast::Parameter::Name(t) = p {
                self.declare(t);
            }
        }
    }
    fn visit_function_body_end(&mut self, _: &ast::FunctionBody) {
        self.scopes.pop();
    }
    fn visit_local_function(&mut self, f: &ast::LocalFunction) {
        self.declare(f.name());
    }
    fn visit_local_assignment_end(&mut self, a: &ast::LocalAssignment) {
        for t in a.names() {
            self.declare(t);
        }
    }
    fn visit_numeric_for(&mut self, f: &ast::NumericFor) {
        self.scopes.push(Vec::new());
        self.declare(f.index_variable());
    }
    fn visit_numeric_for_end(&mut self, _: &ast::NumericFor) {
        self.scopes.pop();
    }
    fn visit_generic_for(&mut self, f: &ast::GenericFor) {
        self.scopes.push(Vec::new());
        for t in f.names() {
            self.declare(t);
        }
    }
    fn visit_generic_for_end(&mut self, _: &ast::GenericFor) {
        self.scopes.pop();
    }
    fn visit_assignment(&mut self, a: &ast::Assignment) {
        for v in a.variables() {
            if let Var::Name(t) = v {
                self.writes.push(t.token().start_position().bytes());
            }
        }
    }
    fn visit_var(&mut self, v: &Var) {
        if let Var::Name(t) = v {
            self.name_used(t);
        }
    }
    fn visit_prefix(&mut self, p: &Prefix) {
        if let Prefix::Name(t) = p {
            self.name_used(t);
        }
    }
}

/// The byte range a node covers.
pub fn bytes_of<N: Node>(n: &N) -> Range<usize> {
    let (a, b) = crate::source::range_of(n);
    a.bytes()..b.bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(src: &str, name: &str, inside: &[Range<usize>]) -> Vec<usize> {
        let ast = full_moon::parse(src).unwrap();
        reads_outside(&ast, name, inside)
            .into_iter()
            .map(|l| l.line)
            .collect()
    }

    #[test]
    fn reads_are_found_and_locals_writes_and_the_inside_are_not() {
        let src = "v = 1\nlocal function f() return v end\nlocal v = 2\nprint(v)\nlocal function g(v) return v end\nprint(w, v)\n";
        // Line 2 reads the global; lines 4 and 6 read the local of line 3; line 5 its parameter.
        assert_eq!(reads(src, "v", &[]), vec![2]);
        let start = src.find("local function f").unwrap();
        let f = std::iter::once(start..start + 30).collect::<Vec<_>>();
        assert!(reads(src, "v", &f).is_empty());
        assert_eq!(reads("x = 1\nx.y = 2\nx(3)\n", "x", &[]), vec![2, 3]);
    }
}
