//! The programs as text: lunet's listing (`--asm-dir`), and for every filter and timed frame
//! both programs' listings with the number of times each instruction ran on that frame, from
//! the interpreter (`--profile-dir`).

use std::path::Path;

use lunet_bpf::Insn;

use super::load::Filter;
use super::{interp, VsClangError};

/// Writes `text` to `path`.
fn write(path: &Path, text: String) -> Result<(), VsClangError> {
    std::fs::write(path, text).map_err(|source| VsClangError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn create_dir(dir: &Path) -> Result<(), VsClangError> {
    std::fs::create_dir_all(dir).map_err(|source| VsClangError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// lunet's listing of each filter, with its Lua lines: `DIR/FILTER.lunet.asm`.
pub fn write_listings(dir: &Path, filters: &[Filter]) -> Result<(), VsClangError> {
    create_dir(dir)?;
    for f in filters {
        write(
            &dir.join(format!("{}.lunet.asm", f.name)),
            f.lunet.asm(&f.lua_source),
        )?;
    }
    Ok(())
}

/// Prefixes each instruction line of a listing (`  NNN: ...`) with its execution count.
fn annotate(listing: &str, counts: &[u64]) -> String {
    let mut out = String::new();
    for line in listing.lines() {
        let pc = line
            .split_once(':')
            .and_then(|(n, _)| n.trim().parse::<usize>().ok())
            .filter(|_| line.starts_with(' '));
        match pc.and_then(|pc| counts.get(pc)) {
            Some(0) => out.push_str("     . "),
            Some(n) => out.push_str(&format!("{n:>6} ")),
            None => out.push_str("       "),
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A listing of raw instructions in lunet's notation.
fn listing(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut pc = 0;
    while pc < insns.len() {
        let (text, slots) = lunet_compile::disasm::insn(pc, &insns[pc], insns.get(pc + 1));
        out.push_str(&format!("{pc:>5}: {text}\n"));
        pc += slots.max(1);
    }
    out
}

/// For every filter and timed frame, both programs' listings with the number of times each
/// instruction ran on that frame: `DIR/FILTER.KIND.{lunet,c}.prof`.
pub fn write_profiles(dir: &Path, filters: &[Filter]) -> Result<(), VsClangError> {
    create_dir(dir)?;
    for f in filters {
        let lunet_listing = f.lunet.asm(&f.lua_source);
        let c_listing = listing(&f.c_insns);
        for frame in &f.frames {
            let kind = frame.kind;
            let kind_name = kind.replace(' ', "-");
            for (who, insns, text) in [
                ("lunet", &f.lunet.insns, &lunet_listing),
                ("c", &f.c_insns, &c_listing),
            ] {
                let mut counts = vec![0u64; insns.len()];
                let run =
                    interp::run_counting(insns, &frame.bytes, &mut counts).map_err(|source| {
                        VsClangError::Interp {
                            filter: f.name,
                            kind,
                            who,
                            source,
                        }
                    })?;
                let head = format!(
                    "; {} {who} on the {kind} frame: {} instructions executed ({} frame loads, \
                     {} stack loads/stores, {} branches of which {} may_goto), verdict {}\n",
                    f.name,
                    run.executed,
                    run.packet_loads,
                    run.stack_ops,
                    run.branches,
                    run.may_gotos,
                    run.verdict
                );
                let path = dir.join(format!("{}.{kind_name}.{who}.prof", f.name));
                write(&path, head + &annotate(text, &counts))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_lines_get_their_count_and_other_lines_a_blank() {
        let listing = "; line 3\n    0: r0 = 2\n    1: exit\n";
        let out = annotate(listing, &[5, 0]);
        assert_eq!(
            out,
            "       ; line 3\n     5     0: r0 = 2\n     .     1: exit\n"
        );
    }

    #[test]
    fn an_ld_imm64_is_one_line_of_two_slots() {
        let [lo, hi] = Insn::ld_imm64(0, 1 << 40);
        let text = listing(&[lo, hi, Insn::exit()]);
        let pcs: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(pcs, ["    0", "    2"], "{text}");
    }
}
