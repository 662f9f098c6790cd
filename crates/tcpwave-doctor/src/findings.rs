//! The rules: from the report's numbers to ranked findings, each with its evidence and what
//! to do. Thresholds are constants here so docs/doctor.md can quote them.

use crate::collect::{Snapshot, Source};
use crate::report::*;
use crate::review::human_seconds;

/// CLOSE_WAIT sockets in one process at which a leak is reported as a warning.
pub const CLOSE_WAIT_WARN_COUNT: u64 = 50;
/// ... and as critical.
pub const CLOSE_WAIT_CRITICAL_COUNT: u64 = 1000;
/// A CLOSE_WAIT this old (since the peer's FIN) is a leak whatever the count.
pub const CLOSE_WAIT_STUCK_MS: u64 = 60_000;
/// Port pool use (percent of ip_local_port_range) that is a warning / critical.
pub const PORTS_WARN_PERCENT: f64 = 50.0;
pub const PORTS_CRITICAL_PERCENT: f64 = 90.0;
/// TIME_WAIT entries as a percentage of tcp_max_tw_buckets that is a warning.
pub const TW_BUCKETS_WARN_PERCENT: f64 = 80.0;
/// Orphaned FIN_WAIT_2 count worth a note.
pub const ORPHAN_FIN_WAIT_2_NOTE_COUNT: u64 = 100;

/// Every finding for this report, unsorted.
pub fn evaluate(report: &Report, snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for group in &report.close_wait.by_process {
        findings.push(close_wait_group(group));
    }
    port_pools(report, &mut findings);
    time_wait_buckets(report, snapshot, &mut findings);
    fin_wait_2(report, snapshot, &mut findings);
    listen_queues(report, snapshot, &mut findings);
    environment(report, snapshot, &mut findings);
    findings
}

fn close_wait_severity(stats: &GroupStats) -> Severity {
    let oldest = stats.in_state_ms_max.unwrap_or(0);
    if stats.count >= CLOSE_WAIT_CRITICAL_COUNT {
        Severity::Critical
    } else if stats.count >= CLOSE_WAIT_WARN_COUNT || oldest >= CLOSE_WAIT_STUCK_MS {
        Severity::Warning
    } else {
        Severity::Info
    }
}

fn close_wait_group(group: &CloseWaitByProcess) -> Finding {
    let stats = &group.stats;
    let who = match &group.owner {
        Owner::Process { pid, command } => format!("pid {pid} ({command})"),
        Owner::Uid { uid } => format!("a process of uid {uid} (run as root to see which)"),
        Owner::None => "no process yet (waiting in a listener's accept queue)".to_string(),
    };
    let mut title = format!(
        "{} CLOSE_WAIT socket{} held by {who}: the peer closed, the application never called \
         close()",
        stats.count,
        plural(stats.count)
    );
    if stats.with_unread_data > 0 {
        title.push_str(&format!(
            "; {} with unread data: it neither reads nor closes",
            stats.with_unread_data
        ));
    }
    Finding {
        severity: close_wait_severity(stats),
        code: "close-wait-leak",
        title,
        evidence: close_wait_evidence(group),
        action: close_wait_action(group),
    }
}

fn close_wait_evidence(group: &CloseWaitByProcess) -> Vec<String> {
    let stats = &group.stats;
    let mut evidence = vec![format!("{} in CLOSE_WAIT", sockets(stats.count))];
    if let Some(oldest) = stats.in_state_ms_max {
        evidence.push(format!(
            "in CLOSE_WAIT for up to {} (time since the peer's FIN, tcp_info last_ack_recv)",
            human_ms(oldest)
        ));
    }
    if stats.with_unread_data > 0 {
        evidence.push(format!(
            "{} bytes of data unread on {} (Recv-Q total {}, which counts each unread FIN as 1)",
            stats.unread_data_bytes,
            sockets(stats.with_unread_data),
            stats.recv_q_bytes
        ));
    }
    let eof_read = stats.count - stats.eof_not_read;
    if stats.eof_not_read > 0 {
        evidence.push(format!(
            "{} have not even read the end of file (Recv-Q ≥ 1): nothing reads these sockets",
            stats.eof_not_read
        ));
    }
    if eof_read > 0 {
        evidence.push(format!(
            "{eof_read} read the end of file (read() returned 0, Recv-Q 0) and were not closed"
        ));
    }
    if !group.top_remotes.is_empty() {
        evidence.push(format!(
            "remote endpoints: {}",
            group.top_remotes.join(", ")
        ));
    }
    evidence
}

fn close_wait_action(group: &CloseWaitByProcess) -> String {
    let stats = &group.stats;
    let tail = "CLOSE_WAIT has no kernel timeout: only close() or the process's exit frees \
                these sockets. See them with `ss -tanp state close-wait`";
    match group.owner {
        Owner::None => "the listening application is not calling accept() (or too slowly): \
                        check its accept loop; the clients closed these connections before \
                        they were accepted"
            .to_string(),
        _ if stats.eof_not_read * 2 > stats.count => format!(
            "the application does not read these sockets at all: look for a stuck or dead \
             worker, or connections parked in a pool that is never checked (evict idle pool \
             entries, detect EOF). {tail}"
        ),
        _ => format!(
            "fix the application: when read() returns 0 (EOF) it must close() the socket — \
             look for error paths that skip close(). {tail}"
        ),
    }
}

fn port_pools(report: &Report, findings: &mut Vec<Finding>) {
    for pool in &report.ports.pools {
        let Some(percent) = pool.usage_percent else {
            continue;
        };
        let severity = if percent >= PORTS_CRITICAL_PERCENT {
            Severity::Critical
        } else if percent >= PORTS_WARN_PERCENT {
            Severity::Warning
        } else {
            continue;
        };
        let size = report.ports.port_range.as_ref().map_or(0, |r| r.size);
        findings.push(Finding {
            severity,
            code: "port-headroom",
            title: format!(
                "ephemeral ports from {} to {}: {} of {size} in use ({percent:.0} %), {} in \
                 TIME_WAIT; connect() fails with EADDRNOTAVAIL when none are left",
                pool.source, pool.destination, pool.ports_in_use, pool.time_wait
            ),
            evidence: vec![
                format!("headroom: {} ports", pool.headroom.unwrap_or(0)),
                format!(
                    "TIME_WAIT lasts 60 s: this pool sustains at most {} new connections/s",
                    size / 60
                ),
            ],
            action: "reuse connections (HTTP keep-alive, connection pools); spread over more \
                     source addresses (with IP_BIND_ADDRESS_NO_PORT) or destination ports; \
                     widen net.ipv4.ip_local_port_range; set net.ipv4.tcp_tw_reuse=1 on this \
                     client. Size it with `tcpwave plan --rate R`"
                .to_string(),
        });
    }
}

fn time_wait_buckets(report: &Report, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let tw_now = snapshot.sockstat.tw.max(report.time_wait.total);
    if let Some(limit) = snapshot.sysctls.tcp_max_tw_buckets.filter(|l| *l > 0) {
        let percent = tw_now as f64 * 100.0 / limit as f64;
        if percent >= TW_BUCKETS_WARN_PERCENT {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "time-wait-buckets",
                title: format!(
                    "{tw_now} TIME_WAIT entries: {percent:.0} % of tcp_max_tw_buckets ({limit})"
                ),
                evidence: vec![format!("sockstat tw {}", snapshot.sockstat.tw)],
                action: "raise net.ipv4.tcp_max_tw_buckets (each entry costs ~256 bytes) and \
                         reduce churn with keep-alive; at the cap connections skip TIME_WAIT"
                    .to_string(),
            });
        }
    }
    if let Some(overflows) = snapshot
        .counters
        .get("TCPTimeWaitOverflow")
        .filter(|n| **n > 0)
    {
        findings.push(Finding {
            severity: Severity::Info,
            code: "time-wait-overflow",
            title: format!(
                "TIME_WAIT was skipped {overflows} times since boot: tcp_max_tw_buckets was full"
            ),
            evidence: vec![format!("TcpExt TCPTimeWaitOverflow = {overflows}")],
            action: "use --watch to see whether it still grows; if it does, raise \
                     net.ipv4.tcp_max_tw_buckets"
                .to_string(),
        });
    }
}

fn fin_wait_2(report: &Report, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let section = &report.fin_wait_2;
    if section.orphaned >= ORPHAN_FIN_WAIT_2_NOTE_COUNT {
        let peers: Vec<String> = section
            .orphaned_by_remote
            .iter()
            .take(3)
            .map(|g| format!("{} ({})", g.remote, g.stats.count))
            .collect();
        let timeout = section.tcp_fin_timeout_s.unwrap_or(60);
        findings.push(Finding {
            severity: Severity::Info,
            code: "orphaned-fin-wait-2",
            title: format!(
                "{} orphaned FIN_WAIT_2: we closed, the peers have not; each is dropped after \
                 tcp_fin_timeout ({timeout} s)",
                section.orphaned
            ),
            evidence: vec![format!("busiest peers: {}", peers.join(", "))],
            action: "the peers leak CLOSE_WAIT on their side (their application does not \
                     close); fix it there"
                .to_string(),
        });
    }
    let limit = snapshot.sysctls.tcp_max_orphans.unwrap_or(0);
    let orphans = snapshot.sockstat.orphan;
    if limit > 0 && orphans as f64 >= limit as f64 * 0.8 {
        findings.push(Finding {
            severity: Severity::Warning,
            code: "orphans",
            title: format!("{orphans} orphaned sockets: near tcp_max_orphans ({limit})"),
            evidence: vec![format!("sockstat orphan {orphans}")],
            action: "over the limit the kernel resets orphans at once (counted in \
                     TCPAbortOnMemory); find the peers that do not finish closing"
                .to_string(),
        });
    }
}

fn listen_queues(report: &Report, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    for queue in &report.listeners.queued {
        if queue.backlog == 0 || queue.accept_queue < queue.backlog {
            continue;
        }
        let overflows = snapshot
            .counters
            .get("ListenOverflows")
            .copied()
            .unwrap_or(0);
        findings.push(Finding {
            severity: Severity::Warning,
            code: "accept-queue-full",
            title: format!(
                "listener {}: accept queue full ({}/{}), new connections are dropped",
                queue.local, queue.accept_queue, queue.backlog
            ),
            evidence: vec![format!("TcpExt ListenOverflows = {overflows} since boot")],
            action: "the application accepts too slowly: check its accept loop; raise the \
                     listen() backlog (capped by net.core.somaxconn)"
                .to_string(),
        });
    }
}

fn environment(report: &Report, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    if let Some(note) = &report.attribution.note {
        if !report.attribution.root {
            findings.push(Finding {
                severity: Severity::Info,
                code: "attribution-needs-root",
                title: "process attribution needs root".to_string(),
                evidence: vec![note.clone()],
                action: "run `sudo tcpwave doctor` to see pids and commands".to_string(),
            });
        }
    }
    if snapshot.source == Source::Proc {
        findings.push(Finding {
            severity: Severity::Info,
            code: "proc-fallback",
            title: "sockets read from /proc/net/tcp: no tcp_info, so no idle times or ages"
                .to_string(),
            evidence: snapshot.fallback_reason.iter().cloned().collect(),
            action: "allow netlink sock_diag (NETLINK_SOCK_DIAG) for full detail".to_string(),
        });
    }
    if snapshot.sysctls.tcp_tw_recycle.is_some_and(|v| v > 0) {
        findings.push(Finding {
            severity: Severity::Warning,
            code: "tw-recycle",
            title: "net.ipv4.tcp_tw_recycle is on: clients behind NAT lose connections".to_string(),
            evidence: vec!["tcp_tw_recycle = 1".to_string()],
            action: "set net.ipv4.tcp_tw_recycle=0 (Linux removed it in 4.12)".to_string(),
        });
    }
}

/// Milliseconds for people: "850 ms", "42 s", "2 h 11 min".
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        human_seconds(ms / 1000)
    }
}

/// "1 socket", "2 sockets".
pub(crate) fn sockets(count: u64) -> String {
    format!("{count} socket{}", plural(count))
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod socket_count_tests {
    #[test]
    fn one_socket_many_sockets() {
        assert_eq!(super::sockets(0), "0 sockets");
        assert_eq!(super::sockets(1), "1 socket");
        assert_eq!(super::sockets(704), "704 sockets");
    }
}
