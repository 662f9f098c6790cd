//! Closing: close() (RFC 9293 §3.10.4), shutdown of the write side (half-close),
//! abort (§3.10.5), abortive close with SO_LINGER {on, 0}, RST on close with unread
//! data (RFC 2525 §2.17), and the orphaned FIN-WAIT-2 timeout (Linux tcp_fin_timeout).

use super::{Conn, Ctx, TimerKind};
use crate::error::Error;
use crate::event::Reason;
use crate::state::State;
use crate::time::Duration;

impl Conn {
    /// The application closes its handle. The connection may live on (orphaned)
    /// to finish the close handshake.
    pub(crate) fn app_close(&mut self, ctx: &mut Ctx<'_>) {
        self.orphaned = true;
        self.rcv_shutdown = true;
        self.writable_wanted = false;
        match self.state {
            State::Closed | State::Listen | State::TimeWait => {}
            State::SynSent => {
                // Nothing was synchronized: the SYN is forgotten, no RST (Linux tcp_close).
                self.timers.clear_all();
                self.set_state(ctx, State::Closed, Reason::AppClose);
            }
            _ if self.recv.ready() > 0 => {
                // RFC 2525 §2.17: closing with unread data must reset, or the peer would
                // believe its data was delivered. Linux counts TCPAbortOnClose.
                ctx.counters.TCPAbortOnClose += 1;
                self.reset_and_close(ctx);
            }
            State::Closing | State::LastAck
                if self.opts.linger == Some(Duration::ZERO) && self.fin_sent() =>
            {
                // SO_LINGER {on, 0} once our FIN is out: Linux tcp_disconnect resets only
                // in ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1/2 and SYN_RECEIVED
                // (tcp_need_reset), or in CLOSING/LAST_ACK with data unsent; otherwise
                // the connection is dropped without a segment.
                ctx.counters.TCPAbortOnData += 1;
                self.timers.clear_all();
                self.set_state(ctx, State::Closed, Reason::AppAbort);
            }
            _ if self.opts.linger == Some(Duration::ZERO) => {
                // SO_LINGER {on, 0}: abortive close (RFC 9293 §3.10.5 ABORT), RST and no
                // TIME_WAIT (Linux counts it as TCPAbortOnData).
                ctx.counters.TCPAbortOnData += 1;
                self.reset_and_close(ctx);
            }
            State::SynReceived | State::Established => {
                self.queue_fin();
                self.set_state(ctx, State::FinWait1, Reason::AppClose);
            }
            State::CloseWait => {
                self.queue_fin();
                self.set_state(ctx, State::LastAck, Reason::AppClose);
            }
            State::FinWait2 => self.arm_fin_wait_2(ctx),
            State::FinWait1 | State::Closing | State::LastAck => {}
        }
    }

    /// shutdown(SHUT_WR): send FIN after the buffered data; keep receiving.
    pub(crate) fn app_shutdown_write(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Error> {
        if let Some(err) = self.error {
            return Err(err);
        }
        match self.state {
            State::Established => {
                self.queue_fin();
                self.set_state(ctx, State::FinWait1, Reason::AppShutdown);
                Ok(())
            }
            State::CloseWait => {
                self.queue_fin();
                self.set_state(ctx, State::LastAck, Reason::AppShutdown);
                Ok(())
            }
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Ok(()),
            _ => Err(Error::NotConnected),
        }
    }

    /// abort(): RFC 9293 §3.10.5, RST in synchronized states, then CLOSED at once.
    pub(crate) fn app_abort(&mut self, ctx: &mut Ctx<'_>) {
        self.orphaned = true;
        self.rcv_shutdown = true;
        match self.state {
            State::Closed | State::Listen | State::TimeWait => {}
            State::SynSent => {
                self.timers.clear_all();
                self.set_state(ctx, State::Closed, Reason::AppAbort);
            }
            _ => self.reset_and_close(ctx),
        }
    }

    fn reset_and_close(&mut self, ctx: &mut Ctx<'_>) {
        self.rst_pending = true;
        ctx.counters.OutRsts += 1;
        if matches!(self.state, State::Established | State::CloseWait) {
            ctx.counters.EstabResets += 1;
        }
        self.timers.clear_all();
        self.set_state(ctx, State::Closed, Reason::AppAbort);
    }

    /// Our FIN has been sent (perhaps not acknowledged): nothing is left unsent.
    fn fin_sent(&self) -> bool {
        matches!(self.fin_seq, Some(fin) if self.snd_nxt > fin)
    }

    fn queue_fin(&mut self) {
        debug_assert!(self.fin_seq.is_none(), "FIN queued twice");
        self.fin_seq = Some(self.send_data_end());
    }

    /// Entering (or being orphaned in) FIN-WAIT-2. An orphan waits `tcp_fin_timeout`
    /// (or TCP_LINGER2) for the peer's FIN, but never less than 3.5 RTO; with the socket
    /// still open (after shutdown(SHUT_WR)) it waits for ever, as Linux does.
    pub(crate) fn arm_fin_wait_2(&mut self, ctx: &mut Ctx<'_>) {
        if self.state != State::FinWait2 || !self.orphaned {
            return;
        }
        let timeout = match self.opts.linger2 {
            // TCP_LINGER2 < 0: Linux resets at once (tcp_close, tcp_rcv_state_process)
            // without consulting tcp_fin_time; the timer fires now and resets.
            Some(None) => Duration::ZERO,
            Some(Some(linger2)) => self.fin_time(ctx, linger2),
            None => self.fin_time(ctx, Duration::ZERO),
        };
        self.set_timer(TimerKind::FinWait2, ctx.now + timeout);
    }

    /// Linux `tcp_fin_time` (include/net/tcp.h):
    ///
    /// ```c
    /// int fin_timeout = tcp_sk(sk)->linger2 ? : net->ipv4.sysctl_tcp_fin_timeout;
    /// const int rto = inet_csk(sk)->icsk_rto;
    /// if (fin_timeout < (rto << 2) - (rto >> 1))
    ///         fin_timeout = (rto << 2) - (rto >> 1);
    /// ```
    ///
    /// TCP_LINGER2 = 0 means "use tcp_fin_timeout"; the result is at least 3.5 RTO (the
    /// current RTO, backoff included, as `icsk_rto` is), so that a FIN_WAIT_2 whose peer
    /// is slow still gives the peer's FIN a few RTOs to arrive.
    fn fin_time(&self, ctx: &Ctx<'_>, linger2: Duration) -> Duration {
        let fin_timeout = if linger2 > Duration::ZERO {
            linger2
        } else {
            ctx.cfg.tcp_fin_timeout
        };
        let rto = self.rtt.current(ctx.cfg).total_micros();
        let floor = Duration::from_micros((rto << 2) - (rto >> 1));
        fin_timeout.max(floor)
    }

    pub(crate) fn on_fin_wait_2_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.state != State::FinWait2 {
            return;
        }
        if self.opts.linger2 == Some(None) {
            // TCP_LINGER2 < 0: Linux resets instead of waiting (TCPAbortOnLinger).
            ctx.counters.TCPAbortOnLinger += 1;
            self.reset_and_close(ctx);
            return;
        }
        self.timers.clear_all();
        self.set_state(ctx, State::Closed, Reason::FinWait2Timeout);
    }
}
