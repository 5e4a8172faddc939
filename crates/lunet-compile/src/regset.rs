//! A set of eBPF registers as a bitset (Winch's `regset.rs` shape).

use lunet_bpf::insn::reg::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RegSet(u16);

/// Registers the allocator hands out: `r0`/`r1` are the emitter's scratch registers, `r8`
/// and `r9` hold `data_end` and `data`, `r10` is the frame pointer.
pub const ALLOCATABLE: RegSet = RegSet::of(&[R2, R3, R4, R5, R6, R7]);
/// Registers a helper call preserves.
pub const CALLEE_SAVED: RegSet = RegSet::of(&[R6, R7, R8, R9]);

impl RegSet {
    pub const fn of(regs: &[u8]) -> RegSet {
        let mut m = 0u16;
        let mut i = 0;
        while i < regs.len() {
            m |= 1 << regs[i];
            i += 1;
        }
        RegSet(m)
    }

    pub fn contains(self, r: u8) -> bool {
        r < 16 && self.0 & (1 << r) != 0
    }

    pub fn intersect(self, other: RegSet) -> RegSet {
        RegSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many registers the set holds.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Takes `r` if it is in the set.
    pub fn take(&mut self, r: u8) -> bool {
        if self.contains(r) {
            self.0 &= !(1 << r);
            true
        } else {
            false
        }
    }

    /// Takes the lowest register that is also in `allowed`.
    pub fn take_any(&mut self, allowed: RegSet) -> Option<u8> {
        let m = self.0 & allowed.0;
        if m == 0 {
            return None;
        }
        let r = m.trailing_zeros() as u8;
        self.0 &= !(1 << r);
        Some(r)
    }

    pub fn free(&mut self, r: u8) {
        if r < 16 {
            self.0 |= 1 << r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_and_free() {
        let mut s = ALLOCATABLE;
        assert_eq!(s.take_any(CALLEE_SAVED), Some(R6));
        assert!(!s.contains(R6));
        assert!(s.take(R2));
        assert!(!s.take(R2));
        s.free(R2);
        assert!(s.contains(R2));
        assert!(!ALLOCATABLE.contains(R0) && !ALLOCATABLE.contains(R9));
    }
}
