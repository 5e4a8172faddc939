//! What this crate's test binaries share. The hook inputs of a script (through a real
//! lunet-lua state, as lunet builds them), the Lua tier for reference, kernel loading and the
//! packets (lunet-gen's builders) live in lunet-testkit and are re-exported here; what is
//! left is the compiler's own. Tests that need root start with
//! `lunet_testkit::require_root!`; whether the verifier gave up is
//! `lunet_bpf::LoadError::too_complex`.

#![allow(dead_code, unused_imports)]

pub use lunet_testkit::hooks::*;
pub use lunet_testkit::kernel::*;
pub use lunet_testkit::packets::*;

use lunet_compile::Program;
use lunet_types::Layout;

/// `BPF_PROG_TEST_RUN` refuses XDP frames shorter than an Ethernet header.
pub const MIN_FRAME: usize = ETH_HEADER_LEN;

/// A parsed layout (panics on a bad format: tests write good ones).
pub fn map_layout(format: &str) -> Layout {
    Layout::parse(format).unwrap_or_else(|e| panic!("{e}"))
}

/// Compiles the only (or first) hook of a script.
pub fn compile_first(file: &str, source: &str) -> Result<Program, lunet_compile::Diagnostic> {
    let inputs = hook_inputs(file, source);
    let input = inputs
        .first()
        .unwrap_or_else(|| panic!("{file}: no xdp.attach"));
    lunet_compile::compile(input)
}

/// Compiles, loads, and checks every packet against the Lua tier (and `expect`, when given).
/// Returns the program for instruction counts.
pub fn differential(file: &str, source: &str, packets: &[(Vec<u8>, Option<u32>)]) -> Program {
    let inputs = hook_inputs(file, source);
    let input = &inputs[0];
    let (prog, k) = compile_and_load(input).unwrap_or_else(|d| panic!("{}", d.render(source)));
    let lua = LuaTier::new(file, source);
    for (i, (pkt, expect)) in packets.iter().enumerate() {
        if pkt.len() < MIN_FRAME {
            continue;
        }
        let (kv, kout) = k.run(pkt);
        let (lv, lout) = lua.run(0, pkt);
        assert_eq!(
            kv,
            lv,
            "{file}: packet #{i} ({} bytes): kernel {kv}, Lua {lv}\n{}",
            pkt.len(),
            prog.asm(source)
        );
        if let Some(e) = expect {
            assert_eq!(kv, *e, "{file}: packet #{i}: expected verdict {e}");
        }
        if let Some(out) = lout {
            assert_eq!(kout, out, "{file}: packet #{i}: rewritten bytes differ");
        }
    }
    prog
}
