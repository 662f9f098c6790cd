//! Opening a connection: active open (RFC 9293 §3.10.1), passive open from a listener
//! (§3.10.7.2), SYN-SENT processing (§3.10.7.3) and simultaneous open (§3.5, figure 7).

use super::{Conn, Ctx, ResetReply, TimerKind};
use crate::config::Config;
use crate::endpoint::ListenerId;
use crate::error::Error;
use crate::event::{Event, Reason};
use crate::options::SocketOptions;
use crate::state::State;
use crate::wire::{TcpOptions, TcpRepr};

/// RFC 9293 §3.7.1: without an MSS option, assume 536.
const DEFAULT_PEER_MSS: u16 = 536;
/// Linux's quick-ACK budget after the handshake (`TCP_MAX_QUICKACKS`).
const QUICK_ACKS: u32 = 16;
/// Room the timestamp option takes in every segment (RFC 7323: 10 bytes + 2 NOPs).
const TIMESTAMP_OPTION_LEN: u16 = 12;

impl Conn {
    /// Active open: the SYN goes out at the next poll and the state is SYN-SENT.
    ///
    /// Runs on a blank TCB (`Conn::blank`) already stored in the endpoint's slab: the
    /// ~500-byte TCB is built where it lives instead of being moved there.
    pub(crate) fn open_active(&mut self, ctx: &mut Ctx<'_>, opts: SocketOptions) {
        self.opts = opts;
        self.active_open = true;
        ctx.counters.ActiveOpens += 1;
        self.set_state(ctx, State::SynSent, Reason::AppConnect);
    }

    /// Passive open: a listener got an acceptable SYN. The SYN-ACK goes out at the
    /// next poll and the state is SYN-RECEIVED.
    /// On a blank TCB in the slab, as `open_active`.
    pub(crate) fn open_passive(&mut self, ctx: &mut Ctx<'_>, syn: &TcpRepr, listener: ListenerId) {
        let conn = self;
        conn.listener = Some(listener);
        conn.state = State::Listen;
        conn.irs = syn.seq;
        conn.irs_known = true;
        conn.rcv_nxt = syn.seq + 1u32;
        conn.rcv_adv = conn.rcv_nxt;
        conn.negotiate(ctx.cfg, &syn.options, true);
        conn.update_ts_recent(syn, ctx.now);
        conn.snd_wnd = syn.window as u32;
        conn.max_snd_wnd = conn.snd_wnd;
        conn.snd_wl1 = syn.seq;
        ctx.counters.PassiveOpens += 1;
        conn.set_state(ctx, State::SynReceived, Reason::RcvSyn);
    }

    /// Settle MSS, window scale, SACK and timestamps from the peer's SYN options.
    /// `we_offered_all`: for a passive open we answer whatever the peer offered.
    fn negotiate(&mut self, cfg: &Config, peer: &TcpOptions, we_offered_all: bool) {
        let _ = we_offered_all;
        // RFC 7323 §2.2: window scaling only when both SYNs carry the option.
        if cfg.tcp_window_scaling {
            if let Some(shift) = peer.window_scale {
                // RFC 7323 §2.3: a shift above 14 is treated as 14.
                self.snd_wscale = shift.min(14);
                self.rcv_wscale = cfg.offered_window_scale();
                self.ws_ok = true;
            }
        }
        self.sack_ok = cfg.tcp_sack && peer.sack_permitted;
        self.ts_ok = cfg.tcp_timestamps && peer.timestamps.is_some();
        let peer_mss = peer.mss.unwrap_or(DEFAULT_PEER_MSS);
        self.mss = self.less_timestamps(peer_mss.min(cfg.mss)).max(64);
        self.cc = super::congestion::NewReno::new(cfg.initial_cwnd_segments, self.mss as u32);
        self.init_rcv_mss(cfg);
    }

    /// A segment size less the room the timestamp option takes in every segment, once
    /// it was negotiated (RFC 7323 §3.2; Linux subtracts TCPOLEN_TSTAMP_ALIGNED).
    pub(super) fn less_timestamps(&self, mss: u16) -> u16 {
        let ts_len = if self.ts_ok { TIMESTAMP_OPTION_LEN } else { 0 };
        mss.saturating_sub(ts_len)
    }

    /// RFC 7323 §4.3 (2): remember the peer's TSval when the segment covers
    /// `Last.ACK.sent` (we use RCV.NXT at arrival, as Linux's `tcp_store_ts_recent`).
    pub(crate) fn update_ts_recent(&mut self, seg: &TcpRepr, now: crate::time::Instant) {
        if let Some((tsval, _)) = seg.options.timestamps {
            let covers_last_ack = self.state == State::Listen
                || self.state == State::SynSent
                || seg.seq <= self.rcv_nxt;
            let newer = tsval.wrapping_sub(self.ts_recent) as i32 >= 0 || self.ts_recent == 0;
            if covers_last_ack && newer {
                self.ts_recent = tsval;
                self.ts_recent_stamp = now;
            }
        }
    }

    /// The handshake is complete on this side.
    fn enter_established(&mut self, ctx: &mut Ctx<'_>, reason: Reason) {
        self.clear_timer(TimerKind::Retransmit);
        self.rtt.handshake_done();
        if self.retransmits > 1 {
            // RFC 5681 §3.1: "if the SYN or SYN/ACK is lost, the initial window used by a
            // sender after a correctly transmitted SYN MUST be one segment". Linux
            // (`tcp_init_transfer`) applies it after more than one retransmission.
            self.cc.cwnd = u32::from(self.mss);
        }
        self.retransmits = 0;
        self.retrans_stamp = None;
        self.rtt.backoff = 0;
        self.quick_acks = QUICK_ACKS;
        self.init_buffer_space(ctx.cfg);
        self.set_state(ctx, State::Established, reason);
        self.arm_keepalive(ctx);
        if self.active_open {
            ctx.events.push_back(Event::Connected { conn: ctx.id });
        }
    }

    /// SYN-RECEIVED: the ACK of our SYN-ACK arrived (RFC 9293 §3.10.7.4, fifth, first bullet).
    pub(crate) fn complete_passive_open(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr) {
        self.snd_una = seg.ack;
        self.take_rtt_sample(ctx, seg.ack);
        self.snd_wnd = (seg.window as u32) << self.snd_wscale;
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        self.rtx_next = None;
        let reason = if self.active_open {
            Reason::RcvSynAck
        } else {
            // Linux makes the full socket here (`tcp_create_openreq_child`, from
            // `tcp_check_req`): its `last_oow_ack_time` is not the request sock's. Linux
            // 6.x no longer sets it there (up to 4.x: `newtp->last_oow_ack_time = 0;`);
            // `inet_csk_clone_lock` copies the listener's, which is 0, as a listener
            // never sends an out-of-window ACK. So the new connection's first one is not
            // rate-limited by the ACKs its request sent.
            self.last_oow_ack_time = None;
            Reason::RcvAck
        };
        self.enter_established(ctx, reason);
    }

    /// RFC 9293 §3.10.7.3: a segment arrives in SYN-SENT.
    pub(crate) fn on_segment_syn_sent(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
    ) -> Option<ResetReply> {
        // First, check the ACK bit.
        let ack_acceptable = if seg.flags.ack() {
            if seg.ack <= self.iss || seg.ack > self.snd_nxt {
                if seg.flags.rst() {
                    return None;
                }
                return Some(ResetReply {
                    seq: seg.ack,
                    ack: None,
                });
            }
            true
        } else {
            false
        };
        // Second, check the RST bit.
        if seg.flags.rst() {
            if ack_acceptable {
                self.fail(ctx, Error::ConnectionRefused, Reason::RcvRst);
            }
            return None;
        }
        // Fourth, check the SYN bit.
        if !seg.flags.syn() {
            return None;
        }
        self.irs = seg.seq;
        self.irs_known = true;
        // The window our SYN offered now counts from RCV.NXT: an edge promised, which
        // later windows must not pull back (RFC 9293 §3.8.6.2.2). Linux keeps it as
        // `rcv_wnd` with `rcv_wup = rcv_nxt` (tcp_rcv_synsent_state_process), so its ACK
        // of the SYN-ACK offers ALIGN(64240, 1 << wscale) even when rcv_ssthresh is less.
        let syn_window = self.promised_window();
        self.rcv_nxt = seg.seq + 1u32;
        self.rcv_adv = self.rcv_nxt + syn_window;
        self.negotiate(ctx.cfg, &seg.options, false);
        self.update_ts_recent(seg, ctx.now);
        self.last_received = ctx.now;
        if ack_acceptable {
            // Our SYN is acknowledged: ESTABLISHED, and ACK the peer's SYN.
            self.snd_una = seg.ack;
            self.take_rtt_sample(ctx, seg.ack);
            // RFC 7323 §2.2: the window in a SYN segment is never scaled.
            self.snd_wnd = seg.window as u32;
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.ack_now = true;
            self.enter_established(ctx, Reason::RcvSynAck);
        } else {
            // Simultaneous open (RFC 9293 §3.5 figure 7): answer with SYN-ACK from ISS.
            self.snd_wnd = seg.window as u32;
            self.snd_wl1 = seg.seq;
            self.rtx_next = Some(self.iss);
            self.set_state(ctx, State::SynReceived, Reason::RcvSyn);
        }
        None
    }
}
