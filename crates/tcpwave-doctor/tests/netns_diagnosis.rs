//! The library against real kernel sockets in throwaway network namespaces (needs root; see
//! tcpwave_netns::privileged for the skip policy).

mod support;
// tests/support reaches the namespace helper as `crate::tcpwave_netns`.
#[allow(clippy::single_component_path_imports)]
use tcpwave_netns;

use support::{Lab, PEER_IP, SERVICE};
use tcpwave_doctor::filter::{parse_dst, parse_states, Filters};
use tcpwave_doctor::report::{Direction, Owner};
use tcpwave_doctor::{diagnose, DoctorError, DoctorOptions, SourceChoice};

/// Entry point of the fixture processes (see tests/support/mod.rs); a no-op otherwise.
#[test]
fn fixture_entry() {
    support::run_role_if_requested();
}

fn options(netns: &str) -> DoctorOptions {
    DoctorOptions {
        netns: Some(netns.to_string()),
        ..DoctorOptions::default()
    }
}

/// ss state names → doctor state names.
fn ss_to_doctor(state: &str) -> &'static str {
    match state {
        "ESTAB" => "ESTABLISHED",
        "CLOSE-WAIT" => "CLOSE_WAIT",
        "TIME-WAIT" => "TIME_WAIT",
        "LISTEN" => "LISTEN",
        "FIN-WAIT-1" => "FIN_WAIT_1",
        "FIN-WAIT-2" => "FIN_WAIT_2",
        "SYN-SENT" => "SYN_SENT",
        "SYN-RECV" => "SYN_RECV",
        "LAST-ACK" => "LAST_ACK",
        "CLOSING" => "CLOSING",
        other => panic!("unexpected ss state {other}"),
    }
}

#[test]
fn diagnoses_a_namespace_with_close_wait_time_wait_and_established() {
    if !tcpwave_netns::privileged("diagnoses_a_namespace_with_close_wait_time_wait_and_established")
    {
        return;
    }
    let mut lab = Lab::start();
    lab.add_close_wait(200);
    lab.add_time_wait(500);
    lab.add_established(3);

    let report = diagnose(&options(lab.server_ns.name())).expect("diagnosis");
    let states = &report.totals.by_state;
    assert_eq!(states["CLOSE_WAIT"], 200);
    assert_eq!(states["TIME_WAIT"], 500);
    assert_eq!(states["ESTABLISHED"], 3);
    assert_eq!(states["LISTEN"], 1);
    assert_eq!(report.totals.sockets, 704);
    for (ss_state, count) in lab.ss_counts() {
        assert_eq!(
            states[ss_to_doctor(&ss_state)],
            count,
            "{ss_state} vs ss -tan"
        );
    }

    let by_process = &report.close_wait.by_process;
    assert_eq!(by_process.len(), 1);
    match &by_process[0].owner {
        Owner::Process { pid, .. } => assert_eq!(*pid, lab.server.pid),
        other => panic!("CLOSE_WAIT not attributed to the fixture: {other:?}"),
    }
    assert_eq!(by_process[0].stats.count, 200);
    assert_eq!(
        by_process[0].stats.unread_data_bytes,
        200 * 5,
        "hello on each"
    );
    assert_eq!(by_process[0].stats.eof_not_read, 200);
    let remote = &report.close_wait.by_remote[0];
    assert_eq!(remote.direction, Direction::Inbound);
    assert_eq!(
        (remote.local.as_str(), remote.remote.as_str()),
        (SERVICE, PEER_IP)
    );
    assert_eq!(remote.pids, [lab.server.pid]);

    let pool = &report.time_wait.outbound_pools[0];
    assert_eq!(
        (pool.source.as_str(), pool.destination.as_str()),
        ("192.0.2.1", "192.0.2.2:9090")
    );
    assert_eq!(pool.stats.count, 500);
    assert_eq!(pool.headroom, Some(28232 - 500));
    assert!(pool.stats.remaining_ms_max.unwrap() <= 60_000);
    assert!(pool.stats.remaining_ms_min.unwrap() > 30_000);

    assert_eq!(report.exit_code, 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].code, "close-wait-leak");
}

#[test]
fn proc_fallback_and_filters_agree_with_netlink() {
    if !tcpwave_netns::privileged("proc_fallback_and_filters_agree_with_netlink") {
        return;
    }
    let mut lab = Lab::start();
    lab.add_close_wait(20);
    lab.add_time_wait(30);
    let name = lab.server_ns.name();

    let netlink = diagnose(&options(name)).unwrap();
    let proc = diagnose(&DoctorOptions {
        source: SourceChoice::Proc,
        ..options(name)
    })
    .unwrap();
    assert_eq!(netlink.totals.by_state, proc.totals.by_state);
    assert_eq!(proc.close_wait.by_process[0].stats.count, 20);
    assert!(proc.findings.iter().any(|f| f.code == "proc-fallback"));

    let filters = Filters {
        states: parse_states(&["time-wait".to_string()]).unwrap(),
        dst: Some(parse_dst("192.0.2.2:9090").unwrap()),
        ..Filters::default()
    };
    let only_tw = diagnose(&DoctorOptions {
        filters,
        ..options(name)
    })
    .unwrap();
    assert_eq!(only_tw.totals.sockets, 30);
    assert_eq!(only_tw.close_wait.total, 0);
}

#[test]
fn an_empty_namespace_is_healthy() {
    if !tcpwave_netns::privileged("an_empty_namespace_is_healthy") {
        return;
    }
    let ns = tcpwave_netns::Netns::create("twdoc-empty").unwrap();
    let report = diagnose(&options(ns.name())).unwrap();
    assert_eq!(report.totals.sockets, 0);
    assert_eq!(report.exit_code, 0, "{:?}", report.findings);
    assert_eq!(report.netns.as_deref(), Some(ns.name()));
}

#[test]
fn a_missing_namespace_is_a_clear_error() {
    let error = diagnose(&options("tcpwave-no-such-namespace")).unwrap_err();
    assert!(
        matches!(error, DoctorError::NetnsNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("ip netns list"), "{error}");
    let error = diagnose(&options("../../etc/passwd")).unwrap_err();
    assert!(
        matches!(error, DoctorError::NetnsInvalidName { .. }),
        "{error:?}"
    );
}
