//! `cargo run -p lunet-compile --example lunetc -- FILE.lua [ast|ir|asm]`: compiles every
//! `xdp.attach`ed hook of a script whose hook's lines are given as `LINE:LAST` (or the first
//! function of the file) with no upvalues, and prints what `--emit` would.

use lunet_compile::{compile, emit_ast, emit_ir, HookInput, Target};
use lunet_types::FnRef;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: lunetc FILE.lua LINE:LAST [ast|ir|asm]");
        std::process::exit(2);
    };
    let source = std::fs::read_to_string(path).expect("read");
    let (a, b) = args
        .get(2)
        .and_then(|s| s.split_once(':'))
        .map(|(a, b)| (a.parse().unwrap_or(1), b.parse().unwrap_or(1)))
        .unwrap_or((1, source.lines().count()));
    let input = HookInput {
        file: path.clone(),
        source: source.clone(),
        function: FnRef {
            line_defined: a,
            last_line_defined: b,
        },
        upvalues: vec![],
        target: Target::Xdp,
        default_verdict: 2,
    };
    let out = match args.get(3).map(String::as_str).unwrap_or("asm") {
        "ast" => emit_ast(&input),
        "ir" => emit_ir(&input),
        _ => compile(&input).map(|p| p.asm(&source)),
    };
    match out {
        Ok(s) => print!("{s}"),
        Err(d) => {
            eprint!("{}", d.render(&source));
            std::process::exit(1);
        }
    }
}
