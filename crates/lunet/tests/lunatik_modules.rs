//! Lunatik's module loading and its rcu, linux, byteorder and bpf API under `lunet run`, with
//! real traffic in namespaces, counted at the receiver: Lunatik's own examples/dnsblock read
//! from `LUNATIK_DIR` (skipped with a message when it is unset), and an in-tree script laid
//! out the same way (tests/lunatik-scripts), so the path they take (Lunatik's command form, a
//! script root, a dotted `require`) is always tested. (tests/lunatik.rs has the skb and data
//! side.)

mod support;

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use support::*;

const WAIT: Duration = Duration::from_millis(800);

/// `lunet ARGS --socket <d's>` run from `cwd`, with `env` set.
fn cli_in(d: &Daemon, cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let socket = d.socket.clone();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--socket", socket.to_str().unwrap()]);
    Command::new(lunet_bin())
        .current_dir(cwd)
        .args(&all)
        .env("LUNET_LOG", "warn")
        .env_remove("LUNET_PATH")
        .envs(env.iter().copied())
        .output()
        .expect("lunet runs")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lunatik-scripts")
}

/// Sends one DNS query per name from the sender to port 53 of the receiver and returns the
/// names that arrived, sorted.
fn queries_through(bed: &Testbed, names: &[&str]) -> Vec<String> {
    let dst = SocketAddrV4::new(bed.receiver_addr(), 53);
    let sink = UdpSink::bind(bed.receiver_ns(), dst).unwrap();
    let queries: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| dns_query(i as u16, n))
        .collect();
    udp_send(bed.sender_ns(), dst, &queries).unwrap();
    let mut arrived: Vec<String> = sink
        .recv_for(WAIT, names.len())
        .unwrap()
        .iter()
        .map(|p| qname(p))
        .collect();
    arrived.sort();
    arrived
}

/// The query name of a DNS query payload, dotted.
fn qname(payload: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut at = 12;
    while let Some(&len) = payload.get(at) {
        if len == 0 || at + 1 + len as usize > payload.len() {
            break;
        }
        labels.push(String::from_utf8_lossy(&payload[at + 1..at + 1 + len as usize]).into_owned());
        at += 1 + len as usize;
    }
    labels.join(".")
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn lunatiks_dnsblock_runs_unchanged_and_drops_queries_for_its_listed_names() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let Some(lunatik) = std::env::var_os("LUNATIK_DIR").map(PathBuf::from) else {
        eprintln!(
            "skipped: set LUNATIK_DIR to a checkout of Lunatik (its examples/dnsblock is run unchanged)"
        );
        return;
    };
    assert!(
        lunatik.join("examples/dnsblock/common.lua").is_file(),
        "LUNATIK_DIR={} has no examples/dnsblock/common.lua",
        lunatik.display()
    );
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    // Lunatik's own command line, from the folder that holds its `examples/`.
    let o = cli_in(
        &d,
        &lunatik,
        &[],
        &[
            "run",
            "examples/dnsblock/nf_dnsblock",
            "softirq",
            "--netns",
            bed.sender_ns(),
            "--name",
            "dnsblock",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Its blocklist is github.com and gitlab.com, matched as patterns anywhere in the name.
    let arrived = queries_through(
        &bed,
        &[
            "github.com",
            "www.github.com",
            "gitlab.com",
            "example.com",
            "lunet.test",
        ],
    );
    assert_eq!(arrived, sorted(&["example.com", "lunet.test"]));
    let stats = d.stats_json("dnsblock");
    assert_eq!(stats["hooks"][0]["verdicts"]["DROP"], 3, "{stats}");
    let logs = stdout(&d.cli(&["logs", "dnsblock"]));
    assert!(
        logs.contains("DNS query for") && logs.contains("blocked"),
        "{logs}"
    );
}

#[test]
fn a_lunatik_style_script_finds_its_module_by_a_dotted_name_under_a_root() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let mut d = Daemon::start();
    let names = [
        "blocked.test",
        "www.blocked.test",
        "ads.example",
        "allowed.test",
        "example.org",
    ];
    let passing = sorted(&["allowed.test", "example.org"]);

    // 1. Lunatik's form from the folder above examples/: the current directory is a root.
    let o = cli_in(
        &d,
        &fixtures(),
        &[],
        &[
            "run",
            "examples/nameblock/nf_nameblock",
            "softirq",
            "--netns",
            bed.sender_ns(),
            "--name",
            "nameblock",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(queries_through(&bed, &names), passing);
    let stats = d.stats_json("nameblock");
    assert_eq!(stats["hooks"][0]["verdicts"]["DROP"], 3, "{stats}");
    let logs = stdout(&d.cli(&["logs", "nameblock"]));
    assert!(logs.contains("blocked.test dropped"), "{logs}");
    assert!(d.cli(&["stop", "nameblock"]).status.success());

    // 2. From anywhere else, the root named with --path (the daemon gets it in the request's
    //    `path`), and with LUNET_PATH.
    let elsewhere = tempfile::tempdir().unwrap();
    let fx = fixtures();
    for (env, flag) in [
        (vec![], vec!["--path", fx.to_str().unwrap()]),
        (vec![("LUNET_PATH", fx.to_str().unwrap())], vec![]),
    ] {
        let mut args = vec![
            "run",
            "examples/nameblock/nf_nameblock",
            "--netns",
            bed.sender_ns(),
            "--name",
            "nameblock2",
        ];
        args.extend(flag.iter().copied());
        let o = cli_in(&d, elsewhere.path(), &env, &args);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(queries_through(&bed, &names), passing);
        assert!(d.cli(&["stop", "nameblock2"]).status.success());
    }

    // A daemon that crashed starts the state again from its record, roots included.
    let o = cli_in(
        &d,
        elsewhere.path(),
        &[],
        &[
            "run",
            "examples/nameblock/nf_nameblock",
            "--path",
            fx.to_str().unwrap(),
            "--netns",
            bed.sender_ns(),
            "--name",
            "nameblock3",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    d.kill();
    d.spawn();
    let list: serde_json::Value =
        serde_json::from_slice(&d.cli(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["name"], "nameblock3", "the state is back: {list}");
    assert_eq!(queries_through(&bed, &names), passing);
    assert!(d.cli(&["stop", "nameblock3"]).status.success());

    // 3. Without the root the module is not found, and the error says where it looked.
    let o = cli_in(
        &d,
        elsewhere.path(),
        &[],
        &[
            "run",
            fx.join("examples/nameblock/nf_nameblock.lua")
                .to_str()
                .unwrap(),
            "--netns",
            bed.sender_ns(),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("nf_nameblock.lua:7: module 'examples.nameblock.common' not found"),
        "{err}"
    );
    // A script name that is neither a file nor a module under a root.
    let o = cli_in(
        &d,
        elsewhere.path(),
        &[],
        &["run", "examples/nope", "softirq"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stderr(&o).contains("examples/nope.lua under"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_script_under_lunet_run_counts_in_a_map_another_tool_pinned() {
    lunet_testkit::require_root!("namespaces, NFQUEUE and maps pinned in bpffs");
    use lunet_bpf::map::{map_type, Map};
    // Another tool's map, pinned at the top of bpffs (not in lunet's pin root).
    lunet_bpf::pin::ensure_bpffs().unwrap();
    let pin = PathBuf::from(format!(
        "/sys/fs/bpf/lunet-test-lunatik-{}",
        std::process::id()
    ));
    struct Unpin(PathBuf);
    impl Drop for Unpin {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _unpin = Unpin(pin.clone());
    let map = Map::create(map_type::HASH, 2, 8, 16, "ports").unwrap();
    lunet_bpf::pin::pin(&map, &pin).unwrap();
    // Port 9 is blocked by the other tool's entry.
    map.update(&9u16.to_ne_bytes(), &1u64.to_ne_bytes(), 0)
        .unwrap();

    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        "ports.lua",
        &format!(
            r#"local netfilter = require("netfilter")
local nf = require("linux.nf")
local byteorder = require("byteorder")
local ports = require("bpf.map").hash({pin:?}, "I2", "I8")
netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, priority = nf.ip.pri.FILTER,
  hook = function(skb)
    if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
    local port = byteorder.ntoh16(skb:getuint16((skb:getuint8(0) & 0x0f) * 4 + 2))
    local seen = (ports[port] or 0) + 1
    ports[port] = seen
    return seen > 1 and port == 9 and nf.action.DROP or nf.action.ACCEPT
  end }}
"#,
            pin = pin.display().to_string()
        ),
    );
    d.run_ok(&script, bed.receiver_ns(), &["--name", "ports"]);
    let through9 = send_and_count(&bed, 9, 5, WAIT);
    let through7 = send_and_count(&bed, 7000, 5, WAIT);
    assert_eq!(through9, 0, "port 9 is listed in the other tool's map");
    assert_eq!(through7, 5);
    let count = |port: u16| {
        u64::from_ne_bytes(
            map.lookup(&port.to_ne_bytes())
                .unwrap()
                .unwrap()
                .try_into()
                .unwrap(),
        )
    };
    assert_eq!(count(9), 6, "the entry, plus one per packet");
    assert_eq!(
        count(7000),
        5,
        "the script's counts, read by the other tool"
    );
}

#[test]
fn rcu_linux_and_byteorder_work_in_a_live_hook_in_the_states_namespace() {
    lunet_testkit::require_root!("namespaces, netfilter rules and NFQUEUE");
    let bed = Testbed::create().unwrap();
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    // The receiver's veth exists only in its namespace: linux.ifindex and linux.ifaddr find
    // it there (Lunatik would look in the host's), and it is the index packets come in on.
    let script = write_script(
        dir.path(),
        "live.lua",
        &format!(
            r#"local netfilter = require("netfilter")
local nf = require("linux.nf")
local linux = require("linux")
local rcu = require("rcu")
local byteorder = require("byteorder")
local idx = linux.ifindex({dev:?})
local mac = linux.ifaddr(idx)
print(("ifaddr %02x:%02x:%02x:%02x:%02x:%02x"):format(mac:byte(1, 6)))
local seen = rcu.table()
local t0 = linux.time()
netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, priority = nf.ip.pri.FILTER,
  hook = function(skb)
    if skb:getuint8(9) ~= 17 then return nf.action.ACCEPT end
    if skb:ifindex() ~= idx or linux.difftime(linux.time(), t0) < 0 then
      return nf.action.DROP
    end
    local port = byteorder.be16toh(skb:getuint16((skb:getuint8(0) & 0x0f) * 4 + 2))
    local n = (seen[tostring(port)] or 0) + 1
    seen[tostring(port)] = n
    return n <= 3 and nf.action.ACCEPT or nf.action.DROP
  end }}
"#,
            dev = bed.receiver_if()
        ),
    );
    d.run_ok(&script, bed.receiver_ns(), &["--name", "live"]);
    assert_eq!(
        send_and_count(&bed, 7001, 5, WAIT),
        3,
        "three per port, counted in the rcu table"
    );
    assert_eq!(send_and_count(&bed, 7002, 5, WAIT), 3, "a port of its own");
    let link = Command::new("ip")
        .args([
            "-n",
            bed.receiver_ns(),
            "-o",
            "link",
            "show",
            "dev",
            bed.receiver_if(),
        ])
        .output()
        .unwrap();
    let link = String::from_utf8_lossy(&link.stdout).into_owned();
    let mac = link
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {link}"))
        .to_string();
    let logs = stdout(&d.cli(&["logs", "live"]));
    assert!(logs.contains(&format!("ifaddr {mac}")), "{mac} in {logs}");
}
