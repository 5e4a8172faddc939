//! The `ebpf-c-*` methods' programs: each filter hand-written in C (this crate's `c/`, built
//! into the binary so the bench needs no source tree), compiled by the benchmark with clang
//! (`clang -O2 -target bpf`, or `$CLANG`), read from the object by `lunet_bpf::elf` (kfunc
//! calls resolved in the kernel's BTF) and loaded. Without clang the methods are skipped
//! with that reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use lunet_bpf::prog::{attach_type, prog_type};
use lunet_bpf::{LoadOptions, ProgFd};

use crate::filters::Filter;

/// Where a C program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Xdp,
    Netfilter,
}

/// The headers, written beside every program.
const HEADERS: [(&str, &str); 3] = [
    ("common.h", include_str!("../c/common.h")),
    ("xdp.h", include_str!("../c/xdp.h")),
    ("nf.h", include_str!("../c/nf.h")),
];

/// The C source of `filter` at `hook`: file name and text.
pub fn source(filter: Filter, hook: Hook) -> (&'static str, &'static str) {
    match (hook, filter) {
        (Hook::Xdp, Filter::UdpPort | Filter::UdpFlood) => ("port.c", include_str!("../c/port.c")),
        (Hook::Xdp, Filter::Dns) => ("dns.c", include_str!("../c/dns.c")),
        (Hook::Xdp, Filter::Sni) => ("sni.c", include_str!("../c/sni.c")),
        (Hook::Xdp, Filter::AcceptAll) => ("accept.c", include_str!("../c/accept.c")),
        (Hook::Netfilter, Filter::UdpPort | Filter::UdpFlood) => {
            ("nf_port.c", include_str!("../c/nf_port.c"))
        }
        (Hook::Netfilter, Filter::Dns) => ("nf_dns.c", include_str!("../c/nf_dns.c")),
        (Hook::Netfilter, Filter::Sni) => ("nf_sni.c", include_str!("../c/nf_sni.c")),
        (Hook::Netfilter, Filter::AcceptAll) => ("nf_accept.c", include_str!("../c/nf_accept.c")),
    }
}

/// The C compiler: `$CLANG`, else `clang` on the PATH; `None` when there is none.
pub fn clang() -> Option<PathBuf> {
    match std::env::var_os("CLANG").filter(|c| !c.is_empty()) {
        Some(c) => Some(PathBuf::from(c)),
        None => lunet_netns::find_program("clang"),
    }
}

/// Why the C methods cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    clang().is_none().then(|| {
        "clang not found (install it, e.g. apt-get install clang, or set CLANG): the \
         hand-written C is compiled by the benchmark"
            .to_string()
    })
}

/// Compiles `filter`'s program for `hook` in `dir` and loads it (the kernel's verifier
/// checks it).
pub fn build(filter: Filter, hook: Hook, dir: &Path) -> Result<ProgFd, String> {
    let clang = clang().ok_or_else(|| unavailable().unwrap_or_default())?;
    for (name, text) in HEADERS {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    let (file, text) = source(filter, hook);
    let c = dir.join(file);
    let obj = c.with_extension("o");
    std::fs::write(&c, text).map_err(|e| format!("cannot write {}: {e}", c.display()))?;
    let out = Command::new(&clang)
        .args(["-O2", "-target", "bpf", "-c"])
        .arg(&c)
        .arg("-o")
        .arg(&obj)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", clang.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} -O2 -target bpf -c {file} failed: {}",
            clang.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let bytes = std::fs::read(&obj).map_err(|e| format!("{}: {e}", obj.display()))?;
    let (section, ptype, attach) = match hook {
        Hook::Xdp => ("xdp", prog_type::XDP, None),
        Hook::Netfilter => (
            "netfilter",
            prog_type::NETFILTER,
            Some(attach_type::NETFILTER),
        ),
    };
    let p = lunet_bpf::elf::load_section(&bytes, file, section, &lunet_bpf::btf::kernel_func_id)
        .map_err(|e| e.to_string())?;
    lunet_bpf::load_with(&LoadOptions {
        prog_type: ptype,
        insns: &p.insns,
        license: "GPL",
        expected_attach_type: attach,
        name: &p.name,
    })
    .map_err(|e| format!("the kernel refused {file}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_has_a_c_program_at_both_hooks() {
        for f in Filter::ALL {
            for h in [Hook::Xdp, Hook::Netfilter] {
                let (file, text) = source(f, h);
                let section = if h == Hook::Xdp {
                    "SEC(\"xdp\")"
                } else {
                    "SEC(\"netfilter\")"
                };
                assert!(text.contains(section), "{file}");
            }
        }
    }
}
