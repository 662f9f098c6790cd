//! Errors of the TUN runtime. Socket calls return `std::io::Error` (with the errno a Linux
//! socket would give); setting up the device, the namespace and the loop returns [`TunError`].

use std::io;

/// Setting up or running the TUN runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum TunError {
    /// The process lacks the privilege the operation needs.
    #[error("{what} needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run it with sudo (running as uid {uid})")]
    NotRoot { what: &'static str, uid: u32 },
    /// `/dev/net/tun` could not be opened.
    #[error("cannot open /dev/net/tun: {source} (is the tun module loaded? `modprobe tun`)")]
    OpenTun { source: io::Error },
    /// The TUNSETIFF ioctl refused the device.
    #[error("cannot attach TUN device {name:?}: {source} (a persistent device must be IFF_TUN without packet info; a busy device has another owner)")]
    Attach { name: String, source: io::Error },
    /// A device name longer than IFNAMSIZ-1 or with bad characters.
    #[error("bad interface name {0:?}: use 1 to 15 of [A-Za-z0-9_.-]")]
    BadName(String),
    /// Entering a network namespace failed.
    #[error("cannot enter network namespace {path}: {source}")]
    Netns { path: String, source: io::Error },
    /// An `ip` command (device configuration) failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    /// An engine knob could not be set.
    #[error(transparent)]
    Config(#[from] tcpwave::ConfigError),
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: io::Error,
    },
    /// The user pressed Ctrl-C (or sent SIGTERM); everything was cleaned up.
    #[error("interrupted; namespace and devices were cleaned up")]
    Interrupted,
}

impl TunError {
    pub(crate) fn io(context: &'static str, source: io::Error) -> TunError {
        TunError::Io { context, source }
    }
}

/// Fails with [`TunError::NotRoot`] unless the effective uid is 0.
pub fn require_root(what: &'static str) -> Result<(), TunError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        Ok(())
    } else {
        Err(TunError::NotRoot { what, uid })
    }
}

impl From<TunError> for io::Error {
    fn from(e: TunError) -> io::Error {
        match e {
            TunError::OpenTun { source, .. }
            | TunError::Attach { source, .. }
            | TunError::Netns { source, .. }
            | TunError::Io { source, .. } => source,
            TunError::NotRoot { .. } => io::Error::new(io::ErrorKind::PermissionDenied, e),
            TunError::Interrupted => io::Error::new(io::ErrorKind::Interrupted, e),
            other => io::Error::other(other),
        }
    }
}
