//! Packet access (part of pass `lower`): the data objects' methods (`getuint16`, `setbyte`,
//! `getstring`, `setstring`, ...) as loads and stores behind explicit bounds checks
//! ([`Inst::PktPtr`], [`Inst::PktCheck`]), and packet strings (`getstring` slices) compared in
//! 8/4/2/1-byte chunks. The `argument` object is empty: any access past it fails.

use super::{Lower, R};
use crate::diag::Loc;
use crate::ir::{
    AluOp, Cond, Inst, Label, Opnd, VReg, DATA, MAX_CONST_END, MAX_VAR_END, MAX_VAR_OFF,
};
use crate::types::{DataObj, SVal};
use lunet_types::Value;

impl<'a> Lower<'a> {
    // ---- packet access ----

    /// A pointer to packet offset `off` for accesses of up to `end` bytes from it, checked.
    /// Returns the pointer and the constant offset to add to it.
    fn pkt_ptr(&mut self, off: Opnd, end: i64) -> Option<(VReg, i64)> {
        match off {
            Opnd::Imm(c) => {
                if c < 0 || end < 0 || c.saturating_add(end) > MAX_CONST_END {
                    self.fail_now();
                    return None;
                }
                let f = self.fail;
                self.emit(Inst::PktCheck {
                    ptr: DATA,
                    end: Opnd::Imm(c + end),
                    fail: f,
                });
                Some((DATA, c))
            }
            Opnd::V(r) => {
                // `r = base + k` with k >= 0: a pointer to base, the access at +k.
                let (base, k) = match self.affine.get(&r) {
                    Some(&(b, k))
                        if k >= 0 && k + end <= MAX_VAR_END && self.umax.contains_key(&b) =>
                    {
                        (b, k)
                    }
                    _ => (r, 0),
                };
                if !(0..=MAX_VAR_END).contains(&(k + end)) {
                    self.fail_now();
                    return None;
                }
                let f = self.fail;
                let p = match self.ptrs.get(&base) {
                    Some(&p) => p,
                    None => {
                        let p = self.vreg();
                        self.emit(Inst::PktPtr {
                            dst: p,
                            off: base,
                            fail: f,
                        });
                        self.ptrs.insert(base, p);
                        p
                    }
                };
                self.emit(Inst::PktCheck {
                    ptr: p,
                    end: Opnd::Imm(k + end),
                    fail: f,
                });
                Some((p, k))
            }
        }
    }

    pub(super) fn load(&mut self, obj: DataObj, off: Opnd, size: u8, signed: bool) -> SVal<'a> {
        if obj == DataObj::Argument {
            self.fail_now();
            return SVal::Int(Opnd::Imm(0));
        }
        let Some((p, k)) = self.pkt_ptr(off, size as i64) else {
            return SVal::Int(Opnd::Imm(0));
        };
        let d = self.vreg();
        self.emit(Inst::Load {
            dst: d,
            ptr: p,
            off: k as i16,
            size,
            signed,
        });
        if !signed && size < 8 {
            self.umax.insert(d, (1u64 << (8 * size as u32)) - 1);
        }
        SVal::Int(Opnd::V(d))
    }

    pub(super) fn store(&mut self, obj: DataObj, off: Opnd, size: u8, v: Opnd) {
        if obj == DataObj::Argument {
            self.fail_now();
            return;
        }
        let Some((p, k)) = self.pkt_ptr(off, size as i64) else {
            return;
        };
        self.emit(Inst::Store {
            ptr: p,
            off: k as i16,
            size,
            src: v,
        });
    }

    /// `getstring(off, len)`: bounds checked now; the bytes are read where they are compared.
    fn get_string(&mut self, obj: DataObj, off: Opnd, len: Option<Opnd>) -> SVal<'a> {
        if obj == DataObj::Argument {
            // An empty object: only getstring(0, 0) and getstring(0) succeed.
            let f = self.fail;
            self.br(Cond::Ne, off, Opnd::Imm(0), f);
            if let Some(l) = len {
                self.br(Cond::Ne, l, Opnd::Imm(0), f);
            }
            return SVal::Slice {
                off: Opnd::Imm(0),
                len: Opnd::Imm(0),
            };
        }
        let f = self.fail;
        match len {
            None => {
                // to the end: 0 <= off <= #packet
                let n = self.vreg();
                self.emit(Inst::PktLen { dst: n });
                self.br(Cond::Gt, off, Opnd::V(n), f);
                self.emit(Inst::Alu {
                    op: AluOp::Sub,
                    dst: n,
                    src: off,
                });
                SVal::Slice {
                    off,
                    len: Opnd::V(n),
                }
            }
            Some(Opnd::Imm(n)) => {
                if n < 0 {
                    self.fail_now();
                    return SVal::Slice {
                        off,
                        len: Opnd::Imm(0),
                    };
                }
                self.pkt_ptr(off, n);
                SVal::Slice {
                    off,
                    len: Opnd::Imm(n),
                }
            }
            Some(Opnd::V(l)) => {
                self.br(Cond::Gt, Opnd::V(l), Opnd::Imm(MAX_VAR_OFF), f);
                let p = match off {
                    Opnd::Imm(c) => {
                        if !(0..=MAX_VAR_OFF).contains(&c) {
                            self.fail_now();
                            return SVal::Slice {
                                off,
                                len: Opnd::V(l),
                            };
                        }
                        let o = self.mov(off);
                        let p = self.vreg();
                        self.emit(Inst::PktPtr {
                            dst: p,
                            off: o,
                            fail: f,
                        });
                        p
                    }
                    Opnd::V(o) => {
                        let p = self.vreg();
                        self.emit(Inst::PktPtr {
                            dst: p,
                            off: o,
                            fail: f,
                        });
                        p
                    }
                };
                self.emit(Inst::PktCheck {
                    ptr: p,
                    end: Opnd::V(l),
                    fail: f,
                });
                SVal::Slice {
                    off,
                    len: Opnd::V(l),
                }
            }
        }
    }

    /// Loads the bytes `[k, k+L)` of a slice at `off` (whose length is known to be `L`) in
    /// 8/4/2/1-byte chunks: `(offset in the string, size, register)`.
    pub(super) fn slice_chunks(&mut self, off: Opnd, l: usize) -> Vec<(usize, u8, VReg)> {
        let mut out = Vec::new();
        if l == 0 {
            return out;
        }
        let Some((p, base)) = self.pkt_ptr(off, l as i64) else {
            return out;
        };
        for (k, size) in chunks(l) {
            let d = self.vreg();
            self.emit(Inst::Load {
                dst: d,
                ptr: p,
                off: (base + k as i64) as i16,
                size: size as u8,
                signed: false,
            });
            out.push((k, size as u8, d));
        }
        out
    }

    /// Jumps to `target` when `(slice == s) == want`.
    pub(super) fn slice_equals(
        &mut self,
        off: Opnd,
        len: Opnd,
        s: &[u8],
        want: bool,
        target: Label,
    ) {
        let l = s.len();
        let miss = if want { self.label() } else { target };
        self.br(Cond::Ne, len, Opnd::Imm(l as i64), miss);
        let chunks = self.slice_chunks(off, l);
        for (k, size, r) in chunks {
            self.chunk_ne(r, &s[k..k + size as usize], miss);
        }
        if want {
            self.jmp(target);
            self.place_label(miss);
        }
    }

    /// `if chunk != bytes goto target`.
    pub(super) fn chunk_ne(&mut self, r: VReg, bytes: &[u8], target: Label) {
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        let v = u64::from_le_bytes(b);
        let (imm, w32) = if bytes.len() == 4 {
            (v as u32 as i64, true)
        } else {
            (v as i64, false)
        };
        self.emit(Inst::Br {
            cond: Cond::Ne,
            a: r,
            b: Opnd::Imm(imm),
            target,
            w32,
        });
    }

    pub(super) fn data_method(
        &mut self,
        obj: DataObj,
        name: &str,
        args: Vec<SVal<'a>>,
        at: &Loc,
    ) -> R<Vec<SVal<'a>>> {
        let get = match name {
            "getbyte" | "getuint8" => Some((1, false)),
            "getint8" => Some((1, true)),
            "getuint16" => Some((2, false)),
            "getint16" => Some((2, true)),
            "getuint32" => Some((4, false)),
            "getint32" => Some((4, true)),
            "getint64" | "getnumber" => Some((8, false)),
            _ => None,
        };
        let set = match name {
            "setbyte" | "setuint8" | "setint8" => Some(1),
            "setuint16" | "setint16" => Some(2),
            "setuint32" | "setint32" => Some(4),
            "setint64" | "setnumber" => Some(8),
            _ => None,
        };
        let mut args = args.into_iter();
        let mut int_arg = |l: &mut Self, what: &str| -> R<Opnd> {
            let v = args.next().unwrap_or(SVal::Nil);
            l.int_operand_at(v, at, what)
        };
        if let Some((size, signed)) = get {
            let off = int_arg(self, "an offset")?;
            return Ok(vec![self.load(obj, off, size, signed)]);
        }
        if let Some(size) = set {
            let off = int_arg(self, "an offset")?;
            let v = int_arg(self, "a value to store")?;
            self.store(obj, off, size, v);
            return Ok(vec![]);
        }
        match name {
            "getstring" => {
                let off = int_arg(self, "an offset")?;
                let len = match args.next() {
                    None | Some(SVal::Nil) => None,
                    Some(v) => Some(self.int_operand_at(v, at, "a length")?),
                };
                Ok(vec![self.get_string(obj, off, len)])
            }
            "setstring" => {
                let off = int_arg(self, "an offset")?;
                let s = match args.next() {
                    Some(SVal::Const(c)) => match &*c {
                        Value::Str(s) => s.clone(),
                        _ => {
                            return Err(self.unsup_at(
                                at,
                                "setstring",
                                "setstring takes a constant string in the kernel tier",
                            ))
                        }
                    },
                    _ => {
                        return Err(self.unsup_at(
                            at,
                            "setstring",
                            "setstring takes a constant string in the kernel tier",
                        ))
                    }
                };
                if obj == DataObj::Argument {
                    if !s.is_empty() {
                        self.fail_now();
                    }
                    return Ok(vec![]);
                }
                if s.is_empty() {
                    let f = self.fail;
                    let n = self.vreg();
                    self.emit(Inst::PktLen { dst: n });
                    self.br(Cond::Gt, off, Opnd::V(n), f);
                    return Ok(vec![]);
                }
                let Some((p, base)) = self.pkt_ptr(off, s.len() as i64) else {
                    return Ok(vec![]);
                };
                for (k, size) in chunks(s.len()) {
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(&s[k..k + size]);
                    self.emit(Inst::Store {
                        ptr: p,
                        off: (base + k as i64) as i16,
                        size: size as u8,
                        src: Opnd::Imm(i64::from_le_bytes(b)),
                    });
                }
                Ok(vec![])
            }
            _ => Err(self.unsup_at(
                at,
                "a data object method",
                format!("the data object method `{name}` is not in the kernel-tier subset"),
            )),
        }
    }
}

/// `len` bytes as the fewest loads or stores: `(offset, size)` pieces of 8, 4, 2 and 1 bytes,
/// the largest that fits first.
fn chunks(len: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut k = 0;
    std::iter::from_fn(move || {
        if k >= len {
            return None;
        }
        let size = [8, 4, 2, 1].into_iter().find(|s| k + s <= len).unwrap_or(1);
        k += size;
        Some((k - size, size))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_the_largest_that_fit() {
        let c: Vec<(usize, usize)> = super::chunks(15).collect();
        assert_eq!(c, [(0, 8), (8, 4), (12, 2), (14, 1)]);
        assert_eq!(super::chunks(0).count(), 0);
    }
}
