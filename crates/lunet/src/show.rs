//! How reports look on a terminal, and as JSON with `--json`.

use lunet_lua::Line;

use lunet_bench::gen::Report as GenReport;
use lunet_runtime::check::CheckReport;
use lunet_runtime::protocol::{
    ApplyReport, FileAction, ListEntry, MapOp, StateReport, StatsReport,
};
use lunet_runtime::replay::ReplayReport;

fn json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn started(r: &StateReport, as_json: bool) {
    if as_json {
        return json(r);
    }
    let ns = r
        .netns
        .as_deref()
        .map(|n| format!(" in netns {n}"))
        .unwrap_or_default();
    let copies = if r.copies > 1 {
        format!(", {} per-CPU copies", r.copies)
    } else {
        String::new()
    };
    println!(
        "state '{}' started from {}{ns}{copies}",
        r.name,
        r.script.display()
    );
    if r.hooks.is_empty() {
        println!("  (the script registered no hooks)");
    }
    for h in &r.hooks {
        println!(
            "  hook {}  [{} tier: {}]",
            h.name,
            h.tier.name(),
            h.tier_reason
        );
        println!("    asked:    {}  (defined at {})", h.attach, h.defined_at);
        for p in &h.placement {
            let q = h
                .queue
                .map(|q| match r.copies {
                    0 | 1 => format!(", NFQUEUE {q} with bypass"),
                    n => format!(", NFQUEUEs {q}-{} by flow, with bypass", q + n - 1),
                })
                .unwrap_or_default();
            println!("    attached: {p}{q}");
        }
    }
}

pub fn list(list: &[ListEntry], as_json: bool) {
    if as_json {
        return json(&list);
    }
    if list.is_empty() {
        println!("no states running");
        return;
    }
    println!(
        "{:<20} {:<16} {:>5} {:>12} {:>8}  SCRIPT",
        "NAME", "NETNS", "HOOKS", "PACKETS", "ERRORS"
    );
    for e in list {
        let state = if e.running {
            ""
        } else {
            "  (stopped: see lunet logs)"
        };
        let copies = if e.copies > 1 {
            format!("  [{} per-CPU copies]", e.copies)
        } else {
            String::new()
        };
        let from = match (&e.file, &e.file_error) {
            (Some(_), Some(err)) => format!("  [scripts directory; its new version fails: {err}]"),
            (Some(_), None) => "  [scripts directory]".to_string(),
            _ => String::new(),
        };
        println!(
            "{:<20} {:<16} {:>5} {:>12} {:>8}  {}{copies}{state}{from}",
            e.name,
            e.netns.as_deref().unwrap_or("-"),
            e.hooks,
            e.packets,
            e.errors,
            e.script.display()
        );
    }
}

/// `lunet apply`: each file of the scripts directory, its state and what was done.
pub fn apply(r: &ApplyReport, as_json: bool) {
    if as_json {
        return json(r);
    }
    println!("scripts directory {}", r.dir.display());
    if let Some(e) = &r.error {
        println!("  cannot be used: {e}");
    }
    if r.files.is_empty() && r.error.is_none() {
        println!("  no scripts (*.lua)");
    }
    for f in &r.files {
        let action = match f.action {
            FileAction::Started => "started",
            FileAction::Reloaded => "reloaded",
            FileAction::Restarted => "restarted (its options changed)",
            FileAction::Stopped => "stopped (the file is gone)",
            FileAction::Unchanged => "running, unchanged",
            FileAction::Failed => "not running",
            FileAction::Kept => "its older version runs on",
        };
        println!(
            "  {:<24} state {:<20} {action}",
            f.file,
            f.state.as_deref().unwrap_or("-")
        );
        if let Some(c) = &f.cpus {
            let list: Vec<String> = c.iter().map(u32::to_string).collect();
            println!(
                "    cpus {} recorded (per-CPU states are not built yet: one thread runs it)",
                list.join(",")
            );
        }
        if let Some(e) = &f.error {
            println!("    error: {e}");
        }
    }
}

pub fn stats(s: &StatsReport, as_json: bool) {
    if as_json {
        return json(s);
    }
    println!(
        "state '{}', Lua memory {} KiB",
        s.name,
        s.memory_used / 1024
    );
    for h in &s.hooks {
        let verdicts: Vec<String> = h
            .stats
            .verdicts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "  hook {} [{}] {}",
            h.hook.name,
            h.hook.tier.name(),
            h.hook.attach
        );
        println!(
            "    packets {}  verdicts: {}  errors {} (budget {}, time {}, memory {})",
            h.stats.packets,
            if verdicts.is_empty() {
                "-".into()
            } else {
                verdicts.join(", ")
            },
            h.stats.errors,
            h.stats.budget_hits,
            h.stats.time_hits,
            h.stats.memory_hits
        );
        if let Some(e) = &h.stats.last_error {
            println!("    last error: {e}");
        }
        for (k, c) in h.per_copy.iter().enumerate() {
            println!("    copy {k}: packets {}  errors {}", c.packets, c.errors);
        }
    }
    for c in &s.copies {
        println!(
            "  copy {} on CPU {}: Lua memory {} KiB, queues {:?}",
            c.copy,
            c.cpu.map_or("-".to_string(), |n| n.to_string()),
            c.memory_used / 1024,
            c.queues
        );
    }
    for q in &s.queues {
        let known = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
        println!(
            "  queue {} (overload {}): queued {}  judged {}  waiting {}  dropped {}  passed unseen {}{}",
            q.queue,
            q.overload.name(),
            known(q.queued),
            q.judged,
            q.waiting,
            q.dropped,
            known(q.unseen),
            if q.repeats_cut > 0 {
                format!("  repeats cut {}", q.repeats_cut)
            } else {
                String::new()
            }
        );
    }
}

pub fn log_line(l: &Line, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string(l).unwrap_or_default());
    } else {
        let tag = match l.stream {
            lunet_lua::Stream::Print => "",
            lunet_lua::Stream::Error => "error: ",
        };
        let copy = l.copy.map(|c| format!("[copy {c}] ")).unwrap_or_default();
        println!("{copy}{tag}{}", l.text);
    }
}

pub fn replay(r: &ReplayReport, as_json: bool) {
    // What the script printed, in order: on stdout with the table, on stderr beside JSON
    // (so stdout stays one JSON document).
    for (stream, text) in &r.log {
        let tag = match stream {
            lunet_lua::Stream::Print => "",
            lunet_lua::Stream::Error => "error: ",
        };
        if as_json {
            eprintln!("{tag}{text}");
        } else {
            println!("{tag}{text}");
        }
    }
    if r.log_cut > 0 {
        let note = format!(
            "({} more lines of the script's output not shown)",
            r.log_cut
        );
        if as_json {
            eprintln!("{note}");
        } else {
            println!("{note}");
        }
    }
    if let Some(each) = &r.each {
        for e in each {
            if as_json {
                println!("{}", serde_json::to_string(e).unwrap_or_default());
            } else {
                println!("packet {} {} {}", e.packet, e.hook, e.verdict);
            }
        }
    }
    if as_json {
        return json(&r.hooks);
    }
    println!(
        "{} packets from {} ({} not IPv4/IPv6, skipped by netfilter hooks)",
        r.packets, r.pcap, r.skipped
    );
    if r.forwarded > 0 {
        println!("  skb:forward() sent {} frames", r.forwarded);
    }
    for h in &r.hooks {
        let verdicts: Vec<String> = h.verdicts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let errors = h
            .errors
            .map(|e| e.to_string())
            .unwrap_or_else(|| "not counted in the kernel tier".into());
        println!("  {:<24} {}  errors {errors}", h.hook, verdicts.join(", "));
        if let Some(e) = &h.last_error {
            println!("    last error: {e}");
        }
    }
}

pub fn map(op: MapOp, v: &serde_json::Value, as_json: bool) {
    if as_json {
        return json(v);
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(absent)".into(),
        other => other.to_string(),
    };
    match op {
        MapOp::List => {
            let maps = v.as_array().cloned().unwrap_or_default();
            if maps.is_empty() {
                println!("the state has no maps");
            }
            for m in maps {
                println!(
                    "{:<16} {:<13} key \"{}\" value \"{}\" entries {}  {}",
                    text(&m["name"]),
                    text(&m["kind"]),
                    text(&m["key"]),
                    text(&m["value"]),
                    m["entries"],
                    text(&m["pinned"])
                );
            }
        }
        MapOp::Dump => {
            for e in v.as_array().cloned().unwrap_or_default() {
                println!("{} = {}", text(&e["key"]), text(&e["value"]));
            }
        }
        MapOp::Del => println!(
            "{} {}",
            text(&v["key"]),
            if v["deleted"] == true {
                "deleted"
            } else {
                "was not there"
            }
        ),
        MapOp::Get | MapOp::Set => println!("{} = {}", text(&v["key"]), text(&v["value"])),
    }
}

pub fn check(r: &CheckReport, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    println!(
        "{}: {} hook(s), {} map(s)",
        r.script,
        r.hooks.len(),
        r.maps.len()
    );
    for h in &r.hooks {
        let tier = match h.tier {
            Some(lunet_types::Tier::Kernel) => "kernel tier",
            Some(_) => "Lua tier",
            None => "CANNOT RUN",
        };
        println!(
            "  hook {} [{tier}] {} (defined at {})",
            h.hook, h.attach, h.defined_at
        );
        for reason in &h.reasons {
            println!("    {reason}");
        }
        if h.verified == Some(true) {
            println!("    accepted by the kernel's verifier");
        }
        if let Some(d) = &h.diagnostic {
            println!("{d}");
        }
        if let Some(e) = &h.emitted {
            println!("{e}");
        }
    }
    for m in &r.maps {
        println!(
            "  map {} ({}, key \"{}\", value \"{}\", {} entries)",
            m.name,
            m.kind.name(),
            m.key,
            m.value,
            m.entries
        );
    }
}

/// `lunet gen`'s report.
pub fn gen(r: &GenReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
        return;
    }
    println!(
        "sent      {:>12} frames in {:.2} s: {:.3} Mpps by {}{}",
        r.sent,
        r.seconds,
        r.pps / 1e6,
        r.method,
        if r.pinned {
            " (generator on CPU 0)"
        } else {
            ""
        }
    );
    let fate = if r.receiver == "stack" {
        "passed to its stack"
    } else {
        "dropped at XDP"
    };
    println!(
        "received  {:>12} frames at the receiver's veth ({fate})",
        r.received
    );
    println!(
        "ring lost {:>12} frames (receiver's ring full)",
        r.ring_lost
    );
}
