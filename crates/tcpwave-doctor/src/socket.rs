//! One TCP socket as the kernel reports it, whichever source it came from.

use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// TCP states with the kernel's numbering (`include/net/tcp_states.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
}

impl TcpState {
    /// Every state, in kernel order.
    pub const ALL: [TcpState; 11] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
    ];

    /// The state for a kernel state number. `TCP_NEW_SYN_RECV` (12, a request socket) is
    /// reported as SYN_RECV, as `ss` does.
    pub fn from_kernel(number: u8) -> Option<TcpState> {
        match number {
            12 => Some(TcpState::SynRecv),
            n => TcpState::ALL.iter().copied().find(|s| *s as u8 == n),
        }
    }

    /// Bit of this state in sock_diag's `idiag_states` mask.
    pub fn mask_bit(self) -> u32 {
        let bit = 1u32 << (self as u32);
        // Request sockets (SYN_RECV) live in the kernel as TCP_NEW_SYN_RECV.
        if self == TcpState::SynRecv {
            bit | 1 << 12
        } else {
            bit
        }
    }

    /// The name used in reports and JSON: `CLOSE_WAIT`, `TIME_WAIT`, ...
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// The name `ss` prints in its State column (`ESTAB`, `CLOSE-WAIT`, `UNCONN`, ...).
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "UNCONN",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// Parses a state the way people write it: `close-wait`, `CLOSE_WAIT`, `closewait`,
    /// `estab`, `fin-wait-2`, `tw`, `syn-recv`, ...
    pub fn parse(text: &str) -> Option<TcpState> {
        let key: String = text
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let state = match key.as_str() {
            "established" | "estab" | "est" => TcpState::Established,
            "synsent" => TcpState::SynSent,
            "synrecv" | "synreceived" => TcpState::SynRecv,
            "finwait1" => TcpState::FinWait1,
            "finwait2" => TcpState::FinWait2,
            "timewait" | "tw" => TcpState::TimeWait,
            "close" | "closed" | "unconn" => TcpState::Close,
            "closewait" | "cw" => TcpState::CloseWait,
            "lastack" => TcpState::LastAck,
            "listen" | "listening" => TcpState::Listen,
            "closing" => TcpState::Closing,
            _ => return None,
        };
        Some(state)
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kernel timer runs on the socket (`idiag_timer`, the `tr` column of /proc/net/tcp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    None,
    Retransmit,
    Keepalive,
    TimeWait,
    ZeroWindowProbe,
}

impl TimerKind {
    pub fn from_kernel(number: u8) -> TimerKind {
        match number {
            1 => TimerKind::Retransmit,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::ZeroWindowProbe,
            _ => TimerKind::None,
        }
    }
}

/// The few `struct tcp_info` fields the diagnosis uses (full sockets only; TIME_WAIT and
/// request sockets have none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Milliseconds since the last data segment was sent.
    pub last_data_sent_ms: u32,
    /// Milliseconds since the last data segment was received.
    pub last_data_recv_ms: u32,
    /// Milliseconds since the last ACK was received. The peer's FIN carries an ACK, so on a
    /// CLOSE_WAIT socket this is (at least) how long it has been in CLOSE_WAIT.
    pub last_ack_recv_ms: u32,
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Current retransmission timeout, microseconds.
    pub rto_us: u32,
    /// Retransmissions over the connection's life.
    pub total_retrans: u32,
    /// Unanswered keepalive or zero-window probes.
    pub probes: u8,
}

/// One socket. Addresses are canonical: an IPv4-mapped IPv6 address is shown as IPv4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub state: TcpState,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Unread bytes (for LISTEN: connections waiting in the accept queue).
    pub recv_q: u32,
    /// Unacknowledged bytes (for LISTEN: the accept queue's size).
    pub send_q: u32,
    pub timer: TimerKind,
    /// Milliseconds until the timer fires (TIME_WAIT: the time left).
    pub timer_ms: u32,
    pub retransmits: u8,
    pub uid: u32,
    /// Socket inode: 0 for TIME_WAIT, request and orphaned sockets (no file refers to them).
    pub inode: u64,
    pub info: Option<TcpInfo>,
}

impl Socket {
    /// True when no process holds this socket (TIME_WAIT, orphans, not-yet-accepted ones).
    pub fn is_orphan(&self) -> bool {
        self.inode == 0
    }

    /// The peer's FIN has arrived (CLOSE_WAIT, LAST_ACK, CLOSING). Recv-Q is
    /// `rcv_nxt − copied_seq` and a FIN takes one sequence number, so on these sockets Recv-Q
    /// counts the FIN as one byte until the application reads the end of file.
    pub fn peer_fin_received(&self) -> bool {
        matches!(
            self.state,
            TcpState::CloseWait | TcpState::LastAck | TcpState::Closing
        )
    }

    /// Bytes of data received and not yet read (Recv-Q without the FIN's 1).
    pub fn unread_data_bytes(&self) -> u32 {
        match self.state {
            TcpState::Listen => 0,
            _ if self.peer_fin_received() => self.recv_q.saturating_sub(1),
            _ => self.recv_q,
        }
    }

    /// The application has not even read the end of file (read() returning 0): it is not
    /// reading this socket at all.
    pub fn eof_not_read(&self) -> bool {
        self.peer_fin_received() && self.recv_q > 0
    }
}

/// Makes `::ffff:192.0.2.1` read as `192.0.2.1`, so dual-stack sockets group with IPv4 ones.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}
