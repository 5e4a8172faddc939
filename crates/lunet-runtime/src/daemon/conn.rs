//! The daemon's clients, bounded: who may talk (root only, by the socket's peer
//! credentials), how many at once ([`Conns`]), how long a request line may be and how long a
//! client may take to send it ([`Lines`]), and how the accept loop backs off when accepting
//! fails ([`Backoff`]).

use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::protocol::Response;

/// The daemon's bounds on its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Connections served at once (each has a thread).
    pub max_conns: usize,
    /// Longest request line, newline excluded.
    pub max_line: usize,
    /// How long a client may take to send a complete request after connecting or after its
    /// last answer; also how long an answer may wait for a client that does not read.
    pub idle: Duration,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            max_conns: 64,
            max_line: 1 << 20,
            idle: Duration::from_secs(30),
        }
    }
}

/// The credentials of the process at the other end of `s`, as the kernel recorded them at
/// `connect` (`SO_PEERCRED`): `(pid, uid)`.
pub(super) fn peer(s: &UnixStream) -> io::Result<(i32, u32)> {
    // SAFETY: `ucred` is plain old data; all-zero is a valid value.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is writable for `len` bytes, the size SO_PEERCRED fills; the fd is open.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((cred.pid, cred.uid))
}

/// Whether the client at the other end of `s` has closed its side (a peek that does not
/// wait: end of stream). Anything it sent is left unread.
pub(super) fn peer_gone(s: &UnixStream) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: `b` is writable for one byte; MSG_PEEK leaves the data queued.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0
}

/// Answers `stream` with one line without waiting for it to be read, then closes it.
pub(super) fn refuse(mut stream: UnixStream, r: &Response) {
    let _ = stream.set_nonblocking(true);
    let _ = send(&mut stream, r);
}

/// `r` as one line on `out`.
pub(super) fn send(out: &mut UnixStream, r: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// What a connection's thread is doing, for [`Conns::admit`] to pick one to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the first byte of the client's next request.
    Waiting,
    /// Reading a request, answering it, or streaming logs.
    Busy,
}

struct Entry {
    id: u64,
    /// Another handle on the connection, to close it from the accept loop.
    stream: UnixStream,
    phase: Phase,
    since: Instant,
    evicted: Arc<AtomicBool>,
}

/// The connections being served, at most `max`.
pub(super) struct Conns {
    max: usize,
    list: Mutex<Vec<Entry>>,
    next: AtomicU64,
}

/// A connection's place in [`Conns`], given back when dropped.
pub(super) struct Slot {
    conns: Arc<Conns>,
    id: u64,
    evicted: Arc<AtomicBool>,
}

impl Conns {
    pub fn new(max: usize) -> Arc<Conns> {
        Arc::new(Conns {
            max,
            list: Mutex::default(),
            next: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for `stream`. At the limit, the connection that has waited longest for its
    /// next request is closed to make room (a client between requests loses nothing); `None`
    /// when every connection is busy.
    pub fn admit(self: &Arc<Self>, stream: &UnixStream) -> io::Result<Option<Slot>> {
        let handle = stream.try_clone()?;
        let mut list = self.lock();
        if list.len() >= self.max {
            let idlest = list
                .iter()
                .enumerate()
                .filter(|(_, e)| e.phase == Phase::Waiting)
                .min_by_key(|(_, e)| e.since)
                .map(|(i, _)| i);
            let Some(i) = idlest else {
                return Ok(None);
            };
            let victim = list.swap_remove(i);
            victim.evicted.store(true, Ordering::SeqCst);
            // Its thread's read ends (end of stream); it says why and goes.
            let _ = victim.stream.shutdown(Shutdown::Read);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(AtomicBool::new(false));
        list.push(Entry {
            id,
            stream: handle,
            phase: Phase::Waiting,
            since: Instant::now(),
            evicted: evicted.clone(),
        });
        Ok(Some(Slot {
            conns: self.clone(),
            id,
            evicted,
        }))
    }

    /// How many connections are served, and how many of them are busy.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        let list = self.lock();
        let busy = list.iter().filter(|e| e.phase == Phase::Busy).count();
        (list.len(), busy)
    }
}

impl Slot {
    pub fn set(&self, phase: Phase) {
        if let Some(e) = self.conns.lock().iter_mut().find(|e| e.id == self.id) {
            if e.phase != phase {
                e.phase = phase;
                e.since = Instant::now();
            }
        }
    }

    /// Whether the connection was closed to make room for another.
    pub fn evicted(&self) -> bool {
        self.evicted.load(Ordering::SeqCst)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.lock().retain(|e| e.id != self.id);
    }
}

/// What [`Lines::next`] read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    Line(Vec<u8>),
    /// The client closed its side (or the connection was closed to make room).
    Eof,
    /// More than the bound without a newline.
    TooLong,
    /// No complete line before the deadline.
    Idle,
    Failed,
}

/// Request lines of bounded length, each by a deadline.
pub(super) struct Lines {
    reader: BufReader<UnixStream>,
    max: usize,
}

impl Lines {
    pub fn new(stream: UnixStream, max: usize) -> Lines {
        Lines {
            reader: BufReader::new(stream),
            max,
        }
    }

    /// The next line (without its newline); `first_byte` is called when its first byte is
    /// in. A last line the client ended without a newline counts as a line.
    pub fn next(&mut self, deadline: Instant, first_byte: impl FnOnce()) -> Next {
        let mut first = Some(first_byte);
        let mut line = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Next::Idle;
            }
            if self.reader.get_ref().set_read_timeout(Some(left)).is_err() {
                return Next::Failed;
            }
            let avail = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Next::Idle
                }
                Err(_) => return Next::Failed,
            };
            if avail.is_empty() {
                return if line.is_empty() {
                    Next::Eof
                } else {
                    Next::Line(line)
                };
            }
            if let Some(f) = first.take() {
                f();
            }
            let (take, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if line.len() + take > self.max {
                return Next::TooLong;
            }
            line.extend_from_slice(&avail[..take]);
            self.reader.consume(take + usize::from(done));
            if done {
                return Next::Line(line);
            }
        }
    }
}

/// The accept loop's answer to failing accepts (out of file descriptors, say): it waits,
/// longer each time up to [`Backoff::MAX`], and logs at most once a second, with how many
/// failed since it last did.
pub(super) struct Backoff {
    delay: Duration,
    failed: u64,
    logged: Option<Instant>,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    pub fn new() -> Backoff {
        Backoff {
            delay: Self::MIN,
            failed: 0,
            logged: None,
        }
    }

    pub fn succeeded(&mut self) {
        self.delay = Self::MIN;
    }

    /// Counts, maybe logs, and waits.
    pub fn failed(&mut self, e: &io::Error) {
        self.failed += 1;
        if self
            .logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(
                "accepting a client failed {} time(s) since the last report: {e}; retrying in {:?} and backing off",
                self.failed,
                self.delay
            );
            self.logged = Some(Instant::now());
            self.failed = 0;
        }
        std::thread::sleep(self.delay);
        self.delay = (self.delay * 2).min(Self::MAX);
    }
}
