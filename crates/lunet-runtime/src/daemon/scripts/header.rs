//! A script file's options, in a TOML block at its top that Lua reads as a comment:
//!
//! ```lua
//! --[[lunet
//! name = "fw"          # the state's name (default: the file's stem)
//! netns = "lab"        # a network namespace under /run/netns
//! dev = "eth0"         # the device of XDP hooks that name none
//! tier = "auto"        # auto, kernel or lua
//! mem = "16M"          # the memory cap: bytes, or with K, M, G
//! budget = 50000       # Lua instructions per hook call
//! timeout = 100        # milliseconds per hook call
//! cpus = "0-3"         # recorded, not used yet (per-CPU states are not built)
//! ]]
//! ```
//!
//! The block is the file's first line (after a `#!` line, if any); `--[==[lunet` with any
//! number of `=` works too, closed by the matching `]==]`. Every key is optional, and a key
//! lunet does not know is an error, not ignored: a misspelt option must not quietly become
//! a default. A file without the block runs with the defaults, named after its stem.

use serde::Deserialize;

use lunet_types::Tier;

/// The options a file's header gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub name: Option<String>,
    pub netns: Option<String>,
    pub dev: Option<String>,
    pub tier: Tier,
    pub mem: Option<usize>,
    pub budget: Option<u64>,
    pub timeout_ms: Option<u64>,
    /// The CPUs the state should run on, in order, without repeats.
    pub cpus: Option<Vec<u32>>,
}

/// Why a header was refused; the text names the file's line where it can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the lunet header opened on line {0} is never closed")]
    Unclosed(usize),
    #[error("the lunet header: {0}")]
    Toml(String),
    #[error("the lunet header: {0}")]
    Value(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Cpus {
    List(Vec<u32>),
    Text(String),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<String>,
    netns: Option<String>,
    dev: Option<String>,
    tier: Option<String>,
    mem: Option<Size>,
    budget: Option<u64>,
    timeout: Option<u64>,
    cpus: Option<Cpus>,
}

/// The header of `source`, or the defaults when it has none.
pub fn parse(source: &[u8]) -> Result<Header, HeaderError> {
    let Some((toml_text, first_line)) = block(source)? else {
        return Ok(Header::default());
    };
    let raw: Raw = toml::from_str(&toml_text).map_err(|e| {
        let msg = e.message().to_string();
        match e.span() {
            Some(span) => {
                let line = first_line + 1 + toml_text[..span.start].matches('\n').count();
                HeaderError::Toml(format!("line {line}: {msg}"))
            }
            None => HeaderError::Toml(msg),
        }
    })?;
    let value = |s: String| HeaderError::Value(s);
    let tier = match raw.tier {
        None => Tier::Auto,
        Some(t) => Tier::parse(&t)
            .ok_or_else(|| value(format!("tier '{t}' is not auto, kernel or lua")))?,
    };
    let mem = match raw.mem {
        None => None,
        Some(Size::Bytes(n)) => Some(
            crate::runner::parse_size(&n.to_string()).map_err(|e| value(format!("mem: {e}")))?,
        ),
        Some(Size::Text(t)) => {
            Some(crate::runner::parse_size(&t).map_err(|e| value(format!("mem: {e}")))?)
        }
    };
    let cpus = match raw.cpus {
        None => None,
        Some(Cpus::List(l)) => Some(l),
        Some(Cpus::Text(t)) => Some(crate::protocol::CpuSet::parse_list(&t).map_err(value)?),
    };
    if let Some(c) = &cpus {
        let mut seen = std::collections::BTreeSet::new();
        if c.is_empty() || !c.iter().all(|n| seen.insert(*n) && *n < 4096) {
            return Err(value(
                "cpus: a list of distinct CPU numbers below 4096, e.g. \"0-3,6\" or [0, 1]".into(),
            ));
        }
    }
    Ok(Header {
        name: raw.name,
        netns: raw.netns,
        dev: raw.dev,
        tier,
        mem,
        budget: raw.budget,
        timeout_ms: raw.timeout,
        cpus,
    })
}

/// The TOML text of the header block and the line it opens on (1-based), if the file has one.
fn block(source: &[u8]) -> Result<Option<(String, usize)>, HeaderError> {
    let text = String::from_utf8_lossy(source);
    let mut line_no = 1;
    let mut rest: &str = &text;
    if rest.starts_with("#!") {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
        line_no = 2;
    }
    let Some(open) = rest.strip_prefix("--[") else {
        return Ok(None);
    };
    let level = open.bytes().take_while(|&b| b == b'=').count();
    let Some(after) = open[level..].strip_prefix('[') else {
        return Ok(None);
    };
    let Some(body) = after.strip_prefix("lunet") else {
        return Ok(None);
    };
    // `--[[lunetfoo` is some other comment.
    let Some(body) = body
        .strip_prefix('\n')
        .or_else(|| body.strip_prefix("\r\n"))
    else {
        return Ok(None);
    };
    let close = format!("]{}]", "=".repeat(level));
    let end = body.find(&close).ok_or(HeaderError::Unclosed(line_no))?;
    Ok(Some((body[..end].to_string(), line_no)))
}

/// `"0-3,6"` -> `[0, 1, 2, 3, 6]`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_gives_every_option_and_a_file_without_one_the_defaults() {
        let h = parse(
            b"--[[lunet\nname = \"fw\"\nnetns = \"lab\"\ndev = \"veth0\"\ntier = \"lua\"\nmem = \"16M\"\nbudget = 5000\ntimeout = 20\ncpus = \"0-2,5\"\n]]\nlocal x = 1\n",
        )
        .unwrap();
        assert_eq!(
            h,
            Header {
                name: Some("fw".into()),
                netns: Some("lab".into()),
                dev: Some("veth0".into()),
                tier: Tier::Lua,
                mem: Some(16 << 20),
                budget: Some(5000),
                timeout_ms: Some(20),
                cpus: Some(vec![0, 1, 2, 5]),
            }
        );
        assert_eq!(
            parse(b"-- a comment\nlocal x = 1\n").unwrap(),
            Header::default()
        );
        assert_eq!(
            parse(b"#!/usr/bin/env lunet\n--[==[lunet\nmem = 2097152\ncpus = [3, 1]\n]==]\n")
                .unwrap(),
            Header {
                mem: Some(2 << 20),
                cpus: Some(vec![3, 1]),
                ..Header::default()
            }
        );
        assert_eq!(
            parse(b"--[[lunetish\nname = 1\n]]\n").unwrap(),
            Header::default(),
            "another comment"
        );
    }

    #[test]
    fn a_misspelt_option_or_a_bad_value_is_an_error_naming_its_line() {
        let e = parse(b"--[[lunet\nname = \"fw\"\nbugdet = 5\n]]\n").unwrap_err();
        assert!(
            matches!(&e, HeaderError::Toml(m) if m.contains("line 3") && m.contains("bugdet")),
            "{e}"
        );
        for (src, says) in [
            (&b"--[[lunet\ntier = \"fast\"\n]]\n"[..], "tier 'fast'"),
            (b"--[[lunet\nmem = \"0\"\n]]\n", "mem:"),
            (b"--[[lunet\nmem = \"100G\"\n]]\n", "mem:"),
            (b"--[[lunet\ncpus = \"3-1\"\n]]\n", "cpus:"),
            (b"--[[lunet\ncpus = [1, 1]\n]]\n", "cpus:"),
            (b"--[[lunet\nbudget = \"many\"\n]]\n", "line 2"),
            (b"--[[lunet\nname = \"fw\"\n", "never closed"),
        ] {
            let e = parse(src).unwrap_err().to_string();
            assert!(e.contains(says), "{}: {e}", String::from_utf8_lossy(src));
        }
    }
}
