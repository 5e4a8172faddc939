//! Helpers: write a script into a fresh folder and start it.

#![allow(dead_code)]

use std::path::PathBuf;

use lunet_lua::{Limits, NfPacket, ScriptError, State, StateOptions};
use lunet_testkit::packets;

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

/// An IPv4/UDP packet 198.18.0.1:1000 -> 198.18.0.2:`dport` with `payload`, from ifindex 2
/// with mark 0, behind its Ethernet header (lunet-gen's builder: real lengths and checksums).
pub fn udp4(dport: u16, payload: &[u8]) -> Pkt {
    pkt(&packets::udp4_to(dport, payload))
}

/// The same for a TCP segment (PSH|ACK) 198.18.0.1:1000 -> 198.18.0.2:`dport`.
pub fn tcp4(dport: u16, payload: &[u8]) -> Pkt {
    pkt(&packets::tcp4_to(dport, payload))
}

fn pkt(frame: &[u8]) -> Pkt {
    let (link_header, net) = packets::split_frame(frame);
    Pkt {
        net: net.to_vec(),
        link_header: link_header.to_vec(),
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
            ..NfPacket::default()
        }
    }
}

pub const PRELUDE: &str = r#"
local netfilter = require("netfilter")
local linux = require("linux")
local nf = linux.nf
"#;
