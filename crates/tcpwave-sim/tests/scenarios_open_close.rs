//! The opening and closing scenarios, checked against shared/SCENARIOS.md's
//! "what must be seen": exact segments, both sides' states, and the timings.

mod support;
use support::*;

#[test]
fn three_way_handshake_is_syn_synack_ack_with_options_negotiated() {
    let t = run("three-way-handshake");
    assert_eq!(
        sent(&t),
        vec![
            seg("client", "S", 0, 0, 0),
            seg("server", "SA", 0, 1, 0),
            seg("client", "A", 1, 1, 0)
        ]
    );
    assert_eq!(
        path(&t, "client"),
        ["CLOSED>SYN_SENT", "SYN_SENT>ESTABLISHED"]
    );
    assert_eq!(
        path(&t, "server"),
        ["LISTEN>SYN_RECEIVED", "SYN_RECEIVED>ESTABLISHED"]
    );
    let opts: Vec<&str> = t.sent().map(|(_, s)| s.options.as_str()).collect();
    for o in &opts[..2] {
        assert!(o.starts_with("mss 1460,sackOK,TS val "), "{o}");
        assert!(o.ends_with("wscale 7"), "{o}");
    }
    assert!(
        opts[2].starts_with("TS val "),
        "timestamps on every segment: {}",
        opts[2]
    );
    let syn = t.sent().next().unwrap().1;
    assert_eq!(
        syn.win, 64240,
        "Linux rounds the SYN window to whole segments"
    );
    assert_eq!(final_state(&t, "client"), ["ESTABLISHED"]);
    assert_eq!(final_state(&t, "server"), ["ESTABLISHED"]);
}

/// The states of an ordinary close, the client closing first: the same whether the
/// server's ACK of the FIN travels alone (four-way-close), on its FIN
/// (three-segment-close) or the final ACK is lost on the way (lost-final-ack).
fn assert_active_and_passive_close_paths(t: &tcpwave_trace::Trace) {
    assert_eq!(
        path(t, "client"),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>TIME_WAIT",
            "TIME_WAIT>CLOSED"
        ]
    );
    assert_eq!(
        path(t, "server"),
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>CLOSE_WAIT",
            "CLOSE_WAIT>LAST_ACK",
            "LAST_ACK>CLOSED"
        ]
    );
}

#[test]
fn four_way_close_fin_ack_fin_ack_and_sixty_seconds_of_time_wait() {
    let t = run("four-way-close");
    let segs = sent(&t);
    assert_eq!(
        segs,
        vec![
            seg("client", "S", 0, 0, 0),
            seg("server", "SA", 0, 1, 0),
            seg("client", "A", 1, 1, 0),
            seg("client", "PA", 1, 1, 18),
            seg("server", "A", 1, 19, 0),
            seg("server", "PA", 1, 19, 25),
            seg("client", "A", 19, 26, 0),
            // The four waves: FIN(seq=u) -> ACK(u+1) -> FIN(seq=w) -> ACK(w+1).
            seg("client", "FA", 19, 26, 0),
            seg("server", "A", 26, 20, 0),
            seg("server", "FA", 26, 20, 0),
            seg("client", "A", 20, 27, 0),
        ]
    );
    assert_active_and_passive_close_paths(&t);
    let tw = times_of(&t, "client", "TIME_WAIT")[0];
    let closed = *times_of(&t, "client", "CLOSED").last().unwrap();
    assert_eq!(
        closed - tw,
        60 * SEC,
        "Linux TIME_WAIT is 60 s (TCP_TIMEWAIT_LEN), not 30 s"
    );
    // The final ACK is sent on entering TIME_WAIT, not after it.
    let final_ack = t.sent().last().unwrap().0.t_us;
    assert_eq!(final_ack, tw);
    assert_eq!(
        saw(&t).len(),
        1,
        "the server read end of file: {:?}",
        saw(&t)
    );
    // CLOSE_WAIT: Linux delays the ACK of the FIN by 40 ms (pingpong mode); the
    // application closes 100 ms after it read EOF.
    let close_wait = times_of(&t, "server", "CLOSE_WAIT")[0];
    let server_sent: Vec<u64> = t
        .sent()
        .filter(|(e, _)| e.host == "server")
        .map(|(e, _)| e.t_us)
        .collect();
    let n = server_sent.len();
    assert_eq!(
        server_sent[n - 2] - close_wait,
        40 * MS,
        "the ACK of the FIN"
    );
    assert_eq!(
        server_sent[n - 1] - close_wait,
        100 * MS,
        "the server's FIN"
    );
}

#[test]
fn three_segment_close_when_the_server_closes_at_once() {
    let t = run("three-segment-close");
    let segs = sent(&t);
    assert_eq!(
        segs[7..],
        [
            seg("client", "FA", 19, 26, 0),
            // The ACK of the client's FIN rides on the server's FIN.
            seg("server", "FA", 26, 20, 0),
            seg("client", "A", 20, 27, 0),
        ]
    );
    assert_active_and_passive_close_paths(&t);
    // FIN_WAIT_2 lasts no time: one segment acknowledges our FIN and carries theirs.
    assert_eq!(
        times_of(&t, "client", "FIN_WAIT_2"),
        times_of(&t, "client", "TIME_WAIT")
    );
}

#[test]
fn time_wait_length_follows_msl() {
    let t = run_with("four-way-close", &["msl_ms=15000"]);
    let tw = times_of(&t, "client", "TIME_WAIT")[0];
    let closed = *times_of(&t, "client", "CLOSED").last().unwrap();
    assert_eq!(closed - tw, 30 * SEC);
}

#[test]
fn half_close_keeps_data_flowing_from_close_wait_to_fin_wait_2() {
    let t = run("half-close");
    let segs = sent(&t);
    // The client's request leaves with its FIN (shutdown right after send).
    assert_eq!(segs[3], seg("client", "FPA", 1, 1, 18));
    assert_eq!(segs[4], seg("server", "A", 1, 20, 0));
    let chunks: Vec<_> = segs.iter().filter(|s| s.0 == "server" && s.4 > 0).collect();
    assert_eq!(
        chunks.len(),
        3,
        "three chunks sent from CLOSE_WAIT: {segs:?}"
    );
    assert_eq!(chunks[0].2, 1);
    assert_eq!(chunks[1].2, 1 + chunks[0].4);
    assert_active_and_passive_close_paths(&t);
    // Every chunk was sent while the server was in CLOSE_WAIT and received while the
    // client was in FIN_WAIT_2.
    let fw2 = times_of(&t, "client", "FIN_WAIT_2")[0];
    let last_ack = times_of(&t, "server", "LAST_ACK")[0];
    for (e, s) in t.sent().filter(|(e, s)| e.host == "server" && s.len > 0) {
        assert!(
            e.t_us > fw2 && e.t_us < last_ack,
            "chunk at {} outside CLOSE_WAIT/FIN_WAIT_2 ({s:?})",
            e.t_us
        );
    }
    let client_read: usize = t
        .events
        .iter()
        .filter(|e| e.host == "client")
        .filter_map(|e| match &e.body {
            tcpwave_trace::Body::App(n)
                if n.text.starts_with("recv() = ") && n.text.contains("bytes") =>
            {
                Some(1)
            }
            _ => None,
        })
        .count();
    assert_eq!(client_read, 3, "the half-closed client read each chunk");
}

#[test]
fn simultaneous_close_goes_through_closing_on_both_sides() {
    let t = run("simultaneous-close");
    for host in ["client", "server"] {
        let p = path(&t, host);
        let tail: Vec<&str> = p.iter().rev().take(4).rev().map(|s| s.as_str()).collect();
        assert_eq!(
            tail,
            [
                "ESTABLISHED>FIN_WAIT_1",
                "FIN_WAIT_1>CLOSING",
                "CLOSING>TIME_WAIT",
                "TIME_WAIT>CLOSED"
            ],
            "{host}"
        );
        let tw = times_of(&t, host, "TIME_WAIT")[0];
        assert_eq!(
            *times_of(&t, host, "CLOSED").last().unwrap() - tw,
            60 * SEC,
            "{host} holds TIME_WAIT"
        );
    }
    let segs = sent(&t);
    let fins: Vec<_> = segs.iter().filter(|s| s.1.contains('F')).collect();
    assert_eq!(
        fins,
        [
            &seg("client", "FA", 19, 26, 0),
            &seg("server", "FA", 26, 19, 0)
        ]
    );
    assert_eq!(
        segs[segs.len() - 2..],
        [seg("server", "A", 27, 20, 0), seg("client", "A", 20, 27, 0)]
    );
}

#[test]
fn simultaneous_open_passes_through_syn_received_on_both_sides() {
    let t = run("simultaneous-open");
    for host in ["peer-a", "peer-b"] {
        assert_eq!(
            path(&t, host),
            [
                "CLOSED>SYN_SENT",
                "SYN_SENT>SYN_RECEIVED",
                "SYN_RECEIVED>ESTABLISHED"
            ],
            "{host}"
        );
        assert_eq!(final_state(&t, host), ["ESTABLISHED"]);
    }
    assert_eq!(
        sent(&t),
        vec![
            seg("peer-a", "S", 0, 0, 0),
            seg("peer-b", "S", 0, 0, 0),
            seg("peer-b", "SA", 0, 1, 0),
            seg("peer-a", "SA", 0, 1, 0)
        ]
    );
}

#[test]
fn unknown_knob_is_refused_with_the_list() {
    let opts = tcpwave_sim::scenarios::RunOptions {
        seed: 1,
        settings: vec!["tcp_tw_recycle=1".into()],
    };
    let err = tcpwave_sim::scenarios::run("four-way-close", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tcp_tw_recycle") && err.contains("tcp_fin_timeout_s"),
        "{err}"
    );
    let err = tcpwave_sim::scenarios::run("no-such-scenario", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("four-way-close"), "{err}");
}

#[test]
fn same_seed_same_trace() {
    let a = serde_json::to_string(&run("lost-final-ack")).unwrap();
    let b = serde_json::to_string(&run("lost-final-ack")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn rcv_nxt_is_null_in_snapshots_until_the_peer_syn_arrives() {
    // The client's SYN_SENT block used to show RCV.NXT relative to a peer ISN it had
    // not received yet (four-way-close: rcv_nxt 659683809 after event 6).
    for name in ["four-way-close", "three-way-handshake", "port-closed"] {
        let t = run(name);
        let mut syn_sent_blocks = 0;
        for snapshot in &t.snapshots {
            for block in &snapshot.blocks {
                if block.state == "SYN_SENT" {
                    syn_sent_blocks += 1;
                    assert_eq!(block.rcv_nxt, None, "{name}: {block:?}");
                } else if block.state != "CLOSED" {
                    // Once the peer's SYN is in, RCV.NXT counts from it: 1 + data + FIN.
                    let rcv_nxt = block.rcv_nxt.expect("defined after the SYN");
                    assert!((1..100_000).contains(&rcv_nxt), "{name}: {block:?}");
                }
            }
        }
        assert!(syn_sent_blocks > 0, "{name}: some snapshot shows SYN_SENT");
        let json: serde_json::Value = serde_json::to_value(&t).unwrap();
        let block = json["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["blocks"].as_array().unwrap())
            .find(|b| b["state"] == "SYN_SENT")
            .unwrap();
        assert!(block["rcv_nxt"].is_null(), "{name}: {block}");
        assert!(
            json["outcome"]["figures"].is_array(),
            "{name}: figures present"
        );
    }
}
