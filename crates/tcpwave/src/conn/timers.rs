//! Timer expiry: retransmission (RFC 6298 §5) for SYN, SYN-ACK, data and FIN with
//! Linux's give-up rules, zero-window probes (persist, RFC 9293 §3.8.6.1), delayed ACK,
//! keepalive (RFC 1122 §4.2.3.6) and the orphaned FIN-WAIT-2 timeout.
//! Each connection has one slot per kind; the endpoint's wheel holds the earliest.

use super::rto::give_up_after;
use super::{Conn, Ctx};
use crate::error::Error;
use crate::event::Reason;
use crate::state::State;
use crate::time::{Duration, Instant};

/// The timers a connection keeps (TIME_WAIT's lives in the endpoint's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Retransmission, or zero-window probe when the peer's window is closed.
    Retransmit = 0,
    DelayedAck = 1,
    Keepalive = 2,
    FinWait2 = 3,
}

impl TimerKind {
    pub const COUNT: usize = 4;
    const ALL: [TimerKind; 4] = [
        TimerKind::Retransmit,
        TimerKind::DelayedAck,
        TimerKind::Keepalive,
        TimerKind::FinWait2,
    ];
}

/// One deadline per [`TimerKind`], as microseconds with `u64::MAX` for "not armed": 8
/// bytes a slot instead of an `Option<Instant>`'s 16, and the earliest deadline, which the
/// endpoint asks for after every segment, is a plain minimum of four numbers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timers([u64; TimerKind::COUNT]);

impl Timers {
    const UNSET: u64 = u64::MAX;

    pub(crate) fn get(&self, kind: TimerKind) -> Option<Instant> {
        let at = self.0[kind as usize];
        (at != Self::UNSET).then(|| Instant::from_micros(at))
    }

    pub(crate) fn set(&mut self, kind: TimerKind, at: Instant) {
        // A deadline saturated at the end of time (`Instant + Duration` saturates) stays
        // armed, one microsecond earlier.
        self.0[kind as usize] = at.total_micros().min(Self::UNSET - 1);
    }

    pub(crate) fn clear(&mut self, kind: TimerKind) {
        self.0[kind as usize] = Self::UNSET;
    }

    /// Disarm every timer.
    pub(crate) fn clear_all(&mut self) {
        *self = Timers::default();
    }

    /// The earliest armed deadline.
    #[inline]
    pub(crate) fn earliest(&self) -> Option<Instant> {
        let at = self.0.iter().copied().fold(Self::UNSET, u64::min);
        (at != Self::UNSET).then(|| Instant::from_micros(at))
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers([Self::UNSET; TimerKind::COUNT])
    }
}

impl core::fmt::Debug for Timers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map()
            .entries(TimerKind::ALL.iter().map(|&k| (k, self.get(k))))
            .finish()
    }
}

/// Linux: `tcp_orphan_retries` = 0 means 8.
const ORPHAN_RETRIES_DEFAULT: u32 = 8;

impl Conn {
    /// Run every timer that is due.
    pub(crate) fn on_timers(&mut self, ctx: &mut Ctx<'_>) {
        for kind in TimerKind::ALL {
            if self.state == State::Closed {
                return;
            }
            match self.timer(kind) {
                Some(at) if at <= ctx.now => {
                    self.clear_timer(kind);
                    match kind {
                        TimerKind::Retransmit => self.on_retransmit_timeout(ctx),
                        TimerKind::DelayedAck => self.ack_now = true,
                        TimerKind::Keepalive => self.on_keepalive_timeout(ctx),
                        TimerKind::FinWait2 => self.on_fin_wait_2_timeout(ctx),
                    }
                }
                _ => {}
            }
        }
    }

    fn on_retransmit_timeout(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::SynSent => {
                ctx.counters.TCPTimeouts += 1;
                self.retransmit_syn(ctx, ctx.cfg.tcp_syn_retries);
            }
            State::SynReceived => {
                ctx.counters.TCPTimeouts += 1;
                self.retransmit_syn(ctx, ctx.cfg.tcp_synack_retries);
            }
            State::Established
            | State::CloseWait
            | State::FinWait1
            | State::Closing
            | State::LastAck => {
                if self.snd_una == self.snd_nxt && self.snd_wnd == 0 && self.send.len() > 0 {
                    self.zero_window_probe(ctx);
                } else if self.snd_una < self.snd_nxt {
                    // Linux `tcp_retransmit_timer`: with the peer's window shrunk to zero
                    // (and the socket not orphaned) the expiry takes the "receiver shrinks
                    // window" branch, which does not count LINUX_MIB_TCPTIMEOUTS.
                    if self.snd_wnd != 0 || self.orphaned {
                        ctx.counters.TCPTimeouts += 1;
                    }
                    self.retransmit_data(ctx);
                }
            }
            _ => {}
        }
    }

    /// SYN / SYN-ACK: give up after `retries` retransmissions (Linux `tcp_write_timeout`
    /// models this as a time: 127 s for 6 SYN retries with a 1 s initial RTO).
    fn retransmit_syn(&mut self, ctx: &mut Ctx<'_>, retries: u32) {
        if self.retransmits >= retries {
            ctx.counters.TCPAbortOnTimeout += 1;
            self.fail(ctx, Error::TimedOut, Reason::RetransmitTimeout);
            return;
        }
        self.retransmits += 1;
        self.rtt.backoff += 1;
        ctx.counters.RetransSegs += 1;
        ctx.counters.TCPSynRetrans += 1;
        self.rtx_next = Some(self.iss);
        self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
    }

    /// Data or FIN unacknowledged for an RTO: RFC 6298 (5.4)-(5.6): retransmit the
    /// earliest segment, back off, restart the timer; RFC 5681 §3.1: collapse cwnd.
    #[cold]
    fn retransmit_data(&mut self, ctx: &mut Ctx<'_>) {
        let first_send = *self
            .retrans_stamp
            .get_or_insert(ctx.now - self.rtt.current(ctx.cfg));
        let elapsed = ctx.now.saturating_since(first_send);
        // Linux `retransmits_timed_out`: never on the first expiry ("if
        // (!icsk->icsk_retransmits) return false"), so at least one retransmission goes out.
        if self.retransmits > 0 && self.retransmission_exhausted(ctx, elapsed) {
            ctx.counters.TCPAbortOnTimeout += 1;
            self.fail(ctx, Error::TimedOut, Reason::RetransmitTimeout);
            return;
        }
        self.retransmits += 1;
        self.rtt.backoff += 1;
        let mss = self.mss as u32;
        self.cc.on_timeout(self.flight_size(), mss);
        // After a timeout everything outstanding is resent, as cwnd allows (go-back-N,
        // like Linux marking the whole flight lost in tcp_enter_loss).
        self.rtx_next = Some(self.snd_una);
        self.rtx_one_segment = false;
        self.rtt_sample = None;
        let mut rto = self.rtt.current(ctx.cfg);
        if let Some(user_timeout) = self.opts.user_timeout {
            // Linux `tcp_clamp_rto_to_user_timeout` (RFC 5482 §4.2: the user timeout
            // bounds how long data may stay unacknowledged): the next expiry is no later
            // than the moment TCP_USER_TIMEOUT runs out, so the abort comes on time.
            let remaining = Duration::from_micros(
                user_timeout
                    .total_micros()
                    .saturating_sub(elapsed.total_micros()),
            );
            rto = rto.min(remaining.max(Duration::from_millis(1)));
        }
        self.set_timer(TimerKind::Retransmit, ctx.now + rto);
    }

    /// Linux `retransmits_timed_out`: `tcp_retries2` (or `tcp_orphan_retries` for an
    /// orphan) turned into a duration by `tcp_model_timeout`; TCP_USER_TIMEOUT overrides.
    fn retransmission_exhausted(&self, ctx: &Ctx<'_>, elapsed: Duration) -> bool {
        if let Some(user_timeout) = self.opts.user_timeout {
            return elapsed >= user_timeout;
        }
        let boundary = if self.orphaned {
            match ctx.cfg.tcp_orphan_retries {
                0 => ORPHAN_RETRIES_DEFAULT,
                n => n,
            }
        } else {
            ctx.cfg.tcp_retries2
        };
        elapsed >= give_up_after(boundary, ctx.cfg.rto_min, ctx.cfg.rto_max)
    }

    /// Arm the persist timer when the peer's window is closed and data waits.
    #[cold]
    pub(crate) fn arm_persist(&mut self, ctx: &mut Ctx<'_>) {
        if self.timer(TimerKind::Retransmit).is_none() {
            self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
        }
    }

    #[cold]
    fn zero_window_probe(&mut self, ctx: &mut Ctx<'_>) {
        if self.zero_window_probes >= ctx.cfg.tcp_retries2 {
            ctx.counters.TCPAbortOnTimeout += 1;
            self.fail(ctx, Error::TimedOut, Reason::RetransmitTimeout);
            return;
        }
        self.zero_window_probes += 1;
        self.probe_pending = true;
        self.rtt.backoff += 1;
        self.set_timer(TimerKind::Retransmit, ctx.now + self.rtt.current(ctx.cfg));
    }

    /// Start keepalive timing if SO_KEEPALIVE is on (RFC 1122 §4.2.3.6).
    pub(crate) fn arm_keepalive(&mut self, ctx: &mut Ctx<'_>) {
        if self.opts.keepalive && self.state.is_synchronized() {
            let idle = self.keepalive_idle(ctx.cfg);
            // Linux: switching keepalive on (tcp_set_keepalive, or the handshake ending)
            // arms the timer a full idle time from now; changing TCP_KEEPIDLE while it
            // runs (tcp_sock_set_keepidle_locked) counts the idle time already passed.
            let from = match self.timer(TimerKind::Keepalive) {
                None => ctx.now,
                Some(_) => self.last_received,
            };
            self.set_timer(TimerKind::Keepalive, from + idle);
        } else {
            self.clear_timer(TimerKind::Keepalive);
        }
    }

    /// Linux `tcp_keepalive_timer`: after `keepidle` of silence send a probe, then one
    /// every `keepintvl`; after `keepcnt` unanswered probes reset with ETIMEDOUT.
    #[cold]
    fn on_keepalive_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if !self.opts.keepalive || !self.state.is_synchronized() {
            return;
        }
        let idle = self.keepalive_idle(ctx.cfg);
        let interval = self.opts.keepintvl.unwrap_or(ctx.cfg.tcp_keepalive_intvl);
        let max_probes = self.opts.keepcnt.unwrap_or(ctx.cfg.tcp_keepalive_probes);
        if self.snd_una != self.snd_nxt || self.send.len() > 0 {
            // Data in flight: the retransmission timer is in charge.
            self.set_timer(TimerKind::Keepalive, ctx.now + idle);
            return;
        }
        let silent = ctx.now.saturating_since(self.last_received);
        if silent < idle {
            self.set_timer(TimerKind::Keepalive, self.last_received + idle);
            return;
        }
        // Linux `tcp_keepalive_timer`: with TCP_USER_TIMEOUT set, it alone decides (once
        // a probe went unanswered) and the probe count no longer applies.
        let gave_up = match self.opts.user_timeout {
            Some(user_timeout) => silent >= user_timeout && self.keepalive_probes_sent > 0,
            None => self.keepalive_probes_sent >= max_probes,
        };
        if gave_up {
            ctx.counters.TCPAbortOnTimeout += 1;
            self.rst_pending = true;
            ctx.counters.OutRsts += 1;
            self.fail(ctx, Error::TimedOut, Reason::KeepaliveTimeout);
            return;
        }
        self.keepalive_probes_sent += 1;
        self.probe_pending = true;
        self.set_timer(TimerKind::Keepalive, ctx.now + interval);
    }
}

#[cfg(test)]
mod timers_tests {
    use super::{TimerKind, Timers};
    use crate::time::Instant;

    #[test]
    fn slots_earliest_and_the_end_of_time() {
        let mut t = Timers::default();
        assert_eq!(t.earliest(), None);
        t.set(TimerKind::Keepalive, Instant::from_secs(7200));
        t.set(TimerKind::DelayedAck, Instant::from_micros(40_000));
        assert_eq!(
            t.get(TimerKind::DelayedAck),
            Some(Instant::from_micros(40_000))
        );
        assert_eq!(t.get(TimerKind::Retransmit), None);
        assert_eq!(t.earliest(), Some(Instant::from_micros(40_000)));
        t.clear(TimerKind::DelayedAck);
        assert_eq!(t.earliest(), Some(Instant::from_secs(7200)));
        // A saturated deadline stays armed instead of reading as "not armed".
        t.set(TimerKind::FinWait2, Instant::from_micros(u64::MAX));
        assert_eq!(
            t.get(TimerKind::FinWait2),
            Some(Instant::from_micros(u64::MAX - 1))
        );
        t.clear_all();
        assert_eq!(t, Timers::default());
        assert_eq!(t.earliest(), None);
    }
}
