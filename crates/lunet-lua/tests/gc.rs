//! Garbage of hook calls is collected as fast as it is made: a steady stream of calls to a
//! hook that keeps nothing never reaches the memory cap.

mod common;

use common::*;
use lunet_lua::Limits;

#[test]
fn a_steady_stream_of_calls_stays_far_below_the_memory_cap() {
    // Every call makes userdata with finalizers (the packet views). Under the incremental
    // collector their finalizers fell behind: such a hook filled a 2 MiB cap within 200,000
    // calls, and the default 32 MiB one within ~900,000, where a call failed for memory.
    let limits = Limits {
        memory: 2 << 20,
        ..Limits::default()
    };
    let (st, _s) = start_with(
        "local netfilter = require('netfilter')\n\
         netfilter.register{ pf = 2, hooknum = 1, hook = function(skb) \
           return skb:getuint8(9) == 17 and 1 or 0 end }\n",
        limits,
    )
    .unwrap();
    let mut peak = 0;
    for i in 0..200_000 {
        let out = st.run_netfilter(0, udp4(53, b"x").nf());
        assert!(out.error.is_none(), "call {i}: {:?}", out.error);
        assert_eq!(out.verdict, 1);
        peak = peak.max(st.memory_used());
    }
    assert!(peak < 1 << 20, "peak {peak} bytes");
}
