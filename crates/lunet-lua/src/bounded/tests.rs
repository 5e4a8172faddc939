//! lunet's bounded functions against Lua's own: the same results and messages on ordinary
//! calls, and a stop at the deadline where Lua's would never return.

use std::time::{Duration, Instant};

use mlua::{Lua, Value};

use crate::{Limits, ScriptErrorKind, State, StateOptions};

/// What a chunk gives in a state: its results joined by tostring, or its error message.
fn outcome(lua: &Lua, chunk: &str) -> String {
    match lua.load(chunk).eval::<mlua::MultiValue>() {
        Ok(vals) => vals
            .iter()
            .map(|v| match v {
                Value::String(s) => format!("{:?}", s.to_string_lossy()),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(","),
        Err(e) => format!("error: {}", crate::describe(&e)),
    }
}

/// A plain state with a memory cap (mlua aborts the process on an allocation of 2^62 bytes
/// in a state without one).
fn plain() -> Lua {
    let lua = Lua::new();
    lua.set_memory_limit(64 << 20).unwrap();
    lua
}

fn ours() -> Lua {
    let lua = plain();
    super::install(&lua).unwrap();
    lua
}

#[test]
fn ordinary_calls_give_what_lua_gives() {
    let cases = [
        r#"return string.rep("ab", 3)"#,
        r#"return string.rep("ab", 3, ",")"#,
        r#"return string.rep("ab", 0), string.rep("ab", -1), string.rep("", 5)"#,
        r#"return string.rep("x", 1, "sep")"#,
        r#"return ("é"):rep(2)"#,
        r#"return string.rep("x", 2^62)"#,
        r#"return string.rep()"#,
        r#"return string.rep("x", 1.5)"#,
        r#"return string.rep("x", "3")"#,
        r#"local t = {1, 2, 3} table.insert(t, 4) return table.concat(t, ",")"#,
        r#"local t = {1, 2, 3} table.insert(t, 1, 0) return table.concat(t, ",")"#,
        r#"local t = {1, 2, 3} table.insert(t, 4, 9) return table.concat(t, ",")"#,
        r#"local t = {1, 2, 3} table.insert(t, 5, 9)"#,
        r#"local t = {1, 2, 3} table.insert(t, 0, 9)"#,
        r#"table.insert({}, 1, 2, 3)"#,
        r#"table.insert({})"#,
        r#"table.insert(5, 1)"#,
        r#"table.insert(nil, 1)"#,
        r#"local t = {1, 2, 3} return table.remove(t), table.concat(t, ",")"#,
        r#"local t = {1, 2, 3} return table.remove(t, 1), table.concat(t, ",")"#,
        r#"local t = {} return table.remove(t), table.remove(t, 0), #t"#,
        r#"local t = {1} return table.remove(t, 3)"#,
        r#"local t = {1, 2} return table.remove(t, 3), #t"#,
        r#"return table.remove("x")"#,
        r#"local a = {1, 2, 3, 4} table.move(a, 1, 3, 2) return table.concat(a, ",")"#,
        r#"local a = {1, 2, 3, 4} table.move(a, 2, 4, 1) return table.concat(a, ",")"#,
        r#"local a, b = {1, 2, 3}, {} return table.concat(table.move(a, 1, 3, 1, b), ",")"#,
        r#"return table.move({}, 1, math.maxinteger, 2)"#,
        r#"return table.move({}, -1, math.maxinteger, 1)"#,
        r#"return table.move({}, 3, 1, 1) ~= nil"#,
        r#"return table.move({}, 1, 2)"#,
        r#"return string.find("hello world", "o w")"#,
        r#"return string.find("hello world", "(o)%s(w)")"#,
        r#"return ("hello"):find("l", -2), ("hello"):find("x"), ("hello"):find("", 10)"#,
        r#"return string.find("a.b", ".", 1, true), string.find(123, 2)"#,
        r#"return string.find("abc", "x[")"#,
        r#"return string.find("abc", "[a")"#,
        r#"return string.find()"#,
        r#"return string.find("a", "a", "x")"#,
        r#"return string.find("a", "a", 1.5)"#,
        r#"return string.match("key = val", "(%w+)%s*=%s*(%w+)")"#,
        r#"return string.match("abc", "()b()")"#,
        r#"return string.match("abc", "%")"#,
        r#"local t = {} for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do t[#t+1] = k .. v end return table.concat(t, ";")"#,
        r#"local t = {} for w in ("one two"):gmatch("%a+") do t[#t+1] = w end return table.concat(t, ",")"#,
        r#"return string.gsub("hello world", "o", "0")"#,
        r#"return string.gsub("hello world", "(%w+)", "<%1>")"#,
        r#"return string.gsub("hello", "", "-")"#,
        r#"return string.gsub("abc", "%w", "%2")"#,
        r#"return string.gsub("abc", "%w", "%z")"#,
        r#"return string.gsub("abc", "%w", {a = 1, b = true})"#,
        r#"return string.gsub("abc", "%w", function(c) if c == "b" then return nil end return c:upper() end)"#,
        r#"return string.gsub("abc", "%w", function() return {} end)"#,
        r#"return string.gsub("abc", "%w", 5, 2)"#,
        r#"return string.gsub("abc", "%w")"#,
        r#"return string.gsub("abc", "(", "x")"#,
        r#"local log = {}
           local p = setmetatable({}, {__index = function(_, k) return k * 10 end,
             __newindex = function(_, k, v) log[#log + 1] = k .. "=" .. v end,
             __len = function() return 3 end})
           table.insert(p, 1, 5) table.remove(p, 1) table.move(p, 1, 2, 5)
           return table.concat(log, " ")"#,
    ];
    let lua = plain();
    let mine = ours();
    for c in cases {
        assert_eq!(outcome(&mine, c), outcome(&lua, c), "{c}");
    }
}

fn body_with_deadline(body: &str) -> (Duration, crate::ScriptError) {
    let opts = StateOptions {
        limits: Limits {
            body_time: Duration::from_millis(200),
            ..Limits::default()
        },
        ..StateOptions::default()
    };
    let t = Instant::now();
    let err = State::from_source("hang.lua", body.as_bytes(), ".".into(), opts)
        .err()
        .unwrap_or_else(|| panic!("the body {body} was not stopped"));
    (t.elapsed(), err)
}

#[test]
fn loops_lua_cannot_interrupt_stop_at_the_deadline() {
    for body in [
        // The probe's rep loop: each call is short, the loop of C calls is not.
        r#"local s = "a" for i = 1, 1e9 do s:rep(100000) end"#,
        // One insert whose shifting loop a lying __len makes endless.
        r#"local t = setmetatable({}, {__len = function() return math.maxinteger - 1 end})
           table.insert(t, 1, "x")"#,
        r#"local t = setmetatable({}, {__len = function() return math.maxinteger end})
           table.remove(t, 1)"#,
        r#"table.move({}, 1, math.maxinteger, 1)"#,
        // The probe's pathological pattern: Lua's matcher backtracks for years.
        r#"return string.rep("a", 5000):find(".-.-.-.-.-b")"#,
        r#"return pcall(string.gsub, string.rep("a", 5000), ".-.-.-.-.-b", "")"#,
    ] {
        let (took, err) = body_with_deadline(body);
        assert_eq!(err.kind, ScriptErrorKind::Time, "{body}: {}", err.message);
        assert!(
            err.message.contains("time limit of 200 ms"),
            "{}",
            err.message
        );
        assert!(took < Duration::from_secs(2), "{body}: took {took:?}");
    }
}
