//! What one call (a hook call, or the body) may spend: Lua instructions and wall-clock time.
//!
//! A call normally runs with **no hook at all**: Lua 5.4's count hook, once set, makes every
//! instruction trap into the debugger (17% of the Lua tier's time on the SNI filter), so it is
//! set only on calls that last. The [`crate::watchdog`] notices a call still running after
//! about a millisecond and, from a signal on the call's own thread (where Lua allows it), sets
//! the count hook on the Lua thread that is running. From then on the hook charges
//! [`CHUNK`] instructions at a time and stops the call with an error at the first check past
//! its instruction budget, its time limit, or a stop request.
//!
//! So a call shorter than a millisecond is never stopped, and costs two atomic increments; a
//! longer one runs its budget counted from its first millisecond or so on (what it ran before
//! is not charged: an estimate from elapsed time would charge a preempted call for time it
//! did not run), and is stopped within a [`CHUNK`] of instructions of that, or of its
//! deadline. Work inside
//! C functions is bounded too: lunet's own string functions ([`crate::strings`]) check the same
//! budget as they go, and a stopped call keeps raising at every check, so `pcall`, `xpcall`
//! and `coroutine.resume` (wrapped here) cannot swallow the stop.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, CStr};
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mlua::{ffi, Lua, MultiValue, Value};

use crate::watchdog::{self, Watch};

/// Instructions between two checks of an armed call.
pub(crate) const CHUNK: c_int = 1000;

/// Why a call was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// It ran past its instruction budget.
    Budget,
    /// It ran past its time limit.
    Time,
    /// The state is stopping.
    Aborted,
}

thread_local! {
    /// The budget of the call running on this thread, or null.
    static ACTIVE: Cell<*const Budget> = const { Cell::new(ptr::null()) };
    /// The Lua thread (main state or coroutine) running that call: the one the watchdog's
    /// signal sets the count hook on.
    static CURRENT: Cell<*mut ffi::lua_State> = const { Cell::new(ptr::null_mut()) };
}

/// One state's budget. Lives on the state's thread; the watchdog sees only its [`Watch`].
pub(crate) struct Budget {
    main: *mut ffi::lua_State,
    watch: Arc<Watch>,
    limit: Cell<u64>,
    used: Cell<u64>,
    time_limit: Cell<Duration>,
    stop: Cell<Option<Stop>>,
    /// `file:line: ` of the last check: where a memory error most likely happened.
    last_line: RefCell<String>,
}

/// Lets another thread stop a state's calls: the running one at its next check, and every
/// later one at its first (see [`Budget`]).
#[derive(Clone)]
pub struct AbortHandle(Arc<AtomicBool>);

impl AbortHandle {
    /// A handle for a state yet to start ([`crate::StateOptions::abort`]): aborting it stops
    /// the state's body too.
    #[allow(clippy::new_without_default)]
    pub fn new() -> AbortHandle {
        AbortHandle(Arc::new(AtomicBool::new(false)))
    }

    /// Whether [`AbortHandle::abort`] was called.
    pub fn aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn abort(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Budget {
    /// The budget of `lua`'s calls, stopped by `abort`; installs the `pcall`/`xpcall`/
    /// `coroutine` wrappers.
    pub fn install(lua: &Lua, abort: &AbortHandle) -> mlua::Result<Rc<Budget>> {
        let mut main = ptr::null_mut();
        // SAFETY: the closure only records the state pointer it is given.
        unsafe { lua.exec_raw::<()>((), |state| main = state)? };
        // A watch of its own (its own thread and calls), stopped with the handle's others.
        let watch = watchdog::register(on_signal, abort.0.clone());
        watch.settle();
        let budget = Rc::new(Budget {
            main,
            watch,
            limit: Cell::new(0),
            used: Cell::new(0),
            time_limit: Cell::new(Duration::MAX),
            stop: Cell::new(None),
            last_line: RefCell::new(String::new()),
        });
        install_wrappers(lua, budget.clone())?;
        Ok(budget)
    }

    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle(self.watch.abort.clone())
    }

    /// Starts a call of at most `instructions` instructions and `time` of wall-clock time.
    /// Pair it with [`Budget::end`] (the [`Call`] guard does).
    pub fn begin(self: &Rc<Self>, instructions: u64, time: Duration) -> Call {
        #[cfg(feature = "unbudgeted")]
        {
            let _ = (instructions, time);
            return Call(None);
        }
        #[cfg(not(feature = "unbudgeted"))]
        self.begin_budgeted(instructions, time)
    }

    #[cfg_attr(feature = "unbudgeted", allow(dead_code))]
    fn begin_budgeted(self: &Rc<Self>, instructions: u64, time: Duration) -> Call {
        self.limit.set(instructions);
        self.used.set(0);
        self.time_limit.set(time);
        self.stop.set(if self.watch.abort.load(Ordering::Relaxed) {
            Some(Stop::Aborted)
        } else {
            None
        });
        self.last_line.borrow_mut().clear();
        ACTIVE.set(Rc::as_ptr(self));
        CURRENT.set(self.main);
        self.watch.begin();
        if self.stop.get().is_some() {
            // A stopping state's calls end at their first instruction.
            // SAFETY: `main` is this state's main thread, running on this thread.
            unsafe { arm(self.main) };
        }
        Call(Some(self.clone()))
    }

    fn end(&self) {
        CURRENT.set(ptr::null_mut());
        ACTIVE.set(ptr::null());
        // SAFETY: `main` is this state's main thread; clearing its hook has no preconditions.
        unsafe { ffi::lua_sethook(self.main, None, 0, 0) };
        self.watch.end();
    }

    /// Why the call in progress (or the last one) was stopped, if it was.
    pub fn stopped(&self) -> Option<Stop> {
        self.stop.get()
    }

    pub fn limit(&self) -> u64 {
        self.limit.get()
    }

    pub fn time_limit(&self) -> Duration {
        self.time_limit.get()
    }

    pub fn last_line(&self) -> String {
        self.last_line.borrow().clone()
    }

    /// The check of an armed call: the stop it has earned, if any.
    fn judge(&self) -> Result<(), Stop> {
        let stop = if self.watch.abort.load(Ordering::Relaxed) {
            Some(Stop::Aborted)
        } else if self.watch.elapsed() > self.time_limit.get() {
            Some(Stop::Time)
        } else if self.used.get() > self.limit.get() {
            Some(Stop::Budget)
        } else {
            None
        };
        match stop {
            Some(s) => {
                self.stop.set(Some(s));
                Err(s)
            }
            None => Ok(()),
        }
    }

    /// The message of a stop, prefixed with `at` (`file:line: ` or empty).
    pub fn message(&self, stop: Stop, at: &str) -> String {
        match stop {
            Stop::Budget => format!("{at}instruction budget of {} exhausted", self.limit()),
            Stop::Time => format!(
                "{at}time limit of {} exhausted",
                crate::limits::show_duration(self.time_limit())
            ),
            Stop::Aborted => format!("{at}stopped: the state is stopping"),
        }
    }

    /// One check of an armed call, from the count hook.
    fn on_hook(&self, l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) -> Option<String> {
        self.used.set(self.used.get().saturating_add(CHUNK as u64));
        // SAFETY: `ar` is the activation record the hook was called with, on thread `l`.
        let at = unsafe { location(l, ar) };
        let verdict = match self.stop.get() {
            Some(s) => Err(s),
            None => self.judge(),
        };
        match verdict {
            Err(s) => Some(self.message(s, &at)),
            Ok(()) => {
                *self.last_line.borrow_mut() = at;
                None
            }
        }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.watch.retire();
    }
}

/// The running call; ends it when dropped, whatever path the caller takes.
/// `None` only in a build with the `unbudgeted` feature (measuring only).
pub(crate) struct Call(Option<Rc<Budget>>);

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.end();
        }
    }
}

/// For lunet's own C functions, between two steps of a long loop: the message to raise if the
/// call running on this thread must stop (its deadline passed, its state is stopping, or it
/// was stopped already). Reads the clock: call it every few hundred steps, not every one.
pub(crate) fn check_current() -> Option<String> {
    let b = ACTIVE.get();
    if b.is_null() {
        return None;
    }
    // SAFETY: ACTIVE points to the Budget of the call running on this thread (see count_hook).
    let b = unsafe { &*b };
    let verdict = match b.stop.get() {
        Some(s) => Err(s),
        None => b.judge(),
    };
    verdict.err().map(|s| b.message(s, ""))
}

/// `file:line: ` of the instruction the hook stopped at, or "".
///
/// # Safety
/// `ar` must be the activation record of a hook call on `l`.
unsafe fn location(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) -> String {
    if ffi::lua_getinfo(l, c"Sl".as_ptr(), ar) == 0 || (*ar).currentline < 0 {
        return String::new();
    }
    let src = CStr::from_ptr((*ar).short_src.as_ptr()).to_string_lossy();
    format!("{src}:{}: ", (*ar).currentline)
}

/// Sets the count hook on Lua thread `l`.
///
/// # Safety
/// `l` must be a live Lua thread; from a signal handler only on the thread running it.
pub(crate) unsafe fn arm(l: *mut ffi::lua_State) {
    ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, CHUNK);
}

/// The watchdog's signal: arms the Lua thread running this thread's call, if there is one.
/// Only reads a thread-local and calls `lua_sethook`, which Lua documents as safe to call
/// from a signal handler.
extern "C" fn on_signal(_: c_int) {
    let l = CURRENT.get();
    if !l.is_null() {
        // SAFETY: CURRENT is the live Lua thread running on this thread (set by Budget::begin
        // and the coroutine wrappers, cleared by Budget::end).
        unsafe { arm(l) };
    }
}

unsafe extern "C-unwind" fn count_hook(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    let budget = ACTIVE.get();
    if budget.is_null() {
        // A coroutine armed in an earlier call, resumed outside any call: nothing to count.
        ffi::lua_sethook(l, None, 0, 0);
        return;
    }
    // SAFETY: ACTIVE points to the Budget of the call running on this thread; Budget::end
    // clears it before the Budget can go away.
    let message = (*budget).on_hook(l, ar);
    if let Some(m) = message {
        ffi::lua_pushlstring(l, m.as_ptr().cast(), m.len());
        drop(m);
        // Nothing with a destructor is alive in this frame: lua_error's longjmp only leaves C
        // frames of the Lua VM and this one.
        ffi::lua_error(l);
    }
}

/// Makes `coroutine.resume` (and `coroutine.wrap`, rebuilt on it) keep [`CURRENT`] on the
/// running Lua thread and carry an armed call's hook into and out of coroutines; makes
/// `pcall`, `xpcall` and `coroutine.resume` re-raise a stop they caught; turns errors lunet's
/// Rust functions raised into the plain `file:line: message` strings Lua code expects.
fn install_wrappers(lua: &Lua, budget: Rc<Budget>) -> mlua::Result<()> {
    let check = lua.create_function(move |lua, mut results: MultiValue| {
        if let Some(s) = budget.stopped() {
            return Err(mlua::Error::RuntimeError(budget.message(s, "")));
        }
        if let Some(Value::Error(e)) = results.get(1) {
            let text = lua.create_string(crate::error::describe(e))?;
            results[1] = Value::String(text);
        }
        Ok(results)
    })?;
    // SAFETY: both are C functions that only read their arguments and call lua_sethook on
    // live threads (see `enter` and `leave`).
    let (enter, leave) = unsafe { (lua.create_c_function(enter)?, lua.create_c_function(leave)?) };
    lua.load(
        r#"
        local check, enter, leave = ...
        local rawpcall, rawxpcall, pack, unpack = pcall, xpcall, table.pack, table.unpack
        local rawresume, create, close = coroutine.resume, coroutine.create, coroutine.close
        pcall = function(...) return check(rawpcall(...)) end
        xpcall = function(...) return check(rawxpcall(...)) end
        local function resume(co, ...)
            enter(co)
            return check(leave(rawresume(co, ...)))
        end
        coroutine.resume = resume
        coroutine.wrap = function(f)
            local co = create(f)
            return function(...)
                local r = pack(resume(co, ...))
                if r[1] then return unpack(r, 2, r.n) end
                close(co) -- its pending to-be-closed variables run, as Lua's own wrap does
                if type(r[2]) == "string" then error(r[2], 2) end
                error(r[2], 0)
            end
        end
        "#,
    )
    .set_name("=lunet-budget")
    .call::<()>((check, enter, leave))
}

/// Whether the call running on this thread has its count hook set.
fn armed(l: *mut ffi::lua_State) -> bool {
    // SAFETY: `l` is the live thread calling us.
    unsafe { ffi::lua_gethookmask(l) & ffi::LUA_MASKCOUNT != 0 }
}

/// Instructions a resume of a coroutine counts at least, in an armed call: a coroutine that
/// runs fewer than a [`CHUNK`] between two resumes never reaches its own count hook.
const RESUME_COST: u64 = 100;

/// `enter(co)`: the coroutine `co` is about to run; it becomes [`CURRENT`] and inherits the
/// caller's armed hook (arming an armed thread again would restart its count).
unsafe extern "C-unwind" fn enter(l: *mut ffi::lua_State) -> c_int {
    let co = ffi::lua_tothread(l, 1);
    if !co.is_null() && !CURRENT.get().is_null() {
        if armed(l) && !armed(co) {
            arm(co);
        }
        CURRENT.set(co);
    }
    0
}

/// `leave(...)`: the coroutine returned to the caller, which becomes [`CURRENT`] again (armed if
/// the coroutine was); in an armed call the resume is charged and the call checked. Returns
/// its arguments.
unsafe extern "C-unwind" fn leave(l: *mut ffi::lua_State) -> c_int {
    let current = CURRENT.get();
    if current.is_null() {
        return ffi::lua_gettop(l);
    }
    if current != l && armed(current) && !armed(l) {
        arm(l);
    }
    CURRENT.set(l);
    let budget = ACTIVE.get();
    if armed(l) && !budget.is_null() {
        // SAFETY: ACTIVE is the running call's Budget (see count_hook).
        let b = &*budget;
        b.used.set(b.used.get().saturating_add(RESUME_COST));
        let verdict = match b.stop.get() {
            Some(s) => Err(s),
            None => b.judge(),
        };
        if let Err(s) = verdict {
            let m = b.message(s, "");
            ffi::lua_pushlstring(l, m.as_ptr().cast(), m.len());
            drop(m);
            ffi::lua_error(l);
        }
    }
    ffi::lua_gettop(l)
}
