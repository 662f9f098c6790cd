//! What the endpoint does after a connection changed: queue its output, re-arm its
//! timer, move it between the SYN and accept queues, hand it to the TIME_WAIT table,
//! and free it once nobody needs it.

use super::time_wait::TimeWaitEntry;
use super::{ConnId, Endpoint, ListenerId};
use crate::event::{Event, Reason};
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;
use crate::wire::{TcpFlags, TcpOptions, TcpRepr};

use super::slab::Handle;
use super::ControlSegment;

impl Endpoint {
    /// Bookkeeping after any input, timer or call touched connection `h`.
    pub(crate) fn after_change(&mut self, h: Handle, before: State) {
        self.after_change_queueing(h, before, true);
    }

    /// `after_change`, optionally without putting the connection back in the transmit
    /// queue (when it was just asked and had nothing it may send yet: Nagle, a closed
    /// window or cwnd; the next ACK or timer re-queues it).
    pub(crate) fn after_change_queueing(&mut self, h: Handle, before: State, may_queue: bool) {
        let Some(conn) = self.conns.get(h) else {
            return;
        };
        #[cfg(debug_assertions)]
        conn.check_invariants();
        let state = conn.state;
        if before == State::SynReceived && state != State::SynReceived {
            self.leave_syn_queue(h, state);
        }
        match state {
            State::TimeWait => return self.enter_time_wait(h),
            State::Closed if self.leave_demux_when_closed(h, before) => return,
            _ => {}
        }
        self.schedule(h, may_queue);
    }

    /// The connection is CLOSED: out of the demux map (its tuple and port are free again),
    /// and freed at once when nobody will look at it (orphaned, or a half-open child); true
    /// when it was freed. Once per connection, out of the per-segment path.
    #[inline(never)]
    fn leave_demux_when_closed(&mut self, h: Handle, before: State) -> bool {
        let Some(conn) = self.conns.get(h) else {
            return true;
        };
        let (tuple, rst_pending, orphaned, child) =
            (conn.tuple, conn.rst_pending, conn.orphaned, conn.listener);
        if self.demux.get(&tuple) == Some(&h) {
            self.demux.remove(&tuple);
            self.port_use.release(self.cfg.ip_local_port_range, &tuple);
        }
        if !rst_pending && (orphaned || (child.is_some() && before == State::SynReceived)) {
            self.free(h);
            return true;
        }
        false
    }

    /// Queue for output and (re)arm the timer wheel, as the connection needs.
    pub(crate) fn schedule(&mut self, h: Handle, may_queue: bool) {
        let Some(conn) = self.conns.get_mut(h) else {
            return;
        };
        if may_queue && !conn.queued_for_output && (conn.wants_output() || conn.rst_pending) {
            conn.queued_for_output = true;
            self.transmit_queue.push_back(h);
        }
        let deadline = if conn.state == State::Closed {
            None
        } else {
            conn.next_deadline()
        };
        match (conn.wheel, deadline) {
            // The earliest timer moved later (each ACK pushes the RTO back, RFC 6298
            // (5.3)): the wheel entry stays where it is. When it fires, `handle_timeout`
            // finds nothing due and this function arms the real deadline: one wheel
            // operation per expiry instead of a cancel and an arm per segment.
            (Some((_, at)), Some(deadline)) if at <= deadline => {}
            // No timer left: cancel, so `poll_timeout` never reports a wake-up for a
            // connection that has nothing pending (CLOSE-WAIT waits on the application).
            (Some((key, _)), None) => {
                self.wheel.cancel(key);
                conn.wheel = None;
            }
            (None, None) => {}
            // First timer, or one sooner than the armed entry.
            (armed, Some(deadline)) => {
                if let Some((key, _)) = armed {
                    self.wheel.cancel(key);
                }
                conn.wheel = Some((self.wheel.arm(deadline, h), deadline));
            }
        }
    }

    /// A passive connection left SYN-RECEIVED: into the accept queue, or gone.
    fn leave_syn_queue(&mut self, h: Handle, state: State) {
        let Some(lid) = self.conns.get(h).and_then(|c| c.listener) else {
            return;
        };
        let Some(listener) = self.listeners.get_mut(lid.0) else {
            // The listener was closed meanwhile: nobody will accept this connection.
            if state != State::Closed {
                self.with_conn(h, |conn, ctx| conn.app_abort(ctx));
            }
            return;
        };
        listener.syn_queue_len = listener.syn_queue_len.saturating_sub(1);
        if state != State::Closed {
            listener.accept_queue.push_back(h);
            self.events.push_back(Event::Acceptable {
                listener: lid,
                conn: ConnId(h),
            });
        }
    }

    pub(crate) fn accept_queue_full(&self, listener: Handle) -> bool {
        self.listeners
            .get(listener)
            .is_some_and(|l| l.accept_queue.len() > l.backlog as usize)
    }

    /// The connection reached TIME-WAIT: keep only the compact entry (or none, when
    /// TIME_WAIT is disabled or the table is full), and send the final ACK. Once per
    /// connection: kept out of line, off the per-segment path.
    #[inline(never)]
    fn enter_time_wait(&mut self, h: Handle) {
        let Some(conn) = self.conns.get_mut(h) else {
            return;
        };
        let tuple = conn.tuple;
        // The window of the full socket's last word, as Linux `tcp_time_wait` keeps
        // `tcp_receive_window(tp)` for the ACKs of TIME_WAIT: capped by rcv_ssthresh.
        let window = conn.window_field();
        let entry = TimeWaitEntry {
            tuple,
            snd_nxt: conn.snd_nxt,
            rcv_nxt: conn.rcv_nxt,
            ts_recent: conn.ts_recent,
            ts_recent_stamp_secs: (conn.ts_recent_stamp.total_micros() / 1_000_000) as u32,
            expiry: self.now + self.cfg.time_wait_len(),
            window,
            flags: if conn.ts_ok {
                TimeWaitEntry::FLAG_TIMESTAMPS
            } else {
                0
            },
        };
        let send_ack = conn.ack_now;
        let ts_offset = conn.ts_offset;
        let orphaned = conn.orphaned;
        conn.state = State::Closed;
        conn.timers.clear_all();
        conn.ack_now = false;
        let was_live = self.demux.remove(&tuple).is_some();
        if send_ack {
            self.queue_time_wait_ack_with(&entry, ts_offset);
        }
        let skip = if self.cfg.time_wait_len() == crate::time::Duration::ZERO {
            true
        } else if self.time_wait.len() >= self.cfg.tcp_max_tw_buckets as usize {
            // Linux `inet_twsk_alloc` refuses past tcp_max_tw_buckets: no TIME_WAIT.
            self.counters.TCPTimeWaitOverflow += 1;
            true
        } else {
            false
        };
        if skip && was_live {
            self.port_use.release(self.cfg.ip_local_port_range, &tuple);
        }
        if skip {
            self.events.push_back(Event::StateChanged {
                conn: None,
                tuple,
                from: State::TimeWait,
                to: State::Closed,
                reason: Reason::TimeWaitSkipped,
            });
        } else {
            self.time_wait.insert(entry);
            // Linux `__inet_twsk_schedule` counts a timewait socket as it is scheduled:
            // TW (LINUX_MIB_TIMEWAITED), or TWKilled (LINUX_MIB_TIMEWAITKILLED) when the
            // timeout is 4 s or less.
            if self.cfg.time_wait_len() > crate::time::Duration::from_secs(4) {
                self.counters.TW += 1;
            } else {
                self.counters.TWKilled += 1;
            }
        }
        if orphaned {
            self.free(h);
        } else {
            self.schedule(h, true);
        }
    }

    /// ACK from a TIME_WAIT entry: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    pub(crate) fn queue_time_wait_ack(&mut self, entry: &TimeWaitEntry) {
        // The entry does not keep the connection's timestamp offset (it would cost 4 bytes
        // an entry): it is derived again, as it was for the connection (RFC 7323 §5.4).
        let tuple = entry.tuple;
        let ts_offset = self.isn.ts_offset(tuple.local_addr, tuple.remote_addr);
        self.queue_time_wait_ack_with(entry, ts_offset);
    }

    /// `queue_time_wait_ack` with the timestamp offset at hand (the connection that is
    /// entering TIME_WAIT knows its own).
    fn queue_time_wait_ack_with(&mut self, entry: &TimeWaitEntry, ts_offset: u32) {
        let tuple = entry.tuple;
        let mut options = TcpOptions::default();
        if entry.timestamps() {
            let tsval = (self.now.total_millis() as u32).wrapping_add(ts_offset);
            options.timestamps = Some((tsval, entry.ts_recent));
        }
        let repr = TcpRepr {
            src_port: tuple.local_port,
            dst_port: tuple.remote_port,
            seq: entry.snd_nxt,
            ack: entry.rcv_nxt,
            flags: TcpFlags::ACK,
            window: entry.window,
            urgent: 0,
            options,
        };
        self.control.push_back(ControlSegment {
            src: tuple.local_addr,
            dst: tuple.remote_addr,
            repr,
        });
    }

    /// Expire TIME_WAIT entries whose 2·MSL has passed.
    pub(crate) fn expire_time_wait(&mut self, now: Instant) {
        while let Some(entry) = self.time_wait.pop_expired(now) {
            self.port_use
                .release(self.cfg.ip_local_port_range, &entry.tuple);
            self.time_wait_closed(entry.tuple, Reason::TimeWaitExpired);
        }
    }

    pub(crate) fn time_wait_closed(&mut self, tuple: FourTuple, reason: Reason) {
        self.events.push_back(Event::StateChanged {
            conn: None,
            tuple,
            from: State::TimeWait,
            to: State::Closed,
            reason,
        });
    }

    /// Forget a connection entirely.
    pub(crate) fn free(&mut self, h: Handle) {
        let Some(conn) = self.conns.get_mut(h) else {
            return;
        };
        conn.send.release(&mut self.pool);
        conn.recv.release(&mut self.pool);
        let (wheel, tuple, listener) = (conn.wheel, conn.tuple, conn.listener);
        self.conns.discard(h);
        if let Some((key, _)) = wheel {
            self.wheel.cancel(key);
        }
        if self.demux.get(&tuple) == Some(&h) {
            self.demux.remove(&tuple);
            self.port_use.release(self.cfg.ip_local_port_range, &tuple);
        }
        if let Some(lid) = listener {
            self.forget_child(lid, h);
        }
    }

    fn forget_child(&mut self, lid: ListenerId, h: Handle) {
        if let Some(listener) = self.listeners.get_mut(lid.0) {
            if let Some(pos) = listener.accept_queue.iter().position(|&c| c == h) {
                listener.accept_queue.remove(pos);
            }
        }
    }
}

impl Endpoint {
    /// Check every connection's invariants (`Conn::check_invariants`) and the endpoint's
    /// own bookkeeping: demux entries name live connections with the same tuple, no tuple
    /// is both live and in TIME_WAIT, listener queues match their children. Panics with
    /// a message naming the broken rule. Debug builds run the per-connection part after
    /// every input already; tests and the simulator call this in release builds too.
    pub fn check_invariants(&self) {
        for (h, conn) in self.conns.iter() {
            conn.check_invariants();
            if conn.state != State::Closed {
                assert_eq!(
                    self.demux.get(&conn.tuple),
                    Some(&h),
                    "live connection {} ({}) is missing from the demux map",
                    conn.tuple,
                    conn.state
                );
            }
        }
        for (tuple, &h) in &self.demux {
            let conn = self
                .conns
                .get(h)
                .unwrap_or_else(|| panic!("demux entry {tuple} names a freed connection"));
            assert_eq!(&conn.tuple, tuple, "demux entry under the wrong tuple");
            assert_ne!(
                conn.state,
                State::Closed,
                "closed connection {tuple} still in demux"
            );
            assert!(
                self.time_wait.get(tuple).is_none(),
                "{tuple} is both a live connection and a TIME_WAIT entry"
            );
        }
        let recount = super::connect::PortUse::recount(
            self.cfg.ip_local_port_range,
            self.demux
                .keys()
                .chain(self.time_wait.iter().map(|e| &e.tuple)),
        );
        assert_eq!(
            &recount,
            self.port_use.counts(),
            "ephemeral ports counted per destination differ from the live connections and TIME_WAIT entries"
        );
        for (lh, listener) in self.listeners.iter() {
            let lid = ListenerId(lh);
            let half_open = self
                .conns
                .iter()
                .filter(|(_, c)| c.listener == Some(lid) && c.state == State::SynReceived)
                .count();
            assert_eq!(
                listener.syn_queue_len as usize, half_open,
                "listener {} counts {} half-open connections, {} exist",
                listener.local, listener.syn_queue_len, half_open
            );
            for &h in &listener.accept_queue {
                let conn = self.conns.get(h).unwrap_or_else(|| {
                    panic!(
                        "accept queue of {} names a freed connection",
                        listener.local
                    )
                });
                assert_eq!(
                    conn.listener,
                    Some(lid),
                    "accept queue entry of another listener"
                );
            }
        }
    }
}
