//! Every knob of the engine, named after the Linux sysctl or socket option it mirrors.
//! `Config::default()` is the "linux" profile of shared/SCENARIOS.md.
//!
//! Knobs can be set by name (`Config::set("tcp_fin_timeout_s", "5")`), which is how
//! `tcpwave scenario --set` reaches them; an unknown name or a bad value is a
//! `ConfigError` that lists the valid knobs.

use crate::time::Duration;

/// Engine configuration. Field names follow `net.ipv4.*` sysctls, with the unit last.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Maximum segment lifetime. TIME_WAIT lasts 2·MSL; Linux hard-codes
    /// `TCP_TIMEWAIT_LEN` = 60 s, i.e. MSL = 30 s. MSL 0 disables TIME_WAIT (a teaching knob).
    pub msl: Duration,
    /// `net.ipv4.tcp_fin_timeout`: lifetime of an *orphaned* FIN_WAIT_2 (not TIME_WAIT).
    pub tcp_fin_timeout: Duration,
    /// `net.ipv4.tcp_keepalive_time`: idle time before the first keepalive probe.
    pub tcp_keepalive_time: Duration,
    /// `net.ipv4.tcp_keepalive_intvl`: gap between unanswered probes.
    pub tcp_keepalive_intvl: Duration,
    /// `net.ipv4.tcp_keepalive_probes`: unanswered probes before the connection is reset.
    pub tcp_keepalive_probes: u32,
    /// `net.ipv4.tcp_retries2`: retransmissions of data/FIN before giving up (ETIMEDOUT).
    pub tcp_retries2: u32,
    /// `net.ipv4.tcp_orphan_retries`: the same for orphaned connections (0 means 8).
    pub tcp_orphan_retries: u32,
    /// `net.ipv4.tcp_syn_retries`: SYN retransmissions before connect() fails.
    pub tcp_syn_retries: u32,
    /// `net.ipv4.tcp_synack_retries`: SYN-ACK retransmissions before a half-open
    /// connection is dropped.
    pub tcp_synack_retries: u32,
    /// RFC 6298 initial RTO (Linux `TCP_TIMEOUT_INIT`, 1 s).
    pub rto_initial: Duration,
    /// Minimum RTO (Linux `TCP_RTO_MIN`, 200 ms; RFC 6298 says 1 s).
    pub rto_min: Duration,
    /// Maximum RTO (Linux `TCP_RTO_MAX`, 120 s).
    pub rto_max: Duration,
    /// Delayed ACK timeout (Linux `TCP_DELACK_MIN`, 40 ms).
    pub delayed_ack: Duration,
    /// `net.ipv4.tcp_rfc1337`: when true, an RST does not end TIME_WAIT (RFC 1337).
    pub tcp_rfc1337: bool,
    /// `net.ipv4.tcp_tw_reuse`: 0 off, 1 on, 2 loopback only.
    pub tcp_tw_reuse: u8,
    /// `net.ipv4.tcp_max_tw_buckets`: cap on TIME_WAIT entries.
    pub tcp_max_tw_buckets: u32,
    /// `net.ipv4.ip_local_port_range`: ephemeral ports, inclusive.
    pub ip_local_port_range: (u16, u16),
    /// `net.ipv4.tcp_timestamps` (RFC 7323).
    pub tcp_timestamps: bool,
    /// `net.ipv4.tcp_sack` (RFC 2018).
    pub tcp_sack: bool,
    /// `net.ipv4.tcp_window_scaling` (RFC 7323).
    pub tcp_window_scaling: bool,
    /// Default receive buffer (`tcp_rmem[1]`), bytes.
    pub tcp_rmem_default: u32,
    /// Largest receive buffer (`tcp_rmem[2]`); decides the window scale we offer.
    pub tcp_rmem_max: u32,
    /// Default send buffer (`tcp_wmem[1]`), bytes.
    pub tcp_wmem_default: u32,
    /// MSS we announce and use when the peer announces none larger (MTU 1500 − 40).
    pub mss: u16,
    /// Initial congestion window in segments (RFC 6928, Linux `TCP_INIT_CWND`).
    pub initial_cwnd_segments: u32,
    /// `net.core.somaxconn`: cap on a listener's backlog.
    pub somaxconn: u32,
    /// `net.ipv4.tcp_abort_on_overflow`: the handshake's ACK that finds the accept queue
    /// full resets the half-open connection (true) instead of being dropped so that the
    /// SYN-ACK is resent and the client tries again (false, Linux's default).
    pub tcp_abort_on_overflow: bool,
    /// `net.ipv4.tcp_challenge_ack_limit`: challenge ACKs per second, endpoint-wide
    /// (RFC 5961 §7). [`CHALLENGE_ACK_UNLIMITED`] (Linux `INT_MAX`, the default since
    /// Linux 6.0) turns this limit off: Linux then relies on the per-socket
    /// `tcp_invalid_ratelimit` alone.
    pub tcp_challenge_ack_limit: u32,
    /// `net.ipv4.tcp_invalid_ratelimit`: at most one ACK per this interval per connection
    /// in reply to out-of-window segments (SYNs and pure ACKs), PAWS failures and for
    /// challenge ACKs (Linux `__tcp_oow_rate_limited`, default 500 ms; 0 turns it off).
    pub tcp_invalid_ratelimit: Duration,
    /// RFC 6528's clock term M in ISN = M + F(4-tuple, secret). Off (a teaching knob)
    /// makes every incarnation of a 4-tuple start at the same ISN, as old stacks with a
    /// slow or wrapped ISN clock could.
    pub isn_clock: bool,
    /// Secret for RFC 6528 ISNs, timestamp offsets and ephemeral port offsets.
    pub isn_secret: u128,
    /// The device computes and checks TCP checksums, as Linux's `lo` does and a NIC with
    /// `tx-checksumming` / `rx-checksumming` on (`ethtool -K`): segments go out with only
    /// the pseudo-header sum in the checksum field (CHECKSUM_PARTIAL) and arrive trusted
    /// (CHECKSUM_UNNECESSARY). Off by default: a TUN device or a capture needs real sums.
    /// The IPv4 header checksum is always computed and verified.
    pub checksum_offload: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            msl: Duration::from_secs(30),
            tcp_fin_timeout: Duration::from_secs(60),
            tcp_keepalive_time: Duration::from_secs(7200),
            tcp_keepalive_intvl: Duration::from_secs(75),
            tcp_keepalive_probes: 9,
            tcp_retries2: 15,
            tcp_orphan_retries: 0,
            tcp_syn_retries: 6,
            tcp_synack_retries: 5,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            delayed_ack: Duration::from_millis(40),
            tcp_rfc1337: false,
            tcp_tw_reuse: 2,
            tcp_max_tw_buckets: 131_072,
            ip_local_port_range: (32768, 60999),
            tcp_timestamps: true,
            tcp_sack: true,
            tcp_window_scaling: true,
            tcp_rmem_default: 131_072,
            tcp_rmem_max: 6_291_456,
            tcp_wmem_default: 16_384,
            mss: 1460,
            initial_cwnd_segments: 10,
            somaxconn: 4096,
            tcp_abort_on_overflow: false,
            // Linux 6.0, "tcp: make global challenge ack rate limitation per net-ns and
            // default disabled": tcp_sk_init sets INT_MAX (it was 1000 since 4.7).
            tcp_challenge_ack_limit: CHALLENGE_ACK_UNLIMITED,
            // Linux tcp_sk_init: sysctl_tcp_invalid_ratelimit = HZ/2.
            tcp_invalid_ratelimit: Duration::from_millis(500),
            isn_clock: true,
            isn_secret: 0x7463_7077_6176_652d_6973_6e2d_7365_6372,
            checksum_offload: false,
        }
    }
}

/// `tcp_challenge_ack_limit` at this value (Linux `INT_MAX`) or above sets no endpoint-wide
/// limit (Linux `tcp_send_challenge_ack`: `if (ack_limit == INT_MAX) goto send_ack`).
pub const CHALLENGE_ACK_UNLIMITED: u32 = i32::MAX as u32;

/// A knob that could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No knob has this name.
    #[error("unknown knob `{name}`; valid knobs: {valid}")]
    UnknownKnob { name: String, valid: String },
    /// The value does not parse or is out of range for the knob.
    #[error("bad value `{value}` for knob `{name}`: expected {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: &'static str,
    },
}

/// How a knob's value is written: its name, unit and meaning.
pub struct KnobInfo {
    pub name: &'static str,
    pub help: &'static str,
}

/// All knobs settable by name, with a one-line meaning.
pub const KNOBS: &[KnobInfo] = &[
    KnobInfo {
        name: "msl_ms",
        help: "maximum segment lifetime; TIME_WAIT = 2*MSL (0 disables TIME_WAIT)",
    },
    KnobInfo {
        name: "time_wait_s",
        help: "TIME_WAIT length in seconds (sets msl to half of it)",
    },
    KnobInfo {
        name: "tcp_fin_timeout_s",
        help: "orphaned FIN_WAIT_2 lifetime",
    },
    KnobInfo {
        name: "tcp_keepalive_time_s",
        help: "idle before the first keepalive probe",
    },
    KnobInfo {
        name: "tcp_keepalive_intvl_s",
        help: "gap between keepalive probes",
    },
    KnobInfo {
        name: "tcp_keepalive_probes",
        help: "unanswered probes before reset",
    },
    KnobInfo {
        name: "tcp_retries2",
        help: "data/FIN retransmissions before ETIMEDOUT",
    },
    KnobInfo {
        name: "tcp_orphan_retries",
        help: "retransmissions for orphaned connections (0 = 8)",
    },
    KnobInfo {
        name: "tcp_syn_retries",
        help: "SYN retransmissions before connect() fails",
    },
    KnobInfo {
        name: "tcp_synack_retries",
        help: "SYN-ACK retransmissions for a half-open connection",
    },
    KnobInfo {
        name: "rto_initial_ms",
        help: "initial retransmission timeout",
    },
    KnobInfo {
        name: "rto_min_ms",
        help: "minimum retransmission timeout",
    },
    KnobInfo {
        name: "rto_max_ms",
        help: "maximum retransmission timeout",
    },
    KnobInfo {
        name: "delayed_ack_ms",
        help: "delayed ACK timeout",
    },
    KnobInfo {
        name: "tcp_rfc1337",
        help: "1 = RST does not end TIME_WAIT",
    },
    KnobInfo {
        name: "tcp_tw_reuse",
        help: "0 off, 1 on, 2 loopback only",
    },
    KnobInfo {
        name: "tcp_max_tw_buckets",
        help: "cap on TIME_WAIT entries",
    },
    KnobInfo {
        name: "ip_local_port_range",
        help: "ephemeral ports, as LOW-HIGH",
    },
    KnobInfo {
        name: "tcp_timestamps",
        help: "0/1: RFC 7323 timestamps",
    },
    KnobInfo {
        name: "tcp_sack",
        help: "0/1: RFC 2018 selective acknowledgment",
    },
    KnobInfo {
        name: "tcp_window_scaling",
        help: "0/1: RFC 7323 window scaling",
    },
    KnobInfo {
        name: "tcp_rmem_default",
        help: "receive buffer bytes",
    },
    KnobInfo {
        name: "tcp_wmem_default",
        help: "send buffer bytes",
    },
    KnobInfo {
        name: "mss",
        help: "maximum segment size we announce (88..=65495)",
    },
    KnobInfo {
        name: "initial_cwnd_segments",
        help: "initial congestion window in segments",
    },
    KnobInfo {
        name: "somaxconn",
        help: "cap on listen backlog",
    },
    KnobInfo {
        name: "tcp_abort_on_overflow",
        help: "1: reset a handshake whose ACK finds the accept queue full (0: drop the ACK)",
    },
    KnobInfo {
        name: "tcp_challenge_ack_limit",
        help: "RFC 5961 challenge ACKs per second, endpoint-wide (2147483647 = no limit)",
    },
    KnobInfo {
        name: "tcp_invalid_ratelimit_ms",
        help: "per connection, at most one ACK to out-of-window segments per interval (0 = off)",
    },
    KnobInfo {
        name: "isn_clock",
        help: "0 or 1: RFC 6528's clock term in ISNs (0: every incarnation of a 4-tuple starts at the same ISN)",
    },
    KnobInfo {
        name: "isn_secret",
        help: "secret for ISNs and port offsets (integer)",
    },
    KnobInfo {
        name: "checksum_offload",
        help: "0 or 1: the device computes and checks TCP checksums (like lo)",
    },
];

fn parse_num<T: core::str::FromStr>(
    name: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    value
        .trim()
        .parse::<T>()
        .map_err(|_| ConfigError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
            expected,
        })
}

/// A whole number of units of `micros_per_unit` microseconds, refused when it does not
/// fit in a [`Duration`] (`Duration::from_secs` would overflow).
fn duration(
    name: &str,
    value: &str,
    expected: &'static str,
    micros_per_unit: u64,
) -> Result<Duration, ConfigError> {
    let units: u64 = parse_num(name, value, expected)?;
    units
        .checked_mul(micros_per_unit)
        .map(Duration::from_micros)
        .ok_or_else(|| ConfigError::BadValue {
            name: name.into(),
            value: value.into(),
            expected,
        })
}

/// `duration`, refused when zero, with `expected` saying why.
fn nonzero(
    name: &str,
    value: &str,
    duration: Duration,
    expected: &'static str,
) -> Result<Duration, ConfigError> {
    if duration == Duration::ZERO {
        return Err(ConfigError::BadValue {
            name: name.into(),
            value: value.into(),
            expected,
        });
    }
    Ok(duration)
}

/// Why `tcp_keepalive_time_s` = 0 is refused.
const KEEPALIVE_TIME_EXPECTED: &str = "a whole number of seconds, at least 1: with 0 the \
keepalive timer would re-arm at the instant it fires, for ever (Linux refuses 0 for \
TCP_KEEPIDLE too); pick 1 or more";
/// Why `tcp_keepalive_intvl_s` = 0 is refused.
const KEEPALIVE_INTVL_EXPECTED: &str = "a whole number of seconds, at least 1: with a zero \
interval the keepalive timer would re-arm at the instant it fires, for ever (Linux refuses \
0 for TCP_KEEPINTVL too); pick 1 or more";
/// Why a zero RTO knob is refused.
const RTO_EXPECTED: &str = "a whole number of milliseconds, at least 1: a zero RTO would \
re-arm the retransmission timer at the instant it fires, for ever (Linux's tcp_rto_min_us \
and tcp_rto_max_ms refuse 0 too); pick 1 or more";

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(ConfigError::BadValue {
            name: name.into(),
            value: value.into(),
            expected: "0 or 1",
        }),
    }
}

fn parse_range(name: &str, value: &str) -> Result<(u16, u16), ConfigError> {
    let bad = || ConfigError::BadValue {
        name: name.into(),
        value: value.into(),
        expected: "LOW-HIGH with 1 <= LOW <= HIGH <= 65535",
    };
    let (lo, hi) = value.split_once(['-', ' ', ',']).ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

impl Config {
    /// The TIME_WAIT length, 2·MSL.
    pub fn time_wait_len(&self) -> Duration {
        self.msl.saturating_mul(2)
    }

    /// Names of every knob, comma separated (for error messages).
    pub fn knob_names() -> String {
        KNOBS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
    }

    /// Set a knob by name from its textual value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let ms = |v: &str| duration(name, v, "a whole number of milliseconds", 1_000);
        let secs = |v: &str| duration(name, v, "a whole number of seconds", 1_000_000);
        // A timer that re-arms itself this long after it fires: zero would re-arm it at
        // the very instant it fires, and virtual time would never move on.
        let interval_secs = |v: &str, expected| nonzero(name, v, secs(v)?, expected);
        let interval_ms = |v: &str, expected| nonzero(name, v, ms(v)?, expected);
        let count = |v: &str| parse_num::<u32>(name, v, "a whole number");
        match name {
            "msl_ms" => self.msl = ms(value)?,
            "time_wait_s" => self.msl = Duration::from_millis(secs(value)?.total_millis() / 2),
            "tcp_fin_timeout_s" => self.tcp_fin_timeout = secs(value)?,
            "tcp_keepalive_time_s" => {
                self.tcp_keepalive_time = interval_secs(value, KEEPALIVE_TIME_EXPECTED)?
            }
            "tcp_keepalive_intvl_s" => {
                self.tcp_keepalive_intvl = interval_secs(value, KEEPALIVE_INTVL_EXPECTED)?
            }
            "tcp_keepalive_probes" => self.tcp_keepalive_probes = count(value)?,
            "tcp_retries2" => self.tcp_retries2 = count(value)?,
            "tcp_orphan_retries" => self.tcp_orphan_retries = count(value)?,
            "tcp_syn_retries" => self.tcp_syn_retries = count(value)?,
            "tcp_synack_retries" => self.tcp_synack_retries = count(value)?,
            "rto_initial_ms" => self.rto_initial = interval_ms(value, RTO_EXPECTED)?,
            "rto_min_ms" => self.rto_min = interval_ms(value, RTO_EXPECTED)?,
            "rto_max_ms" => self.rto_max = interval_ms(value, RTO_EXPECTED)?,
            "delayed_ack_ms" => self.delayed_ack = ms(value)?,
            "tcp_rfc1337" => self.tcp_rfc1337 = parse_bool(name, value)?,
            "tcp_tw_reuse" => {
                let v: u8 = parse_num(name, value, "0, 1 or 2")?;
                if v > 2 {
                    return Err(ConfigError::BadValue {
                        name: name.into(),
                        value: value.into(),
                        expected: "0, 1 or 2",
                    });
                }
                self.tcp_tw_reuse = v;
            }
            "tcp_max_tw_buckets" => self.tcp_max_tw_buckets = count(value)?,
            "ip_local_port_range" => self.ip_local_port_range = parse_range(name, value)?,
            "tcp_timestamps" => self.tcp_timestamps = parse_bool(name, value)?,
            "tcp_sack" => self.tcp_sack = parse_bool(name, value)?,
            "tcp_window_scaling" => self.tcp_window_scaling = parse_bool(name, value)?,
            "tcp_rmem_default" => self.tcp_rmem_default = self.positive(name, value)?,
            "tcp_wmem_default" => self.tcp_wmem_default = self.positive(name, value)?,
            "mss" => {
                let v: u16 = parse_num(name, value, "a number from 88 to 65495")?;
                if !(88..=65495).contains(&v) {
                    return Err(ConfigError::BadValue {
                        name: name.into(),
                        value: value.into(),
                        expected: "a number from 88 to 65495",
                    });
                }
                self.mss = v;
            }
            "initial_cwnd_segments" => self.initial_cwnd_segments = self.positive(name, value)?,
            "somaxconn" => self.somaxconn = self.positive(name, value)?,
            "tcp_abort_on_overflow" => self.tcp_abort_on_overflow = parse_bool(name, value)?,
            "tcp_challenge_ack_limit" => self.tcp_challenge_ack_limit = count(value)?,
            "tcp_invalid_ratelimit_ms" => self.tcp_invalid_ratelimit = ms(value)?,
            "isn_clock" => self.isn_clock = parse_bool(name, value)?,
            "isn_secret" => self.isn_secret = parse_num(name, value, "an unsigned integer")?,
            "checksum_offload" => self.checksum_offload = parse_bool(name, value)?,
            _ => {
                return Err(ConfigError::UnknownKnob {
                    name: name.to_string(),
                    valid: Self::knob_names(),
                });
            }
        }
        Ok(())
    }

    fn positive(&self, name: &str, value: &str) -> Result<u32, ConfigError> {
        let v: u32 = parse_num(name, value, "a whole number above zero")?;
        if v == 0 {
            return Err(ConfigError::BadValue {
                name: name.into(),
                value: value.into(),
                expected: "a whole number above zero",
            });
        }
        Ok(v)
    }

    /// Parse `NAME=VALUE` and set it.
    pub fn set_assignment(&mut self, assignment: &str) -> Result<(), ConfigError> {
        match assignment.split_once('=') {
            Some((name, value)) => self.set(name.trim(), value),
            None => Err(ConfigError::BadValue {
                name: assignment.to_string(),
                value: String::new(),
                expected: "NAME=VALUE",
            }),
        }
    }

    /// The time to feed the ISN generator (RFC 6528's M), or zero when the clock is off.
    pub(crate) fn isn_time(&self, now: crate::time::Instant) -> crate::time::Instant {
        if self.isn_clock {
            now
        } else {
            crate::time::Instant::ZERO
        }
    }

    /// Window scale shift we offer: the smallest shift that lets `tcp_rmem_max` be
    /// advertised (RFC 7323 §2.3 caps it at 14). Linux computes the same in
    /// `tcp_select_initial_window`.
    pub fn offered_window_scale(&self) -> u8 {
        let mut shift = 0u8;
        while shift < 14 && (self.tcp_rmem_max >> shift) > 65535 {
            shift += 1;
        }
        shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_profile_defaults() {
        let c = Config::default();
        assert_eq!(c.time_wait_len(), Duration::from_secs(60));
        assert_eq!(c.ip_local_port_range, (32768, 60999));
        assert_eq!(c.offered_window_scale(), 7);
        // Linux 6.x tcp_sk_init: the endpoint-wide challenge ACK limit is off, the
        // per-connection out-of-window limit is HZ/2.
        assert_eq!(c.tcp_challenge_ack_limit, CHALLENGE_ACK_UNLIMITED);
        assert_eq!(c.tcp_challenge_ack_limit, 2_147_483_647);
        assert_eq!(c.tcp_invalid_ratelimit, Duration::from_millis(500));
    }

    #[test]
    fn tcp_invalid_ratelimit_by_name() {
        let mut c = Config::default();
        c.set("tcp_invalid_ratelimit_ms", "250").unwrap();
        assert_eq!(c.tcp_invalid_ratelimit, Duration::from_millis(250));
        c.set_assignment("tcp_invalid_ratelimit_ms=0").unwrap();
        assert_eq!(c.tcp_invalid_ratelimit, Duration::ZERO);
        assert!(c.set("tcp_invalid_ratelimit_ms", "-5").is_err());
        assert!(Config::knob_names().contains("tcp_invalid_ratelimit_ms"));
        c.set("tcp_challenge_ack_limit", "1000").unwrap();
        assert_eq!(c.tcp_challenge_ack_limit, 1000);
    }

    #[test]
    fn set_by_name() {
        let mut c = Config::default();
        c.set("msl_ms", "0").unwrap();
        assert_eq!(c.time_wait_len(), Duration::ZERO);
        c.set_assignment("tcp_fin_timeout_s=5").unwrap();
        assert_eq!(c.tcp_fin_timeout, Duration::from_secs(5));
        c.set("ip_local_port_range", "1000-1009").unwrap();
        assert_eq!(c.ip_local_port_range, (1000, 1009));
    }

    #[test]
    fn unknown_knob_lists_the_valid_ones() {
        let err = Config::default().set("tcp_tw_recycle", "1").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("tcp_tw_recycle"), "{text}");
        assert!(text.contains("tcp_fin_timeout_s"), "{text}");
    }

    #[test]
    fn zero_intervals_that_would_re_arm_a_timer_at_once_are_refused() {
        let mut c = Config::default();
        for (knob, why) in [
            ("tcp_keepalive_time_s", "TCP_KEEPIDLE"),
            ("tcp_keepalive_intvl_s", "TCP_KEEPINTVL"),
            ("rto_initial_ms", "tcp_rto_min_us"),
            ("rto_min_ms", "tcp_rto_min_us"),
            ("rto_max_ms", "tcp_rto_max_ms"),
        ] {
            let text = c.set(knob, "0").unwrap_err().to_string();
            assert!(text.contains(knob), "{text}");
            assert!(text.contains("at least 1"), "{text}");
            assert!(text.contains("re-arm"), "{text}");
            assert!(text.contains(why), "{text}");
            c.set(knob, "1").unwrap();
        }
        assert_eq!(c.tcp_keepalive_time, Duration::from_secs(1));
        assert_eq!(c.tcp_keepalive_intvl, Duration::from_secs(1));
        assert_eq!(c.rto_min, Duration::from_millis(1));
        // Zero stays a meaning for knobs whose timer does not re-arm itself.
        c.set("tcp_keepalive_probes", "0").unwrap();
        c.set("delayed_ack_ms", "0").unwrap();
        c.set("tcp_fin_timeout_s", "0").unwrap();
        c.set("msl_ms", "0").unwrap();
    }

    #[test]
    fn durations_too_long_to_count_in_microseconds_are_refused() {
        let mut c = Config::default();
        assert!(c
            .set("tcp_keepalive_time_s", &u64::MAX.to_string())
            .is_err());
        assert!(c.set("msl_ms", &(u64::MAX / 10).to_string()).is_err());
        assert_eq!(c, Config::default());
    }

    #[test]
    fn bad_values_are_rejected() {
        let mut c = Config::default();
        assert!(c.set("tcp_tw_reuse", "3").is_err());
        assert!(c.set("ip_local_port_range", "60999-32768").is_err());
        assert!(c.set("msl_ms", "-1").is_err());
        assert!(c.set("tcp_rfc1337", "maybe").is_err());
        assert!(c.set_assignment("msl_ms").is_err());
        assert_eq!(c, Config::default(), "failed sets change nothing");
    }
}
