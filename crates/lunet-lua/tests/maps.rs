//! `bpf.map` as a script sees it: tables backed by process memory (replay) or by kernel maps
//! pinned for other tools (the daemon), with the kernel's rules in both.

mod common;

use common::*;
use lunet_lua::{Limits, MapBacking, State, StateOptions};

const COUNTER: &str = r#"
local map = require("bpf.map")
local netfilter = require("netfilter")
counts = map.hash{ key = "I4", value = "I8", entries = 4, name = "counts" }
pairs_ = map.hash{ key = ">I2I2", value = "c4", entries = 8, name = "pairs" }
netfilter.register{ pf = 2, hooknum = 1, hook = function(skb)
  local proto = skb:getuint8(9)
  counts[proto] = (counts[proto] or 0) + 1
  return 1
end }
"#;

fn run_counter(backing: MapBacking) -> (State, Script) {
    let s = script(COUNTER);
    let st = State::load(
        &s.path,
        StateOptions {
            maps: backing,
            ..StateOptions::default()
        },
    )
    .unwrap();
    (st, s)
}

#[test]
fn maps_work_as_tables_in_hooks_and_report_their_layout() {
    let (st, _s) = run_counter(MapBacking::Memory);
    for _ in 0..3 {
        st.run_netfilter(0, udp4(1, b"").nf());
    }
    let maps = st.maps();
    assert_eq!(
        maps.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["counts", "pairs"]
    );
    assert_eq!(
        (
            maps[0].key.as_str(),
            maps[0].value.as_str(),
            maps[0].entries
        ),
        ("I4", "I8", 4)
    );
    // The hook's writes are visible to Lua afterwards: read them back through a second hook call.
    let probe = start(
        r#"
        local map = require("bpf.map")
        local m = map.hash{ key = "I4", value = "I8", entries = 2 }
        m[1] = 10
        assert(m[1] == 10 and m[2] == nil)
        m[1] = nil
        assert(m[1] == nil)
        m[1], m[2] = 5, 6
        local ok, err = pcall(function() m[3] = 7 end)
        assert(not ok and err:find("is full"), err)
        local sum = 0
        for k, v in pairs(m) do sum = sum + k * 100 + v end
        assert(sum == 1 * 100 + 5 + 2 * 100 + 6, sum)
        local lru = map.lru_hash{ key = "I4", value = "I4", entries = 2 }
        lru[1], lru[2] = 1, 2
        local _ = lru[1]
        lru[3] = 3
        assert(lru[1] == 1 and lru[2] == nil and lru[3] == 3, "least recently used key forgotten")
        local arr = map.array{ key = "I4", value = "I4", entries = 3 }
        assert(arr[0] == 0 and arr[2] == 0 and arr[3] == nil, "arrays hold every index")
        assert(not pcall(function() arr[1] = nil end), "array entries cannot be deleted")
        local multi = map.hash{ key = ">I2I2", value = "c4", entries = 2 }
        multi[{80, 443}] = "ab"
        assert(multi[{80, 443}] == "ab\0\0")
        "#,
    );
    drop(probe);
}

#[test]
fn bad_declarations_name_the_line() {
    for (src, needle) in [
        (
            "local m = require('bpf.map').hash{ key = 'z', value = 'I4', entries = 1 }",
            "not a fixed-size field",
        ),
        (
            "local m = require('bpf.map').array{ key = 'I8', value = 'I4', entries = 1 }",
            "4-byte integer keys",
        ),
        (
            "local m = require('bpf.map').hash{ key = 'I4', value = 'I4' }",
            "'entries' is required",
        ),
        (
            "local m = require('bpf.map').percpu_array{ key = 'I4', value = 'c8', entries = 1 }",
            "one integer",
        ),
        ("local m = require('bpf.map').lpm{}", "not in this build"),
    ] {
        let err = start_with(src, Limits::default()).err().unwrap();
        assert!(
            err.message.contains("script.lua:1:") && err.message.contains(needle),
            "{src}: {}",
            err.message
        );
    }
}

#[test]
fn kernel_maps_are_pinned_and_readable_by_other_tools() {
    lunet_testkit::require_root!("bpf(2) maps pinned in bpffs");
    // `<pin root>/<state>`: a state's pins sit in a root of lunet's own, not in bpffs' top.
    let root = std::path::PathBuf::from(format!(
        "/sys/fs/bpf/lunet-test-maps-{}",
        std::process::id()
    ));
    let dir = root.join("counter");
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = lunet_lua::maps::unpin_dir(&self.0);
        }
    }
    let _guard = Cleanup(dir.clone());
    let (st, _s) = run_counter(MapBacking::Kernel {
        pin_dir: Some(dir.clone()),
        adopt: false,
    });
    for _ in 0..2 {
        st.run_netfilter(0, udp4(1, b"").nf());
    }
    let pinned = dir.join("counts");
    assert_eq!(st.maps()[0].pinned.as_deref(), Some(pinned.as_path()));
    // Another tool opens the pin and reads the hook's count for protocol 17.
    let map = lunet_bpf::map::Map::from_fd(lunet_bpf::pin::get(&pinned).unwrap()).unwrap();
    let value = map.lookup(&17u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(i64::from_ne_bytes(value.try_into().unwrap()), 2);
    lunet_lua::maps::unpin_dir(&dir).unwrap();
    assert!(!dir.exists());
    assert!(!root.exists(), "the root goes with its last state's pins");
}
