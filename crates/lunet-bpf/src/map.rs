//! Maps: create, and element operations on raw byte slices.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::sys::{self, Cmd, InfoAttr, MapCreateAttr, MapElemAttr, MapInfo};

/// Map types (`enum bpf_map_type`).
pub mod map_type {
    pub const HASH: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const PERCPU_HASH: u32 = 5;
    pub const PERCPU_ARRAY: u32 = 6;
    pub const LRU_HASH: u32 = 9;
    pub const LRU_PERCPU_HASH: u32 = 10;
    pub const QUEUE: u32 = 22;
    pub const STACK: u32 = 23;
    pub const RINGBUF: u32 = 27;

    /// The kernel's map type for a map lunet declares.
    pub fn of(kind: lunet_types::MapKind) -> u32 {
        use lunet_types::MapKind;
        match kind {
            MapKind::Hash => HASH,
            MapKind::Array => ARRAY,
            MapKind::LruHash => LRU_HASH,
            MapKind::PercpuArray => PERCPU_ARRAY,
            MapKind::RingBuf => RINGBUF,
        }
    }
}

/// Flags for [`Map::update`].
pub mod update_flags {
    /// Create or replace.
    pub const ANY: u64 = 0;
    /// Create only.
    pub const NOEXIST: u64 = 1;
    /// Replace only.
    pub const EXIST: u64 = 2;
}

/// A map fd with the sizes the kernel reported for it. Dropping it closes the fd.
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
}

impl Map {
    /// `BPF_MAP_CREATE` (Linux 3.18). `name` is truncated to 15 bytes (Linux 4.15 and later
    /// show it in `bpftool map`); use only `[A-Za-z0-9_.]`.
    pub fn create(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        name: &str,
    ) -> io::Result<Map> {
        Map::create_with_flags(map_type, key_size, value_size, max_entries, 0, name)
    }

    /// [`Map::create`] with `map_flags` (`BPF_F_NO_PREALLOC`, ...).
    pub fn create_with_flags(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
        name: &str,
    ) -> io::Result<Map> {
        let mut attr = MapCreateAttr {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags,
            map_name: sys::obj_name(name),
            ..Default::default()
        };
        // SAFETY: the attr holds no pointers.
        let fd = unsafe { sys::bpf_fd(Cmd::MapCreate, &mut attr)? };
        Ok(Map {
            fd,
            map_type,
            key_size,
            value_size,
            max_entries,
        })
    }

    /// Wraps an fd that refers to a map (for example from [`crate::pin::get`]), asking the
    /// kernel for its type and sizes (`BPF_OBJ_GET_INFO_BY_FD`, Linux 4.13).
    pub fn from_fd(fd: OwnedFd) -> io::Result<Map> {
        let info = map_info(fd.as_fd())?;
        Ok(Map {
            fd,
            map_type: info.map_type,
            key_size: info.key_size,
            value_size: info.value_size,
            max_entries: info.max_entries,
        })
    }

    pub fn map_type(&self) -> u32 {
        self.map_type
    }

    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// Length of the value buffer for lookups: `value_size`, or for per-CPU maps one
    /// 8-byte-aligned slot per possible CPU.
    pub fn lookup_len(&self) -> io::Result<usize> {
        let v = self.value_size as usize;
        if is_percpu(self.map_type) {
            Ok(v.div_ceil(8) * 8 * possible_cpus()?)
        } else {
            Ok(v)
        }
    }

    fn check_key(&self, key: &[u8]) -> io::Result<()> {
        if key.len() != self.key_size as usize {
            return Err(invalid(format!(
                "key is {} bytes, the map's keys are {}",
                key.len(),
                self.key_size
            )));
        }
        Ok(())
    }

    /// Checks `key` and that a value of `len` bytes is [`Map::lookup_len`], the length the
    /// kernel reads and writes; the error reads "`value` LEN bytes, `wants` LOOKUP_LEN".
    fn check_elem(&self, key: &[u8], len: usize, value: &str, wants: &str) -> io::Result<()> {
        self.check_key(key)?;
        let want = self.lookup_len()?;
        if len != want {
            return Err(invalid(format!("{value} {len} bytes, {wants} {want}")));
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM`: the value for `key`, or `None` if there is none.
    pub fn lookup(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut value = vec![0u8; self.lookup_len()?];
        Ok(self.lookup_into(key, &mut value)?.then_some(value))
    }

    /// `BPF_MAP_LOOKUP_ELEM` into `value` (exactly [`Map::lookup_len`] bytes); `false` if the
    /// key is absent.
    pub fn lookup_into(&self, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        self.check_elem(key, value.len(), "value buffer is", "lookups return")?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: sys::ptr_u64(key.as_ptr()),
            value: sys::ptr_u64(value.as_mut_ptr()),
            ..Default::default()
        };
        // SAFETY: `key` is exactly `key_size` bytes and `value` exactly the lookup length the
        // kernel writes for this map (checked above); both are borrowed for the call.
        match unsafe { sys::bpf(Cmd::MapLookupElem, &mut attr) } {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_UPDATE_ELEM` with [`update_flags`]. `value` is [`Map::lookup_len`] bytes
    /// (the value size, or one slot per CPU for per-CPU maps).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
        self.check_elem(key, value.len(), "value is", "the map takes")?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: sys::ptr_u64(key.as_ptr()),
            value: sys::ptr_u64(value.as_ptr()),
            flags,
            ..Default::default()
        };
        // SAFETY: the kernel reads `key_size` bytes from `key` and the value length from
        // `value`; both lengths were checked above and the slices are borrowed for the call.
        unsafe { sys::bpf(Cmd::MapUpdateElem, &mut attr)? };
        Ok(())
    }

    /// `BPF_MAP_DELETE_ELEM`: `true` if an element was removed, `false` if there was none.
    pub fn delete(&self, key: &[u8]) -> io::Result<bool> {
        self.check_key(key)?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: sys::ptr_u64(key.as_ptr()),
            ..Default::default()
        };
        // SAFETY: the kernel reads `key_size` bytes from `key` (length checked above).
        match unsafe { sys::bpf(Cmd::MapDeleteElem, &mut attr) } {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key for `None`), or `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> io::Result<Option<Vec<u8>>> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        let mut next = vec![0u8; self.key_size as usize];
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.map_or(0, |k| sys::ptr_u64(k.as_ptr())),
            value: sys::ptr_u64(next.as_mut_ptr()),
            ..Default::default()
        };
        // SAFETY: `key` is null or `key_size` bytes; `next` is a writable `key_size`-byte
        // buffer; both borrowed for the call.
        match unsafe { sys::bpf(Cmd::MapGetNextKey, &mut attr) } {
            Ok(_) => Ok(Some(next)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: the value for `key`, removed, or `None` if there was
    /// none (a hash's, Linux 5.14; arrays refuse with `EINVAL`/`ENOTSUPP`).
    pub fn lookup_and_delete(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut value = vec![0u8; self.lookup_len()?];
        self.check_elem(key, value.len(), "value buffer is", "lookups return")?;
        self.take(Some(key), &mut value, Cmd::MapLookupAndDeleteElem)
            .map(|found| found.then_some(value))
    }

    /// A queue's or stack's next value, removed (`pop`) or left (`peek`); `None` when it is
    /// empty (Linux 4.20).
    pub fn pop(&self) -> io::Result<Option<Vec<u8>>> {
        let mut value = vec![0u8; self.value_size as usize];
        self.take(None, &mut value, Cmd::MapLookupAndDeleteElem)
            .map(|found| found.then_some(value))
    }

    /// See [`Map::pop`].
    pub fn peek(&self) -> io::Result<Option<Vec<u8>>> {
        let mut value = vec![0u8; self.value_size as usize];
        self.take(None, &mut value, Cmd::MapLookupElem)
            .map(|found| found.then_some(value))
    }

    /// Pushes `value` (`value_size` bytes) onto a queue or stack: `false` when it is full
    /// (`E2BIG`); with [`update_flags::EXIST`] a full one drops its oldest value instead.
    pub fn push(&self, value: &[u8], flags: u64) -> io::Result<bool> {
        if value.len() != self.value_size as usize {
            return Err(invalid(format!(
                "value is {} bytes, the map takes {}",
                value.len(),
                self.value_size
            )));
        }
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            value: sys::ptr_u64(value.as_ptr()),
            flags,
            ..Default::default()
        };
        // SAFETY: no key (queues and stacks take none); the kernel reads `value_size` bytes
        // from `value`, checked above, borrowed for the call.
        match unsafe { sys::bpf(Cmd::MapUpdateElem, &mut attr) } {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::E2BIG) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One lookup-like command writing into `value`; `false` on `ENOENT`.
    fn take(&self, key: Option<&[u8]>, value: &mut [u8], cmd: Cmd) -> io::Result<bool> {
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.map_or(0, |k| sys::ptr_u64(k.as_ptr())),
            value: sys::ptr_u64(value.as_mut_ptr()),
            ..Default::default()
        };
        // SAFETY: callers give a `key_size` key (or none, for keyless maps) and a value
        // buffer of the length the kernel writes for this map; both borrowed for the call.
        match unsafe { sys::bpf(cmd, &mut attr) } {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// All keys, in the kernel's iteration order (a snapshot; concurrent changes may skip or
    /// repeat keys).
    pub fn keys(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        // Bounded: a map never yields more than max_entries keys in one pass; the slack
        // covers concurrent insertions.
        for _ in 0..=(self.max_entries as u64 + 1024) {
            match self.next_key(cur.as_deref())? {
                Some(k) => {
                    keys.push(k.clone());
                    cur = Some(k);
                }
                None => break,
            }
        }
        Ok(keys)
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Map {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a map fd.
pub fn map_info(fd: BorrowedFd<'_>) -> io::Result<MapInfo> {
    let mut info = MapInfo::default();
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<MapInfo>() as u32,
        info: sys::ptr_u64(&mut info as *mut MapInfo),
    };
    // SAFETY: `info` is a writable `MapInfo` of `info_len` bytes (the kernel copies at most
    // that many), borrowed for the call.
    unsafe { sys::bpf(Cmd::ObjGetInfoByFd, &mut attr)? };
    Ok(info)
}

fn is_percpu(map_type: u32) -> bool {
    matches!(
        map_type,
        map_type::PERCPU_HASH | map_type::PERCPU_ARRAY | map_type::LRU_PERCPU_HASH
    )
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-1` -> 2), the slot
/// count of per-CPU map values.
pub fn possible_cpus() -> io::Result<usize> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    parse_cpu_list(&s).ok_or_else(|| invalid(format!("cannot parse cpu list {s:?}")))
}

fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut max = None;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let last = match part.split_once('-') {
            Some((_, hi)) => hi.parse::<usize>().ok()?,
            None => part.parse::<usize>().ok()?,
        };
        max = Some(max.map_or(last, |m: usize| m.max(last)));
    }
    max.map(|m| m + 1)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::with_fake;
    use std::os::fd::IntoRawFd;

    #[test]
    fn cpu_list() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,8-11"), Some(12));
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn create_sets_attr() {
        let m = with_fake(
            |cmd, attr| {
                assert_eq!(cmd, Cmd::MapCreate);
                let a = attr.downcast_mut::<MapCreateAttr>().unwrap();
                assert_eq!(
                    (a.map_type, a.key_size, a.value_size, a.max_entries),
                    (1, 4, 8, 16)
                );
                assert_eq!(&a.map_name[..6], b"counts");
                assert_eq!(a.map_name[6], 0);
                Ok(std::fs::File::open("/dev/null").unwrap().into_raw_fd() as i64)
            },
            || Map::create(map_type::HASH, 4, 8, 16, "counts"),
        )
        .unwrap();
        assert_eq!(m.key_size(), 4);
        // Wrong key length is refused before any syscall.
        assert_eq!(
            m.lookup(&[0u8; 3]).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
