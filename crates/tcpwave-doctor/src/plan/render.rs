//! Text output of `tcpwave plan`.

use super::{Closer, PlanReport};
use std::fmt::Write;

/// "470.5", "28232", "1.2 k" style numbers kept simple: one decimal below 1000, none above.
/// One decimal below 1000 unless the value is whole: "470.5", "28232", "600".
fn number(value: f64) -> String {
    if value.abs() >= 1000.0 || (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn bytes(value: f64) -> String {
    match value {
        v if v >= 1e9 => format!("{:.1} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        v => format!("{v:.0} B"),
    }
}

/// "470.5 new connections/s", or a plain statement when ports set no limit.
fn rate(value: Option<f64>, what: &str) -> String {
    value.map_or("no limit from ports".to_string(), |r| {
        format!("{} {what}/s", number(r))
    })
}

/// Renders the plan as text.
pub fn render(report: &PlanReport) -> String {
    let input = &report.input;
    let mut out = String::new();
    let closer = match input.closer {
        Closer::Client => "the client closes first",
        Closer::Server => "the server closes first",
    };
    let _ = writeln!(
        out,
        "tcpwave plan: {} requests/s, {} per connection, lifetime {} s, {closer}{}",
        number(input.rate_per_s),
        input.requests_per_conn,
        number(input.lifetime_s),
        if input.tw_reuse {
            ", tcp_tw_reuse=1"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  {} source(s) × {} destination(s) = {} pool(s) of {} ports ({}-{})\n",
        input.sources,
        input.destinations,
        report.pools,
        report.ports_per_pool,
        input.port_low,
        input.port_high
    );
    let rows = [
        (
            "new connections",
            format!(
                "{}/s ({}/s per pool)",
                number(report.connection_rate_per_s),
                number(report.connection_rate_per_pool_per_s)
            ),
        ),
        (
            "port hold",
            format!(
                "{} s = lifetime {} s + TIME_WAIT {} s",
                number(report.port_hold_s),
                number(input.lifetime_s),
                number(report.effective_time_wait_s)
            ),
        ),
        (
            "ports in use / pool",
            format!(
                "{} of {} ({:.1} %), headroom {}",
                number(report.ports_in_use_per_pool),
                report.ports_per_pool,
                report.usage_percent,
                number(report.headroom_per_pool)
            ),
        ),
        (
            "EADDRNOTAVAIL onset",
            format!(
                "{} per pool",
                rate(
                    report.eaddrnotavail_onset_rate_per_pool_per_s,
                    "new connections"
                )
            ),
        ),
        (
            "max sustainable",
            rate(report.max_request_rate_per_s, "requests"),
        ),
        ("verdict", verdict(report)),
        (
            "TIME_WAIT entries",
            format!(
                "{} ({}) on the {}",
                number(report.time_wait_entries),
                bytes(report.time_wait_memory_bytes),
                if input.closer == Closer::Client {
                    "client"
                } else {
                    "server"
                }
            ),
        ),
        (
            "conntrack entries",
            format!(
                "{} (if a firewall tracks these connections)",
                number(report.conntrack_entries)
            ),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<21} {value}");
    }
    let _ = writeln!(out, "\nREMEDIES (in the order to try them)");
    for remedy in &report.remedies {
        let verdict = if remedy.sufficient {
            "enough"
        } else {
            "not enough alone"
        };
        let _ = writeln!(
            out,
            "  {}. [{}] {}",
            remedy.rank, remedy.code, remedy.change
        );
        let _ = writeln!(
            out,
            "       → {}: {verdict}",
            match remedy.max_request_rate_per_s {
                Some(max) => format!("max {} requests/s", number(max)),
                None => "no limit from ports".to_string(),
            }
        );
        let _ = writeln!(out, "       ! {}", remedy.caveat);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nNOTES");
        for note in &report.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

fn verdict(report: &PlanReport) -> String {
    match report.time_to_exhaustion_s {
        None => format!(
            "sustainable ({:.1} % of each pool in use)",
            report.usage_percent
        ),
        Some(seconds) => format!(
            "NOT SUSTAINABLE: from a cold start connect() fails with EADDRNOTAVAIL after {} s",
            number(seconds)
        ),
    }
}
