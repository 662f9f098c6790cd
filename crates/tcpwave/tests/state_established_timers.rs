//! ESTABLISHED, timers: retransmission (RFC 6298 with Linux's 200 ms floor, Karn's
//! rule), fast retransmit (RFC 5681 §3.2), giving up (Linux tcp_retries2, 924.6 s),
//! zero-window probes (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) and keepalive (RFC 1122
//! §4.2.3.6, Linux tcp_keepalive_*).

#[macro_use]
mod support;
use support::*;

fn seqs(t: &T) -> (SeqNumber, SeqNumber) {
    (t.iss + 1u32, PEER_ISS + 1u32)
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// RTO after the handshake: its RTT sample was 0 (the harness answers at once), so
/// RTO = SRTT + max(4 * RTTVAR, 200 ms) = 200 ms (Linux TCP_RTO_MIN).
const RTO: u64 = 200;

// =======================================================================================
// ESTABLISHED: retransmission timeout
// =======================================================================================

#[test]
fn unacknowledged_data_is_retransmitted_with_a_doubling_timeout() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    assert_eq!(
        t.ep.info(t.conn()).unwrap().rto_micros,
        ms(RTO).total_micros()
    );
    t.write(b"data");
    recv!(t, data(a, p, b"data"));
    let mut at = t.now;
    for backoff in 0..6 {
        // RFC 6298 (5.5): "back off the timer" by two at each expiry.
        at += ms(RTO << backoff);
        t.quiet_until(at);
        recv!(t, data(a, p, b"data"));
        recv_nothing!(t);
    }
    let c = *t.ep.counters();
    // Each expiry counted once (Linux tcp_retransmit_timer: LINUX_MIB_TCPTIMEOUTS); no SYN.
    assert_eq!((c.RetransSegs, c.TCPTimeouts, c.TCPSynRetrans), (6, 6, 0));
    // An ACK stops the timer.
    send!(t, ack(p, a + 4u32));
    assert_eq!(t.ep.info(t.conn()).unwrap().retransmit_at, None);
}

#[test]
fn an_expiry_with_the_peers_window_shrunk_to_zero_is_not_counted_as_a_timeout() {
    // Linux tcp_retransmit_timer: with snd_wnd 0 (and the socket not orphaned) the
    // expiry takes the "receiver shrinks window" branch, which retransmits without
    // counting LINUX_MIB_TCPTIMEOUTS.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"data");
    recv!(t, data(a, p, b"data"));
    // The peer takes nothing and shrinks its window to zero.
    send!(t, ack(p, a).win(0));
    t.quiet_until(t.now + ms(RTO));
    // The head goes out again all the same, a probe of the shrunk window, as Linux's
    // tcp_retransmit_skb in that branch; the timer backs off and runs on.
    recv!(t, data(a, p, b"data"));
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!(info.rto_micros, ms(2 * RTO).total_micros(), "{info:?}");
    assert!(info.retransmit_at.is_some(), "the timer runs on");
    let c = *t.ep.counters();
    assert_eq!((c.RetransSegs, c.TCPTimeouts), (1, 0), "{c:?}");
}

#[test]
fn retransmissions_give_up_after_924_6_seconds_with_etimedout() {
    // Linux tcp_retries2 = 15 with RTO 200 ms doubling to the 120 s cap: 15
    // retransmissions, and the 16th expiry at 924.6 s gives up. No RST is sent.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"anyone there?");
    recv!(t, data(a, p, b"anyone there?"));
    let sent = t.now;
    let expiries_ms = [
        200, 600, 1_400, 3_000, 6_200, 12_600, 25_400, 51_000, 102_200, 204_600, 324_600, 444_600,
        564_600, 684_600, 804_600,
    ];
    for at in expiries_ms {
        t.quiet_until(sent + ms(at));
        recv!(t, data(a, p, b"anyone there?"));
        assert_eq!(t.state(), Some(State::Established));
    }
    t.quiet_until(sent + ms(924_600));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::Established, State::Closed, Reason::RetransmitTimeout),
            Event::Error {
                conn: t.conn(),
                error: Error::TimedOut
            },
        ]
    );
    assert_eq!(Error::TimedOut.errno(), 110);
    let counters = *t.ep.counters();
    assert_eq!(counters.TCPAbortOnTimeout, 1);
    assert_eq!(counters.RetransSegs, 15);
    // 15 expiries retransmitted, the 16th gave up: Linux counts TCPTimeouts before
    // tcp_write_timeout decides, so 16.
    assert_eq!(counters.TCPTimeouts, 16);
    // Linux tcp_set_state counts every ESTABLISHED -> CLOSE in EstabResets.
    assert_eq!(counters.EstabResets, 1);
    assert_eq!(t.ep.poll_timeout(), None);
}

#[test]
fn tcp_retries2_sets_how_long_retransmissions_go_on() {
    // tcp_retries2 = 3: 200 + 400 + 800 + 1600 ms = 3 s.
    let mut t = established(Config {
        tcp_retries2: 3,
        ..config()
    });
    let (a, p) = seqs(&t);
    t.write(b"x");
    recv!(t, data(a, p, b"x"));
    let sent = t.now;
    for at in [200, 600, 1_400] {
        t.quiet_until(sent + ms(at));
        recv!(t, data(a, p, b"x"));
    }
    t.quiet_until(sent + ms(3_000));
    recv_nothing!(t);
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
}

#[test]
fn an_rtt_sample_sets_rto_by_rfc_6298() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"timed");
    recv!(t, data(a, p, b"timed"));
    t.advance(ms(100));
    send!(t, ack(p, a + 5u32));
    // After the handshake's sample of 0: RTTVAR = 3/4 * 0 + 1/4 * 100 = 25 ms,
    // SRTT = 7/8 * 0 + 1/8 * 100 = 12.5 ms; RTO = 12.5 + max(4 * 25, 200) ms.
    assert_eq!(t.ep.info(t.conn()).unwrap().rto_micros, 212_500);
}

#[test]
fn ack_of_a_retransmitted_segment_gives_no_rtt_sample() {
    // Karn's rule (RFC 6298 §3): the ACK may be for either transmission.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"a");
    recv!(t, data(a, p, b"a"));
    let sent = t.now;
    t.quiet_until(sent + ms(RTO));
    recv!(t, data(a, p, b"a"));
    t.advance(ms(1_000));
    send!(t, ack(p, a + 1u32));
    // No sample: RTO is still 200 ms, and the backoff ended with the new ACK.
    assert_eq!(
        t.ep.info(t.conn()).unwrap().rto_micros,
        ms(RTO).total_micros()
    );
    t.write(b"b");
    recv!(t, data(a + 1u32, p, b"b"));
    let sent = t.now;
    t.quiet_until(sent + ms(RTO));
    recv!(t, data(a + 1u32, p, b"b"));
}

#[test]
fn timeout_retransmits_one_segment_then_slow_starts_through_the_rest() {
    // RFC 5681 §3.1: after a timeout cwnd is one segment; RFC 6298 (5.4): retransmit
    // the earliest unacknowledged segment.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let payload = bytes(3 * 1460);
    t.write(&payload);
    for i in 0..3u32 {
        assert_eq!(t.recv_any().seq, a + i * 1460);
    }
    let sent = t.now;
    t.quiet_until(sent + ms(RTO));
    recv!(t, ack(a, p).payload(&payload[..1460]));
    recv_nothing!(t);
    assert_eq!(t.ep.info(t.conn()).unwrap().cwnd, 1460);
    // The ACK of the first segment doubles cwnd: the other two go again.
    send!(t, ack(p, a + 1460u32));
    recv!(t, ack(a + 1460u32, p).payload(&payload[1460..2920]));
    recv!(t, data(a + 2920u32, p, &payload[2920..]));
    recv_nothing!(t);
}

#[test]
fn three_duplicate_acks_fast_retransmit_one_segment() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let payload = bytes(5 * 1460);
    t.write(&payload);
    for _ in 0..5 {
        t.recv_any();
    }
    send!(t, ack(p, a + 1460u32));
    // The second segment is lost: every later one draws a duplicate ACK.
    for _ in 0..2 {
        send!(t, ack(p, a + 1460u32));
        recv_nothing!(t);
    }
    send!(t, ack(p, a + 1460u32));
    // RFC 5681 §3.2 step 2: after the third duplicate, retransmit that one segment,
    // long before the RTO; nothing else is resent.
    recv!(t, ack(a + 1460u32, p).payload(&payload[1460..2920]));
    recv_nothing!(t);
    let info = t.ep.info(t.conn()).unwrap();
    // ssthresh = max(FlightSize / 2, 2 * SMSS) = 2920; cwnd = ssthresh + 3 * SMSS.
    assert_eq!((info.ssthresh, info.cwnd), (2920, 2920 + 3 * 1460));
    // More duplicates inflate the window but resend nothing.
    send!(t, ack(p, a + 1460u32));
    recv_nothing!(t);
    // The full ACK ends recovery with cwnd = ssthresh (RFC 6582 §3.2 step 3).
    send!(t, ack(p, a + 7300u32));
    recv_nothing!(t);
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!(info.cwnd, 2920);
    assert_eq!(info.retransmit_at, None);
}

#[test]
fn a_partial_ack_in_recovery_retransmits_the_next_hole_only() {
    // RFC 6582 §3.2 step 3: a partial ACK retransmits the first unacknowledged segment.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let payload = bytes(6 * 1460);
    t.write(&payload);
    for _ in 0..6 {
        t.recv_any();
    }
    // Segments 2 and 4 are lost.
    send!(t, ack(p, a + 1460u32));
    for _ in 0..3 {
        send!(t, ack(p, a + 1460u32));
    }
    recv!(t, ack(a + 1460u32, p).payload(&payload[1460..2920]));
    recv_nothing!(t);
    send!(t, ack(p, a + 4380u32));
    recv!(t, ack(a + 4380u32, p).payload(&payload[4380..5840]));
    recv_nothing!(t);
}

// =======================================================================================
// ESTABLISHED: zero window and persist probes
// =======================================================================================

#[test]
fn zero_window_is_probed_with_backoff_and_data_flows_when_it_opens() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"abc");
    recv!(t, data(a, p, b"abc"));
    send!(t, ack(p, a + 3u32).win(0));
    t.write(b"def");
    recv_nothing!(t);
    // Probes carry SEQ = SND.UNA - 1 and no data (Linux tcp_xmit_probe_skb), at RTO
    // doubling: 200, 400, 800 ms apart.
    let mut at = t.now;
    for backoff in 0..3 {
        at += ms(RTO << backoff);
        t.quiet_until(at);
        recv!(t, ack(a + 2u32, p));
        recv_nothing!(t);
        send!(t, ack(p, a + 3u32).win(0));
        recv_nothing!(t);
    }
    // The window opens: the data goes at once.
    send!(t, ack(p, a + 3u32).win(1000));
    recv!(t, data(a + 3u32, p, b"def"));
    // Linux tcp_ack_probe: an opened window ends the backoff, so the new data is timed
    // with the plain RTO.
    let sent = t.now;
    t.quiet_until(sent + ms(RTO));
    recv!(t, data(a + 3u32, p, b"def"));
}

#[test]
fn answered_zero_window_probes_keep_the_connection_for_ever() {
    // RFC 1122 §4.2.2.17: "the sending TCP MUST allow the connection to stay open as
    // long as the receiving TCP continues to send acknowledgments in response to the
    // probe segments". Linux resets icsk_probes_out on every ACK.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"abc");
    recv!(t, data(a, p, b"abc"));
    send!(t, ack(p, a + 3u32).win(0));
    t.write(b"def");
    let mut at = t.now;
    for probe in 0..25u32 {
        at += ms(RTO << probe.min(20)).min(Duration::from_secs(120));
        t.quiet_until(at);
        recv!(t, ack(a + 2u32, p));
        send!(t, ack(p, a + 3u32).win(0));
    }
    assert_eq!(t.state(), Some(State::Established));
    send!(t, ack(p, a + 3u32).win(100));
    recv!(t, data(a + 3u32, p, b"def"));
}

#[test]
fn unanswered_zero_window_probes_give_up_after_tcp_retries2() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"abc");
    recv!(t, data(a, p, b"abc"));
    send!(t, ack(p, a + 3u32).win(0));
    t.write(b"def");
    let armed = t.now;
    let probes_ms = [
        200, 600, 1_400, 3_000, 6_200, 12_600, 25_400, 51_000, 102_200, 204_600, 324_600, 444_600,
        564_600, 684_600, 804_600,
    ];
    for at in probes_ms {
        t.quiet_until(armed + ms(at));
        recv!(t, ack(a + 2u32, p));
    }
    t.quiet_until(armed + ms(924_600));
    recv_nothing!(t);
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
}

// =======================================================================================
// ESTABLISHED: keepalive
// =======================================================================================

#[test]
fn keepalive_probes_an_idle_peer_then_resets_with_etimedout() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepAlive(true));
    assert_eq!(
        t.ep.info(t.conn()).unwrap().keepalive_at,
        Some(START + Duration::from_secs(7200))
    );
    // tcp_keepalive_time 7200 s, then tcp_keepalive_intvl 75 s: 9 probes carrying
    // SEQ = SND.UNA - 1 (RFC 1122 §4.2.3.6), none answered.
    for k in 0..9u64 {
        t.quiet_until(START + Duration::from_secs(7200 + 75 * k));
        recv!(t, ack(a - 1u32, p));
        recv_nothing!(t);
    }
    // tcp_keepalive_probes = 9 unanswered: Linux sends RST and reports ETIMEDOUT.
    t.quiet_until(START + Duration::from_secs(7200 + 75 * 9));
    recv!(t, rst_ack(a, p));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::Established, State::Closed, Reason::KeepaliveTimeout),
            Event::Error {
                conn: t.conn(),
                error: Error::TimedOut
            },
        ]
    );
    assert_eq!(t.ep.counters().TCPAbortOnTimeout, 1);
}

#[test]
fn keepalive_answered_by_the_peer_keeps_the_connection_for_ever() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepAlive(true));
    // Each probe is answered at once; the next comes a full idle time later. Many
    // more rounds than tcp_keepalive_probes: answered probes are not counted.
    for round in 1..=12u64 {
        t.quiet_until(START + Duration::from_secs(7200 * round));
        recv!(t, ack(a - 1u32, p));
        send!(t, ack(p, a));
        recv_nothing!(t);
        assert_eq!(t.state(), Some(State::Established), "round {round}");
    }
}

#[test]
fn keepalive_knobs_per_socket() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepIdle(Duration::from_secs(10)));
    t.set(SockOpt::KeepIntvl(Duration::from_secs(5)));
    t.set(SockOpt::KeepCnt(3));
    t.set(SockOpt::KeepAlive(true));
    for at in [10, 15, 20] {
        t.quiet_until(START + Duration::from_secs(at));
        recv!(t, ack(a - 1u32, p));
    }
    t.quiet_until(START + Duration::from_secs(25));
    recv!(t, rst_ack(a, p));
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
}

#[test]
fn keepalive_options_out_of_linux_range_are_einval() {
    // Linux do_tcp_setsockopt: TCP_KEEPIDLE and TCP_KEEPINTVL 1..=32767 s, TCP_KEEPCNT
    // 1..=127, else -EINVAL.
    let mut t = established(config());
    let before = t.ep.options(t.conn()).unwrap();
    for refused in [
        SockOpt::KeepIdle(Duration::ZERO),
        SockOpt::KeepIdle(Duration::from_millis(999)),
        SockOpt::KeepIdle(Duration::from_secs(32768)),
        SockOpt::KeepIntvl(Duration::ZERO),
        SockOpt::KeepIntvl(Duration::from_secs(32768)),
        SockOpt::KeepCnt(0),
        SockOpt::KeepCnt(128),
    ] {
        let err = t.ep.set_option(t.now, t.conn(), refused).unwrap_err();
        assert_eq!(err, Error::InvalidInput, "{refused:?}");
        assert_eq!(err.errno(), 22);
    }
    assert_eq!(
        t.ep.options(t.conn()).unwrap(),
        before,
        "refused values change nothing"
    );
    for accepted in [
        SockOpt::KeepIdle(tcpwave::MIN_TCP_KEEPALIVE),
        SockOpt::KeepIdle(tcpwave::MAX_TCP_KEEPIDLE),
        SockOpt::KeepIntvl(tcpwave::MIN_TCP_KEEPALIVE),
        SockOpt::KeepIntvl(tcpwave::MAX_TCP_KEEPINTVL),
        SockOpt::KeepCnt(1),
        SockOpt::KeepCnt(tcpwave::MAX_TCP_KEEPCNT),
    ] {
        t.set(accepted);
    }
}

#[test]
fn keepalive_at_the_smallest_values_probes_once_a_second_and_gives_up() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepIdle(Duration::from_secs(1)));
    t.set(SockOpt::KeepIntvl(Duration::from_secs(1)));
    t.set(SockOpt::KeepCnt(1));
    t.set(SockOpt::KeepAlive(true));
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, ack(a - 1u32, p));
    t.quiet_until(START + Duration::from_secs(2));
    recv!(t, rst_ack(a, p));
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
}

#[test]
fn a_timer_re_armed_at_its_own_instant_does_not_hang_handle_timeout() {
    // A hand-built Config bypasses Config::set's checks: keepalive_time 0 with data in
    // flight re-arms the keepalive timer at `now` from its own expiry. One call to
    // handle_timeout still returns; poll_timeout says `now`, so the driver sees the loop.
    let mut t = established(Config {
        tcp_keepalive_time: Duration::ZERO,
        ..config()
    });
    t.set(SockOpt::KeepAlive(true));
    t.write(b"x");
    let now = t.now;
    for _ in 0..3 {
        t.ep.handle_timeout(now);
        assert_eq!(t.ep.poll_timeout(), Some(now));
    }
}

#[test]
fn keepalive_idle_time_counts_from_the_last_segment_received() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepAlive(true));
    t.advance(Duration::from_secs(1000));
    send!(t, data(p, a, b"still here"));
    recv!(t, ack(a, p + 10u32));
    t.quiet_until(START + Duration::from_secs(1000 + 7200));
    recv!(t, ack(a - 1u32, p + 10u32));
}

#[test]
fn keepalive_waits_while_data_is_in_flight() {
    // Linux tcp_keepalive_timer: with packets out, the retransmission timer is in charge.
    let mut t = established(Config {
        tcp_keepalive_time: Duration::from_secs(10),
        ..config()
    });
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepAlive(true));
    t.set(SockOpt::UserTimeout(Duration::from_secs(3600)));
    t.write(b"x");
    recv!(t, data(a, p, b"x"));
    t.advance(Duration::from_secs(11));
    // Only retransmissions of "x" went out, no keepalive probe.
    while let Some((_, _, seg)) = t.poll() {
        assert_eq!(seg.payload, b"x", "unexpected {seg:?}");
    }
}

#[test]
fn keepalive_off_sends_nothing_however_long_the_silence() {
    let mut t = established(config());
    assert_eq!(
        t.ep.poll_timeout(),
        None,
        "an idle connection arms no timer"
    );
    t.advance(Duration::from_secs(100_000));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Established));
}
