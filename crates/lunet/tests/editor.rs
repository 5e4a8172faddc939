//! What editors and shells are told: `lunet stubs` against real Lua checkers (emmylua_check
//! knows LuaLS annotations; luacheck lints with the sandbox's globals), shell completions
//! and man pages from the command line's definition.
//!
//! The checkers are installed by scripts/deps.sh. Where one is missing a test says so and
//! skips, except in CI (`CI` set), where a missing checker fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// The stubs in a fresh directory, and a checker config (the example's, pointed at them).
fn stubs_and_config(dir: &Path) -> PathBuf {
    let stubs = dir.join("stubs");
    let o = lunet(&["stubs", stubs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let example = std::fs::read_to_string(examples_dir().join(".luarc.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&example).unwrap();
    config["workspace"]["library"] = serde_json::json!([stubs]);
    let path = dir.join("luarc.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn emmylua_check(bin: &Path, config: &Path, dir: &Path) -> (bool, String) {
    let o = Command::new(bin)
        .arg("-c")
        .arg(config)
        .arg("--warnings-as-errors")
        .arg(dir)
        .output()
        .unwrap();
    (o.status.success(), text(&o))
}

#[test]
fn every_example_checks_clean_against_the_stubs_and_a_misspelt_api_name_is_caught() {
    let Some(bin) = checker("emmylua_check", "cargo install --locked emmylua_check") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = stubs_and_config(tmp.path());
    let (ok, out) = emmylua_check(&bin, &config, &examples_dir());
    assert!(ok, "the examples against the stubs:\n{out}");

    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("typos.lua"),
        r#"local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux").nf
netfilter.register{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)
  if byteorder.ntoh61(skb:getuint16(2)) == 53 then return nf.action.DROPP end
  return skb:getuint61(9)
end }
netfilter.regster{}
"#,
    )
    .unwrap();
    let (ok, out) = emmylua_check(&bin, &config, &bad);
    assert!(!ok, "misspelt names pass:\n{out}");
    for name in ["ntoh61", "DROPP", "getuint61", "regster"] {
        assert!(
            out.contains(&format!("Undefined field `{name}`")),
            "{name} is not named:\n{out}"
        );
    }
}

#[test]
fn luacheck_finds_the_examples_clean_and_knows_the_sandbox_has_no_io() {
    let Some(bin) = checker("luacheck", "apt-get install lua-check") else {
        return;
    };
    let rc = examples_dir().join(".luacheckrc");
    let run = |dir: &Path| {
        let o = Command::new(&bin)
            .arg("--no-color")
            .arg("--config")
            .arg(&rc)
            .arg(".")
            .current_dir(dir)
            .output()
            .unwrap();
        (o.status.success(), text(&o))
    };
    let (ok, out) = run(&examples_dir());
    assert!(ok, "{out}");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("escape.lua"),
        "local f = io.open('/etc/shadow')\nlocal t = debug.traceback\nreturn f, t, os.execute\n",
    )
    .unwrap();
    let (ok, out) = run(tmp.path());
    assert!(!ok, "{out}");
    for what in [
        "undefined variable 'io'",
        "undefined variable 'debug'",
        "undefined field 'execute'",
    ] {
        assert!(out.contains(what), "{what}:\n{out}");
    }
}

#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    let o = lunet(&["completions", "bash"]);
    assert!(o.status.success(), "{}", text(&o));
    let bash = stdout(&o);
    for word in ["_lunet", "apply", "stubs", "--scripts", "--metrics"] {
        assert!(bash.contains(word), "{word} not in the bash completion");
    }
    for shell in ["zsh", "fish"] {
        let o = lunet(&["completions", shell]);
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = lunet(&["manpages", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let run = std::fs::read_to_string(tmp.path().join("lunet-run.1")).unwrap();
    assert!(
        run.contains(".TH lunet-run 1"),
        "{}",
        &run[..run.len().min(300)]
    );
    assert!(run.contains("\\-\\-netns"), "the page lists the options");
    for page in [
        "lunet.1",
        "lunet-daemon.1",
        "lunet-apply.1",
        "lunet-stubs.1",
    ] {
        assert!(tmp.path().join(page).is_file(), "{page}");
    }
    assert!(
        !tmp.path().join("lunet-manpages.1").exists(),
        "the hidden command has no page"
    );
    if let Some(man) = checker("man", "apt-get install man-db") {
        let o = Command::new(man)
            .arg("-l")
            .arg(tmp.path().join("lunet-run.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(stdout(&o).contains("lunet-run"), "{}", text(&o));
    }
}
