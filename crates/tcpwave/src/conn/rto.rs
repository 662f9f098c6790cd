//! Retransmission timeout, RFC 6298, with Linux's floor.
//!
//! RFC 6298 (2.2)/(2.3): SRTT and RTTVAR from the first sample, then smoothed with
//! alpha = 1/8, beta = 1/4. RFC 6298 (2.4) puts a 1 s floor on RTO; Linux instead
//! floors the variance term at `TCP_RTO_MIN` (200 ms): RTO = SRTT + max(4·RTTVAR, rto_min).
//! RFC 6298 (5.5): each expiry doubles RTO ("back off the timer"), up to `rto_max`.
//! RFC 6298 §3 (Karn's rule): no RTT sample from a retransmitted segment.

use crate::config::Config;
use crate::time::Duration;

/// RFC 6298 (5.7) / Linux `TCP_TIMEOUT_FALLBACK`: RTO after a handshake without sample.
const HANDSHAKE_FALLBACK_RTO: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
pub(crate) struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    /// Consecutive expiries since the last new acknowledgment.
    pub backoff: u32,
}

impl RttEstimator {
    pub fn new(cfg: &Config) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: cfg.rto_initial,
            backoff: 0,
        }
    }

    /// Feed one RTT measurement.
    pub fn sample(&mut self, rtt: Duration, cfg: &Config) {
        match self.srtt {
            None => {
                // RFC 6298 (2.2)
                self.srtt = Some(rtt);
                self.rttvar = Duration::from_micros(rtt.total_micros() / 2);
            }
            Some(srtt) => {
                // RFC 6298 (2.3)
                let delta = srtt.total_micros().abs_diff(rtt.total_micros());
                self.rttvar = Duration::from_micros((3 * self.rttvar.total_micros() + delta) / 4);
                self.srtt = Some(Duration::from_micros(
                    (7 * srtt.total_micros() + rtt.total_micros()) / 8,
                ));
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        let var = self.rttvar.saturating_mul(4).max(cfg.rto_min);
        self.rto = (srtt + var).min(cfg.rto_max);
    }

    /// The handshake is over. RFC 6298 (5.7): "If the timer expires awaiting the ACK of a
    /// SYN segment and the TCP implementation is using an RTO less than 3 seconds, the RTO
    /// MUST be re-initialized to 3 seconds when data transmission begins". Linux
    /// (`tcp_init_metrics`, TCP_TIMEOUT_FALLBACK) does so whenever the handshake gave no
    /// RTT sample, which by Karn's rule is exactly when the SYN or SYN-ACK was resent.
    pub fn handshake_done(&mut self) {
        if self.srtt.is_none() {
            self.rto = self.rto.max(HANDSHAKE_FALLBACK_RTO);
        }
    }

    /// The timeout to arm now, backoff included.
    pub fn current(&self, cfg: &Config) -> Duration {
        let factor = 1u64 << self.backoff.min(20);
        self.rto.saturating_mul(factor).min(cfg.rto_max)
    }
}

/// Linux's `tcp_model_timeout`: how long retransmissions go on before giving up after
/// `boundary` retries, modelled as if every RTO started at `rto_base` and doubled up to
/// `rto_max`. With tcp_retries2 = 15 and 200 ms this is 924.6 s; with tcp_syn_retries = 6
/// and 1 s it is 127 s.
pub(crate) fn give_up_after(boundary: u32, rto_base: Duration, rto_max: Duration) -> Duration {
    let base = rto_base.total_micros().max(1);
    let ratio = rto_max.total_micros() / base;
    let linear_backoff_thresh = if ratio == 0 {
        0
    } else {
        63 - ratio.leading_zeros()
    };
    let micros = if boundary <= linear_backoff_thresh {
        ((2u64 << boundary) - 1) * base
    } else {
        ((2u64 << linear_backoff_thresh) - 1) * base
            + (boundary - linear_backoff_thresh) as u64 * rto_max.total_micros()
    };
    Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_give_up_times() {
        let cfg = Config::default();
        assert_eq!(
            give_up_after(15, cfg.rto_min, cfg.rto_max),
            Duration::from_millis(924_600)
        );
        assert_eq!(
            give_up_after(6, cfg.rto_initial, cfg.rto_max),
            Duration::from_secs(127)
        );
        assert_eq!(
            give_up_after(5, cfg.rto_initial, cfg.rto_max),
            Duration::from_secs(63)
        );
    }

    #[test]
    fn rto_follows_rfc6298_with_linux_floor() {
        let cfg = Config::default();
        let mut r = RttEstimator::new(&cfg);
        assert_eq!(r.current(&cfg), Duration::from_secs(1));
        r.sample(Duration::from_millis(20), &cfg);
        // SRTT 20 ms + max(4 * 10 ms, 200 ms)
        assert_eq!(r.current(&cfg), Duration::from_millis(220));
        r.backoff = 2;
        assert_eq!(r.current(&cfg), Duration::from_millis(880));
        r.backoff = 30;
        assert_eq!(r.current(&cfg), cfg.rto_max);
    }
}
