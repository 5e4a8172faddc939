//! The command line without root: exit codes and messages a shell user relies on.

mod support;

use support::*;

#[test]
fn run_without_a_daemon_says_so_with_exit_code_4() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody-here.sock");
    let o = lunet(&[
        "run",
        examples_dir().join("port-filter.lua").to_str().unwrap(),
        "--socket",
        socket.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("cannot reach the lunet daemon"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_script_is_a_script_error() {
    let o = lunet(&["run", "/nonexistent/script.lua"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("/nonexistent/script.lua: cannot read script"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_eq!(
        lunet(&["run", "x.lua", "--tier", "gpu"]).status.code(),
        Some(2)
    );
    assert_eq!(
        lunet(&["run", "x.lua", "--mem", "12"]).status.code(),
        Some(2)
    );
    assert_eq!(lunet(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn help_shows_examples() {
    let o = lunet(&["run", "--help"]);
    assert!(stdout(&o).contains("Examples:"), "{}", stdout(&o));
    assert!(stdout(&lunet(&["--help"])).contains("Exit codes"));
}

#[test]
fn commands_that_need_root_say_so_with_exit_code_6() {
    // As root, drop to uid 65534 for the check; as anyone else, run directly.
    let root = lunet_testkit::is_root();
    for args in [
        &["demo"][..],
        &["daemon", "--socket", "/tmp/lunet-never.sock"][..],
    ] {
        let o = if root {
            std::process::Command::new("setpriv")
                .args([
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    lunet_bin(),
                ])
                .args(args)
                .output()
                .expect("setpriv (util-linux) runs")
        } else {
            lunet(args)
        };
        if root && stderr(&o).contains("Permission denied") {
            eprintln!(
                "SKIP: uid 65534 cannot reach {}: {}",
                lunet_bin(),
                stderr(&o)
            );
            return;
        }
        assert_eq!(o.status.code(), Some(6), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("needs root"), "{}", stderr(&o));
    }
}

#[test]
fn check_emit_ir_prints_each_hook_s_ir_with_its_lua_lines() {
    // No root needed: the IR is the compiler's, before any kernel sees it.
    let script = examples_dir().join("xdp-port-filter.lua");
    let o = lunet(&["check", script.to_str().unwrap(), "--emit", "ir"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    for want in [
        "; line ",
        "check data + 14 <= data_end else L0",
        "be16(",
        "return 2",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    let asm = lunet(&["check", script.to_str().unwrap(), "--emit", "asm"]);
    assert!(stdout(&asm).contains("exit"), "{}", text(&asm));
    let bad = lunet(&["check", script.to_str().unwrap(), "--emit", "bytecode"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

#[test]
fn check_names_every_construct_outside_the_subset_in_one_run() {
    // Three constructs the kernel tier cannot compile, on three lines, and a line that only
    // fails because of the first (it uses `t`): one run names the three, each with its
    // file:line:col, and not the consequence.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("many.lua");
    std::fs::write(
        &script,
        "local xdp = require('xdp')\n\
         local function hook(packet)\n\
         \x20 local t = {}\n\
         \x20 local n = tonumber('5')\n\
         \x20 local k = t[1]\n\
         \x20 goto out\n\
         \x20 ::out::\n\
         \x20 return xdp.PASS\n\
         end\n\
         xdp.attach(hook)\n",
    )
    .unwrap();
    let o = lunet(&["check", script.to_str().unwrap()]);
    let out = text(&o);
    for at in [
        "many.lua:3:13",
        "many.lua:4:13",
        "many.lua:6:3",
        "many.lua:7:3",
    ] {
        assert!(out.contains(at), "no {at} in:\n{out}");
    }
    assert!(
        !out.contains("many.lua:5:"),
        "a consequence was reported:\n{out}"
    );
    let json = lunet(&["check", script.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let constructs = v["hooks"][0]["constructs"].as_array().unwrap();
    assert_eq!(constructs.len(), 4, "{constructs:?}");
    assert!(constructs[2]
        .as_str()
        .unwrap()
        .contains("many.lua:6:3: `goto`"));
}
