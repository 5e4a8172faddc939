//! Maps: what kind of kernel map a script declared, its layouts, and the reference a compiled
//! hook holds to it. The kernel's map type numbers live in lunet-bpf (`map_type::of`).

use serde::{Deserialize, Serialize};

use crate::layout::{Field, Layout};

/// What kind of kernel map a `bpf.map` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    Hash,
    Array,
    LruHash,
    PercpuArray,
    /// A ring buffer: no keys or values, `entries` bytes of records (only lunet's own print
    /// ring; scripts cannot declare one).
    RingBuf,
}

impl MapKind {
    /// The name `bpf.map` declares it with (`map.hash{...}`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Hash => "hash",
            MapKind::Array => "array",
            MapKind::LruHash => "lru_hash",
            MapKind::PercpuArray => "percpu_array",
            MapKind::RingBuf => "ringbuf",
        }
    }

    /// Arrays hold every index from the start and cannot lose one.
    pub fn is_array(self) -> bool {
        matches!(self, MapKind::Array | MapKind::PercpuArray)
    }
}

/// A declaration the kernel would refuse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMap(pub String);

/// A map as the script declared it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapDecl {
    pub name: String,
    pub kind: MapKind,
    pub key: Layout,
    pub value: Layout,
    pub entries: u32,
}

impl MapDecl {
    /// Checks what the kernel would refuse, with a message that says why.
    pub fn validate(&self) -> Result<(), InvalidMap> {
        if self.entries == 0 || self.entries > 1 << 24 {
            return Err(InvalidMap(format!(
                "entries must be between 1 and {}, got {}",
                1 << 24,
                self.entries
            )));
        }
        if self.kind.is_array() && self.key.size != 4 {
            return Err(InvalidMap(format!(
                "{} maps have 4-byte integer keys (key = \"I4\"), got \"{}\"",
                self.kind.name(),
                self.key.format
            )));
        }
        let one_int = matches!(
            self.value
                .fields
                .iter()
                .filter(|f| **f != Field::Pad)
                .collect::<Vec<_>>()[..],
            [Field::Int { .. }]
        );
        if self.kind == MapKind::PercpuArray && !one_int {
            return Err(InvalidMap(
                "percpu_array values are one integer (e.g. value = \"I8\"): reads give the sum over CPUs"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A map a hook's upvalues refer to ([`crate::Value::Map`]): plain data, as the script
/// declared it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapRef {
    /// The caller's index for the map: a compiled program takes map fds by it (lunet-lua: the
    /// map's position in the state's declaration order).
    pub id: usize,
    pub decl: MapDecl,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(kind: MapKind, key: &str, value: &str, entries: u32) -> MapDecl {
        MapDecl {
            name: "m".into(),
            kind,
            key: Layout::parse(key).unwrap(),
            value: Layout::parse(value).unwrap(),
            entries,
        }
    }

    #[test]
    fn the_kernel_s_refusals_are_named_before_it_refuses() {
        assert!(decl(MapKind::Hash, "I4", "I8", 16).validate().is_ok());
        let e = decl(MapKind::Array, "I8", "I8", 16).validate().unwrap_err();
        assert!(e.0.contains("4-byte integer keys"), "{e}");
        let e = decl(MapKind::Hash, "I4", "I8", 0).validate().unwrap_err();
        assert!(e.0.contains("entries"), "{e}");
        let e = decl(MapKind::PercpuArray, "I4", "I4I4", 4)
            .validate()
            .unwrap_err();
        assert!(e.0.contains("one integer"), "{e}");
    }
}
