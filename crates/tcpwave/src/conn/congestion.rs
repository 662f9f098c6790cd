//! NewReno congestion control: RFC 5681 (slow start, congestion avoidance, fast
//! retransmit / fast recovery) with RFC 6582's partial-ACK handling.
//! Initial window 10 segments (RFC 6928, Linux `TCP_INIT_CWND`).

use crate::seq::SeqNumber;

#[derive(Debug, Clone, Copy)]
pub(crate) struct NewReno {
    pub cwnd: u32,
    pub ssthresh: u32,
    /// RFC 6582 "recover": SND.NXT when loss was detected.
    pub recover: SeqNumber,
    pub in_recovery: bool,
    pub dupacks: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew.
    acked_in_ca: u32,
}

/// RFC 5681 §3.2: three duplicate ACKs trigger fast retransmit.
pub(crate) const DUPACK_THRESHOLD: u32 = 3;

impl NewReno {
    pub fn new(initial_segments: u32, mss: u32) -> Self {
        NewReno {
            cwnd: initial_segments.saturating_mul(mss),
            ssthresh: u32::MAX,
            recover: SeqNumber(0),
            in_recovery: false,
            dupacks: 0,
            acked_in_ca: 0,
        }
    }

    /// New data was acknowledged (SND.UNA advanced by `acked` bytes to `ack`).
    /// Returns true when a partial ACK in recovery asks for the next hole to be
    /// retransmitted (RFC 6582 §3.2 step 3).
    pub fn on_new_ack(&mut self, acked: u32, ack: SeqNumber, mss: u32) -> bool {
        self.dupacks = 0;
        if self.in_recovery {
            if ack >= self.recover {
                // RFC 6582 §3.2 step 3, full acknowledgment: deflate the window.
                self.in_recovery = false;
                self.cwnd = self.ssthresh;
                return false;
            }
            // Partial acknowledgment: deflate by the amount acked, add back one MSS.
            self.cwnd = self.cwnd.saturating_sub(acked).saturating_add(mss).max(mss);
            return true;
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 slow start (with RFC 3465 byte counting, L = 2·SMSS).
            self.cwnd = self.cwnd.saturating_add(acked.min(2 * mss));
        } else {
            // RFC 5681 §3.1 congestion avoidance: one MSS per cwnd of data acknowledged.
            self.acked_in_ca = self.acked_in_ca.saturating_add(acked);
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
        false
    }

    /// A duplicate ACK arrived. Returns true when fast retransmit should fire.
    pub fn on_dupack(&mut self, flight: u32, snd_nxt: SeqNumber, mss: u32) -> bool {
        self.dupacks += 1;
        if self.in_recovery {
            // RFC 5681 §3.2 step 4: inflate for each further duplicate.
            self.cwnd = self.cwnd.saturating_add(mss);
            return false;
        }
        if self.dupacks == DUPACK_THRESHOLD {
            // RFC 5681 §3.2 steps 2-3 (equation 4).
            self.ssthresh = (flight / 2).max(2 * mss);
            self.cwnd = self.ssthresh + 3 * mss;
            self.recover = snd_nxt;
            self.in_recovery = true;
            return true;
        }
        false
    }

    /// The retransmission timer expired: RFC 5681 §3.1 equation (4) and loss window.
    pub fn on_timeout(&mut self, flight: u32, mss: u32) {
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = mss;
        self.in_recovery = false;
        self.dupacks = 0;
        self.acked_in_ca = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(10, 1000);
        assert_eq!(cc.cwnd, 10_000);
        cc.on_new_ack(1000, SeqNumber(1000), 1000);
        assert_eq!(cc.cwnd, 11_000);
        cc.ssthresh = 11_000;
        for _ in 0..10 {
            cc.on_new_ack(1000, SeqNumber(2000), 1000);
        }
        assert_eq!(cc.cwnd, 11_000, "not yet a full window acknowledged");
        cc.on_new_ack(1000, SeqNumber(3000), 1000);
        assert_eq!(cc.cwnd, 12_000);
    }

    #[test]
    fn three_dupacks_enter_fast_recovery() {
        let mut cc = NewReno::new(10, 1000);
        assert!(!cc.on_dupack(10_000, SeqNumber(11_000), 1000));
        assert!(!cc.on_dupack(10_000, SeqNumber(11_000), 1000));
        assert!(cc.on_dupack(10_000, SeqNumber(11_000), 1000));
        assert_eq!(cc.ssthresh, 5_000);
        assert_eq!(cc.cwnd, 8_000);
        assert!(
            cc.on_new_ack(2000, SeqNumber(3_000), 1000),
            "partial ack retransmits"
        );
        assert!(!cc.on_new_ack(8000, SeqNumber(11_000), 1000));
        assert_eq!(cc.cwnd, 5_000);
    }

    #[test]
    fn timeout_collapses_to_one_segment() {
        let mut cc = NewReno::new(10, 1000);
        cc.on_timeout(10_000, 1000);
        assert_eq!(cc.cwnd, 1000);
        assert_eq!(cc.ssthresh, 5000);
    }
}
