//! Segments for a tuple in TIME-WAIT, as Linux's `tcp_timewait_state_process`:
//! re-ACK (and restart 2·MSL for) a retransmitted FIN, accept a new SYN that is
//! clearly newer (RFC 6191), and RST handling per `tcp_rfc1337` (RFC 1337). ACKs to
//! out-of-window segments are rate-limited per entry (`tcp_invalid_ratelimit`), as Linux's
//! `tcp_timewait_check_oow_rate_limit` does with `tw_last_oow_ack_time`.

use super::Endpoint;
use crate::config::Config;
use crate::conn::oow_limit_applies;
use crate::event::{Event, Reason};
use crate::time::Instant;
use crate::tuple::FourTuple;
use crate::wire::TcpRepr;

/// Linux `TCP_PAWS_MSL`: an RST older than TS.Recent passes PAWS once TS.Recent is this old.
const PAWS_MSL_SECS: u32 = 60;

/// The clock of a TIME_WAIT entry's last out-of-window ACK: 4 ms ticks (Linux's jiffies at
/// HZ=250), kept in the entry's 15 spare bits. Ticks count modulo `OOW_TICK_WRAP` and are
/// offset by one, so that 0 stays "never" (Linux uses 0 so too, and a jiffies value of 0
/// reads as "never"; here no tick is 0).
const OOW_TICK_MICROS: u64 = 4_000;
/// 2^15 − 1 ticks, 131.068 s: the span in which elapsed ticks are exact.
const OOW_TICK_WRAP: u64 = (1 << 15) - 1;

fn oow_tick(now: Instant) -> u16 {
    ((now.total_micros() / OOW_TICK_MICROS) % OOW_TICK_WRAP + 1) as u16
}

/// True when an ACK recorded at `last` (non-zero) went out less than `tcp_invalid_ratelimit`
/// before `now` (Linux `__tcp_oow_rate_limited`: `0 <= elapsed && elapsed < ratelimit`, in
/// ticks).
fn oow_within_limit(cfg: &Config, now: Instant, last: u16) -> bool {
    let elapsed = (u64::from(oow_tick(now)) + OOW_TICK_WRAP - u64::from(last)) % OOW_TICK_WRAP;
    elapsed * OOW_TICK_MICROS < cfg.tcp_invalid_ratelimit.total_micros()
}

/// The tick is exact when no recorded ACK can be older than one wrap: an entry's record is
/// cleared at each restart once older than `tcp_invalid_ratelimit`, so a record is at most
/// TIME_WAIT length + `tcp_invalid_ratelimit` old when read. With a configuration past that
/// (TIME_WAIT over about 2 minutes) TIME_WAIT answers without a rate limit.
fn oow_clock_fits(cfg: &Config) -> bool {
    let span = cfg.time_wait_len().total_micros() + cfg.tcp_invalid_ratelimit.total_micros();
    span + 1_000_000 < OOW_TICK_WRAP * OOW_TICK_MICROS
}

impl Endpoint {
    #[cold]
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
        let newer_syn = flags.syn()
            && !flags.rst()
            && !flags.ack()
            && !paws_reject
            && (seg.seq > entry.rcv_nxt || newer_ts);
        if newer_syn {
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
        // Linux tcp_timewait_state_process returns TCP_TW_SYN for that SYN before its rate
        // limit, and tcp_v4_rcv ACKs it when no listener takes it: not rate-limited. Every
        // other reply goes through tcp_timewait_check_oow_rate_limit(tw, skb,
        // LINUX_MIB_TCPACKSKIPPEDTIMEWAIT).
        if !newer_syn && self.time_wait_oow_rate_limited(tuple, seg, payload) {
            return;
        }
        self.queue_time_wait_ack(&entry);
    }

    /// Linux `tcp_timewait_check_oow_rate_limit` → `tcp_oow_rate_limited(net, skb,
    /// LINUX_MIB_TCPACKSKIPPEDTIMEWAIT, &tcptw->tw_last_oow_ack_time)`: a SYN or pure ACK
    /// is not answered when the entry answered one less than `tcp_invalid_ratelimit` ago;
    /// data or a FIN (a retransmitted FIN whose ACK was lost) always is, and leaves the
    /// record alone.
    fn time_wait_oow_rate_limited(
        &mut self,
        tuple: FourTuple,
        seg: &TcpRepr,
        payload: &[u8],
    ) -> bool {
        if !oow_limit_applies(seg, seg.seq_len(payload.len())) || !oow_clock_fits(&self.cfg) {
            return false;
        }
        let Some(mut entry) = self.time_wait.get_mut(&tuple) else {
            return false;
        };
        let last = entry.last_oow_ack_tick();
        if last != 0 && oow_within_limit(&self.cfg, self.now, last) {
            self.counters.TCPACKSkippedTimeWait += 1;
            return true;
        }
        entry.set_last_oow_ack_tick(oow_tick(self.now));
        false
    }

    /// 2·MSL starts over for a TIME_WAIT entry.
    fn restart_time_wait(&mut self, tuple: FourTuple) {
        // The 15-bit out-of-window ACK record must never be read more than one tick wrap
        // after it was made: forget it here once it can no longer limit anything.
        if let Some(mut entry) = self.time_wait.get_mut(&tuple) {
            let last = entry.last_oow_ack_tick();
            if last != 0 && !oow_within_limit(&self.cfg, self.now, last) {
                entry.set_last_oow_ack_tick(0);
            }
        }
        self.time_wait.restart(&tuple, self.now);
        let expiry = self.now + self.cfg.time_wait_len();
        self.events
            .push_back(Event::TimeWaitRestarted { tuple, expiry });
    }
}
