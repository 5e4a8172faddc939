//! What `lunet daemon --metrics` serves: every running state's counters, as `lunet stats`
//! reports them, in the OpenMetrics text format (the Prometheus exposition format's
//! standard, which Prometheus reads), encoded by `prometheus-client`. A page is made from the
//! states as they are when it is asked for (nothing is counted twice: the counters are the
//! states' own), and at most once per [`MetricsBounds::min_render`]: scrapes closer together
//! get the page already made, so a flood of scrapes costs one `stats` walk a second.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Instant;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::protocol::StatsReport;

type Labels = Vec<(String, String)>;
type Counters = Family<Labels, Counter<u64, AtomicU64>>;
type Gauges = Family<Labels, Gauge<i64, AtomicI64>>;

/// The content type of [`render`]'s page.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the page says besides the states.
pub struct Daemon<'a> {
    pub started: Instant,
    /// The scripts directory's files that are broken now (each with its error), when the
    /// daemon keeps one.
    pub script_errors: Option<Vec<(String, String)>>,
    pub states: &'a [StatsReport],
    /// Each state's memory cap, by the order of `states`.
    pub memory_caps: &'a [usize],
}

/// One family per thing counted, registered under its name and help.
struct Families {
    packets: Counters,
    verdicts: Counters,
    errors: Counters,
    budget_hits: Counters,
    time_hits: Counters,
    memory_hits: Counters,
    memory: Gauges,
    memory_cap: Gauges,
    queued: Counters,
    judged: Counters,
    waiting: Gauges,
    dropped: Counters,
    unseen: Gauges,
    repeats_cut: Counters,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The page for `d`.
pub fn render(d: &Daemon<'_>) -> String {
    let mut r = Registry::with_prefix("lunet");
    let f = Families {
        packets: Counters::default(),
        verdicts: Counters::default(),
        errors: Counters::default(),
        budget_hits: Counters::default(),
        time_hits: Counters::default(),
        memory_hits: Counters::default(),
        memory: Gauges::default(),
        memory_cap: Gauges::default(),
        queued: Counters::default(),
        judged: Counters::default(),
        waiting: Gauges::default(),
        dropped: Counters::default(),
        unseen: Gauges::default(),
        repeats_cut: Counters::default(),
    };
    let info = Gauges::default();
    info.get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
        .set(1);
    r.register("build_info", "lunet's version (always 1)", info);
    let uptime = Gauge::<f64, AtomicU64>::default();
    uptime.set(d.started.elapsed().as_secs_f64());
    r.register(
        "daemon_uptime_seconds",
        "Seconds since the daemon started",
        uptime,
    );
    let states = Gauge::<i64, AtomicI64>::default();
    states.set(d.states.len() as i64);
    r.register("states", "States running", states);
    if let Some(errors) = &d.script_errors {
        let broken = Gauges::default();
        for (file, _) in errors {
            broken.get_or_create(&labels(&[("file", file)])).set(1);
        }
        r.register(
            "script_file_broken",
            "Files of the scripts directory that cannot run now (1 each; `lunet apply` says why; a state they ran before runs on)",
            broken,
        );
    }
    for (s, cap) in d.states.iter().zip(d.memory_caps) {
        count_state(&f, s, *cap);
    }
    register(&mut r, f);
    let mut page = String::new();
    // Writing to a String does not fail.
    let _ = encode(&mut page, &r);
    page
}

fn count_state(f: &Families, s: &StatsReport, cap: usize) {
    let state = labels(&[("state", &s.name)]);
    f.memory
        .get_or_create(&state)
        .set(gauge(s.memory_used as u64));
    f.memory_cap.get_or_create(&state).set(gauge(cap as u64));
    for h in &s.hooks {
        let tier = h.hook.tier.name();
        let hook = labels(&[("state", &s.name), ("hook", &h.hook.name), ("tier", tier)]);
        let st = &h.stats;
        f.packets.get_or_create(&hook).inc_by(st.packets);
        for (verdict, n) in &st.verdicts {
            let mut l = hook.clone();
            l.push(("verdict".into(), verdict.clone()));
            f.verdicts.get_or_create(&l).inc_by(*n);
        }
        f.errors.get_or_create(&hook).inc_by(st.errors);
        f.budget_hits.get_or_create(&hook).inc_by(st.budget_hits);
        f.time_hits.get_or_create(&hook).inc_by(st.time_hits);
        f.memory_hits.get_or_create(&hook).inc_by(st.memory_hits);
    }
    for q in &s.queues {
        let number = q.queue.to_string();
        let overload = q.overload.name();
        let l = labels(&[
            ("state", &s.name),
            ("queue", &number),
            ("overload", overload),
        ]);
        if let Some(n) = q.queued {
            f.queued.get_or_create(&l).inc_by(n);
        }
        f.judged.get_or_create(&l).inc_by(q.judged);
        f.waiting.get_or_create(&l).set(gauge(q.waiting));
        f.dropped.get_or_create(&l).inc_by(q.dropped);
        if let Some(n) = q.unseen {
            f.unseen.get_or_create(&l).set(gauge(n));
        }
        f.repeats_cut.get_or_create(&l).inc_by(q.repeats_cut);
    }
}

fn register(r: &mut Registry, f: Families) {
    r.register(
        "hook_packets",
        "Packets a hook judged (compiled hooks: their per-CPU verdict counters, summed)",
        f.packets,
    );
    r.register(
        "hook_verdicts",
        "Verdicts a hook gave, by name (linux.nf.action or linux.xdp)",
        f.verdicts,
    );
    r.register(
        "hook_errors",
        "Calls that gave the hook's default verdict because of an error (budget, time and memory included; Lua tier only)",
        f.errors,
    );
    r.register(
        "hook_budget_hits",
        "Calls stopped by their instruction budget",
        f.budget_hits,
    );
    r.register(
        "hook_time_hits",
        "Calls stopped at their time limit",
        f.time_hits,
    );
    r.register(
        "hook_memory_hits",
        "Calls that reached the state's memory cap",
        f.memory_hits,
    );
    r.register(
        "state_memory_bytes",
        "Bytes the state's Lua holds now",
        f.memory,
    );
    r.register(
        "state_memory_cap_bytes",
        "The state's memory cap",
        f.memory_cap,
    );
    r.register(
        "queue_queued",
        "Packets lunet's rules sent to the queue (iptables counters; absent with nft)",
        f.queued,
    );
    r.register(
        "queue_judged",
        "Packets of the queue the hooks judged",
        f.judged,
    );
    r.register(
        "queue_waiting",
        "Packets in the kernel's queue waiting for a verdict now",
        f.waiting,
    );
    r.register(
        "queue_dropped",
        "Packets the kernel dropped because the queue or its socket was full",
        f.dropped,
    );
    r.register(
        "queue_unseen",
        "Packets that passed unseen because the queue was full (fail-open), as lunet stats estimates them: queued - judged - waiting - dropped, so not a counter (absent with nft)",
        f.unseen,
    );
    r.register(
        "queue_repeats_cut",
        "Packets whose hook kept returning REPEAT: they got its default verdict",
        f.repeats_cut,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{HookReport, HookStatsReport, QueueReport};
    use lunet_types::Tier;

    #[test]
    fn the_page_names_every_counter_with_its_state_hook_and_queue() {
        let hook = HookReport {
            name: "fw \"in\"".into(),
            tier: Tier::Lua,
            tier_reason: String::new(),
            attach: String::new(),
            placement: vec![],
            queue: Some(7),
            budget: None,
            defined_at: String::new(),
        };
        let mut stats = lunet_lua::StatsSnapshot {
            packets: 12,
            errors: 2,
            budget_hits: 1,
            ..Default::default()
        };
        stats.verdicts.insert("DROP".into(), 5);
        stats.verdicts.insert("ACCEPT".into(), 7);
        let s = StatsReport {
            name: "fw".into(),
            memory_used: 4096,
            hooks: vec![HookStatsReport {
                hook,
                stats,
                per_copy: Vec::new(),
            }],
            copies: Vec::new(),
            queues: vec![QueueReport {
                queue: 7,
                copy: 0,
                overload: lunet_types::Overload::Pass,
                queued: None,
                judged: 12,
                waiting: 0,
                dropped: 3,
                unseen: None,
                repeats_cut: 0,
            }],
        };
        let page = render(&Daemon {
            started: Instant::now(),
            script_errors: Some(vec![("bad.lua".into(), "syntax".into())]),
            states: std::slice::from_ref(&s),
            memory_caps: &[1 << 20],
        });
        let hook = r#"state="fw",hook="fw \"in\"",tier="lua""#;
        for line in [
            format!("lunet_hook_packets_total{{{hook}}} 12"),
            format!("lunet_hook_verdicts_total{{{hook},verdict=\"DROP\"}} 5"),
            format!("lunet_hook_verdicts_total{{{hook},verdict=\"ACCEPT\"}} 7"),
            format!("lunet_hook_errors_total{{{hook}}} 2"),
            format!("lunet_hook_budget_hits_total{{{hook}}} 1"),
            "lunet_state_memory_bytes{state=\"fw\"} 4096".into(),
            "lunet_state_memory_cap_bytes{state=\"fw\"} 1048576".into(),
            "lunet_queue_judged_total{state=\"fw\",queue=\"7\",overload=\"pass\"} 12".into(),
            "lunet_queue_dropped_total{state=\"fw\",queue=\"7\",overload=\"pass\"} 3".into(),
            "lunet_script_file_broken{file=\"bad.lua\"} 1".into(),
            "lunet_states 1".into(),
            format!(
                "lunet_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(page.lines().any(|l| l == line), "no line {line} in\n{page}");
        }
        assert!(
            !page.contains("lunet_queue_queued_total{"),
            "a queue without rule counters has no queued sample"
        );
        assert!(page.ends_with("# EOF\n"), "{page}");
    }
}
