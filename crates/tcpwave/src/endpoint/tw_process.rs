//! Segments for a tuple in TIME-WAIT, as Linux's `tcp_timewait_state_process`:
//! re-ACK (and restart 2·MSL for) a retransmitted FIN, accept a new SYN that is
//! clearly newer (RFC 6191), and RST handling per `tcp_rfc1337` (RFC 1337).

use super::Endpoint;
use crate::event::{Event, Reason};
use crate::tuple::FourTuple;
use crate::wire::TcpRepr;

/// Linux `TCP_PAWS_MSL`: an RST older than TS.Recent passes PAWS once TS.Recent is this old.
const PAWS_MSL_SECS: u32 = 60;

impl Endpoint {
    pub(crate) fn time_wait_segment(&mut self, tuple: FourTuple, seg: &TcpRepr, payload: &[u8]) {
        let Some(&entry) = self.time_wait.get(&tuple) else {
            return;
        };
        let flags = seg.flags;
        let tsval = seg.options.timestamps.map(|(v, _)| v);
        // RFC 7323 §5.3 (PAWS): an older TSval marks an old duplicate. Linux
        // tcp_paws_reject: no PAWS against TS.Recent 0, and an RST is let through only
        // once TS.Recent is TCP_PAWS_MSL (60 s) old.
        let older = matches!(tsval, Some(v) if (v.wrapping_sub(entry.ts_recent) as i32) < 0);
        let now_secs = (self.now.total_micros() / 1_000_000) as u32;
        let stale = now_secs.wrapping_sub(entry.ts_recent_stamp_secs) >= PAWS_MSL_SECS;
        let paws_reject =
            entry.timestamps() && entry.ts_recent != 0 && older && !(flags.rst() && stale);
        let bare = payload.is_empty() && !flags.syn() && !flags.fin();
        if !paws_reject && seg.seq == entry.rcv_nxt && (bare || flags.rst()) {
            if flags.rst() {
                if self.cfg.tcp_rfc1337 {
                    // RFC 1337 §3 (TW assassination): ignore RST in TIME-WAIT.
                    return;
                }
                self.time_wait.remove(&tuple);
                self.port_use.release(self.cfg.ip_local_port_range, &tuple);
                self.counters.TWKilled += 1;
                self.time_wait_closed(tuple, Reason::RcvRst);
            } else {
                // Linux: an in-window bare ACK reschedules TIME_WAIT (inet_twsk_reschedule)
                // and refreshes TS.Recent; it is not answered.
                if let (Some(v), true) = (tsval, entry.timestamps()) {
                    if let Some(mut e) = self.time_wait.get_mut(&tuple) {
                        e.ts_recent = v;
                        e.ts_recent_stamp_secs = (self.now.total_micros() / 1_000_000) as u32;
                    }
                }
                self.restart_time_wait(tuple);
            }
            return;
        }
        let newer_ts = entry.timestamps()
            && matches!(tsval, Some(v) if (entry.ts_recent.wrapping_sub(v) as i32) < 0);
        if flags.syn()
            && !flags.rst()
            && !flags.ack()
            && !paws_reject
            && (seg.seq > entry.rcv_nxt || newer_ts)
        {
            // RFC 6191 / RFC 9293 §3.6.1: a SYN that cannot be an old duplicate opens a
            // new incarnation; Linux seeds its ISS above the old SND.NXT. Without a
            // listener (Linux tcp_v4_rcv, TCP_TW_SYN) it falls through to the ACK below
            // and the entry stays: RFC 9293 §3.10.7.4 answers a SYN in TIME-WAIT so.
            if let Some(lh) = self.find_listener(tuple.local_addr, tuple.local_port) {
                self.time_wait.remove(&tuple);
                self.port_use.release(self.cfg.ip_local_port_range, &tuple);
                self.time_wait_closed(tuple, Reason::TimeWaitReused);
                let iss = entry.snd_nxt + 65_537u32;
                self.listener_segment(lh, tuple, seg, Some(iss));
                return;
            }
        }
        if paws_reject {
            self.counters.PAWSEstab += 1;
        }
        if flags.rst() {
            return;
        }
        if paws_reject || flags.ack() {
            // A retransmitted FIN means our ACK was lost: 2·MSL starts over.
            self.restart_time_wait(tuple);
        }
        self.queue_time_wait_ack(&entry);
    }

    /// 2·MSL starts over for a TIME_WAIT entry.
    fn restart_time_wait(&mut self, tuple: FourTuple) {
        self.time_wait.restart(&tuple, self.now);
        let expiry = self.now + self.cfg.time_wait_len();
        self.events
            .push_back(Event::TimeWaitRestarted { tuple, expiry });
    }
}
