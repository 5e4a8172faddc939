//! How long one Lua-tier hook call takes, without any kernel: the cost lunet adds per packet
//! on top of NFQUEUE. `cargo run --release -p lunet-lua --example hook_cost`
use std::time::Instant;

use lunet_lua::{NfPacket, State, StateOptions};

fn main() {
    let dir = std::env::temp_dir().join(format!("lunet-hook-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in [
        ("accept-all", "return 1"),
        ("port-filter", "local ihl = (skb:getuint8(0) & 15) * 4\nif skb:getuint8(9) == 17 and b.ntoh16(skb:getuint16(ihl + 2)) == 9 then return 0 end\nreturn 1"),
    ] {
        let path = dir.join(format!("{name}.lua"));
        std::fs::write(&path, format!("local b = require('byteorder')\nrequire('netfilter').register{{ pf = 2, hooknum = 1, hook = function(skb)\n{body}\nend }}\n")).unwrap();
        let st = State::load(&path, StateOptions::default()).unwrap();
        // A 60-byte IPv4/UDP packet to port 53, as lunet-gen builds it.
        let frame = lunet_testkit::packets::udp4_to(53, &[0; 32]);
        let (link_header, pkt) = lunet_testkit::packets::split_frame(&frame);
        let n = 1_000_000;
        let t = Instant::now();
        for _ in 0..n {
            let out = st.run_netfilter(0, NfPacket { net: pkt, link_header, ifindex: 1, mark: 0, ..NfPacket::default() });
            assert_eq!(out.verdict, 1);
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        println!("{name}: {ns:.0} ns per hook call ({:.2} M calls/s on one core)", 1e3 / ns);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
