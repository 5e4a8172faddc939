//! Pass `ast`: parse the script (full_moon, Lua 5.4) and find the hook's function by its
//! lines; [`dump`] is the pass's `--emit ast` text. Literals are decoded in [`crate::literal`].

use std::fmt::Write as _;

use full_moon::ast::{self, Expression, FunctionBody, LastStmt, Stmt};
use full_moon::node::Node;
use full_moon::tokenizer::{Position, TokenReference};
use full_moon::visitors::Visitor;
use full_moon::LuaVersion;

use crate::diag::Diagnostic;
use crate::diag::Loc;
use lunet_types::FnRef;

/// The parsed file and every function in it.
#[derive(Debug)]
pub struct Parsed {
    pub source: String,
    /// The source had backticks, lexed as SOH (see [`parse`]).
    pub backtick: bool,
    pub ast: ast::Ast,
    pub functions: Vec<FoundFn>,
}

/// One function of the file (a declaration, a `local function` or a function expression).
#[derive(Clone, Debug)]
pub struct FoundFn {
    /// `f`, `t.f`, `t:m` or `function` for an expression.
    pub name: String,
    pub body: FunctionBody,
    /// From the `function` keyword to the end of `end`.
    pub at: (Position, Position),
    /// Line of the parameter list's `(`: Lua's `linedefined` for `local function` and
    /// function expressions.
    pub params_line: usize,
    /// A method (`function t:m()`) has an implicit `self` first parameter.
    pub is_method: bool,
}

impl FoundFn {
    pub fn lines(&self) -> (usize, usize) {
        (self.at.0.line(), self.at.1.line())
    }
}

/// Parses the whole file.
pub fn parse(file: &str, source: &str) -> Result<Parsed, Diagnostic> {
    // full_moon 3.0.0's lexer can panic on some malformed input (an `unreachable!` in
    // `read_string`): a parser bug must not take the caller down.
    // A backtick outside a string sends full_moon's lexer into an `unreachable!`: it is not
    // Lua either way, so lex it as another character that is not (SOH, one byte too, so
    // positions stay), and give string literals their backticks back.
    let backtick = source.contains('`');
    let text = if backtick {
        source.replace('`', "\u{1}")
    } else {
        source.to_string()
    };
    let parsed = std::panic::catch_unwind(|| {
        full_moon::parse_fallible(&text, LuaVersion::lua54()).into_result()
    })
    .map_err(|_| {
        Diagnostic::unsupported(
            file,
            Loc::line_start(source, 1),
            "a syntax error",
            "syntax error: the Lua parser failed on this file",
        )
    })?;
    let ast = parsed.map_err(|errors| {
        let first = &errors[0];
        Diagnostic::unsupported(
            file,
            first.range(),
            "a syntax error",
            format!("syntax error: {}", first.error_message()),
        )
    })?;
    let mut c = Collector::default();
    c.visit_ast(&ast);
    Ok(Parsed {
        source: source.to_string(),
        backtick,
        ast,
        functions: c.found,
    })
}

#[derive(Default)]
struct Collector {
    found: Vec<FoundFn>,
}

fn span(token: &TokenReference, end: &TokenReference) -> (Position, Position) {
    (token.token().start_position(), end.token().end_position())
}

fn params_line(body: &FunctionBody) -> usize {
    body.parameters_parentheses()
        .tokens()
        .0
        .token()
        .start_position()
        .line()
}

impl Visitor for Collector {
    fn visit_function_declaration(&mut self, f: &ast::FunctionDeclaration) {
        let name = f.name();
        let mut text: Vec<String> = name.names().iter().map(|t| t.token().to_string()).collect();
        let mut dotted = text.join(".");
        if let Some(m) = name.method_name() {
            text.push(m.token().to_string());
            dotted = format!("{dotted}:{}", m.token());
        }
        self.found.push(FoundFn {
            name: dotted,
            body: f.body().clone(),
            at: span(f.function_token(), f.body().end_token()),
            params_line: params_line(f.body()),
            is_method: name.method_name().is_some(),
        });
    }

    fn visit_local_function(&mut self, f: &ast::LocalFunction) {
        self.found.push(FoundFn {
            name: f.name().token().to_string(),
            body: f.body().clone(),
            at: span(f.function_token(), f.body().end_token()),
            params_line: params_line(f.body()),
            is_method: false,
        });
    }

    fn visit_anonymous_function(&mut self, f: &ast::AnonymousFunction) {
        self.found.push(FoundFn {
            name: "function".into(),
            body: f.body().clone(),
            at: span(f.function_token(), f.body().end_token()),
            params_line: params_line(f.body()),
            is_method: false,
        });
    }
}

/// The function spanning exactly `at`'s lines: its `function` keyword (or its parameter
/// list, which is what Lua records for `local function`) on `line_defined`, its `end` on
/// `last_line_defined`. Two candidates: a diagnostic.
pub fn find_function<'a>(
    parsed: &'a Parsed,
    file: &str,
    at: FnRef,
) -> Result<&'a FoundFn, Diagnostic> {
    let matches = |f: &&FoundFn, by_keyword: bool| {
        let (start, end) = f.lines();
        let first = if by_keyword { start } else { f.params_line };
        first == at.line_defined && end == at.last_line_defined
    };
    let mut found: Vec<&FoundFn> = parsed
        .functions
        .iter()
        .filter(|f| matches(f, true))
        .collect();
    if found.is_empty() {
        found = parsed
            .functions
            .iter()
            .filter(|f| matches(f, false))
            .collect();
    }
    match found.len() {
        1 => Ok(found[0]),
        0 => Err(Diagnostic::unsupported(
            file,
            Loc::line_start(&parsed.source, at.line_defined),
            "a function",
            format!(
                "this function is not one of {file}'s (no function of it spans lines {}-{}): \
                 a library function the kernel tier does not know (`coroutine.wrap`'s, say), \
                 or one from another file, which the kernel tier does not inline",
                at.line_defined, at.last_line_defined
            ),
        )),
        n => Err(Diagnostic::unsupported(
            file,
            found[0].at,
            "a function",
            format!(
                "{n} functions span lines {}-{}: put the hook function on lines of its own",
                at.line_defined, at.last_line_defined
            ),
        )),
    }
}

/// The range of any node, or default positions.
pub fn range_of<N: Node>(n: &N) -> (Position, Position) {
    n.range().unwrap_or_default()
}

/// `--emit ast`: the function as an indented tree of statements with S-expressions.
pub fn dump(f: &FoundFn) -> String {
    let mut out = String::new();
    let params: Vec<String> = f.body.parameters().iter().map(|p| p.to_string()).collect();
    let _ = writeln!(
        out,
        "(function {} [{}] lines {}-{}",
        f.name,
        params.join(" "),
        f.at.0.line(),
        f.at.1.line()
    );
    dump_block(f.body.block(), 1, &mut out);
    out.push_str(")\n");
    out
}

fn ind(depth: usize) -> String {
    "  ".repeat(depth)
}

fn line_of<N: Node>(n: &N) -> usize {
    n.start_position().map(|p| p.line()).unwrap_or(0)
}

fn dump_block(b: &ast::Block, depth: usize, out: &mut String) {
    for s in b.stmts() {
        dump_stmt(s, depth, out);
    }
    if let Some(l) = b.last_stmt() {
        let _ = match l {
            LastStmt::Break(_) => writeln!(out, "{}{}: (break)", ind(depth), line_of(l)),
            LastStmt::Return(r) => writeln!(
                out,
                "{}{}: (return{})",
                ind(depth),
                line_of(l),
                r.returns()
                    .iter()
                    .map(|e| format!(" {}", sexpr(e)))
                    .collect::<String>()
            ),
            _ => writeln!(
                out,
                "{}{}: ({})",
                ind(depth),
                line_of(l),
                l.to_string().trim()
            ),
        };
    }
}

fn dump_stmt(s: &Stmt, depth: usize, out: &mut String) {
    let pre = format!("{}{}: ", ind(depth), line_of(s));
    let list = |es: &ast::punctuated::Punctuated<Expression>| {
        es.iter().map(sexpr).collect::<Vec<_>>().join(" ")
    };
    match s {
        Stmt::LocalAssignment(l) => {
            let names: Vec<String> = l.names().iter().map(|n| n.token().to_string()).collect();
            let _ = writeln!(
                out,
                "{pre}(local [{}] {})",
                names.join(" "),
                list(l.expressions())
            );
        }
        Stmt::Assignment(a) => {
            let vars: Vec<String> = a
                .variables()
                .iter()
                .map(|v| v.to_string().trim().to_string())
                .collect();
            let _ = writeln!(
                out,
                "{pre}(set [{}] {})",
                vars.join(" "),
                list(a.expressions())
            );
        }
        Stmt::FunctionCall(c) => {
            let _ = writeln!(out, "{pre}(call {})", c.to_string().trim());
        }
        Stmt::If(i) => {
            let _ = writeln!(out, "{pre}(if {}", sexpr(i.condition()));
            dump_block(i.block(), depth + 1, out);
            for e in i.else_if().into_iter().flatten() {
                let _ = writeln!(out, "{}elseif {}", ind(depth), sexpr(e.condition()));
                dump_block(e.block(), depth + 1, out);
            }
            if let Some(b) = i.else_block() {
                let _ = writeln!(out, "{}else", ind(depth));
                dump_block(b, depth + 1, out);
            }
            let _ = writeln!(out, "{})", ind(depth));
        }
        Stmt::While(w) => {
            let _ = writeln!(out, "{pre}(while {}", sexpr(w.condition()));
            dump_block(w.block(), depth + 1, out);
            let _ = writeln!(out, "{})", ind(depth));
        }
        Stmt::Repeat(r) => {
            let _ = writeln!(out, "{pre}(repeat");
            dump_block(r.block(), depth + 1, out);
            let _ = writeln!(out, "{}until {})", ind(depth), sexpr(r.until()));
        }
        Stmt::NumericFor(f) => {
            let _ = writeln!(
                out,
                "{pre}(for {} {} {}{}",
                f.index_variable().token(),
                sexpr(f.start()),
                sexpr(f.end()),
                f.step()
                    .map(|s| format!(" {}", sexpr(s)))
                    .unwrap_or_default()
            );
            dump_block(f.block(), depth + 1, out);
            let _ = writeln!(out, "{})", ind(depth));
        }
        Stmt::Do(d) => {
            let _ = writeln!(out, "{pre}(do");
            dump_block(d.block(), depth + 1, out);
            let _ = writeln!(out, "{})", ind(depth));
        }
        Stmt::LocalFunction(f) => {
            let params: Vec<String> = f
                .body()
                .parameters()
                .iter()
                .map(|p| p.to_string())
                .collect();
            let _ = writeln!(
                out,
                "{pre}(local-function {} [{}]",
                f.name().token(),
                params.join(" ")
            );
            dump_block(f.body().block(), depth + 1, out);
            let _ = writeln!(out, "{})", ind(depth));
        }
        other => {
            let _ = writeln!(out, "{pre}(stmt {})", other.to_string().trim());
        }
    }
}

/// An expression as an S-expression.
pub fn sexpr(e: &Expression) -> String {
    match e {
        Expression::BinaryOperator { lhs, binop, rhs } => {
            format!("({} {} {})", binop.token().token(), sexpr(lhs), sexpr(rhs))
        }
        Expression::UnaryOperator { unop, expression } => {
            format!("({} {})", unop.token().token(), sexpr(expression))
        }
        Expression::Parentheses { expression, .. } => sexpr(expression),
        other => other.to_string().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_functions_by_lines() {
        let src = "local a = 1\nlocal function f(p)\n  return 2\nend\nlocal g = function() end\n";
        let p = parse("t.lua", src).unwrap();
        let f = find_function(
            &p,
            "t.lua",
            FnRef {
                line_defined: 2,
                last_line_defined: 4,
            },
        )
        .unwrap();
        assert_eq!(f.name, "f");
        let g = find_function(
            &p,
            "t.lua",
            FnRef {
                line_defined: 5,
                last_line_defined: 5,
            },
        )
        .unwrap();
        assert_eq!(g.name, "function");
        assert!(find_function(
            &p,
            "t.lua",
            FnRef {
                line_defined: 1,
                last_line_defined: 1
            }
        )
        .is_err());
        let two = parse("t.lua", "local f, g = function() end, function() end\n").unwrap();
        let e = find_function(
            &two,
            "t.lua",
            FnRef {
                line_defined: 1,
                last_line_defined: 1,
            },
        )
        .unwrap_err();
        assert!(e.message.contains("2 functions"), "{e}");
    }

    #[test]
    fn the_ast_dump_is_statements_with_s_expressions() {
        let src = "local function hook(p)\n  local x = p:getuint8(0) + 1\n  if x > 2 then\n    return 1\n  end\n  return 2\nend\n";
        let parsed = parse("t.lua", src).unwrap();
        let f = find_function(
            &parsed,
            "t.lua",
            FnRef {
                line_defined: 1,
                last_line_defined: 7,
            },
        )
        .unwrap();
        assert_eq!(
            dump(f),
            "(function hook [p] lines 1-7\n  2: (local [x] (+ p:getuint8(0) 1))\n  3: (if (> x 2)\n    4: (return 1)\n  )\n  6: (return 2)\n)\n"
        );
    }
}
