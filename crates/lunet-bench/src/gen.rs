//! `lunet gen`: the benchmark's traffic generator on its own.
//!
//! It builds the benchmark's testbed (two fresh namespaces joined by a veth pair, 198.18.0.1
//! -> 198.18.0.2, an `XDP_PASS` program on the receiver's veth), sends a mix of frames built
//! in Rust with the `XDP_TX` live-frames generator until a time, count or Ctrl-C limit, at
//! full speed or a given rate, prints what was sent and what reached the receiver's veth,
//! and removes the testbed. The receiver's stack has no socket for the frames (UDP ones
//! cost it an ICMP error each, rate-limited); with `--drop` its veth drops them at XDP
//! instead, which shows the generator's own limit. (The testbed has IPv6 off, so the
//! sender's stack adds no frames of its own.) With `--pcap FILE` it writes the mix to a pcap
//! file instead (no root, no traffic), for `lunet replay`.
//!
//! A mix is a list of specs `KIND:VALUE[@WEIGHT]`: `udp:PORT` (a 60-byte UDP frame to PORT),
//! `dns:NAME` (a DNS query for NAME to port 53), `sni:NAME` (a TCP segment to port 443
//! carrying a TLS ClientHello for NAME). The generator cycles through the frames; a spec of
//! weight W appears W times in the cycle. Spec number `i` (from 0) is sent from source port
//! `40000 + i`, so a capture or a counting rule can tell them apart.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lunet_gen::packet::{self, PacketError};
use lunet_gen::Limit;
use serde::Serialize;

use crate::filters::Endpoints;
use crate::testbed::Bed;

/// Payload of `udp:` frames: 18 bytes make a 60-byte frame (the minimum Ethernet frame).
const UDP_PAYLOAD: &[u8; 18] = b"lunet gen 01234567";
/// Source port of the first spec; spec `i` uses `FIRST_SPORT + i`.
const FIRST_SPORT: u16 = 40000;
/// The port `sni:` segments go to.
const TLS_PORT: u16 = 443;
/// Largest weight of a spec, and most specs in a mix.
const MAX_WEIGHT: u32 = 64;
const MAX_SPECS: usize = 64;

/// What one frame of the mix carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Udp(u16),
    Dns(String),
    Sni(String),
}

/// One entry of the mix: a frame kind and how often it appears in the cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    pub weight: u32,
}

/// Why a spec does not parse; each message starts with the spec in quotes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("'{spec}': the weight '{weight}' is not a number from 1 to {MAX_WEIGHT}")]
    Weight { spec: String, weight: String },
    #[error("'{0}': {USAGE}")]
    Form(String),
    #[error("'{spec}': unknown kind '{kind}'; {USAGE}")]
    Kind { spec: String, kind: String },
    #[error("'{spec}': '{port}' is not a port from 1 to 65535")]
    Port { spec: String, port: String },
    #[error("'{spec}': a name is needed after '{kind}:'")]
    NoName { spec: String, kind: String },
    #[error("'{spec}': {source}")]
    Name { spec: String, source: PacketError },
}

/// What a spec looks like.
const USAGE: &str = "expected udp:PORT, dns:NAME or sni:NAME, optionally followed by @WEIGHT";

impl FromStr for Spec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Spec, SpecError> {
        let spec = || s.to_string();
        let (body, weight) = match s.rsplit_once('@') {
            Some((b, w)) => {
                let w = w
                    .parse::<u32>()
                    .ok()
                    .filter(|w| (1..=MAX_WEIGHT).contains(w))
                    .ok_or_else(|| SpecError::Weight {
                        spec: spec(),
                        weight: w.to_string(),
                    })?;
                (b, w)
            }
            None => (s, 1),
        };
        let (kind, value) = body
            .split_once(':')
            .ok_or_else(|| SpecError::Form(spec()))?;
        let name = |v: &str| -> Result<String, SpecError> {
            if v.is_empty() || v == "." {
                return Err(SpecError::NoName {
                    spec: spec(),
                    kind: kind.to_string(),
                });
            }
            // Built once here so a bad name is a usage error, not a failure mid-run.
            packet::dns_query_payload(v, 0).map_err(|source| SpecError::Name {
                spec: spec(),
                source,
            })?;
            Ok(v.to_string())
        };
        let kind =
            match kind {
                "udp" => Kind::Udp(value.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(
                    || SpecError::Port {
                        spec: spec(),
                        port: value.to_string(),
                    },
                )?),
                "dns" => Kind::Dns(name(value)?),
                "sni" => Kind::Sni(name(value)?),
                _ => {
                    return Err(SpecError::Kind {
                        spec: spec(),
                        kind: kind.to_string(),
                    })
                }
            };
        Ok(Spec { kind, weight })
    }
}

impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Udp(p) => write!(f, "udp:{p}")?,
            Kind::Dns(n) => write!(f, "dns:{n}")?,
            Kind::Sni(n) => write!(f, "sni:{n}")?,
        }
        if self.weight != 1 {
            write!(f, "@{}", self.weight)?;
        }
        Ok(())
    }
}

/// The frames of one cycle of the mix, each spec repeated by its weight.
pub fn build(specs: &[Spec], a: &Endpoints) -> Result<Vec<Vec<u8>>, PacketError> {
    let mut cycle = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let sport = FIRST_SPORT + i as u16;
        let (sm, dm, si, di) = (a.src_mac, a.dst_mac, a.src_ip, a.dst_ip);
        let frame = match &spec.kind {
            Kind::Udp(port) => packet::udp(sm, dm, si, di, sport, *port, UDP_PAYLOAD)?,
            Kind::Dns(name) => packet::dns_query(sm, dm, si, di, sport, name, 0x4c00 + i as u16)?,
            Kind::Sni(name) => packet::tls_client_hello(sm, dm, si, di, sport, TLS_PORT, name)?,
        };
        for _ in 0..spec.weight {
            cycle.push(frame.clone());
        }
    }
    Ok(cycle)
}

/// What to send, once [`mix`] made the specs a mix.
#[derive(Debug, Clone)]
pub struct Options {
    pub specs: Vec<Spec>,
    /// Frames per second (None: as fast as the generator goes).
    pub rate: Option<u64>,
    /// Seconds to send.
    pub duration: f64,
    /// Stop after this many frames.
    pub count: Option<u64>,
    /// The receiver drops every frame at XDP (the generator's own limit) instead of passing
    /// it to its stack.
    pub drop: bool,
}

/// Why `lunet gen` did not run.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("lunet gen: at most {MAX_SPECS} specs in a mix")]
    TooManySpecs,
    /// A frame of the mix cannot be built.
    #[error(transparent)]
    Frames(#[from] PacketError),
    /// Not root, or `ip` or `iptables` missing.
    #[error("lunet gen: {0}")]
    Cannot(lunet_netns::NotPrivileged),
    /// The testbed or the generator failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{}: cannot write: {message}", path.display())]
    Pcap { path: PathBuf, message: String },
}

impl GenError {
    /// Whether the command line is at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, GenError::TooManySpecs | GenError::Frames(_))
    }
}

/// The mix `specs` ask for: `udp:9` when there are none; at most [`MAX_SPECS`].
pub fn mix(specs: &[Spec]) -> Result<Vec<Spec>, GenError> {
    if specs.len() > MAX_SPECS {
        return Err(GenError::TooManySpecs);
    }
    Ok(if specs.is_empty() {
        vec![Spec {
            kind: Kind::Udp(9),
            weight: 1,
        }]
    } else {
        specs.to_vec()
    })
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mix: Vec<String>,
    /// Frames handed to the sender's veth.
    pub sent: u64,
    pub seconds: f64,
    /// `sent / seconds`.
    pub pps: f64,
    /// Frames the receiver's veth ran its XDP program on (they reached the receiver).
    pub received: u64,
    /// Frames the receiver's ring had no room for (lost between the two veths).
    pub ring_lost: u64,
    /// Whether the generator thread ran pinned to CPU 0.
    pub pinned: bool,
    /// Which generator sent (`xdp-live-frames` or `af-packet`).
    pub method: &'static str,
    /// What the receiver did with the frames: `stack` (XDP_PASS) or `xdp-drop`.
    pub receiver: &'static str,
}

/// Sends the mix of `o` through a fresh testbed (as root) until its duration, count or
/// `quit` (Ctrl-C), with a progress bar on stderr; the testbed is removed when it returns.
pub fn run(o: &Options, quit: Arc<AtomicBool>) -> Result<Report, GenError> {
    lunet_netns::require_root().map_err(GenError::Cannot)?;
    let specs = &o.specs;
    let bed = Bed::create()?;
    let e = bed.endpoints;
    let frames = Arc::new(build(specs, &e)?);
    eprintln!(
        "lunet gen: {} ({}) -> {} ({}): {} for {} s{}{}",
        bed.sender_ns(),
        e.src_ip,
        bed.receiver_ns(),
        e.dst_ip,
        specs
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        o.duration,
        o.count
            .map(|c| format!(", at most {c} frames"))
            .unwrap_or_default(),
        o.rate.map(|r| format!(", at {r} pps")).unwrap_or_default(),
    );

    let _drop = if o.drop {
        Some(bed.drop_at_xdp()?)
    } else {
        None
    };
    let before = bed.receiver_xdp_stats()?;
    let bar = progress(o.duration);
    let start = Instant::now();
    let limit = Limit {
        duration: Duration::from_secs_f64(o.duration),
        max_packets: o.count.unwrap_or(u64::MAX),
        rate_pps: o.rate,
    };
    let stats = bed.send_watched(frames, limit, quit, &mut |sent| {
        bar.set_position(start.elapsed().as_millis() as u64);
        bar.set_message(format!("{sent} frames"));
    })?;
    let sent = stats.sent;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // The last frames may still be in the receiver's ring.
    std::thread::sleep(Duration::from_millis(50));
    let seen = bed.receiver_xdp_stats()?.since(&before);
    let report = Report {
        mix: specs.iter().map(|s| s.to_string()).collect(),
        sent,
        seconds,
        pps: if seconds > 0.0 {
            sent as f64 / seconds
        } else {
            0.0
        },
        received: seen.xdp_packets,
        ring_lost: seen.xmit_errors,
        pinned: bed.generator_pinned(),
        method: bed.generator_method(),
        receiver: if o.drop { "xdp-drop" } else { "stack" },
    };
    drop(bed);
    Ok(report)
}

fn progress(secs: f64) -> ProgressBar {
    let bar =
        ProgressBar::with_draw_target(Some((secs * 1000.0) as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// `--pcap FILE`: one cycle of the mix, with the testbed's addresses and made-up MACs, for
/// `lunet replay`; gives the number of frames written.
pub fn write_pcap(path: &Path, specs: &[Spec]) -> Result<usize, GenError> {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    let frames = build(specs, &Endpoints::OFFLINE)?;
    let fail = |e: &dyn std::fmt::Display| GenError::Pcap {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
    let mut w = PcapWriter::new(io::BufWriter::new(file)).map_err(|e| fail(&e))?;
    for (i, f) in frames.iter().enumerate() {
        let p = PcapPacket::new(Duration::from_micros(i as u64), f.len() as u32, f);
        w.write_packet(&p).map_err(|e| fail(&e))?;
    }
    Ok(frames.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_weights_and_print_back() {
        for text in ["udp:9", "dns:www.blocked.example@3", "sni:a.example@64"] {
            let s: Spec = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(
            "udp:53@2".parse::<Spec>().unwrap(),
            Spec {
                kind: Kind::Udp(53),
                weight: 2
            }
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| s.parse::<Spec>().unwrap_err().to_string();
        assert!(err("udp:0").contains("not a port"), "{}", err("udp:0"));
        assert!(err("udp:70000").contains("not a port"));
        assert!(err("tcp:80").contains("unknown kind 'tcp'"));
        assert!(err("udp9").contains("expected udp:PORT"));
        assert!(err("dns:").contains("a name is needed"));
        assert!(err("dns:x.example@0").contains("weight"));
        assert!(err("dns:x.example@65").contains("weight"));
        let long = format!("dns:{}.example", "a".repeat(64));
        assert!(err(&long).contains(&long), "{}", err(&long));
    }

    #[test]
    fn a_cycle_repeats_each_spec_by_weight_from_its_own_source_port() {
        let specs: Vec<Spec> = [
            "udp:9@3",
            "dns:www.blocked.example",
            "sni:www.allowed.example",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let cycle = build(&specs, &Endpoints::OFFLINE).unwrap();
        assert_eq!(cycle.len(), 5);
        let sport = |f: &[u8]| u16::from_be_bytes([f[34], f[35]]);
        let dport = |f: &[u8]| u16::from_be_bytes([f[36], f[37]]);
        assert_eq!(cycle[0].len(), 60);
        assert!(cycle[..3].iter().all(|f| f == &cycle[0]));
        assert_eq!((sport(&cycle[0]), dport(&cycle[0])), (40000, 9));
        assert_eq!((sport(&cycle[3]), dport(&cycle[3])), (40001, 53));
        assert_eq!((sport(&cycle[4]), dport(&cycle[4])), (40002, 443));
        assert_eq!(cycle[4][23], 6, "sni frames are TCP");
        let name = b"\x03www\x07blocked\x07example\x00";
        assert!(cycle[3].windows(name.len()).any(|w| w == name));
        assert!(cycle[4]
            .windows(b"www.allowed.example".len())
            .any(|w| w == b"www.allowed.example"));
    }
}
