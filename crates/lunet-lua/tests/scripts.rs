//! Starting a script: what a broken or hostile body gets told, and what the sandbox withholds.

mod common;

use common::*;
use lunet_lua::{Limits, ScriptErrorKind};

#[test]
fn a_syntax_error_names_file_and_line() {
    let err = start_with(
        "local x = 1\nif x then\n  x = = 2\nend\n",
        Limits::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, ScriptErrorKind::Syntax);
    assert!(err.message.contains("script.lua:3:"), "{}", err.message);
}

#[test]
fn a_failing_body_names_file_and_line() {
    let err = start_with(
        "local a = 1\nerror('no config for ' .. a)\n",
        Limits::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    assert!(
        err.message.contains("script.lua:2: no config for 1"),
        "{}",
        err.message
    );
}

#[test]
fn registration_mistakes_name_the_line_of_the_call() {
    let err = start_with(
        "local nf = require('netfilter')\n\nnf.register{ pf = 3, hooknum = 1, hook = print }\n",
        Limits::default(),
    )
    .err()
    .unwrap();
    assert!(err.message.contains("script.lua:3:"), "{}", err.message);
    assert!(
        err.message.contains("pf ARP is not supported"),
        "{}",
        err.message
    );
}

#[test]
fn an_endless_body_is_stopped_by_its_budget() {
    let limits = Limits {
        body_budget: 1_000_000,
        ..Limits::default()
    };
    let err = start_with("local n = 0\nwhile true do n = n + 1 end\n", limits)
        .err()
        .unwrap();
    assert_eq!(err.kind, ScriptErrorKind::Budget);
    assert!(err.message.contains("script.lua:2:"), "{}", err.message);
}

#[test]
fn a_memory_bomb_in_the_body_hits_the_cap() {
    let limits = Limits {
        memory: 8 << 20,
        ..Limits::default()
    };
    let err = start_with("local t = {}\nfor i = 1, 1e8 do t[i] = {i} end\n", limits)
        .err()
        .unwrap();
    assert_eq!(err.kind, ScriptErrorKind::Memory);
    assert!(
        err.message.contains("memory cap of 8388608"),
        "{}",
        err.message
    );
    assert!(err.message.contains("script.lua:"), "{}", err.message);
}

#[test]
fn the_sandbox_withholds_io_os_debug_and_binary_chunks() {
    let (st, _s) = start(
        r#"
        assert(io == nil, "io")
        assert(debug == nil, "debug")
        assert(dofile == nil and loadfile == nil, "dofile/loadfile")
        assert(package == nil, "package")
        assert(os.execute == nil and os.remove == nil and os.getenv == nil, "os")
        assert(type(os.time()) == "number" and type(os.clock()) == "number")
        assert(string.dump == nil, "string.dump")
        local f, err = load("\27Lua binary")
        assert(f == nil and err:find("binary"), "binary chunk: " .. tostring(err))
        assert(load("return 1 + 1")() == 2, "text chunks load")
        local env = {}
        load("x = 5", "c", "t", env)()
        assert(env.x == 5 and x == nil, "load env")
        assert(select(2, pcall(require, "io")):find("not found"), "require io")
        assert(require("string") == string and require("math") == math, "require of a library")
        "#,
    );
    assert!(st.hooks().is_empty());
}

#[test]
fn require_loads_lua_files_beside_the_script_only() {
    let s = script("local lib = require('lib.names')\nassert(lib.blocked['example.com'])\n");
    std::fs::create_dir(s.dir.path().join("lib")).unwrap();
    std::fs::write(
        s.dir.path().join("lib/names.lua"),
        "return { blocked = { ['example.com'] = true } }\n",
    )
    .unwrap();
    lunet_lua::State::load(&s.path, Default::default()).unwrap();

    let err = start_with("require('missing')\n", Limits::default())
        .err()
        .unwrap();
    assert!(
        err.message
            .contains("script.lua:1: module 'missing' not found"),
        "{}",
        err.message
    );
    let err = start_with("require('../../etc/passwd')\n", Limits::default())
        .err()
        .unwrap();
    assert!(
        err.message.contains("invalid module name"),
        "{}",
        err.message
    );
}

#[test]
fn print_goes_to_the_state_log() {
    let (st, _s) = start("print('hello', 42, nil)\n");
    let lines = st.log().since(0);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "hello\t42\tnil");
}

#[test]
fn print_writes_bytes_that_are_not_utf8_as_replacement_characters() {
    // As the kernel tier's print does: the log is text, a string is bytes.
    let (st, _s) = start("print('a\\xffb', '\\xe2\\x82', true)\n");
    let lines = st.log().since(0);
    assert_eq!(lines[0].text, "a\u{fffd}b\t\u{fffd}\ttrue");
}

#[test]
fn constants_are_the_kernel_values() {
    start(
        r#"
        local linux = require("linux")
        local nf, xdp, b = linux.nf, require("linux.xdp"), require("byteorder")
        assert(nf.proto.IPV6 == 10 and nf.proto.INET == 1 and nf.proto.BRIDGE == 7)
        assert(nf.action.DROP == 0 and nf.action.STOP == 5)
        assert(nf.inet.PRE_ROUTING == 0 and nf.inet.POST_ROUTING == 4)
        assert(nf.ip.pri.FIRST == math.mininteger >> 32 << 32 >> 32 or nf.ip.pri.FIRST == -2147483648)
        assert(nf.ip.pri.CONNTRACK_DEFRAG == -400 and nf.ip.pri.SECURITY == 50 and nf.ip.pri.LAST == 2147483647)
        assert(xdp.ABORTED == 0 and xdp.REDIRECT == 4)
        assert(b.ntoh16(0x3412) == 0x1234 and b.hton32(0x78563412) == 0x12345678)
        "#,
    );
}

#[test]
fn registration_values_out_of_range_are_named_with_the_line() {
    for (call, needle) in [
        (
            "require('netfilter').register{ pf = 2, hooknum = 1, priority = 1 << 40, hook = print }",
            "netfilter.register: priority 1099511627776 does not fit a 32-bit integer",
        ),
        (
            "require('netfilter').register{ pf = 2, hooknum = 1, mark = -1, hook = print }",
            "netfilter.register: mark -1 is not a 32-bit unsigned value",
        ),
        (
            "require('netfilter').register{ pf = 2, hooknum = 1, default = 2, hook = print }",
            "netfilter.register: default must be action.DROP or action.ACCEPT, got 2",
        ),
        (
            "require('xdp').attach(print, { default = 0 })",
            "xdp.attach: default must be xdp.DROP or xdp.PASS, got 0",
        ),
        (
            "require('xdp').attach(print, { tier = 'gpu' })",
            "xdp.attach: tier must be \"auto\", \"kernel\" or \"lua\", got \"gpu\"",
        ),
    ] {
        let err = start_with(&format!("\n{call}\n"), Limits::default())
            .err()
            .unwrap();
        assert!(
            err.message.contains(&format!("script.lua:2: {needle}")),
            "{call}: {}",
            err.message
        );
    }
}
