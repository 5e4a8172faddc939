//! The verdict check before anything is timed: lunet's program, the C program (both in the
//! kernel and in the interpreter) and the Lua tier must give the same verdict on every frame
//! of a corpus: the timed frames, other names (listed ones, subdomains, near misses, limits),
//! the right payloads on the wrong ports, and every truncation and byte mutation of those.

use lunet_gen::packet;

use super::load::Filter;
use super::{interp, VsClangError};
use crate::filters::Endpoints;

/// `BPF_PROG_TEST_RUN` refuses XDP frames shorter than an Ethernet header.
const MIN_FRAME: usize = 14;

/// The addresses of every frame.
const E: Endpoints = Endpoints::OFFLINE;

/// Names for the corpus: listed ones, their subdomains, near misses and limits.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = [
        "blocked.example",
        "www.blocked.example",
        "a.b.c.d.blocked.example",
        "ads.test",
        "x.ads.test",
        "tracker.invalid",
        "cdn.tracker.invalid",
        "www.example.com",
        "example",
        "a",
        "xblocked.example",
        "blocked.examplex",
        "blocked.example.com",
        "ads.tes",
        "ds.test",
        "ads-test",
        "Blocked.Example",
        "tracker.invalid.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // More labels than the DNS filter walks (16), a listed name at the end.
    v.push(format!("{}blocked.example", "l.".repeat(15)));
    v.push(format!("{}blocked.example", "l.".repeat(14)));
    // Labels of 63 bytes and a name near 255.
    let l63 = "q".repeat(63);
    v.push(format!("{l63}.{l63}.{l63}.ads.test"));
    v.push(format!("{l63}.{l63}.{l63}.{}.ads.test", "r".repeat(50)));
    v
}

/// Every truncation of `f` (down to an Ethernet header) and `f` with each byte flipped and
/// each byte zeroed.
fn mutations(f: &[u8], out: &mut Vec<Vec<u8>>) {
    for n in MIN_FRAME..f.len() {
        out.push(f[..n].to_vec());
    }
    for i in 0..f.len() {
        for v in [f[i] ^ 0xff, 0] {
            if v != f[i] {
                let mut g = f.to_vec();
                g[i] = v;
                out.push(g);
            }
        }
    }
}

/// The corpus: every filter's timed frames, a TLS and a DNS frame of each of [`names`] (where
/// the name can be built), the wrong-port and response frames, and their mutations.
pub fn frames(filters: &[Filter]) -> Result<Vec<Vec<u8>>, VsClangError> {
    let mut base: Vec<Vec<u8>> = Vec::new();
    for f in filters {
        base.extend(f.frames.iter().map(|fr| fr.bytes.clone()));
    }
    for n in names() {
        let (s, d) = (E.src_mac, E.dst_mac);
        if let Ok(f) = packet::tls_client_hello(s, d, E.src_ip, E.dst_ip, 40000, 443, &n) {
            base.push(f);
        }
        if let Ok(f) = packet::dns_query(s, d, E.src_ip, E.dst_ip, 40000, &n, 7) {
            base.push(f);
        }
    }
    // The right payloads on the wrong ports, and a DNS response.
    let (s, d, si, di) = (E.src_mac, E.dst_mac, E.src_ip, E.dst_ip);
    let hello = packet::client_hello_record("blocked.example")?;
    base.push(packet::tcp_psh_ack(s, d, si, di, 1, 8443, &hello)?);
    base.push(packet::udp(s, d, si, di, 1, 443, &hello)?);
    let mut resp = packet::dns_query_payload("blocked.example", 9)?;
    resp[2] |= 0x80;
    base.push(packet::udp(s, d, si, di, 53, 53, &resp)?);
    let q = packet::dns_query_payload("blocked.example", 9)?;
    base.push(packet::tcp_psh_ack(s, d, si, di, 1, 53, &q)?);
    let mut all = base.clone();
    for f in &base {
        mutations(f, &mut all);
    }
    Ok(all)
}

/// The verdict of one run in the kernel.
pub fn kernel_verdict(fd: &lunet_bpf::ProgFd, frame: &[u8]) -> Result<u32, VsClangError> {
    lunet_bpf::test_run(fd, frame, 1, None, 0, 0)
        .map(|r| r.retval)
        .map_err(VsClangError::TestRun)
}

/// Checks the timed frames' verdicts and the corpus (module docs); returns how many frames
/// were checked in all, or the first filter whose programs disagree.
pub fn check(filters: &[Filter]) -> Result<usize, VsClangError> {
    let frames = frames(filters)?;
    let mut checked = 0;
    for f in filters {
        for fr in &f.frames {
            let got = kernel_verdict(&f.lunet_fd, &fr.bytes)?;
            if got != fr.verdict {
                return Err(VsClangError::Expected {
                    filter: f.name,
                    kind: fr.kind,
                    got,
                    want: fr.verdict,
                });
            }
        }
        checked += check_filter(f, &frames)?;
    }
    eprintln!(
        "verdicts: lunet, C and the Lua tier agree on {checked} frames ({} per filter: the \
         timed frames, {} names, their truncations and byte mutations); 0 mismatches",
        frames.len(),
        names().len()
    );
    Ok(checked)
}

/// Runs `frames` through lunet's program, the C program (in the kernel and in the
/// interpreter) and the Lua tier; returns the number of frames checked.
fn check_filter(f: &Filter, frames: &[Vec<u8>]) -> Result<usize, VsClangError> {
    let mut bad: Vec<String> = Vec::new();
    for (i, fr) in frames.iter().enumerate() {
        let (kl, kc) = (
            kernel_verdict(&f.lunet_fd, fr)?,
            kernel_verdict(&f.c_fd, fr)?,
        );
        let lv = f.state.run_xdp(f.hook, fr).verdict;
        let il = interp::run(&f.lunet.insns, fr).map(|r| r.verdict);
        let ic = interp::run(&f.c_insns, fr).map(|r| r.verdict);
        if kl != kc || kl != lv || il != Ok(kl) || ic != Ok(kc) {
            bad.push(format!(
                "frame #{i} ({} bytes): lunet {kl}, C {kc}, Lua tier {lv}, interpreter lunet \
                 {} C {}\n  {}",
                fr.len(),
                shown(il),
                shown(ic),
                hex(fr)
            ));
        }
    }
    if !bad.is_empty() {
        return Err(VsClangError::Differ {
            filter: f.name,
            differ: bad.len(),
            frames: frames.len(),
            shown: bad[..bad.len().min(10)].join("\n"),
        });
    }
    Ok(frames.len())
}

/// The interpreter's verdict, or why it has none.
fn shown(r: Result<u32, interp::InterpError>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => format!("({e})"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::load::{dns, tls};
    use super::*;

    #[test]
    fn mutations_truncate_to_a_header_and_flip_and_zero_each_byte_once() {
        let f: Vec<u8> = (1..=16).collect();
        let mut out = Vec::new();
        mutations(&f, &mut out);
        // 2 truncations (14, 15 bytes), then every byte flipped and zeroed (none is 0 or 0xff).
        assert_eq!(out.len(), 2 + 2 * 16);
        assert_eq!((out[0].len(), out[1].len()), (14, 15));
        assert!(out.iter().all(|g| g != &f), "each differs from the frame");
        // A zero byte is only flipped (zeroing it changes nothing); a 0xff byte becomes 0
        // both ways.
        let mut zeros = vec![0u8; 16];
        zeros[3] = 0xff;
        out.clear();
        mutations(&zeros, &mut out);
        assert_eq!(out.len(), 2 + 15 + 2);
    }

    #[test]
    fn the_names_reach_past_the_dns_filters_label_walk_and_near_255_bytes() {
        let n = names();
        assert!(n.iter().any(|s| s.split('.').count() > 16));
        assert!(n.iter().any(|s| s.len() > 240 && s.len() <= 253));
        assert!(tls("www.blocked.example").is_ok() && dns("www.blocked.example").is_ok());
    }
}
