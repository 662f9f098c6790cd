//! Text output of `tcpwave plan`.

use super::{Closer, PlanReport};
use crate::findings::PORTS_CRITICAL_PERCENT;
use std::fmt::Write;

/// One decimal below 1000 unless the value is whole: "470.5", "28232", "600"; below 1,
/// up to three significant digits ("0.0167", "0.5"), so that a small rate never reads 0.
fn number(value: f64) -> String {
    if value.abs() >= 1000.0 || (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else if value.abs() < 1.0 {
        let decimals = (2.0 - value.abs().log10().floor()).clamp(1.0, 12.0) as usize;
        let text = format!("{value:.decimals$}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
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
    let mut out = header(report);
    for (name, value) in summary(report) {
        let _ = writeln!(out, "  {name:<21} {value}");
    }
    remedies(&mut out, report);
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nNOTES");
        for note in &report.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

fn header(report: &PlanReport) -> String {
    let input = &report.input;
    let closer = match input.closer {
        Closer::Client => "the client closes first",
        Closer::Server => "the server closes first",
    };
    let reuse = match (input.tw_reuse, input.closer) {
        (true, Closer::Client) => ", tcp_tw_reuse=1",
        (true, Closer::Server) => ", tcp_tw_reuse=1 (no effect: the server closes first)",
        (false, _) => "",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tcpwave plan: {} requests/s, {} per connection, lifetime {} s, {closer}{reuse}",
        number(input.rate_per_s),
        input.requests_per_conn,
        number(input.lifetime_s),
    );
    let _ = writeln!(
        out,
        "  {} source(s) × {} destination(s) = {} pool(s) of {} port{} ({}-{})\n",
        input.sources,
        input.destinations,
        report.pools,
        report.ports_per_pool,
        if report.ports_per_pool == 1 { "" } else { "s" },
        input.port_low,
        input.port_high
    );
    out
}

fn summary(report: &PlanReport) -> [(&'static str, String); 8] {
    let holder = match report.input.closer {
        Closer::Client => "client",
        Closer::Server => "server",
    };
    let connections = format!(
        "{}/s ({}/s per pool)",
        number(report.connection_rate_per_s),
        number(report.connection_rate_per_pool_per_s)
    );
    let hold = format!(
        "{} s = lifetime {} s + TIME_WAIT {} s",
        number(report.port_hold_s),
        number(report.input.lifetime_s),
        number(report.effective_time_wait_s)
    );
    let in_use = format!(
        "{} of {} ({:.1} %), headroom {}",
        number(report.ports_in_use_per_pool),
        report.ports_per_pool,
        report.usage_percent,
        number(report.headroom_per_pool)
    );
    let onset = rate(
        report.eaddrnotavail_onset_rate_per_pool_per_s,
        "new connections",
    );
    let time_wait = format!(
        "{} ({}) on the {holder}",
        report.time_wait_entries,
        bytes(report.time_wait_memory_bytes as f64)
    );
    let conntrack = report.conntrack_entries;
    [
        ("new connections", connections),
        ("port hold", hold),
        ("ports in use / pool", in_use),
        ("EADDRNOTAVAIL onset", format!("{onset} per pool")),
        (
            "max sustainable",
            rate(report.max_request_rate_per_s, "requests"),
        ),
        ("verdict", verdict(report)),
        ("TIME_WAIT entries", time_wait),
        (
            "conntrack entries",
            format!("{conntrack} (if a firewall tracks these connections)"),
        ),
    ]
}

fn remedies(out: &mut String, report: &PlanReport) {
    if report.remedies.is_empty() {
        let _ = writeln!(
            out,
            "\nREMEDIES: none: the ports cannot run out (see the notes)"
        );
        return;
    }
    if report.sustainable && report.usage_percent < PORTS_CRITICAL_PERCENT {
        let _ = writeln!(
            out,
            "\nREMEDIES: none needed at this rate (the JSON output lists them all the same)"
        );
        return;
    }
    let _ = writeln!(out, "\nREMEDIES (in the order to try them)");
    for remedy in &report.remedies {
        let verdict = if remedy.sufficient {
            "enough"
        } else {
            "not enough alone"
        };
        let effect = match remedy.max_request_rate_per_s {
            Some(max) => format!("max {} requests/s", number(max)),
            None => "no limit from ports".to_string(),
        };
        let _ = writeln!(
            out,
            "  {}. [{}] {}",
            remedy.rank, remedy.code, remedy.change
        );
        let _ = writeln!(out, "       → {effect}: {verdict}");
        let _ = writeln!(out, "       ! {}", remedy.caveat);
    }
}

fn verdict(report: &PlanReport) -> String {
    match report.time_to_exhaustion_s {
        None if report.usage_percent >= PORTS_CRITICAL_PERCENT => format!(
            "sustainable but NEAR EXHAUSTION ({:.1} % of each pool in use; doctor calls {PORTS_CRITICAL_PERCENT:.0} % critical)",
            report.usage_percent
        ),
        None => format!(
            "sustainable ({:.1} % of each pool in use)",
            report.usage_percent
        ),
        Some(seconds) if seconds < 0.1 => {
            "NOT SUSTAINABLE: from a cold start connect() fails with EADDRNOTAVAIL within 0.1 s"
                .to_string()
        }
        Some(seconds) => format!(
            "NOT SUSTAINABLE: from a cold start connect() fails with EADDRNOTAVAIL after {} s",
            number(seconds)
        ),
    }
}
