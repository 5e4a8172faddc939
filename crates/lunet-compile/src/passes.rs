//! The pipeline: every pass of the compiler, in the order it runs, written once in
//! [`PASSES`]. [`crate::compile_with`] runs them all; [`run`] can stop after any of them by
//! name, and [`Stage::dump`] shows what the pipeline holds there (`--emit ast`, `--emit ir`
//! and the listing are three such stops).
//!
//! Each pass takes the [`Stage`] the one before it left and gives the next: the hook input,
//! then the parsed hook, then IR, then IR with every value placed, then the program. What
//! the program may get afterwards, verdict counters ([`crate::Program::count_verdicts`]), is
//! a method on it rather than a pass: the loader asks for it, not the options.

use std::fmt::Write as _;

use crate::diag::Diagnostic;
use crate::hook::{HookInput, Options};
use crate::ir::Ir;
use crate::program::Program;
use crate::regalloc::{Alloc, Loc};
use crate::source::Parsed;
use crate::{checks, cleanup, dce, emit, lower, regalloc, slices, source};

/// What the pipeline holds between two passes.
#[derive(Debug)]
pub enum Stage {
    /// Before the first pass: only the [`HookInput`].
    Input,
    /// The whole file parsed, and the index of the hook's function in
    /// [`Parsed::functions`].
    Hook { parsed: Box<Parsed>, hook: usize },
    /// The hook as IR over virtual registers.
    Ir(Ir),
    /// The IR, and where each virtual register lives.
    Allocated { ir: Ir, alloc: Alloc },
    /// The eBPF program.
    Program(Program),
}

impl Stage {
    /// The stage as text: the hook's AST, the IR (with each value's place once allocated), or
    /// the program's listing with the Lua lines interleaved.
    pub fn dump(&self, source: &str) -> String {
        match self {
            Stage::Input => String::new(),
            Stage::Hook { parsed, hook } => parsed
                .functions
                .get(*hook)
                .map(source::dump)
                .unwrap_or_default(),
            Stage::Ir(ir) => ir.to_string(),
            Stage::Allocated { ir, alloc } => {
                let mut out = ir.to_string();
                let _ = writeln!(
                    out,
                    "; {} stack slots, {} values spilled",
                    alloc.slots, alloc.spilled
                );
                for (v, loc) in alloc.locs.iter().enumerate() {
                    match loc {
                        Some(Loc::Reg(r)) => {
                            let _ = writeln!(out, "; v{v} in r{r}");
                        }
                        Some(Loc::Slot(k)) => {
                            let _ = writeln!(out, "; v{v} in slot {k}");
                        }
                        None => {}
                    }
                }
                out
            }
            Stage::Program(p) => p.asm(source),
        }
    }
}

/// One pass of the pipeline.
pub struct Pass {
    /// The name [`find`] and `--emit` know it by.
    pub name: &'static str,
    /// What it does, in a few words.
    pub about: &'static str,
    run: fn(&HookInput, &Options, Stage) -> Result<Stage, Diagnostic>,
}

impl std::fmt::Debug for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The passes, in the order they run.
pub static PASSES: &[Pass] = &[
    Pass {
        name: "ast",
        about: "parse the file, find the hook's function (source.rs)",
        run: ast,
    },
    Pass {
        name: "lower",
        about: "the function's AST to IR, calls inlined (lower/)",
        run: to_ir,
    },
    Pass {
        name: "cleanup",
        about: "drop unreachable code, thread jumps (cleanup.rs)",
        run: clean,
    },
    Pass {
        name: "checks",
        about: "merge packet bounds checks a dominating check implies (checks.rs)",
        run: merge_checks,
    },
    Pass {
        name: "cleanup-again",
        about: "clean up after the checks removed (cleanup.rs)",
        run: clean,
    },
    Pass {
        name: "slices",
        about: "netfilter: packet checks become dynptr slices (slices.rs)",
        run: to_slices,
    },
    Pass {
        name: "dce",
        about: "drop instructions whose result nobody reads (dce.rs, liveness.rs)",
        run: remove_dead_code,
    },
    Pass {
        name: "regalloc",
        about: "virtual registers to r2-r7 and stack slots (regalloc.rs, liveness.rs)",
        run: allocate,
    },
    Pass {
        name: "emit",
        about: "IR to eBPF instructions with a Lua line each (emit/)",
        run: to_program,
    },
];

/// The pass named `name`.
pub fn find(name: &str) -> Option<&'static Pass> {
    PASSES.iter().find(|p| p.name == name)
}

/// Runs the passes in order on `input`, stopping after `last` (after all of them when
/// `None`), and gives what the pipeline holds then.
pub fn run(input: &HookInput, options: &Options, last: Option<&Pass>) -> Result<Stage, Diagnostic> {
    let mut stage = Stage::Input;
    for pass in PASSES {
        stage = (pass.run)(input, options, stage)?;
        if last.is_some_and(|l| l.name == pass.name) {
            break;
        }
    }
    Ok(stage)
}

/// Why [`dump_after`] gave no dump.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("no pass is named '{0}' (the passes: {names})", names = names())]
    UnknownPass(String),
    #[error(transparent)]
    Compile(#[from] Diagnostic),
}

/// The passes' names, in order, comma-separated.
fn names() -> String {
    PASSES.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// Runs the passes up to the one named `name` and dumps the stage it leaves.
pub fn dump_after(input: &HookInput, options: &Options, name: &str) -> Result<String, DumpError> {
    let last = find(name).ok_or_else(|| DumpError::UnknownPass(name.to_string()))?;
    Ok(run(input, options, Some(last))?.dump(&input.source))
}

/// A compiler bug: a pass got a stage it does not take, or an internal step failed.
fn internal(input: &HookInput, message: impl Into<String>) -> Diagnostic {
    Diagnostic::internal(&input.file, input.function.line_defined, message)
}

fn wrong_stage(input: &HookInput, pass: &str, stage: &Stage) -> Diagnostic {
    let got = match stage {
        Stage::Input => "the input",
        Stage::Hook { .. } => "the parsed hook",
        Stage::Ir(_) => "IR",
        Stage::Allocated { .. } => "allocated IR",
        Stage::Program(_) => "a program",
    };
    internal(input, format!("pass {pass} was given {got}"))
}

fn ast(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let Stage::Input = stage else {
        return Err(wrong_stage(input, "ast", &stage));
    };
    let parsed = source::parse(&input.file, &input.source)?;
    let hook = source::find_function(&parsed, &input.file, input.function)?;
    let hook = parsed
        .functions
        .iter()
        .position(|f| std::ptr::eq(f, hook))
        .ok_or_else(|| internal(input, "the hook's function is not among the file's"))?;
    Ok(Stage::Hook {
        parsed: Box::new(parsed),
        hook,
    })
}

fn to_ir(input: &HookInput, options: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let Stage::Hook { parsed, hook } = &stage else {
        return Err(wrong_stage(input, "lower", &stage));
    };
    let hook = parsed
        .functions
        .get(*hook)
        .ok_or_else(|| internal(input, "no hook function"))?;
    Ok(Stage::Ir(lower::lower(input, options, parsed, hook)?))
}

/// The IR of `stage`, to change in place.
fn ir_of(input: &HookInput, pass: &str, stage: Stage) -> Result<Ir, Diagnostic> {
    match stage {
        Stage::Ir(ir) => Ok(ir),
        other => Err(wrong_stage(input, pass, &other)),
    }
}

fn clean(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let mut ir = ir_of(input, "cleanup", stage)?;
    cleanup::run(&mut ir);
    Ok(Stage::Ir(ir))
}

fn merge_checks(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let mut ir = ir_of(input, "checks", stage)?;
    checks::elide(&mut ir);
    Ok(Stage::Ir(ir))
}

fn to_slices(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let mut ir = ir_of(input, "slices", stage)?;
    slices::run(&mut ir, input)?;
    Ok(Stage::Ir(ir))
}

fn remove_dead_code(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let mut ir = ir_of(input, "dce", stage)?;
    dce::run(&mut ir).map_err(|e| internal(input, e.to_string()))?;
    Ok(Stage::Ir(ir))
}

fn allocate(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let ir = ir_of(input, "regalloc", stage)?;
    let alloc = regalloc::allocate(&ir).map_err(|e| internal(input, e.to_string()))?;
    Ok(Stage::Allocated { ir, alloc })
}

fn to_program(input: &HookInput, _: &Options, stage: Stage) -> Result<Stage, Diagnostic> {
    let Stage::Allocated { ir, alloc } = &stage else {
        return Err(wrong_stage(input, "emit", &stage));
    };
    let program = emit::emit(ir, alloc, input).map_err(|e| internal(input, e.to_string()))?;
    Ok(Stage::Program(program))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hook;

    fn body() -> HookInput {
        hook("if packet:getuint8(0) == 1 then return 1 end\nreturn 2")
    }

    #[test]
    fn the_passes_run_in_this_order_under_unique_names() {
        let names: Vec<&str> = PASSES.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "ast",
                "lower",
                "cleanup",
                "checks",
                "cleanup-again",
                "slices",
                "dce",
                "regalloc",
                "emit"
            ]
        );
        for (i, p) in PASSES.iter().enumerate() {
            assert!(std::ptr::eq(find(p.name).unwrap(), &PASSES[i]), "{p:?}");
        }
    }

    #[test]
    fn each_stop_leaves_the_stage_its_pass_makes() {
        let input = body();
        for pass in PASSES {
            let stage = run(&input, &Options::default(), Some(pass)).unwrap();
            let ok = match pass.name {
                "ast" => matches!(stage, Stage::Hook { .. }),
                "regalloc" => matches!(stage, Stage::Allocated { .. }),
                "emit" => matches!(stage, Stage::Program(_)),
                _ => matches!(stage, Stage::Ir(_)),
            };
            assert!(ok, "after {}: {stage:?}", pass.name);
            assert!(!stage.dump(&input.source).is_empty(), "{}", pass.name);
        }
    }

    #[test]
    fn the_dumps_are_the_ast_the_ir_and_the_listing() {
        let input = body();
        let dump = |name| dump_after(&input, &Options::default(), name).unwrap();
        assert!(
            dump("ast").starts_with("(function hook [packet argument] lines 1-4"),
            "{}",
            dump("ast")
        );
        assert!(dump("lower").contains("check data + 1 <= data_end else L0"));
        assert_eq!(dump("dce"), crate::emit_ir(&input).unwrap());
        assert!(dump("regalloc").contains("; v0 in r"));
        let program = crate::compile(&input).unwrap();
        assert_eq!(dump("emit"), program.asm(&input.source));
    }

    #[test]
    fn running_every_pass_is_compiling() {
        let input = body();
        let Stage::Program(p) = run(&input, &Options::default(), None).unwrap() else {
            panic!("no program");
        };
        assert_eq!(p.insns, crate::compile(&input).unwrap().insns);
    }

    #[test]
    fn an_unknown_pass_is_named_with_the_passes_there_are() {
        let e = dump_after(&body(), &Options::default(), "optimize").unwrap_err();
        assert!(matches!(e, DumpError::UnknownPass(ref n) if n == "optimize"));
        assert!(e.to_string().contains("ast, lower, cleanup"), "{e}");
    }

    #[test]
    fn a_pass_given_the_wrong_stage_is_a_compiler_bug() {
        let d = to_program(&body(), &Options::default(), Stage::Input).unwrap_err();
        assert_eq!(d.kind, crate::DiagKind::Internal);
        assert!(d.message.contains("emit was given the input"), "{d}");
    }
}
