//! How long one Lua-tier hook call takes, without any kernel: the cost lunet adds per packet
//! on top of NFQUEUE. `cargo run --release -p lunet-lua --example hook_cost`
//!
//! The instruction budget's own cost is the difference to a build without it:
//! `cargo run --release -p lunet-lua --example hook_cost --features unbudgeted` (measuring
//! only: there the calls run with no budget and no time limit). Each case prints the Lua
//! instructions one call of its hook runs (counted with a count hook on a plain Lua 5.4
//! state, outside the timing).
use std::time::Instant;

use lunet_lua::{NfPacket, State, StateOptions};
use mlua::{HookTriggers, Lua, VmState};

/// The cases: name and hook body (`skb` and the `byteorder` module as `b` in scope).
const CASES: [(&str, &str); 3] = [
    ("accept-all", "return 1"),
    (
        "port-filter",
        "local ihl = (skb:getuint8(0) & 15) * 4\nif skb:getuint8(9) == 17 and b.ntoh16(skb:getuint16(ihl + 2)) == 9 then return 0 end\nreturn 1",
    ),
    // About 100 Lua instructions of plain arithmetic: the case the budget's cost is stated
    // for (issue 11: under 5% of the call).
    (
        "100-instructions",
        "local x = 0\nfor i = 1, 46 do x = x + i end\nif x < 0 then return 0 end\nreturn 1",
    ),
];

/// Lua instructions one call of `body` runs, with a `skb` whose methods return 0.
fn instructions(body: &str) -> u64 {
    let lua = Lua::new();
    let f: mlua::Function = lua
        .load(format!(
            "local b = {{ ntoh16 = function(v) return v end }}\nreturn function(skb)\n{body}\nend"
        ))
        .eval()
        .unwrap();
    let skb: mlua::Table = lua
        .load("local z = function() return 0 end return { getuint8 = z, getuint16 = z }")
        .eval()
        .unwrap();
    let count = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let c = count.clone();
    lua.set_hook(HookTriggers::new().every_nth_instruction(1), move |_, _| {
        c.set(c.get() + 1);
        Ok(VmState::Continue)
    })
    .unwrap();
    let _: mlua::Value = f.call(skb).unwrap();
    lua.remove_hook();
    count.get()
}

fn main() {
    // `hook_cost CALLS [CASE]`: one round of CALLS calls per case (or of case CASE only) (e.g. under
    // `valgrind --tool=callgrind`, whose instruction counts do not depend on the machine's
    // load); else the best of five rounds of a million.
    let given: Option<u32> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let (calls, rounds) = given.map_or((1_000_000, 5), |n| (n, 1));
    let only = std::env::args().nth(2);
    let budget = if cfg!(feature = "unbudgeted") {
        "WITHOUT the budget (unbudgeted build)"
    } else {
        "with the budget"
    };
    println!("hook calls {budget}:");
    let dir = std::env::temp_dir().join(format!("lunet-hook-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in CASES {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let path = dir.join(format!("{name}.lua"));
        std::fs::write(&path, format!("local b = require('byteorder')\nrequire('netfilter').register{{ pf = 2, hooknum = 1, hook = function(skb)\n{body}\nend }}\n")).unwrap();
        let st = State::load(&path, StateOptions::default()).unwrap();
        // A 60-byte IPv4/UDP packet to port 53, as lunet-gen builds it.
        let frame = lunet_testkit::packets::udp4_to(53, &[0; 32]);
        let (link_header, pkt) = lunet_testkit::packets::split_frame(&frame);
        let run = |n: u32| {
            let t = Instant::now();
            for _ in 0..n {
                let out = st.run_netfilter(
                    0,
                    NfPacket {
                        net: pkt,
                        link_header,
                        ifindex: 1,
                        mark: 0,
                        ..NfPacket::default()
                    },
                );
                assert_eq!(out.verdict, 1);
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        };
        // Warm up, then the best round: the least disturbed by other work on the machine.
        run(calls.min(100_000));
        let ns = (0..rounds).map(|_| run(calls)).fold(f64::MAX, f64::min);
        println!(
            "{name}: {ns:.0} ns per hook call ({:.2} M calls/s on one core), {} Lua instructions",
            1e3 / ns,
            instructions(body)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
