use super::*;
use crate::filter::{parse_dst, ProcessFilter};
use crate::owners::Process;
use crate::synthetic::{busy_host, snapshot, socket};

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn process(pid: u32, command: &str) -> Process {
    Process {
        pid,
        command: command.into(),
        cmdline: format!("/usr/bin/{command}"),
    }
}

/// A server on 192.0.2.1:7000 leaking `leaked` inbound CLOSE_WAITs (Recv-Q 5 each: 4 bytes
/// and the FIN),
/// plus `time_wait` outbound TIME_WAITs toward 192.0.2.2:9090 and 3 established.
fn leaky_server(leaked: u32, time_wait: u32) -> Snapshot {
    let mut owners = Owners::default();
    let mut sockets = vec![socket(
        TcpState::Listen,
        addr("192.0.2.1:7000"),
        addr("0.0.0.0:0"),
        1,
    )];
    owners.insert(1, process(4711, "leaky"));
    for index in 0..leaked {
        let inode = 100 + u64::from(index);
        let remote = SocketAddr::new(addr("192.0.2.2:0").ip(), 40000 + index as u16);
        let mut s = socket(TcpState::CloseWait, addr("192.0.2.1:7000"), remote, inode);
        s.recv_q = 5;
        if let Some(info) = s.info.as_mut() {
            info.last_ack_recv_ms = 1000 + index;
        }
        sockets.push(s);
        owners.insert(inode, process(4711, "leaky"));
    }
    for index in 0..time_wait {
        let local = SocketAddr::new(addr("192.0.2.1:0").ip(), 33000 + index as u16);
        let mut s = socket(TcpState::TimeWait, local, addr("192.0.2.2:9090"), 0);
        s.timer_ms = 50_000 + index;
        sockets.push(s);
    }
    for index in 0..3u16 {
        let inode = 10 + u64::from(index);
        let local = SocketAddr::new(addr("192.0.2.1:0").ip(), 50000 + index);
        sockets.push(socket(
            TcpState::Established,
            local,
            addr("192.0.2.2:9091"),
            inode,
        ));
        owners.insert(inode, process(4711, "leaky"));
    }
    snapshot(sockets, owners)
}

#[test]
fn counts_and_close_wait_attribution() {
    let report = analyze(&leaky_server(200, 500), &Filters::default(), 10);
    assert_eq!(report.totals.by_state["CLOSE_WAIT"], 200);
    assert_eq!(report.totals.by_state["TIME_WAIT"], 500);
    assert_eq!(report.totals.by_state["ESTABLISHED"], 3);
    assert_eq!(report.totals.by_state["LISTEN"], 1);
    assert_eq!(
        report.totals.by_state["SYN_SENT"], 0,
        "every state is present"
    );
    assert_eq!(report.totals.sockets, 704);

    let cw = &report.close_wait;
    assert_eq!(
        (cw.total, cw.with_unread_data, cw.eof_not_read),
        (200, 200, 200)
    );
    assert_eq!(cw.by_process.len(), 1);
    let group = &cw.by_process[0];
    assert_eq!(
        group.owner,
        Owner::Process {
            pid: 4711,
            command: "leaky".into()
        }
    );
    // Recv-Q 5 per socket is 4 bytes of data and the unread FIN.
    assert_eq!(group.stats.recv_q_bytes, 1000);
    assert_eq!(group.stats.unread_data_bytes, 800);
    assert_eq!(group.stats.eof_not_read, 200);
    assert_eq!(group.stats.in_state_ms_max, Some(1199));
    assert_eq!(group.top_remotes, ["← 192.0.2.2 on 192.0.2.1:7000 (200)"]);
    let remote = &cw.by_remote[0];
    assert_eq!(remote.direction, Direction::Inbound);
    assert_eq!(
        (remote.local.as_str(), remote.remote.as_str()),
        ("192.0.2.1:7000", "192.0.2.2")
    );
    assert_eq!(remote.pids, [4711]);
}

#[test]
fn time_wait_pool_headroom_and_rate() {
    let report = analyze(&leaky_server(0, 500), &Filters::default(), 10);
    let tw = &report.time_wait;
    assert_eq!(tw.total, 500);
    let pool = &tw.outbound_pools[0];
    assert_eq!(
        (pool.source.as_str(), pool.destination.as_str()),
        ("192.0.2.1", "192.0.2.2:9090")
    );
    assert_eq!(pool.stats.count, 500);
    assert_eq!(pool.ports_in_use, 500);
    assert_eq!(pool.headroom, Some(28232 - 500));
    assert_eq!(pool.stats.remaining_ms_min, Some(50_000));
    assert_eq!(pool.stats.remaining_ms_max, Some(50_499));
    assert!((pool.rate_estimate_per_s - 500.0 / 60.0).abs() < 1e-9);
    assert!(tw.owner_note.contains("no process"));
    // The three established sockets use another pool (port 9091).
    assert!(report
        .ports
        .pools
        .iter()
        .any(|p| p.destination == "192.0.2.2:9091" && p.ports_in_use == 3));
}

#[test]
fn leak_is_a_warning_and_exit_status_is_one() {
    let report = analyze(&leaky_server(200, 500), &Filters::default(), 10);
    assert_eq!(report.exit_code, 1);
    assert_eq!(report.status, "warning");
    let first = &report.findings[0];
    assert_eq!(
        (first.severity, first.code),
        (Severity::Warning, "close-wait-leak")
    );
    assert!(first.title.contains("pid 4711 (leaky)"), "{}", first.title);
    assert!(
        first.title.contains("neither reads nor closes"),
        "{}",
        first.title
    );
}

#[test]
fn a_quiet_host_is_healthy() {
    let report = analyze(&leaky_server(3, 10), &Filters::default(), 10);
    assert_eq!(report.exit_code, 0, "{:?}", report.findings);
    assert_eq!(report.status, "healthy");
    assert!(report.findings.iter().all(|f| f.severity == Severity::Info));
}

#[test]
fn port_headroom_warns_at_half_and_is_critical_at_ninety_percent() {
    for (count, expected) in [
        (14_000, None),
        (14_200, Some(Severity::Warning)),
        (25_500, Some(Severity::Critical)),
    ] {
        let report = analyze(&leaky_server(0, count), &Filters::default(), 10);
        let finding = report.findings.iter().find(|f| f.code == "port-headroom");
        assert_eq!(finding.map(|f| f.severity), expected, "{count}");
    }
}

#[test]
fn filters_narrow_every_section() {
    let snapshot = leaky_server(200, 500);
    let only_tw = Filters {
        states: vec![TcpState::TimeWait],
        ..Default::default()
    };
    let report = analyze(&snapshot, &only_tw, 10);
    assert_eq!(report.totals.sockets, 500);
    assert_eq!(report.close_wait.total, 0);
    let by_process = Filters {
        process: Some(ProcessFilter::Pid(4711)),
        ..Default::default()
    };
    let report = analyze(&snapshot, &by_process, 10);
    assert_eq!(
        report.totals.by_state["TIME_WAIT"], 0,
        "TIME_WAIT has no process"
    );
    assert_eq!(report.totals.by_state["CLOSE_WAIT"], 200);
    let by_dst = Filters {
        dst: Some(parse_dst(":9091").unwrap()),
        ..Default::default()
    };
    let report = analyze(&snapshot, &by_dst, 10);
    assert_eq!(report.totals.sockets, 3);
    assert_eq!(report.filters.dst.as_deref(), Some(":9091"));
}

#[test]
fn unattributed_sockets_are_grouped_by_uid_with_a_root_note() {
    let mut snapshot = leaky_server(60, 0);
    snapshot.owners = Owners::default();
    snapshot.owners.unreadable_pids = 7;
    snapshot.root = false;
    for socket in &mut snapshot.sockets {
        socket.uid = 1000;
    }
    let report = analyze(&snapshot, &Filters::default(), 10);
    assert_eq!(
        report.close_wait.by_process[0].owner,
        Owner::Uid { uid: 1000 }
    );
    let note = report.attribution.note.as_deref().unwrap();
    assert!(note.starts_with("process attribution needs root"), "{note}");
    assert!(report
        .findings
        .iter()
        .any(|f| f.code == "attribution-needs-root"));
    assert_eq!(
        report.totals.by_state["CLOSE_WAIT"], 60,
        "counts still reported"
    );
}

#[test]
fn top_limits_rows_and_counts_the_rest() {
    let (sockets, owners) = busy_host(20_000);
    let report = analyze(&snapshot(sockets, owners), &Filters::default(), 5);
    assert_eq!(report.time_wait.outbound_pools.len(), 5);
    assert_eq!(
        report.time_wait.outbound_pool_groups, 40,
        "2 sources × 20 destinations"
    );
    assert_eq!(
        report.close_wait.by_process[0].owner,
        Owner::Process {
            pid: 4711,
            command: "worker".into()
        }
    );
    assert!(report.fin_wait_2.orphaned > 0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema"], "tcpwave-doctor/1");
    assert_eq!(json["close_wait"]["by_process"][0]["owner"]["pid"], 4711);
    let text = crate::render::render(&report);
    assert!(text.contains("CLOSE_WAIT BY PROCESS"), "{text}");
    assert!(text.contains("raise --top"), "{text}");
    // Orphaned FIN_WAIT_2 sockets are timewait sockets: no tcp_info, so the table shows
    // the time left on their timer (20 s in the synthetic host) instead of "-".
    let fin_wait_2 = text
        .split("\nFIN_WAIT_2: ")
        .nth(1)
        .expect("a FIN_WAIT_2 section");
    let header = fin_wait_2.lines().nth(1).unwrap();
    assert!(
        header.contains("LEFT") && !header.contains("IN STATE"),
        "{fin_wait_2}"
    );
    assert!(
        fin_wait_2.lines().nth(2).unwrap().contains("20-20 s"),
        "{fin_wait_2}"
    );
}

#[test]
fn growth_keys_describe_the_group() {
    let counts = growth_counts(&leaky_server(200, 500), &Filters::default());
    let mut lines: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{} = {n}", k.describe()))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "CLOSE_WAIT from 192.0.2.2 on 192.0.2.1:7000 owned by pid 4711 (leaky) = 200",
            "TIME_WAIT from 192.0.2.1 to 192.0.2.2:9090 = 500",
        ]
    );
}
