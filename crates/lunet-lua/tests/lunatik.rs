//! Lunatik's module loading and its `rcu`, `linux` and `byteorder` API, each through a real
//! state and, where a hook uses it, a hook call on a real packet.

mod common;

use common::{script, start, start_with, udp4, PRELUDE};
use lunet_lua::{Limits, State, StateOptions};
use lunet_types::nf::action::{ACCEPT, DROP};

/// A script in a fresh folder with more roots after it.
fn load_with_roots(s: &common::Script, roots: &[std::path::PathBuf]) -> Result<State, String> {
    // (`State` is not `Debug`: callers take `.err()`.)
    let opts = StateOptions {
        paths: roots.to_vec(),
        rcu: Default::default(),
        ..StateOptions::default()
    };
    State::load(&s.path, opts).map_err(|e| e.message)
}

#[test]
fn a_dotted_name_is_a_file_under_the_first_root_that_has_it() {
    // The script's folder has no `examples/`: the module comes from the second root, as
    // Lunatik's `require("examples.dnsblock.common")` comes from /lib/modules/lua.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("examples/dnsblock")).unwrap();
    std::fs::write(
        root.path().join("examples/dnsblock/common.lua"),
        "return { where = 'root', name = ... }\n",
    )
    .unwrap();
    let s = script(&format!(
        "{PRELUDE}local common = require('examples.dnsblock.common')\n\
         assert(common.where == 'root', common.where)\n\
         assert(common.name == 'examples.dnsblock.common')\n\
         assert(require('examples.dnsblock.common') == common, 'loaded once')\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,\n\
           hook = function(skb) return common.where == 'root' and nf.action.DROP or nf.action.ACCEPT end }}\n"
    ));
    let st = load_with_roots(&s, &[root.path().into()]).unwrap();
    assert_eq!(st.run_netfilter(0, udp4(53, b"q").nf()).verdict, DROP);

    // The script's own folder comes first.
    std::fs::create_dir_all(s.dir.path().join("examples/dnsblock")).unwrap();
    std::fs::write(
        s.dir.path().join("examples/dnsblock/common.lua"),
        "return { where = 'beside' }\n",
    )
    .unwrap();
    let err = load_with_roots(&s, &[root.path().into()]).err().unwrap();
    assert!(err.contains("beside"), "{err}");
}

#[test]
fn a_name_cannot_climb_out_of_its_roots_nor_reach_a_device() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("secret.lua"), "return 'leaked'\n").unwrap();
    let inner = root.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    for name in [
        "..secret",
        "../secret",
        "inner/../secret",
        "/etc/passwd",
        ".secret",
    ] {
        let s = script(&format!("require({name:?})\n"));
        let err = load_with_roots(&s, std::slice::from_ref(&inner))
            .err()
            .unwrap();
        assert!(
            err.contains("script.lua:1: require: invalid module name"),
            "{name}: {err}"
        );
    }
    // A module file that links to a device is refused, not read.
    std::os::unix::fs::symlink("/dev/zero", inner.join("zero.lua")).unwrap();
    let s = script("require('zero')\n");
    let err = load_with_roots(&s, std::slice::from_ref(&inner))
        .err()
        .unwrap();
    assert!(
        err.contains("module 'zero'") && err.contains("not a regular file"),
        "{err}"
    );
    // Missing: every path tried is named.
    let s = script("require('nope.x')\n");
    let err = load_with_roots(&s, std::slice::from_ref(&inner))
        .err()
        .unwrap();
    assert!(
        err.contains("module 'nope.x' not found")
            && err.contains(&format!("{}", inner.join("nope/x.lua").display())),
        "{err}"
    );
}

#[test]
fn the_standard_libraries_are_modules_too() {
    let (st, _s) = start(&format!(
        "{PRELUDE}for _, n in ipairs{{'string', 'table', 'math', 'utf8', 'coroutine'}} do\n\
           assert(require(n) == _G[n], n)\n\
         end\n\
         local string = require('string')\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,\n\
           hook = function(skb)\n\
             return string.find(skb:getstring(28), 'github.com') and nf.action.DROP or nf.action.ACCEPT\n\
           end }}\n"
    ));
    assert_eq!(
        st.run_netfilter(0, udp4(53, b"\x06github\x03com\0").nf())
            .verdict,
        DROP,
        "'.' in the pattern matches the label length byte, as in Lunatik's dnsblock"
    );
    assert_eq!(
        st.run_netfilter(0, udp4(53, b"\x07example\x03com\0").nf())
            .verdict,
        ACCEPT
    );
}

#[test]
fn lunatik_modules_lunet_lacks_are_named_with_the_line_and_why() {
    for (line, module, says) in [
        ("require('socket')", "socket", "lib/luasocket.c"),
        ("require('thread')", "thread", "lib/luathread.c"),
        ("require('linux.stat')", "linux.stat", "constants"),
        ("require('lunatik.runner')", "lunatik.runner", "lunet run"),
    ] {
        let err = start_with(&format!("local x = 1\n{line}\n"), Limits::default())
            .err()
            .unwrap()
            .message;
        assert!(
            err.contains(&format!("script.lua:2: module '{module}'"))
                && err.contains("not available in lunet")
                && err.contains(says),
            "{err}"
        );
    }
    for f in ["schedule(10)", "tracing(true)", "lookup('jiffies')"] {
        let err = start_with(
            &format!("local linux = require('linux')\nlinux.{f}\n"),
            Limits::default(),
        )
        .err()
        .unwrap()
        .message;
        let name = f.split('(').next().unwrap();
        assert!(
            err.contains(&format!(
                "script.lua:2: linux.{name} (Lunatik's lib/lualinux.c) is not available in lunet"
            )),
            "{err}"
        );
        assert!(!err.contains("nil value"), "{err}");
    }
    // Lunatik's C modules win over a file of the same name, as in Lunatik: a script named
    // device.lua that requires "device" gets the error, not itself.
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("device.lua");
    std::fs::write(&device, "local device = require('device')\n").unwrap();
    let err = State::load(&device, StateOptions::default())
        .err()
        .unwrap()
        .message;
    assert!(
        err.contains("device.lua:1: module 'device' (Lunatik's lib/luadevice.c)"),
        "{err}"
    );
    // A module that requires itself says so.
    std::fs::write(
        dir.path().join("selfish.lua"),
        "return require('selfish')\n",
    )
    .unwrap();
    let main = dir.path().join("main.lua");
    std::fs::write(&main, "require('selfish')\n").unwrap();
    let err = State::load(&main, StateOptions::default())
        .err()
        .unwrap()
        .message;
    assert!(
        err.contains("selfish.lua:1: require: module 'selfish' requires itself"),
        "{err}"
    );
    // Names Lunatik does not have either stay plain nil.
    start("assert(require('linux').nosuch == nil)\n");
}

#[test]
fn rcu_tables_hold_booleans_integers_and_objects_across_hook_calls() {
    let (st, _s) = start(&format!(
        "{PRELUDE}local rcu = require('rcu')\n\
         local seen = rcu.table()\n\
         local big = rcu.table(8192)\n\
         big.x = true\n\
         assert(big.x == true and big.missing == nil)\n\
         big.x = nil\n\
         assert(big.x == nil)\n\
         big.n = 2.0\n\
         assert(math.type(big.n) == 'integer')\n\
         big.obj = seen\n\
         assert(big.obj == seen)\n\
         assert(not pcall(function() big.s = 'text' end))\n\
         assert(not pcall(function() big.f = 1.5 end))\n\
         assert(not pcall(function() big[{{}}] = 1 end))\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,\n\
           hook = function(skb)\n\
             local src = tostring(skb:getuint32(12))\n\
             local n = (seen[src] or 0) + 1\n\
             seen[src] = n\n\
             if n > 2 then return nf.action.DROP end\n\
             local total = 0\n\
             rcu.map(seen, function(k, v) total = total + v end)\n\
             return total <= 2 and nf.action.ACCEPT or nf.action.DROP\n\
           end }}\n"
    ));
    let p = udp4(53, b"q");
    assert_eq!(st.run_netfilter(0, p.nf()).verdict, ACCEPT);
    assert_eq!(st.run_netfilter(0, p.nf()).verdict, ACCEPT);
    assert_eq!(
        st.run_netfilter(0, p.nf()).verdict,
        DROP,
        "the third packet from one source: the count lived on between calls"
    );

    let err = start_with(
        "local t = require('rcu').table()\nt.s = 'x'\n",
        Limits::default(),
    )
    .err()
    .unwrap()
    .message;
    assert!(
        err.contains("script.lua:2: rcu table: unsupported type string"),
        "{err}"
    );
    let err = start_with("require('rcu').map({}, print)\n", Limits::default())
        .err()
        .unwrap()
        .message;
    assert!(
        err.contains("script.lua:1: rcu.map: argument 1 is not an rcu table"),
        "{err}"
    );
}

#[test]
fn linux_time_random_errname_numcpus_and_devices_mean_what_they_mean_in_lunatik() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let (st, _s) = start(&format!(
        "{PRELUDE}local t0 = linux.time()\n\
         assert(math.abs(t0 - {now}) < 60 * 1000000000, 'ns since the epoch: ' .. t0)\n\
         assert(linux.difftime(t0 + 5, t0) == 5 and linux.difftime(t0, t0 + 5) == -5)\n\
         for _ = 1, 200 do\n\
           local a, b = linux.random(6), linux.random(-3, 3)\n\
           assert(a >= 1 and a <= 6 and b >= -3 and b <= 3)\n\
         end\n\
         assert(linux.random(7, 7) == 7)\n\
         assert(math.type(linux.random()) == 'integer')\n\
         assert(not pcall(linux.random, 5, 1))\n\
         assert(linux.errname(2) == 'ENOENT' and linux.errname(-13) == 'EACCES')\n\
         assert(linux.errname(100000) == 'unknown')\n\
         assert(linux.numcpus() >= 1)\n\
         local lo = linux.ifindex('lo')\n\
         assert(lo >= 1)\n\
         assert(linux.ifaddr(lo) == ('\\0'):rep(6), 'lo has six zero bytes')\n\
         assert(not pcall(linux.ifindex, 'no-such-dev0'))\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,\n\
           hook = function(skb)\n\
             return linux.difftime(linux.time(), t0) >= 0 and linux.random(1, 1) == 1\n\
               and nf.action.DROP or nf.action.ACCEPT\n\
           end }}\n"
    ));
    assert_eq!(st.run_netfilter(0, udp4(53, b"q").nf()).verdict, DROP);
    let err = start_with(
        "require('linux').ifindex('no-such-dev0')\n",
        Limits::default(),
    )
    .err()
    .unwrap()
    .message;
    assert!(
        err.contains("script.lua:1: bad argument #1 to 'ifindex' (device 'no-such-dev0' not found"),
        "{err}"
    );
}

#[test]
fn byteorder_has_lunatiks_names() {
    let (st, _s) = start(&format!(
        "{PRELUDE}local b = require('byteorder')\n\
         assert(b.htobe16(0x1234) == 0x3412 and b.be16toh(0x3412) == 0x1234)\n\
         assert(b.htole16(0x1234) == 0x1234 and b.le16toh(0x1234) == 0x1234)\n\
         assert(b.htobe32(0x11223344) == 0x44332211 and b.be32toh(0x44332211) == 0x11223344)\n\
         assert(b.htole32(0x11223344) == 0x11223344 and b.le32toh(0x11223344) == 0x11223344)\n\
         assert(b.htobe64(0x0102030405060708) == 0x0807060504030201)\n\
         assert(b.be64toh(0x0807060504030201) == 0x0102030405060708)\n\
         assert(b.htole64(5) == 5 and b.le64toh(5) == 5)\n\
         assert(b.ntoh16(0x1234) == b.hton16(0x1234) and b.ntoh32(1) == b.hton32(1))\n\
         assert(b.ntoh64(1) == b.hton64(1))\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN,\n\
           hook = function(skb)\n\
             local ihl = (skb:getuint8(0) & 0x0f) * 4\n\
             return b.be16toh(skb:getuint16(ihl + 2)) == 53 and nf.action.DROP or nf.action.ACCEPT\n\
           end }}\n"
    ));
    assert_eq!(st.run_netfilter(0, udp4(53, b"q").nf()).verdict, DROP);
    assert_eq!(st.run_netfilter(0, udp4(54, b"q").nf()).verdict, ACCEPT);
}

#[test]
fn a_hook_with_many_upvalues_is_snapshotted_without_overflowing_the_lua_stack() {
    // Found running Lunatik's examples/filter/sni.lua through `lunet check`: the snapshot of
    // a hook's upvalues pushed two values per upvalue onto a C frame promised 20 slots
    // (an assertion in debug builds, memory past the stack in release ones).
    let mut src = String::from("local xdp = require('xdp')\n");
    for i in 0..40 {
        src.push_str(&format!("local u{i} = {i}\n"));
    }
    let sum: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    src.push_str(&format!(
        "xdp.attach(function(p) return ({}) > 0 and xdp.PASS or xdp.DROP end)\n",
        sum.join(" + ")
    ));
    let (st, _s) = start(&src);
    let input = st.compile_input(0).unwrap();
    assert_eq!(input.upvalues.len(), 41, "40 numbers and xdp");
}
