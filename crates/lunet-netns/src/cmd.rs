//! Running `ip` and friends, with errors that name the command and carry its stderr: on the
//! calling thread ([`run`]) or inside a namespace ([`run_in_netns`]).

use std::io;
use std::path::PathBuf;
use std::process::Command;

/// Looks a program up on `PATH`, then in /usr/sbin, /sbin, /usr/bin and /bin (root's tools are
/// there even when a test runner's `PATH` lacks them).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Runs `prog args...` on the calling thread (so in its network namespace) and returns stdout.
pub(crate) fn run(prog: &str, args: &[&str]) -> io::Result<String> {
    let exe = find_program(prog).unwrap_or_else(|| PathBuf::from(prog));
    let shown = format!("{prog} {}", args.join(" "));
    let out = Command::new(&exe)
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `{shown}`: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `prog args...` on a thread inside network namespace `ns` (so the program acts in
/// `ns`) and returns stdout, as [`run`] does.
pub fn run_in_netns(ns: &str, prog: &str, args: &[&str]) -> io::Result<String> {
    let prog = prog.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    crate::in_netns(ns, move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&prog, &args)
    })?
}
