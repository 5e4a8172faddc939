//! Ctrl-C: SIGINT and SIGTERM set a flag the long-running commands look at.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::exit::Failure;

/// A flag that SIGINT or SIGTERM sets (the handler is the process's one).
pub fn quit_flag() -> Result<Arc<AtomicBool>, Failure> {
    let quit = Arc::new(AtomicBool::new(false));
    let flag = quit.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| Failure::internal(format!("cannot install the signal handler: {e}")))?;
    Ok(quit)
}
