//! The command line: every command, its arguments and their help (docs/cli.md).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use lunet_bench::gen::Spec;
use lunet_bench::{Filter, Method};
use lunet_runtime::protocol::{CpuSet, DEFAULT_SOCKET};
use lunet_runtime::runner;
use lunet_runtime::{check, daemon};
use lunet_types::Tier;

use crate::exit::{Code, Failure};

#[derive(Parser)]
#[command(
    name = "lunet",
    version,
    about = "Lua scripts at netfilter and XDP on a stock Linux kernel, no kernel module",
    after_help = "Examples:\n  sudo lunet demo\n  sudo lunet bench --quick\n  sudo lunet daemon &\n  sudo lunet run examples/port-filter.lua --name fw\n  sudo lunet stats fw\n  lunet replay examples/dns-blocklist.lua capture.pcap --json\n\nExit codes: 0 ok, 1 failure, 2 usage, 3 script error, 4 daemon unreachable, 5 no such state (or exists), 6 needs root."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Clone)]
pub struct SocketArg {
    /// The daemon's socket.
    #[arg(long, default_value = DEFAULT_SOCKET, value_name = "PATH")]
    pub socket: PathBuf,
}

/// Where `require` looks, after the script's own directory and the current directory.
#[derive(clap::Args, Clone)]
pub struct RootsArg {
    /// A script root: `require("a.b")` reads DIR/a/b.lua (or DIR/a/b/init.lua). Repeatable;
    /// looked in after the script's directory and the current directory, before the
    /// directories of LUNET_PATH (colon-separated).
    #[arg(long = "path", value_name = "DIR")]
    pub path: Vec<PathBuf>,
}

/// Lunatik's context words after the script (`lunatik run SCRIPT softirq`): accepted; the
/// context ones mean the same here (docs/lua-tier.md, "Script roots and Lunatik's command
/// form"), `percpu` runs a copy of the state per CPU (`--cpus all`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ContextArg {
    Softirq,
    Hardirq,
    Process,
    Percpu,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (states live as long as it does).
    #[command(after_help = "Example:\n  sudo lunet daemon --socket /run/lunet/lunet.sock")]
    Daemon {
        #[command(flatten)]
        socket: SocketArg,
        /// Where states pin their maps: <DIR>/<state>/<map> (made 0700; a link, another
        /// user's, or one another daemon holds is refused).
        #[arg(long, value_name = "DIR", default_value = runner::PIN_ROOT)]
        pin_root: PathBuf,
        /// Serve Prometheus metrics (OpenMetrics text) at http://ADDR:PORT/metrics: a port
        /// alone, or the flag alone (127.0.0.1:9750), means loopback. Off unless given.
        #[arg(long, value_name = "ADDR:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:9750")]
        metrics: Option<String>,
        /// Allow --metrics on an address other than loopback. The page has no authentication
        /// and names every state and hook with its traffic: keep it to your monitoring with
        /// a firewall or a network policy.
        #[arg(long, requires = "metrics")]
        metrics_allow_remote: bool,
        /// Keep the running states equal to the *.lua files of DIR (each file's options in
        /// its `--[[lunet ... ]]` header; see docs/deploy.md): a new file starts, a changed
        /// one is reloaded, a removed one stops, a broken one keeps the old version running.
        /// The flag alone means /etc/lunet/scripts.d. Re-read every --scripts-poll seconds,
        /// on SIGHUP and on `lunet apply`.
        #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = daemon::DEFAULT_SCRIPTS_DIR)]
        scripts: Option<PathBuf>,
        /// Seconds between two looks at the scripts directory (0: only on SIGHUP and `lunet
        /// apply`).
        #[arg(long, value_name = "SECS", default_value_t = 2, requires = "scripts")]
        scripts_poll: u64,
    },
    /// Start a script: run its body, attach its hooks, print where they went.
    #[command(
        after_help = "Examples:\n  sudo lunet run examples/port-filter.lua\n  sudo lunet run fw.lua --name fw --netns lab --budget 50000 --mem 16M\n  sudo lunet run fw.lua --foreground        # no daemon; Ctrl-C stops it\n  sudo lunet run examples/dnsblock/nf_dnsblock softirq --path /opt/lunatik   # Lunatik's form"
    )]
    Run {
        /// The script, or Lunatik's form: a name without `.lua` under a script root
        /// (`examples/dnsblock/nf_dnsblock`).
        script: PathBuf,
        /// Lunatik's context words (`softirq`, `hardirq`, `process`, `percpu`): accepted for
        /// Lunatik's command lines; a lunet state is one thread whatever they say.
        #[arg(value_enum, num_args = 0..=2)]
        context: Vec<ContextArg>,
        #[command(flatten)]
        roots: RootsArg,
        /// The state's name (default: the script's file stem).
        #[arg(long)]
        name: Option<String>,
        /// Network namespace (a name under /run/netns) whose traffic the hooks see.
        #[arg(long, value_name = "NS")]
        netns: Option<String>,
        /// Device for XDP hooks that name none.
        #[arg(long, value_name = "IFACE")]
        dev: Option<String>,
        /// Tier for hooks that do not demand one.
        #[arg(long, default_value = "auto", value_parser = parse_tier)]
        tier: Tier,
        /// Memory cap of the state (bytes; K, M, G suffixes).
        #[arg(long, value_name = "BYTES", value_parser = parse_size)]
        mem: Option<usize>,
        /// Lua instructions one hook call may run.
        #[arg(long, value_name = "N")]
        budget: Option<u64>,
        /// Milliseconds one hook call may take (default 100, at most 1000).
        #[arg(long, value_name = "MS")]
        timeout: Option<u64>,
        /// Per-CPU copies of the Lua tier: a count, `all`, or a CPU list (`0-3,6`). Each copy
        /// has its own Lua state and thread on its CPU; packets are spread by flow.
        #[arg(long, value_name = "N|all|LIST", value_parser = parse_cpus)]
        cpus: Option<CpuSet>,
        /// Run in this process, without a daemon, until Ctrl-C.
        #[arg(long)]
        foreground: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Stop a state: its hooks, rules and queues go away.
    Stop {
        name: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Replace a running state's script, losing no packet: each is judged by the old version
    /// or the new one. The state keeps its name, namespace, device, tier, limits, queues and
    /// rules, and the maps whose layout is unchanged keep their entries; compiled hooks switch
    /// by an atomic link update. A new script that fails (syntax, body, compile) or moves its
    /// netfilter hooks elsewhere is refused, and the old one runs on.
    #[command(after_help = "Example:\n  sudo lunet reload fw examples/port-filter.lua")]
    Reload {
        name: String,
        script: PathBuf,
        /// Print the new report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Read the daemon's scripts directory now and make the running states equal to it;
    /// print what each file runs, what changed, and why a file cannot run.
    #[command(
        after_help = "Example:\n  sudo lunet apply\n\nExit code 3 when a file cannot run (its older version, if any, runs on)."
    )]
    Apply {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// List running states.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Per-hook counters of a state: packets, verdicts by name, errors, budget hits.
    Stats {
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// A state's maps: list them, or get, set, delete and dump entries.
    #[command(
        after_help = "Keys and values are written as the map's layout says: integers (decimal or 0x hex) or text,\ncomma-separated when the layout has several fields.\n\nExamples:\n  lunet map rl                       # the state's maps and their layouts\n  lunet map rl buckets dump --json\n  lunet map rl buckets get 17\n  lunet map rl buckets set 17 0\n  lunet map rl buckets del 17"
    )]
    Map {
        /// The state.
        name: String,
        /// The map (omit to list the state's maps).
        map: Option<String>,
        /// get KEY | set KEY VALUE | del KEY | dump (default: dump when a map is named).
        #[arg(value_name = "OP")]
        op: Option<String>,
        key: Option<String>,
        value: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// What a state printed, and its errors.
    Logs {
        name: String,
        /// Keep printing new lines until the state stops.
        #[arg(long, short)]
        follow: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// What a script would become: each hook's tier and why, instruction counts, maps. No root
    /// needed (as root, compiled hooks also go through the kernel's verifier).
    #[command(
        after_help = "Examples:\n  lunet check examples/xdp-sni-blocklist.lua\n  lunet check examples/xdp-port-filter.lua --emit asm\n  lunet check fw.lua --json\n\nExit code 3 when a hook cannot run in any tier."
    )]
    Check {
        script: PathBuf,
        #[command(flatten)]
        roots: RootsArg,
        #[arg(long)]
        json: bool,
        /// Also print each compiled hook's AST, IR or eBPF (with the Lua lines interleaved).
        #[arg(long, value_enum)]
        emit: Option<EmitArg>,
        /// Tier for hooks that do not demand one.
        #[arg(long, default_value = "auto", value_parser = parse_tier)]
        tier: Tier,
    },
    /// Run a script's hooks over a pcap file, with no root and no kernel.
    #[command(after_help = "Example:\n  lunet replay examples/dns-blocklist.lua dns.pcap --json")]
    Replay {
        script: PathBuf,
        pcap: PathBuf,
        #[command(flatten)]
        roots: RootsArg,
        #[arg(long)]
        json: bool,
        /// Instruction budget per hook call.
        #[arg(long, value_name = "N")]
        budget: Option<u64>,
        #[arg(long, value_name = "BYTES", value_parser = parse_size)]
        mem: Option<usize>,
        /// `lua` runs the hooks in a Lua state; `kernel` compiles them and runs the programs
        /// with BPF_PROG_TEST_RUN (needs root).
        #[arg(long, default_value = "lua", value_parser = parse_tier)]
        tier: Tier,
        /// Also give every packet's verdict from every hook (JSON lines with --json).
        #[arg(long)]
        each: bool,
    },
    /// Measure packet filters: for each filter, each method's rate, CPU cost and correctness.
    ///
    /// Builds two network namespaces joined by a veth pair (198.18.0.1 -> 198.18.0.2), sends
    /// frames at the full rate of the XDP live-frames generator, and counts on the receiver
    /// what each method let through, round by round. Filters: udp-port (drop UDP to port 9,
    /// half the traffic), udp-flood (the same under a 15:1 flood), dns (drop queries for
    /// blocked.example and its subdomains), sni (drop TLS ClientHellos for blocked.example
    /// and its subdomains), accept-all (drop nothing). Methods: none (no filter), iptables-raw
    /// (a rule in raw PREROUTING), iptables-string (the name filters with -m string), nft-raw
    /// (an nft rule at prerouting), ebpf-c-xdp and ebpf-c-netfilter (the filter hand-written
    /// in C, compiled with clang), lunet-lua (the Lua tier through NFQUEUE at PRE_ROUTING,
    /// priority RAW), lunet-kernel-xdp (the filter's XDP example, compiled by lunet and
    /// attached on the receiving veth), lunet-kernel-netfilter (the filter as a netfilter
    /// hook compiled by lunet to a netfilter eBPF program at PRE_ROUTING; udp-port,
    /// udp-flood and accept-all so far, the others a row with the reason).
    #[command(
        after_help = "Examples:\n  sudo lunet bench --quick\n  sudo lunet bench --filters udp-port,dns --methods none,lunet-lua --json bench.json\n  sudo lunet bench --runs 5 --duration 10\n  sudo lunet bench --docs docs/benchmarks.md"
    )]
    Bench {
        /// One run of 2 s per filter and method (instead of 3 runs of 5 s).
        #[arg(long)]
        quick: bool,
        /// Also write the results as a JSON array to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also write the results as a Markdown page to FILE (e.g. docs/benchmarks.md), with
        /// a bar chart next to it (FILE with the extension .svg), the machine, the command and
        /// the methodology.
        #[arg(long, value_name = "FILE")]
        docs: Option<PathBuf>,
        /// Filters to measure, comma-separated (default: all).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        filters: Vec<Filter>,
        /// Methods to measure, comma-separated (default: all).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        methods: Vec<Method>,
        /// Seconds per run (0.2 to 60; default 5, or 2 with --quick).
        #[arg(long, value_name = "SECS", value_parser = parse_secs::<60>)]
        duration: Option<f64>,
        /// Runs per filter and method (1 to 20; default 3, or 1 with --quick).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
        runs: Option<u32>,
    },
    /// Send generated traffic through a testbed of two fresh namespaces, and count it.
    ///
    /// Builds two namespaces joined by a veth pair (198.18.0.1 -> 198.18.0.2), sends a mix
    /// of frames with the XDP live-frames generator (XDP_TX run by BPF_PROG_TEST_RUN on the
    /// sender's veth) until --duration, --count or Ctrl-C, prints frames sent, the rate, and
    /// what reached the receiver's veth, and removes the namespaces. A mix is a list of
    /// KIND:VALUE[@WEIGHT]: udp:PORT (60-byte UDP frames to PORT), dns:NAME (DNS queries for
    /// NAME), sni:NAME (TCP segments to port 443 carrying a TLS ClientHello for NAME); spec i
    /// is sent from source port 40000+i. Default mix: udp:9. The receiver has no socket
    /// for the frames (a UDP one costs it an ICMP error, rate-limited); with --drop it drops
    /// them at XDP instead, which shows the generator's own limit.
    #[command(
        after_help = "Examples:\n  sudo lunet gen\n  sudo lunet gen udp:9@3 udp:53 --duration 10\n  sudo lunet gen dns:www.blocked.example dns:www.allowed.example --rate 100000 --json\n  sudo lunet gen sni:www.blocked.example --count 1000000\n  lunet gen dns:www.blocked.example sni:www.blocked.example --pcap mix.pcap"
    )]
    Gen(GenArgs),
    /// Write LuaLS definition files (---@meta) for every module and object lunet offers into
    /// DIR, for an editor or a checker (emmylua_check, lua-language-server) to know the API.
    #[command(
        after_help = "Example:\n  lunet stubs ~/.local/share/lunet/stubs\n  # then, in .luarc.json: {\"workspace\": {\"library\": [\"~/.local/share/lunet/stubs\"]}}\n\nThe Debian package installs them in /usr/share/lunet/stubs."
    )]
    Stubs {
        /// Where to write them (made when missing; files of the same names are replaced).
        dir: PathBuf,
    },
    /// Print a shell completion script for lunet (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  lunet completions bash > /etc/bash_completion.d/lunet")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write lunet's man pages (lunet.1, lunet-run.1, ...) into DIR.
    #[command(hide = true)]
    Manpages { dir: PathBuf },
    /// A self-contained demo: two namespaces, a filter script, real traffic, a verdict table.
    Demo {
        /// Datagrams sent per destination port.
        #[arg(long, default_value_t = 20)]
        count: usize,
    },
}

/// What `lunet gen` was asked for.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// The mix (default: udp:9).
    #[arg(value_name = "SPEC")]
    pub specs: Vec<Spec>,
    /// Frames per second (default: as fast as the generator goes).
    #[arg(long, value_name = "PPS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Seconds to send (0.2 to 600).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_secs::<600>)]
    pub duration: f64,
    /// Stop after this many frames.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write one cycle of the mix to FILE (a pcap for `lunet replay`) instead of sending.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// The receiver drops every frame at XDP (the generator's own limit) instead of passing
    /// it to its stack.
    #[arg(long)]
    pub drop: bool,
}

/// What `check --emit` prints for each compiled hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmitArg {
    Ast,
    Ir,
    Asm,
}

impl From<EmitArg> for check::Emit {
    fn from(e: EmitArg) -> check::Emit {
        match e {
            EmitArg::Ast => check::Emit::Ast,
            EmitArg::Ir => check::Emit::Ir,
            EmitArg::Asm => check::Emit::Asm,
        }
    }
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    Tier::parse(s).ok_or_else(|| format!("'{s}' is not a tier (auto, kernel, lua)"))
}

/// Seconds from 0.2 to `MAX`.
fn parse_secs<const MAX: u32>(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| (0.2..=f64::from(MAX)).contains(v))
        .ok_or_else(|| format!("'{s}' is not a number of seconds from 0.2 to {MAX}"))
}

fn parse_cpus(s: &str) -> Result<CpuSet, String> {
    CpuSet::parse(s, online_cpus())
}

fn online_cpus() -> usize {
    lunet_netns::online_cpus()
}

/// `--cpus all`.
pub fn all_cpus() -> CpuSet {
    CpuSet::Count(online_cpus().clamp(1, u16::MAX as usize) as u16)
}

fn parse_size(s: &str) -> Result<usize, String> {
    runner::parse_size(s).map_err(|e| e.to_string())
}

impl RootsArg {
    /// The roots after the script's directory, absolute and in order: the current
    /// directory, each `--path`, then each directory of `LUNET_PATH`. (A daemon's current
    /// directory is not the user's: the client sends these.)
    pub fn resolve(&self) -> Result<Vec<PathBuf>, Failure> {
        let env = std::env::var_os("LUNET_PATH").unwrap_or_default();
        let mut out: Vec<PathBuf> = Vec::new();
        let given = std::iter::once(PathBuf::from("."))
            .chain(self.path.iter().cloned())
            .chain(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
        for p in given {
            let abs = std::path::absolute(&p)
                .map_err(|e| Failure::new(Code::Usage, format!("--path {}: {e}", p.display())))?;
            if !out.contains(&abs) {
                out.push(abs);
            }
        }
        Ok(out)
    }
}

/// The script file a command line names (as given, or Lunatik's name without `.lua` under
/// one of `roots`), made absolute for the daemon.
pub fn script_file(script: &std::path::Path, roots: &[PathBuf]) -> Result<PathBuf, Failure> {
    let found = lunet_lua::resolve_script(script, roots).ok_or_else(|| {
        let also = if script.extension().is_none() {
            format!(
                " (nor {}.lua under {})",
                script.display(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        Failure::script(format!(
            "{}: cannot read script: no such file{also}",
            script.display()
        ))
    })?;
    std::fs::canonicalize(&found)
        .map_err(|e| Failure::script(format!("{}: cannot read script: {e}", found.display())))
}
