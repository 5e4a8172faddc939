//! The instructions of a clang-built XDP program: the `xdp` section of an eBPF ELF object,
//! read with the `object` crate and loaded with lunet-bpf, without libbpf. Only what a
//! self-contained program needs is supported: one section of code, no relocations (no maps,
//! no global data, no calls to functions that were not inlined).

use std::path::Path;

use lunet_bpf::Insn;
use object::{Architecture, Object, ObjectSection, ObjectSymbol, SectionKind};

/// The XDP program of an object file: its function name and instructions.
pub struct ElfProgram {
    pub name: String,
    pub insns: Vec<Insn>,
}

/// Reads section `section` (e.g. `"xdp"`) of the eBPF object at `path`.
pub fn load_section(path: &Path, section: &str) -> Result<ElfProgram, String> {
    let at = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("{at}: {e}"))?;
    let file =
        object::File::parse(&*bytes).map_err(|e| format!("{at}: not an object file: {e}"))?;
    if file.architecture() != Architecture::Bpf || !file.is_little_endian() {
        return Err(format!(
            "{at}: not a little-endian eBPF object ({:?}); build it with clang -target bpf",
            file.architecture()
        ));
    }
    let sec = file.section_by_name(section).ok_or_else(|| {
        format!("{at}: no section {section:?} (is the function SEC(\"{section}\")?)")
    })?;
    let relocs: Vec<u64> = sec.relocations().map(|(off, _)| off).collect();
    if !relocs.is_empty() {
        let insns: Vec<String> = relocs.iter().map(|o| (o / 8).to_string()).collect();
        return Err(format!(
            "{at}: section {section:?} has {} relocation(s), at instruction(s) {}: the program \
             uses maps, global data or a function that was not inlined, which this loader does \
             not resolve (it is not libbpf); keep the C self-contained",
            relocs.len(),
            insns.join(", ")
        ));
    }
    // Code elsewhere (e.g. `.text` for functions clang did not inline) would be reached only
    // through relocated calls, refused above; say so plainly if there is any.
    for other in file.sections() {
        let name = other.name().unwrap_or("?");
        if other.index() != sec.index() && other.kind() == SectionKind::Text && other.size() > 0 {
            return Err(format!(
                "{at}: code in section {name:?} besides {section:?}: only one self-contained \
                 program is supported"
            ));
        }
    }
    let data = sec
        .data()
        .map_err(|e| format!("{at}: section {section:?}: {e}"))?;
    if data.is_empty() || data.len() % 8 != 0 {
        return Err(format!(
            "{at}: section {section:?} is {} bytes, not a whole number of 8-byte instructions",
            data.len()
        ));
    }
    let insns = data
        .chunks_exact(8)
        .map(|c| Insn {
            code: c[0],
            regs: c[1],
            off: i16::from_le_bytes([c[2], c[3]]),
            imm: i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let name = file
        .symbols()
        .find(|s| s.section_index() == Some(sec.index()) && s.is_global() && s.address() == 0)
        .and_then(|s| s.name().ok().map(str::to_string))
        .unwrap_or_else(|| section.to_string());
    Ok(ElfProgram { name, insns })
}
