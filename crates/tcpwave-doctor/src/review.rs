//! The sysctls people change when fighting TIME_WAIT and CLOSE_WAIT, each with one line on
//! what it really does (Linux behaviour, not folklore).

use crate::kernel::Sysctls;
use crate::report::SysctlReview;

/// Reviews the sysctls. `time_wait_now` is the current TIME_WAIT count (sockstat `tw`).
pub fn review(sysctls: &Sysctls, time_wait_now: u64) -> Vec<SysctlReview> {
    vec![
        port_range(sysctls),
        tw_reuse(sysctls.tcp_tw_reuse, sysctls.tcp_timestamps),
        timestamps(sysctls.tcp_timestamps),
        fin_timeout(sysctls.tcp_fin_timeout),
        max_tw_buckets(sysctls.tcp_max_tw_buckets, time_wait_now),
        keepalive(sysctls),
        rfc1337(sysctls.tcp_rfc1337),
        tw_recycle(sysctls.tcp_tw_recycle),
    ]
}

fn port_range(sysctls: &Sysctls) -> SysctlReview {
    let value = sysctls
        .ip_local_port_range
        .map(|(low, high)| format!("{low} {high}"));
    let note = match sysctls.port_range_size() {
        Some(size) => format!(
            "{size} ephemeral ports per (source ip, destination ip:port); with 60 s of \
             TIME_WAIT on the closing client that sustains {} new connections/s per \
             destination. Widening it (e.g. 1024 65535) raises that limit",
            size / 60
        ),
        None => "unreadable".to_string(),
    };
    SysctlReview {
        name: "net.ipv4.ip_local_port_range",
        value,
        default: "32768 60999",
        note,
    }
}

fn tw_reuse(value: Option<u64>, timestamps: Option<u64>) -> SysctlReview {
    let mut note = match value {
        Some(0) => "0: connect() never reuses a TIME_WAIT tuple".to_string(),
        Some(1) => "1: connect() may reuse a TIME_WAIT tuple after 1 s (outgoing connections \
                    only; needs tcp_timestamps; safe thanks to PAWS)"
            .to_string(),
        Some(2) => "2 (default): reuse after 1 s for loopback connections only; set 1 on a \
                    client that runs out of ports toward a remote server"
            .to_string(),
        Some(other) => format!("{other}: unexpected value"),
        None => "absent on this kernel".to_string(),
    };
    if value.is_some_and(|v| v > 0) && timestamps == Some(0) {
        note.push_str(" — but tcp_timestamps is 0, so it has no effect");
    }
    note.push_str(". It never helps the accepting (server) side");
    SysctlReview {
        name: "net.ipv4.tcp_tw_reuse",
        value: value.map(|v| v.to_string()),
        default: "2",
        note,
    }
}

fn timestamps(value: Option<u64>) -> SysctlReview {
    let note = match value {
        Some(0) => "0: no RFC 7323 timestamps: no PAWS, and tcp_tw_reuse cannot work",
        _ => "timestamps on: PAWS protects reused tuples; required by tcp_tw_reuse",
    };
    SysctlReview {
        name: "net.ipv4.tcp_timestamps",
        value: value.map(|v| v.to_string()),
        default: "1",
        note: note.to_string(),
    }
}

fn fin_timeout(value: Option<u64>) -> SysctlReview {
    let mut note = String::from(
        "how long an orphaned FIN_WAIT_2 (the application already closed) waits for the \
         peer's FIN. MYTH: it does not shorten TIME_WAIT, which is fixed at 60 s \
         (TCP_TIMEWAIT_LEN, compiled into the kernel)",
    );
    if value.is_some_and(|v| v < 60) {
        note.push_str("; lowered here: that only drops orphaned FIN_WAIT_2 sooner");
    }
    SysctlReview {
        name: "net.ipv4.tcp_fin_timeout",
        value: value.map(|v| v.to_string()),
        default: "60",
        note,
    }
}

fn max_tw_buckets(value: Option<u64>, time_wait_now: u64) -> SysctlReview {
    let note = match value {
        Some(limit) if limit > 0 => format!(
            "cap on TIME_WAIT entries ({time_wait_now} now, {:.1} % of the cap); above it \
             closing connections skip TIME_WAIT (counter TCPTimeWaitOverflow), which removes \
             its protection. Raise it rather than reach it",
            time_wait_now as f64 * 100.0 / limit as f64
        ),
        _ => "0: no TIME_WAIT is ever kept (its protection is gone)".to_string(),
    };
    SysctlReview {
        name: "net.ipv4.tcp_max_tw_buckets",
        value: value.map(|v| v.to_string()),
        default: "ehash size / 2 (e.g. 131072)",
        note,
    }
}

fn keepalive(sysctls: &Sysctls) -> SysctlReview {
    let (time, intvl, probes) = (
        sysctls.tcp_keepalive_time,
        sysctls.tcp_keepalive_intvl,
        sysctls.tcp_keepalive_probes,
    );
    let value = match (time, intvl, probes) {
        (Some(t), Some(i), Some(p)) => Some(format!("{t} {i} {p}")),
        _ => None,
    };
    let note = match (time, intvl, probes) {
        (Some(t), Some(i), Some(p)) => {
            let total = t + i * p;
            format!(
                "only for sockets with SO_KEEPALIVE: a dead peer is noticed after {t} + {i}×{p} \
                 = {total} s ({}). Idle connections through NAT/firewalls usually expire \
                 sooner: lower the time per socket (TCP_KEEPIDLE) rather than host-wide",
                human_seconds(total)
            )
        }
        _ => "unreadable".to_string(),
    };
    SysctlReview {
        name: "net.ipv4.tcp_keepalive_time/intvl/probes",
        value,
        default: "7200 75 9",
        note,
    }
}

fn rfc1337(value: Option<u64>) -> SysctlReview {
    let note = match value {
        Some(1) => "1: an RST arriving in TIME_WAIT is ignored (RFC 1337 assassination fix)",
        _ => {
            "0 (default): an RST arriving in TIME_WAIT ends it early (TIME_WAIT \
              assassination, RFC 1337); 1 keeps the full 60 s"
        }
    };
    SysctlReview {
        name: "net.ipv4.tcp_rfc1337",
        value: value.map(|v| v.to_string()),
        default: "0",
        note: note.to_string(),
    }
}

fn tw_recycle(value: Option<u64>) -> SysctlReview {
    let note = match value {
        None => "removed in Linux 4.12 (it broke clients behind NAT): advice to set it is \
                 obsolete"
            .to_string(),
        Some(0) => "present (kernel older than 4.12) and off: keep it off".to_string(),
        Some(_) => "ON: drops SYNs from clients behind NAT whose timestamps are not monotonic; \
                    turn it off (it was removed from Linux in 4.12)"
            .to_string(),
    };
    SysctlReview {
        name: "net.ipv4.tcp_tw_recycle",
        value: value.map(|v| v.to_string()),
        default: "absent since 4.12",
        note,
    }
}

/// 7875 → "2 h 11 min 15 s".
pub fn human_seconds(total: u64) -> String {
    let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60);
    match (hours, minutes, seconds) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, 0) => format!("{h} h {m} min"),
        (h, m, s) => format!("{h} h {m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Sysctls {
        Sysctls::linux_defaults()
    }

    #[test]
    fn default_host_review_mentions_the_key_facts() {
        let rows = review(&defaults(), 500);
        let note = |name: &str| rows.iter().find(|r| r.name == name).unwrap().note.clone();
        assert!(note("net.ipv4.ip_local_port_range").contains("28232"));
        assert!(note("net.ipv4.ip_local_port_range").contains("470 new connections/s"));
        assert!(note("net.ipv4.tcp_fin_timeout").contains("does not shorten TIME_WAIT"));
        assert!(note("net.ipv4.tcp_tw_reuse").contains("loopback"));
        assert!(
            note("net.ipv4.tcp_keepalive_time/intvl/probes").contains("7875 s (2 h 11 min 15 s)")
        );
        assert!(note("net.ipv4.tcp_tw_recycle").contains("4.12"));
        assert!(note("net.ipv4.tcp_max_tw_buckets").contains("500 now"));
    }

    #[test]
    fn tw_reuse_without_timestamps_is_called_out() {
        let mut sysctls = defaults();
        sysctls.tcp_tw_reuse = Some(1);
        sysctls.tcp_timestamps = Some(0);
        let rows = review(&sysctls, 0);
        assert!(rows[1].note.contains("no effect"));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_seconds(59), "59 s");
        assert_eq!(human_seconds(120), "2 min");
        assert_eq!(human_seconds(7200), "2 h 0 min");
        assert_eq!(human_seconds(7875), "2 h 11 min 15 s");
    }
}
