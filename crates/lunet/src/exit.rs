//! Exit codes, one per kind of failure a script or shell user can act on (docs/cli.md).

use std::fmt;

use lunet_runtime::check::CheckError;
use lunet_runtime::protocol::ErrorKind;
use lunet_runtime::replay::ReplayError;
use lunet_runtime::runner::StartError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Rules, queues, files or lunet itself failed.
    Failure = 1,
    /// The command line is wrong (clap's own code).
    Usage = 2,
    /// The script does not parse, its body failed, or a hook cannot have its tier.
    Script = 3,
    /// The daemon cannot be reached.
    Daemon = 4,
    /// No state of that name, or one exists already.
    NotFound = 5,
    /// The command needs root.
    NotRoot = 6,
}

#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
    pub fn daemon(message: String) -> Self {
        Failure::new(Code::Daemon, message)
    }
    pub fn internal(message: String) -> Self {
        Failure::new(Code::Failure, message)
    }
    pub fn script(message: impl Into<String>) -> Self {
        Failure::new(Code::Script, message)
    }
    pub fn from_kind(kind: ErrorKind, message: String) -> Self {
        let code = match kind {
            ErrorKind::Script => Code::Script,
            ErrorKind::NotFound | ErrorKind::Exists => Code::NotFound,
            ErrorKind::BadRequest => Code::Usage,
            ErrorKind::Netfilter | ErrorKind::Internal => Code::Failure,
            ErrorKind::Busy => Code::Daemon,
            ErrorKind::Denied => Code::NotRoot,
        };
        Failure::new(code, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new(Code::Failure, e.to_string())
    }
}

impl From<lunet_bench::BenchError> for Failure {
    fn from(e: lunet_bench::BenchError) -> Failure {
        Failure::internal(e.to_string())
    }
}

impl From<lunet_bench::gen::GenError> for Failure {
    fn from(e: lunet_bench::gen::GenError) -> Failure {
        let code = if e.is_usage() {
            Code::Usage
        } else {
            Code::Failure
        };
        Failure::new(code, e.to_string())
    }
}

impl From<StartError> for Failure {
    fn from(e: StartError) -> Failure {
        if e.is_script() {
            Failure::script(e.to_string())
        } else {
            Failure::internal(e.to_string())
        }
    }
}

impl From<CheckError> for Failure {
    fn from(e: CheckError) -> Failure {
        Failure::script(e.to_string())
    }
}

impl From<ReplayError> for Failure {
    fn from(e: ReplayError) -> Failure {
        let code = match e {
            ReplayError::NotRoot(_) => Code::NotRoot,
            ref e if e.is_script() => Code::Script,
            _ => Code::Failure,
        };
        Failure::new(code, e.to_string())
    }
}

/// Fails with [`Code::NotRoot`] unless running as root; `what` says what needs it.
pub fn require_root(what: &str) -> Result<(), Failure> {
    if !lunet_netns::is_root() {
        return Err(Failure::new(
            Code::NotRoot,
            format!("{what} needs root: it installs netfilter rules and binds NFQUEUE (try: sudo lunet ...)"),
        ));
    }
    Ok(())
}
