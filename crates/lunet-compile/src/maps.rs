//! Maps as a compiled hook sees them: the plain facts about a `bpf.map` that the compiler
//! needs ([`MapRef`]), the relocations a compiled program carries for them ([`MapUse`]), and
//! the per-CPU array that counts verdicts ([`verdict_counter_map`]). The maps of `print` are
//! described in [`crate::print`].
//!
//! The types mirror lunet-lua's `maps::layout::{Layout, Field}` and `maps::store::MapKind`
//! field for field (lunet-lua depends on this crate, not the other way round), so converting
//! is a plain `match`. A layout is described exactly as lunet-lua parsed its `string.pack`
//! format: the compiled code packs keys and values to the same bytes `Layout::pack` gives.

use std::os::fd::RawFd;

/// What kind of kernel map a `bpf.map` is (lunet-lua's `MapKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    Hash,
    Array,
    LruHash,
    PercpuArray,
    /// A ring buffer: no keys or values, `entries` bytes of records (only lunet's own
    /// [`crate::print_ring_map`]; scripts cannot declare one).
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

    /// The kernel's map type (`enum bpf_map_type`), for `BPF_MAP_CREATE`.
    pub fn map_type(self) -> u32 {
        use lunet_bpf::map::map_type;
        match self {
            MapKind::Hash => map_type::HASH,
            MapKind::Array => map_type::ARRAY,
            MapKind::LruHash => map_type::LRU_HASH,
            MapKind::PercpuArray => map_type::PERCPU_ARRAY,
            MapKind::RingBuf => map_type::RINGBUF,
        }
    }

    /// Arrays hold every index from the start and cannot lose one.
    pub fn is_array(self) -> bool {
        matches!(self, MapKind::Array | MapKind::PercpuArray)
    }
}

/// One field of a layout (lunet-lua's `maps::layout::Field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapField {
    /// An integer of 1, 2, 4 or 8 bytes.
    Int {
        size: usize,
        signed: bool,
        big_endian: bool,
    },
    /// A fixed string `cN`.
    Bytes(usize),
    /// One byte of padding `x`.
    Pad,
}

/// A key or value layout (lunet-lua's `maps::layout::Layout`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapLayout {
    /// The `string.pack` format the script wrote, for messages.
    pub format: String,
    pub fields: Vec<MapField>,
    /// Bytes in all.
    pub size: usize,
}

impl MapLayout {
    /// A layout of one integer field (`"I4"` is `int("I4", 4, false, false)` on x86).
    pub fn int(format: &str, size: usize, signed: bool, big_endian: bool) -> MapLayout {
        MapLayout {
            format: format.to_string(),
            fields: vec![MapField::Int {
                size,
                signed,
                big_endian,
            }],
            size,
        }
    }

    /// The one integer field a compiled hook can pack and unpack, if that is what this
    /// layout is: `(size, signed, big_endian)`. Padding or a second field gives `None`.
    pub fn one_int(&self) -> Option<(usize, bool, bool)> {
        match self.fields[..] {
            [MapField::Int {
                size,
                signed,
                big_endian,
            }] if matches!(size, 1 | 2 | 4 | 8) && self.size == size => {
                Some((size, signed, big_endian))
            }
            _ => None,
        }
    }
}

/// A map a hook's upvalues refer to (`Value::Map`): plain data, as the script declared it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapRef {
    /// The caller's index for the map: [`crate::Program::patch_map_fds`] takes fds by it
    /// (lunet-lua: the map's position in the state's declaration order).
    pub id: usize,
    pub name: String,
    pub kind: MapKind,
    pub key: MapLayout,
    pub value: MapLayout,
    pub entries: u32,
}

/// An `ld_imm64` that loads a map (`BPF_PSEUDO_MAP_FD`): `insns[insn].imm` gets the fd of map
/// `map_id` before the program is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapUse {
    /// Index of the first of the instruction's two slots.
    pub insn: usize,
    pub map_id: usize,
    /// The map's name, for listings and messages.
    pub name: String,
}

/// The map id of the verdict counters ([`crate::Program::count_verdicts`]).
pub const COUNTER_MAP_ID: usize = usize::MAX;
/// The counters' name (at most 15 bytes, as the kernel's map names).
pub const COUNTER_MAP_NAME: &str = "lunet_verdicts";
/// Counter slots: one per XDP action (`ABORTED DROP PASS TX REDIRECT`).
pub const COUNTER_SLOTS: u32 = 5;

/// The map [`crate::Program::count_verdicts`] counts in: a per-CPU array of
/// [`COUNTER_SLOTS`] host-order `u64`s indexed by host-order `u32` verdicts, id
/// [`COUNTER_MAP_ID`]. The count of verdict `v` is the sum of slot `v` over the CPUs.
pub fn verdict_counter_map() -> MapRef {
    let big = cfg!(target_endian = "big");
    MapRef {
        id: COUNTER_MAP_ID,
        name: COUNTER_MAP_NAME.to_string(),
        kind: MapKind::PercpuArray,
        key: MapLayout::int("I4", 4, false, big),
        value: MapLayout::int("I8", 8, false, big),
        entries: COUNTER_SLOTS,
    }
}

/// Helper function numbers (`enum bpf_func_id`).
pub mod helper {
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    pub const MAP_UPDATE_ELEM: i32 = 2;
    pub const MAP_DELETE_ELEM: i32 = 3;
    /// `bpf_ringbuf_output` (Linux 5.8).
    pub const RINGBUF_OUTPUT: i32 = 130;
    /// `bpf_xdp_load_bytes` (Linux 5.18).
    pub const XDP_LOAD_BYTES: i32 = 189;

    /// The helper's name as the verifier log writes it.
    pub fn name(id: i32) -> Option<&'static str> {
        Some(match id {
            MAP_LOOKUP_ELEM => "bpf_map_lookup_elem",
            MAP_UPDATE_ELEM => "bpf_map_update_elem",
            MAP_DELETE_ELEM => "bpf_map_delete_elem",
            RINGBUF_OUTPUT => "bpf_ringbuf_output",
            XDP_LOAD_BYTES => "bpf_xdp_load_bytes",
            _ => return None,
        })
    }
}

/// The fd an unpatched map load holds: loading it fails with `EBADF`.
pub(crate) const UNPATCHED_FD: i32 = -1;

/// Writes `fds` into the map loads of `insns` listed in `uses`.
pub(crate) fn patch(
    insns: &mut [lunet_bpf::insn::Insn],
    uses: &[MapUse],
    fds: &[(usize, RawFd)],
) -> Result<(), String> {
    let mut missing: Vec<&str> = Vec::new();
    for u in uses {
        match fds.iter().find(|(id, _)| *id == u.map_id) {
            Some((_, fd)) => match insns.get_mut(u.insn) {
                Some(i) => i.imm = *fd,
                None => return Err(format!("map load {} is past the program", u.insn)),
            },
            None => {
                if !missing.contains(&u.name.as_str()) {
                    missing.push(&u.name);
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("no fd for map(s) {}", missing.join(", ")))
    }
}
