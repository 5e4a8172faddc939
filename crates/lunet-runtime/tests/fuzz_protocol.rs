//! The daemon's protocol under garbage: a real server on a private socket gets generated
//! lines (JSON of the wrong shape, wrong types, huge and negative numbers, unknown commands,
//! broken UTF-8, no JSON at all) and must answer every line with one response line, never
//! crash, never start anything, and still answer `ping` and `list` correctly afterwards.
//!
//! Requests that could start a state name scripts that do not exist (so nothing is ever
//! installed in this machine's namespaces). A bounded number of cases, for CI.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use lunet_runtime::daemon::Server;
use lunet_runtime::protocol::Response;
use proptest::prelude::*;

/// A value of any JSON type, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        "[a-z/._ -]{0,12}".prop_map(serde_json::Value::String),
        Just(serde_json::json!("/nonexistent/lunet-fuzz.lua")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

const CMDS: &[&str] = &[
    "ping", "run", "stop", "reload", "list", "stats", "map", "logs", "reboot", "", "RUN",
];
const FIELDS: &[&str] = &[
    "name",
    "script",
    "netns",
    "dev",
    "tier",
    "mem",
    "budget",
    "timeout_ms",
    "map",
    "op",
    "key",
    "value",
    "follow",
    "since",
];

/// A request-shaped object with a command and random fields of random types; a script, if
/// any, is one that does not exist.
fn request() -> impl Strategy<Value = String> {
    (
        prop::sample::select(CMDS),
        prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6),
    )
        .prop_map(|(cmd, fields)| {
            let mut o = serde_json::Map::new();
            o.insert("cmd".into(), serde_json::json!(cmd));
            for (k, v) in fields {
                // `logs --follow` streams until its state stops: the fuzz asks one-shot only.
                let v = match k {
                    "script" => serde_json::json!("/nonexistent/lunet-fuzz.lua"),
                    "follow" => serde_json::json!(false),
                    _ => v,
                };
                o.insert(k.into(), v);
            }
            serde_json::Value::Object(o).to_string()
        })
}

/// Any line at all: a request, a mangled request, or bytes.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => request().prop_map(String::into_bytes),
        2 => request().prop_flat_map(|r| {
            let n = r.len();
            (Just(r), 0..n.max(1)).prop_map(|(r, cut)| r.as_bytes()[..cut.min(r.len())].to_vec())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|mut v| { v.retain(|b| *b != b'\n'); v }),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

#[test]
fn every_line_gets_one_answer_and_the_daemon_stays_up() {
    lunet_testkit::require_root!("the daemon's peer check serves root only");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lunet.sock");
    let server = Server::bind(&socket, &dir.path().join("pins")).unwrap();
    let stopper = server.stopper();
    let serving = std::thread::spawn(move || server.run());

    let conn = UnixStream::connect(&socket).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let answers = std::cell::RefCell::new(BufReader::new(conn.try_clone().unwrap()).lines());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 1500,
        ..ProptestConfig::default()
    });
    runner
        .run(&line(), |l| {
            // A blank line is skipped by the daemon: it has no answer to wait for.
            if l.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(());
            }
            (&conn).write_all(&l).unwrap();
            (&conn).write_all(b"\n").unwrap();
            let answer = answers
                .borrow_mut()
                .next()
                .expect("an answer line")
                .expect("the daemon answered in time");
            let r: Response = serde_json::from_str(&answer)
                .unwrap_or_else(|e| panic!("not a response ({e}): {answer}"));
            prop_assert!(r.ok != r.error.is_some(), "{answer}");
            Ok(())
        })
        .unwrap();

    // Still up, and nothing was started.
    let fresh = UnixStream::connect(&socket).unwrap();
    let mut w = fresh.try_clone().unwrap();
    let mut r = BufReader::new(fresh).lines();
    w.write_all(b"{\"cmd\":\"ping\"}\n{\"cmd\":\"list\"}\n")
        .unwrap();
    let pong: Response = serde_json::from_str(&r.next().unwrap().unwrap()).unwrap();
    assert_eq!(pong.result, Some(serde_json::json!("pong")));
    let list: Response = serde_json::from_str(&r.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        list.result,
        Some(serde_json::json!([])),
        "no state was started"
    );
    stopper.stop();
    serving.join().unwrap();
}
