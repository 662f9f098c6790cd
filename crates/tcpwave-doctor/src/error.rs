//! Everything that can stop a diagnosis. Each message says what was wrong and what to do.

use std::io;
use std::path::PathBuf;

/// Why `tcpwave doctor` could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// `--netns NAME` names no namespace in /run/netns.
    #[error(
        "network namespace {name:?} not found: {path} does not exist \
         (list namespaces with `ip netns list`; doctor accepts names created by `ip netns add`)",
        path = path.display()
    )]
    NetnsNotFound { name: String, path: PathBuf },

    /// The namespace name would escape /run/netns.
    #[error("invalid namespace name {name:?}: give the bare name shown by `ip netns list`")]
    NetnsInvalidName { name: String },

    /// Entering another namespace needs CAP_SYS_ADMIN.
    #[error(
        "entering network namespace {name:?} needs root (CAP_SYS_ADMIN): \
         run `sudo tcpwave doctor --netns {name}`, or `sudo ip netns exec {name} tcpwave doctor`"
    )]
    NetnsPermission { name: String },

    /// setns(2) failed for another reason.
    #[error("cannot enter network namespace {name:?}: {source}")]
    NetnsEnter { name: String, source: io::Error },

    /// Neither netlink sock_diag nor /proc/net/tcp could be read.
    #[error(
        "cannot read the socket table: netlink sock_diag failed ({netlink}) and the /proc \
         fallback failed ({proc}); is /proc mounted?"
    )]
    NoSocketSource { netlink: String, proc: String },

    /// The netlink socket could not be opened or the dump failed.
    #[error("netlink sock_diag: {0}")]
    Netlink(String),

    /// A /proc file could not be read.
    #[error("cannot read {path}: {source}", path = path.display())]
    Proc { path: PathBuf, source: io::Error },

    /// A /proc file did not have the expected shape.
    #[error("unexpected format in {path}: {detail}", path = path.display())]
    ProcFormat { path: PathBuf, detail: String },

    /// A filter or option value the user gave cannot be understood.
    #[error("invalid {option} {value:?}: {hint}")]
    InvalidOption {
        option: &'static str,
        value: String,
        hint: String,
    },

    /// `--process` names no running process.
    #[error("--process {value:?}: {hint}")]
    NoSuchProcess { value: String, hint: String },

    /// Writing the report failed (closed pipe, full disk).
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),

    /// The collector thread died (a bug: please report it).
    #[error("the collector thread panicked; this is a bug in tcpwave doctor, please report it")]
    CollectorPanicked,
}

impl DoctorError {
    pub(crate) fn proc(path: impl Into<PathBuf>, source: io::Error) -> DoctorError {
        DoctorError::Proc {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = DoctorError> = std::result::Result<T, E>;
