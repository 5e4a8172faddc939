//! The metrics page's HTTP server (`lunet daemon --metrics ADDR:PORT`): as small as the
//! control socket's bounds make it, so it is no new way to wear the daemon down. One thread
//! serves one connection at a time; a request head is at most [`MetricsBounds::max_request`]
//! bytes and must arrive within [`MetricsBounds::deadline`], or the connection is closed; an
//! answer waits as long at most for a client that does not read. So a client that holds its
//! connection open costs the page a few seconds, never the daemon a thread or its memory;
//! the page itself is made at most once per [`MetricsBounds::min_render`]. Only `GET
//! /metrics` (and `HEAD`) are answered with the page; `Connection: close` always.
//!
//! Off unless asked for. A port alone means loopback (`127.0.0.1:PORT`); any other address
//! than a loopback one is refused unless the operator allows it (`--metrics-allow-remote`):
//! the page has no authentication and names every state and hook with its traffic.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Daemon;

/// The port the project uses in its examples and manifests.
pub const DEFAULT_METRICS_PORT: u16 = 9750;

/// Where and how to serve the metrics page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    pub addr: SocketAddr,
    /// Serve on an address other than loopback (the operator said so).
    pub allow_remote: bool,
    pub bounds: MetricsBounds,
}

/// The metrics server's bounds on its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsBounds {
    /// The longest request head (request line and headers) read.
    pub max_request: usize,
    /// How long a client may take to send its request head, and an answer may wait for it.
    pub deadline: Duration,
    /// The page is made again at most this often; scrapes in between get the last one.
    pub min_render: Duration,
}

impl Default for MetricsBounds {
    fn default() -> MetricsBounds {
        MetricsBounds {
            max_request: 8 << 10,
            deadline: Duration::from_secs(5),
            min_render: Duration::from_secs(1),
        }
    }
}

/// Why the metrics page cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("'{0}' is not PORT, IP:PORT or [IPv6]:PORT (an address, not a host name)")]
    BadAddress(String),
    #[error(
        "refusing to serve metrics on {0}: it is not a loopback address, and the page has no \
         authentication and names every state and hook with its traffic; serve it on \
         127.0.0.1, or pass --metrics-allow-remote where a firewall or network policy keeps \
         it to your monitoring"
    )]
    NotLoopback(SocketAddr),
    #[error("cannot listen for metrics on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

impl MetricsConfig {
    /// `PORT` (on loopback), `IP:PORT` or `[IPv6]:PORT`; a non-loopback address only when
    /// `allow_remote`.
    pub fn parse(s: &str, allow_remote: bool) -> Result<MetricsConfig, MetricsError> {
        let addr = match s.parse::<u16>() {
            Ok(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            Err(_) => s
                .parse::<SocketAddr>()
                .map_err(|_| MetricsError::BadAddress(s.to_string()))?,
        };
        if !addr.ip().is_loopback() && !allow_remote {
            return Err(MetricsError::NotLoopback(addr));
        }
        Ok(MetricsConfig {
            addr,
            allow_remote,
            bounds: MetricsBounds::default(),
        })
    }
}

/// A bound metrics listener, not serving yet: bound before the daemon takes its socket, so a
/// port in use stops the start before anything else is done.
pub struct MetricsListener {
    listener: TcpListener,
    bounds: MetricsBounds,
}

impl MetricsListener {
    pub fn bind(config: &MetricsConfig) -> Result<MetricsListener, MetricsError> {
        if !config.addr.ip().is_loopback() && !config.allow_remote {
            return Err(MetricsError::NotLoopback(config.addr));
        }
        let listen = |source| MetricsError::Listen {
            addr: config.addr,
            source,
        };
        let listener = TcpListener::bind(config.addr).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        Ok(MetricsListener {
            listener,
            bounds: config.bounds,
        })
    }

    /// Where it listens (the port the kernel chose, for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves clients one at a time until `quit`, looking at it twice a second.
    pub(super) fn serve(self, daemon: Arc<Daemon>, quit: Arc<AtomicBool>) {
        let mut page: Option<(Instant, Arc<String>)> = None;
        while !quit.load(Ordering::SeqCst) {
            let fd = [self.listener.as_fd()];
            match lunet_bpf::sys::poll_readable(&fd, Some(Duration::from_millis(500))) {
                Ok(ready) if ready.first() == Some(&true) => {}
                Ok(_) => continue,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    tracing::debug!("accepting a metrics client failed: {e}");
                    // Out of descriptors, say: do not spin.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let mut make = || {
                let fresh = page
                    .as_ref()
                    .filter(|(at, _)| at.elapsed() < self.bounds.min_render)
                    .map(|(_, p)| p.clone());
                fresh.unwrap_or_else(|| {
                    let p = Arc::new(daemon.metrics_page());
                    page = Some((Instant::now(), p.clone()));
                    p
                })
            };
            if let Err(e) = answer(stream, &self.bounds, &mut make) {
                tracing::debug!("a metrics client: {e}");
            }
        }
    }
}

/// Reads one request head from `stream` and answers it.
fn answer(
    mut stream: TcpStream,
    bounds: &MetricsBounds,
    page: &mut dyn FnMut() -> Arc<String>,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    let deadline = Instant::now() + bounds.deadline;
    let head = match read_head(&mut stream, bounds.max_request, deadline)? {
        Some(h) => h,
        None => {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request head too long\n",
                true,
            )
        }
    };
    let line = head.split(|&b| b == b'\r' || b == b'\n').next();
    let mut parts = line.unwrap_or_default().split(|&b| b == b' ');
    let (method, target) = (parts.next(), parts.next());
    stream.set_write_timeout(Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
    ))?;
    let get = method == Some(b"GET");
    let body_too = get || method == Some(b"HEAD");
    if !body_too {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET /metrics\n",
            true,
        );
    }
    let path = target.map(|t| t.split(|&b| b == b'?').next().unwrap_or_default());
    if path != Some(b"/metrics") {
        return respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"lunet serves /metrics\n",
            get,
        );
    }
    let p = page();
    respond(
        &mut stream,
        "200 OK",
        super::metrics::CONTENT_TYPE,
        p.as_bytes(),
        get,
    )
}

/// The request head (through its blank line), or `None` when it is longer than `max`.
fn read_head(s: &mut TcpStream, max: usize, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        s.set_read_timeout(Some(left))?;
        let n = match s.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            return Ok(Some(head));
        }
        if head.len() > max {
            return Ok(None);
        }
    }
}

fn respond(
    s: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if with_body {
        s.write_all(body)?;
    }
    s.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_alone_is_loopback_and_other_addresses_need_the_operators_word() {
        let c = MetricsConfig::parse("9750", false).unwrap();
        assert_eq!(c.addr, "127.0.0.1:9750".parse().unwrap());
        assert!(MetricsConfig::parse("[::1]:9750", false).is_ok());
        assert!(MetricsConfig::parse("127.0.0.9:1", false).is_ok());
        for remote in ["0.0.0.0:9750", "198.18.0.1:9750", "[::]:9750"] {
            let e = MetricsConfig::parse(remote, false).unwrap_err();
            assert!(matches!(e, MetricsError::NotLoopback(_)), "{remote}: {e}");
            assert!(e.to_string().contains("--metrics-allow-remote"), "{e}");
            assert!(MetricsConfig::parse(remote, true).is_ok());
        }
        for bad in ["localhost:9750", "9750x", "", "1.2.3.4"] {
            assert!(
                matches!(
                    MetricsConfig::parse(bad, true),
                    Err(MetricsError::BadAddress(_))
                ),
                "{bad}"
            );
        }
    }
}
