//! Pass 1: parse the script (full_moon, Lua 5.4) and find the hook's function by its lines.
//! Also: literal decoding (numbers, strings) and the `--emit ast` dump.

use std::fmt::Write as _;

use full_moon::ast::{self, Expression, FunctionBody, LastStmt, Stmt};
use full_moon::node::Node;
use full_moon::tokenizer::{Position, TokenReference, TokenType};
use full_moon::visitors::Visitor;
use full_moon::LuaVersion;

use crate::diag::Loc;
use crate::{Diagnostic, FnRef};

/// The parsed file and every function in it.
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
                "no function spans lines {}-{} of {file}",
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

/// A number literal's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// Reads a Lua 5.4 numeral: decimal and hexadecimal integers (hexadecimal ones wrap around,
/// decimal ones too large become floats), floats in both bases.
pub fn number_value(text: &str) -> Option<Number> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.contains(['.', 'p', 'P']) {
            return hex_float(hex).map(Number::Float);
        }
        if hex.is_empty() {
            return None;
        }
        let mut v: u64 = 0;
        for c in hex.chars() {
            v = v.wrapping_mul(16).wrapping_add(c.to_digit(16)? as u64);
        }
        return Some(Number::Int(v as i64));
    }
    if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
        return Some(match t.parse::<i64>() {
            Ok(v) => Number::Int(v),
            Err(_) => Number::Float(t.parse::<f64>().ok()?),
        });
    }
    t.parse::<f64>().ok().map(Number::Float)
}

fn hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// The bytes of a string literal token of `parsed`, escapes decoded as Lua does.
pub fn literal(parsed: &Parsed, token: &TokenReference) -> Result<Vec<u8>, String> {
    let mut b = string_value(token)?;
    if parsed.backtick {
        for c in &mut b {
            if *c == 1 {
                *c = b'`';
            }
        }
    }
    Ok(b)
}

/// The bytes of a string literal token, escapes decoded as Lua does.
pub fn string_value(token: &TokenReference) -> Result<Vec<u8>, String> {
    let TokenType::StringLiteral {
        literal,
        multi_line_depth,
        quote_type,
    } = token.token_type()
    else {
        return Err("not a string literal".into());
    };
    let s = literal.as_str();
    if matches!(
        quote_type,
        full_moon::tokenizer::StringLiteralQuoteType::Brackets
    ) {
        let _ = multi_line_depth;
        let s = s
            .strip_prefix("\r\n")
            .or_else(|| s.strip_prefix("\n\r"))
            .or_else(|| s.strip_prefix('\n'))
            .or_else(|| s.strip_prefix('\r'))
            .unwrap_or(s);
        return Ok(s.as_bytes().to_vec());
    }
    unescape(s)
}

fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&c) = b.get(i) else {
            return Err("unfinished escape".into());
        };
        i += 1;
        match c {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' | b'\n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' | b'"' | b'\'' => out.push(c),
            b'\r' => {
                out.push(b'\n');
                if b.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'x' => {
                let h = b.get(i..i + 2).ok_or("bad \\x escape")?;
                let v = u8::from_str_radix(std::str::from_utf8(h).map_err(|_| "bad \\x")?, 16)
                    .map_err(|_| "bad \\x escape")?;
                out.push(v);
                i += 2;
            }
            b'z' => {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            b'u' => {
                if b.get(i) != Some(&b'{') {
                    return Err("bad \\u escape".into());
                }
                let end = s[i..].find('}').ok_or("bad \\u escape")? + i;
                let v = u32::from_str_radix(&s[i + 1..end], 16).map_err(|_| "bad \\u escape")?;
                i = end + 1;
                utf8_extended(v, &mut out)?;
            }
            b'0'..=b'9' => {
                let mut v: u32 = (c - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && b[i].is_ascii_digit() {
                    v = v * 10 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(u8::try_from(v).map_err(|_| "decimal escape too large")?);
            }
            _ => return Err(format!("invalid escape '\\{}'", c as char)),
        }
    }
    Ok(out)
}

/// Lua's `\u{...}`: UTF-8 extended to 31 bits.
fn utf8_extended(v: u32, out: &mut Vec<u8>) -> Result<(), String> {
    if v > 0x7fff_ffff {
        return Err("UTF-8 value too large".into());
    }
    if v < 0x80 {
        out.push(v as u8);
        return Ok(());
    }
    let mut buf = [0u8; 6];
    let mut n = 0;
    let mut x = v;
    let mut mfb: u32 = 0x3f;
    loop {
        buf[5 - n] = (0x80 | (x & 0x3f)) as u8;
        n += 1;
        x >>= 6;
        mfb >>= 1;
        if x <= mfb {
            break;
        }
    }
    buf[5 - n] = ((!mfb << 1) | x) as u8;
    n += 1;
    out.extend_from_slice(&buf[6 - n..]);
    Ok(())
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
    fn numbers_follow_lua() {
        assert_eq!(number_value("42"), Some(Number::Int(42)));
        assert_eq!(number_value("0xff"), Some(Number::Int(255)));
        assert_eq!(number_value("0xffffffffffffffff"), Some(Number::Int(-1)));
        assert_eq!(
            number_value("9223372036854775808"),
            Some(Number::Float(9223372036854775808.0))
        );
        assert_eq!(number_value("1e9"), Some(Number::Float(1e9)));
        assert_eq!(number_value("0x1p4"), Some(Number::Float(16.0)));
    }

    #[test]
    fn escapes_follow_lua() {
        assert_eq!(unescape(r"a\x41\65\n\z   b").unwrap(), b"aAA\nb");
        assert_eq!(unescape(r"\u{20AC}").unwrap(), "€".as_bytes());
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\300").is_err());
    }

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
}
