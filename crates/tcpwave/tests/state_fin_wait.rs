//! FIN-WAIT-1 and FIN-WAIT-2: the active closer before the peer's FIN (RFC 9293
//! §3.10.7.4), half-close, simultaneous close, the orphan's retries (Linux
//! tcp_orphan_retries) and the orphaned FIN-WAIT-2 timeout (Linux tcp_fin_timeout).
//!
//! The sources get two things wrong that these tests pin down: the FIN_WAIT_2 side that
//! receives the peer's FIN goes to TIME_WAIT and sends the last ACK at once, and
//! tcp_fin_timeout governs the orphaned FIN_WAIT_2, not TIME_WAIT.

#[macro_use]
mod support;
use support::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Our FIN's sequence number in the fixtures, and the peer's next sequence number.
fn seqs(t: &T) -> (SeqNumber, SeqNumber) {
    (t.iss + 1u32, PEER_ISS + 1u32)
}

// =======================================================================================
// FIN-WAIT-1
// =======================================================================================

#[test]
fn ack_of_our_fin_moves_fin_wait_1_to_fin_wait_2() {
    let mut t = fin_wait_1(config());
    let (f, p) = seqs(&t);
    send!(t, ack(p, f + 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::FinWait2));
    assert_eq!(
        t.events(),
        vec![t.changed(State::FinWait1, State::FinWait2, Reason::RcvAck)]
    );
}

#[test]
fn ack_short_of_our_fin_keeps_fin_wait_1() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"abc");
    t.close();
    recv!(t, data(a, p, b"abc").with(TcpFlags::FIN));
    send!(t, ack(p, a + 3u32));
    assert_eq!(t.state(), Some(State::FinWait1));
    send!(t, ack(p, a + 4u32));
    assert_eq!(t.state(), Some(State::FinWait2));
}

#[test]
fn fin_before_the_ack_of_ours_is_a_simultaneous_close() {
    let mut t = fin_wait_1_after_shutdown(config());
    let (f, p) = seqs(&t);
    send!(t, fin(p, f));
    // The peer's FIN is acknowledged at once; our FIN is still unacknowledged.
    recv!(t, ack(f + 1u32, p + 1u32));
    assert_eq!(
        t.events(),
        vec![
            Event::PeerClosed { conn: t.conn() },
            t.changed(State::FinWait1, State::Closing, Reason::RcvFin),
        ]
    );
}

#[test]
fn fin_that_acknowledges_ours_goes_through_fin_wait_2_to_time_wait() {
    let mut t = fin_wait_1(config());
    let (f, p) = seqs(&t);
    send!(t, fin(p, f + 1u32));
    recv!(t, ack(f + 1u32, p + 1u32));
    assert_eq!(
        T::state_changes(&t.events()),
        vec![
            (State::FinWait1, State::FinWait2, Reason::RcvAck),
            (State::FinWait2, State::TimeWait, Reason::RcvFin),
        ]
    );
    assert_eq!(
        t.time_wait_entry(),
        Some((f + 1u32, p + 1u32, t.now + Duration::from_secs(60)))
    );
    assert_eq!(t.ep.connection_count(), 0, "the orphan's TCB is gone");
    // Counted once, as the TIME_WAIT entry was made (Linux __inet_twsk_schedule).
    assert_eq!((t.ep.counters().TW, t.ep.counters().TWKilled), (1, 0));
}

#[test]
fn our_fin_is_retransmitted_with_backoff() {
    let mut t = fin_wait_1(config());
    let (f, p) = seqs(&t);
    let sent = t.now;
    for at in [200, 600, 1_400] {
        t.quiet_until(sent + ms(at));
        recv!(t, fin(f, p));
    }
    send!(t, ack(p, f + 1u32));
    assert_eq!(t.state(), Some(State::FinWait2));
}

#[test]
fn data_and_fin_in_flight_are_retransmitted_together() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"last");
    t.close();
    recv!(t, data(a, p, b"last").with(TcpFlags::FIN));
    t.quiet_until(t.now + ms(200));
    recv!(t, data(a, p, b"last").with(TcpFlags::FIN));
}

#[test]
fn orphaned_fin_wait_1_gives_up_after_tcp_orphan_retries() {
    // tcp_orphan_retries = 0 means 8 (Linux tcp_orphan_retries): 8 retransmissions,
    // then tcp_model_timeout(8, 200 ms) = 102.2 s. The orphan goes silently.
    let mut t = fin_wait_1(config());
    let (f, p) = seqs(&t);
    let sent = t.now;
    for at in [200, 600, 1_400, 3_000, 6_200, 12_600, 25_400, 51_000] {
        t.quiet_until(sent + ms(at));
        recv!(t, fin(f, p));
    }
    t.quiet_until(sent + ms(102_200));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![(State::FinWait1, State::Closed, Reason::RetransmitTimeout)]
    );
}

#[test]
fn fin_wait_1_after_shutdown_keeps_tcp_retries2() {
    // Not an orphan: the application still holds the socket, so tcp_retries2 applies.
    let mut t = fin_wait_1_after_shutdown(config());
    let sent = t.now;
    t.advance_to(sent + ms(102_200));
    assert_eq!(t.state(), Some(State::FinWait1));
    t.advance_to(sent + ms(924_600) - Duration::from_micros(1));
    assert_eq!(t.state(), Some(State::FinWait1));
    t.advance_to(sent + ms(924_600));
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
}

#[test]
fn data_in_fin_wait_1_after_shutdown_is_received() {
    // Half-close: our direction is closed, the peer's is not.
    let mut t = fin_wait_1_after_shutdown(config());
    let (f, p) = seqs(&t);
    send!(t, data(p, f + 1u32, b"more data"));
    recv!(t, ack(f + 1u32, p + 9u32));
    assert_eq!(t.state(), Some(State::FinWait2));
    assert_eq!(t.read(), b"more data");
}

#[test]
fn data_for_an_orphan_in_fin_wait_1_draws_rst() {
    // Linux tcp_rcv_state_process: data for a socket the application closed cannot be
    // delivered; "RFC 1122 says we MUST send a reset" (TCPAbortOnData). The RST
    // answers the segment: <SEQ=SEG.ACK><CTL=RST>.
    let mut t = fin_wait_1(config());
    let (f, p) = seqs(&t);
    send!(t, data(p, f, b"too late"));
    recv!(t, rst(f));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.counters().TCPAbortOnData, 1);
    assert_eq!(t.ep.time_wait_count(), 0);
}

#[test]
fn rst_in_fin_wait_1_closes_the_connection() {
    let mut t = fin_wait_1_after_shutdown(config());
    let (_, p) = seqs(&t);
    send!(t, rst(p));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(t.ep.error(t.conn()), Some(Error::ConnectionReset));
    assert_eq!(t.ep.poll_timeout(), None);
}

// =======================================================================================
// FIN-WAIT-2
// =======================================================================================

#[test]
fn fin_in_fin_wait_2_enters_time_wait_and_acks_at_once() {
    let mut t = fin_wait_2(config());
    let (f, p) = seqs(&t);
    send!(t, fin(p, f + 1u32));
    // The last ACK goes out on entering TIME_WAIT, not after it.
    recv!(t, ack(f + 1u32, p + 1u32).win(WINDOW));
    recv_nothing!(t);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![(State::FinWait2, State::TimeWait, Reason::RcvFin)]
    );
    assert!(t.time_wait_entry().is_some());
}

#[test]
fn orphaned_fin_wait_2_closes_after_tcp_fin_timeout() {
    let mut t = fin_wait_2(config());
    let (f, p) = seqs(&t);
    let entered = t.now;
    assert_eq!(
        t.ep.info(t.conn()).unwrap().fin_wait_2_at,
        Some(entered + Duration::from_secs(60))
    );
    t.quiet_until(entered + Duration::from_secs(60));
    // Silently: no RST, no TIME_WAIT.
    recv_nothing!(t);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![(State::FinWait2, State::Closed, Reason::FinWait2Timeout)]
    );
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.time_wait_count(), 0);
    // Never in TIME_WAIT: not counted in TW (Linux, which makes the orphan a timewait
    // socket, would count it; see Counters::TW).
    assert_eq!((t.ep.counters().TW, t.ep.counters().TWKilled), (0, 0));
    // The peer's late FIN finds nobody.
    send!(t, fin(p, f + 1u32));
    recv!(t, rst(f + 1u32));
}

#[test]
fn tcp_fin_timeout_sets_the_orphan_lifetime() {
    let mut t = fin_wait_2(Config {
        tcp_fin_timeout: Duration::from_secs(5),
        ..config()
    });
    t.quiet_until(t.now + Duration::from_secs(5));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn fin_wait_2_after_shutdown_is_not_counted_until_time_wait() {
    // Not an orphan: a full socket, not a timewait one, until the peer's FIN.
    let mut t = fin_wait_2_after_shutdown(config());
    assert_eq!(t.ep.counters().TW, 0);
    let (f, p) = seqs(&t);
    send!(t, fin(p, f + 1u32));
    assert!(t.time_wait_entry().is_some());
    assert_eq!((t.ep.counters().TW, t.ep.counters().TWKilled), (1, 0));
}

#[test]
fn tcp_linger2_overrides_tcp_fin_timeout() {
    let mut t = established(config());
    t.set(SockOpt::Linger2(Some(Duration::from_secs(3))));
    let (a, p) = seqs(&t);
    t.close();
    recv!(t, fin(a, p));
    send!(t, ack(p, a + 1u32));
    t.quiet_until(t.now + Duration::from_secs(3));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn the_orphan_lifetime_is_at_least_three_and_a_half_rto() {
    // Linux tcp_fin_time (include/net/tcp.h): fin_timeout = linger2 ?: tcp_fin_timeout,
    // raised to (rto << 2) - (rto >> 1). tcp_fin_timeout 1 s with an RTO of 1 s (the
    // handshake's RTT sample is 0 here, so RTO = rto_min) gives 3.5 s.
    let mut t = fin_wait_2(Config {
        tcp_fin_timeout: Duration::from_secs(1),
        rto_min: Duration::from_secs(1),
        ..config()
    });
    assert_eq!(t.ep.info(t.conn()).unwrap().rto_micros, 1_000_000);
    let entered = t.now;
    assert_eq!(
        t.ep.info(t.conn()).unwrap().fin_wait_2_at,
        Some(entered + ms(3500))
    );
    t.quiet_until(entered + ms(3499));
    assert_eq!(t.state(), Some(State::FinWait2));
    t.quiet_until(entered + ms(3500));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn the_rto_floor_applies_to_tcp_linger2_too() {
    // With the default rto_min the RTO is 200 ms: TCP_LINGER2 1 s is above 700 ms and
    // kept; 0.5 s is raised to 700 ms.
    let mut t = established(config());
    t.set(SockOpt::Linger2(Some(ms(500))));
    let (a, p) = seqs(&t);
    t.close();
    recv!(t, fin(a, p));
    send!(t, ack(p, a + 1u32));
    assert_eq!(
        t.ep.info(t.conn()).unwrap().fin_wait_2_at,
        Some(t.now + ms(700))
    );
    let mut t = established(config());
    t.set(SockOpt::Linger2(Some(ms(1000))));
    t.close();
    recv!(t, fin(a, p));
    send!(t, ack(p, a + 1u32));
    assert_eq!(
        t.ep.info(t.conn()).unwrap().fin_wait_2_at,
        Some(t.now + ms(1000))
    );
}

#[test]
fn tcp_linger2_zero_means_tcp_fin_timeout() {
    // Linux: setsockopt(TCP_LINGER2, 0) stores linger2 = 0, and tcp_fin_time reads
    // "linger2 ? : sysctl_tcp_fin_timeout".
    let mut t = established(Config {
        tcp_fin_timeout: Duration::from_secs(5),
        ..config()
    });
    t.set(SockOpt::Linger2(Some(Duration::ZERO)));
    let (a, p) = seqs(&t);
    t.close();
    recv!(t, fin(a, p));
    send!(t, ack(p, a + 1u32));
    assert_eq!(
        t.ep.info(t.conn()).unwrap().fin_wait_2_at,
        Some(t.now + Duration::from_secs(5))
    );
}

#[test]
fn fin_wait_2_after_shutdown_waits_for_ever() {
    // Linux arms tcp_fin_timeout only for an orphan: a socket still held by its
    // application after shutdown(SHUT_WR) stays in FIN_WAIT_2 as long as the peer.
    let mut t = fin_wait_2_after_shutdown(config());
    assert_eq!(t.ep.poll_timeout(), None);
    t.advance(Duration::from_secs(10 * 3600));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::FinWait2));
}

#[test]
fn close_in_fin_wait_2_after_shutdown_starts_the_fin_timeout() {
    let mut t = fin_wait_2_after_shutdown(config());
    t.advance(Duration::from_secs(600));
    t.close();
    recv_nothing!(t);
    let closed = t.now;
    t.quiet_until(closed + Duration::from_secs(60));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn data_in_fin_wait_2_after_shutdown_is_received_and_acknowledged() {
    // The half-close scenario: the client in FIN_WAIT_2 still receives data.
    let mut t = fin_wait_2_after_shutdown(config());
    let (f, p) = seqs(&t);
    send!(t, data(p, f + 1u32, b"response part 1"));
    recv!(t, ack(f + 1u32, p + 15u32));
    send!(t, data(p + 15u32, f + 1u32, b" and 2").with(TcpFlags::FIN));
    recv!(t, ack(f + 1u32, p + 22u32));
    assert_eq!(t.read(), b"response part 1 and 2");
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
    assert!(t.time_wait_entry().is_some());
    assert_eq!(
        t.state(),
        Some(State::Closed),
        "the handle outlives the TCB"
    );
}

#[test]
fn data_for_an_orphan_in_fin_wait_2_draws_rst() {
    let mut t = fin_wait_2(config());
    let (f, p) = seqs(&t);
    send!(t, data(p, f + 1u32, b"nobody reads this"));
    recv!(t, rst(f + 1u32));
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.counters().TCPAbortOnData, 1);
}

#[test]
fn rst_in_fin_wait_2_closes_the_connection() {
    let mut t = fin_wait_2(config());
    let (_, p) = seqs(&t);
    send!(t, rst(p));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.time_wait_count(), 0);
}

#[test]
fn out_of_order_fin_in_fin_wait_2_waits_for_the_data() {
    let mut t = fin_wait_2_after_shutdown(config());
    let (f, p) = seqs(&t);
    send!(t, fin(p + 3u32, f + 1u32));
    recv!(t, ack(f + 1u32, p));
    assert_eq!(t.state(), Some(State::FinWait2));
    send!(t, data(p, f + 1u32, b"abc"));
    recv!(t, ack(f + 1u32, p + 4u32));
    assert!(t.time_wait_entry().is_some());
}
