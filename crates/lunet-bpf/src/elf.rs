//! A program from a clang-built eBPF object (`clang -O2 -target bpf -c`), without libbpf:
//! the instructions of one section, read with the `object` crate. What a self-contained
//! program needs and no more: calls to kernel functions (kfuncs, declared `extern` in the C)
//! are resolved to their ids in the running kernel's BTF; any other relocation (maps, global
//! data, calls to functions that were not inlined) is refused with the reason.

use object::{Architecture, Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind};

use crate::insn::Insn;

/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;
/// `src_reg` of a call to a kernel function whose BTF id is the immediate.
const PSEUDO_KFUNC_CALL: u8 = 2;

/// One program of an object file: its function name and instructions.
#[derive(Debug, Clone)]
pub struct ElfProgram {
    pub name: String,
    pub insns: Vec<Insn>,
}

/// Why an object file gives no program: every message starts with the object's name.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {problem}")]
pub struct ElfError {
    /// The object's path, as the caller named it.
    pub object: String,
    #[source]
    pub problem: ElfProblem,
}

/// What is wrong with an object file ([`ElfError`]).
#[derive(Debug, thiserror::Error)]
pub enum ElfProblem {
    #[error("not an object file: {0}")]
    NotAnObject(#[source] object::Error),
    #[error("not a little-endian eBPF object ({0:?}); build it with clang -target bpf")]
    NotBpf(Architecture),
    #[error("no section {0:?} (is the function SEC(\"{0}\")?)")]
    NoSection(String),
    #[error(
        "code in section {other:?} besides {section:?}: only one self-contained program is \
         supported"
    )]
    MoreCode { section: String, other: String },
    #[error("section {section:?}: {source}")]
    Section {
        section: String,
        #[source]
        source: object::Error,
    },
    #[error("section {section:?} is {len} bytes, not a whole number of 8-byte instructions")]
    NotInstructions { section: String, len: usize },
    #[error("kfunc {name}: {source}")]
    Kfunc {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "section {section:?} has {} relocation(s) other than kfunc calls, at instruction(s) {}: \
         the program uses maps, global data or a function that was not inlined, which this \
         loader does not resolve (it is not libbpf); keep the C self-contained",
        at.len(),
        at.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    Relocations { section: String, at: Vec<usize> },
}

/// Reads section `section` (e.g. `"xdp"`, `"netfilter"`) of the eBPF object `bytes`;
/// `kfunc(name)` gives the BTF id of a kernel function the program calls (e.g.
/// [`crate::btf::kernel_func_id`]). Errors name `what` (the object's path).
pub fn load_section(
    bytes: &[u8],
    what: &str,
    section: &str,
    kfunc: &dyn Fn(&str) -> std::io::Result<u32>,
) -> Result<ElfProgram, ElfError> {
    let fail = |problem| ElfError {
        object: what.to_string(),
        problem,
    };
    let file = object::File::parse(bytes).map_err(|e| fail(ElfProblem::NotAnObject(e)))?;
    if file.architecture() != Architecture::Bpf || !file.is_little_endian() {
        return Err(fail(ElfProblem::NotBpf(file.architecture())));
    }
    let sec = file
        .section_by_name(section)
        .ok_or_else(|| fail(ElfProblem::NoSection(section.to_string())))?;
    // Code elsewhere (e.g. `.text` for functions clang did not inline) would be reached only
    // through relocated calls, which are refused below; say so plainly if there is any.
    for other in file.sections() {
        let name = other.name().unwrap_or("?");
        if other.index() != sec.index() && other.kind() == SectionKind::Text && other.size() > 0 {
            return Err(fail(ElfProblem::MoreCode {
                section: section.to_string(),
                other: name.to_string(),
            }));
        }
    }
    let data = sec.data().map_err(|source| {
        fail(ElfProblem::Section {
            section: section.to_string(),
            source,
        })
    })?;
    if data.is_empty() || data.len() % 8 != 0 {
        return Err(fail(ElfProblem::NotInstructions {
            section: section.to_string(),
            len: data.len(),
        }));
    }
    let mut insns: Vec<Insn> = data
        .chunks_exact(8)
        .map(|c| Insn {
            code: c[0],
            regs: c[1],
            off: i16::from_le_bytes([c[2], c[3]]),
            imm: i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let mut refused = Vec::new();
    for (off, rel) in sec.relocations() {
        let at = (off / 8) as usize;
        let symbol = match rel.target() {
            RelocationTarget::Symbol(i) => file.symbol_by_index(i).ok(),
            _ => None,
        };
        let extern_fn = symbol
            .filter(|s| s.is_undefined())
            .and_then(|s| s.name().ok());
        match (insns.get_mut(at), extern_fn) {
            (Some(insn), Some(name)) if insn.code == CALL => {
                let id = kfunc(name).map_err(|source| {
                    fail(ElfProblem::Kfunc {
                        name: name.to_string(),
                        source,
                    })
                })?;
                insn.regs = (insn.regs & 0x0f) | (PSEUDO_KFUNC_CALL << 4);
                insn.off = 0;
                insn.imm = id as i32;
            }
            _ => refused.push(at),
        }
    }
    if !refused.is_empty() {
        return Err(fail(ElfProblem::Relocations {
            section: section.to_string(),
            at: refused,
        }));
    }
    let name = file
        .symbols()
        .find(|s| s.section_index() == Some(sec.index()) && s.is_global() && s.address() == 0)
        .and_then(|s| s.name().ok().map(str::to_string))
        .unwrap_or_else(|| section.to_string());
    Ok(ElfProgram { name, insns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_kfunc(name: &str) -> std::io::Result<u32> {
        Err(std::io::Error::other(format!("no {name}")))
    }

    #[test]
    fn errors_name_the_object_and_keep_their_cause() {
        let e = load_section(b"not elf", "crates/lunet-bench/c/x.o", "xdp", &no_kfunc).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("crates/lunet-bench/c/x.o: not an object file: "),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
        let refused = ElfError {
            object: "x.o".into(),
            problem: ElfProblem::Relocations {
                section: "xdp".into(),
                at: vec![3, 7],
            },
        };
        assert_eq!(
            refused.to_string(),
            "x.o: section \"xdp\" has 2 relocation(s) other than kfunc calls, at instruction(s) \
             3, 7: the program uses maps, global data or a function that was not inlined, which \
             this loader does not resolve (it is not libbpf); keep the C self-contained"
        );
    }
}
