//! `lunet`: Lua scripts at netfilter (and XDP) on a stock Linux kernel, with no kernel module.
//!
//! The binary is thin: arguments ([`cli`]) -> a request to the daemon ([`client`]), or a
//! runner in-process (`run --foreground`, `demo`), a replay or a check (lunet-runtime), the
//! bench or the generator (lunet-bench); then the report printed ([`show`]) and the exit
//! code ([`exit`]). See docs/cli.md.

mod cli;
mod client;
mod demo;
mod docs;
mod exit;
mod show;
mod signal;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use lunet_lua::Limits;

use cli::{Cli, Command, GenArgs};
use client::Client;
use exit::{require_root, Code, Failure};
use lunet_runtime::protocol::{self, Request, RunRequest};
use lunet_runtime::{check, daemon, replay, runner};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(
        cli.command,
        Command::Daemon { .. }
            | Command::Run {
                foreground: true,
                ..
            }
    ) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LUNET_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("lunet: {}", f.message);
            ExitCode::from(f.code as u8)
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Daemon {
            socket,
            pin_root,
            metrics,
            metrics_allow_remote,
            scripts,
            scripts_poll,
        } => {
            require_root("lunet daemon")?;
            let metrics = metrics
                .map(|m| daemon::MetricsConfig::parse(&m, metrics_allow_remote))
                .transpose()
                .map_err(|e| Failure::new(Code::Usage, e.to_string()))?;
            let scripts = scripts
                .map(|dir| {
                    std::path::absolute(&dir).map(|dir| daemon::ScriptsConfig {
                        dir,
                        poll: (scripts_poll > 0).then(|| Duration::from_secs(scripts_poll)),
                    })
                })
                .transpose()?;
            run_daemon(&socket.socket, &pin_root, metrics, scripts)
        }
        Command::Apply { json, socket } => {
            let report: protocol::ApplyReport = Client::call(&socket.socket, &Request::Apply)?;
            show::apply(&report, json);
            if report.error.is_some() || report.files.iter().any(|f| f.error.is_some()) {
                return Err(Failure::script(
                    "a file of the scripts directory cannot run (see above)",
                ));
            }
            Ok(())
        }
        Command::Run {
            script,
            context,
            roots,
            name,
            netns,
            dev,
            tier,
            mem,
            budget,
            timeout,
            cpus,
            foreground,
            json,
            socket,
        } => {
            let path = roots.resolve()?;
            let script = cli::script_file(&script, &path)?;
            // Lunatik's `percpu`: a runtime per CPU, here a copy of the state per CPU.
            let cpus = cpus.or_else(|| {
                context
                    .iter()
                    .any(|c| matches!(c, cli::ContextArg::Percpu))
                    .then(cli::all_cpus)
            });
            let request = RunRequest {
                script,
                name,
                netns,
                dev,
                tier,
                mem,
                budget,
                timeout_ms: timeout,
                path,
                cpus,
            };
            if foreground {
                run_foreground(request, json)
            } else {
                let report: protocol::StateReport =
                    Client::call(&socket.socket, &Request::Run(request))?;
                show::started(&report, json);
                Ok(())
            }
        }
        Command::Stop { name, socket } => {
            let _: serde_json::Value =
                Client::call(&socket.socket, &Request::Stop { name: name.clone() })?;
            println!("stopped state '{name}'");
            Ok(())
        }
        Command::Reload {
            name,
            script,
            json,
            socket,
        } => {
            // The state keeps its own roots; these only find Lunatik's script names.
            let roots = cli::RootsArg { path: Vec::new() }.resolve()?;
            let script = cli::script_file(&script, &roots)?;
            let report: protocol::StateReport =
                Client::call(&socket.socket, &Request::Reload { name, script })?;
            show::started(&report, json);
            Ok(())
        }
        Command::List { json, socket } => {
            let list: Vec<protocol::ListEntry> = Client::call(&socket.socket, &Request::List)?;
            show::list(&list, json);
            Ok(())
        }
        Command::Stats { name, json, socket } => {
            let stats: protocol::StatsReport =
                Client::call(&socket.socket, &Request::Stats { name })?;
            show::stats(&stats, json);
            Ok(())
        }
        Command::Map {
            name,
            map,
            op,
            key,
            value,
            json,
            socket,
        } => {
            let op = match (map.as_ref(), op.as_deref()) {
                (None, _) => protocol::MapOp::List,
                (Some(_), None | Some("dump")) => protocol::MapOp::Dump,
                (Some(_), Some("get")) => protocol::MapOp::Get,
                (Some(_), Some("set")) => protocol::MapOp::Set,
                (Some(_), Some("del")) => protocol::MapOp::Del,
                (Some(_), Some(other)) => {
                    return Err(Failure::new(
                        exit::Code::Usage,
                        format!("'{other}' is not a map operation (get, set, del, dump)"),
                    ))
                }
            };
            let result: serde_json::Value = Client::call(
                &socket.socket,
                &Request::Map {
                    name,
                    map,
                    op,
                    key,
                    value,
                },
            )?;
            show::map(op, &result, json);
            Ok(())
        }
        Command::Logs {
            name,
            follow,
            json,
            socket,
        } => logs(&socket.socket, name, follow, json),
        Command::Replay {
            script,
            pcap,
            roots,
            json,
            budget,
            mem,
            tier,
            each,
        } => {
            let defaults = Limits::default();
            let limits = Limits {
                hook_budget: budget.unwrap_or(defaults.hook_budget),
                memory: mem.unwrap_or(defaults.memory),
                ..defaults
            };
            let roots = roots.resolve()?;
            let script = cli::script_file(&script, &roots)?;
            let report = replay::replay(&script, &roots, &pcap, limits, tier, each)?;
            show::replay(&report, json);
            Ok(())
        }
        Command::Demo { count } => demo::run(count),
        Command::Stubs { dir } => {
            let n = docs::stubs(&dir)?;
            println!("wrote {n} definition file(s) to {}", dir.display());
            Ok(())
        }
        Command::Completions { shell } => {
            docs::completions(shell);
            Ok(())
        }
        Command::Manpages { dir } => {
            let n = docs::manpages(&dir)?;
            println!("wrote {n} man page(s) to {}", dir.display());
            Ok(())
        }
        Command::Check {
            script,
            roots,
            json,
            emit,
            tier,
        } => {
            let roots = roots.resolve()?;
            let script = cli::script_file(&script, &roots)?;
            let report = check::check(&script, &roots, tier, emit.map(Into::into))?;
            show::check(&report, json);
            if report.ok() {
                Ok(())
            } else {
                Err(Failure::script(format!(
                    "{}: a hook cannot run in any tier (see above)",
                    script.display()
                )))
            }
        }
        Command::Bench {
            quick,
            json,
            docs,
            filters,
            methods,
            duration,
            runs,
        } => {
            require_root("lunet bench")?;
            let options = lunet_bench::Options {
                quick,
                json,
                docs,
                filters,
                methods,
                duration,
                runs,
            };
            lunet_bench::run(options, signal::quit_flag()?).map_err(Failure::from)
        }
        Command::Gen(a) => gen(a),
    }
}

fn logs(socket: &Path, name: String, follow: bool, json: bool) -> Result<(), Failure> {
    let mut c = Client::connect(socket)?;
    c.send(&Request::Logs {
        name,
        follow,
        since: 0,
    })?;
    if !follow {
        let lines: Vec<lunet_lua::Line> = serde_json::from_value(c.next()?.unwrap_or_default())
            .map_err(|e| Failure::internal(e.to_string()))?;
        lines.iter().for_each(|l| show::log_line(l, json));
        return Ok(());
    }
    loop {
        let event: protocol::LogEvent = serde_json::from_value(c.next()?.unwrap_or_default())
            .map_err(|e| Failure::internal(e.to_string()))?;
        match event {
            protocol::LogEvent::Line(l) => show::log_line(&l, json),
            protocol::LogEvent::End { reason } => {
                eprintln!("lunet: {reason}");
                return Ok(());
            }
        }
    }
}

/// `lunet gen`: the mix to a pcap file, or sent through a testbed (root).
fn gen(a: GenArgs) -> Result<(), Failure> {
    use lunet_bench::gen;
    let specs = gen::mix(&a.specs)?;
    if let Some(path) = &a.pcap {
        let n = gen::write_pcap(path, &specs)?;
        println!("wrote {n} frame(s) to {}", path.display());
        return Ok(());
    }
    require_root("lunet gen")?;
    let options = gen::Options {
        specs,
        rate: a.rate,
        duration: a.duration,
        count: a.count,
        drop: a.drop,
    };
    let report = gen::run(&options, signal::quit_flag()?)?;
    show::gen(&report, a.json);
    Ok(())
}

/// `lunet daemon`: serves until SIGINT or SIGTERM, then stops every state.
fn run_daemon(
    socket: &Path,
    pin_root: &Path,
    metrics: Option<daemon::MetricsConfig>,
    scripts: Option<daemon::ScriptsConfig>,
) -> Result<(), Failure> {
    // The metrics port first: one in use stops the start before the daemon takes over.
    let metrics = metrics
        .map(|m| daemon::MetricsListener::bind(&m))
        .transpose()
        .map_err(|e| Failure::internal(e.to_string()))?;
    let options = daemon::ServerOptions {
        scripts,
        ..Default::default()
    };
    let mut server = daemon::Server::bind_opts(socket, pin_root, options)
        .map_err(|e| Failure::internal(e.to_string()))?;
    if let Some(m) = metrics {
        server.serve_metrics(m);
    }
    signal::daemon_signals(server.stopper(), server.rereader())?;
    server.run();
    Ok(())
}

/// `run --foreground`: the runner in this process until Ctrl-C (or SIGTERM).
fn run_foreground(r: RunRequest, json: bool) -> Result<(), Failure> {
    require_root("lunet run --foreground")?;
    let spec = runner::RunSpec::from_request(r, std::path::Path::new(runner::PIN_ROOT))
        .map_err(|e| Failure::new(Code::Usage, e.to_string()))?;
    let quit = signal::quit_flag()?;
    let running = runner::Running::start(spec)?;
    show::started(&running.report(), json);
    let mut since = 0;
    while !quit.load(Ordering::SeqCst) && running.is_running() {
        for l in running
            .log
            .wait_since(since, std::time::Duration::from_millis(200))
        {
            since = l.seq + 1;
            show::log_line(&l, json);
        }
    }
    let stats = running.stats();
    running.stop();
    eprintln!("lunet: stopped; rules and queues removed");
    show::stats(&stats, json);
    Ok(())
}
