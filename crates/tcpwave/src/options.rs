//! Socket options an application sets per connection (`setsockopt`).

use crate::error::Error;
use crate::time::Duration;

/// Linux `MAX_TCP_KEEPIDLE` (include/net/tcp.h): TCP_KEEPIDLE is at most 32767 s.
pub const MAX_TCP_KEEPIDLE: Duration = Duration::from_secs(32767);
/// Linux `MAX_TCP_KEEPINTVL`: TCP_KEEPINTVL is at most 32767 s.
pub const MAX_TCP_KEEPINTVL: Duration = Duration::from_secs(32767);
/// Linux `MAX_TCP_KEEPCNT`: TCP_KEEPCNT is at most 127 probes.
pub const MAX_TCP_KEEPCNT: u32 = 127;
/// The smallest TCP_KEEPIDLE and TCP_KEEPINTVL, 1 s: Linux takes whole seconds and
/// refuses 0, which would re-arm the keepalive timer at the instant it fires.
pub const MIN_TCP_KEEPALIVE: Duration = Duration::from_secs(1);

/// A socket option and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    /// SO_LINGER: `None` off; `Some(0)` makes close() send RST (abortive close).
    Linger(Option<Duration>),
    /// SO_KEEPALIVE.
    KeepAlive(bool),
    /// TCP_NODELAY: disable Nagle's algorithm (RFC 1122 §4.2.3.4).
    NoDelay(bool),
    /// TCP_KEEPIDLE: idle time before the first probe, 1 s to [`MAX_TCP_KEEPIDLE`].
    KeepIdle(Duration),
    /// TCP_KEEPINTVL: gap between probes, 1 s to [`MAX_TCP_KEEPINTVL`].
    KeepIntvl(Duration),
    /// TCP_KEEPCNT: unanswered probes before reset, 1 to [`MAX_TCP_KEEPCNT`].
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

impl SockOpt {
    /// Linux `do_tcp_setsockopt`'s range checks: `if (val < 1 || val > MAX_TCP_KEEPIDLE)
    /// return -EINVAL;`, and the same for TCP_KEEPINTVL and TCP_KEEPCNT. Linux counts
    /// TCP_KEEPIDLE and TCP_KEEPINTVL in whole seconds; a [`Duration`] below 1 s is the
    /// 0 that Linux refuses.
    pub fn check(self) -> Result<(), Error> {
        let in_range = match self {
            SockOpt::KeepIdle(idle) => (MIN_TCP_KEEPALIVE..=MAX_TCP_KEEPIDLE).contains(&idle),
            SockOpt::KeepIntvl(gap) => (MIN_TCP_KEEPALIVE..=MAX_TCP_KEEPINTVL).contains(&gap),
            SockOpt::KeepCnt(probes) => (1..=MAX_TCP_KEEPCNT).contains(&probes),
            SockOpt::Linger(_)
            | SockOpt::KeepAlive(_)
            | SockOpt::NoDelay(_)
            | SockOpt::Linger2(_)
            | SockOpt::UserTimeout(_) => true,
        };
        if in_range {
            Ok(())
        } else {
            Err(Error::InvalidInput)
        }
    }
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
