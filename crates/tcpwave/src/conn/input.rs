//! Segment arrival in SYN-RECEIVED and the synchronized states,
//! RFC 9293 §3.10.7.4, in the RFC's order: sequence check, RST, SYN, ACK, text, FIN.
//! RFC 5961 hardens the RST, SYN and ACK steps against blind injection.
//!
//! Replies to segments that fail these checks are rate-limited per connection as Linux
//! does (commit 032ee4236954 "tcp: helpers to mitigate ACK loops by rate-limiting
//! out-of-window dupacks" and f2b2c582e824 "tcp: mitigate ACK loops for connections as
//! tcp_sock", Linux 4.0): at most one such ACK per `tcp_invalid_ratelimit` (500 ms),
//! shared by duplicate ACKs for out-of-window segments, PAWS rejections and challenge ACKs.
//! Since Linux 6.0 this per-connection limit is the only one by default
//! (`tcp_challenge_ack_limit` = INT_MAX).

use super::{Conn, Ctx, ResetReply, TimerKind};
use crate::counters::Counters;
use crate::error::Error;
use crate::event::Reason;
use crate::state::State;
use crate::wire::TcpRepr;

/// RFC 7323 §5.5: timestamps older than 24 days are not used for PAWS.
const PAWS_IDLE_LIMIT_SECS: u64 = 24 * 24 * 3600;

impl Conn {
    /// Process one segment addressed to this connection. Returns a reset to send
    /// outside the connection's sequence space, if the RFC calls for one.
    /// `accept_queue_full`: this is a listener's half-open connection and the listener's
    /// accept queue has no room for it (see [`Conn::listen_overflow`]).
    pub(crate) fn on_segment(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        payload: &[u8],
        accept_queue_full: bool,
    ) -> Option<ResetReply> {
        match self.state {
            State::SynSent => return self.on_segment_syn_sent(ctx, seg),
            State::Closed | State::Listen | State::TimeWait => return None,
            _ => {}
        }
        let simultaneous_syn_ack = self.is_simultaneous_open_syn_ack(seg);
        if self.is_request_sock() {
            if let Err(reply) = self.check_request_sock(ctx, seg, payload.len()) {
                return reply;
            }
        } else if !simultaneous_syn_ack {
            let seg_len = seg.seq_len(payload.len());
            if self.paws_rejects(ctx, seg, seg_len) {
                return None;
            }
            // First: is the segment acceptable (RFC 9293 §3.10.7.4 table)?
            if !self.sequence_acceptable(seg, seg_len) {
                // RFC 9293: "If an incoming segment is not acceptable, an acknowledgment
                // should be sent in reply (unless the RST bit is set)". In a synchronized
                // state a SYN gets it as a challenge ACK whatever its sequence number
                // (RFC 5961 §4.2; Linux tcp_validate_incoming: `if (th->syn) goto
                // syn_challenge;`). Other segments get a duplicate ACK, which Linux
                // rate-limits for pure ACKs (tcp_oow_rate_limited, LINUX_MIB_TCPACKSKIPPEDSEQ).
                if !seg.flags.rst() {
                    if seg.flags.syn() {
                        self.syn_challenge(ctx);
                    } else {
                        self.oow_ack(ctx, seg, seg_len, |c| &mut c.TCPACKSkippedSeq);
                    }
                }
                return None;
            }
        }
        self.last_received = ctx.now;
        // Second: the RST bit.
        if seg.flags.rst() {
            self.on_rst(ctx, seg);
            return None;
        }
        // Fourth: the SYN bit.
        if seg.flags.syn() && !simultaneous_syn_ack {
            // RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK. A request
            // sock only gets here with a SYN at IRS that carries data reaching into the
            // window (and the right ACK): Linux truncates that SYN and hands the segment
            // to the new full socket, whose tcp_validate_incoming sends it to
            // `syn_challenge:`; tcpwave answers the challenge ACK and stays half-open.
            if self.is_request_sock() {
                self.challenge_ack(ctx);
            } else {
                self.syn_challenge(ctx);
            }
            return None;
        }
        // Fifth: the ACK field. Without ACK the segment is dropped.
        if !seg.flags.ack() {
            return None;
        }
        if self.state == State::SynReceived {
            if self.snd_una < seg.ack && seg.ack <= self.snd_nxt {
                if accept_queue_full && self.is_request_sock() {
                    return self.listen_overflow(ctx, seg, payload.len());
                }
                self.complete_passive_open(ctx, seg);
            } else {
                return Some(ResetReply {
                    seq: seg.ack,
                    ack: None,
                });
            }
        } else if !self.process_ack(ctx, seg, payload.len()) {
            return None;
        }
        if self.state == State::Closed {
            return None;
        }
        if self.ts_ok {
            self.update_ts_recent(seg, ctx.now);
        }
        // Seventh and eighth: the segment text and the FIN bit.
        self.process_text_and_fin(ctx, seg, payload)
    }

    /// A passive open still in SYN-RECEIVED: Linux keeps it as a request sock and checks
    /// its segments in `tcp_check_req` (net/ipv4/tcp_minisocks.c), not in
    /// `tcp_validate_incoming` as it does for full sockets, such as a simultaneous open's.
    pub(crate) fn is_request_sock(&self) -> bool {
        self.state == State::SynReceived && !self.active_open
    }

    /// Linux `tcp_check_req` (net/ipv4/tcp_minisocks.c), the checks a request sock makes
    /// before it creates the full socket, in its order (Linux 6.6):
    ///
    /// 1. "Check for pure retransmitted SYN": `seq == rcv_isn && flg == TCP_FLAG_SYN &&
    ///    !paws_reject` (of RST, SYN and ACK only SYN set): the SYN-ACK again, see
    ///    [`Conn::answer_retransmitted_syn`].
    /// 2. "Invalid ACK: reset will be sent by listening socket": `(flg & TCP_FLAG_ACK) &&
    ///    ack_seq != snt_isn + 1` returns the listener, which answers
    ///    `<SEQ=SEG.ACK><CTL=RST>` (`tcp_rcv_state_process`, TCP_LISTEN: `if (th->ack)
    ///    return 1;` then `tcp_v4_send_reset`, which never answers an RST). Before the
    ///    window: a bad ACK outside the window draws a reset, not an ACK.
    /// 3. "RFC793: first check sequence number": `if (paws_reject || !tcp_in_window(..))`
    ///    a plain ACK (not for an RST) unless `tcp_oow_rate_limited(..,
    ///    LINUX_MIB_TCPACKSKIPPEDSYNRECV, &tcp_rsk(req)->last_oow_ack_time)`, then
    ///    PAWSESTABREJECTED for a PAWS failure. No challenge ACK, even for a SYN.
    /// 4. "second check the RST bit" and "fourth, check the SYN bit": a SYN at IRS is
    ///    truncated (`flg &= ~TCP_FLAG_SYN`); any other RST or SYN in the window resets
    ///    the request, see [`Conn::embryonic_reset`]. No RFC 5961 exact-sequence rule.
    ///
    /// `Err` carries what `on_segment` returns; `Ok` lets the segment go on to the ACK
    /// (whose number is then right if it is there), the text and the FIN.
    fn check_request_sock(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        payload_len: usize,
    ) -> Result<(), Option<ResetReply>> {
        let seg_len = seg.seq_len(payload_len);
        let paws_reject = self.paws_fails(ctx, seg);
        let pure_syn = seg.flags.syn() && !seg.flags.ack() && !seg.flags.rst();
        if pure_syn && seg.seq == self.irs && !paws_reject {
            self.answer_retransmitted_syn(ctx);
            return Err(None);
        }
        if seg.flags.ack() && seg.ack != self.iss + 1u32 {
            return Err(ResetReply::answering(seg, payload_len));
        }
        if paws_reject || !self.sequence_acceptable(seg, seg_len) {
            if !seg.flags.rst() {
                self.oow_ack(ctx, seg, seg_len, |c| &mut c.TCPACKSkippedSynRecv);
            }
            if paws_reject {
                ctx.counters.PAWSEstab += 1;
            }
            return Err(None);
        }
        if seg.flags.rst() || (seg.flags.syn() && seg.seq != self.irs) {
            ctx.counters.AttemptFails += 1;
            let reason = if seg.flags.rst() {
                Reason::RcvRst
            } else {
                Reason::RcvSyn
            };
            return Err(self.embryonic_reset(ctx, seg, payload_len, reason));
        }
        Ok(())
    }

    /// The peer sent its SYN again (our SYN-ACK was lost): it lies before RCV.NXT, so the
    /// acceptability test would only ACK it; the SYN-ACK goes again instead (RFC 1122
    /// fixed RFC 793's figures 6 and 8 this way). Linux `tcp_check_req`:
    ///
    /// ```c
    /// if (!tcp_oow_rate_limited(sock_net(sk), skb,
    ///                           LINUX_MIB_TCPACKSKIPPEDSYNRECV,
    ///                           &tcp_rsk(req)->last_oow_ack_time) &&
    ///
    ///     !inet_rtx_syn_ack(sk, req)) {
    ///         unsigned long expires = jiffies;
    ///
    ///         expires += reqsk_timeout(req, TCP_RTO_MAX);
    ///         if (!fastopen)
    ///                 mod_timer_pending(&req->rsk_timer, expires);
    /// ```
    ///
    /// At most one such SYN-ACK per `tcp_invalid_ratelimit`, sharing the request's limit
    /// with its out-of-window ACKs (a SYN is always subject to `tcp_oow_rate_limited`).
    /// `tcp_rtx_synack` counts it in RetransSegs (and TCPSynRetrans); `inet_rtx_syn_ack`
    /// counts it in `num_retrans`, so the handshake's ACK gives no RTT sample
    /// (`tcp_synack_rtt_meas`), but not in `num_timeout`: no backoff, and the retry limit
    /// is not used up. The SYN-ACK timer restarts a whole current timeout from now.
    #[cold]
    fn answer_retransmitted_syn(&mut self, ctx: &mut Ctx<'_>) {
        if self.oow_rate_limited(ctx, |c| &mut c.TCPACKSkippedSynRecv) {
            return;
        }
        self.rtx_next = Some(self.iss);
        ctx.counters.RetransSegs += 1;
        ctx.counters.TCPSynRetrans += 1;
        self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
    }

    /// The handshake's ACK passed every check but the listener's accept queue is full.
    /// Linux `tcp_check_req`, "OK, ACK is valid, create big socket": `syn_recv_sock`
    /// (`tcp_v4_syn_recv_sock`) finds `sk_acceptq_is_full` and goes to `exit_overflow`
    /// (ListenOverflows, then ListenDrops at `exit`), and back in `tcp_check_req`:
    ///
    /// ```c
    /// listen_overflow:
    ///         if (!READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_abort_on_overflow)) {
    ///                 inet_rsk(req)->acked = 1;
    ///                 return NULL;
    ///         }
    /// embryonic_reset: ...
    /// ```
    ///
    /// By default the ACK is dropped and the connection stays half-open: its SYN-ACK is
    /// resent when the timer fires and the client's next ACK may find room. With
    /// `tcp_abort_on_overflow` the request is reset as for an RST or SYN in its window.
    /// Only a segment that would complete the handshake gets here: one that fails the
    /// request checks is answered as they say whatever the queue holds.
    #[cold]
    fn listen_overflow(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        payload_len: usize,
    ) -> Option<ResetReply> {
        ctx.counters.ListenOverflows += 1;
        ctx.counters.ListenDrops += 1;
        if ctx.cfg.tcp_abort_on_overflow {
            return self.embryonic_reset(ctx, seg, payload_len, Reason::AcceptQueueFull);
        }
        None
    }

    /// An RST or SYN in a request sock's window: the half-open connection is dropped from
    /// the SYN queue and freed, with a reset for the SYN. Linux `tcp_check_req`:
    ///
    /// ```c
    /// if (flg & (TCP_FLAG_RST|TCP_FLAG_SYN)) {
    ///         TCP_INC_STATS(sock_net(sk), TCP_MIB_ATTEMPTFAILS);
    ///         goto embryonic_reset;
    /// }
    /// ...
    /// embryonic_reset:
    ///         if (!(flg & TCP_FLAG_RST)) {
    ///                 req->rsk_ops->send_reset(sk, skb);
    ///         } ...
    ///         if (!fastopen) {
    ///                 bool unlinked = inet_csk_reqsk_queue_drop(sk, req);
    ///
    ///                 if (unlinked)
    ///                         __NET_INC_STATS(sock_net(sk), LINUX_MIB_EMBRYONICRSTS);
    /// ```
    ///
    /// `send_reset` is `tcp_v4_send_reset` ([`ResetReply::answering`]). The RST/SYN
    /// caller counts AttemptFails first, as Linux does before `goto embryonic_reset`; an
    /// accept queue overflow (`listen_overflow`) gets here without it.
    #[cold]
    fn embryonic_reset(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        payload_len: usize,
        reason: Reason,
    ) -> Option<ResetReply> {
        self.fail(ctx, Error::ConnectionRefused, reason);
        ctx.counters.EmbryonicRsts += 1;
        ResetReply::answering(seg, payload_len)
    }

    /// Linux `tcp_validate_incoming`: in a simultaneous open, the peer's SYN-ACK
    /// arrives in SYN-RECEIVED and completes the handshake.
    fn is_simultaneous_open_syn_ack(&self, seg: &TcpRepr) -> bool {
        self.state == State::SynReceived
            && self.active_open
            && seg.flags.syn()
            && seg.flags.ack()
            && !seg.flags.rst()
            && seg.seq + 1u32 == self.rcv_nxt
            && seg.ack == self.snd_nxt
    }

    /// RFC 7323 §5.3: drop a segment whose TSval is older than TS.Recent (not RSTs), and
    /// acknowledge it unless the out-of-window rate limit says not now. Linux
    /// `tcp_validate_incoming`:
    ///
    /// ```c
    /// if (!th->rst) {
    ///         if (unlikely(th->syn))
    ///                 goto syn_challenge;
    ///         NET_INC_STATS(sock_net(sk), LINUX_MIB_PAWSESTABREJECTED);
    ///         if (!tcp_oow_rate_limited(sock_net(sk), skb,
    ///                                   LINUX_MIB_TCPACKSKIPPEDPAWS,
    ///                                   &tp->last_oow_ack_time))
    ///                 tcp_send_dupack(sk, skb);
    /// ```
    fn paws_rejects(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr, seg_len: usize) -> bool {
        if !self.paws_fails(ctx, seg) {
            return false;
        }
        if seg.flags.syn() {
            self.syn_challenge(ctx);
        } else {
            ctx.counters.PAWSEstab += 1;
            self.oow_ack(ctx, seg, seg_len, |c| &mut c.TCPACKSkippedPAWS);
        }
        true
    }

    /// RFC 7323 §5.3: the segment's TSval is older than TS.Recent, which is less than 24
    /// days old (RFC 7323 §5.5). RSTs are exempt.
    fn paws_fails(&self, ctx: &Ctx<'_>, seg: &TcpRepr) -> bool {
        if !self.ts_ok || seg.flags.rst() {
            return false;
        }
        let Some((tsval, _)) = seg.options.timestamps else {
            return false;
        };
        let older = (tsval.wrapping_sub(self.ts_recent) as i32) < 0;
        let fresh =
            ctx.now.saturating_since(self.ts_recent_stamp).total_secs() < PAWS_IDLE_LIMIT_SECS;
        older && fresh
    }

    /// The receive window in force for acceptability: what we last advertised (RFC 9293
    /// §3.10.7.4 RCV.WND; Linux `tcp_sequence` checks `tcp_receive_window()`, the same
    /// edge). Not the free buffer: the offer is capped by `rcv_ssthresh`, and a segment
    /// past the edge we announced is out of window even where the buffer has room.
    pub(crate) fn receive_window(&self) -> u32 {
        self.promised_window()
    }

    /// RFC 9293 §3.10.7.4, the four cases of the acceptability test.
    fn sequence_acceptable(&self, seg: &TcpRepr, seg_len: usize) -> bool {
        let wnd = self.receive_window();
        let rcv_end = self.rcv_nxt + wnd;
        let in_window = |s| self.rcv_nxt <= s && s < rcv_end;
        match (seg_len, wnd) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, _) => in_window(seg.seq),
            // Linux tcp_data_queue: with the window closed, a bare FIN at RCV.NXT is
            // still taken ("Some stacks are known to send bare FIN packets in a loop even
            // if we send RWIN 0"): it needs no buffer, and refusing it would leave the
            // sender retransmitting its FIN until it gives up. tcpwave sends one so too.
            (1, 0) => seg.flags.fin() && !seg.flags.syn() && seg.seq == self.rcv_nxt,
            (_, 0) => false,
            (len, _) => in_window(seg.seq) || in_window(seg.seq + (len - 1)),
        }
    }

    /// RFC 9293 §3.10.7.4 "second, check the RST bit", with RFC 5961 §3.2: only an RST
    /// at exactly RCV.NXT resets; one elsewhere in the window draws a challenge ACK.
    #[cold]
    fn on_rst(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr) {
        if seg.seq != self.rcv_nxt {
            self.challenge_ack(ctx);
            return;
        }
        // A passive SYN-RECEIVED never gets here: `check_request_sock` resets it first.
        match self.state {
            State::SynReceived => self.fail(ctx, Error::ConnectionRefused, Reason::RcvRst),
            State::CloseWait => self.fail(ctx, Error::BrokenPipe, Reason::RcvRst),
            _ => self.fail(ctx, Error::ConnectionReset, Reason::RcvRst),
        }
    }

    /// RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence number or
    /// timestamp, draws a challenge ACK. Linux `tcp_validate_incoming`:
    ///
    /// ```c
    /// syn_challenge:
    ///         if (syn_inerr)
    ///                 TCP_INC_STATS(sock_net(sk), TCP_MIB_INERRS);
    ///         NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPSYNCHALLENGE);
    ///         tcp_send_challenge_ack(sk);
    /// ```
    ///
    /// `syn_inerr` is 1 from `tcp_rcv_established` (ESTABLISHED) and 0 from
    /// `tcp_rcv_state_process` (every other state). TCPSYNChallenge counts the SYN even
    /// when the challenge ACK is then rate-limited.
    #[cold]
    fn syn_challenge(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Established {
            ctx.counters.InErrs += 1;
        }
        ctx.counters.TCPSYNChallenge += 1;
        self.challenge_ack(ctx);
    }

    /// RFC 5961 §7: send a challenge ACK, unless this connection sent an out-of-window ACK
    /// less than `tcp_invalid_ratelimit` ago, then within the endpoint's per-second budget.
    ///
    /// Linux 6.x `tcp_send_challenge_ack`:
    ///
    /// ```c
    /// /* First check our per-socket dupack rate limit. */
    /// if (__tcp_oow_rate_limited(net, LINUX_MIB_TCPACKSKIPPEDCHALLENGE,
    ///                            &tp->last_oow_ack_time))
    ///         return;
    /// ack_limit = READ_ONCE(net->ipv4.sysctl_tcp_challenge_ack_limit);
    /// if (ack_limit == INT_MAX)
    ///         goto send_ack;
    /// /* Then check host-wide RFC 5961 rate limit. */ ...
    /// ```
    ///
    /// The per-connection check applies to every challenge ACK (RST, SYN, ACK triggers)
    /// whatever the segment carries: it calls `__tcp_oow_rate_limited` directly, not the
    /// `tcp_oow_rate_limited` wrapper that exempts data.
    #[cold]
    pub(crate) fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        if self.oow_rate_limited(ctx, |c| &mut c.TCPACKSkippedChallenge) {
            return;
        }
        if ctx
            .challenge
            .allow(ctx.now, ctx.cfg.tcp_challenge_ack_limit, ctx.cfg.isn_secret)
        {
            ctx.counters.TCPChallengeACK += 1;
            self.ack_now = true;
        }
    }

    /// Acknowledge a segment that failed PAWS or the sequence test, unless the out-of-window
    /// rate limit says not now (`skipped` counts it then): Linux `tcp_oow_rate_limited`
    /// then `tcp_send_dupack` in `tcp_validate_incoming`, or `req->rsk_ops->send_ack` in
    /// `tcp_check_req` (a request sock's own `last_oow_ack_time` played by the
    /// connection's, `skipped` TCPACKSkippedSynRecv).
    fn oow_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        seg_len: usize,
        skipped: fn(&mut Counters) -> &mut u64,
    ) {
        // Linux `tcp_oow_rate_limited`: `oow_limit_applies`, then `__tcp_oow_rate_limited`.
        if !(oow_limit_applies(seg, seg_len) && self.oow_rate_limited(ctx, skipped)) {
            self.ack_now = true;
        }
    }

    /// Linux `__tcp_oow_rate_limited`: true (and `skipped` counted) when the last
    /// out-of-window ACK went out less than `tcp_invalid_ratelimit` ago; otherwise the
    /// caller may send one now, and now becomes the last time.
    ///
    /// ```c
    /// if (*last_oow_ack_time) {
    ///         s32 elapsed = (s32)(tcp_jiffies32 - *last_oow_ack_time);
    ///         if (0 <= elapsed &&
    ///             elapsed < READ_ONCE(net->ipv4.sysctl_tcp_invalid_ratelimit)) {
    ///                 NET_INC_STATS(net, mib_idx);
    ///                 return true;    /* rate-limited: don't send yet! */
    ///         }
    /// }
    /// *last_oow_ack_time = tcp_jiffies32;
    /// return false;   /* not rate-limited: go ahead, send dupack now! */
    /// ```
    fn oow_rate_limited(
        &mut self,
        ctx: &mut Ctx<'_>,
        skipped: fn(&mut Counters) -> &mut u64,
    ) -> bool {
        if let Some(last) = self.last_oow_ack_time {
            if ctx.now.saturating_since(last) < ctx.cfg.tcp_invalid_ratelimit {
                *skipped(ctx.counters) += 1;
                return true;
            }
        }
        self.last_oow_ack_time = Some(ctx.now);
        false
    }
}

/// Linux `tcp_oow_rate_limited`: the out-of-window rate limit applies only to segments that
/// could be part of an ACK loop, SYNs and pure ACKs ("Data packets without SYNs are not
/// likely part of an ACK loop": `if ((TCP_SKB_CB(skb)->seq != TCP_SKB_CB(skb)->end_seq) &&
/// !tcp_hdr(skb)->syn) return false;`), so data or a FIN is always answered and does not
/// touch the last out-of-window ACK time. `seg_len` is SEG.LEN (`TcpRepr::seq_len`).
pub(crate) fn oow_limit_applies(seg: &TcpRepr, seg_len: usize) -> bool {
    seg_len == 0 || seg.flags.syn()
}
