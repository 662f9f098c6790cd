//! Socket options an application sets per connection (`setsockopt`).

use crate::time::Duration;

/// A socket option and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    /// SO_LINGER: `None` off; `Some(0)` makes close() send RST (abortive close).
    Linger(Option<Duration>),
    /// SO_KEEPALIVE.
    KeepAlive(bool),
    /// TCP_NODELAY: disable Nagle's algorithm (RFC 1122 §4.2.3.4).
    NoDelay(bool),
    /// TCP_KEEPIDLE: idle time before the first probe.
    KeepIdle(Duration),
    /// TCP_KEEPINTVL: gap between probes.
    KeepIntvl(Duration),
    /// TCP_KEEPCNT: unanswered probes before reset.
    KeepCnt(u32),
    /// TCP_LINGER2: orphaned FIN_WAIT_2 lifetime; `None` (Linux: −1) resets at once.
    Linger2(Option<Duration>),
    /// TCP_USER_TIMEOUT: give up when data stays unacknowledged this long (0 = off).
    UserTimeout(Duration),
}

/// Per-connection socket options. `None` means "use the endpoint's sysctl".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    pub linger: Option<Duration>,
    pub keepalive: bool,
    pub nodelay: bool,
    pub keepidle: Option<Duration>,
    pub keepintvl: Option<Duration>,
    pub keepcnt: Option<u32>,
    /// `Some(None)`: TCP_LINGER2 = −1.
    pub linger2: Option<Option<Duration>>,
    pub user_timeout: Option<Duration>,
}

impl SocketOptions {
    pub fn apply(&mut self, opt: SockOpt) {
        match opt {
            SockOpt::Linger(v) => self.linger = v,
            SockOpt::KeepAlive(v) => self.keepalive = v,
            SockOpt::NoDelay(v) => self.nodelay = v,
            SockOpt::KeepIdle(v) => self.keepidle = Some(v),
            SockOpt::KeepIntvl(v) => self.keepintvl = Some(v),
            SockOpt::KeepCnt(v) => self.keepcnt = Some(v),
            SockOpt::Linger2(v) => self.linger2 = Some(v),
            SockOpt::UserTimeout(v) => self.user_timeout = (v > Duration::ZERO).then_some(v),
        }
    }
}
