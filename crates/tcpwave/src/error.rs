//! Errors an application sees, mapped to the errno a Linux socket would return.

/// An error from an application call or delivered on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The peer answered our SYN with RST: nobody listens there.
    #[error("connection refused (ECONNREFUSED)")]
    ConnectionRefused,
    /// The peer reset the connection.
    #[error("connection reset by peer (ECONNRESET)")]
    ConnectionReset,
    /// Retransmissions or keepalive probes ran out.
    #[error("connection timed out (ETIMEDOUT)")]
    TimedOut,
    /// No ephemeral port is free for this destination (all in use or in TIME_WAIT).
    #[error("cannot assign requested address: no free ephemeral port (EADDRNOTAVAIL)")]
    AddrNotAvailable,
    /// The local address and port are already taken.
    #[error("address already in use (EADDRINUSE)")]
    AddrInUse,
    /// The connection is not (yet, or any longer) established.
    #[error("transport endpoint is not connected (ENOTCONN)")]
    NotConnected,
    /// Sending after our side was shut down or after the connection closed.
    #[error("broken pipe (EPIPE)")]
    BrokenPipe,
    /// Nothing to read / no room to write / nothing to accept yet.
    #[error("resource temporarily unavailable (EAGAIN)")]
    WouldBlock,
    /// The handle does not name a live connection or listener of this endpoint.
    #[error("bad handle (EBADF)")]
    BadHandle,
    /// The connection is already connected or connecting.
    #[error("already connected (EISCONN)")]
    AlreadyConnected,
    /// An argument is out of range (a zero backlog port, a bad option value).
    #[error("invalid argument (EINVAL)")]
    InvalidInput,
    /// The connection was aborted locally.
    #[error("software caused connection abort (ECONNABORTED)")]
    ConnectionAborted,
}

impl Error {
    /// The errno name, as in `errno.h`.
    pub fn errno_name(self) -> &'static str {
        match self {
            Error::ConnectionRefused => "ECONNREFUSED",
            Error::ConnectionReset => "ECONNRESET",
            Error::TimedOut => "ETIMEDOUT",
            Error::AddrNotAvailable => "EADDRNOTAVAIL",
            Error::AddrInUse => "EADDRINUSE",
            Error::NotConnected => "ENOTCONN",
            Error::BrokenPipe => "EPIPE",
            Error::WouldBlock => "EAGAIN",
            Error::BadHandle => "EBADF",
            Error::AlreadyConnected => "EISCONN",
            Error::InvalidInput => "EINVAL",
            Error::ConnectionAborted => "ECONNABORTED",
        }
    }

    /// The Linux errno value.
    pub fn errno(self) -> i32 {
        match self {
            Error::ConnectionRefused => 111,
            Error::ConnectionReset => 104,
            Error::TimedOut => 110,
            Error::AddrNotAvailable => 99,
            Error::AddrInUse => 98,
            Error::NotConnected => 107,
            Error::BrokenPipe => 32,
            Error::WouldBlock => 11,
            Error::BadHandle => 9,
            Error::AlreadyConnected => 106,
            Error::InvalidInput => 22,
            Error::ConnectionAborted => 103,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.errno())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_io_error_kinds() {
        use std::io::ErrorKind;
        let kind = |e: Error| std::io::Error::from(e).kind();
        assert_eq!(kind(Error::ConnectionRefused), ErrorKind::ConnectionRefused);
        assert_eq!(kind(Error::ConnectionReset), ErrorKind::ConnectionReset);
        assert_eq!(kind(Error::TimedOut), ErrorKind::TimedOut);
        assert_eq!(kind(Error::WouldBlock), ErrorKind::WouldBlock);
        assert_eq!(kind(Error::BrokenPipe), ErrorKind::BrokenPipe);
        assert_eq!(kind(Error::AddrInUse), ErrorKind::AddrInUse);
        assert_eq!(kind(Error::AddrNotAvailable), ErrorKind::AddrNotAvailable);
        assert_eq!(Error::TimedOut.errno_name(), "ETIMEDOUT");
    }
}
