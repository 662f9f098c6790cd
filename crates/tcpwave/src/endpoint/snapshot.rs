//! A `netstat` of the endpoint: every listener, connection and TIME_WAIT entry.
//! For display and diagnosis only; it walks everything and allocates.

use std::net::SocketAddrV4;

use super::{ConnId, Endpoint};
use crate::seq::SeqNumber;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// One row of the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    pub state: State,
    pub local: SocketAddrV4,
    /// Unspecified (0.0.0.0:0) for listeners.
    pub remote: SocketAddrV4,
    /// Bytes received and not yet read (Recv-Q); for a listener, its accept queue length.
    pub recv_queue: usize,
    /// Bytes written and not yet acknowledged (Send-Q); for a listener, its backlog.
    pub send_queue: usize,
    /// The earliest timer running, if any.
    pub timer: Option<Instant>,
    pub conn: Option<ConnId>,
}

/// A connection's control block at one moment (for step-through pictures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub tuple: FourTuple,
    pub state: State,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    pub snd_wnd: u32,
    /// `None` before the peer's SYN arrived (SYN-SENT): RCV.NXT is not defined yet.
    pub rcv_nxt: Option<SeqNumber>,
    pub rcv_wnd: u32,
    /// The cap on the window we offer (Linux `tcpi_rcv_ssthresh`, `ss -i`
    /// "rcv_ssthresh"); 0 for TIME_WAIT entries, which do not keep it.
    pub rcv_ssthresh: u32,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub rto_micros: u64,
    pub iss: SeqNumber,
    /// The peer's ISN; `None` before its SYN arrived, and for TIME_WAIT entries (which
    /// do not keep it).
    pub irs: Option<SeqNumber>,
    pub retransmit_at: Option<Instant>,
    pub delayed_ack_at: Option<Instant>,
    pub keepalive_at: Option<Instant>,
    pub fin_wait_2_at: Option<Instant>,
    /// When TIME_WAIT ends (TIME_WAIT entries only).
    pub time_wait_until: Option<Instant>,
}

impl Endpoint {
    /// Every listener, live connection and TIME_WAIT entry.
    pub fn snapshot(&self) -> Vec<SocketInfo> {
        let unspecified = SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0);
        let mut rows =
            Vec::with_capacity(self.listeners.len() + self.conns.len() + self.time_wait.len());
        for (_, l) in self.listeners.iter() {
            rows.push(SocketInfo {
                state: State::Listen,
                local: l.local,
                remote: unspecified,
                recv_queue: l.accept_queue.len(),
                send_queue: l.backlog as usize,
                timer: None,
                conn: None,
            });
        }
        for (h, c) in self.conns.iter() {
            if c.state == State::Closed {
                continue;
            }
            rows.push(SocketInfo {
                state: c.state,
                local: c.tuple.local(),
                remote: c.tuple.remote(),
                recv_queue: c.recv.ready(),
                send_queue: c.send.len(),
                timer: c.next_deadline(),
                conn: Some(ConnId(h)),
            });
        }
        for e in self.time_wait.iter() {
            rows.push(SocketInfo {
                state: State::TimeWait,
                local: e.tuple.local(),
                remote: e.tuple.remote(),
                recv_queue: 0,
                send_queue: 0,
                timer: Some(e.expiry),
                conn: None,
            });
        }
        rows
    }

    /// The control block of a live connection, found by tuple (TIME_WAIT entries
    /// report their sequence numbers and expiry).
    pub fn info_by_tuple(&self, tuple: &FourTuple) -> Option<ConnInfo> {
        if let Some(&h) = self.demux.get(tuple) {
            return self.info(ConnId(h));
        }
        let e = self.time_wait.get(tuple)?;
        Some(ConnInfo {
            tuple: *tuple,
            state: State::TimeWait,
            snd_una: e.snd_nxt,
            snd_nxt: e.snd_nxt,
            snd_wnd: 0,
            rcv_nxt: Some(e.rcv_nxt),
            rcv_wnd: u32::from(e.window),
            rcv_ssthresh: 0,
            cwnd: 0,
            ssthresh: 0,
            rto_micros: 0,
            iss: SeqNumber(0),
            irs: None,
            retransmit_at: None,
            delayed_ack_at: None,
            keepalive_at: None,
            fin_wait_2_at: None,
            time_wait_until: Some(e.expiry),
        })
    }

    /// The control block of a connection.
    pub fn info(&self, id: ConnId) -> Option<ConnInfo> {
        use crate::conn::TimerKind;
        let c = self.conns.get(id.0)?;
        Some(ConnInfo {
            tuple: c.tuple,
            state: c.state,
            snd_una: c.snd_una,
            snd_nxt: c.snd_nxt,
            snd_wnd: c.snd_wnd,
            rcv_nxt: c.irs_known.then_some(c.rcv_nxt),
            // The window in force, in bytes: what we promised, or offer now if more (the
            // next segment's window field, unscaled).
            rcv_wnd: c.promised_window().max(c.offered_window()),
            rcv_ssthresh: c.rcv_ssthresh,
            cwnd: c.cc.cwnd,
            ssthresh: c.cc.ssthresh,
            rto_micros: c.rtt.current(&self.cfg).total_micros(),
            iss: c.iss,
            irs: c.irs_known.then_some(c.irs),
            retransmit_at: c.timer(TimerKind::Retransmit),
            delayed_ack_at: c.timer(TimerKind::DelayedAck),
            keepalive_at: c.timer(TimerKind::Keepalive),
            fin_wait_2_at: c.timer(TimerKind::FinWait2),
            time_wait_until: None,
        })
    }
}
