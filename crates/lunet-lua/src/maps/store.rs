//! Where a map's entries live: a kernel eBPF map (the daemon: shared with compiled hooks and
//! the shell), or process memory with the same rules (`lunet replay`: no root, no kernel).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use lunet_bpf::map::{map_type, update_flags, Map};

use super::error::{KernelOp, MapError};
use lunet_types::{MapDecl, MapKind, Scalar};

/// Raw byte-level access, the same for every backing.
pub trait Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError>;
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError>;
    /// Removes `key`; false when it was not there.
    fn delete(&self, key: &[u8]) -> Result<bool, MapError>;
    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError>;
    /// Releases a map opened by path (`<close>`, `map.close`); declared maps stay.
    fn close(&self) {}
    /// The kernel's info of a map opened by path (declared maps answer from their decl).
    fn info(&self, _lua: &mlua::Lua) -> mlua::Result<Option<mlua::Table>> {
        Ok(None)
    }
}

impl<T: Store> Store for std::rc::Rc<T> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        (**self).get(key)
    }
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        (**self).set(key, value)
    }
    fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        (**self).delete(key)
    }
    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        (**self).keys()
    }
    fn close(&self) {
        (**self).close()
    }
    fn info(&self, lua: &mlua::Lua) -> mlua::Result<Option<mlua::Table>> {
        (**self).info(lua)
    }
}

/// In process memory, with the kernel's rules: a full hash refuses new keys, an LRU hash
/// forgets its least recently used key, arrays hold every index from the start and cannot
/// lose one.
type Slot = (u64, Vec<u8>);

pub struct MemoryStore {
    decl: MapDecl,
    /// key -> (last use, for LRU; value)
    entries: RefCell<BTreeMap<Vec<u8>, Slot>>,
    clock: RefCell<u64>,
}

impl MemoryStore {
    pub fn new(decl: MapDecl) -> MemoryStore {
        let mut entries = BTreeMap::new();
        if decl.kind.is_array() {
            for i in 0..decl.entries {
                entries.insert(i.to_ne_bytes().to_vec(), (0, vec![0; decl.value.size]));
            }
        }
        MemoryStore {
            decl,
            entries: RefCell::new(entries),
            clock: RefCell::new(0),
        }
    }

    fn tick(&self) -> u64 {
        let mut c = self.clock.borrow_mut();
        *c += 1;
        *c
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let now = self.tick();
        Ok(self.entries.borrow_mut().get_mut(key).map(|(used, v)| {
            *used = now;
            v.clone()
        }))
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        let now = self.tick();
        let mut e = self.entries.borrow_mut();
        if self.decl.kind.is_array() && !e.contains_key(key) {
            return Err(MapError::IndexOutOfRange {
                map: self.decl.name.clone(),
                entries: self.decl.entries,
            });
        }
        if !e.contains_key(key) && e.len() >= self.decl.entries as usize {
            if self.decl.kind == MapKind::LruHash {
                let oldest = e
                    .iter()
                    .min_by_key(|(_, (used, _))| *used)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    e.remove(&k);
                }
            } else {
                return Err(full(&self.decl));
            }
        }
        e.insert(key.to_vec(), (now, value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        refuse_array_delete(&self.decl)?;
        Ok(self.entries.borrow_mut().remove(key).is_some())
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Ok(self.entries.borrow().keys().cloned().collect())
    }
}

/// A kernel eBPF map.
pub struct KernelStore {
    decl: MapDecl,
    pub map: Map,
}

/// A failed `bpf(2)` call `op` on the map of `decl`.
fn os(decl: &MapDecl, op: KernelOp, source: io::Error) -> MapError {
    MapError::Kernel {
        map: decl.name.clone(),
        op,
        source,
    }
}

/// A hash map at its `entries`, in memory and in the kernel alike.
fn full(decl: &MapDecl) -> MapError {
    MapError::Full {
        map: decl.name.clone(),
        entries: decl.entries,
    }
}

/// Arrays hold every index from the start: deleting one is refused for both backings.
fn refuse_array_delete(decl: &MapDecl) -> Result<(), MapError> {
    if decl.kind.is_array() {
        return Err(MapError::ArrayDelete {
            map: decl.name.clone(),
        });
    }
    Ok(())
}

impl KernelStore {
    pub fn create(decl: MapDecl) -> Result<KernelStore, MapError> {
        let map = Map::create(
            map_type::of(decl.kind),
            decl.key.size as u32,
            decl.value.size as u32,
            decl.entries,
            &decl.name,
        )
        .map_err(|e| os(&decl, KernelOp::Create, e))?;
        Ok(KernelStore { decl, map })
    }

    /// Opens the map pinned at `path`, checking it still has the declared sizes.
    pub fn open(decl: MapDecl, path: &Path) -> Result<KernelStore, MapError> {
        let fd = lunet_bpf::pin::get(path)
            .map_err(|e| os(&decl, KernelOp::Open(path.to_path_buf()), e))?;
        let map = Map::from_fd(fd).map_err(|e| os(&decl, KernelOp::Info, e))?;
        if map.key_size() as usize != decl.key.size || map.value_size() as usize != decl.value.size
        {
            return Err(MapError::NotTheDeclaredLayout {
                map: decl.name,
                path: path.to_path_buf(),
            });
        }
        Ok(KernelStore { decl, map })
    }

    /// The map pinned at `path` if it is exactly `decl` (kind, layouts' sizes, entries):
    /// what a reloaded script or a restarted daemon takes over with its entries.
    pub fn adopt(decl: MapDecl, path: &Path) -> Option<KernelStore> {
        let k = KernelStore::open(decl, path).ok()?;
        let same =
            k.map.map_type() == map_type::of(k.decl.kind) && k.map.max_entries() == k.decl.entries;
        same.then_some(k)
    }

    pub fn pin(&self, path: &Path) -> Result<(), MapError> {
        lunet_bpf::pin::pin(&self.map, path)
            .map_err(|e| os(&self.decl, KernelOp::Pin(path.to_path_buf()), e))
    }

    fn percpu(&self) -> bool {
        self.decl.kind == MapKind::PercpuArray
    }
}

impl Store for KernelStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let Some(raw) = self
            .map
            .lookup(key)
            .map_err(|e| os(&self.decl, KernelOp::Lookup, e))?
        else {
            return Ok(None);
        };
        if !self.percpu() {
            return Ok(Some(raw));
        }
        // One 8-byte-aligned slot per CPU: the logical value is their sum.
        let size = self.decl.value.size;
        let slot = size.div_ceil(8) * 8;
        let mut total: i64 = 0;
        for cpu in raw.chunks(slot) {
            if let Ok(v) = self.decl.value.unpack(&cpu[..size]) {
                if let Some(Scalar::Int(i)) = v.first() {
                    total = total.wrapping_add(*i);
                }
            }
        }
        Ok(Some(self.decl.value.pack(&[Scalar::Int(total)])?))
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        let bytes = if self.percpu() {
            // The value goes to CPU 0 and the others are zeroed, so a read gives it back.
            let slot = self.decl.value.size.div_ceil(8) * 8;
            let len = self
                .map
                .lookup_len()
                .map_err(|e| os(&self.decl, KernelOp::Sizing, e))?;
            let mut all = vec![0u8; len];
            all[..value.len().min(slot)].copy_from_slice(&value[..value.len().min(slot)]);
            all
        } else {
            value.to_vec()
        };
        self.map
            .update(key, &bytes, update_flags::ANY)
            .map_err(|e| {
                if e.raw_os_error() == Some(E2BIG) {
                    full(&self.decl)
                } else {
                    os(&self.decl, KernelOp::Update, e)
                }
            })
    }

    fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        refuse_array_delete(&self.decl)?;
        self.map
            .delete(key)
            .map_err(|e| os(&self.decl, KernelOp::Delete, e))
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.map
            .keys()
            .map_err(|e| os(&self.decl, KernelOp::Keys, e))
    }
}

/// What Linux answers when a hash map is full.
const E2BIG: i32 = 7;
