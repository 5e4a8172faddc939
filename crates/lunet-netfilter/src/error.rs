//! The crate's error type: every failure names what failed (a command with its stderr, a
//! queue operation with its errno, an unsupported value with the reason).

use std::io;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A command could not be started (not installed?).
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A family, hook or feature this crate does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A state name that cannot be used in chain names and comments.
    #[error("invalid state name `{name}`: {reason}")]
    InvalidState {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A state's (shortened) chain name is another state's chain already.
    #[error(
        "state `{state}`: its chain {chain} is state `{other}`'s already (their long names \
         shorten alike); rename one of them"
    )]
    ChainTaken {
        /// The state being installed.
        state: String,
        /// The chain both names map to.
        chain: String,
        /// The state whose jump leads to that chain.
        other: String,
    },
    /// A rule or payload that cannot be expressed.
    #[error("invalid: {0}")]
    Invalid(String),
    /// An NFQUEUE netlink operation failed.
    #[error("NFQUEUE {op}: {source}")]
    Queue {
        /// The operation, e.g. `bind queue 3`.
        op: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Rules were removed from another network namespace than the one they were installed in.
    #[error("wrong network namespace: {0}")]
    WrongNamespace(String),
    /// An install failed and its rollback failed too; `left` lists what may remain.
    #[error("{error}; rollback failed too, possibly left behind: {}", left.join("; "))]
    RollbackFailed {
        /// The original failure.
        error: Box<Error>,
        /// Rollback failures.
        left: Vec<String>,
    },
    /// Several independent removals failed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Many(Vec<Error>),
}

impl Error {
    pub(crate) fn queue(op: impl Into<String>, source: io::Error) -> Self {
        Error::Queue {
            op: op.into(),
            source,
        }
    }

    /// Ok when `errors` is empty, the error itself when there is one, [`Error::Many`] else.
    pub(crate) fn collect(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }
}
