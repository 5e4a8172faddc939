//! The ratios the project's goals are stated in, from a run's medians: the kernel tier
//! against iptables and against clang's C, the Lua tier against a plain NFQUEUE consumer.

use crate::row::Row;

/// The one-verdict-per-packet NFQUEUE consumer's drop rate in `shared/kernel-notes.md`
/// (0.32/0.32/0.28 Mpps), the Lua tier's yardstick.
pub const NFQUEUE_BASELINE_MPPS: f64 = 0.3;

/// The median Mpps of `method` on `filter` in `rows`, if measured.
fn mpps(rows: &[Row], filter: &str, method: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.filter == filter && r.method == method && r.skipped.is_none())
        .and_then(|r| r.mpps_median)
}

/// The ratios the project's goals are stated in, for one filter, from a run's medians.
pub struct Ratios {
    pub filter: String,
    pub xdp_vs_iptables: Option<f64>,
    pub xdp_vs_c: Option<f64>,
    pub lua_vs_baseline: Option<f64>,
    /// `lunet-lua-all` (a copy per CPU) over the same baseline.
    pub lua_all_vs_baseline: Option<f64>,
}

/// [`Ratios`] for each filter of `rows` that has one at least.
pub fn ratios_of(rows: &[Row]) -> Vec<Ratios> {
    let mut filters: Vec<&str> = Vec::new();
    for r in rows {
        if !filters.contains(&r.filter.as_str()) {
            filters.push(&r.filter);
        }
    }
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    filters
        .into_iter()
        .map(|f| {
            let xdp = mpps(rows, f, "lunet-kernel-xdp");
            Ratios {
                filter: f.to_string(),
                xdp_vs_iptables: ratio(xdp, mpps(rows, f, "iptables-raw")),
                xdp_vs_c: ratio(xdp, mpps(rows, f, "ebpf-c-xdp")),
                lua_vs_baseline: ratio(mpps(rows, f, "lunet-lua"), Some(NFQUEUE_BASELINE_MPPS)),
                lua_all_vs_baseline: ratio(
                    mpps(rows, f, "lunet-lua-all"),
                    Some(NFQUEUE_BASELINE_MPPS),
                ),
            }
        })
        .filter(|r| {
            r.xdp_vs_iptables.is_some()
                || r.xdp_vs_c.is_some()
                || r.lua_vs_baseline.is_some()
                || r.lua_all_vs_baseline.is_some()
        })
        .collect()
}

/// `1.23x`, or `-`.
pub fn times(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into())
}
