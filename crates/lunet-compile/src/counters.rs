//! Verdict counters: a pass over the emitted program that makes every exit count its verdict
//! in a per-CPU array ([`crate::verdict_counter_map`]), so `lunet stats` can show how many
//! packets a compiled hook gave each XDP action, default-verdict exits included.
//!
//! Every `exit` becomes a `goto` to one epilogue appended at the end: one slot for one slot,
//! so no other jump moves. At an exit `r0` holds the verdict and nothing else is live, so the
//! epilogue may use any register; it keeps the verdict in `r6` (callee-saved) across the
//! lookup and stores the key in one more 8-byte stack slot below the program's own:
//!
//! ```text
//! r6 = r0
//! *(u32 *)(r10 - S) = r6
//! r1 = map[lunet_verdicts] ll
//! r2 = r10
//! r2 += -S
//! call bpf_map_lookup_elem#1   ; inlined by the verifier for per-CPU arrays (Linux 6.10+)
//! if r0 == 0x0 goto +3         ; a verdict outside 0..=4 counts nowhere
//! r1 = *(u64 *)(r0 +0)
//! r1 += 1
//! *(u64 *)(r0 +0) = r1         ; this CPU's slot: no other CPU writes it, no atomic needed
//! r0 = r6
//! exit
//! ```
//!
//! A pass on the emitted code rather than an [`crate::Options`] field: `Options` is built by
//! struct literal elsewhere in the workspace, and the counters need nothing from the earlier
//! passes.

use lunet_bpf::insn::{op, reg::*, Insn};

use crate::error::ProgramError;
use crate::maps::{helper, MapUse, COUNTER_MAP_ID, COUNTER_MAP_NAME, COUNT_ONE, UNPATCHED_FD};
use crate::program::Program;

impl Program {
    /// Makes every exit of the program, the default-verdict exits included, add one to slot
    /// `verdict` of the per-CPU array [`crate::verdict_counter_map`] (map id
    /// [`COUNTER_MAP_ID`], to patch like any other map). Idempotent. See the module's doc.
    pub fn count_verdicts(&mut self) -> Result<(), ProgramError> {
        count_verdicts(self)
    }
}

fn count_verdicts(p: &mut Program) -> Result<(), ProgramError> {
    if p.maps.iter().any(|u| u.map_id == COUNTER_MAP_ID) {
        return Ok(());
    }
    let key_off = -(p.stack_size as i64) - 8;
    if -key_off > 512 {
        return Err(ProgramError::NoStackForCounters(p.stack_size));
    }
    let epilogue = p.insns.len();
    let ld_imm64 = op::LD | op::DW | op::IMM;
    let exit = op::JMP | op::EXIT;
    let mut i = 0;
    while i < p.insns.len() {
        let code = p.insns[i].code;
        if code == ld_imm64 {
            i += 2;
            continue;
        }
        if code == exit && !p.uncounted.contains(&i) {
            let off = i16::try_from(epilogue as i64 - (i as i64 + 1))
                .map_err(|_| ProgramError::ExitTooFar)?;
            p.insns[i] = Insn::ja(off);
        }
        i += 1;
    }
    let line = p.lines.last().copied().unwrap_or(0);
    let push = |p: &mut Program, i: Insn| {
        p.insns.push(i);
        p.lines.push(line);
    };
    push(p, Insn::mov64_reg(R6, R0));
    push(p, Insn::stx(op::W, R10, key_off as i16, R6));
    p.maps.push(MapUse {
        insn: p.insns.len(),
        map_id: COUNTER_MAP_ID,
        name: COUNTER_MAP_NAME.to_string(),
    });
    for i in Insn::ld_map_fd(R1, UNPATCHED_FD) {
        push(p, i);
    }
    push(p, Insn::mov64_reg(R2, R10));
    push(p, Insn::alu64_imm(op::ADD, R2, key_off as i32));
    push(p, Insn::call(helper::MAP_LOOKUP_ELEM));
    for i in COUNT_ONE {
        push(p, i);
    }
    push(p, Insn::mov64_reg(R0, R6));
    push(p, Insn::exit());
    p.stack_size += 8;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hook;

    fn exits(p: &Program) -> Vec<usize> {
        (0..p.insns.len())
            .filter(|&i| p.insns[i] == Insn::exit())
            .collect()
    }

    #[test]
    fn every_exit_becomes_a_jump_to_one_epilogue_that_counts() {
        let mut p = crate::compile(&hook(
            "if packet:getuint8(0) == 1 then return 1 end\nreturn 3",
        ))
        .unwrap();
        let before = exits(&p);
        assert!(
            before.len() >= 3,
            "two returns and the default verdict's exit"
        );
        let (len, stack) = (p.insns.len(), p.stack_size);
        count_verdicts(&mut p).unwrap();
        // One exit, the epilogue's last instruction; each old exit jumps to the epilogue.
        assert_eq!(exits(&p), [p.insns.len() - 1]);
        for i in before {
            assert_eq!(p.insns[i].code, op::JMP | op::JA);
            assert_eq!(i as i64 + 1 + p.insns[i].off as i64, len as i64);
        }
        assert_eq!(p.insns.len(), p.lines.len());
        assert_eq!(p.stack_size, stack + 8);
        assert_eq!(p.map_ids(), [COUNTER_MAP_ID]);
    }

    #[test]
    fn counting_twice_counts_once() {
        let mut p = crate::compile(&hook("return 1")).unwrap();
        count_verdicts(&mut p).unwrap();
        let once = p.insns.clone();
        count_verdicts(&mut p).unwrap();
        assert_eq!(p.insns, once);
    }

    #[test]
    fn no_room_on_the_stack_for_the_key_is_an_error() {
        let mut p = crate::compile(&hook("return 1")).unwrap();
        p.stack_size = 512;
        assert!(count_verdicts(&mut p).is_err());
    }
}
