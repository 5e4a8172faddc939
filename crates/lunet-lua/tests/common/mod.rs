//! Helpers: write a script into a fresh folder and start it.

#![allow(dead_code)]

use std::path::PathBuf;

use lunet_lua::{Limits, NfPacket, ScriptError, State, StateOptions};

pub struct Script {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn script(source: &str) -> Script {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.lua");
    std::fs::write(&path, source).unwrap();
    Script { dir, path }
}

pub fn start(source: &str) -> (State, Script) {
    start_with(source, Limits::default()).unwrap_or_else(|e| panic!("script failed to start: {e}"))
}

pub fn start_with(source: &str, limits: Limits) -> Result<(State, Script), ScriptError> {
    let s = script(source);
    let opts = StateOptions {
        limits,
        ..StateOptions::default()
    };
    State::load(&s.path, opts).map(|st| (st, s))
}

/// A minimal IPv4/UDP packet 198.18.0.1:1000 -> 198.18.0.2:`dport` with `payload`.
pub fn udp4(dport: u16, payload: &[u8]) -> Pkt {
    let total = 28 + payload.len();
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
        198,
        18,
        0,
        1,
        198,
        18,
        0,
        2,
        0x03,
        0xe8,
        (dport >> 8) as u8,
        dport as u8,
        ((8 + payload.len()) >> 8) as u8,
        (8 + payload.len()) as u8,
        0,
        0,
    ];
    p.extend_from_slice(payload);
    Pkt {
        net: p,
        link_header: vec![0; 14],
        ifindex: 2,
        mark: 0,
    }
}

/// An owned packet for the tests; `nf()` lends it to a hook.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub net: Vec<u8>,
    pub link_header: Vec<u8>,
    pub ifindex: u32,
    pub mark: u32,
}

impl Pkt {
    pub fn nf(&self) -> NfPacket<'_> {
        NfPacket {
            net: &self.net,
            link_header: &self.link_header,
            ifindex: self.ifindex,
            mark: self.mark,
        }
    }
}

pub const PRELUDE: &str = r#"
local netfilter = require("netfilter")
local linux = require("linux")
local nf = linux.nf
"#;
