//! Kernel function ids from the kernel's own BTF (`/sys/kernel/btf/vmlinux`): what a call to
//! a kfunc (`BPF_PSEUDO_KFUNC_CALL`) carries as its immediate; and the byte offset of a
//! member of a kernel struct ([`member_offset`]: `mark` in `struct sk_buff`, which the
//! kernel tier's netfilter programs read through their context's BTF pointer). Only the walk
//! over the type section those two need; no other types are decoded.

use std::io;

/// Where the running kernel exposes its BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const KIND_FUNC: u32 = 12;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

/// Bytes that follow a type's 12-byte header, by kind (Documentation/bpf/btf.rst).
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG: one u32
        3 => 12,                      // ARRAY: struct btf_array
        4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => vlen * 8,           // ENUM, FUNC_PROTO
        2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
        _ => return None,
    })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The type section and the string section of a BTF blob (little-endian).
fn sections(btf: &[u8]) -> io::Result<(&[u8], &[u8])> {
    let magic = btf.get(0..2).map(|m| u16::from_le_bytes([m[0], m[1]]));
    if magic != Some(MAGIC) {
        return Err(bad("bad magic (not little-endian BTF)"));
    }
    let h = |i: usize| {
        u32_at(btf, 4 + 4 * i)
            .map(|v| v as usize)
            .ok_or_else(|| bad("short header"))
    };
    let (hdr_len, type_off, type_len, str_off, str_len) = (h(0)?, h(1)?, h(2)?, h(3)?, h(4)?);
    let types = btf
        .get(hdr_len + type_off..hdr_len + type_off + type_len)
        .ok_or_else(|| bad("type section out of range"))?;
    let strings = btf
        .get(hdr_len + str_off..hdr_len + str_off + str_len)
        .ok_or_else(|| bad("string section out of range"))?;
    Ok((types, strings))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("BTF: {what}"))
}

fn name_at(strings: &[u8], off: usize) -> &[u8] {
    let s = strings.get(off..).unwrap_or_default();
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Calls `f(id, name, kind, vlen, extra bytes)` for each type until it returns `Some`.
fn walk<T>(
    btf: &[u8],
    mut f: impl FnMut(u32, &[u8], u32, u32, &[u8]) -> Option<T>,
) -> io::Result<Option<T>> {
    let (types, strings) = sections(btf)?;
    let (mut at, mut id) = (0usize, 1u32);
    while at < types.len() {
        let (name_off, info) = (u32_at(types, at), u32_at(types, at + 4));
        let (Some(name_off), Some(info)) = (name_off, info) else {
            return Err(bad("truncated type"));
        };
        let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
        let extra =
            extra_len(kind, vlen as usize).ok_or_else(|| bad(&format!("unknown kind {kind}")))?;
        let body = types
            .get(at + 12..at + 12 + extra)
            .ok_or_else(|| bad("truncated type"))?;
        if let Some(t) = f(id, name_at(strings, name_off as usize), kind, info, body) {
            return Ok(Some(t));
        }
        at += 12 + extra;
        id += 1;
    }
    Ok(None)
}

/// The type id of the function `name` in the BTF blob `btf` (little-endian, as on x86_64
/// and arm64), or `None` when there is no such function.
pub fn func_id(btf: &[u8], name: &str) -> io::Result<Option<u32>> {
    walk(btf, |id, n, kind, _, _| {
        (kind == KIND_FUNC && n == name.as_bytes()).then_some(id)
    })
}

/// The byte offset of member `member` of `struct name` in the BTF blob `btf`, looking into
/// anonymous structs and unions too (`sk_buff`'s `mark` is in one), or `None` when there is
/// no such struct or member (or the member is a bit field).
pub fn member_offset(btf: &[u8], name: &str, member: &str) -> io::Result<Option<u32>> {
    let (_, strings) = sections(btf)?;
    // Every type by id (index id - 1): its kind, info and members' bytes.
    let mut all: Vec<(u32, u32, Vec<u8>)> = Vec::new();
    let mut root = None;
    walk(btf, |id, n, kind, info, body| {
        all.push((kind, info, body.to_vec()));
        if kind == KIND_STRUCT && n == name.as_bytes() && root.is_none() {
            root = Some(id);
        }
        None::<()>
    })?;
    let Some(root) = root else { return Ok(None) };
    Ok(find_member(&all, strings, root, member.as_bytes(), 0))
}

/// Where `member` is in type `id` (a struct or union), in bytes from `base`.
fn find_member(
    all: &[(u32, u32, Vec<u8>)],
    strings: &[u8],
    id: u32,
    member: &[u8],
    depth: u32,
) -> Option<u32> {
    let (kind, info, body) = all.get((id as usize).checked_sub(1)?)?;
    if !(*kind == KIND_STRUCT || *kind == KIND_UNION) || depth > 8 {
        return None;
    }
    let kflag = info >> 31 == 1;
    body.chunks_exact(12).find_map(|m| {
        let (mname, ty, off) = (u32_at(m, 0)?, u32_at(m, 4)?, u32_at(m, 8)?);
        // With kind_flag the offset's top 8 bits are a bit field's size.
        let (bits, size) = if kflag {
            (off & 0xff_ffff, off >> 24)
        } else {
            (off, 0)
        };
        let n = name_at(strings, mname as usize);
        if n.is_empty() {
            let inner = find_member(all, strings, ty, member, depth + 1)?;
            return Some(bits / 8 + inner);
        }
        (n == member && bits % 8 == 0 && size == 0).then_some(bits / 8)
    })
}

/// The byte offset of `member` in the running kernel's `struct name`.
pub fn kernel_member_offset(name: &str, member: &str) -> io::Result<u32> {
    let btf = read_vmlinux()?;
    member_offset(&btf, name, member)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("the kernel's struct {name} has no member {member} in {VMLINUX}"),
        )
    })
}

fn read_vmlinux() -> io::Result<Vec<u8>> {
    std::fs::read(VMLINUX).map_err(|e| io::Error::new(e.kind(), format!("{VMLINUX}: {e}")))
}

/// The id of the kernel function `name` in the running kernel's BTF.
pub fn kernel_func_id(name: &str) -> io::Result<u32> {
    let btf = read_vmlinux()?;
    func_id(&btf, name)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("the kernel has no function {name} in {VMLINUX}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob: header, then `types`, then `strings`.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let tl = (types.len() * 4) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, tl, tl, strings.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        types
            .iter()
            .for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
        b.extend_from_slice(strings);
        b
    }

    #[test]
    fn functions_are_found_by_name_past_types_of_every_size() {
        let strings = b"\0int\0s\0f\0g\0";
        let types = [
            1,
            1 << 24,
            4,
            0x0100_0020, // [1] INT "int", one extra u32
            5,
            (4 << 24) | 2,
            8,
            0,
            1,
            0,
            0,
            1,
            32, // [2] STRUCT "s", two members
            0,
            (13 << 24) | 1,
            1,
            0,
            1, // [3] FUNC_PROTO, one param
            7,
            12 << 24,
            3, // [4] FUNC "f"
            9,
            12 << 24,
            3, // [5] FUNC "g"
        ];
        let b = blob(&types, strings);
        assert_eq!(func_id(&b, "f").unwrap(), Some(4));
        assert_eq!(func_id(&b, "g").unwrap(), Some(5));
        assert_eq!(
            func_id(&b, "s").unwrap(),
            None,
            "a struct is not a function"
        );
        assert_eq!(func_id(&b, "h").unwrap(), None);
        assert!(func_id(&b[..10], "f").is_err());
        assert!(func_id(b"\x9f\xeb", "f").is_err(), "big-endian magic");
    }

    #[test]
    fn the_running_kernel_has_the_dynptr_kfunc() {
        let Ok(btf) = std::fs::read(VMLINUX) else {
            eprintln!("skipped: {VMLINUX} is not readable here");
            return;
        };
        let id = func_id(&btf, "bpf_dynptr_from_skb").unwrap();
        assert!(id.is_some_and(|i| i > 1), "{id:?}");
    }

    #[test]
    fn the_running_kernel_tells_where_sk_buff_keeps_its_mark() {
        let Ok(btf) = std::fs::read(VMLINUX) else {
            eprintln!("skipped: {VMLINUX} is not readable here");
            return;
        };
        let mark = member_offset(&btf, "sk_buff", "mark").unwrap();
        let len = member_offset(&btf, "sk_buff", "len").unwrap();
        assert!(mark.is_some_and(|m| m > 0 && m % 4 == 0), "{mark:?}");
        assert!(len.is_some_and(|m| m > 0 && m % 4 == 0), "{len:?}");
        assert_eq!(
            member_offset(&btf, "sk_buff", "no_such_member").unwrap(),
            None
        );
        assert_eq!(member_offset(&btf, "bpf_nf_ctx", "skb").unwrap(), Some(8));
    }
}
