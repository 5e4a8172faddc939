//! Hostile scripts against the Lua tier's limits: each test is one way a script tried to take
//! time or memory the state's caps did not see (the security probe of issue #14, items 3 and
//! 4), and proves the call now ends on time, with its default verdict, and the state keeps
//! answering.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lunet_lua::{HookError, Limits, ScriptErrorKind, Stream};

fn register(body: &str) -> String {
    format!(
        "{PRELUDE}\nnetfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)\n\
         if skb:getuint8(9) ~= 17 then return nf.action.DROP end\n{body}\nreturn nf.action.DROP\nend }}\n"
    )
}

fn quick(limits: Limits) -> Limits {
    Limits {
        hook_time: Duration::from_millis(50),
        ..limits
    }
}

/// Runs the hook on a UDP packet (the hostile path) and then a TCP one (a plain DROP): the
/// first must end within a second with the expected error, the second must still be judged.
fn assert_bounded(body: &str, limits: Limits, want: fn(&HookError) -> bool) {
    let (st, _s) = start_with(&register(body), quick(limits)).unwrap();
    let t = Instant::now();
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "{body}: took {took:?}");
    assert_eq!(out.verdict, 1, "{body}: the default verdict (ACCEPT)");
    let err = out
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("{body}: no error"));
    assert!(want(err), "{body}: {err:?}");
    assert_eq!(
        st.run_netfilter(0, tcp4(5, b"").nf()).verdict,
        0,
        "{body}: the state still judges"
    );
}

fn is_time(e: &HookError) -> bool {
    matches!(e, HookError::Time(m) if m.contains("time limit of 50 ms exhausted"))
}

fn is_budget_or_time(e: &HookError) -> bool {
    matches!(e, HookError::Budget(_)) || is_time(e)
}

#[test]
fn a_loop_over_c_calls_ends_at_the_time_limit() {
    // Few instructions, much C work: 6.3 s a call before.
    assert_bounded(
        r#"local s = "a" for i = 1, 1e9 do s:rep(100000) end"#,
        Limits {
            hook_budget: 1_000_000_000,
            ..Limits::default()
        },
        is_time,
    );
}

#[test]
fn work_split_into_short_coroutines_is_counted_as_one_call() {
    // Each coroutine ran fewer instructions than one check: 70-270x the budget before.
    assert_bounded(
        r#"while true do coroutine.wrap(function() for i = 1, 300 do end end)() end"#,
        Limits::default(),
        is_budget_or_time,
    );
    assert_bounded(
        r#"while true do
             local co = coroutine.create(function() for i = 1, 300 do end coroutine.yield() end)
             coroutine.resume(co) coroutine.resume(co)
           end"#,
        Limits::default(),
        is_budget_or_time,
    );
}

#[test]
fn a_stop_cannot_be_caught_and_ignored() {
    assert_bounded(
        r#"while true do pcall(function() local s = "a" for i = 1, 1e9 do s:rep(100000) end end) end"#,
        Limits {
            hook_budget: 1_000_000_000,
            ..Limits::default()
        },
        is_time,
    );
}

#[test]
fn an_endless_body_ends_at_its_time_limit() {
    let limits = Limits {
        body_time: Duration::from_millis(100),
        body_budget: 100_000_000_000,
        ..Limits::default()
    };
    let t = Instant::now();
    let err = start_with(
        r#"local s = "a" for i = 1, 1e12 do s:rep(100000) end"#,
        limits,
    )
    .err()
    .expect("the body is stopped");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(err.kind, ScriptErrorKind::Time, "{}", err.message);
    assert!(
        err.message.contains("script.lua:1: time limit of 100 ms"),
        "{}",
        err.message
    );
}

#[test]
fn a_script_cannot_grow_the_log_past_its_bounds() {
    // Two lines that killed the daemon: an 8 MiB string printed 2000 times.
    let (st, _s) = start(
        r#"local big = ("x"):rep(8 * 1024 * 1024)
           for i = 1, 2000 do print(big, i) end"#,
    );
    let lines = st.log().since(0);
    let kept: usize = lines.iter().map(|l| l.text.len()).sum();
    assert!(kept <= lunet_lua::log::DEFAULT_BYTES, "{kept} bytes of log");
    let last = lines.last().expect("the newest line is kept");
    assert_eq!(last.stream, Stream::Print);
    assert!(
        last.text.ends_with(&format!(
            "[... {} more bytes cut]",
            8 * 1024 * 1024 + 5 - 4096
        )),
        "{}",
        &last.text[last.text.len() - 60..]
    );
}

#[test]
fn a_huge_error_message_is_cut() {
    let (st, _s) = start(&register(r#"error(("e"):rep(4 * 1024 * 1024))"#));
    let out = st.run_netfilter(0, udp4(5, b"").nf());
    let msg = out.error.expect("the hook failed").message().to_string();
    assert!(
        msg.len() <= lunet_lua::MAX_ERROR + 64,
        "{} bytes",
        msg.len()
    );
    assert!(msg.contains("more bytes cut"), "{}", &msg[msg.len() - 40..]);
    let logged = st.log().since(0);
    assert!(logged.iter().all(|l| l.text.len() <= 4096 + 64));
}

#[test]
fn scripts_and_modules_are_read_only_from_regular_files() {
    let s = script("return true");
    std::os::unix::fs::symlink("/dev/zero", s.dir.path().join("zero.lua")).unwrap();
    std::fs::write(s.dir.path().join("main.lua"), "require('zero')").unwrap();
    let err = lunet_lua::State::load(
        &s.dir.path().join("main.lua"),
        lunet_lua::StateOptions::default(),
    )
    .err()
    .expect("require of a device fails");
    assert!(
        err.message.contains("not a regular file"),
        "{}",
        err.message
    );
    let err = lunet_lua::State::load(
        std::path::Path::new("/dev/zero"),
        lunet_lua::StateOptions::default(),
    )
    .err()
    .expect("a device is not a script");
    assert_eq!(err.kind, ScriptErrorKind::Io);
    assert!(
        err.message.contains("/dev/zero: not a regular file"),
        "{}",
        err.message
    );
}

#[test]
fn stack_overflows_name_the_script_line() {
    for body in [
        "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) local _ = t.x",
        "local s = setmetatable({}, {__tostring = function(x) return tostring(x) end}) tostring(s)",
    ] {
        let limits = Limits {
            hook_budget: 1_000_000_000,
            hook_time: Duration::from_secs(1),
            ..Limits::default()
        };
        let (st, _s) = start_with(&register(body), limits).unwrap();
        let out = st.run_netfilter(0, udp4(5, b"").nf());
        let msg = out.error.expect("the hook failed").message().to_string();
        assert!(msg.contains("script.lua:"), "{body}: {msg}");
        assert!(msg.contains("stack overflow"), "{body}: {msg}");
    }
}
