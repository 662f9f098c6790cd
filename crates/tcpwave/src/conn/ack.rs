//! The ACK field (RFC 9293 §3.10.7.4 "fifth"): advancing SND.UNA, RTT samples
//! (RFC 6298, Karn's rule), congestion control (RFC 5681 / RFC 6582), send-window
//! updates, and the state changes an ACK of our FIN causes.

use super::{Conn, Ctx, TimerKind};
use crate::event::{Event, Reason};
use crate::seq::SeqNumber;
use crate::state::State;
use crate::wire::TcpRepr;

impl Conn {
    /// Returns false when the segment must be dropped after this step.
    pub(crate) fn process_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        payload_len: usize,
    ) -> bool {
        let ack = seg.ack;
        if ack > self.snd_nxt {
            // RFC 9293: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then
            // send an ACK, drop the segment". RFC 5961 §5.2 makes it a challenge ACK.
            self.challenge_ack(ctx);
            return false;
        }
        // RFC 5961 §5.2: an ACK too far below SND.UNA is a blind injection attempt.
        let floor = self.snd_una - self.max_snd_wnd.max(1);
        if ack < floor {
            self.challenge_ack(ctx);
            return false;
        }
        // Linux tcp_ack: any acceptable ACK shows the peer is alive ("Something
        // worked...", icsk_probes_out = 0), so unanswered-probe counts start over: a
        // peer that answers zero-window probes (RFC 1122 §4.2.2.17) or keepalives
        // (§4.2.3.6) keeps the connection however many probes it took.
        self.keepalive_probes_sent = 0;
        self.zero_window_probes = 0;
        let old_window = self.snd_wnd;
        if ack > self.snd_una {
            self.on_new_ack(ctx, ack);
        } else if ack == self.snd_una {
            let window = (seg.window as u32) << self.snd_wscale;
            let pure = payload_len == 0 && !seg.flags.fin() && !seg.flags.syn();
            if pure && window == old_window && self.flight_size() > 0 {
                // RFC 5681 §2: a duplicate acknowledgment.
                let mss = self.mss as u32;
                if self.cc.on_dupack(self.flight_size(), self.snd_nxt, mss) {
                    // RFC 5681 §3.2 step 2: fast retransmit the first unacknowledged segment.
                    self.rtx_next = Some(self.snd_una);
                    self.rtx_one_segment = true;
                    self.rtt_sample = None;
                }
            }
        }
        self.update_send_window(seg);
        if self.snd_wnd > 0 && old_window == 0 && self.snd_una == self.snd_nxt {
            // Linux tcp_ack_probe: the window opened while we were probing: stop the
            // persist timer and its backoff, so new data gets the plain RTO.
            self.clear_timer(TimerKind::Retransmit);
            self.rtt.backoff = 0;
        }
        if self.fin_acked() {
            self.on_fin_acked(ctx);
        }
        true
    }

    /// SND.UNA < SEG.ACK ≤ SND.NXT: new data (or our SYN/FIN) is acknowledged.
    fn on_new_ack(&mut self, ctx: &mut Ctx<'_>, ack: SeqNumber) {
        let acked = (ack - self.snd_una) as u32;
        let data_start = self.send_buffer_seq();
        let data_end = self.send_data_end();
        if ack > data_start {
            self.send.consume(ack.min(data_end) - data_start);
        }
        self.snd_una = ack;
        self.take_rtt_sample(ctx, ack);
        self.retransmits = 0;
        self.retrans_stamp = None;
        self.rtt.backoff = 0;
        if let Some(r) = self.rtx_next {
            let r = r.max(self.snd_una);
            self.rtx_next = (r < self.snd_nxt).then_some(r);
        }
        let mss = self.mss as u32;
        if self.cc.on_new_ack(acked, ack, mss) && self.snd_una < self.snd_nxt {
            // RFC 6582 §3.2 step 3: a partial ACK retransmits the next unacknowledged segment.
            self.rtx_next = Some(self.snd_una);
            self.rtx_one_segment = true;
        }
        // RFC 6298 (5.2) and (5.3): stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_nxt {
            self.clear_timer(TimerKind::Retransmit);
        } else {
            self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
        }
        if self.writable_wanted && self.send.free() > 0 && !self.orphaned {
            self.writable_wanted = false;
            ctx.events.push_back(Event::Writable { conn: ctx.id });
        }
    }

    /// RFC 6298 §3 (Karn): only a segment sent once is timed.
    pub(crate) fn take_rtt_sample(&mut self, ctx: &mut Ctx<'_>, ack: SeqNumber) {
        if let Some((end, sent_at)) = self.rtt_sample {
            if ack >= end {
                self.rtt.sample(ctx.now.saturating_since(sent_at), ctx.cfg);
                self.rtt_sample = None;
            }
        }
    }

    /// RFC 9293 §3.10.7.4: update the send window when the segment is newer than the
    /// one that last updated it (SND.WL1 < SEG.SEQ, or equal and SND.WL2 ≤ SEG.ACK).
    fn update_send_window(&mut self, seg: &TcpRepr) {
        if self.snd_wl1 < seg.seq || (self.snd_wl1 == seg.seq && self.snd_wl2 <= seg.ack) {
            self.snd_wnd = (seg.window as u32) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
        }
    }

    fn fin_acked(&self) -> bool {
        matches!(self.fin_seq, Some(fin) if self.snd_una > fin)
    }

    /// Our FIN is acknowledged: FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT,
    /// LAST-ACK → CLOSED (RFC 9293 §3.10.7.4, fifth, per state).
    fn on_fin_acked(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::FinWait1 => {
                self.set_state(ctx, State::FinWait2, Reason::RcvAck);
                self.arm_fin_wait_2(ctx);
            }
            State::Closing => self.set_state(ctx, State::TimeWait, Reason::RcvAck),
            State::LastAck => {
                self.timers.clear_all();
                self.set_state(ctx, State::Closed, Reason::RcvAck);
            }
            _ => {}
        }
    }
}
