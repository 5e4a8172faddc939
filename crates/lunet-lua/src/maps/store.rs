//! Where a map's entries live: a kernel eBPF map (the daemon: shared with compiled hooks and
//! the shell), or process memory with the same rules (`lunet replay`: no root, no kernel).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use lunet_bpf::map::{map_type, update_flags, Map};

use lunet_types::{MapDecl, MapKind, Scalar};

/// Raw byte-level access, the same for every backing.
pub trait Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Removes `key`; false when it was not there.
    fn delete(&self, key: &[u8]) -> Result<bool, String>;
    fn keys(&self) -> Result<Vec<Vec<u8>>, String>;
}

impl<T: Store> Store for std::rc::Rc<T> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        (**self).get(key)
    }
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        (**self).set(key, value)
    }
    fn delete(&self, key: &[u8]) -> Result<bool, String> {
        (**self).delete(key)
    }
    fn keys(&self) -> Result<Vec<Vec<u8>>, String> {
        (**self).keys()
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
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let now = self.tick();
        Ok(self.entries.borrow_mut().get_mut(key).map(|(used, v)| {
            *used = now;
            v.clone()
        }))
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let now = self.tick();
        let mut e = self.entries.borrow_mut();
        if self.decl.kind.is_array() && !e.contains_key(key) {
            return Err(format!(
                "map '{}': index out of range (entries = {})",
                self.decl.name, self.decl.entries
            ));
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
                return Err(format!(
                    "map '{}' is full ({} entries)",
                    self.decl.name, self.decl.entries
                ));
            }
        }
        e.insert(key.to_vec(), (now, value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<bool, String> {
        if self.decl.kind.is_array() {
            return Err(format!(
                "map '{}': entries of an array map cannot be deleted (set them to 0)",
                self.decl.name
            ));
        }
        Ok(self.entries.borrow_mut().remove(key).is_some())
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, String> {
        Ok(self.entries.borrow().keys().cloned().collect())
    }
}

/// A kernel eBPF map.
pub struct KernelStore {
    decl: MapDecl,
    pub map: Map,
}

fn os(decl: &MapDecl, what: &str, e: std::io::Error) -> String {
    format!("map '{}': {what} failed: {e}", decl.name)
}

impl KernelStore {
    pub fn create(decl: MapDecl) -> Result<KernelStore, String> {
        let map = Map::create(
            map_type::of(decl.kind),
            decl.key.size as u32,
            decl.value.size as u32,
            decl.entries,
            &decl.name,
        )
        .map_err(|e| os(&decl, "creating the kernel map", e))?;
        Ok(KernelStore { decl, map })
    }

    /// Opens the map pinned at `path`, checking it still has the declared sizes.
    pub fn open(decl: MapDecl, path: &Path) -> Result<KernelStore, String> {
        let fd = lunet_bpf::pin::get(path)
            .map_err(|e| os(&decl, &format!("opening {}", path.display()), e))?;
        let map = Map::from_fd(fd).map_err(|e| os(&decl, "reading its info", e))?;
        if map.key_size() as usize != decl.key.size || map.value_size() as usize != decl.value.size
        {
            return Err(format!(
                "map '{}' at {} does not have the declared layout",
                decl.name,
                path.display()
            ));
        }
        Ok(KernelStore { decl, map })
    }

    pub fn pin(&self, path: &Path) -> Result<(), String> {
        lunet_bpf::pin::pin(&self.map, path)
            .map_err(|e| os(&self.decl, &format!("pinning at {}", path.display()), e))
    }

    fn percpu(&self) -> bool {
        self.decl.kind == MapKind::PercpuArray
    }
}

impl Store for KernelStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let Some(raw) = self
            .map
            .lookup(key)
            .map_err(|e| os(&self.decl, "lookup", e))?
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
        self.decl
            .value
            .pack(&[Scalar::Int(total)])
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let bytes = if self.percpu() {
            // The value goes to CPU 0 and the others are zeroed, so a read gives it back.
            let slot = self.decl.value.size.div_ceil(8) * 8;
            let len = self
                .map
                .lookup_len()
                .map_err(|e| os(&self.decl, "sizing", e))?;
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
                    format!(
                        "map '{}' is full ({} entries)",
                        self.decl.name, self.decl.entries
                    )
                } else {
                    os(&self.decl, "update", e)
                }
            })
    }

    fn delete(&self, key: &[u8]) -> Result<bool, String> {
        if self.decl.kind.is_array() {
            return Err(format!(
                "map '{}': entries of an array map cannot be deleted (set them to 0)",
                self.decl.name
            ));
        }
        self.map
            .delete(key)
            .map_err(|e| os(&self.decl, "delete", e))
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, String> {
        self.map
            .keys()
            .map_err(|e| os(&self.decl, "listing keys", e))
    }
}

/// What Linux answers when a hash map is full.
const E2BIG: i32 = 7;
