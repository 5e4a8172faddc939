//! Golden tests (Winch's `tests/disas` shape): each `tests/golden/*.lua` is a script whose
//! `xdp.attach`ed hook compiles to the listing in the sibling `.asm`, through the IR in the
//! sibling `.ir` (`--emit ir`: after the last IR pass, before register allocation); each
//! `tests/golden/diag/*.lua` fails to compile with the diagnostic in the sibling `.diag`. A
//! script whose first line is `-- golden: count_verdicts` is listed with verdict counters.
//! `LUNET_BLESS=1 cargo test -p lunet-compile --test golden` rewrites the expectations.
//! No root needed.

mod common;

use std::path::{Path, PathBuf};

fn bless() -> bool {
    std::env::var_os("LUNET_BLESS").is_some_and(|v| v != "0")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lua"))
        .collect();
    v.sort();
    v
}

fn check(path: &Path, ext: &str, actual: &str, failures: &mut Vec<String>) {
    let expected_path = path.with_extension(ext);
    if bless() {
        std::fs::write(&expected_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{} differs (LUNET_BLESS=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}",
            expected_path.display()
        ));
    }
}

fn name(path: &Path) -> String {
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .unwrap_or_default();
    format!(
        "{}/{}",
        dir.to_string_lossy(),
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

#[test]
fn listings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut failures = Vec::new();
    let all = files(&dir);
    assert!(all.len() >= 5, "golden files missing");
    for path in all {
        let source = std::fs::read_to_string(&path).unwrap();
        let file = name(&path);
        let inputs = common::hook_inputs(&file, &source);
        let mut out = String::new();
        let mut ir = String::new();
        for input in &inputs {
            match lunet_compile::emit_ir(input) {
                Ok(text) => {
                    let f = input.function;
                    ir.push_str(&format!(
                        "; the hook on lines {}-{}\n",
                        f.line_defined, f.last_line_defined
                    ));
                    ir.push_str(&text);
                }
                Err(d) => failures.push(format!("{file}: {}", d.render(&source))),
            }
            let counted = source.starts_with("-- golden: count_verdicts");
            match lunet_compile::compile(input) {
                Ok(mut p) => {
                    if counted {
                        p.count_verdicts().unwrap();
                    }
                    out.push_str(&format!(
                        "; {} instructions, {} bytes of stack, {} values ({} spilled)\n",
                        p.insns.len(),
                        p.stack_size,
                        p.vregs,
                        p.spilled
                    ));
                    out.push_str(&p.asm(&source));
                }
                Err(d) => failures.push(format!("{file}: {}", d.render(&source))),
            }
        }
        check(&path, "asm", &out, &mut failures);
        check(&path, "ir", &ir, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/diag");
    let mut failures = Vec::new();
    let all = files(&dir);
    assert!(all.len() >= 7, "golden diagnostics missing");
    for path in all {
        let source = std::fs::read_to_string(&path).unwrap();
        let file = name(&path);
        let inputs = common::hook_inputs(&file, &source);
        let input = &inputs[0];
        match lunet_compile::compile(input) {
            Ok(p) => failures.push(format!(
                "{file}: compiled, but should not have:\n{}",
                p.asm(&source)
            )),
            Err(d) => {
                assert_eq!(d.kind, lunet_compile::DiagKind::Unsupported, "{file}: {d}");
                let head = format!("{}:{}:{}: ", d.file, d.line, d.col);
                assert!(d.to_string().starts_with(&head), "{d}");
                let text = format!("{d}\nconstruct: {}\n\n{}", d.construct, d.render(&source));
                check(&path, "diag", &text, &mut failures);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
