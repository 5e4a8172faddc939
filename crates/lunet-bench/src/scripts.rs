//! The scripts lunet runs for each filter: in the Lua tier ([`Filter::lua_script`]) and in
//! the kernel tier ([`Filter::xdp_script`]).
//!
//! Where an example in `examples/` has the filter's logic, the bench runs the example itself
//! (built in, so the bench needs no source tree), changed only where the bench must differ,
//! each change one line of the example replaced, listed in an [`Adapted`]: the Lua-tier
//! scripts attach where the `iptables-raw` rule sits (IPv4 PRE_ROUTING, priority RAW)
//! instead of where the example does. Copies stay in `scripts/` only where no example has
//! the logic for this tier; each says why at its top.

use crate::filters::Filter;

/// An example script changed for the bench: each `(line, with)` replaces the one line of the
/// example that holds `line` (a test checks that each is there exactly once), so the
/// script keeps the example's line numbers.
pub struct Adapted {
    /// The example's path in the source tree.
    pub example: &'static str,
    pub text: &'static str,
    pub edits: &'static [(&'static str, &'static str)],
}

impl Adapted {
    /// The example's text with the edits made, and a last line that says so.
    pub fn script(&self) -> String {
        let mut text = self
            .edits
            .iter()
            .fold(self.text.to_string(), |text, (line, with)| {
                text.replacen(line, with, 1)
            });
        text.push_str(&format!(
            "-- {}, with {} line(s) changed by lunet bench (crates/lunet-bench/src/scripts.rs)\n",
            self.example,
            self.edits.len()
        ));
        text
    }
}

/// `udp-port` in the Lua tier: examples/port-filter.lua (which also lists port 7777: the
/// bench's traffic goes to ports 9 and 53 only).
pub const UDP_PORT: Adapted = Adapted {
    example: "examples/port-filter.lua",
    text: include_str!("../../../examples/port-filter.lua"),
    edits: &[
        (r#"name = "port-filter""#, r#"name = "bench-udp-port""#),
        (
            "hooknum = nf.inet.LOCAL_IN",
            "hooknum = nf.inet.PRE_ROUTING",
        ),
        ("priority = nf.ip.pri.FILTER", "priority = nf.ip.pri.RAW"),
    ],
};

/// `dns` in the Lua tier: examples/dns-blocklist.lua, for IPv4 (the bench's traffic), and
/// without the example's line for each blocked query: at a few hundred thousand drops a
/// second that would measure the log, not the filter.
pub const DNS: Adapted = Adapted {
    example: "examples/dns-blocklist.lua",
    text: include_str!("../../../examples/dns-blocklist.lua"),
    edits: &[
        (r#"name = "dns-blocklist""#, r#"name = "bench-dns""#),
        ("pf = nf.proto.INET", "pf = nf.proto.IPV4"),
        (
            "hooknum = nf.inet.LOCAL_OUT",
            "hooknum = nf.inet.PRE_ROUTING",
        ),
        ("priority = nf.ip.pri.FILTER", "priority = nf.ip.pri.RAW"),
        (
            r#"print("blocked DNS query for " .. name)"#,
            "-- (the bench prints nothing per blocked query)",
        ),
    ],
};

/// The kernel-tier `accept-all`: an XDP hook of one line that passes every frame.
const XDP_ACCEPT_ALL: &str = r#"-- lunet bench, filter `accept-all`, kernel tier: the fixed cost of an XDP hook.
local xdp = require("xdp")
xdp.attach(function() return xdp.PASS end, { name = "accept-all" })
"#;

impl Filter {
    /// The Lua-tier script, at PRE_ROUTING, priority RAW: an example adapted ([`UDP_PORT`],
    /// [`DNS`]), or one of `scripts/`.
    pub fn lua_script(self) -> String {
        match self {
            Filter::UdpPort | Filter::UdpFlood => UDP_PORT.script(),
            Filter::Dns => DNS.script(),
            Filter::Sni => include_str!("../scripts/sni.lua").into(),
            Filter::AcceptAll => include_str!("../scripts/accept-all.lua").into(),
        }
    }

    /// The kernel tier's netfilter script, at PRE_ROUTING priority RAW: a hook in the
    /// kernel-tier subset (the Lua-tier scripts print and keep tables, which it is not), or
    /// `None` where none is written yet.
    pub fn nf_kernel_script(self) -> Option<String> {
        match self {
            Filter::UdpPort | Filter::UdpFlood => {
                Some(include_str!("../scripts/nf-port.lua").into())
            }
            Filter::AcceptAll => Some(self.lua_script()),
            Filter::Dns | Filter::Sni => None,
        }
    }

    /// The kernel-tier script: the filter's XDP example from `examples/` (built in, so the
    /// bench needs no source tree), or for `accept-all` a hook that passes every frame; and
    /// the file name it goes by.
    pub fn xdp_script(self) -> (&'static str, &'static str) {
        match self {
            Filter::UdpPort | Filter::UdpFlood => (
                "xdp-port-filter.lua",
                include_str!("../../../examples/xdp-port-filter.lua"),
            ),
            Filter::Dns => (
                "xdp-dns-blocklist.lua",
                include_str!("../../../examples/xdp-dns-blocklist.lua"),
            ),
            Filter::Sni => (
                "xdp-sni-blocklist.lua",
                include_str!("../../../examples/xdp-sni-blocklist.lua"),
            ),
            Filter::AcceptAll => ("xdp-accept-all.lua", XDP_ACCEPT_ALL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::Endpoints;
    use lunet_gen::packet;
    use lunet_lua::{NfPacket, State, StateOptions};

    fn verdict(state: &State, frame: &[u8]) -> u32 {
        let out = state.run_netfilter(
            0,
            NfPacket {
                net: &frame[14..],
                link_header: &frame[..14],
                ifindex: 2,
                mark: 0,
                ..NfPacket::default()
            },
        );
        assert!(out.error.is_none(), "{:?}", out.error);
        out.verdict
    }

    fn load(name: &str, source: &str) -> State {
        State::from_source(name, source.as_bytes(), ".".into(), StateOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {}", e.message))
    }

    fn example(file: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");
        std::fs::read_to_string(format!("{path}{file}")).unwrap()
    }

    #[test]
    fn each_adaptation_replaces_one_line_of_its_example() {
        for a in [&UDP_PORT, &DNS] {
            let from_tree = example(a.example.trim_start_matches("examples/"));
            assert_eq!(a.text, from_tree, "{} is the example itself", a.example);
            for (line, with) in a.edits {
                assert_eq!(a.text.matches(line).count(), 1, "{}: {line}", a.example);
                assert!(!with.contains('\n'), "{with}");
            }
            let script = a.script();
            assert_eq!(
                script.lines().count(),
                a.text.lines().count() + 1,
                "{}",
                a.example
            );
            assert!(script
                .lines()
                .last()
                .unwrap_or_default()
                .contains(a.example));
            let changed = script.lines().zip(a.text.lines()).filter(|(s, t)| s != t);
            assert_eq!(changed.count(), a.edits.len(), "{}", a.example);
        }
    }

    #[test]
    fn scripts_register_one_hook_at_pre_routing_raw() {
        for f in Filter::ALL {
            let st = load(f.name(), &f.lua_script());
            let hooks = st.hooks();
            assert_eq!(hooks.len(), 1, "{f}");
            assert_eq!(
                hooks[0].attach.to_string(),
                "netfilter IPV4 PRE_ROUTING priority -300 mark 0",
                "{f}"
            );
        }
    }

    /// The bench scripts decide like the examples they are taken from, on the bench traffic
    /// and on frames that take the other branches.
    #[test]
    fn scripts_decide_like_the_examples() {
        let e = Endpoints::OFFLINE;
        let udp = |sport, dport| {
            packet::udp(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, sport, dport, b"x").unwrap()
        };
        let tcp = |dport| {
            packet::tcp_psh_ack(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 1, dport, b"x").unwrap()
        };
        let dns =
            |name| packet::dns_query(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, name, 1).unwrap();
        let mut response = dns("www.blocked.example");
        response[14 + 20 + 8 + 2] |= 0x80;

        let mut udp_frames: Vec<Vec<u8>> = Filter::UdpPort
            .frames(&e)
            .unwrap()
            .into_iter()
            .map(|f| f.bytes)
            .collect();
        udp_frames.extend([udp(1, 9), udp(1, 80), tcp(9), tcp(443)]);
        let bench = load("udp-port", &Filter::UdpPort.lua_script());
        let ex = load("port-filter", &example("port-filter.lua"));
        for f in &udp_frames {
            assert_eq!(verdict(&bench, f), verdict(&ex, f));
        }
        assert_eq!(verdict(&bench, &udp_frames[0]), 0, "port 9 dropped");
        assert_eq!(verdict(&bench, &udp_frames[1]), 1, "port 53 accepted");

        let mut dns_frames: Vec<Vec<u8>> = Filter::Dns
            .frames(&e)
            .unwrap()
            .into_iter()
            .map(|f| f.bytes)
            .collect();
        dns_frames.extend([
            dns("blocked.example"),
            dns("a.b.BLOCKED.example"),
            dns("xblocked.example"),
            dns("blocked.example.org"),
            response,
        ]);
        let bench = load("dns", &Filter::Dns.lua_script());
        let ex = load("dns-blocklist", &example("dns-blocklist.lua"));
        let got: Vec<u32> = dns_frames.iter().map(|f| verdict(&bench, f)).collect();
        let want: Vec<u32> = dns_frames.iter().map(|f| verdict(&ex, f)).collect();
        assert_eq!(got, want);
        assert_eq!(got, [0, 1, 0, 0, 1, 1, 1]);
    }

    fn xdp_verdict(state: &State, frame: &[u8]) -> u32 {
        let out = state.run_xdp(0, frame);
        assert!(out.error.is_none(), "{:?}", out.error);
        out.verdict
    }

    /// The bench's Lua-tier `sni` script (an skb at PRE_ROUTING) decides like the XDP example
    /// it is taken from (run here in the Lua tier on the whole frame).
    #[test]
    fn sni_script_decides_like_the_xdp_example() {
        let e = Endpoints::OFFLINE;
        let hello = |dport, name| {
            packet::tls_client_hello(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, dport, name)
                .unwrap()
        };
        let mut frames: Vec<Vec<u8>> = Filter::Sni
            .frames(&e)
            .unwrap()
            .into_iter()
            .map(|f| f.bytes)
            .collect();
        let record = packet::client_hello_record("www.blocked.example").unwrap();
        let mut not_hello = record.clone();
        not_hello[5] = 2; // a ServerHello
        let mut not_handshake = record.clone();
        not_handshake[0] = 23; // application data
        let tcp = |payload: &[u8]| {
            packet::tcp_psh_ack(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, 443, payload).unwrap()
        };
        frames.extend([
            hello(443, "blocked.example"),
            hello(443, "a.b.blocked.example"),
            hello(443, "xblocked.example"),
            hello(443, "blocked.example.org"),
            hello(443, "ads.test"),
            hello(8443, "www.blocked.example"),
            tcp(&not_hello),
            tcp(&not_handshake),
            packet::udp(e.src_mac, e.dst_mac, e.src_ip, e.dst_ip, 5, 443, &record).unwrap(),
        ]);
        let bench = load("sni", &Filter::Sni.lua_script());
        let (_, text) = Filter::Sni.xdp_script();
        let ex = load("xdp-sni-blocklist", text);
        let got: Vec<u32> = frames.iter().map(|f| verdict(&bench, f)).collect();
        let want: Vec<u32> = frames.iter().map(|f| xdp_verdict(&ex, f)).collect();
        // NF_DROP 0 / NF_ACCEPT 1 against XDP_DROP 1 / XDP_PASS 2.
        let as_xdp: Vec<u32> = got.iter().map(|v| if *v == 0 { 1 } else { 2 }).collect();
        assert_eq!(as_xdp, want);
        assert_eq!(got, [0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1]);
    }

    /// Every filter's kernel-tier script has one XDP hook, and it compiles.
    #[test]
    fn xdp_scripts_compile() {
        for f in Filter::ALL {
            let (file, text) = f.xdp_script();
            let st = load(file, text);
            let hooks = st.hooks();
            assert_eq!(hooks.len(), 1, "{f}");
            assert!(
                matches!(hooks[0].attach, lunet_types::Attach::Xdp { .. }),
                "{f}"
            );
            let script = lunet_runtime::kernel::Script {
                file: file.into(),
                source: text.into(),
            };
            let program =
                lunet_runtime::kernel::compile(&st, &hooks[0], &script, &Default::default())
                    .unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!program.insns.is_empty(), "{f}");
        }
    }
}
