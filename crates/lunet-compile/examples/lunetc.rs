//! `cargo run -p lunet-compile --example lunetc -- FILE.lua LINE:LAST [PASS]`: compiles the
//! function on lines `LINE`-`LAST` (the whole file when not given) with no upvalues, and
//! prints the stage after pass `PASS` (any name of `passes::PASSES`: `ast`, `lower`, `dce`,
//! `regalloc`, ...; `emit`, the listing, when not given). `ir` is `dce`, as `--emit ir`.

use lunet_compile::passes::{self, DumpError};
use lunet_compile::{HookInput, Options, Target};
use lunet_types::FnRef;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: lunetc FILE.lua LINE:LAST [PASS]; the passes:");
        for p in passes::PASSES {
            eprintln!("  {:14} {}", p.name, p.about);
        }
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
    let pass = match args.get(3).map(String::as_str).unwrap_or("emit") {
        "ir" => "dce",
        "asm" => "emit",
        other => other,
    };
    match passes::dump_after(&input, &Options::default(), pass) {
        Ok(s) => print!("{s}"),
        Err(DumpError::Compile(d)) => {
            eprint!("{}", d.render(&source));
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
