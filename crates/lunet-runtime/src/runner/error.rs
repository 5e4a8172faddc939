//! Why a script did not start.

use std::io;
use std::path::PathBuf;

use super::plan::PlanError;
use crate::kernel::KernelError;

/// Why a script did not start. [`StartError::is_script`] tells the script's fault (it does not
/// parse, its body failed, a hook cannot have its tier) from the machine's (rules, queues,
/// namespaces, threads).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The flow map, its programs or their rules could not be made.
    #[error("flow verdicts (skb:flow): {0}")]
    Flows(String),
    /// The script does not parse or its body failed.
    #[error(transparent)]
    Body(#[from] lunet_lua::ScriptError),
    /// A hook cannot have the tier it asks for, or lacks what its tier needs.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A compiled hook did not make it into the kernel.
    #[error("{}", .0.report())]
    Kernel(KernelError),
    #[error("cannot enter network namespace '{ns}': {source}")]
    Netns { ns: String, source: io::Error },
    #[error("cannot remove stale pins in {}: {source}", dir.display())]
    StalePins { dir: PathBuf, source: io::Error },
    /// The reader of what compiled hooks print could not start.
    #[error("{0}")]
    Printer(KernelError),
    #[error("no free NFQUEUE number: {0}")]
    NoQueue(lunet_netfilter::Error),
    #[error("installing rules failed: {0}")]
    Install(lunet_netfilter::Error),
    #[error("cannot start the state's thread: {0}")]
    Thread(io::Error),
    #[error("the state's thread ended before it reported")]
    ThreadGone,
}

impl StartError {
    /// Whether the script is at fault (exit code 3, error kind `script`), not the machine.
    pub fn is_script(&self) -> bool {
        matches!(
            self,
            StartError::Body(_) | StartError::Plan(_) | StartError::Kernel(_)
        )
    }
}

/// Waits for the first report of a thread that sets a state (or a copy) up: what it is ready
/// with, or why not, in which case the thread is joined before the error is returned.
pub(super) fn first_report<T>(
    reports: &std::sync::mpsc::Receiver<Result<T, StartError>>,
    thread: std::thread::JoinHandle<()>,
) -> Result<(T, std::thread::JoinHandle<()>), StartError> {
    match reports.recv() {
        Ok(Ok(ready)) => Ok((ready, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(StartError::ThreadGone)
        }
    }
}
