//! One connection: the transmission control block (RFC 9293 §3.3.1) and its state
//! machine, split by lifecycle phase:
//!
//! - `open`: active open, passive open, SYN-SENT processing, simultaneous open
//! - `input`: segment arrival in synchronized states (§3.10.7.4): acceptability, RST, SYN
//! - `ack`: the ACK field: SND.UNA, RTT, congestion control, window updates
//! - `receive`: segment text and FIN
//! - `rcv_window`: the receive window we offer, and how it grows
//! - `output`: which segment to send next
//! - `close`: close, shutdown, abort
//! - `timers`: retransmission, delayed ACK, keepalive, FIN_WAIT_2, persist
//! - `app`: send and receive for the application
//!
//! A connection never touches other connections; everything it reports goes through
//! `Ctx` (events, counters). TIME_WAIT does not live here: the endpoint moves a
//! connection that reaches TIME_WAIT into its compact table.

mod ack;
mod app;
pub(crate) mod buffers;
mod close;
pub(crate) mod congestion;
mod input;
mod open;
mod output;
mod rcv_window;
mod receive;
pub(crate) mod rto;
mod timers;

use std::collections::VecDeque;

use crate::config::Config;
use crate::counters::Counters;
use crate::endpoint::isn::derive_key;
use crate::endpoint::timer_wheel::TimerKey;
use crate::endpoint::{ConnId, ListenerId};
use crate::error::Error;
use crate::event::{Event, Reason};
use crate::options::SocketOptions;
use crate::seq::SeqNumber;
use crate::state::State;
use crate::time::{Duration, Instant};
use crate::tuple::FourTuple;
use crate::wire::TcpRepr;
use buffers::{RecvBuffer, SendBuffer};
use congestion::NewReno;
use rto::RttEstimator;

pub(crate) use input::oow_limit_applies;
pub(crate) use output::OutSegment;
pub(crate) use timers::{TimerKind, Timers};

/// What the endpoint must do for a connection after it processed an input.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub cfg: &'a Config,
    pub events: &'a mut VecDeque<Event>,
    pub counters: &'a mut Counters,
    pub challenge: &'a mut ChallengeBudget,
    /// Small buffer storage to take from instead of the allocator.
    pub pool: &'a mut buffers::BufferPool,
    pub id: ConnId,
}

/// RFC 5961 §7: an endpoint-wide cap on challenge ACKs per second (Linux
/// `tcp_challenge_ack_limit`, off by default since Linux 6.0).
///
/// Linux `tcp_send_challenge_ack` (since "tcp: add small random increments to mitigate
/// challenge ACK side channel", 2022, and its 6.x form with `get_random_u32_inclusive`)
/// does not give each second exactly `limit` ACKs: when the second changes it draws the
/// count from [half, limit + half − 1], half = (limit + 1) / 2, so that an attacker cannot
/// learn the limit by exhausting it. Here the draw is a keyed hash of the second:
/// deterministic for one secret, like everything else in the engine.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ChallengeBudget {
    /// The second `left` belongs to; `None` before the first challenge ACK.
    second: Option<u64>,
    /// Challenge ACKs still allowed in that second.
    left: u32,
}

impl ChallengeBudget {
    pub fn allow(&mut self, now: Instant, limit_per_second: u32, secret: u128) -> bool {
        if limit_per_second >= crate::config::CHALLENGE_ACK_UNLIMITED {
            return true;
        }
        let second = now.total_micros() / 1_000_000;
        if self.second != Some(second) {
            self.second = Some(second);
            self.left = Self::draw(second, limit_per_second, secret);
        }
        if self.left > 0 {
            self.left -= 1;
            true
        } else {
            false
        }
    }

    /// The count for `second`: in [half, limit + half − 1], or 0 for a limit of 0.
    fn draw(second: u64, limit: u32, secret: u128) -> u32 {
        if limit == 0 {
            return 0;
        }
        let half = (limit + 1) >> 1;
        // A keyed hash of the second stands in for Linux's get_random_u32, as the port
        // allocator's jitter does (at most one draw a second, when the limit is on).
        let key = crate::sip::SipKey::new(derive_key(secret, b"tcpwave challenge ACK budget"));
        let z = key.hash13(&second.to_le_bytes());
        half + (z % u64::from(limit)) as u32
    }
}

/// A reply that is not part of the connection's own sequence space (RFC 9293 §3.10.7:
/// "<SEQ=SEG.ACK><CTL=RST>"): the endpoint sends it as a control segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResetReply {
    pub seq: SeqNumber,
    pub ack: Option<SeqNumber>,
}

impl ResetReply {
    /// The reset that answers `seg` from outside any connection (RFC 9293 §3.10.7.1), as
    /// Linux `tcp_v4_send_reset` forms it: none for an RST; `<SEQ=SEG.ACK><CTL=RST>` if
    /// the segment carries an ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
    pub(crate) fn answering(seg: &TcpRepr, payload_len: usize) -> Option<ResetReply> {
        if seg.flags.rst() {
            return None;
        }
        Some(if seg.flags.ack() {
            ResetReply {
                seq: seg.ack,
                ack: None,
            }
        } else {
            ResetReply {
                seq: SeqNumber(0),
                ack: Some(seg.seq + seg.seq_len(payload_len)),
            }
        })
    }
}

/// The transmission control block.
#[derive(Debug)]
pub(crate) struct Conn {
    pub tuple: FourTuple,
    pub state: State,
    /// The listener that created this connection, until the application accepts it.
    pub listener: Option<ListenerId>,
    /// The application gave up its handle (close()): nobody will read or write again.
    pub orphaned: bool,
    pub opts: SocketOptions,

    // Send sequence space, RFC 9293 §3.3.1.
    pub iss: SeqNumber,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    /// Send window in bytes (already scaled).
    pub snd_wnd: u32,
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    pub max_snd_wnd: u32,
    /// Retransmission point: segments from here up to SND.NXT are sent again.
    pub rtx_next: Option<SeqNumber>,
    /// The retransmission from `rtx_next` is of one segment only (fast retransmit).
    pub rtx_one_segment: bool,
    /// End of the last segment shorter than the MSS we sent (Minshall's Nagle).
    pub snd_sml: SeqNumber,
    /// Our FIN's sequence number, once the application closed its write side.
    pub fin_seq: Option<SeqNumber>,
    /// Sequence number just past the last byte the application wrote (Linux
    /// `tp->write_seq`): the send buffer holds [write_seq − len, write_seq).
    pub write_seq: SeqNumber,

    // Receive sequence space.
    /// The peer's ISN; meaningful only once `irs_known`.
    pub irs: SeqNumber,
    /// The peer's SYN arrived: IRS and RCV.NXT are defined (RFC 9293 §3.3.1). False in
    /// SYN-SENT, and in a CLOSED that an active open reached without a SYN-ACK.
    pub irs_known: bool,
    pub rcv_nxt: SeqNumber,
    /// Right edge of the window we last advertised (we never shrink it, §3.8.6.2.2).
    pub rcv_adv: SeqNumber,
    /// Linux `tp->rcv_ssthresh`: the most window we offer, whatever the free space. It
    /// starts at the window of our SYN or SYN-ACK and grows as data arrives (`rcv_window`).
    /// 0 until that first SYN is sent.
    pub rcv_ssthresh: u32,
    /// Linux `icsk_ack.rcv_mss`: our estimate of the peer's segment size.
    pub rcv_mss: u16,
    /// Where the latest out-of-order segments started, most recent first: the order
    /// of SACK blocks (RFC 2018 §4).
    pub sack_anchors: [SeqNumber; 4],
    pub sack_anchor_count: usize,
    /// The peer's FIN sequence number, once seen (possibly out of order).
    pub peer_fin: Option<SeqNumber>,
    /// Reading side closed (close() was called): new data is answered with RST.
    pub rcv_shutdown: bool,

    // Negotiated options.
    pub mss: u16,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    /// Both SYNs carried the window-scale option (RFC 7323 §2.2), even with shift 0.
    pub ws_ok: bool,
    pub sack_ok: bool,
    pub ts_ok: bool,
    pub ts_recent: u32,
    pub ts_recent_stamp: Instant,
    pub ts_offset: u32,

    pub send: SendBuffer,
    pub recv: RecvBuffer,
    pub rtt: RttEstimator,
    /// Karn's rule: the segment end being timed and when it was sent.
    pub rtt_sample: Option<(SeqNumber, Instant)>,
    pub cc: NewReno,
    /// Retransmissions since the last forward progress, and when the first one was sent.
    pub retransmits: u32,
    pub retrans_stamp: Option<Instant>,

    pub timers: Timers,
    /// An ACK must go out at the next poll.
    pub ack_now: bool,
    /// Segments received since our last ACK (RFC 1122 §4.2.3.2: ACK every second one).
    pub unacked_segments: u32,
    /// Linux's quick-ACK mode: ACK immediately for this many more segments.
    pub quick_acks: u32,
    /// Send an RST at the next poll, then close.
    pub rst_pending: bool,
    /// Send a probe (keepalive or zero-window) at the next poll: SEQ = SND.UNA − 1.
    pub probe_pending: bool,
    pub keepalive_probes_sent: u32,
    pub zero_window_probes: u32,
    /// Last time anything arrived from the peer (keepalive idleness, RFC 1122 §4.2.3.6).
    pub last_received: Instant,
    /// When we last sent an ACK in reply to an out-of-window segment or as a challenge
    /// ACK (Linux `tp->last_oow_ack_time`), for `tcp_invalid_ratelimit`.
    pub last_oow_ack_time: Option<Instant>,
    /// The application saw a full send buffer and wants to hear when it drains.
    pub writable_wanted: bool,
    /// The error the application will see on its next call.
    pub error: Option<Error>,

    /// Where the endpoint armed this connection in its timer wheel.
    pub wheel: Option<(TimerKey, Instant)>,
    /// The connection is in the endpoint's transmit queue.
    pub queued_for_output: bool,
    /// Created by connect() (true) or by a listener (false).
    pub active_open: bool,
}

impl Conn {
    /// A CLOSED TCB for `tuple` with our ISS; `open_active` / `open_passive` open it.
    pub(crate) fn blank(
        tuple: FourTuple,
        iss: SeqNumber,
        ts_offset: u32,
        cfg: &Config,
        now: Instant,
    ) -> Conn {
        Conn {
            tuple,
            state: State::Closed,
            listener: None,
            orphaned: false,
            opts: SocketOptions::default(),
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            rtx_next: None,
            rtx_one_segment: false,
            snd_sml: iss,
            fin_seq: None,
            write_seq: iss + 1u32,
            irs: SeqNumber(0),
            irs_known: false,
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_ssthresh: 0,
            rcv_mss: 0,
            sack_anchors: [SeqNumber(0); 4],
            sack_anchor_count: 0,
            peer_fin: None,
            rcv_shutdown: false,
            mss: cfg.mss,
            snd_wscale: 0,
            rcv_wscale: 0,
            ws_ok: false,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_stamp: now,
            ts_offset,
            send: SendBuffer::new(cfg.tcp_wmem_default as usize),
            recv: RecvBuffer::new(cfg.tcp_rmem_default as usize),
            rtt: RttEstimator::new(cfg),
            rtt_sample: None,
            cc: NewReno::new(cfg.initial_cwnd_segments, cfg.mss as u32),
            retransmits: 0,
            retrans_stamp: None,
            timers: Timers::default(),
            ack_now: false,
            unacked_segments: 0,
            quick_acks: 0,
            rst_pending: false,
            probe_pending: false,
            keepalive_probes_sent: 0,
            zero_window_probes: 0,
            last_received: now,
            last_oow_ack_time: None,
            writable_wanted: false,
            error: None,
            wheel: None,
            queued_for_output: false,
            active_open: false,
        }
    }

    /// Move to `to`, reporting the change with its cause.
    pub fn set_state(&mut self, ctx: &mut Ctx<'_>, to: State, reason: Reason) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        ctx.events.push_back(Event::StateChanged {
            conn: Some(ctx.id),
            tuple: self.tuple,
            from,
            to,
            reason,
        });
    }

    /// Tell the application about a failure; the connection is finished.
    #[cold]
    pub fn fail(&mut self, ctx: &mut Ctx<'_>, error: Error, reason: Reason) {
        // Linux tcp_set_state counts every ESTABLISHED or CLOSE_WAIT -> CLOSE in
        // EstabResets (RFC 1213 tcpEstabResets): a reset received in CLOSE-WAIT (EPIPE)
        // and a timeout (ETIMEDOUT) count as much as ECONNRESET.
        if matches!(self.state, State::Established | State::CloseWait) {
            ctx.counters.EstabResets += 1;
        }
        // Linux counts AttemptFails in tcp_done for a full socket in SYN_SENT or SYN_RECV
        // (a simultaneous open). A passive open's request sock never gets there: it counts
        // only when an RST or SYN in its window resets it (`Conn::embryonic_reset`), not
        // when its SYN-ACKs run out (reqsk_timer_handler just drops it) nor on an accept
        // queue overflow.
        if self.state == State::SynSent
            || (self.state == State::SynReceived && !self.is_request_sock())
        {
            ctx.counters.AttemptFails += 1;
        }
        self.error = Some(error);
        self.timers.clear_all();
        self.set_state(ctx, State::Closed, reason);
        if !self.orphaned && self.listener.is_none() {
            ctx.events.push_back(Event::Error {
                conn: ctx.id,
                error,
            });
        }
    }

    /// Bytes sent but not yet acknowledged (sequence space, SYN and FIN included).
    pub fn flight_size(&self) -> u32 {
        (self.snd_nxt - self.snd_una) as u32
    }

    /// Sequence number of the first byte in the send buffer.
    pub fn send_buffer_seq(&self) -> SeqNumber {
        self.write_seq - self.send.len() as u32
    }

    /// Sequence number just past the last byte the application wrote.
    pub fn send_data_end(&self) -> SeqNumber {
        self.write_seq
    }

    /// TSval to put on a segment now (RFC 7323 §5.4, Linux's millisecond clock).
    pub fn ts_val(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// The earliest armed timer, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    pub fn set_timer(&mut self, kind: TimerKind, at: Instant) {
        self.timers.set(kind, at);
    }

    pub fn clear_timer(&mut self, kind: TimerKind) {
        self.timers.clear(kind);
    }

    pub fn timer(&self, kind: TimerKind) -> Option<Instant> {
        self.timers.get(kind)
    }

    /// Keepalive settings in force (socket options override the sysctls).
    pub fn keepalive_idle(&self, cfg: &Config) -> Duration {
        self.opts.keepidle.unwrap_or(cfg.tcp_keepalive_time)
    }

    /// The connection has something to send right now.
    pub fn wants_output(&self) -> bool {
        if self.rst_pending || self.ack_now || self.probe_pending {
            return true;
        }
        match self.state {
            State::SynSent | State::SynReceived => {
                self.snd_nxt == self.iss || self.rtx_next.is_some()
            }
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => self.data_pending(),
            _ => false,
        }
    }

    /// Remember that an out-of-order segment starting at `seq` just arrived.
    #[cold]
    pub fn note_sack_anchor(&mut self, seq: SeqNumber) {
        let n = self.sack_anchor_count.min(self.sack_anchors.len() - 1);
        self.sack_anchors.copy_within(0..n, 1);
        self.sack_anchors[0] = seq;
        self.sack_anchor_count = n + 1;
    }

    /// Invariants that hold after every input (STYLE.md: checked in tests and the simulator).
    pub fn check_invariants(&self) {
        assert!(
            self.snd_una <= self.snd_nxt,
            "SND.UNA {} beyond SND.NXT {}",
            self.snd_una,
            self.snd_nxt
        );
        assert!(
            self.iss <= self.snd_una,
            "SND.UNA {} before ISS {}",
            self.snd_una,
            self.iss
        );
        if let Some(r) = self.rtx_next {
            assert!(
                self.snd_una <= r && r < self.snd_nxt,
                "retransmit point {r} outside [{}, {})",
                self.snd_una,
                self.snd_nxt
            );
        }
        // The buffer starts at ISS+1 until the SYN is acknowledged, then at SND.UNA, and
        // where the FIN sat once that is acknowledged: `write_seq` must agree.
        let buffer_start = match self.fin_seq {
            Some(fin) if self.snd_una > fin => fin,
            _ if self.snd_una == self.iss => self.iss + 1u32,
            _ => self.snd_una,
        };
        assert_eq!(
            self.send_buffer_seq(),
            buffer_start,
            "write_seq {} with {} bytes buffered",
            self.write_seq,
            self.send.len()
        );
        if let Some(fin) = self.fin_seq {
            assert!(self.snd_nxt <= fin + 1u32, "sent past our FIN");
            assert_eq!(self.send_data_end(), fin, "data written after FIN");
        }
        assert!(
            self.recv.ready() <= self.recv.capacity(),
            "receive buffer overfull"
        );
        assert!(
            self.send.len() <= self.send.capacity(),
            "send buffer overfull"
        );
        assert!(
            self.rcv_ssthresh as usize <= self.recv.capacity(),
            "rcv_ssthresh {} beyond the receive buffer",
            self.rcv_ssthresh
        );
        if self.state.is_synchronized() && self.state != State::Closed {
            let sent_data = self.snd_nxt.diff(self.send_buffer_seq());
            assert!(
                sent_data <= self.send.len() as i32 + 1,
                "sent more data than buffered"
            );
        }
    }
}
