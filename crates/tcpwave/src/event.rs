//! What the endpoint tells its user: state changes with their cause, and readiness.
//! Traces, terminal diagrams and pictures are built from these events alone.

use crate::endpoint::{ConnId, ListenerId};
use crate::error::Error;
use crate::state::State;
use crate::tuple::FourTuple;

/// Why a connection changed state.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Reason {
    /// The application called connect().
    AppConnect,
    /// The application called close().
    AppClose,
    /// The application called shutdown(SHUT_WR).
    AppShutdown,
    /// The application aborted (SO_LINGER 0, or close with unread data).
    AppAbort,
    /// A SYN arrived (passive open, or simultaneous open); or one in the window of a
    /// passive open still in SYN-RECEIVED reset it (Linux `tcp_check_req`).
    RcvSyn,
    /// A SYN-ACK arrived.
    RcvSynAck,
    /// An ACK arrived that completed the handshake or acknowledged our FIN.
    RcvAck,
    /// The peer's FIN arrived.
    RcvFin,
    /// An acceptable RST arrived.
    RcvRst,
    /// 2·MSL passed in TIME_WAIT.
    TimeWaitExpired,
    /// An orphaned FIN_WAIT_2 waited `tcp_fin_timeout` for the peer's FIN.
    FinWait2Timeout,
    /// Retransmissions ran out.
    RetransmitTimeout,
    /// Keepalive probes went unanswered.
    KeepaliveTimeout,
    /// The listener the half-open connection belonged to was closed.
    ListenerClosed,
    /// Data arrived after the application closed (Linux answers with RST).
    DataAfterClose,
    /// TIME_WAIT was skipped (MSL 0 or the table was full).
    TimeWaitSkipped,
    /// A new SYN reused a TIME_WAIT tuple (RFC 6191), or a connect() reused it (tcp_tw_reuse).
    TimeWaitReused,
    /// The handshake's ACK found the listener's accept queue full and
    /// `tcp_abort_on_overflow` is set: the half-open connection was reset.
    AcceptQueueFull,
}

impl Reason {
    /// Short lower-case name for traces.
    pub fn name(self) -> &'static str {
        match self {
            Reason::AppConnect => "connect()",
            Reason::AppClose => "close()",
            Reason::AppShutdown => "shutdown(SHUT_WR)",
            Reason::AppAbort => "abort",
            Reason::RcvSyn => "rcv SYN",
            Reason::RcvSynAck => "rcv SYN-ACK",
            Reason::RcvAck => "rcv ACK",
            Reason::RcvFin => "rcv FIN",
            Reason::RcvRst => "rcv RST",
            Reason::TimeWaitExpired => "2MSL expired",
            Reason::FinWait2Timeout => "tcp_fin_timeout",
            Reason::RetransmitTimeout => "retransmissions exhausted",
            Reason::KeepaliveTimeout => "keepalive probes unanswered",
            Reason::ListenerClosed => "listener closed",
            Reason::DataAfterClose => "data after close()",
            Reason::TimeWaitSkipped => "no TIME_WAIT",
            Reason::TimeWaitReused => "TIME_WAIT reused",
            Reason::AcceptQueueFull => "accept queue full",
        }
    }
}

/// An event from the endpoint, polled with `Endpoint::poll_event`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// A connection (or TIME_WAIT entry, `conn: None`) changed state.
    StateChanged {
        conn: Option<ConnId>,
        tuple: FourTuple,
        from: State,
        to: State,
        reason: Reason,
    },
    /// A TIME_WAIT entry re-ACKed a retransmitted FIN and restarted its 2·MSL timer.
    TimeWaitRestarted {
        tuple: FourTuple,
        expiry: crate::time::Instant,
    },
    /// connect() completed: the connection is established.
    Connected { conn: ConnId },
    /// A connection finished its handshake and waits in the listener's accept queue.
    Acceptable { listener: ListenerId, conn: ConnId },
    /// New in-order data can be read.
    Readable { conn: ConnId },
    /// Send-buffer space became available.
    Writable { conn: ConnId },
    /// The peer sent FIN: reads return end of file after the buffered data.
    PeerClosed { conn: ConnId },
    /// The connection failed: reset, refused or timed out. The handle stays valid
    /// (reads and writes return this error) until the application closes it.
    Error { conn: ConnId, error: Error },
}
