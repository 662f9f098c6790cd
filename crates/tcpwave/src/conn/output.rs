//! Deciding the next segment to send: SYN / SYN-ACK, data and FIN within the send and
//! congestion windows (Nagle's algorithm, RFC 1122 §4.2.3.4), retransmissions, probes,
//! pure ACKs. The payload stays in the send buffer; the endpoint copies it straight
//! into the caller's packet buffer.

use super::{Conn, Ctx, TimerKind};
use crate::seq::SeqNumber;
use crate::state::State;
use crate::wire::{SackBlock, TcpFlags, TcpOptions, TcpRepr};

/// What the send queue allows now (see `Conn::data_plan`).
enum DataPlan {
    /// Nothing to send, or Nagle / the congestion window holds it.
    Hold,
    /// Data waits behind the peer's closed window: the persist timer must run.
    WindowClosed,
    /// Retransmitting from ISS after close() in SYN-RECEIVED: the SYN-ACK again.
    SynAck,
    /// A segment from `start`: `len` data bytes, then our FIN if `with_fin`.
    Send {
        start: SeqNumber,
        len: usize,
        with_fin: bool,
        retransmit: bool,
    },
}

/// A segment to emit: the header, and which bytes of the send buffer follow it.
///
/// `poll_output` fills one the caller owns rather than returning it: moving this ~100-byte
/// value out through `Option`s cost store-forwarding stalls on every copy (a perf profile
/// put a fifth of `poll_transmit` on them).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OutSegment {
    pub repr: TcpRepr,
    /// Offset of the payload in the send buffer.
    pub data_offset: usize,
    pub data_len: usize,
    /// It carries only what was sent before (Linux counts it in RetransSegs, not OutSegs).
    pub retransmit: bool,
}

impl Conn {
    /// The next segment this connection wants to send, if any, written into `out`;
    /// false (and `out` unspecified) when there is none.
    pub(crate) fn poll_output(&mut self, ctx: &mut Ctx<'_>, out: &mut OutSegment) -> bool {
        if self.rst_pending {
            self.rst_pending = false;
            *out = self.reset_segment(ctx);
            return true;
        }
        let produced = match self.state {
            State::SynSent | State::SynReceived => self.next_syn(ctx, out),
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => self.next_data(ctx, out),
            _ => false,
        };
        if produced {
            return true;
        }
        if self.probe_pending {
            // Keepalive / zero-window probe: SEQ = SND.UNA − 1, no data (RFC 1122 §4.2.3.6).
            self.probe_pending = false;
            let seq = self.snd_una - 1u32;
            self.finish(ctx, seq, TcpFlags::ACK, 0, 0, out);
            return true;
        }
        if self.ack_now && self.state != State::Closed && self.state != State::SynSent {
            let seq = self.snd_nxt;
            self.finish(ctx, seq, TcpFlags::ACK, 0, 0, out);
            return true;
        }
        false
    }

    #[cold]
    fn reset_segment(&self, ctx: &Ctx<'_>) -> OutSegment {
        // Linux `tcp_send_active_reset`: RST+ACK at SND.NXT. RFC 7323 §3.2: once
        // negotiated, TSopt "SHOULD be sent in an <RST> segment"; Linux's active resets
        // carry it (tcp_transmit_skb adds the established options).
        let mut options = TcpOptions::default();
        if self.ts_ok {
            options.timestamps = Some((self.ts_val(ctx.now), self.ts_recent));
        }
        let repr = TcpRepr {
            src_port: self.tuple.local_port,
            dst_port: self.tuple.remote_port,
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags: TcpFlags::RST | TcpFlags::ACK,
            window: 0,
            urgent: 0,
            options,
        };
        OutSegment {
            repr,
            data_offset: 0,
            data_len: 0,
            retransmit: false,
        }
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first time or retransmitted.
    fn next_syn(&mut self, ctx: &mut Ctx<'_>, out: &mut OutSegment) -> bool {
        let first = self.snd_nxt == self.iss;
        if !first && self.rtx_next != Some(self.iss) {
            return false;
        }
        self.rtx_next = None;
        self.snd_nxt = self.iss + 1u32;
        if first {
            self.rtt_sample = Some((self.snd_nxt, ctx.now));
        } else {
            self.rtt_sample = None;
        }
        if self.timer(TimerKind::Retransmit).is_none() {
            self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
        }
        let mut flags = TcpFlags::SYN;
        if self.state == State::SynReceived {
            flags = flags | TcpFlags::ACK;
        }
        self.finish(ctx, self.iss, flags, 0, 0, out);
        out.repr.options = self.syn_options(ctx);
        out.retransmit = !first;
        true
    }

    /// Our SYN is still unacknowledged after we left SYN-RECEIVED: close() there sends a
    /// FIN at once (RFC 9293 §3.10.4), so a retransmission from ISS must resend the
    /// SYN-ACK first, as Linux resends the SYN-ACK at the head of its retransmit queue.
    #[cold]
    fn resend_syn_ack(&mut self, ctx: &mut Ctx<'_>, out: &mut OutSegment) {
        let after_syn = self.iss + 1u32;
        self.rtx_next = (after_syn < self.snd_nxt).then_some(after_syn);
        self.rtt_sample = None;
        ctx.counters.RetransSegs += 1;
        ctx.counters.TCPSynRetrans += 1;
        self.finish(ctx, self.iss, TcpFlags::SYN | TcpFlags::ACK, 0, 0, out);
        out.repr.options = self.syn_options(ctx);
        out.retransmit = true;
    }

    fn syn_options(&self, ctx: &Ctx<'_>) -> TcpOptions {
        let cfg = ctx.cfg;
        // A SYN-ACK answers the peer's SYN (SYN-RECEIVED, or later if our SYN-ACK is
        // resent after a close in SYN-RECEIVED).
        let answering = self.state != State::SynSent;
        let mut o = TcpOptions {
            mss: Some(cfg.mss),
            ..TcpOptions::default()
        };
        // RFC 7323 §2.2 / RFC 2018 §2: a SYN-ACK carries an option only if the SYN did.
        // A shift of 0 is still an offer ("the window field is not scaled, but may be"),
        // so the SYN-ACK echoes WS whenever the SYN had it (Linux `wscale_ok`).
        if cfg.tcp_window_scaling && (!answering || self.ws_ok) {
            o.window_scale = Some(cfg.offered_window_scale());
        }
        o.sack_permitted = cfg.tcp_sack && (!answering || self.sack_ok);
        if cfg.tcp_timestamps && (!answering || self.ts_ok) {
            o.timestamps = Some((
                self.ts_val(ctx.now),
                if answering { self.ts_recent } else { 0 },
            ));
        }
        o
    }

    /// Whether `next_data` would do something now: emit a segment, or arm the persist
    /// timer. `wants_output` relies on it: a connection that wants output but whose
    /// poll yields nothing is queued again at once, and `poll_transmit` would spin for
    /// ever (seen against the Linux kernel with a full window: RFC 9293 §3.8.6.2.1 lets
    /// the sender hold data, and it must then not ask to be polled).
    pub(crate) fn data_pending(&self) -> bool {
        if self.send_range().is_none() {
            // Most asks in a short connection: nothing unsent, nothing to resend.
            return false;
        }
        match self.data_plan() {
            DataPlan::Hold => false,
            DataPlan::WindowClosed => self.timer(TimerKind::Retransmit).is_none(),
            DataPlan::SynAck | DataPlan::Send { .. } => true,
        }
    }

    /// What may be sent now from the send queue, decided without side effects: the
    /// send-window, congestion-window and Nagle gates in one place for `next_data`
    /// (which acts on it) and `data_pending` (which only asks).
    fn data_plan(&self) -> DataPlan {
        let Some((start, limit, retransmit)) = self.send_range() else {
            return DataPlan::Hold;
        };
        let data_end = self.send_data_end();
        if retransmit && start == self.iss {
            return DataPlan::SynAck;
        }
        let cwnd_edge = self.snd_una + self.cc.cwnd;
        let data_stop = limit.min(data_end);
        let mut len = if data_stop > start {
            (data_stop - start).min(self.mss as usize)
        } else {
            0
        };
        if retransmit {
            if start >= cwnd_edge && start > self.snd_una {
                return DataPlan::Hold;
            }
        } else {
            let edge = (self.snd_una + self.snd_wnd).min(cwnd_edge);
            let room = if edge > start { edge - start } else { 0 };
            let wanted = len;
            len = len.min(room);
            if len == 0 && wanted > 0 {
                // Data waits behind a closed window (RFC 9293 §3.8.6.1): persist.
                return DataPlan::WindowClosed;
            }
            if self.nagle_holds(start, len, len < wanted) {
                return DataPlan::Hold;
            }
        }
        let with_fin = self.fin_seq == Some(start + len) && limit > start + len;
        if len == 0 && !with_fin {
            return DataPlan::Hold;
        }
        DataPlan::Send {
            start,
            len,
            with_fin,
            retransmit,
        }
    }

    /// Where the next segment would start (the retransmission point, else SND.NXT), the
    /// sequence number it must stay below (SND.NXT when resending, else past the
    /// application's data and our FIN), and whether it resends; `None` when that range is
    /// empty. The first gate of `data_plan`, cheap enough to ask on every input.
    #[inline]
    fn send_range(&self) -> Option<(SeqNumber, SeqNumber, bool)> {
        let (start, retransmit) = match self.rtx_next {
            Some(r) => (r, true),
            None => (self.snd_nxt, false),
        };
        let limit = if retransmit {
            self.snd_nxt
        } else {
            self.fin_seq.map_or(self.write_seq, |f| f + 1u32)
        };
        (start < limit).then_some((start, limit, retransmit))
    }

    /// Nagle's algorithm (RFC 1122 §4.2.3.4) for `len` new bytes from `start`: a segment
    /// shorter than the MSS waits while data is unacknowledged, unless it carries our
    /// FIN or TCP_NODELAY is set. Linux applies Minshall's refinement
    /// (`tcp_nagle_check`, `tcp_minshall_check`): the tail of a write waits only while an
    /// earlier *small* segment is unacknowledged, so a 3000-byte write leaves as
    /// 1460 + 1460 + 80 at once instead of stalling its tail for an ACK (and, with a
    /// delayed-ACK peer, 40 ms). A segment cut short by the window still waits for
    /// outstanding data (sender SWS avoidance, RFC 9293 §3.8.6.2.1).
    fn nagle_holds(&self, start: SeqNumber, len: usize, window_limited: bool) -> bool {
        let small_in_flight = self.snd_sml > self.snd_una && self.snd_sml <= self.snd_nxt;
        len > 0
            && len < self.mss as usize
            && !self.opts.nodelay
            && self.snd_nxt > self.snd_una
            && self.fin_seq != Some(start + len)
            && (window_limited || small_in_flight)
    }

    /// Data and/or FIN: a retransmission from `rtx_next`, or new data from SND.NXT.
    fn next_data(&mut self, ctx: &mut Ctx<'_>, out: &mut OutSegment) -> bool {
        let (start, len, with_fin, retransmit) = match self.data_plan() {
            DataPlan::Hold => return false,
            DataPlan::WindowClosed => {
                self.arm_persist(ctx);
                return false;
            }
            DataPlan::SynAck => {
                self.resend_syn_ack(ctx, out);
                return true;
            }
            DataPlan::Send {
                start,
                len,
                with_fin,
                retransmit,
            } => (start, len, with_fin, retransmit),
        };
        let data_end = self.send_data_end();
        let mss = self.mss as usize;
        let mut flags = TcpFlags::ACK;
        if len > 0 && start + len == data_end {
            flags = flags | TcpFlags::PSH;
        }
        if with_fin {
            flags = flags | TcpFlags::FIN;
        }
        let end = start + (len + with_fin as usize);
        let data_offset = start - self.send_buffer_seq();
        if retransmit {
            // Fast retransmit and a partial ACK resend one segment (RFC 5681 §3.2 step 2,
            // RFC 6582 §3.2 step 3); after a timeout the rest follows as cwnd allows.
            let more = !self.rtx_one_segment && end < self.snd_nxt;
            self.rtx_next = more.then_some(end);
            self.rtx_one_segment = false;
            ctx.counters.RetransSegs += 1;
            self.rtt_sample = None;
        } else {
            self.snd_nxt = end;
            if len < mss {
                // Linux `tcp_minshall_update`: remember where the last small segment ends.
                self.snd_sml = end;
            }
            if self.rtt_sample.is_none() {
                self.rtt_sample = Some((end, ctx.now));
            }
        }
        if self.timer(TimerKind::Retransmit).is_none() {
            self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
        }
        self.finish(ctx, start, flags, data_offset, len, out);
        out.retransmit = retransmit;
        true
    }

    /// Fill in what every segment carries: ACK, window, timestamps, SACK blocks.
    fn finish(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: SeqNumber,
        flags: TcpFlags,
        data_offset: usize,
        data_len: usize,
        out: &mut OutSegment,
    ) {
        let syn = flags.syn();
        let window = self.advertise_window(syn, ctx.cfg.mss);
        let options = &mut out.repr.options;
        *options = TcpOptions::default();
        if self.ts_ok {
            options.timestamps = Some((self.ts_val(ctx.now), self.ts_recent));
        }
        if self.sack_ok && !syn && self.recv.has_out_of_order() {
            // RFC 2018 §3: 40 bytes of options hold four blocks, three beside timestamps.
            let max_blocks = if self.ts_ok { 3 } else { 4 };
            options.sack_count = self.sack_blocks(&mut options.sack_blocks, max_blocks) as u8;
        }
        let has_ack = flags.ack();
        if has_ack {
            self.ack_now = false;
            self.unacked_segments = 0;
            self.clear_timer(TimerKind::DelayedAck);
        }
        let repr = &mut out.repr;
        repr.src_port = self.tuple.local_port;
        repr.dst_port = self.tuple.remote_port;
        repr.seq = seq;
        repr.ack = if has_ack { self.rcv_nxt } else { SeqNumber(0) };
        repr.flags = flags;
        repr.window = window;
        repr.urgent = 0;
        out.data_offset = data_offset;
        out.data_len = data_len;
        out.retransmit = false;
    }

    /// Fill `out` with SACK blocks in RFC 2018 §4 order: first the block holding the most
    /// recently received out-of-order segment, then the other blocks most recently
    /// reported (as Linux `tcp_sack_new_ofo_skb` keeps them), then any left. Returns
    /// how many were written, at most `max`.
    fn sack_blocks(&self, out: &mut [SackBlock; 4], max: usize) -> usize {
        let ranges = self.recv.ranges();
        let mut used = [false; 4];
        let mut n = 0;
        let anchors = self.sack_anchors[..self.sack_anchor_count]
            .iter()
            .filter(|&&a| a >= self.rcv_nxt)
            .map(|&a| (a - self.rcv_nxt) as u32);
        let by_recency =
            anchors.filter_map(|off| ranges.iter().position(|r| r.0 <= off && off < r.1));
        for i in by_recency.chain(0..ranges.len()) {
            if n == max.min(out.len()) {
                break;
            }
            if used[i] {
                continue;
            }
            used[i] = true;
            out[n] = SackBlock {
                left: self.rcv_nxt + ranges[i].0,
                right: self.rcv_nxt + ranges[i].1,
            };
            n += 1;
        }
        n
    }
}
