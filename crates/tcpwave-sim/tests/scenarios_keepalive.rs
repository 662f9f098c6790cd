//! Peers that go away: keepalive against a dead and a live peer, a peer crash while
//! sending (tcp_retries2, tcp_orphan_retries, tcp_syn_retries, TCP_USER_TIMEOUT), a
//! rebooted peer, and a network outage.

mod support;
use support::*;
use tcpwave_trace::{Body, Trace};

/// The request the clients send is 18 bytes: SND.UNA is 19 once it is acknowledged, so
/// a keepalive probe (SEQ = SND.UNA - 1) carries relative sequence number 18.
const PROBE_SEQ: u32 = 18;
const MS: u64 = 1_000;

/// Times at which `host` sent a keepalive probe.
fn probes(t: &Trace, host: &str) -> Vec<u64> {
    t.sent()
        .filter(|(e, s)| e.host == host && s.flags == "A" && s.len == 0 && s.rel_seq == PROBE_SEQ)
        .map(|(e, _)| e.t_us)
        .collect()
}

/// Time of the last segment `host` received before `before`.
fn last_recv_before(t: &Trace, host: &str, before: u64) -> u64 {
    t.events
        .iter()
        .filter(|e| e.host == host && e.t_us < before && matches!(e.body, Body::Recv(_)))
        .map(|e| e.t_us)
        .max()
        .expect("the host received something")
}

/// Times at which `host` sent segments with exactly these flags.
fn sends(t: &Trace, host: &str, flags: &str) -> Vec<u64> {
    t.sent()
        .filter(|(e, s)| e.host == host && s.flags == flags)
        .map(|(e, _)| e.t_us)
        .collect()
}

/// The time of `host`'s transition into CLOSED with `reason`.
fn closed_by(t: &Trace, host: &str, reason: &str) -> Option<u64> {
    t.events.iter().find_map(|e| match &e.body {
        Body::State(s) if e.host == host && s.to == "CLOSED" && s.reason == reason => Some(e.t_us),
        _ => None,
    })
}

#[test]
fn keepalive_probes_a_dead_peer_then_resets_with_etimedout() {
    let t = run("keepalive-dead-peer");
    // Linux defaults: 7200 s of silence, 9 probes 75 s apart, RST at the tenth expiry.
    let p = probes(&t, "client");
    assert_eq!(p.len(), 9, "{p:?}");
    let idle_from = last_recv_before(&t, "client", p[0]);
    assert_eq!(p[0] - idle_from, 7200 * SEC);
    for pair in p.windows(2) {
        assert_eq!(pair[1] - pair[0], 75 * SEC);
    }
    let reset = closed_by(&t, "client", "keepalive probes unanswered").unwrap();
    assert_eq!(reset - idle_from, 7875 * SEC);
    // The RST goes out at SND.NXT, one above the probes.
    let last = sent_between(&t, "client", "server")
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last, seg("client", "RA", PROBE_SEQ + 1, 26, 0));
    assert!(app_saw(&t, "client", "ETIMEDOUT"));
    for name in ["TCPAbortOnTimeout", "OutRsts", "EstabResets"] {
        assert_eq!(counter(&t, "client", name), 1, "{name}");
    }
    assert_eq!(
        path(&t, "client"),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>CLOSED"
        ]
    );
}

#[test]
fn per_socket_keepalive_options_override_the_sysctls() {
    let t = run("keepalive-dead-peer");
    // TCP_KEEPIDLE 60 s, TCP_KEEPINTVL 10 s, TCP_KEEPCNT 3.
    let p = probes(&t, "client2");
    let idle_from = last_recv_before(&t, "client2", p[0]);
    let offsets: Vec<u64> = p.iter().map(|x| (x - idle_from) / SEC).collect();
    assert_eq!(offsets, [60, 70, 80]);
    let reset = closed_by(&t, "client2", "keepalive probes unanswered").unwrap();
    assert_eq!(reset - idle_from, 90 * SEC);
    assert!(app_saw(&t, "client2", "ETIMEDOUT"));
}

#[test]
fn tcp_user_timeout_replaces_the_probe_count() {
    let t = run("keepalive-dead-peer");
    // As client2 with TCP_USER_TIMEOUT 100 s: Linux ignores KEEPCNT and resets at the
    // first check at least 100 s after the last segment, after a probe went unanswered.
    let p = probes(&t, "client3");
    let idle_from = last_recv_before(&t, "client3", p[0]);
    let offsets: Vec<u64> = p.iter().map(|x| (x - idle_from) / SEC).collect();
    assert_eq!(offsets, [60, 70, 80, 90]);
    let reset = closed_by(&t, "client3", "keepalive probes unanswered").unwrap();
    assert_eq!(reset - idle_from, 100 * SEC);
    assert!(app_saw(&t, "client3", "ETIMEDOUT"));
}

#[test]
fn keepalive_probes_to_a_live_peer_are_acked_and_the_idle_timer_restarts() {
    let t = run("keepalive-alive-peer");
    let p = probes(&t, "client");
    assert_eq!(p.len(), 3, "{p:?}");
    let segs = sent(&t);
    for &at in &p {
        // The peer answers from its own sequence space: <SEQ=SND.NXT><ACK=RCV.NXT>.
        let answer = t
            .sent()
            .find(|(e, _)| e.host == "server" && e.t_us == at + 10 * MS)
            .map(|(e, s)| (e.host.clone(), s.flags.clone(), s.rel_seq, s.rel_ack, s.len));
        assert_eq!(answer, Some(seg("server", "A", 26, 19, 0)), "{segs:?}");
    }
    // Each answer restarts the 7200 s: the next probe comes 7200 s after it arrived.
    for pair in p.windows(2) {
        assert_eq!(pair[1] - pair[0], 7200 * SEC + 20 * MS);
    }
    assert_eq!(final_state(&t, "client"), ["ESTABLISHED"]);
    assert_eq!(final_state(&t, "server"), ["ESTABLISHED", "ESTABLISHED"]);
    assert!(
        !saw(&t).iter().any(|s| s.contains("error")),
        "{:?}",
        saw(&t)
    );
    assert_eq!(counter(&t, "client", "TCPAbortOnTimeout"), 0);
}

#[test]
fn keepalive_switched_on_late_waits_a_full_idle_time_from_then() {
    let t = run("keepalive-alive-peer");
    // Idle since 40 ms; SO_KEEPALIVE at 1000 s: Linux tcp_set_keepalive arms the timer
    // keepalive_time from now, so the first probe is at 8200 s, not 7200.04 s.
    let p = probes(&t, "client2");
    assert_eq!(p[0], 8200 * SEC);
    assert_eq!(p[1] - p[0], 7200 * SEC + 20 * MS);
    assert_eq!(final_state(&t, "client2"), ["ESTABLISHED"]);
}

#[test]
fn a_peer_crash_while_sending_times_out_after_tcp_retries2() {
    let t = run("peer-crash");
    let data = sends(&t, "client", "PA");
    assert_eq!(data.len(), 16, "the write and 15 retransmissions");
    assert_eq!(data[0], 2 * SEC);
    // RTO = SRTT 20 ms + max(4 RTTVAR, 200 ms), doubled on every expiry up to 120 s.
    let gaps: Vec<u64> = data.windows(2).map(|w| (w[1] - w[0]) / MS).collect();
    assert_eq!(
        gaps,
        [
            220, 440, 880, 1760, 3520, 7040, 14080, 28160, 56320, 112640, 120000, 120000, 120000,
            120000, 120000
        ]
    );
    // Linux tcp_model_timeout: 15 retries from 200 ms is 924.6 s; the 16th expiry, at
    // 945.06 s, is the first past it.
    let gave_up = closed_by(&t, "client", "retransmissions exhausted").unwrap();
    assert_eq!(gave_up - data[0], 945_060 * MS);
    assert!(app_saw(&t, "client", "ETIMEDOUT"));
    assert!(sends(&t, "client", "RA").is_empty(), "no RST on a timeout");
    assert_eq!(counter(&t, "client", "RetransSegs"), 15);
    assert_eq!(counter(&t, "client", "TCPAbortOnTimeout"), 1);
    assert_eq!(counter(&t, "client", "EstabResets"), 1);
}

#[test]
fn an_orphan_gives_up_after_tcp_orphan_retries() {
    let t = run("peer-crash");
    // close() after the write: FIN_WAIT_1, orphaned. tcp_orphan_retries 0 means 8:
    // (2^9 - 1) * 200 ms = 102.2 s, first passed at the 9th expiry (112.42 s).
    let data = sends(&t, "client2", "FPA");
    assert_eq!(data.len(), 9, "the write with FIN and 8 retransmissions");
    let gave_up = closed_by(&t, "client2", "retransmissions exhausted").unwrap();
    assert_eq!(gave_up - data[0], 112_420 * MS);
    assert_eq!(
        path(&t, "client2").last().map(String::as_str),
        Some("FIN_WAIT_1>CLOSED")
    );
    assert!(!app_saw(&t, "client2", "error"), "nobody holds the socket");
    assert_eq!(counter(&t, "client2", "TCPAbortOnTimeout"), 1);
}

#[test]
fn a_connect_to_a_dead_host_gives_up_after_tcp_syn_retries() {
    let t = run("peer-crash");
    let syns: Vec<u64> = sends(&t, "client3", "S").iter().map(|x| x / SEC).collect();
    assert_eq!(syns, [5, 6, 8, 12, 20, 36, 68], "1 s initial RTO, doubled");
    let gave_up = closed_by(&t, "client3", "retransmissions exhausted").unwrap();
    assert_eq!(gave_up, (5 + 127) * SEC);
    assert!(app_saw(&t, "client3", "ETIMEDOUT"));
    assert_eq!(counter(&t, "client3", "AttemptFails"), 1);
}

#[test]
fn a_half_open_connection_gives_up_after_tcp_synack_retries() {
    let t = run("peer-crash");
    let syn_acks: Vec<u64> = sends(&t, "server2", "SA").iter().map(|x| x / MS).collect();
    assert_eq!(
        syn_acks,
        [10, 1010, 3010, 7010, 15010, 31010],
        "1 s initial RTO, doubled"
    );
    let dropped = closed_by(&t, "server2", "retransmissions exhausted").unwrap();
    assert_eq!(dropped, 63 * SEC + 10 * MS);
    assert_eq!(
        path(&t, "server2"),
        ["LISTEN>SYN_RECEIVED", "SYN_RECEIVED>CLOSED"]
    );
    assert!(
        !app_saw(&t, "server2", "error"),
        "never accepted: nobody to tell"
    );
    // Linux's request sock is dropped by reqsk_timer_handler without a MIB count: only a
    // full socket (tcp_done) or an embryonic reset counts AttemptFails.
    assert_eq!(counter(&t, "server2", "AttemptFails"), 0);
}

#[test]
fn tcp_user_timeout_cuts_the_last_rto_short() {
    let t = run("peer-crash");
    let data = sends(&t, "client4", "PA");
    assert_eq!(data.len(), 8, "the write and 7 retransmissions");
    assert_eq!(*data.last().unwrap() - data[0], 27_940 * MS);
    let gave_up = closed_by(&t, "client4", "retransmissions exhausted").unwrap();
    assert_eq!(
        gave_up - data[0],
        30 * SEC,
        "exactly TCP_USER_TIMEOUT after the write"
    );
    assert!(app_saw(&t, "client4", "ETIMEDOUT"));
}

#[test]
fn a_rebooted_peer_answers_with_rst_and_the_app_sees_econnreset() {
    let t = run("peer-crash-reboot");
    let segs = sent_between(&t, "client", "server");
    let n = segs.len();
    // Our write at 60 s reaches a host that forgot the connection: <SEQ=SEG.ACK><CTL=RST>,
    // which is exactly our RCV.NXT.
    assert_eq!(
        segs[n - 2..],
        [
            seg("client", "PA", 19, 26, 15),
            seg("server", "R", 26, 0, 0)
        ]
    );
    let reset = closed_by(&t, "client", "rcv RST").unwrap();
    assert_eq!(reset, 60 * SEC + 20 * MS);
    assert!(app_saw(&t, "client", "ECONNRESET"));
    // The idle one finds out with its first keepalive probe.
    let p = probes(&t, "client2");
    assert_eq!(p.len(), 1);
    let reply = sent_between(&t, "client2", "server")
        .last()
        .cloned()
        .unwrap();
    assert_eq!(reply, seg("server", "R", 26, 0, 0));
    assert!(app_saw(&t, "client2", "ECONNRESET"));
    assert_eq!(counter(&t, "client", "EstabResets"), 1);
}

#[test]
fn an_outage_spares_idle_connections_and_senders_healed_in_time() {
    let t = run("network-outage-recovery");
    // Idle: nothing was sent during 1090 s of outage, nothing noticed; it works after.
    let idle_reply = t.events.iter().any(|e| {
        e.host == "client-idle"
            && e.t_us > 1200 * SEC
            && matches!(&e.body, Body::App(n) if n.text.starts_with("recv() = 25 bytes"))
    });
    assert!(idle_reply);
    assert_eq!(final_state(&t, "client-idle"), ["ESTABLISHED"]);
    // Short outage: retransmissions at 20.22, ..., 47.94 s are lost; the one at 76.10 s,
    // after the heal at 70 s, gets through and the reply follows.
    let data = sends(&t, "client-short", "PA");
    let delivered = *data.last().unwrap();
    assert_eq!(delivered, 20 * SEC + 56_100 * MS);
    let dropped = drops(&t)
        .iter()
        .filter(|d| d.0 == "client-short" && d.1 == "PA")
        .count();
    assert_eq!(
        dropped,
        data.len() - 2,
        "all but the first request and the last try"
    );
    assert!(t.events.iter().any(|e| e.host == "client-short"
        && e.t_us > delivered
        && matches!(&e.body, Body::App(n) if n.text.starts_with("recv() = 25 bytes"))));
    assert_eq!(final_state(&t, "client-short"), ["ESTABLISHED"]);
    // Long outage: the retransmissions run out first.
    let gave_up = closed_by(&t, "client-long", "retransmissions exhausted").unwrap();
    assert_eq!(gave_up, 20 * SEC + 945_060 * MS);
    assert!(app_saw(&t, "client-long", "ETIMEDOUT"));
    assert!(!app_saw(&t, "client-short", "error"));
    assert!(!app_saw(&t, "client-idle", "error"));
}

/// Run `name` with `settings` on another thread; fail (instead of hanging the suite) if
/// it has not finished after `limit`.
fn finishes_within(name: &'static str, settings: &[&str], limit: std::time::Duration) -> Trace {
    let settings: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
        let _ = done.send(run_with(name, &settings));
    });
    finished
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{name} did not finish within {limit:?}"))
}

#[test]
fn keepalive_scenarios_finish_with_every_keepalive_knob_at_its_smallest_value() {
    // tcp_keepalive_time_s=0 used to re-arm the keepalive timer at the instant it fired
    // (data in flight) and spin for ever; 1 s, 1 s and 0 or 1 probes are the smallest
    // values Config::set accepts.
    let limit = std::time::Duration::from_secs(120);
    for name in ["keepalive-dead-peer", "keepalive-alive-peer"] {
        for count in ["tcp_keepalive_probes=0", "tcp_keepalive_probes=1"] {
            let smallest = ["tcp_keepalive_time_s=1", "tcp_keepalive_intvl_s=1", count];
            let t = finishes_within(name, &smallest, limit);
            if name == "keepalive-dead-peer" {
                assert!(
                    closed_by(&t, "client", "keepalive probes unanswered").is_some(),
                    "{name} {count}: the client gives up on its dead peer"
                );
            }
        }
    }
}

#[test]
fn a_zero_keepalive_time_or_interval_is_refused_with_the_reason() {
    for setting in ["tcp_keepalive_time_s=0", "tcp_keepalive_intvl_s=0"] {
        let opts = tcpwave_sim::scenarios::RunOptions {
            seed: 1,
            settings: vec![setting.to_string()],
        };
        let err = tcpwave_sim::scenarios::run("keepalive-dead-peer", &opts)
            .err()
            .unwrap_or_else(|| panic!("{setting} was accepted"))
            .to_string();
        let knob = setting.split('=').next().unwrap();
        assert!(err.contains(knob), "{err}");
        assert!(err.contains("at least 1"), "{err}");
        assert!(err.contains("keepalive timer would re-arm"), "{err}");
    }
}
