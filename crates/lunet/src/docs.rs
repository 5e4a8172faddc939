//! What lunet tells editors and shells about itself: the API's LuaLS definition files
//! (`lunet stubs`, from lunet-lua's [`lunet_lua::api`]), shell completions and man pages
//! (from the command line's definition, [`crate::cli`]).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Failure;

/// Writes the definition files into `dir`; returns how many.
pub fn stubs(dir: &Path) -> Result<usize, Failure> {
    let files = lunet_lua::api::stubs().map_err(|e| Failure::internal(e.to_string()))?;
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Failure::internal(format!("{}: {e}", path.display())))?;
    }
    Ok(files.len())
}

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "lunet", &mut std::io::stdout());
}

/// Writes `lunet.1` and one page per command (`lunet-run.1`, ...) into `dir`.
pub fn manpages(dir: &Path) -> Result<usize, Failure> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    let mut n = 0;
    let mut write = |name: String, cmd: clap::Command| -> Result<(), Failure> {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        std::fs::write(dir.join(format!("{name}.1")), out)?;
        n += 1;
        Ok(())
    };
    write("lunet".into(), cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("lunet-{}", sub.get_name());
        // The page's own name, so its NAME and SYNOPSIS read `lunet-run`.
        write(
            name.clone(),
            sub.clone()
                .name(name)
                .bin_name(format!("lunet {}", sub.get_name())),
        )?;
    }
    Ok(n)
}
