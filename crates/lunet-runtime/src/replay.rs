//! `lunet replay`: a script's hooks over the packets of a pcap file, in a Lua state, with no
//! root and no kernel, as a live run would meet each packet: its XDP hooks first (an action
//! other than PASS keeps it from netfilter), then its netfilter hooks hook point by hook point
//! in the kernel's order (PRE_ROUTING, LOCAL_IN, FORWARD, LOCAL_OUT, POST_ROUTING) and by
//! priority within one (registration order between equals). Each hook sees the packet only
//! when its mark matches, starting from 0 (a capture carries no marks), with the bytes and
//! mark the hooks before it left; DROP ends the packet's way, STOP its hook point, REPEAT runs
//! its hook point again (as often as live). `linux.time()` reads the packet's capture time,
//! `print` goes to the report, and what `skb:forward()` sends is counted (interface 1 stands
//! for the capture's). With [`Tier::Kernel`] the (XDP) hooks are compiled and each run on
//! every packet with `BPF_PROG_TEST_RUN` instead (root). The binary prints the
//! [`ReplayReport`].

use std::fs::File;
use std::path::Path;

use lunet_lua::{HookSpec, Limits, NfPacket, State, StateOptions, Stream};
use lunet_types::{nf, xdp, Attach, Family, Hook, Tier};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use serde::Serialize;

use crate::kernel::{self, KernelError, Script};
use crate::protocol::Verdicts;

/// Why a replay did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// `--tier kernel` without the right to load programs.
    #[error("replay --tier kernel runs the compiled programs with BPF_PROG_TEST_RUN: {0}")]
    NotRoot(KernelError),
    /// The script does not parse or its body failed.
    #[error(transparent)]
    Body(#[from] lunet_lua::ScriptError),
    /// A hook could not be compiled or loaded (`--tier kernel`), or the script not read.
    #[error("{}", .0.report())]
    Kernel(KernelError),
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a pcap file ({source}); pcapng captures can be converted with `editcap -F pcap`", path.display())]
    NotPcap {
        path: std::path::PathBuf,
        source: pcap_file::PcapError,
    },
    #[error("{}: packet {packet}: {source}", path.display())]
    Packet {
        path: std::path::PathBuf,
        packet: u64,
        source: pcap_file::PcapError,
    },
    /// `BPF_PROG_TEST_RUN` failed on a packet.
    #[error("{0}")]
    TestRun(KernelError),
}

impl ReplayError {
    /// Whether the script is at fault (exit code 3), not the files or the machine.
    pub fn is_script(&self) -> bool {
        matches!(self, ReplayError::Body(_) | ReplayError::Kernel(_))
    }
}

#[derive(Debug, Serialize)]
pub struct ReplayHook {
    pub hook: String,
    pub verdicts: Verdicts,
    /// Calls that gave the default verdict because of an error; null for the kernel tier,
    /// whose programs return the default verdict without telling why.
    pub errors: Option<u64>,
    pub packets: u64,
    #[serde(skip)]
    pub last_error: Option<String>,
}

#[derive(Debug)]
pub struct ReplayReport {
    pub pcap: String,
    pub packets: u64,
    /// Packets that were neither IPv4 nor IPv6 (netfilter hooks never see them).
    pub skipped: u64,
    pub hooks: Vec<ReplayHook>,
    /// Every (packet, hook) verdict, with `--each`.
    pub each: Option<Vec<EachVerdict>>,
    /// What the script printed and its errors, in order (the first [`MAX_LOG`] lines).
    pub log: Vec<(Stream, String)>,
    /// Lines past [`MAX_LOG`], not kept.
    pub log_cut: u64,
    /// Frames the hooks sent with `skb:forward()`.
    pub forwarded: u64,
}

/// Lines of the script's output a report keeps.
pub const MAX_LOG: usize = 10_000;

/// The verdict hook `hook` gave packet number `packet` (1-based, in capture order).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct EachVerdict {
    pub packet: u64,
    pub hook: String,
    pub verdict: u32,
}

/// One captured packet, split the way hooks see it.
struct Split {
    /// The whole frame with an Ethernet header (synthesized for raw-IP captures).
    frame: Vec<u8>,
    /// Offset of the network header in `frame`.
    net_at: usize,
    /// 4, 6, or 0 for anything else.
    ip_version: u8,
}

fn split(link: DataLink, data: &[u8]) -> Option<Split> {
    let eth_with = |ethertype: u16, ip: &[u8]| {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f
    };
    let version = |ip: &[u8]| match ip.first().map(|b| b >> 4) {
        Some(4) => 4,
        Some(6) => 6,
        _ => 0,
    };
    let (frame, net_at) = match link {
        DataLink::ETHERNET => {
            // Walk 802.1Q / 802.1ad tags to the real EtherType.
            let mut at = 12;
            while data.len() >= at + 2
                && matches!(
                    u16::from_be_bytes([data[at], data[at + 1]]),
                    0x8100 | 0x88a8
                )
            {
                at += 4;
            }
            if data.len() < at + 2 {
                return None;
            }
            (data.to_vec(), at + 2)
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => {
            let et = if version(data) == 6 { 0x86dd } else { 0x0800 };
            (eth_with(et, data), 14)
        }
        DataLink::LINUX_SLL if data.len() >= 16 => {
            let et = u16::from_be_bytes([data[14], data[15]]);
            (eth_with(et, &data[16..]), 14)
        }
        _ => return None,
    };
    let ethertype = u16::from_be_bytes([frame[net_at - 2], frame[net_at - 1]]);
    let ip_version = match (ethertype, version(&frame[net_at..])) {
        (0x0800, 4) => 4,
        (0x86dd, 6) => 6,
        _ => 0,
    };
    Some(Split {
        frame,
        net_at,
        ip_version,
    })
}

fn wants_family(family: Family, ip_version: u8) -> bool {
    match family {
        Family::Inet => ip_version == 4 || ip_version == 6,
        Family::Ipv4 => ip_version == 4,
        Family::Ipv6 => ip_version == 6,
    }
}

/// How a hook is run over the capture.
enum Runner {
    Lua,
    /// A compiled XDP program, run with `BPF_PROG_TEST_RUN`, and its verdict counts.
    Kernel(lunet_bpf::prog::ProgFd, std::cell::RefCell<Verdicts>),
}

/// Runs the hooks of `script` over the packets of `pcap`, in `tier` (`Lua` or `Kernel`);
/// `each` also records every packet's verdict from every hook.
pub fn replay(
    script: &Path,
    roots: &[std::path::PathBuf],
    pcap: &Path,
    limits: Limits,
    tier: Tier,
    each: bool,
) -> Result<ReplayReport, ReplayError> {
    let mut each = each.then(Vec::new);
    if tier == Tier::Kernel {
        kernel::can_load().map_err(ReplayError::NotRoot)?;
    }
    // The kernel tier's programs use real (unpinned) kernel maps; the Lua tier's live in memory.
    let state = State::load(
        script,
        StateOptions {
            limits,
            maps: kernel::unpinned_maps(tier == Tier::Kernel),
            paths: roots.to_vec(),
            rcu: Default::default(),
            ..StateOptions::default()
        },
    )?;
    let runners: Vec<Runner> = match tier {
        Tier::Kernel => {
            let source = Script::read(script).map_err(ReplayError::Kernel)?;
            state
                .hooks()
                .iter()
                .map(|h| {
                    let kernel::Loaded { prog: fd, .. } =
                        kernel::compile_and_load(&state, h, &source)
                            .map_err(ReplayError::Kernel)?;
                    Ok(Runner::Kernel(fd, Default::default()))
                })
                .collect::<Result<_, ReplayError>>()?
        }
        _ => state.hooks().iter().map(|_| Runner::Lua).collect(),
    };
    let file = File::open(pcap).map_err(|source| ReplayError::Open {
        path: pcap.to_path_buf(),
        source,
    })?;
    let mut reader = PcapReader::new(file).map_err(|source| ReplayError::NotPcap {
        path: pcap.to_path_buf(),
        source,
    })?;
    let link = reader.header().datalink;
    let hooks = state.hooks();
    let (mut packets, mut skipped) = (0u64, 0u64);
    let mut out = Output::default();
    out.take_log(&state);
    let path = path_order(&hooks);
    while let Some(next) = reader.next_packet() {
        let p = next.map_err(|source| ReplayError::Packet {
            path: pcap.to_path_buf(),
            packet: packets + 1,
            source,
        })?;
        packets += 1;
        let s = split(link, &p.data);
        let ip_version = s.as_ref().map_or(0, |s| s.ip_version);
        if ip_version == 0 {
            skipped += 1;
        }
        // XDP sees the frame as captured (Ethernet captures), or with a synthesized header;
        // a frame shorter than an Ethernet header never reaches XDP.
        let frame: Option<&[u8]> = match (link, &s) {
            (DataLink::ETHERNET, _) => Some(&p.data[..]),
            (_, Some(s)) => Some(&s.frame[..]),
            _ => None,
        }
        .filter(|f| f.len() >= 14);
        if tier != Tier::Kernel {
            let at = p.timestamp.as_nanos().min(i64::MAX as u128) as i64;
            state.set_clock(Some(at));
            let pkt = Captured {
                number: packets,
                frame,
                split: s.as_ref(),
            };
            lua_packet(&state, &hooks, &path, &pkt, &mut each, &mut out);
            out.take_log(&state);
            continue;
        }
        for (h, runner) in hooks.iter().zip(&runners) {
            let verdict = match (runner, &h.attach, frame, &s) {
                (_, Attach::Xdp { .. }, None, _) => None,
                (Runner::Kernel(fd, counts), Attach::Netfilter { family, mark, .. }, _, s) => {
                    // As in the Lua tier: a hook of another mark or family sees nothing. The
                    // test run takes an Ethernet frame and at least a whole IP header (no
                    // shorter packet gets past the kernel's IP input to a netfilter hook).
                    let net = s.as_ref().map(|s| &s.frame[s.net_at..]);
                    let min = if ip_version == 6 { 40 } else { 20 };
                    match net {
                        Some(net)
                            if *mark == 0
                                && wants_family(*family, ip_version)
                                && net.len() >= min =>
                        {
                            let mut frame = vec![0u8; 12];
                            frame.extend_from_slice(if ip_version == 6 {
                                &[0x86, 0xdd]
                            } else {
                                &[0x08, 0x00]
                            });
                            frame.extend_from_slice(net);
                            let verdict = kernel::test_run_netfilter(fd, &frame, ip_version == 6)
                                .map_err(ReplayError::TestRun)?;
                            let name = h
                                .attach
                                .verdict_names()
                                .get(verdict as usize)
                                .copied()
                                .unwrap_or("?");
                            *counts.borrow_mut().entry(name.to_string()).or_default() += 1;
                            Some(verdict)
                        }
                        _ => None,
                    }
                }
                (Runner::Kernel(fd, counts), _, Some(frame), _) => {
                    let action = kernel::test_run_xdp(fd, frame).map_err(ReplayError::TestRun)?;
                    let name = h
                        .attach
                        .verdict_names()
                        .get(action as usize)
                        .copied()
                        .unwrap_or("?");
                    *counts.borrow_mut().entry(name.to_string()).or_default() += 1;
                    Some(action)
                }
                (Runner::Lua, Attach::Netfilter { family, mark, .. }, _, Some(s)) => {
                    (*mark == 0 && wants_family(*family, ip_version)).then(|| {
                        let pkt = NfPacket {
                            net: &s.frame[s.net_at..],
                            link_header: &s.frame[..14],
                            ifindex: 0,
                            mark: 0,
                            ..NfPacket::default()
                        };
                        state.run_netfilter(h.id, pkt).verdict
                    })
                }
                (Runner::Lua, Attach::Netfilter { .. }, _, None) => None,
                (Runner::Lua, Attach::Xdp { .. }, Some(frame), _) => {
                    Some(state.run_xdp(h.id, frame).verdict)
                }
            };
            if let (Some(each), Some(v)) = (each.as_mut(), verdict) {
                each.push(EachVerdict {
                    packet: packets,
                    hook: h.name.clone(),
                    verdict: v,
                });
            }
        }
    }
    let hooks = hooks
        .iter()
        .zip(runners)
        .map(|(h, runner)| match runner {
            Runner::Kernel(_, counts) => {
                let verdicts = counts.into_inner();
                let packets = verdicts.values().sum();
                ReplayHook {
                    hook: h.name.clone(),
                    verdicts,
                    errors: None,
                    packets,
                    last_error: None,
                }
            }
            Runner::Lua => {
                // Hook ids index the state's hooks: the stats are there.
                let s = state
                    .stats(h.id)
                    .map(|s| s.snapshot(h.attach.verdict_names()))
                    .unwrap_or_default();
                ReplayHook {
                    hook: h.name.clone(),
                    verdicts: s.verdicts,
                    errors: Some(s.errors),
                    packets: s.packets,
                    last_error: s.last_error,
                }
            }
        })
        .collect();
    Ok(ReplayReport {
        pcap: pcap.display().to_string(),
        packets,
        skipped,
        hooks,
        each,
        log: out.log,
        log_cut: out.log_cut,
        forwarded: out.forwarded,
    })
}

/// What a Lua-tier replay collects besides the hooks' counts.
#[derive(Default)]
struct Output {
    log: Vec<(Stream, String)>,
    log_cut: u64,
    log_seq: u64,
    forwarded: u64,
}

impl Output {
    /// Moves the state's new log lines into the report (the state's log is a bounded ring:
    /// taken after every packet, none is lost to it).
    fn take_log(&mut self, state: &State) {
        for l in state.log().since(self.log_seq) {
            self.log_seq = l.seq + 1;
            if self.log.len() < MAX_LOG {
                self.log.push((l.stream, l.text));
            } else {
                self.log_cut += 1;
            }
        }
    }
}

/// One captured packet as the hooks get it.
struct Captured<'a> {
    /// 1-based, in capture order.
    number: u64,
    /// The frame XDP hooks see (none when too short).
    frame: Option<&'a [u8]>,
    /// Its network layer, when it is IPv4 or IPv6.
    split: Option<&'a Split>,
}

/// The netfilter hooks in the order a packet meets them: by hook point in the kernel's order,
/// then by priority, then by registration.
fn path_order(hooks: &[HookSpec]) -> Vec<usize> {
    let mut path: Vec<(Hook, i32, usize)> = hooks
        .iter()
        .enumerate()
        .filter_map(|(i, h)| match h.attach {
            Attach::Netfilter { hook, priority, .. } => Some((hook, priority, i)),
            Attach::Xdp { .. } => None,
        })
        .collect();
    path.sort_by_key(|&(hook, priority, i)| (hook.raw(), priority, i));
    path.into_iter().map(|(_, _, i)| i).collect()
}

/// Runs one packet through the Lua tier's hooks as a live run would (see the module's doc).
fn lua_packet(
    state: &State,
    hooks: &[HookSpec],
    path: &[usize],
    pkt: &Captured<'_>,
    each: &mut Option<Vec<EachVerdict>>,
    out: &mut Output,
) {
    let mut record = |h: &HookSpec, verdict: u32, out: &mut Output| {
        out.forwarded += state.take_forwarded().len() as u64;
        if let Some(each) = each.as_mut() {
            each.push(EachVerdict {
                packet: pkt.number,
                hook: h.name.clone(),
                verdict,
            });
        }
    };
    if let Some(frame) = pkt.frame {
        for h in hooks
            .iter()
            .filter(|h| matches!(h.attach, Attach::Xdp { .. }))
        {
            let v = state.run_xdp(h.id, frame).verdict;
            record(h, v, out);
            if v != xdp::PASS {
                return;
            }
        }
    }
    let Some(s) = pkt.split.filter(|s| s.ip_version != 0) else {
        return;
    };
    // The mac view: the frame's addresses and the EtherType of the network layer (a VLAN
    // tag is gone by the time netfilter sees a routed packet).
    let mut head = s.frame[..12].to_vec();
    head.extend_from_slice(&s.frame[s.net_at - 2..s.net_at]);
    let mut bytes: Option<Vec<u8>> = None;
    let mut mark = 0u32;
    let mut at = 0;
    let mut repeats = 0u8;
    while at < path.len() {
        let point = hook_of(&hooks[path[at]]);
        let start = at;
        let mut next_point = false;
        while at < path.len() && hook_of(&hooks[path[at]]) == point {
            let h = &hooks[path[at]];
            at += 1;
            let Attach::Netfilter {
                family,
                mark: wants,
                ..
            } = h.attach
            else {
                continue;
            };
            if next_point || wants != mark || !wants_family(family, s.ip_version) {
                continue;
            }
            let o = state.run_netfilter(
                h.id,
                NfPacket {
                    net: bytes.as_deref().unwrap_or(&s.frame[s.net_at..]),
                    link_header: &head,
                    ifindex: 1,
                    mark,
                    ..NfPacket::default()
                },
            );
            record(h, o.verdict, out);
            if let Some(b) = o.rewritten {
                bytes = Some(b);
            }
            if let Some(m) = o.mark {
                mark = m;
            }
            match o.verdict {
                nf::action::ACCEPT => {}
                nf::action::STOP => next_point = true,
                nf::action::REPEAT if repeats < crate::runner::MAX_REPEATS => {
                    repeats += 1;
                    at = start;
                    break;
                }
                nf::action::REPEAT => next_point = true,
                _ => return,
            }
        }
    }
}

fn hook_of(h: &HookSpec) -> Option<Hook> {
    match h.attach {
        Attach::Netfilter { hook, .. } => Some(hook),
        Attach::Xdp { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ethernet_vlan_raw_and_sll_captures() {
        let ip4 = [0x45u8, 0, 0, 20];
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 1, 0x08, 0x00]);
        eth.extend_from_slice(&ip4);
        let s = split(DataLink::ETHERNET, &eth).unwrap();
        assert_eq!((s.net_at, s.ip_version), (18, 4));

        let s = split(DataLink::RAW, &ip4).unwrap();
        assert_eq!((s.net_at, s.ip_version, s.frame.len()), (14, 4, 18));

        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        let s = split(DataLink::LINUX_SLL, &sll).unwrap();
        assert_eq!(s.ip_version, 6);

        assert!(
            split(DataLink::ETHERNET, &[0; 5]).is_none(),
            "truncated frame"
        );
        let arp = [vec![0u8; 12], vec![0x08, 0x06, 0, 1]].concat();
        assert_eq!(split(DataLink::ETHERNET, &arp).unwrap().ip_version, 0);
    }
}
