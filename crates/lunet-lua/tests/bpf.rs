//! Lunatik's `bpf` and `bpf.map` on real pinned kernel maps: made and pinned here with
//! lunet-bpf (as another tool would), opened by path from the script's body and hooks, each
//! side seeing the other's writes.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use lunet_bpf::map::{map_type, Map};
use lunet_lua::{MapBacking, State, StateOptions};
use lunet_types::nf::action::{ACCEPT, DROP};

/// A directory of pinned maps under bpffs, removed with its pins on drop.
struct Pins {
    dir: PathBuf,
    maps: Vec<(String, Map)>,
}

impl Pins {
    fn new(tag: &str) -> Pins {
        lunet_bpf::pin::ensure_bpffs().unwrap();
        let dir = PathBuf::from(format!(
            "/sys/fs/bpf/lunet-test-{tag}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = Pins {
            dir,
            maps: Vec::new(),
        };
        for (name, ty, k, v, n) in [
            ("hash", map_type::HASH, 4, 8, 8),
            ("array", map_type::ARRAY, 4, 4, 4),
            ("lru", map_type::LRU_HASH, 4, 8, 2),
            ("queue", map_type::QUEUE, 0, 8, 3),
            ("stack", map_type::STACK, 0, 8, 3),
        ] {
            let m = Map::create(ty, k, v, n, name).unwrap();
            lunet_bpf::pin::pin(&m, &p.dir.join(name)).unwrap();
            p.maps.push((name.to_string(), m));
        }
        p
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn map(&self, name: &str) -> &Map {
        &self.maps.iter().find(|(n, _)| n == name).unwrap().1
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        for (n, _) in &self.maps {
            let _ = std::fs::remove_file(self.dir.join(n));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn kernel_state(source: &str) -> Result<(State, Script), String> {
    let s = script(source);
    let opts = StateOptions {
        maps: MapBacking::Kernel {
            pin_dir: None,
            adopt: false,
        },
        ..StateOptions::default()
    };
    State::load(&s.path, opts)
        .map(|st| (st, s))
        .map_err(|e| e.message)
}

#[test]
fn raw_bpf_handles_look_up_update_delete_walk_push_pop_and_peek_pinned_maps() {
    lunet_testkit::require_root!("bpf(2) maps pinned in bpffs");
    let pins = Pins::new("bpf-raw");
    // Another tool's entry, read by the script.
    pins.map("hash")
        .update(&7u32.to_ne_bytes(), &70u64.to_ne_bytes(), 0)
        .unwrap();
    let src = format!(
        r##"{PRELUDE}
local bpf = require("bpf")
local K = function(i) return string.pack("I4", i) end
local V = function(i) return string.pack("I8", i) end
local h = bpf.hash({hash:?})
assert(#h == 8, "#h")
local info = h:info()
assert(info.type == 1 and info.key_size == 4 and info.value_size == 8 and info.max_entries == 8)
assert(string.unpack("I8", h:lookup(K(7))) == 70, "the other tool's entry")
assert(h:lookup(K(1)) == nil)
assert(h:update(K(1), V(10)) == true)
assert(h:update(K(1), V(11), 1) == false, "BPF_NOEXIST on a present key")
assert(h:update(K(2), V(20), 2) == false, "BPF_EXIST on an absent key")
assert(string.unpack("I8", h:lookup(K(1))) == 10)
local keys = {{}}
local k = h:next()
while k do keys[#keys + 1] = string.unpack("I4", k); k = h:next(k) end
table.sort(keys)
assert(#keys == 2 and keys[1] == 1 and keys[2] == 7, "next walks every key")
assert(string.unpack("I8", h:remove(K(1))) == 10 and h:lookup(K(1)) == nil, "remove")
assert(h:delete(K(7)) == true and h:delete(K(7)) == false)
local ok, err = pcall(h.lookup, h, "abc")
assert(not ok and err:find("invalid key size"), err)
ok, err = pcall(h.push, h, V(1))
assert(not ok and err:find("has no method 'push'"), err)

local a = bpf.array({array:?})
assert(a:update(K(3), string.pack("I4", 33)) and string.unpack("I4", a:lookup(K(3))) == 33)

local q = bpf.queue({queue:?})
local s = bpf.stack({stack:?})
for i = 1, 3 do assert(q:push(V(i)) and s:push(V(i))) end
assert(q:push(V(4)) == false, "a full queue refuses")
assert(string.unpack("I8", q:peek()) == 1 and string.unpack("I8", s:peek()) == 3)
assert(string.unpack("I8", q:pop()) == 1, "FIFO")
assert(string.unpack("I8", s:pop()) == 3, "LIFO")
q:close()
ok, err = pcall(q.pop, q)
assert(not ok and err:find("closed"), err)
do
  local scoped <close> = bpf.stack({stack:?})
  assert(#scoped == 3)
end

ok, err = pcall(bpf.hash, {array:?})
assert(not ok and err:find("not a hash map"), err)

-- A hook keeps a count per IP protocol in the pinned hash; another tool reads it.
netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  local key = K(skb:getuint8(9))
  local n = h:lookup(key)
  n = (n and string.unpack("I8", n) or 0) + 1
  h:update(key, V(n))
  return n > 2 and nf.action.DROP or nf.action.ACCEPT
end }}
"##,
        hash = pins.path("hash"),
        array = pins.path("array"),
        queue = pins.path("queue"),
        stack = pins.path("stack"),
    );
    let (st, _s) = kernel_state(&src).unwrap();
    let p = udp4(53, b"q");
    assert_eq!(st.run_netfilter(0, p.nf()).verdict, ACCEPT);
    assert_eq!(st.run_netfilter(0, p.nf()).verdict, ACCEPT);
    assert_eq!(st.run_netfilter(0, p.nf()).verdict, DROP);
    let n = pins
        .map("hash")
        .lookup(&17u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(
        u64::from_ne_bytes(n.try_into().unwrap()),
        3,
        "the hook's count, in the kernel map"
    );
    let left = pins.map("queue").pop().unwrap().unwrap();
    assert_eq!(
        u64::from_ne_bytes(left.try_into().unwrap()),
        2,
        "the script's pushes, in the kernel queue"
    );
}

#[test]
fn bpf_map_proxies_are_tables_over_pinned_maps() {
    lunet_testkit::require_root!("bpf(2) maps pinned in bpffs");
    let pins = Pins::new("bpf-proxy");
    pins.map("hash")
        .update(&5u32.to_ne_bytes(), &50u64.to_ne_bytes(), 0)
        .unwrap();
    let src = format!(
        r##"{PRELUDE}
local map = require("bpf.map")
local counters = map.hash({hash:?}, "I4", "I8")
assert(counters[5] == 50, "the other tool's entry")
counters[1] = 42
assert(counters[1] == 42)
counters[1] = nil
assert(counters[1] == nil)
counters[2] = 20
local sum, n = 0, 0
for k, v in pairs(counters) do sum = sum + k * v; n = n + 1 end
assert(n == 2 and sum == 5 * 50 + 2 * 20, "pairs walks the kernel map")
local info = map.info(counters)
assert(info.max_entries == 8 and info.key_size == 4)
local ok, err = pcall(map.hash, {hash:?}, "I2", "I8")
assert(not ok and err:find("key spec packs 2 bytes, map expects 4"), err)
ok, err = pcall(map.hash, {hash:?}, {{size = 4}}, "I8")
assert(not ok and err:find("struct codecs"), err)
do
  local lru <close> = map.lru_hash({lru:?}, "I4", "I8")
  lru[1] = 1; lru[2] = 2; lru[3] = 3
  local kept = 0
  for _ in pairs(lru) do kept = kept + 1 end
  assert(kept == 2, "an LRU hash of 2 keeps 2")
end
local events <close> = map.queue({queue:?}, "I8")
assert(events:push(1234) and events:push(5))
assert(events:peek() == 1234 and events:pop() == 1234)
local closed = map.hash({hash:?}, "I4", "I8")
map.close(closed)
ok, err = pcall(function() return closed[5] end)
assert(not ok and err:find("closed"), err)
-- A declared map answers map.info too.
local d = map.array{{ key = "I4", value = "I4", entries = 3 }}
assert(map.info(d).max_entries == 3)

netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  counters[skb:getuint8(9)] = (counters[skb:getuint8(9)] or 0) + 1
  return counters[9] and nf.action.DROP or nf.action.ACCEPT
end }}
"##,
        hash = pins.path("hash"),
        lru = pins.path("lru"),
        queue = pins.path("queue"),
    );
    let (st, _s) = kernel_state(&src).unwrap();
    assert_eq!(st.run_netfilter(0, udp4(53, b"q").nf()).verdict, ACCEPT);
    let n = pins
        .map("hash")
        .lookup(&17u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(u64::from_ne_bytes(n.try_into().unwrap()), 1);
    // Another tool's write changes the hook's verdict on the next packet.
    pins.map("hash")
        .update(&9u32.to_ne_bytes(), &1u64.to_ne_bytes(), 0)
        .unwrap();
    assert_eq!(st.run_netfilter(0, udp4(53, b"q").nf()).verdict, DROP);
    let left = pins.map("queue").pop().unwrap().unwrap();
    assert_eq!(u64::from_ne_bytes(left.try_into().unwrap()), 5);
}

#[test]
fn only_pinned_maps_under_the_bpf_filesystem_may_be_opened() {
    lunet_testkit::require_root!("bpf(2) maps pinned in bpffs");
    let pins = Pins::new("bpf-policy");
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("notamap");
    std::fs::write(&plain, "x").unwrap();
    // A link outside bpffs to a pin is judged by where it leads: allowed.
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(pins.dir.join("hash"), &link).unwrap();
    for (path, says) in [
        ("relative/hash".to_string(), "absolute"),
        (plain.display().to_string(), "not under /sys/fs/bpf"),
        ("/proc/self/status".to_string(), "not under /sys/fs/bpf"),
        (format!("{}/missing", pins.dir.display()), "No such file"),
        (pins.dir.display().to_string(), "not a pinned map"),
    ] {
        let err = kernel_state(&format!("local x = 1\nrequire('bpf').hash({path:?})\n"))
            .err()
            .unwrap();
        assert!(
            err.contains(&format!("script.lua:2: bpf.hash: {path}")) && err.contains(says),
            "{path}: {err}"
        );
    }
    kernel_state(&format!(
        "assert(#require('bpf').hash({:?}) == 8)\n",
        link.display().to_string()
    ))
    .unwrap();
    // Replay (maps in memory) opens no kernel map.
    let s = script(&format!("require('bpf').hash({:?})\n", pins.path("hash")));
    let err = State::load(&s.path, StateOptions::default())
        .err()
        .unwrap()
        .message;
    assert!(
        err.contains("lunet replay keeps its maps in memory"),
        "{err}"
    );
    assert!(Path::new(&pins.path("hash")).exists());
}
