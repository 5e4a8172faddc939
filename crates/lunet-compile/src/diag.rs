//! Diagnostics: why a hook does not compile, naming `file:line:col` and the construct.
//!
//! Unsupported input ([`DiagKind::Unsupported`]) is kept apart from compiler bugs
//! ([`DiagKind::Internal`]), as Winch's `def_unsupported!` keeps them apart.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor};
use full_moon::tokenizer::Position;

/// A place in the source: 1-based line and column, and the byte range it covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    pub line: usize,
    pub col: usize,
    pub bytes: Range<usize>,
}

impl From<(Position, Position)> for Loc {
    fn from((a, b): (Position, Position)) -> Loc {
        Loc {
            line: a.line(),
            col: a.character(),
            bytes: a.bytes()..b.bytes().max(a.bytes()),
        }
    }
}

impl Loc {
    /// The start of `line` in `source`.
    pub fn line_start(source: &str, line: usize) -> Loc {
        let start: usize = source
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        Loc {
            line,
            col: 1,
            bytes: start..start,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagKind {
    /// The hook uses something outside the kernel-tier subset (or a type error).
    Unsupported,
    /// A compiler bug: the input was fine, lunet-compile failed.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: DiagKind,
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    /// The construct, in a few words (`a table constructor`, `a global`, ...).
    pub construct: String,
    pub message: String,
    /// Byte range in the source the construct covers (empty when unknown).
    pub span: Range<usize>,
    /// The other constructs outside the subset the same hook uses, in source order: the
    /// compiler goes on past the first so that one run names them all ([`Diagnostic::more`];
    /// boxed, so that a `Result` carrying a diagnostic stays small).
    more: Option<Box<More>>,
}

/// The diagnostics after the first.
#[derive(Clone, Debug, PartialEq, Eq)]
struct More(Vec<Diagnostic>);

impl Diagnostic {
    /// An unsupported construct at `at`.
    pub fn unsupported(
        file: &str,
        at: impl Into<Loc>,
        construct: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let at = at.into();
        Diagnostic {
            kind: DiagKind::Unsupported,
            file: file.to_string(),
            line: at.line,
            col: at.col,
            construct: construct.into(),
            message: message.into(),
            span: at.bytes,
            more: None,
        }
    }

    /// A compiler bug, at a line when one is known.
    pub fn internal(file: &str, line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            kind: DiagKind::Internal,
            file: file.to_string(),
            line,
            col: 1,
            construct: "lunet-compile".into(),
            message: message.into(),
            span: 0..0,
            more: None,
        }
    }

    /// The other constructs outside the subset the hook uses, after this one.
    pub fn more(&self) -> &[Diagnostic] {
        self.more
            .as_deref()
            .map(|m| m.0.as_slice())
            .unwrap_or_default()
    }

    /// This one and [`Diagnostic::more`], in source order.
    pub fn all(&self) -> impl Iterator<Item = &Diagnostic> {
        std::iter::once(self).chain(self.more().iter())
    }

    /// The first of `list` (sorted by place), the rest as its [`Diagnostic::more`].
    pub fn gather(mut list: Vec<Diagnostic>) -> Option<Diagnostic> {
        list.sort_by_key(|d| (d.line, d.col));
        let mut it = list.into_iter();
        let mut first = it.next()?;
        let rest: Vec<Diagnostic> = it.collect();
        if !rest.is_empty() {
            first.more = Some(Box::new(More(rest)));
        }
        Some(first)
    }

    /// codespan-reporting style text, without colours: this diagnostic and each of
    /// [`Diagnostic::more`].
    pub fn render(&self, source: &str) -> String {
        self.all().map(|d| d.render_one(source)).collect()
    }

    fn render_one(&self, source: &str) -> String {
        let file = SimpleFile::new(self.file.as_str(), source);
        let mut span = self.span.clone();
        if span.end > source.len() || span.start > span.end {
            span = 0..0;
        }
        if span.is_empty() && self.line > 0 {
            // Point at the line's start when only a line is known.
            let start: usize = source
                .split_inclusive('\n')
                .take(self.line - 1)
                .map(str::len)
                .sum();
            span = start.min(source.len())..start.min(source.len());
        }
        let d = match self.kind {
            DiagKind::Unsupported => CsDiagnostic::error()
                .with_message(&self.message)
                .with_labels(vec![Label::primary((), span).with_message(&self.construct)])
                .with_notes(vec![
                    "not in the kernel-tier subset: this hook can only run in the Lua tier".into(),
                ]),
            DiagKind::Internal => CsDiagnostic::bug()
                .with_message(format!("internal compiler error: {}", self.message))
                .with_labels(vec![Label::primary((), span)]),
        };
        let mut out = NoColor::new(Vec::new());
        let config = term::Config::default();
        if term::emit(&mut out, &config, &file, &d).is_err() {
            return format!("{self}\n");
        }
        String::from_utf8_lossy(&out.into_inner()).into_owned()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )?;
        if !self.more().is_empty() {
            let at: Vec<String> = self
                .more()
                .iter()
                .map(|d| format!("{}:{}", d.line, d.col))
                .collect();
            write!(f, " (and {} more, at {})", at.len(), at.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
