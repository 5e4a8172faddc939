//! The traffic source: one thread inside the sender namespace, pinned to CPU 0, owning a
//! [`Generator`] (`lunet-gen`'s live frames, or its packet socket where the kernel refuses
//! them) and running the jobs the driver sends it. A job is cut into slices of at most [`SLICE`], so Ctrl-C ends it within
//! one slice.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lunet_gen::{GenStats, Generator, Limit};

/// Longest single generator call sequence between two looks at the quit flag.
const SLICE: Duration = Duration::from_millis(200);

struct Job {
    frames: Arc<Vec<Vec<u8>>>,
    limit: Limit,
    quit: Arc<AtomicBool>,
    /// Frames sent so far, updated after every slice.
    progress: Arc<AtomicU64>,
    reply: mpsc::Sender<io::Result<GenStats>>,
}

/// The generator thread. Dropping it ends and joins the thread.
pub struct Sender {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Whether the generator thread is pinned to CPU 0.
    pub pinned: bool,
    /// Which generator runs ([`Generator::method`]).
    pub method: &'static str,
}

impl Sender {
    /// Starts the thread in `ns` with a generator for the veth `ifindex` (in `ns`).
    pub fn start(ns: &str, ifindex: u32) -> io::Result<Sender> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<(bool, &'static str)>>();
        let thread = lunet_netns::spawn_in_netns(ns, move || {
            let pinned = crate::cpu::cpus() >= 2 && crate::cpu::pin(0, 0).is_ok();
            let gen = match Generator::new(ifindex) {
                Ok(g) => g,
                Err(e) => {
                    let _ = ready_tx.send(Err(io::Error::new(
                        e.kind(),
                        format!("cannot start the traffic generator: {e}"),
                    )));
                    return;
                }
            };
            if !gen.anchored() {
                tracing::warn!(
                    "the generator is not anchored in the XDP dispatcher: it will be slow"
                );
            }
            let _ = ready_tx.send(Ok((pinned, gen.method())));
            for job in rx {
                let r = run_sliced(&gen, &job.frames, job.limit, &job.quit, &job.progress);
                let _ = job.reply.send(r);
            }
        })?;
        let (pinned, method) = match ready_rx.recv() {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(io::Error::other(
                    "the generator thread ended before it reported",
                ));
            }
        };
        Ok(Sender {
            jobs: Some(jobs),
            thread: Some(thread),
            pinned,
            method,
        })
    }

    /// Sends `frames` (cycling through them) until `limit` or `quit`; returns what was sent.
    /// `watch` gets the frames sent so far every [`SLICE`] or so.
    pub fn send(
        &self,
        frames: Arc<Vec<Vec<u8>>>,
        limit: Limit,
        quit: Arc<AtomicBool>,
        watch: &mut dyn FnMut(u64),
    ) -> io::Result<GenStats> {
        let (reply, rx) = mpsc::channel();
        let progress = Arc::new(AtomicU64::new(0));
        self.jobs
            .as_ref()
            .and_then(|j| {
                j.send(Job {
                    frames,
                    limit,
                    quit,
                    progress: progress.clone(),
                    reply,
                })
                .ok()
            })
            .ok_or_else(|| io::Error::other("the generator thread is gone"))?;
        loop {
            match rx.recv_timeout(SLICE) {
                Ok(r) => return r,
                Err(mpsc::RecvTimeoutError::Timeout) => watch(progress.load(Ordering::Relaxed)),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the generator thread ended during a run"))
                }
            }
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// [`Generator::run`] in slices of at most [`SLICE`], stopping early when `quit` is set and
/// storing the frames sent so far in `progress` after each.
fn run_sliced(
    gen: &Generator,
    frames: &[Vec<u8>],
    limit: Limit,
    quit: &AtomicBool,
    progress: &AtomicU64,
) -> io::Result<GenStats> {
    if frames.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no frames to send",
        ));
    }
    let start = Instant::now();
    let deadline = start + limit.duration;
    let mut sent = 0u64;
    let mut calls = 0u64;
    // Every slice is bounded in time and the loop ends at the deadline, so this loop is
    // bounded by `limit.duration` plus one slice.
    while sent < limit.max_packets && !quit.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let slice = Limit {
            duration: (deadline - now).min(SLICE),
            max_packets: limit.max_packets - sent,
            rate_pps: limit.rate_pps,
        };
        // Each call starts the mix from its first frame: go on where the last slice ended,
        // so that every frame of the mix gets its share whatever the slices' lengths.
        let k = (calls % frames.len() as u64) as usize;
        let r = if k == 0 {
            gen.run(frames, slice)?
        } else {
            let rotated: Vec<Vec<u8>> = frames[k..].iter().chain(&frames[..k]).cloned().collect();
            gen.run(&rotated, slice)?
        };
        sent += r.sent;
        calls += r.calls;
        progress.store(sent, Ordering::Relaxed);
    }
    Ok(GenStats::over(sent, calls, start.elapsed()))
}
