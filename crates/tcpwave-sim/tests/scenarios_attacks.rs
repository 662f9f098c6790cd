//! Resets wanted and unwanted: abortive close, close with unread data, blind injection
//! (RFC 5961), TIME_WAIT assassination (RFC 1337) and reuse of a TIME_WAIT tuple
//! (RFC 6191, tcp_tw_reuse).

mod support;
use support::*;
use tcpwave_trace::{Body, Trace};

const MS: u64 = 1_000;

/// (time, reason) of every state change of `host` on connections matching `conn`.
fn changes(t: &Trace, host: &str, conn: &str) -> Vec<(u64, String, String)> {
    t.events
        .iter()
        .filter_map(|e| match &e.body {
            Body::State(s) if e.host == host && s.conn.contains(conn) => {
                Some((e.t_us, format!("{}>{}", s.from, s.to), s.reason.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Absolute sequence numbers of the segments `host` sent to `to_addr` with `flags`.
fn abs_seqs(t: &Trace, host: &str, to_addr: &str, flags: &str) -> Vec<(u64, u32, u32)> {
    t.sent()
        .filter(|(e, s)| e.host == host && s.dst.starts_with(to_addr) && s.flags == flags)
        .map(|(e, s)| (e.t_us, s.seq, s.ack))
        .collect()
}

#[test]
fn so_linger_zero_sends_rst_and_leaves_no_time_wait() {
    let t = run("abortive-close");
    let segs = sent_between(&t, "client", "server");
    assert_eq!(segs.last().unwrap(), &seg("client", "RA", 19, 26, 0));
    assert!(
        segs.iter().all(|s| !s.1.contains('F')),
        "no FIN on either side: {segs:?}"
    );
    assert_eq!(
        path(&t, "client"),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>CLOSED"
        ]
    );
    assert_eq!(
        path_of(&t, "server", "192.0.2.1"),
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>CLOSED"
        ]
    );
    let client_close = changes(&t, "client", "");
    assert_eq!(client_close.last().unwrap().2, "abort");
    assert_eq!(changes(&t, "server", "192.0.2.1")[2].0, 50 * MS);
    assert!(app_saw(&t, "server", "ECONNRESET"));
    assert!(times_of(&t, "client", "TIME_WAIT").is_empty());
    assert!(path_of(&t, "server", "192.0.2.1")
        .iter()
        .all(|p| !p.contains("TIME_WAIT")));
    assert_eq!(counter(&t, "client", "TCPAbortOnData"), 1);
    assert_eq!(counter(&t, "client", "OutRsts"), 1);
    assert_eq!(counter(&t, "client", "EstabResets"), 1);
}

#[test]
fn so_linger_zero_after_shutting_down_first_resets_from_fin_wait_2_and_nobody_holds_time_wait() {
    let t = run("abortive-close");
    // client2 shuts down its side first: its FIN, the server's delayed ACK, FIN_WAIT_2.
    assert_eq!(
        path(&t, "client2"),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>CLOSED"
        ]
    );
    let ours = changes(&t, "client2", "");
    assert_eq!(ours[2].2, "shutdown(SHUT_WR)");
    assert_eq!(ours.last().unwrap().2, "abort");
    let segs = sent_between(&t, "client2", "server");
    assert!(segs.contains(&seg("client2", "FA", 19, 26, 0)), "{segs:?}");
    // Linux tcp_disconnect resets a FIN_WAIT_2 (tcp_need_reset): RST after our FIN.
    assert_eq!(segs.last().unwrap(), &seg("client2", "RA", 20, 26, 0));
    // The server never closed first: CLOSE_WAIT, ended by that RST; no TIME_WAIT anywhere.
    assert_eq!(
        path_of(&t, "server", "192.0.2.3"),
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>CLOSE_WAIT",
            "CLOSE_WAIT>CLOSED"
        ]
    );
    assert!(
        !segs.iter().any(|s| s.0 == "server" && s.1.contains('F')),
        "{segs:?}"
    );
    for host in ["client", "client2", "server"] {
        assert!(times_of(&t, host, "TIME_WAIT").is_empty(), "{host}");
    }
    assert_eq!(counter(&t, "server", "TWKilled"), 0);
}

#[test]
fn closing_with_unread_data_resets_and_reading_first_closes_normally() {
    let t = run("close-with-unread-data");
    let unread = sent_between(&t, "client", "server");
    assert_eq!(unread.last().unwrap(), &seg("client", "RA", 19, 26, 0));
    assert!(unread.iter().all(|s| !s.1.contains('F')), "{unread:?}");
    let reset_at = times_of(&t, "server", "CLOSED")[0];
    assert_eq!(reset_at, SEC + 10 * MS);
    assert!(
        app_saw(&t, "server", "192.0.2.1") && app_saw(&t, "server", "ECONNRESET"),
        "the server learns its reply was not consumed: {:?}",
        saw(&t)
    );
    assert_eq!(counter(&t, "client", "TCPAbortOnClose"), 1);
    // The same close after reading: FIN, four-way close, TIME_WAIT on the client.
    let read = sent_between(&t, "client2", "server");
    assert!(read.contains(&seg("client2", "FA", 19, 26, 0)), "{read:?}");
    assert_eq!(
        path(&t, "client2")[2..],
        [
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>TIME_WAIT",
            "TIME_WAIT>CLOSED"
        ]
    );
    assert_eq!(counter(&t, "client2", "TCPAbortOnClose"), 0);
}

#[test]
fn blind_injection_draws_challenge_acks_and_only_an_exact_rst_resets() {
    let t = run("blind-reset-attack");
    let forged: Vec<(u64, String)> = t
        .sent()
        .filter(|(e, _)| e.host == "attacker")
        .map(|(e, s)| (e.t_us / SEC, s.flags.clone()))
        .collect();
    let expected: Vec<(u64, &str)> = vec![
        (1, "R"),
        (2, "R"),
        (3, "S"),
        (4, "S"),
        (5, "PA"),
        (6, "R"),
        (6, "R"),
        (6, "R"),
        (6, "R"),
        (6, "R"),
        (8, "R"),
    ];
    let expected: Vec<(u64, String)> = expected.into_iter().map(|(s, f)| (s, f.into())).collect();
    assert_eq!(forged, expected);
    // Challenge ACKs go to the real client, from the server's own numbers: in-window RST
    // (RFC 5961 §3.2), SYN in or out of the window (§4.2), ACK below SND.UNA − MAX.SND.WND
    // (§5.2); none for the RST outside the window; one of five for the burst: Linux sends
    // at most one per connection per tcp_invalid_ratelimit (500 ms), and since 6.0 its
    // endpoint-wide tcp_challenge_ack_limit is off (INT_MAX).
    let challenges: Vec<u64> = t
        .sent()
        .filter(|(e, s)| e.host == "server" && s.flags == "A" && e.t_us > SEC)
        .map(|(e, s)| {
            assert_eq!((s.rel_seq, s.rel_ack, s.len), (26, 19, 0));
            e.t_us
        })
        .collect();
    let at = |s: u64| s * SEC + 10 * MS;
    assert_eq!(challenges, [at(1), at(3), at(4), at(5), at(6)]);
    assert_eq!(counter(&t, "server", "TCPChallengeACK"), 5);
    assert_eq!(counter(&t, "server", "TCPACKSkippedChallenge"), 4);
    // The two SYNs count TCPSYNChallenge, and InErrs too in ESTABLISHED (Linux
    // tcp_validate_incoming from tcp_rcv_established: syn_inerr).
    assert_eq!(counter(&t, "server", "TCPSYNChallenge"), 2);
    assert_eq!(counter(&t, "server", "InErrs"), 2);
    // Nothing of that hurt the connection; the exact RST at 8 s does.
    assert_eq!(
        changes(&t, "server", "192.0.2.1")
            .iter()
            .map(|c| (c.0, c.1.as_str(), c.2.as_str()))
            .collect::<Vec<_>>()[2..],
        [(at(8), "ESTABLISHED>CLOSED", "rcv RST")]
    );
    assert!(app_saw(&t, "server", "ECONNRESET"));
    // The client learns at its next write: the server's closed tuple answers RST.
    let tail = sent_between(&t, "client", "server");
    assert_eq!(
        tail[tail.len() - 2..],
        [
            seg("client", "PA", 19, 26, 13),
            seg("server", "R", 26, 0, 0)
        ]
    );
    assert!(app_saw(&t, "client", "ECONNRESET"));
}

#[test]
fn an_rst_for_time_wait_kills_it_unless_rfc1337() {
    let t = run("time-wait-assassination");
    for (client, server) in [("client", "server"), ("client-1337", "server-1337")] {
        // The held-up original reply reaches TIME_WAIT at 3.04 s: an old duplicate. The
        // entry ACKs it with its own numbers (and restarts 2MSL); the server, closed,
        // answers that ACK with an RST at exactly the entry's RCV.NXT.
        let late_ack = sent_between(&t, client, server)
            .into_iter()
            .rfind(|s| s.0 == client)
            .unwrap();
        assert_eq!(late_ack, seg(client, "A", 20, 27, 0));
        assert_eq!(
            sent_between(&t, client, server).last().unwrap(),
            &seg(server, "R", 27, 0, 0)
        );
        let restarted = t.events.iter().any(|e| {
            e.host == client
                && e.t_us == 3040 * MS
                && matches!(&e.body, Body::Timer(n) if n.text.contains("2MSL restarted"))
        });
        assert!(restarted, "{client}");
    }
    let ended = |host: &str| changes(&t, host, "").last().cloned().unwrap();
    assert_eq!(
        ended("client"),
        (3060 * MS, "TIME_WAIT>CLOSED".into(), "rcv RST".into()),
        "rfc1337=0: the RST assassinates TIME_WAIT"
    );
    assert_eq!(
        ended("client-1337"),
        (
            63_040 * MS,
            "TIME_WAIT>CLOSED".into(),
            "2MSL expired".into()
        ),
        "rfc1337=1: ignored, TIME_WAIT runs its 60 s from the restart"
    );
    // TW counts the entry when it was made (Linux __inet_twsk_schedule); Linux counts no
    // MIB for the assassination (TWKilled is for timeouts of 4 s or less).
    assert_eq!(counter(&t, "client", "TWKilled"), 0);
    assert_eq!(counter(&t, "client", "TW"), 1);
    // PAWS counted the old duplicate data and, at 2 s, an RST at exactly RCV.NXT that
    // carried an old timestamp: TIME_WAIT ignored it (no answer, no end).
    let forged: Vec<_> = t
        .sent()
        .filter(|(e, _)| e.host == "attacker")
        .map(|(e, s)| (e.t_us, s.flags.clone(), s.rel_seq))
        .collect();
    assert_eq!(forged, [(2 * SEC, "R".to_string(), 27)]);
    assert_eq!(counter(&t, "client", "PAWSEstab"), 2);
    assert_eq!(counter(&t, "client-1337", "PAWSEstab"), 1);
    assert!(!t
        .sent()
        .any(|(e, _)| e.host == "client" && (2 * SEC..3 * SEC).contains(&e.t_us)));
    assert_eq!(counter(&t, "client-1337", "TWKilled"), 0);
    assert_eq!(counter(&t, "client-1337", "TW"), 1);
}

#[test]
fn a_newer_syn_reopens_a_server_time_wait_tuple_rfc_6191() {
    let t = run("time-wait-reuse");
    for (client, addr) in [("client-seq", "192.0.2.11"), ("client-ts", "192.0.2.12")] {
        let server_side = changes(&t, "server", addr);
        let labels: Vec<&str> = server_side.iter().map(|c| c.1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "LISTEN>SYN_RECEIVED",
                "SYN_RECEIVED>ESTABLISHED",
                "ESTABLISHED>FIN_WAIT_1",
                "FIN_WAIT_1>FIN_WAIT_2",
                "FIN_WAIT_2>TIME_WAIT",
                "TIME_WAIT>CLOSED",
                "LISTEN>SYN_RECEIVED",
                "SYN_RECEIVED>ESTABLISHED",
                "ESTABLISHED>FIN_WAIT_1",
                "FIN_WAIT_1>FIN_WAIT_2",
                "FIN_WAIT_2>TIME_WAIT",
                "TIME_WAIT>CLOSED",
            ],
            "{client}"
        );
        assert_eq!(server_side[5].2, "TIME_WAIT reused");
        assert_eq!(server_side[11].2, "2MSL expired");
        assert_eq!(server_side[5].0, SEC + 10 * MS, "the SYN sent at 1 s");
        // Linux tcp_timewait_state_process: the new ISS is the old SND.NXT + 65537
        // (SYN, 25-byte reply and FIN: old ISS + 27).
        let syn_acks = abs_seqs(&t, "server", addr, "SA");
        assert_eq!(syn_acks.len(), 2);
        assert_eq!(
            syn_acks[1].1,
            syn_acks[0].1.wrapping_add(27).wrapping_add(65_537)
        );
        assert!(app_saw(
            &t,
            client,
            "connect() at 1.000s took local port 40000"
        ));
    }
}

#[test]
fn an_old_looking_syn_is_acked_from_time_wait_and_dropped() {
    let t = run("time-wait-reuse");
    let addr = "192.0.2.13";
    let syns = abs_seqs(&t, "client-old", "192.0.2.2", "S");
    assert_eq!(
        syns.len(),
        3,
        "first SYN, the reconnect, its retransmission"
    );
    assert_eq!(
        syns[1].1, syns[0].1,
        "ISN clock off: the same ISN as before"
    );
    // TIME_WAIT answers with its old numbers (ACK = old RCV.NXT = ISN + 20, after the
    // 18-byte request and the FIN), not with a SYN-ACK.
    let answers = abs_seqs(&t, "server", addr, "A");
    let answer = answers.iter().find(|a| a.0 == SEC + 10 * MS).unwrap();
    assert_eq!(answer.2, syns[0].1.wrapping_add(20));
    // The client in SYN_SENT resets that unacceptable ACK (RFC 9293 §3.10.7.3), the RST
    // is exactly TIME_WAIT's RCV.NXT and ends it (tcp_rfc1337=0); the SYN retransmitted
    // after 1 s opens the connection.
    let rst = abs_seqs(&t, "client-old", "192.0.2.2", "R");
    assert_eq!(rst, [(SEC + 20 * MS, syns[0].1.wrapping_add(20), 0)]);
    let server_side = changes(&t, "server", addr);
    let at = |label: &str| {
        server_side
            .iter()
            .filter(|c| c.1 == label)
            .map(|c| c.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(at("TIME_WAIT>CLOSED")[0], SEC + 30 * MS);
    assert_eq!(server_side[5].2, "rcv RST");
    assert_eq!(at("LISTEN>SYN_RECEIVED")[1], 2 * SEC + 10 * MS);
    assert_eq!(syns[2].0, 2 * SEC);
    // The RST's kill is in the state change above, not in TWKilled (Linux counts no MIB
    // for it).
    assert_eq!(counter(&t, "server", "TWKilled"), 0);
}

#[test]
fn tcp_tw_reuse_takes_over_a_client_time_wait_after_one_second_with_timestamps() {
    let t = run("time-wait-reuse");
    let failures = |host: &str| {
        saw(&t)
            .iter()
            .filter(|s| s.starts_with(&format!("{host}:")) && s.contains("EADDRNOTAVAIL"))
            .count()
    };
    // tcp_tw_reuse=1, timestamps: too young at 0.5 s, reused at 1.5 s.
    assert_eq!(failures("client-reuse"), 1);
    assert!(app_saw(
        &t,
        "client-reuse",
        "connect() at 1.500s took local port 50000"
    ));
    assert_eq!(counter(&t, "client-reuse", "TWRecycled"), 1);
    let syns = abs_seqs(&t, "client-reuse", "192.0.2.2", "S");
    assert_eq!(syns.len(), 2);
    assert_eq!(
        syns[1].1,
        syns[0].1.wrapping_add(20).wrapping_add(65_537),
        "Linux tcp_twsk_unique: ISS = old SND.NXT + 65537"
    );
    let reused = changes(&t, "client-reuse", "");
    assert!(reused.contains(&(
        1500 * MS,
        "TIME_WAIT>CLOSED".into(),
        "TIME_WAIT reused".into()
    )));
    // Without timestamps, or with the default 2 (loopback only): EADDRNOTAVAIL both times.
    for host in ["client-reuse-nots", "client-reuse-2"] {
        assert_eq!(failures(host), 2, "{host}");
        assert_eq!(counter(&t, host, "TWRecycled"), 0);
    }
}
