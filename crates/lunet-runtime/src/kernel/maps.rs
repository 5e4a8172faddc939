//! The kernel maps lunet itself makes for a compiled hook (its verdict counters, its print
//! ring and lost-records counter), and reading their per-CPU counts.

use lunet_bpf::map::Map;
use lunet_types::MapRef;

use super::error::KernelError;

/// Creates map `r` (one of lunet's own); `what` names it in the error.
pub(super) fn create_map(r: &MapRef, what: &'static str) -> Result<Map, KernelError> {
    Map::create(
        lunet_bpf::map::map_type::of(r.decl.kind),
        r.decl.key.size as u32,
        r.decl.value.size as u32,
        r.decl.entries,
        &r.decl.name,
    )
    .map_err(|source| KernelError::CreateMap { what, source })
}

/// Slot `slot` (a host-order `u32` key) of a per-CPU array of `u64`s, summed over the CPUs.
pub(super) fn per_cpu_sum(map: &Map, slot: u32) -> u64 {
    map.lookup(&slot.to_ne_bytes())
        .ok()
        .flatten()
        .map(|per_cpu| {
            per_cpu
                .chunks(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .sum()
        })
        .unwrap_or(0)
}

/// The verdict counts of a compiled hook (summed over CPUs), by verdict value.
pub fn read_counters(counters: &Map) -> Vec<u64> {
    (0..lunet_compile::COUNTER_SLOTS)
        .map(|slot| per_cpu_sum(counters, slot))
        .collect()
}
