//! The watchdog: one thread per process that arms the count hook of calls that last.
//!
//! Every Lua state registers a [`Watch`] of its own: a call counter its thread bumps when a
//! call begins and ends (odd while one runs), the thread's id, and the stop flag of its
//! [`crate::AbortHandle`] (shared: the copies of a per-CPU state, and a reloaded state's old
//! and new version, stop together, but each has its own thread and calls). Every [`TICK`] the watchdog
//! looks at each: a call that was already running at the previous tick (the counter has not
//! moved), or one whose state is stopping, gets the signal [`signal()`] on its thread, once per
//! call. The handler runs on that thread, between two of its instructions, and sets the count
//! hook on the Lua thread running the call (the handler the budget registers): Lua allows
//! `lua_sethook` from a signal handler, and from nowhere else while the state runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

/// How often the watchdog looks: a call is armed after one to two ticks.
pub(crate) const TICK: Duration = Duration::from_micros(500);

/// What the watchdog knows of one state.
pub(crate) struct Watch {
    /// Bumped at the start and end of every call: odd while a call runs. Written only by
    /// the state's thread (a state, and so its watch, never changes threads).
    call: AtomicU64,
    /// The counter's value at the watchdog's previous look.
    seen: AtomicU64,
    /// When the watchdog first saw the running call ([`now_ns`]); the call started at most a
    /// [`TICK`] earlier. A call's clock costs it nothing this way.
    started: AtomicU64,
    /// The call `call` was signalled (one signal per call is enough: the hook stays set).
    signalled: AtomicU64,
    /// `pthread_t` of the thread running the calls; 0 once the state is gone, so the thread
    /// is never signalled after it may have ended. Locked while the watchdog signals it.
    thread: Mutex<u64>,
    /// Set by [`crate::AbortHandle::abort`]: the state is stopping.
    pub abort: Arc<AtomicBool>,
}

impl Watch {
    /// Records the thread the state's calls run on (once per state: a state stays on its
    /// thread).
    pub fn settle(&self) {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as u64;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = me;
    }

    /// A call begins. A plain store, not a read-modify-write: only this state's thread
    /// writes the counter, and a locked add on every call was most of the budget's cost.
    pub fn begin(&self) {
        self.bump();
    }

    fn bump(&self) {
        let c = self.call.load(Ordering::Relaxed);
        self.call.store(c.wrapping_add(1), Ordering::Release);
    }

    /// How long the running call has run, as the watchdog saw it start (zero before its
    /// first look, which comes within a [`TICK`]).
    pub fn elapsed(&self) -> Duration {
        let call = self.call.load(Ordering::Acquire);
        if self.seen.load(Ordering::Acquire) != call {
            return Duration::ZERO;
        }
        let started = self.started.load(Ordering::Acquire);
        Duration::from_nanos(now_ns().saturating_sub(started))
    }

    /// The Lua state is gone: its thread may end and must not be signalled any more.
    pub fn retire(&self) {
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = 0;
    }

    pub fn end(&self) {
        self.bump();
    }
}

struct Watchdog {
    watches: Mutex<Vec<Weak<Watch>>>,
}

/// What the watchdog's signal runs on the signalled thread (set by the first [`register`]).
pub(crate) type OnSignal = extern "C" fn(libc::c_int);

static DOG: OnceLock<Watchdog> = OnceLock::new();

fn watchdog(on_signal: OnSignal) -> &'static Watchdog {
    DOG.get_or_init(|| {
        // Before any signal can be sent: an unhandled real-time signal ends the process.
        install_handler(on_signal);
        std::thread::Builder::new()
            .name("lunet-watchdog".into())
            .spawn(run)
            .expect("the watchdog thread starts");
        Watchdog {
            watches: Mutex::new(Vec::new()),
        }
    })
}

/// A new state's [`Watch`], looked at from now on (until the state drops it), stopped by
/// `abort`; the watchdog's signal runs `on_signal` on the thread of a call that lasts.
pub(crate) fn register(on_signal: OnSignal, abort: Arc<AtomicBool>) -> Arc<Watch> {
    let w = Arc::new(Watch {
        call: AtomicU64::new(0),
        seen: AtomicU64::new(0),
        started: AtomicU64::new(0),
        signalled: AtomicU64::new(u64::MAX),
        thread: Mutex::new(0),
        abort,
    });
    watchdog(on_signal)
        .watches
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arc::downgrade(&w));
    w
}

fn run() {
    loop {
        std::thread::sleep(TICK);
        let watches: Vec<Arc<Watch>> = {
            // The thread starts inside the first `register`, once DOG is set.
            let Some(dog) = DOG.get() else { continue };
            let mut list = dog.watches.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        let now = now_ns();
        for w in watches {
            let call = w.call.load(Ordering::Acquire);
            let running = call % 2 == 1;
            let lasted = w.seen.load(Ordering::Relaxed) == call;
            if !lasted {
                // A new call: its clock starts now (stored before `seen`, which validates it).
                w.started.store(now, Ordering::Release);
                w.seen.store(call, Ordering::Release);
            }
            if running
                && (lasted || w.abort.load(Ordering::Relaxed))
                && w.signalled.swap(call, Ordering::Relaxed) != call
            {
                let thread = w.thread.lock().unwrap_or_else(|p| p.into_inner());
                if *thread != 0 {
                    // SAFETY: the thread is alive: it set this id at the start of its call and
                    // clears it (under this lock) before its state goes away. A signal that
                    // lands after the call ended finds no call running and does nothing.
                    unsafe { libc::pthread_kill(*thread as libc::pthread_t, signal()) };
                }
            }
        }
    }
}

/// Nanoseconds on the monotonic clock since the watchdog's first look.
fn now_ns() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// The signal the watchdog sends (a real-time signal nothing else in lunet uses).
pub(crate) fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 5
}

fn install_handler(on_signal: OnSignal) {
    // SAFETY: a zeroed sigaction with a handler that only calls async-signal-safe code
    // (a thread-local read and lua_sethook); SA_RESTART keeps interrupted system calls going.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(signal(), &sa, std::ptr::null_mut());
    }
}
