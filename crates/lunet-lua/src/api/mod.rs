//! What editors are told of lunet's API: LuaLS `---@meta` files (`lunet stubs DIR`), made
//! from the modules a live state registers and the stubs written beside each registration.
//!
//! The modules and their constants come from a live state ([`live`]): the table
//! `require` serves them from, walked; the objects' methods from a probe script run in a
//! real state ([`live::PROBES`]). What each function takes and gives is written by hand next to
//! where it is registered, in `<module>.meta.lua` ([`sidecar`], listed in [`SIDECARS`]):
//! adding a function to lunet is one entry there. [`drift`] names every live function or
//! method without an entry and every entry that names nothing live; a test keeps both
//! lists empty, and [`stubs`] leaves out entries that name nothing live (and writes
//! "not described yet" ones for live functions without an entry).
//!
//! To add a module: its `<name>.meta.lua` beside it, listed in [`SIDECARS`]. To add a kind
//! of object: its class in a `.meta.lua`, and a way to make one in [`live::PROBES`].

mod emit;
mod live;
pub(crate) mod loaded;
mod sidecar;

pub use emit::Drift;

/// The stub files, where they are in the repository, and their text.
const SIDECARS: &[(&str, &str)] = &[
    (
        "crates/lunet-lua/src/modules/netfilter.meta.lua",
        include_str!("../modules/netfilter.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/modules/xdp.meta.lua",
        include_str!("../modules/xdp.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/modules/linux.meta.lua",
        include_str!("../modules/linux.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/modules/byteorder.meta.lua",
        include_str!("../modules/byteorder.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/modules/checksum.meta.lua",
        include_str!("../modules/checksum.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/modules/bpf.meta.lua",
        include_str!("../modules/bpf.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/modules/rcu.meta.lua",
        include_str!("../modules/rcu.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/maps/map.meta.lua",
        include_str!("../maps/map.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/skb.meta.lua",
        include_str!("../skb.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/data.meta.lua",
        include_str!("../data.meta.lua"),
    ),
    (
        "crates/lunet-lua/src/data.module.meta.lua",
        include_str!("../data.module.meta.lua"),
    ),
];

/// Why the stubs cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("lunet could not probe a live state: {0}")]
    Probe(String),
    #[error("a stub file does not read: {0}")]
    Sidecar(String),
}

fn sidecars() -> Result<Vec<sidecar::Sidecar>, ApiError> {
    SIDECARS
        .iter()
        .map(|(source, text)| sidecar::parse(source, text).map_err(ApiError::Sidecar))
        .collect()
}

fn surface() -> Result<live::Surface, ApiError> {
    live::surface().map_err(|e| ApiError::Probe(crate::describe(&e)))
}

/// Where the live API and the stubs disagree.
pub fn drift() -> Result<Drift, ApiError> {
    Ok(emit::drift(&surface()?, &sidecars()?))
}

/// The stub files: a path relative to the stubs directory (`netfilter.lua`,
/// `linux/nf.lua`, ...), and its text.
pub fn stubs() -> Result<Vec<(String, String)>, ApiError> {
    Ok(emit::files(&surface()?, &sidecars()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_live_function_and_method_has_a_stub_and_every_stub_is_live() {
        let d = drift().unwrap();
        assert!(
            d.is_empty(),
            "the stubs and the live API disagree:\n{d}\n(each line says where to fix it)"
        );
    }

    #[test]
    fn a_stub_that_names_nothing_live_and_a_live_function_without_one_are_named() {
        let live = surface().unwrap();
        let mut cars = sidecars().unwrap();
        let xdp = cars
            .iter_mut()
            .find(|s| s.source.ends_with("xdp.meta.lua"))
            .unwrap();
        // Drop `xdp.attach`'s entry; add one for a function that does not exist.
        xdp.blocks.retain(
            |b| !matches!(b, sidecar::Block::Function { path, .. } if path == "xdp.attach"),
        );
        xdp.blocks.push(sidecar::Block::Function {
            path: "xdp.atach".into(),
            text: "function xdp.atach(fn) end".into(),
        });
        let d = emit::drift(&live, &cars);
        assert_eq!(d.missing.len(), 1, "{d}");
        assert!(
            d.missing[0].contains("xdp.attach") && d.missing[0].contains("xdp.meta.lua"),
            "{d}"
        );
        assert_eq!(d.stale.len(), 1, "{d}");
        assert!(d.stale[0].contains("xdp.atach"), "{d}");
        let files = emit::files(&live, &cars);
        let xdp = &files.iter().find(|(p, _)| p == "xdp.lua").unwrap().1;
        assert!(!xdp.contains("atach"), "a stale stub is left out");
        assert!(
            xdp.contains("function xdp.attach(...) end"),
            "a live function without a stub is still declared:\n{xdp}"
        );
    }

    #[test]
    fn the_stubs_hold_every_module_with_its_live_constants() {
        let files = stubs().unwrap();
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "netfilter.lua",
            "xdp.lua",
            "linux.lua",
            "linux/nf.lua",
            "linux/xdp.lua",
            "byteorder.lua",
            "checksum.lua",
            "rcu.lua",
            "bpf.lua",
            "bpf/map.lua",
            "lunet-objects.lua",
        ] {
            assert!(names.contains(&want), "{want} in {names:?}");
        }
        let nf = &files.iter().find(|(p, _)| p == "linux/nf.lua").unwrap().1;
        assert!(nf.starts_with("---@meta linux.nf\n"), "{nf}");
        let drop = lunet_types::nf::action::DROP;
        assert!(nf.contains(&format!("DROP = {drop},")), "{nf}");
        let objects = &files
            .iter()
            .find(|(p, _)| p == "lunet-objects.lua")
            .unwrap()
            .1;
        assert!(
            objects.contains("function data:getuint16(offset) end"),
            "{objects}"
        );
        assert!(
            objects.contains("---@class lunet.skb: lunet.data")
                && !objects.contains("function skb:getuint16")
                && objects.contains("function skb:forward() end"),
            "the skb has a data object's methods, and its own:\n{objects}"
        );
        assert!(names.contains(&"data.lua"), "the data module: {names:?}");
    }
}
