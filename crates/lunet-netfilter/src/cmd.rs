//! Running `iptables`, `ip6tables` and `nft` on the calling thread (so in its network
//! namespace), with errors that name the command line and carry its stderr.

use crate::error::{Error, Result};
use lunet_netns::find_program;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub(crate) fn available(name: &str) -> bool {
    find_program(name).is_some()
}

/// Runs `prog args...`, returns stdout.
pub(crate) fn run(prog: &str, args: &[&str]) -> Result<String> {
    run_with_stdin(prog, args, None)
}

/// Runs `prog args...` with `stdin` fed to it (for `nft -f -`), returns stdout.
pub(crate) fn run_with_stdin(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let command = match stdin {
        Some(text) => format!(
            "{prog} {} <<<'{}'",
            args.join(" "),
            text.trim_end().replace('\n', "; ")
        ),
        None => format!("{prog} {}", args.join(" ")),
    };
    tracing::debug!(%command, "run");
    let exe = find_program(prog).unwrap_or_else(|| PathBuf::from(prog));
    let spawn_err = |source| Error::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = Command::new(exe)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(text) = stdin {
        // Dropping the handle at the end of the block closes the pipe: EOF for the child.
        let mut pipe = child.stdin.take().expect("stdin was piped");
        pipe.write_all(text.as_bytes()).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(Error::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
