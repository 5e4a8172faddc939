//! The compiler's benchmark against clang ([`lunet_bench::vs_clang`]), as
//! `scripts/bench-compiler.sh` runs it once it has built the C objects:
//!
//! ```text
//! cargo run --release -p lunet-bench --example vs_clang -- --obj-dir DIR [--examples DIR]
//!     [--rounds 20] [--repeat 1000000] [--cpu N] [--json FILE] [--asm-dir DIR]
//!     [--profile-dir DIR] [--compiler TEXT] [--hold SECS]
//! ```
//!
//! `VS_CLANG_VERIFIER_LOG=FILE` writes the C programs' whole verifier log there. Exit codes:
//! 0 done, 1 the benchmark stopped (the reason on stderr), 2 a bad command line.

use std::path::{Path, PathBuf};
use std::process::exit;

use lunet_bench::vs_clang::{self, Options};

fn usage() -> ! {
    eprintln!(
        "usage: vs_clang --obj-dir DIR [--examples DIR] [--rounds N] [--repeat N] [--cpu N]\n\
         \x20               [--json FILE] [--asm-dir DIR] [--profile-dir DIR] [--compiler TEXT]\n\
         \x20               [--hold SECS]  (keep the programs loaded, e.g. for bpftool prog dump jited)\n\
         DIR holds sni.o and dns.o from `clang -O2 -target bpf -c crates/lunet-bench/c/{{sni,dns}}.c`;\n\
         scripts/bench-compiler.sh builds them and runs this."
    );
    exit(2)
}

fn parse_args() -> Options {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Options {
        obj_dir: PathBuf::new(),
        examples: root.join("examples"),
        rounds: 20,
        repeat: 1_000_000,
        cpu: None,
        json: None,
        asm_dir: None,
        profile_dir: None,
        compiler: None,
        hold: 0,
        c_verifier_log: std::env::var_os("VS_CLANG_VERIFIER_LOG").map(PathBuf::from),
    };
    let mut have_obj = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--obj-dir" => {
                a.obj_dir = val().into();
                have_obj = true;
            }
            "--examples" => a.examples = val().into(),
            "--rounds" => a.rounds = val().parse().unwrap_or_else(|_| usage()),
            "--repeat" => a.repeat = val().parse().unwrap_or_else(|_| usage()),
            "--cpu" => a.cpu = Some(val().parse().unwrap_or_else(|_| usage())),
            "--json" => a.json = Some(val().into()),
            "--asm-dir" => a.asm_dir = Some(val().into()),
            "--profile-dir" => a.profile_dir = Some(val().into()),
            "--compiler" => a.compiler = Some(val()),
            "--hold" => a.hold = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if !have_obj || a.rounds == 0 || a.repeat == 0 {
        usage();
    }
    a
}

fn main() {
    if let Err(e) = vs_clang::run(&parse_args()) {
        eprintln!("vs_clang: {e}");
        exit(1);
    }
}
