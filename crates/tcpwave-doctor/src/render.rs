//! The text report: findings first (what to do), then the tables that back them.

use crate::collect::Source;
use crate::findings::human_ms;
use crate::kernel::counter_meaning;
use crate::report::*;
use crate::table::Table;
use std::fmt::Write;

/// Renders the whole report as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    findings(&mut out, &report.findings);
    states(&mut out, report);
    close_wait(&mut out, &report.close_wait);
    time_wait(&mut out, &report.time_wait);
    ports(&mut out, &report.ports);
    fin_wait_2(&mut out, &report.fin_wait_2);
    listeners(&mut out, &report.listeners);
    counters(&mut out, report);
    sysctls(&mut out, &report.sysctls);
    out
}

fn header(out: &mut String, report: &Report) {
    let place = match &report.netns {
        Some(name) => format!("network namespace {name}"),
        None => "this host's network namespace".to_string(),
    };
    let source = match report.source {
        Source::Netlink => "netlink sock_diag",
        Source::Proc => "/proc/net/tcp (fallback)",
    };
    let _ = writeln!(
        out,
        "tcpwave doctor: {place} · {} · {source} · {:.1} ms",
        crate::findings::sockets(report.totals.sockets),
        report.collect_ms
    );
    let filters = &report.filters;
    if !filters.states.is_empty() || filters.process.is_some() || filters.dst.is_some() {
        let _ = writeln!(
            out,
            "filters: state {} · process {} · dst {}",
            if filters.states.is_empty() {
                "any".into()
            } else {
                filters.states.join(",")
            },
            filters.process.as_deref().unwrap_or("any"),
            filters.dst.as_deref().unwrap_or("any"),
        );
    }
    if let Some(note) = &report.attribution.note {
        let _ = writeln!(out, "note: {note}");
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        out,
        "status: {} ({} critical, {} warning, {} info)\n",
        report.status.to_uppercase(),
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    );
}

fn findings(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        let _ = writeln!(out, "FINDINGS\n  none: nothing to fix\n");
        return;
    }
    let _ = writeln!(out, "FINDINGS (most severe first)");
    for (index, finding) in findings.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. [{}] {}",
            index + 1,
            finding.severity.label(),
            finding.title
        );
        for line in &finding.evidence {
            let _ = writeln!(out, "       - {line}");
        }
        let _ = writeln!(out, "       → {}", finding.action);
    }
    out.push('\n');
}

fn states(out: &mut String, report: &Report) {
    let parts: Vec<String> = report
        .totals
        .by_state
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(state, count)| format!("{state} {count}"))
        .collect();
    let text = if parts.is_empty() {
        "no sockets".to_string()
    } else {
        parts.join(" · ")
    };
    let _ = writeln!(out, "STATES\n  {text}\n");
}

fn ms(value: Option<u64>) -> String {
    value.map_or("-".to_string(), human_ms)
}

fn range_ms(min: Option<u64>, max: Option<u64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{:.0}-{:.0} s", a as f64 / 1000.0, b as f64 / 1000.0),
        _ => "-".to_string(),
    }
}

fn more(out: &mut String, shown: usize, total: usize) {
    if total > shown {
        let _ = writeln!(
            out,
            "  (+{} more groups; raise --top to list them)",
            total - shown
        );
    }
}

fn owner_cells(owner: &Owner) -> (String, String) {
    match owner {
        Owner::Process { pid, command } => (pid.to_string(), command.clone()),
        Owner::Uid { uid } => ("?".to_string(), format!("(uid {uid}; needs root)")),
        Owner::None => ("-".to_string(), "(not accepted yet)".to_string()),
    }
}

fn close_wait(out: &mut String, section: &CloseWaitSection) {
    if section.total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "CLOSE_WAIT BY PROCESS ({}, {} with unread data, {} whose EOF was never read)",
        crate::findings::sockets(section.total),
        section.with_unread_data,
        section.eof_not_read
    );
    let mut table = Table::new(&[
        ">PID",
        "COMMAND",
        ">COUNT",
        ">UNREAD",
        ">EOF UNREAD",
        ">RECV-Q",
        ">IN STATE",
        ">IDLE",
        "REMOTES",
    ]);
    for group in &section.by_process {
        let (pid, command) = owner_cells(&group.owner);
        let stats = &group.stats;
        table.row(vec![
            pid,
            command,
            stats.count.to_string(),
            stats.with_unread_data.to_string(),
            stats.eof_not_read.to_string(),
            stats.recv_q_bytes.to_string(),
            ms(stats.in_state_ms_max),
            ms(stats.idle_ms_max),
            group.top_remotes.join(", "),
        ]);
    }
    out.push_str(&table.render(2));
    more(out, section.by_process.len(), section.process_groups);
    let _ = writeln!(out, "\nCLOSE_WAIT BY REMOTE ENDPOINT");
    endpoint_table(
        out,
        &section.by_remote,
        section.remote_groups,
        TimeColumn::InState,
    );
}

/// What the time column of an endpoint table shows.
#[derive(Clone, Copy, PartialEq)]
enum TimeColumn {
    /// How long the sockets have been in their state (tcp_info; full sockets).
    InState,
    /// Time left on the timer: orphaned FIN_WAIT_2 sockets are timewait sockets, with no
    /// tcp_info but a timer (`ss -o`).
    Left,
}

fn endpoint_table(out: &mut String, rows: &[ByEndpoint], total: usize, time: TimeColumn) {
    let mut table = Table::new(&[
        "DIR",
        "LOCAL",
        "REMOTE",
        ">COUNT",
        ">UNREAD",
        match time {
            TimeColumn::InState => ">IN STATE",
            TimeColumn::Left => ">LEFT",
        },
        "PIDS",
    ]);
    for row in rows {
        let direction = match row.direction {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        };
        let pids: Vec<String> = row.pids.iter().map(u32::to_string).collect();
        table.row(vec![
            direction.to_string(),
            row.local.clone(),
            row.remote.clone(),
            row.stats.count.to_string(),
            row.stats.with_unread_data.to_string(),
            match time {
                TimeColumn::InState => ms(row.stats.in_state_ms_max),
                TimeColumn::Left => {
                    range_ms(row.stats.remaining_ms_min, row.stats.remaining_ms_max)
                }
            },
            if pids.is_empty() {
                "-".into()
            } else {
                pids.join(",")
            },
        ]);
    }
    out.push_str(&table.render(2));
    more(out, rows.len(), total);
    out.push('\n');
}

fn time_wait(out: &mut String, section: &TimeWaitSection) {
    if section.total == 0 {
        return;
    }
    let range = section
        .port_range
        .as_ref()
        .map_or("unknown".to_string(), |r| {
            format!("{}-{}, {} ports per pool", r.low, r.high, r.size)
        });
    let _ = writeln!(
        out,
        "TIME_WAIT BY (SOURCE, DESTINATION) ({} entries; no process owns TIME_WAIT; port range {range})",
        section.total
    );
    if !section.outbound_pools.is_empty() {
        let mut table = Table::new(&[
            "SOURCE",
            "DESTINATION",
            ">TIME_WAIT",
            ">LEFT",
            ">PORTS USED",
            ">HEADROOM",
            ">USE",
            ">≈CONN/S",
        ]);
        for pool in &section.outbound_pools {
            table.row(vec![
                pool.source.clone(),
                pool.destination.clone(),
                pool.stats.count.to_string(),
                range_ms(pool.stats.remaining_ms_min, pool.stats.remaining_ms_max),
                pool.ports_in_use.to_string(),
                pool.headroom.map_or("-".into(), |h| h.to_string()),
                pool.usage_percent
                    .map_or("-".into(), |p| format!("{p:.1} %")),
                format!("{:.1}", pool.rate_estimate_per_s),
            ]);
        }
        out.push_str(&table.render(2));
        more(
            out,
            section.outbound_pools.len(),
            section.outbound_pool_groups,
        );
        let _ = writeln!(
            out,
            "  ≈CONN/S = TIME_WAIT / 60 s: new connections per second over the last minute"
        );
    }
    if !section.inbound.is_empty() {
        let _ = writeln!(
            out,
            "  server side (we accepted and closed first; the clients' ports are held, not ours):"
        );
        endpoint_table(
            out,
            &section.inbound,
            section.inbound_groups,
            TimeColumn::Left,
        );
    } else {
        out.push('\n');
    }
}

fn ports(out: &mut String, section: &PortsSection) {
    let busy: Vec<&PortPool> = section
        .pools
        .iter()
        .filter(|p| p.usage_percent.unwrap_or(0.0) >= 1.0)
        .collect();
    if busy.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "EPHEMERAL PORT POOLS (outbound, all states, busiest first)"
    );
    let mut table = Table::new(&[
        "SOURCE",
        "DESTINATION",
        ">IN USE",
        ">TIME_WAIT",
        ">HEADROOM",
        ">USE",
    ]);
    for pool in busy {
        table.row(vec![
            pool.source.clone(),
            pool.destination.clone(),
            pool.ports_in_use.to_string(),
            pool.time_wait.to_string(),
            pool.headroom.map_or("-".into(), |h| h.to_string()),
            pool.usage_percent
                .map_or("-".into(), |p| format!("{p:.1} %")),
        ]);
    }
    out.push_str(&table.render(2));
    out.push('\n');
}

fn fin_wait_2(out: &mut String, section: &FinWait2Section) {
    if section.total == 0 {
        return;
    }
    let timeout = section
        .tcp_fin_timeout_s
        .map_or("?".to_string(), |t| t.to_string());
    let _ = writeln!(
        out,
        "FIN_WAIT_2: {} ({} orphaned, dropped after tcp_fin_timeout = {timeout} s; {} held by a process, they wait for the peer's FIN forever)",
        section.total, section.orphaned, section.owned
    );
    if !section.orphaned_by_remote.is_empty() {
        endpoint_table(
            out,
            &section.orphaned_by_remote,
            section.orphaned_remote_groups,
            TimeColumn::Left,
        );
    } else {
        out.push('\n');
    }
}

fn listeners(out: &mut String, section: &ListenSection) {
    if section.queued.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "LISTENERS WITH A QUEUE ({} listeners in all)",
        section.total
    );
    let mut table = Table::new(&["LOCAL", ">ACCEPT QUEUE", ">BACKLOG", ">PID", "COMMAND"]);
    for queue in &section.queued {
        let (pid, command) = owner_cells(&queue.owner);
        table.row(vec![
            queue.local.clone(),
            queue.accept_queue.to_string(),
            queue.backlog.to_string(),
            pid,
            command,
        ]);
    }
    out.push_str(&table.render(2));
    out.push('\n');
}

fn counters(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "KERNEL COUNTERS (cumulative since boot or namespace creation)"
    );
    let mut table = Table::new(&["COUNTER", ">VALUE", "MEANING"]);
    for (name, value) in &report.counters {
        table.row(vec![
            name.clone(),
            value.to_string(),
            counter_meaning(name).to_string(),
        ]);
    }
    out.push_str(&table.render(2));
    let stat = &report.sockstat;
    let _ = writeln!(
        out,
        "  sockstat: inuse {} · orphan {} · tw {} · alloc {} · mem {} pages\n",
        stat.inuse, stat.orphan, stat.tw, stat.alloc, stat.mem_pages
    );
}

fn sysctls(out: &mut String, rows: &[SysctlReview]) {
    let _ = writeln!(out, "SYSCTL REVIEW");
    for row in rows {
        let value = row.value.as_deref().unwrap_or("(absent)");
        let _ = writeln!(out, "  {} = {value}   [default {}]", row.name, row.default);
        let _ = writeln!(out, "      {}", row.note);
    }
}
