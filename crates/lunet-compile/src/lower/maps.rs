//! Maps in a compiled hook (part of pass `lower`): `m[k]` is `bpf_map_lookup_elem`, `m[k] = v` is
//! `bpf_map_update_elem(.., BPF_ANY)`, `m[k] = nil` is `bpf_map_delete_elem`.
//!
//! Keys and values are one integer field each (`"I4"`, `">I2"`, `"i8"`, ...): the compiled
//! code packs them to the bytes lunet-lua's `Layout::pack` gives (byte order per layout) and
//! unpacks values as `Layout::unpack` does (sign- or zero-extended). Wherever the Lua tier
//! raises, the code jumps to the default verdict:
//! - a key or value outside its field's range (`does not fit`), a nil key;
//! - an update the kernel refuses: a full hash (`E2BIG`), an array index past the end;
//! - any delete from an array ("entries of an array map cannot be deleted").
//!
//! Deleting an absent key is not an error (the helper's `ENOENT` is ignored), as in the Lua
//! tier. A lookup gives a maybe-integer: nil when the key is absent (and for an array index
//! past the end), so `m[k] or 0` works. A value that may be nil at run time (`m[k] = x`)
//! updates or deletes depending on it.
//!
//! A per-CPU array is read and written in the slot of the CPU the program runs on: a compiled
//! hook sees its own CPU's value, where the Lua tier (and `lunet map`) reads the sum over the
//! CPUs. Increments (`m[k] = (m[k] or 0) + 1`) sum to the same totals either way.

use super::{Lower, R};
use crate::diag::Loc;
use crate::ir::{AluOp, Cond, Inst, MapOp, Opnd, VReg};
use crate::types::SVal;
use lunet_types::{Layout, MapRef};

/// The one integer field of a key or value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IntField {
    size: u8,
    signed: bool,
    big_endian: bool,
}

impl IntField {
    /// The values that fit (as `Layout::pack` checks), when not every integer does.
    fn range(self) -> Option<(i64, i64)> {
        let bits = 8 * self.size as u32;
        match (self.size, self.signed) {
            (8, _) => None,
            (_, true) => Some((-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)),
            (_, false) => Some((0, (1i64 << bits) - 1)),
        }
    }

    fn fits(self, v: i64) -> bool {
        self.range().is_none_or(|(lo, hi)| (lo..=hi).contains(&v))
    }

    /// The integer whose low `size` bytes, stored (little-endian, as eBPF does here), are
    /// `Layout::pack`'s bytes for `v`.
    fn pack_const(self, v: i64) -> i64 {
        let n = self.size as usize;
        let mut b = [0u8; 8];
        if self.big_endian {
            b[..n].copy_from_slice(&v.to_be_bytes()[8 - n..]);
        } else {
            b[..n].copy_from_slice(&v.to_le_bytes()[..n]);
        }
        i64::from_le_bytes(b)
    }

    fn swapped(self) -> bool {
        self.big_endian && self.size > 1
    }
}

impl<'a> Lower<'a> {
    /// The key and value fields of `m`, or why the kernel tier cannot use it.
    fn map_fields(&self, m: &MapRef, at: &Loc) -> R<(IntField, IntField)> {
        let field = |what: &str, l: &Layout| {
            l.one_int()
                .map(|(size, signed, big_endian)| IntField {
                    size: size as u8,
                    signed,
                    big_endian,
                })
                .ok_or_else(|| {
                    self.unsup_at(
                        at,
                        "a map layout",
                        format!(
                            "map '{}' has {what} layout \"{}\": compiled hooks use maps whose key and value are one integer field each (\"I4\", \">I2\", \"i8\", ...)",
                            m.decl.name, l.format
                        ),
                    )
                })
        };
        let k = field("key", &m.decl.key)?;
        let v = field("value", &m.decl.value)?;
        Ok((k, v))
    }

    /// `v` packed for `f`: jumps to the default verdict when it does not fit. `None` when it
    /// never fits (the code after is dead).
    fn pack(&mut self, v: Opnd, f: IntField) -> Option<Opnd> {
        let r = match v {
            Opnd::Imm(k) => {
                if !f.fits(k) {
                    self.fail_now();
                    return None;
                }
                return Some(Opnd::Imm(f.pack_const(k)));
            }
            Opnd::V(r) => r,
        };
        // A value known to be in 0..=umax (an unsigned packet load) may need no check.
        let known_to_fit = |(_, hi): (i64, i64)| self.umax.get(&r).is_some_and(|&m| m as i64 <= hi);
        if let Some((lo, hi)) = f.range().filter(|r| !known_to_fit(*r)) {
            let fail = self.fail;
            if f.signed {
                self.br(Cond::Slt, v, Opnd::Imm(lo), fail);
                self.br(Cond::Sgt, v, Opnd::Imm(hi), fail);
            } else {
                // Unsigned: negative values are huge and fail too.
                self.br(Cond::Gt, v, Opnd::Imm(hi), fail);
            }
        }
        if !f.swapped() {
            return Some(v);
        }
        let t = self.mov(Opnd::V(r));
        self.emit(Inst::Swap {
            dst: t,
            bits: 8 * f.size,
        });
        Some(Opnd::V(t))
    }

    /// The value just loaded raw into `r` (zero-extended, or sign-extended when the load
    /// could), as `Layout::unpack` gives it.
    fn unpack(&mut self, r: VReg, f: IntField) {
        if !f.swapped() {
            return;
        }
        self.emit(Inst::Swap {
            dst: r,
            bits: 8 * f.size,
        });
        if f.signed && f.size < 8 {
            let sh = 64 - 8 * f.size as i64;
            for op in [AluOp::Lsh, AluOp::Arsh] {
                self.emit(Inst::Alu {
                    op,
                    dst: r,
                    src: Opnd::Imm(sh),
                });
            }
        }
    }

    /// `m[key]`: the value, or nil when the key is absent.
    pub(super) fn map_get(&mut self, m: &MapRef, key: SVal<'a>, at: &Loc) -> R<SVal<'a>> {
        let (kf, vf) = self.map_fields(m, at)?;
        let k = self.int_operand_at(key, at, "a map key")?;
        self.map_names.insert(m.id, m.decl.name.clone());
        let absent = SVal::OptInt {
            flag: Opnd::Imm(0),
            val: Opnd::Imm(0),
        };
        let Some(k) = self.pack(k, kf) else {
            return Ok(absent);
        };
        let p = self.vreg();
        self.emit(Inst::MapCall {
            op: MapOp::Lookup,
            map: m.id,
            key: k,
            key_size: kf.size,
            value: None,
            dst: Some(p),
        });
        let flag = self.mov(Opnd::Imm(0));
        let val = self.mov(Opnd::Imm(0));
        let done = self.label();
        self.br(Cond::Eq, Opnd::V(p), Opnd::Imm(0), done);
        self.emit(Inst::Mov {
            dst: flag,
            src: Opnd::Imm(1),
        });
        self.emit(Inst::Load {
            dst: val,
            ptr: p,
            off: 0,
            size: vf.size,
            signed: vf.signed && !vf.big_endian,
        });
        self.unpack(val, vf);
        self.place_label(done);
        Ok(SVal::OptInt {
            flag: Opnd::V(flag),
            val: Opnd::V(val),
        })
    }

    /// `m[key] = value` (at `at`, the value from `value_at`): an update, or a delete when
    /// `value` is nil.
    pub(super) fn map_set(
        &mut self,
        m: &MapRef,
        key: SVal<'a>,
        value: SVal<'a>,
        at: &Loc,
        value_at: &Loc,
    ) -> R<()> {
        let (kf, vf) = self.map_fields(m, at)?;
        if !matches!(value, SVal::Nil | SVal::Int(_) | SVal::OptInt { .. }) {
            return Err(self.unsup_at(
                value_at,
                "a type error",
                format!(
                    "a value stored in map '{}' must be an integer (or nil to delete), not {}",
                    m.decl.name,
                    value.describe()
                ),
            ));
        }
        let k = self.int_operand_at(key, at, "a map key")?;
        self.map_names.insert(m.id, m.decl.name.clone());
        let Some(k) = self.pack(k, kf) else {
            return Ok(());
        };
        match value {
            SVal::Int(v) => self.map_update(m, k, kf, v, vf),
            SVal::OptInt { flag, val } => {
                let del = self.label();
                let done = self.label();
                self.br(Cond::Eq, flag, Opnd::Imm(0), del);
                self.map_update(m, k, kf, val, vf);
                self.jmp(done);
                self.place_label(del);
                self.map_delete(m, k, kf);
                self.place_label(done);
            }
            _ => self.map_delete(m, k, kf),
        }
        Ok(())
    }

    fn map_update(&mut self, m: &MapRef, k: Opnd, kf: IntField, v: Opnd, vf: IntField) {
        let Some(v) = self.pack(v, vf) else { return };
        let r = self.vreg();
        self.emit(Inst::MapCall {
            op: MapOp::Update,
            map: m.id,
            key: k,
            key_size: kf.size,
            value: Some((v, vf.size)),
            dst: Some(r),
        });
        let fail = self.fail;
        self.br(Cond::Ne, Opnd::V(r), Opnd::Imm(0), fail);
    }

    fn map_delete(&mut self, m: &MapRef, k: Opnd, kf: IntField) {
        if m.decl.kind.is_array() {
            self.fail_now();
            return;
        }
        self.emit(Inst::MapCall {
            op: MapOp::Delete,
            map: m.id,
            key: k,
            key_size: kf.size,
            value: None,
            dst: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::IntField;

    #[test]
    fn packs_like_the_lua_tier() {
        let f = |size, signed, big_endian| IntField {
            size,
            signed,
            big_endian,
        };
        assert_eq!(f(2, false, true).pack_const(0x1234), 0x3412);
        assert_eq!(f(2, true, false).pack_const(-2), 0xfffe);
        assert_eq!(f(4, true, true).pack_const(-2), 0xfeff_ffff);
        assert_eq!(f(8, false, true).pack_const(1), 1 << 56);
        assert!(f(1, false, false).fits(255) && !f(1, false, false).fits(256));
        assert!(!f(1, false, false).fits(-1));
        assert!(f(1, true, false).fits(-128) && !f(1, true, false).fits(128));
        assert!(
            f(8, false, false).fits(-1),
            "8-byte fields take every integer"
        );
        assert_eq!(f(4, false, false).range(), Some((0, 0xffff_ffff)));
    }
}
