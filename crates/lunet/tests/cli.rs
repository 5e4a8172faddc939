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
