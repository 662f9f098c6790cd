//! CLOSE-WAIT and LAST-ACK: the passive closer (RFC 9293 §3.10.4, §3.10.7.4). CLOSE_WAIT
//! lasts until the application calls close() (the close-wait-leak scenario); LAST_ACK
//! retransmits its FIN until acknowledged (the lost-final-ACK scenario).

#[macro_use]
mod support;
use support::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// In the fixtures: our next sequence number and the peer's, after its FIN.
fn seqs(t: &T) -> (SeqNumber, SeqNumber) {
    (t.iss + 1u32, PEER_ISS + 2u32)
}

// =======================================================================================
// CLOSE-WAIT
// =======================================================================================

#[test]
fn close_wait_lasts_until_the_application_closes() {
    let mut t = close_wait(config());
    let (a, p) = seqs(&t);
    assert_eq!(t.ep.poll_timeout(), None, "no timer ends CLOSE_WAIT");
    t.advance(Duration::from_secs(24 * 3600));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::CloseWait));
    t.close();
    recv!(t, fin(a, p));
    assert_eq!(
        t.events(),
        vec![t.changed(State::CloseWait, State::LastAck, Reason::AppClose)]
    );
}

#[test]
fn data_still_flows_out_in_close_wait() {
    // Half-close, server side: the peer closed its direction, ours is open.
    let mut t = close_wait(config());
    let (a, p) = seqs(&t);
    t.write(b"here is the rest");
    recv!(t, data(a, p, b"here is the rest"));
    send!(t, ack(p, a + 16u32));
    t.close();
    recv!(t, fin(a + 16u32, p));
    send!(t, ack(p, a + 17u32));
    assert_eq!(t.ep.connection_count(), 0);
}

/// ESTABLISHED after a request and its reply, as a server is when the client closes.
fn served(cfg: Config) -> (T, SeqNumber, SeqNumber) {
    let mut t = established(cfg);
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, data(p, a, b"req"));
    recv!(t, ack(a, p + 3u32));
    assert_eq!(t.read(), b"req");
    t.write(b"reply");
    recv!(t, data(a, p + 3u32, b"reply"));
    send!(t, ack(p + 3u32, a + 5u32));
    (t, a + 5u32, p + 3u32)
}

#[test]
fn fin_after_data_is_acknowledged_by_the_applications_fin() {
    // Linux tcp_fin: ESTABLISHED -> CLOSE_WAIT enters pingpong mode, so the ACK of the FIN
    // waits (delayed ACK); an application that closes at once sends FIN+ACK: the
    // three-segment close of real captures (FIN, FIN+ACK, ACK).
    let (mut t, a, p) = served(config());
    send!(t, fin(p, a));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::CloseWait));
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
    t.close();
    recv!(t, fin(a, p + 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::LastAck));
    assert_eq!(t.ep.info(t.conn()).unwrap().delayed_ack_at, None);
}

#[test]
fn fin_after_data_is_acknowledged_after_the_delayed_ack_time() {
    // An application that has not closed 40 ms (TCP_ATO_MIN) later: the delayed ACK goes
    // alone and the close takes four segments.
    let (mut t, a, p) = served(config());
    send!(t, fin(p, a));
    let received = t.now;
    t.quiet_until(received + ms(40));
    recv!(t, ack(a, p + 1u32));
    t.advance(ms(60));
    t.close();
    recv!(t, fin(a, p + 1u32));
}

#[test]
fn fin_after_a_full_segment_and_more_is_acknowledged_at_once() {
    // Two full segments unacknowledged: the ACK is due whatever the FIN (RFC 1122
    // §4.2.3.2; Linux __tcp_ack_snd_check's "more than one full frame" rule).
    let mut t = established(config());
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    let mss = t.cfg().mss as u32;
    for i in 0..16u32 {
        // Spend the quick ACKs (Linux TCP_MAX_QUICKACKS) on small segments.
        send!(t, data(p + i, a, b"x"));
        recv!(t, ack(a, p + (i + 1)));
    }
    let q = p + 16u32;
    send!(t, data(q, a, &vec![1u8; mss as usize]));
    recv_nothing!(t);
    send!(
        t,
        data(q + mss, a, &vec![2u8; mss as usize]).with(TcpFlags::FIN)
    );
    recv!(t, ack(a, q + (2 * mss + 1)));
    assert_eq!(t.state(), Some(State::CloseWait));
}

#[test]
fn shutdown_write_in_close_wait_goes_to_last_ack() {
    let mut t = close_wait(config());
    let (a, p) = seqs(&t);
    t.shutdown_write();
    recv!(t, fin(a, p));
    assert_eq!(
        t.events(),
        vec![t.changed(State::CloseWait, State::LastAck, Reason::AppShutdown)]
    );
}

#[test]
fn reads_in_close_wait_return_the_data_then_end_of_file() {
    let mut t = established(config());
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, data(p, a, b"bye").with(TcpFlags::FIN));
    assert_eq!(t.read(), b"bye");
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
    t.close();
    // The delayed ACK of data and FIN rides on our FIN (Linux pingpong mode).
    recv!(t, fin(a, p + 4u32));
    recv_nothing!(t);
}

#[test]
fn retransmitted_fin_in_close_wait_is_acknowledged_again() {
    let mut t = close_wait(config());
    let (a, p) = seqs(&t);
    send!(t, fin(p - 1u32, a));
    recv!(t, ack(a, p));
    assert_eq!(t.state(), Some(State::CloseWait));
}

#[test]
fn data_beyond_the_peer_fin_is_not_delivered() {
    let mut t = close_wait(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"after the FIN"));
    assert_eq!(t.ep.readable_bytes(t.conn()), 0);
    assert!(t.events().is_empty());
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
}

#[test]
fn rst_in_close_wait_reports_epipe() {
    // Linux tcp_reset: "case TCP_CLOSE_WAIT: sk->sk_err = EPIPE".
    let mut t = close_wait(config());
    let (_, p) = seqs(&t);
    send!(t, rst(p));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::CloseWait, State::Closed, Reason::RcvRst),
            Event::Error {
                conn: t.conn(),
                error: Error::BrokenPipe
            },
        ]
    );
    assert_eq!(t.ep.counters().EstabResets, 1);
}

#[test]
fn close_with_unread_data_in_close_wait_sends_rst() {
    let mut t = established(config());
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, data(p, a, b"unread").with(TcpFlags::FIN));
    t.close();
    recv!(t, rst_ack(a, p + 7u32));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn keepalive_runs_in_close_wait() {
    let mut t = close_wait(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::KeepAlive(true));
    t.quiet_until(START + Duration::from_secs(7200));
    recv!(t, ack(a - 1u32, p));
}

// =======================================================================================
// LAST-ACK
// =======================================================================================

#[test]
fn ack_of_our_fin_closes_last_ack_without_time_wait() {
    let mut t = last_ack(config());
    let (a, p) = seqs(&t);
    send!(t, ack(p, a + 1u32));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![t.changed(State::LastAck, State::Closed, Reason::RcvAck)]
    );
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.time_wait_count(), 0);
    assert_eq!(t.ep.poll_timeout(), None);
    // The tuple is CLOSED: a stray segment draws a RST.
    send!(t, ack(p, a + 1u32));
    recv!(t, rst(a + 1u32));
}

#[test]
fn fin_is_retransmitted_in_last_ack_until_acknowledged() {
    // The lost-final-ACK scenario, server side.
    let mut t = last_ack(config());
    let (a, p) = seqs(&t);
    let sent = t.now;
    t.quiet_until(sent + ms(200));
    recv!(t, fin(a, p));
    t.quiet_until(sent + ms(600));
    recv!(t, fin(a, p));
    send!(t, ack(p, a + 1u32));
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.counters().RetransSegs, 2);
}

#[test]
fn orphan_in_last_ack_gives_up_after_tcp_orphan_retries() {
    let mut t = last_ack(config());
    let (a, p) = seqs(&t);
    let sent = t.now;
    for at in [200, 600, 1_400, 3_000, 6_200, 12_600, 25_400, 51_000] {
        t.quiet_until(sent + ms(at));
        recv!(t, fin(a, p));
    }
    t.quiet_until(sent + ms(102_200));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn retransmitted_peer_fin_in_last_ack_is_acknowledged() {
    let mut t = last_ack(config());
    let (a, p) = seqs(&t);
    send!(t, fin(p - 1u32, a));
    recv!(t, ack(a + 1u32, p));
    assert_eq!(t.state(), Some(State::LastAck));
}

#[test]
fn rst_in_last_ack_closes_silently() {
    let mut t = last_ack(config());
    let (_, p) = seqs(&t);
    send!(t, rst(p));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert!(t.events().iter().all(|e| !matches!(e, Event::Error { .. })));
}

#[test]
fn new_syn_hitting_a_stale_last_ack_is_challenged_then_the_reconnect_succeeds() {
    // The no-time-wait-reconnect scenario: the client skipped TIME_WAIT, our last FIN's
    // ACK was lost, and the client reconnects from the same port.
    let mut t = last_ack(config());
    let (a, p) = seqs(&t);
    let new_iss = PEER_ISS + 1_000_000u32;
    send!(t, syn(new_iss).opts(mss_only(1460)));
    // RFC 5961 §4.2: a challenge ACK, not a SYN-ACK.
    recv!(t, ack(a + 1u32, p));
    assert_eq!(t.state(), Some(State::LastAck));
    // The client in SYN-SENT answers the unacceptable ACK with <SEQ=SEG.ACK><CTL=RST>,
    // which lands exactly on RCV.NXT: LAST_ACK ends.
    send!(t, rst(p));
    assert_eq!(t.ep.connection_count(), 0);
    // Its SYN retransmission now reaches the listener.
    t.iss = t.expected_iss();
    send!(t, syn(new_iss).opts(mss_only(1460)));
    recv!(t, syn_ack(t.iss, new_iss + 1u32).opts(mss_only(1460)));
}

#[test]
fn data_in_last_ack_is_not_delivered() {
    let mut t = last_ack(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a + 1u32, b"late"));
    assert_eq!(
        t.ep.connection_count(),
        0,
        "the ACK of our FIN still counts"
    );
}
