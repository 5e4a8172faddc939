//! Signals: SIGINT and SIGTERM set a flag the long-running commands look at; the daemon
//! stops on them and reads its scripts directory again on SIGHUP.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lunet_runtime::daemon::{Rereader, Stopper};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::exit::Failure;

/// A flag that SIGINT or SIGTERM sets (the handler is the process's one).
pub fn quit_flag() -> Result<Arc<AtomicBool>, Failure> {
    let quit = Arc::new(AtomicBool::new(false));
    let flag = quit.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| Failure::internal(format!("cannot install the signal handler: {e}")))?;
    Ok(quit)
}

/// The daemon's signals, on a thread of their own: SIGINT and SIGTERM stop it, SIGHUP has it
/// read its scripts directory again (and is otherwise ignored: a daemon is not a terminal's).
pub fn daemon_signals(stopper: Stopper, rereader: Rereader) -> Result<(), Failure> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::internal(format!("cannot install the signal handlers: {e}")))?;
    std::thread::Builder::new()
        .name("lunet-signals".into())
        .spawn(move || {
            for s in signals.forever() {
                if s == SIGHUP {
                    if !rereader.reread() {
                        tracing::info!("SIGHUP: this daemon keeps no scripts directory");
                    }
                } else {
                    stopper.stop();
                    return;
                }
            }
        })
        .map_err(|e| Failure::internal(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}
