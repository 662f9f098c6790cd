//! The failure scenarios: lost final ACK, CLOSE_WAIT leak, FIN_WAIT_2 timeout,
//! killed peer process, closed port.

mod support;
use support::*;
use tcpwave_trace::Body;

#[test]
fn lost_final_ack_is_answered_by_time_wait_which_restarts_2msl() {
    let t = run("lost-final-ack");
    assert_eq!(drops(&t), [("client".to_string(), "A".to_string(), 20, 27)]);
    let segs = sent(&t);
    let n = segs.len();
    assert_eq!(
        segs[n - 3..],
        [
            seg("client", "A", 20, 27, 0),  // the final ACK, lost
            seg("server", "FA", 26, 20, 0), // LAST_ACK retransmits its FIN
            seg("client", "A", 20, 27, 0),  // TIME_WAIT answers it again
        ]
    );
    let fins: Vec<_> = t
        .sent()
        .filter(|(e, s)| e.host == "server" && s.flags == "FA")
        .map(|(e, _)| e.t_us)
        .collect();
    assert_eq!(fins.len(), 2, "the server's FIN is retransmitted once");
    let rto = fins[1] - fins[0];
    assert!(
        (200_000..=1_000_000).contains(&rto),
        "FIN retransmitted after one RTO, got {rto} us"
    );
    let reack = t
        .sent()
        .filter(|(e, s)| e.host == "client" && s.flags == "A")
        .last()
        .unwrap()
        .0
        .t_us;
    let restarted = t.events.iter().any(|e| {
        e.host == "client" && matches!(&e.body, Body::Timer(n) if n.text.contains("2MSL restarted"))
    });
    assert!(restarted);
    let closed = *times_of(&t, "client", "CLOSED").last().unwrap();
    assert_eq!(
        closed,
        reack + 60 * SEC,
        "TIME_WAIT ends 60 s after the re-ACK, not after the first ACK"
    );
    assert_eq!(path(&t, "server").last().unwrap(), "LAST_ACK>CLOSED");
    assert_eq!(final_state(&t, "client"), ["CLOSED"]);
    assert_eq!(final_state(&t, "server"), ["CLOSED"]);
}

#[test]
fn close_wait_leak_keeps_close_wait_until_the_process_exits() {
    let t = run("close-wait-leak");
    let fig = |name: &str| {
        t.outcome
            .figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value)
            .unwrap()
    };
    for s in [1, 30, 59, 62, 120, 299] {
        assert_eq!(fig(&format!("server CLOSE_WAIT at {s}s")), 5.0, "at {s}s");
    }
    assert_eq!(fig("client FIN_WAIT_2 at 59s"), 5.0);
    assert_eq!(
        fig("client FIN_WAIT_2 at 62s"),
        0.0,
        "orphaned FIN_WAIT_2 ends after tcp_fin_timeout (60 s)"
    );
    assert_eq!(
        fig("server CLOSE_WAIT at 301s"),
        0.0,
        "the process exit closes them"
    );
    // Each client connection: FIN_WAIT_2 ended by tcp_fin_timeout, 60 s after it began.
    let fw2 = times_of(&t, "client", "FIN_WAIT_2");
    let ends: Vec<u64> = t
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::State(s) if e.host == "client" && s.from == "FIN_WAIT_2" => {
                assert_eq!(s.reason, "tcp_fin_timeout");
                Some(e.t_us)
            }
            _ => None,
        })
        .collect();
    assert_eq!(fw2.len(), 5);
    for (a, b) in fw2.iter().zip(&ends) {
        assert_eq!(b - a, 60 * SEC);
    }
    // At exit the server's FINs reach tuples the clients forgot: RST.
    let rsts = t
        .sent()
        .filter(|(e, s)| e.host == "client" && s.flags == "R")
        .count();
    assert_eq!(rsts, 5);
}

#[test]
fn orphaned_fin_wait_2_times_out_but_a_half_closed_one_waits_for_ever() {
    let t = run("fin-wait-2-timeout");
    let fw2 = times_of(&t, "client", "FIN_WAIT_2")[0];
    let closed = *times_of(&t, "client", "CLOSED").last().unwrap();
    assert_eq!(closed - fw2, 60 * SEC);
    assert_eq!(final_state(&t, "client"), ["CLOSED"]);
    assert_eq!(
        final_state(&t, "client2"),
        ["FIN_WAIT_2"],
        "shutdown(SHUT_WR) keeps the socket: no timeout"
    );
    assert_eq!(final_state(&t, "server"), ["CLOSE_WAIT", "CLOSE_WAIT"]);
    let shortened = run_with("fin-wait-2-timeout", &["tcp_fin_timeout_s=5"]);
    let fw2 = times_of(&shortened, "client", "FIN_WAIT_2")[0];
    assert_eq!(
        *times_of(&shortened, "client", "CLOSED").last().unwrap() - fw2,
        5 * SEC
    );
}

#[test]
fn killed_peer_sends_fin_or_rst_when_data_was_unread() {
    let t = run("peer-process-killed");
    let server_sent: Vec<_> = sent(&t)
        .into_iter()
        .filter(|s| s.0 == "server" && (s.1.contains('F') || s.1.contains('R')))
        .collect();
    assert_eq!(server_sent.len(), 2);
    assert!(server_sent.iter().any(|s| s.1 == "FA"), "{server_sent:?}");
    assert!(server_sent.iter().any(|s| s.1 == "RA"), "{server_sent:?}");
    let seen = saw(&t);
    assert!(
        seen.iter()
            .any(|s| s.starts_with("client:") && s.contains("end of file")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("client2:") && s.contains("ECONNRESET")),
        "{seen:?}"
    );
    assert_eq!(
        path_of(&t, "server", "192.0.2.3"),
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>CLOSED"
        ]
    );
    let counters = &t
        .outcome
        .counters
        .iter()
        .find(|c| c.host == "server")
        .unwrap()
        .counters;
    assert!(
        counters.contains(&("TCPAbortOnClose".to_string(), 1)),
        "{counters:?}"
    );
}

#[test]
fn closed_port_refuses_and_closed_listener_resets() {
    let t = run("port-closed");
    let segs = sent_between(&t, "client", "server");
    assert_eq!(
        segs,
        [seg("client", "S", 0, 0, 0), seg("server", "RA", 0, 1, 0)]
    );
    assert_eq!(path(&t, "client"), ["CLOSED>SYN_SENT", "SYN_SENT>CLOSED"]);
    let seen = saw(&t);
    assert!(
        seen.iter()
            .any(|s| s.starts_with("client:") && s.contains("ECONNREFUSED")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("client2:") && s.contains("ECONNRESET")),
        "{seen:?}"
    );
    let to_client2 = sent_between(&t, "client2", "server");
    assert_eq!(to_client2.last().unwrap().1, "RA");
}

/// Lines of the plain terminal drawing that draw segment `label` (`"ACK seq=20 ack=27"`).
fn lines_drawing<'a>(drawing: &'a str, label: &str) -> Vec<&'a str> {
    drawing
        .lines()
        .filter(|line| line.contains(&format!(" {label} ")))
        .collect()
}

#[test]
fn the_terminal_draws_a_lost_segment_once_as_lost_at_its_send_time() {
    use tcpwave_trace::terminal::{render, TerminalOptions};
    // It used to draw the lost final ACK twice: a full arrow reaching the server at
    // 0.060s, then "───✗ ... final ACK lost" at 0.065s. The pcap has one packet.
    let t = run("lost-final-ack");
    let drawing = render(&t, &TerminalOptions::default());
    let lost = lines_drawing(&drawing, "ACK seq=20 ack=27");
    assert_eq!(
        lost.len(),
        2,
        "the lost ACK and TIME_WAIT's re-ACK:\n{drawing}"
    );
    let (send_us, _) = t
        .sent()
        .find(|(e, s)| e.host == "client" && s.flags == "A" && s.rel_seq == 20)
        .map(|(e, s)| (e.t_us, s.id))
        .unwrap();
    let at = tcpwave_trace::fmt_time(send_us);
    assert!(lost[0].trim_start().starts_with(&at), "{}", lost[0]);
    assert!(lost[0].contains('✗') && lost[0].contains("final ACK lost"));
    assert!(!lost[0].contains('▶'), "{}", lost[0]);
    assert!(
        lost[1].contains('▶') && !lost[1].contains('✗'),
        "{}",
        lost[1]
    );
}

#[test]
fn every_lost_segment_is_drawn_once_in_the_terminal() {
    use tcpwave_trace::terminal::{render, TerminalOptions};
    // The scenarios that lose segments (links down, crashed hosts, scripted losses).
    for name in [
        "lost-final-ack",
        "no-time-wait-reconnect",
        "keepalive-dead-peer",
        "peer-crash",
        "network-outage-recovery",
    ] {
        let t = run(name);
        let drops = t
            .events
            .iter()
            .filter(|e| matches!(e.body, Body::Drop(_)))
            .count();
        assert!(drops > 0, "{name} loses segments");
        let drawing = render(&t, &TerminalOptions::default());
        let crosses = drawing.lines().filter(|l| l.contains('✗')).count();
        assert_eq!(crosses, drops, "{name}: one ✗ per lost segment");
        // Every drawn segment line is a send: as many arrows and crosses as sends.
        let sends = t.sent().count();
        let arrows = drawing
            .lines()
            .filter(|l| l.contains('✗') || l.contains('▶') || l.contains('◀') || l.contains('⟲'))
            .count();
        assert_eq!(arrows, sends, "{name}: one line per segment sent");
    }
}
