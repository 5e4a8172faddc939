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

/// A TLS record holding a ClientHello with the extensions given (`(type, body)`), and a
/// server_name extension for `sni` after them when given: the SNI walk's cases, which
/// lunet-gen's ClientHello (a fixed set of extensions, always a name) does not cover.
pub fn client_hello(sni: Option<&str>, extra: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut exts: Vec<u8> = Vec::new();
    let mut push_ext = |t: u16, body: &[u8]| {
        exts.extend_from_slice(&t.to_be_bytes());
        exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
        exts.extend_from_slice(body);
    };
    for (t, b) in extra {
        push_ext(*t, b);
    }
    if let Some(name) = sni {
        let mut b = Vec::new();
        b.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        push_ext(0, &b);
    }
    let mut hello = vec![0x03, 0x03];
    hello.extend_from_slice(&[0xab; 32]);
    hello.push(32);
    hello.extend_from_slice(&[0xcd; 32]);
    hello.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
    hello.extend_from_slice(&[1, 0]);
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);
    let mut hs = vec![
        1,
        (hello.len() >> 16) as u8,
        (hello.len() >> 8) as u8,
        hello.len() as u8,
    ];
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// `bytes` padded with zeros to 64 bytes.
pub fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut p = bytes.to_vec();
    if p.len() < 64 {
        p.resize(64, 0);
    }
    p
}

/// A tiny deterministic generator (xorshift64*).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs every frame through the compiled hook and the Lua tier; the lines each printed for
/// each frame, and the verdicts, must be the same. Returns how many lines were compared.
pub fn compare_prints(file: &str, source: &str, frames: &[Vec<u8>]) -> usize {
    let inputs = hook_inputs(file, source);
    let (prog, k) = compile_and_load(&inputs[0]).unwrap_or_else(|d| panic!("{}", d.render(source)));
    assert!(!prog.prints.is_empty(), "{file}: the hook prints");
    let mut ring = k.maps.print_ring();
    let lua = LuaTier::new(file, source);
    let mut seq = 0;
    let mut compared = 0;
    for (i, frame) in frames.iter().enumerate() {
        let (kv, _) = k.run(frame);
        let (lv, _) = lua.run(0, frame);
        let mut kernel: Vec<String> = Vec::new();
        ring.consume(|r| kernel.push(lunet_compile::decode_print(r, &prog.prints)));
        let (texts, next) = lua.prints_since(seq);
        seq = next;
        assert_eq!(
            kernel,
            texts,
            "{file}: frame #{i} ({} bytes) printed differently",
            frame.len()
        );
        assert_eq!(kv, lv, "{file}: frame #{i}: verdicts differ");
        compared += texts.len();
    }
    assert_eq!(k.maps.print_lost(), 0, "{file}: nothing was lost");
    compared
}
