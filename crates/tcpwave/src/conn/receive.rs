//! Segment text and FIN (RFC 9293 §3.10.7.4 "seventh" and "eighth"): in-order and
//! out-of-order data, the ACK policy (delayed ACK, RFC 1122 §4.2.3.2 and RFC 5681 §4.2),
//! and the state changes the peer's FIN causes.

use super::{Conn, Ctx, ResetReply, TimerKind};
use crate::error::Error;
use crate::event::{Event, Reason};
use crate::state::State;
use crate::wire::TcpRepr;

impl Conn {
    pub(crate) fn process_text_and_fin(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> Option<ResetReply> {
        if !payload.is_empty()
            && self.rcv_shutdown
            && matches!(self.state, State::FinWait1 | State::FinWait2)
        {
            let end = seg.seq + payload.len();
            if end > self.rcv_nxt {
                // Linux `tcp_rcv_state_process`: new data for a socket the application
                // closed cannot be delivered; reset (TCPAbortOnData), RST at SEG.ACK.
                ctx.counters.TCPAbortOnData += 1;
                self.fail(ctx, Error::ConnectionReset, Reason::DataAfterClose);
                return Some(ResetReply {
                    seq: seg.ack,
                    ack: None,
                });
            }
        }
        if !payload.is_empty() && self.state.can_receive() {
            // A FIN that will close the receive side in this very segment puts Linux in
            // pingpong mode before it decides how to ACK the data (see `receive_fin`).
            let closes = seg.flags.fin() && self.fin_enters_pingpong();
            self.receive_text(ctx, seg, payload, closes);
        }
        if seg.flags.fin() && self.peer_fin.is_none() {
            self.peer_fin = Some(seg.seq + payload.len());
        }
        if self.peer_fin == Some(self.rcv_nxt) && self.state.can_receive() {
            self.receive_fin(ctx);
        } else if seg.flags.fin() && self.state.can_receive() {
            // A FIN beyond a hole is out-of-order data too: RFC 5681 §4.2 acknowledges it
            // at once (Linux queues it out of order and sends the duplicate ACK).
            self.ack_now = true;
        }
        None
    }

    fn receive_text(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr, payload: &[u8], closes: bool) {
        let had_holes = self.recv.has_out_of_order();
        let (offset, data) = if seg.seq < self.rcv_nxt {
            let skip = self.rcv_nxt - seg.seq;
            (0, payload.get(skip..).unwrap_or(&[]))
        } else {
            (seg.seq - self.rcv_nxt, payload)
        };
        let advanced = if data.is_empty() {
            0
        } else {
            self.recv.insert(offset, data, ctx.pool)
        };
        if offset > 0 && !data.is_empty() {
            // RFC 2018 §4: the next SACK option starts with the block holding this segment.
            self.note_sack_anchor(self.rcv_nxt + offset);
        }
        self.rcv_nxt += advanced;
        if offset == 0 && advanced > 0 {
            // In-order data may open the window we offer (Linux `tcp_event_data_recv`).
            self.grow_window(ctx.cfg, data.len().min(advanced));
        }
        if advanced > 0 && !self.orphaned {
            ctx.events.push_back(Event::Readable { conn: ctx.id });
        }
        if offset > 0 || advanced == 0 || had_holes {
            // RFC 5681 §4.2: out-of-order or duplicate data, or data filling a hole,
            // is acknowledged at once (a duplicate ACK carrying SACK blocks).
            self.ack_now = true;
            return;
        }
        self.unacked_segments += 1;
        if self.quick_acks > 0 && !closes {
            self.quick_acks -= 1;
            self.ack_now = true;
        } else if self.unacked_segments >= 2 || data.len() > self.mss as usize {
            // RFC 1122 §4.2.3.2: ACK at least every second full-sized segment.
            self.ack_now = true;
        } else if self.timer(TimerKind::DelayedAck).is_none() {
            self.set_timer(TimerKind::DelayedAck, ctx.now + ctx.cfg.delayed_ack);
        }
    }

    /// A FIN now moves the connection to CLOSE-WAIT, where Linux delays ACKs (pingpong
    /// mode, see [`Conn::receive_fin`]).
    fn fin_enters_pingpong(&self) -> bool {
        matches!(self.state, State::SynReceived | State::Established)
    }

    /// The peer's FIN is in order: it consumes one sequence number (RFC 9293 §3.10.7.4
    /// "eighth") and is acknowledged.
    ///
    /// When. In FIN-WAIT-1 and FIN-WAIT-2 at once (Linux `tcp_fin`: `tcp_send_ack`). In
    /// ESTABLISHED (and SYN-RECEIVED) Linux's `tcp_fin` moves to CLOSE-WAIT and calls
    /// `inet_csk_enter_pingpong_mode`: the application is expected to answer, so the ACK
    /// is only scheduled and `__tcp_ack_snd_check` delays it (no quick ACK in pingpong
    /// mode). If the application closes within the delayed-ACK time (40 ms,
    /// `TCP_ATO_MIN`), its FIN carries the ACK: the three-segment close real captures
    /// usually show (FIN, FIN+ACK, ACK). A connection that never received data has no ACK
    /// timeout yet (`icsk_ack.ato` is 0) and ACKs at once. An ACK already due for another
    /// reason (out-of-order data, two full segments unacknowledged) still goes at once.
    fn receive_fin(&mut self, ctx: &mut Ctx<'_>) {
        let received_data = self.rcv_nxt != self.irs + 1u32;
        self.rcv_nxt += 1u32;
        if self.fin_enters_pingpong() && received_data && !self.ack_now {
            if self.timer(TimerKind::DelayedAck).is_none() {
                self.set_timer(TimerKind::DelayedAck, ctx.now + ctx.cfg.delayed_ack);
            }
        } else {
            self.ack_now = true;
            self.clear_timer(TimerKind::DelayedAck);
        }
        if !self.orphaned {
            ctx.events.push_back(Event::PeerClosed { conn: ctx.id });
        }
        match self.state {
            State::SynReceived | State::Established => {
                self.set_state(ctx, State::CloseWait, Reason::RcvFin)
            }
            // Our FIN is not yet acknowledged: simultaneous close (RFC 9293 §3.6 figure 13).
            State::FinWait1 => self.set_state(ctx, State::Closing, Reason::RcvFin),
            State::FinWait2 => {
                self.clear_timer(TimerKind::FinWait2);
                self.set_state(ctx, State::TimeWait, Reason::RcvFin);
            }
            _ => {}
        }
    }
}
