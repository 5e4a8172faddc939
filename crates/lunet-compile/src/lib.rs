//! lunet-compile: the kernel tier's compiler. A Lua 5.4 hook function, with the values its
//! upvalues held when the script's body finished, becomes eBPF for XDP or, for a
//! `netfilter.register` hook, a `BPF_PROG_TYPE_NETFILTER` program ([`Target::Netfilter`]).
//!
//! ## The pipeline
//! [`passes::PASSES`] lists the passes in the order they run (ply's `compile.c` shape), each
//! in its own file; [`compile_with`] runs them all, [`passes::run`] stops after any one by
//! name and [`passes::Stage::dump`] shows what it left (`cargo run -p lunet-compile
//! --example lunetc -- FILE LINE:LAST PASS`). [`emit_ast`] and [`emit_ir`] are the stops
//! after `ast` and `dce`.
//!
//! 1. `ast` ([`source`]): parse the file (full_moon, Lua 5.4), find the hook's function by
//!    its lines.
//! 2. `lower` ([`lower`], `lower/*.rs`): the AST to [`ir`], names resolved ([`resolve`]),
//!    values typed ([`types`]).
//! 3. `cleanup` ([`cleanup`]): drop unreachable code (the verifier refuses it), thread jumps.
//! 4. `checks` ([`checks`]): merge packet bounds checks: widen the first check of a block,
//!    drop those an earlier check on every path implies.
//! 5. `cleanup-again` ([`cleanup`]): clean up after the checks removed.
//! 6. `slices` ([`slices`]): netfilter hooks only: each remaining check becomes one
//!    `bpf_dynptr_slice` of the bytes it covers, loads read through it; packet writes and
//!    strings of run-time length are refused there.
//! 7. `dce` ([`dce`], with [`liveness`]): drop instructions whose result nobody reads.
//! 8. `regalloc` ([`regalloc`], with [`liveness`] and [`regset`]): linear scan over live
//!    intervals, `r2`-`r7` allocatable, spills to 8-byte stack slots.
//! 9. `emit` ([`emit`]): IR to [`lunet_bpf::insn::Insn`]s with a Lua line each, and the map
//!    loads to patch ([`Program::maps`]).
//!
//! Lowering keeps Lua's semantics (64-bit wrapping integers, floor division and modulo,
//! Lua 5.4 shifts), turns every Lua run-time error into a jump to the hook's default
//! verdict, inlines calls of Lua functions, and makes packet accesses explicit: a pointer,
//! a bounds check, then the load or store ([`ir::Inst::PktPtr`], [`ir::Inst::PktCheck`]).
//! Its parts: `lower/stmt.rs` (statements), `loops.rs` (joins and loops), `expr.rs`,
//! `arith.rs`, `cond.rs` (conditions as jumps), `packet.rs` (the data objects), `tables.rs`
//! (constant tables), `calls.rs` (calls, inlining, closures), `library.rs` (the sandbox's
//! globals, globals of one call), `format.rs`, `strings.rs`, `choice.rs` (values from a set
//! of constants), `unroll.rs` (generic `for`), `maps.rs` (map helpers as
//! [`ir::Inst::MapCall`]s), `print.rs`, `recover.rs`. Literals are read by [`literal`];
//! `string.format`'s conversions are [`mod@format`]'s; [`globals`] finds who else reads a global.
//!
//! After the pipeline, on request: [`counters`] ([`Program::count_verdicts`]) makes every
//! exit count its verdict. Each pass has unit tests beside it; `tests/golden/*.ir` and
//! `*.asm` are what the golden scripts' hooks give after `dce` and after `emit`.
//!
//! Unsupported input is a [`Diagnostic`] of kind [`DiagKind::Unsupported`] naming
//! `file:line:col` and the construct, with every other such construct of the hook after it
//! ([`Diagnostic::more`]); a compiler bug is [`DiagKind::Internal`] (the back
//! end's [`CodegenError`]s among them). No input panics. The library makes no system calls.
//! A compiled [`Program`]'s methods fail with a [`ProgramError`].
//!
//! ## Netfilter programs
//! A [`Target::Netfilter`] hook is `function(skb)`: the packet from its network header on
//! (`skb:getuint8(0)` is the IP header's first byte). The prologue reads `ctx->skb` (a BTF
//! pointer), accepts untouched (and uncounted: [`Program::uncounted`]) a packet whose
//! `skb->mark` is not the registration's `mark`, and makes a dynptr over the skb
//! (`bpf_dynptr_from_skb`); packet reads are `bpf_dynptr_slice`s ([`slices`]), the length is
//! `skb->len`, `print` copies with `bpf_dynptr_read`. Offsets and kfunc ids come from the
//! kernel's BTF ([`NfKernel::from_btf`]). A hook may return DROP (0) or ACCEPT (1) only,
//! with no new mark: other verdicts and marks are [`DiagKind::Unsupported`] (the Lua tier
//! runs such a hook); a verdict computed at run time outside 0..=1 gives the default verdict.
//!
//! ## Registers
//! `r9` holds `data` and `r8` `data_end` for the whole program (XDP); `r0` and `r1` are scratch
//! registers of the emitter; `r2`-`r7` hold virtual registers. A helper call (the map
//! helpers) clobbers `r0`-`r5`: the allocator gives values live across a call `r6`/`r7` or a
//! stack slot, and the emitter reads a call's operands before it sets `r1`-`r4`.
//!
//! ## Maps
//! A `bpf.map` in the upvalues is a [`lunet_types::Value::Map`] ([`lunet_types::MapRef`]:
//! plain data, its layouts as lunet-lua parsed them). In a hook, for maps whose key and value
//! layouts are one integer field each (`"I4"`, `">I2"`, `"i8"`, ...; any other layout is a
//! diagnostic naming the map and the layout):
//! - `m[k]` is `bpf_map_lookup_elem`: an integer, or nil when the key is absent (an array index
//!   past the end is absent too), so `m[k] or 0` and `if m[k] then` work;
//! - `m[k] = v` is `bpf_map_update_elem(.., BPF_ANY)`; `m[k] = nil` is
//!   `bpf_map_delete_elem` (deleting an absent key is fine); a `v` that may be nil at run time
//!   updates or deletes as it turns out.
//!
//! Keys and values are packed as lunet-lua's `Layout::pack` packs them (byte order per layout)
//! and values unpacked as `Layout::unpack` does. Where the Lua tier raises, the compiled hook
//! gives its default verdict: a key or value that does not fit its field, a nil key, an update
//! the kernel refuses (a full hash: `E2BIG`; an array index past the end), any delete from an
//! array. Multiple assignment stores from right to left, as Lua 5.4 does.
//!
//! **Per-CPU arrays differ**: a compiled hook reads and writes the slot of the CPU it runs
//! on, where the Lua tier and `lunet map` read the sum over the CPUs (and write CPU 0, zeroing
//! the others). Counters kept with `m[k] = (m[k] or 0) + n` sum to the same totals; a hook
//! whose decisions depend on a per-CPU value sees its CPU's share only.
//!
//! The program refers to maps by `ld_imm64` with `BPF_PSEUDO_MAP_FD` (the imm is -1 until
//! patched): [`Program::maps`] lists each such load with its map id; the loader creates the
//! maps (sizes from the `MapRef`s, type from `lunet_bpf::map::map_type::of`) and calls
//! [`Program::patch_map_fds`] with `(map id, fd)` pairs before `BPF_PROG_LOAD`.
//! [`Program::map_ids`] says which ids it needs.
//!
//! Stack: spill slots first (`r10 - 8` down), then an 8-byte key buffer and an 8-byte value
//! buffer when the hook uses maps, then the saved context pointer and the print record when
//! it prints, then (with counters) the counters' key.
//!
//! ## Print
//! `print(a, b, ...)` in a hook (or in a function inlined into it) writes a record to a ring
//! buffer ([`print_ring_map`], map id [`PRINT_MAP_ID`]) with `bpf_ringbuf_output`; a full ring
//! drops the record, never the packet, and counts it ([`print_lost_map`], id
//! [`PRINT_LOST_MAP_ID`]). Arguments may be integers, booleans, maybe-integers (nil prints
//! `nil`), constant strings, packet strings from `getstring` (the first [`print::STR_CAP`]
//! bytes, then a marker), values from a set of constants and `string.format`'s results
//! (their pieces, each with its conversion: [`print::Item`]). [`Program::prints`] lists the print sites; [`decode_print`] turns a
//! record into the line the Lua tier's `print` would write. The record format is documented in
//! [`mod@print`]. A hook that does not print needs neither map.
//!
//! ## Verdict counters
//! [`Program::count_verdicts`] makes every exit, the default-verdict exits of errors
//! included, add one to slot `verdict` of a per-CPU array of [`COUNTER_SLOTS`] `u64`s
//! ([`verdict_counter_map`], map id [`COUNTER_MAP_ID`], name `lunet_verdicts`): the loader
//! creates that map too and passes its fd with the others. A method on the program rather than
//! a field of [`Options`], which other crates build with a struct literal.
//!
//! ## Loops
//! A numeric `for` whose trip count is a compile-time constant of at most [`LOOP_CAP`] needs
//! nothing more: its counter bounds it. Any other numeric `for` gets a hidden counter capped
//! at [`LOOP_CAP`] iterations (its control variable is exact to the verifier anyway, so it
//! walks every iteration). `while` and `repeat` loops are bounded as [`LoopBound`] says;
//! running out of iterations gives the hook's default verdict, the kernel tier's analog of
//! the Lua tier's instruction budget:
//! - [`LoopBound::MayGoto`] (the default, Linux 6.9+): a `may_goto` at each loop head. The
//!   kernel gives one run of the program 8,388,608 loop iterations in all, and the verifier
//!   prunes a loop state that an earlier iteration's state covers: cursor walks over packet
//!   data and loops whose body branches verify in a few passes. A loop whose variable is an
//!   exact constant growing each iteration (`i = i + 1` from `i = 0`, used as an offset) is
//!   walked up to the largest packet offset and may be refused as too complex.
//! - [`LoopBound::Counter`]: a hidden counter per loop, [`LOOP_CAP`] iterations each; works on
//!   any kernel with bounded loops (5.3+). The verifier walks every iteration, so exact
//!   growing variables verify, but bodies whose branches all continue can multiply states.
//!
//! A loader should try the default and, when the verifier refuses with `E2BIG` (too complex),
//! compile again with [`LoopBound::Counter`].

pub mod checks;
pub mod cleanup;
pub mod counters;
pub mod dce;
pub mod diag;
pub mod disasm;
pub mod emit;
pub mod error;
pub mod format;
pub mod globals;
pub mod hook;
pub mod ir;
pub mod literal;
pub mod liveness;
pub mod lower;
pub mod maps;
pub mod passes;
pub mod pattern;
pub mod print;
pub mod program;
pub mod regalloc;
pub mod regset;
pub mod resolve;
pub mod slices;
pub mod source;
#[cfg(test)]
mod testing;
pub mod types;

pub use diag::{DiagKind, Diagnostic};
pub use error::{CodegenError, ProgramError};
pub use hook::{HookInput, LoopBound, Netfilter, NfKernel, Options, Target, LOOP_CAP};
pub use maps::{verdict_counter_map, MapUse, COUNTER_MAP_ID, COUNTER_SLOTS};
pub use print::{
    decode_print, print_lost_map, print_ring_map, PrintArg, PrintSite, PRINT_LOST_MAP_ID,
    PRINT_MAP_ID,
};
pub use program::Program;

/// Compiles `input.function` to eBPF with the default [`Options`].
pub fn compile(input: &HookInput) -> Result<Program, Diagnostic> {
    compile_with(input, &Options::default())
}

/// Compiles `input.function` to eBPF: every pass of [`passes::PASSES`].
pub fn compile_with(input: &HookInput, options: &Options) -> Result<Program, Diagnostic> {
    match passes::run(input, options, None)? {
        passes::Stage::Program(p) => Ok(p),
        _ => Err(Diagnostic::internal(
            &input.file,
            input.function.line_defined,
            "the last pass left no program",
        )),
    }
}

/// The hook function's AST, compactly (`--emit ast`): the stage after pass `ast`.
pub fn emit_ast(input: &HookInput) -> Result<String, Diagnostic> {
    emit_after(input, "ast")
}

/// The IR after its last pass, `dce`, before register allocation (`--emit ir`).
pub fn emit_ir(input: &HookInput) -> Result<String, Diagnostic> {
    emit_after(input, "dce")
}

/// The dump of the stage after the pass named `pass`, with the default options.
fn emit_after(input: &HookInput, pass: &str) -> Result<String, Diagnostic> {
    passes::dump_after(input, &Options::default(), pass).map_err(|e| match e {
        passes::DumpError::Compile(d) => d,
        other => Diagnostic::internal(&input.file, input.function.line_defined, other.to_string()),
    })
}
