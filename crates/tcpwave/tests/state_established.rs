//! ESTABLISHED: data in and out (RFC 9293 §3.10.7.4 seventh), the ACK policy (RFC 1122
//! §4.2.3.2, RFC 5681 §4.2, Linux quick-ACK), SACK (RFC 2018), Nagle (RFC 1122
//! §4.2.3.4 with Minshall's refinement, as Linux), windows, FIN, RST and challenge ACKs
//! (RFC 5961), close and abort. Timers are in `state_established_timers.rs`.

#[macro_use]
mod support;
use support::*;

/// Our next sequence number and the peer's, right after the handshake.
fn seqs(t: &T) -> (SeqNumber, SeqNumber) {
    (t.iss + 1u32, PEER_ISS + 1u32)
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

// =======================================================================================
// ESTABLISHED: receiving data
// =======================================================================================

#[test]
fn first_data_is_acknowledged_at_once_and_readable() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"hello"));
    recv!(t, ack(a, p + 5u32).win(WINDOW));
    recv_nothing!(t);
    assert_eq!(t.events(), vec![Event::Readable { conn: t.conn() }]);
    assert_eq!(t.ep.readable_bytes(t.conn()), 5);
    assert_eq!(t.read(), b"hello");
}

#[test]
fn data_crossing_the_sequence_wrap_is_reassembled_in_order() {
    // PEER_ISS is 296 below 2^32: 400 bytes wrap the sequence space.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let payload = bytes(400);
    send!(t, data(p, a, &payload));
    recv!(t, ack(a, p + 400u32));
    assert!((p + 400u32).0 < p.0, "the test must cross the wrap");
    assert_eq!(t.read(), payload);
}

#[test]
fn after_sixteen_quick_acks_a_lone_segment_is_acknowledged_after_40_ms() {
    let mut t = established(config());
    let (a, mut p) = seqs(&t);
    // Linux quick-ACK mode: the first 16 segments are acknowledged one by one.
    for _ in 0..16 {
        send!(t, data(p, a, b"x"));
        p += 1u32;
        recv!(t, ack(a, p));
    }
    send!(t, data(p, a, b"y"));
    p += 1u32;
    // RFC 1122 §4.2.3.2 / Linux TCP_DELACK_MIN: the ACK waits 40 ms for company.
    let sent = t.now;
    t.quiet_until(sent + Duration::from_millis(40));
    recv!(t, ack(a, p));
    recv_nothing!(t);
}

#[test]
fn a_second_full_sized_segment_is_acknowledged_at_once() {
    let mut t = established(config());
    let (a, mut p) = seqs(&t);
    for _ in 0..16 {
        send!(t, data(p, a, b"x"));
        p += 1u32;
        recv!(t, ack(a, p));
    }
    let full = bytes(1460);
    send!(t, data(p, a, &full));
    recv_nothing!(t);
    send!(t, data(p + 1460u32, a, &full));
    // RFC 5681 §4.2: at least every second full-sized segment is acknowledged.
    recv!(t, ack(a, p + 2920u32));
    recv_nothing!(t);
    assert_eq!(t.ep.info(t.conn()).unwrap().delayed_ack_at, None);
}

#[test]
fn data_sent_by_us_carries_the_delayed_ack() {
    let mut t = established(config());
    let (a, mut p) = seqs(&t);
    for _ in 0..16 {
        send!(t, data(p, a, b"x"));
        p += 1u32;
        recv!(t, ack(a, p));
    }
    send!(t, data(p, a, b"question"));
    p += 8u32;
    recv_nothing!(t);
    // The answer piggybacks the acknowledgment; no separate ACK follows at 40 ms.
    t.write(b"answer");
    recv!(t, data(a, p, b"answer"));
    t.advance(Duration::from_millis(50));
    recv_nothing!(t);
}

#[test]
fn out_of_order_data_draws_a_duplicate_ack_with_a_sack_block() {
    let mut t = established(config_sack());
    let (a, p) = seqs(&t);
    let payload = bytes(300);
    send!(t, data(p + 100u32, a, &payload[100..200]));
    recv!(t, ack(a, p).sack(&[(p + 100u32, p + 200u32)]));
    assert!(t.events().is_empty(), "nothing readable yet");
    send!(t, data(p, a, &payload[..100]));
    // The hole is filled: everything is acknowledged at once, no SACK left.
    recv!(t, ack(a, p + 200u32));
    assert_eq!(t.read(), &payload[..200]);
}

#[test]
fn sack_blocks_start_with_the_most_recently_received_segment() {
    // RFC 2018 §4: "The first SACK block ... MUST specify the contiguous block of data
    // containing the segment which triggered this ACK"; the others repeat the most
    // recently reported blocks.
    let mut t = established(config_sack());
    let (a, p) = seqs(&t);
    let payload = bytes(800);
    send!(t, data(p + 100u32, a, &payload[100..200]));
    recv!(t, ack(a, p).sack(&[(p + 100u32, p + 200u32)]));
    send!(t, data(p + 300u32, a, &payload[300..400]));
    recv!(
        t,
        ack(a, p).sack(&[(p + 300u32, p + 400u32), (p + 100u32, p + 200u32)])
    );
    send!(t, data(p + 500u32, a, &payload[500..600]));
    recv!(
        t,
        ack(a, p).sack(&[
            (p + 500u32, p + 600u32),
            (p + 300u32, p + 400u32),
            (p + 100u32, p + 200u32)
        ])
    );
    // A segment extending an older block brings that block to the front.
    send!(t, data(p + 200u32, a, &payload[200..300]));
    recv!(
        t,
        ack(a, p).sack(&[(p + 100u32, p + 400u32), (p + 500u32, p + 600u32)])
    );
    send!(t, data(p, a, &payload[..100]));
    recv!(t, ack(a, p + 400u32).sack(&[(p + 500u32, p + 600u32)]));
    send!(t, data(p + 400u32, a, &payload[400..500]));
    recv!(t, ack(a, p + 600u32));
    assert_eq!(t.read(), &payload[..600]);
}

#[test]
fn four_sack_blocks_fit_without_timestamps_three_with() {
    // RFC 2018 §3: 40 bytes of options hold 4 blocks, 3 next to the 12 of timestamps.
    for (cfg, max_blocks) in [(config_sack(), 4usize), (config_linux(), 3)] {
        let mut t = established(cfg);
        let (a, p) = seqs(&t);
        let mut last = None;
        for i in 0..4u32 {
            let at = p + (100 + 200 * i);
            send!(t, data(at, a, &[1u8; 100]));
            last = Some(t.recv_any());
        }
        let options = last.unwrap().options.unwrap();
        assert_eq!(options.sack_count as usize, max_blocks);
        assert_eq!(options.sacks()[0].left, p + 700u32, "most recent first");
    }
}

#[test]
fn duplicate_data_draws_an_immediate_ack() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"once"));
    recv!(t, ack(a, p + 4u32));
    send!(t, data(p, a, b"once"));
    recv!(t, ack(a, p + 4u32));
    assert_eq!(t.read(), b"once");
}

#[test]
fn partly_old_data_delivers_only_the_new_bytes() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"abc"));
    recv!(t, ack(a, p + 3u32));
    send!(t, data(p + 1u32, a, b"bcdef"));
    recv!(t, ack(a, p + 6u32));
    assert_eq!(t.read(), b"abcdef");
}

#[test]
fn data_beyond_the_receive_window_is_trimmed() {
    let mut t = established(Config {
        tcp_rmem_default: 1000,
        ..config()
    });
    let (a, p) = seqs(&t);
    send!(t, data(p, a, &bytes(600)));
    recv!(t, ack(a, p + 600u32).win(400));
    // 600 more bytes: only 400 fit; the rest is not acknowledged.
    send!(t, data(p + 600u32, a, &bytes(600)));
    recv!(t, ack(a, p + 1000u32).win(0));
    assert_eq!(t.ep.readable_bytes(t.conn()), 1000);
}

#[test]
fn reading_a_full_buffer_reopens_the_window_with_an_update() {
    let mut t = established(Config {
        tcp_rmem_default: 4380,
        ..config()
    });
    let (a, p) = seqs(&t);
    send!(t, data(p, a, &bytes(4380)));
    recv!(t, ack(a, p + 4380u32).win(0));
    // While the window is zero, new data is not acceptable: ACK, and nothing stored.
    send!(t, data(p + 4380u32, a, b"more"));
    recv!(t, ack(a, p + 4380u32).win(0));
    assert_eq!(t.read().len(), 4380);
    // RFC 9293 §3.8.6.2.2: the reopened window is announced, up to rcv_ssthresh: Linux
    // (tcp_init_buffer_space) keeps one segment of a buffer this small in reserve, so
    // 4380 - 1460 = 2920, not the whole 4380 the SYN-ACK offered.
    recv!(t, ack(a, p + 4380u32).win(2920));
    recv_nothing!(t);
}

#[test]
fn reading_a_little_does_not_announce_a_silly_window() {
    let mut t = established(Config {
        tcp_rmem_default: 4380,
        ..config()
    });
    let (a, p) = seqs(&t);
    send!(t, data(p, a, &bytes(4380)));
    recv!(t, ack(a, p + 4380u32).win(0));
    let mut buf = [0u8; 100];
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut buf), Ok(100));
    // RFC 9293 §3.8.6.2.2: wait until min(buffer / 2, MSS) is free.
    recv_nothing!(t);
}

#[test]
fn a_scaled_window_never_moves_its_right_edge_left() {
    // RFC 9293 §3.8.6.2.2: the receiver should not shrink the window. With scale 7 the
    // field counts 128-byte units: truncating the free space would pull the edge back.
    // A 64 KiB buffer (rcv_ssthresh 64088, one segment under it) and nothing read, so
    // that the free space is what limits the window.
    let mut t = established(Config {
        tcp_rmem_default: 65_536,
        ..config_linux()
    });
    let (a, p) = seqs(&t);
    send!(t, data(p, a, &bytes(1_448)));
    // 64088 bytes free: 500 units, the edge at p + 1448 + 64000 (past the 498 units left
    // of the SYN-ACK's offer).
    recv!(t, ack(a, p + 1_448u32).win(500));
    send!(t, data(p + 1_448u32, a, &bytes(100)));
    // 63988 free bytes would truncate to 499 units, 28 bytes left of the edge promised;
    // the promised 63900 bytes round up to 500 units instead.
    recv!(t, ack(a, p + 1_548u32).win(500));
}

// =======================================================================================
// ESTABLISHED: sending data (Nagle, windows, MSS)
// =======================================================================================

#[test]
fn a_write_goes_out_in_full_segments_with_psh_on_the_last() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let payload = bytes(3000);
    t.write(&payload);
    recv!(t, ack(a, p).payload(&payload[..1460]));
    recv!(t, ack(a + 1460u32, p).payload(&payload[1460..2920]));
    // Linux (Minshall's Nagle): the tail goes at once, no small segment is in flight.
    recv!(t, data(a + 2920u32, p, &payload[2920..]));
    recv_nothing!(t);
}

#[test]
fn nagle_holds_a_second_small_segment_until_the_first_is_acknowledged() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"one");
    recv!(t, data(a, p, b"one"));
    t.write(b"two");
    recv_nothing!(t);
    t.write(b"three");
    recv_nothing!(t);
    send!(t, ack(p, a + 3u32));
    recv!(t, data(a + 3u32, p, b"twothree"));
    recv_nothing!(t);
}

#[test]
fn nodelay_sends_small_segments_at_once() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::NoDelay(true));
    t.write(b"one");
    recv!(t, data(a, p, b"one"));
    t.write(b"two");
    recv!(t, data(a + 3u32, p, b"two"));
}

#[test]
fn peer_mss_caps_our_segments() {
    let mut t = listen(config());
    t.iss = t.expected_iss();
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(536)));
    // Our window is counted in segments of the MSS *we* announce (Linux advmss).
    recv!(
        t,
        syn_ack(t.iss, PEER_ISS + 1u32)
            .win(64_240)
            .opts(mss_only(1460))
    );
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    t.conn = Some(t.ep.accept(t.now, t.listener.unwrap()).unwrap());
    let (a, p) = seqs(&t);
    let payload = bytes(1000);
    t.write(&payload);
    recv!(t, ack(a, p).payload(&payload[..536]));
    recv!(t, data(a + 536u32, p, &payload[536..]));
}

#[test]
fn syn_without_mss_option_means_536() {
    // RFC 9293 §3.7.1: with no MSS option, the default is 536.
    let mut t = listen(config());
    t.iss = t.expected_iss();
    send!(t, syn(PEER_ISS).win(PEER_WINDOW));
    recv!(t, syn_ack(t.iss, PEER_ISS + 1u32).opts(mss_only(1460)));
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    t.conn = Some(t.ep.accept(t.now, t.listener.unwrap()).unwrap());
    let (a, p) = seqs(&t);
    t.write(&bytes(600));
    recv!(t, ack(a, p).payload(&bytes(600)[..536]));
}

#[test]
fn initial_window_is_ten_segments() {
    // RFC 6928 / Linux TCP_INIT_CWND.
    let mut t = established(Config {
        tcp_wmem_default: 65_536,
        ..config()
    });
    let (a, p) = seqs(&t);
    t.write(&bytes(20 * 1460));
    for i in 0..10u32 {
        let seg = t.recv_any();
        assert_eq!((seg.seq, seg.payload.len()), (a + i * 1460, 1460));
    }
    recv_nothing!(t);
    // Slow start: an ACK of two segments opens room for four more.
    send!(t, ack(p, a + 2920u32));
    for _ in 0..4 {
        assert_eq!(t.recv_any().payload.len(), 1460);
    }
    recv_nothing!(t);
}

#[test]
fn the_peer_window_limits_what_is_sent() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, ack(p, a).win(1000));
    t.write(&bytes(3000));
    recv!(t, ack(a, p).payload(&bytes(3000)[..1000]));
    recv_nothing!(t);
    send!(t, ack(p, a + 1000u32).win(4000));
    recv!(t, ack(a + 1000u32, p).payload(&bytes(3000)[1000..2460]));
    recv!(t, data(a + 2460u32, p, &bytes(3000)[2460..]));
}

#[test]
fn send_buffer_full_then_writable_when_acknowledged() {
    let mut t = established(Config {
        tcp_wmem_default: 2000,
        ..config()
    });
    let (a, _) = seqs(&t);
    assert_eq!(t.ep.send(t.now, t.conn(), &bytes(3000)), Ok(2000));
    assert_eq!(t.ep.send(t.now, t.conn(), b"x"), Err(Error::WouldBlock));
    assert_eq!(t.ep.writable_bytes(t.conn()), 0);
    t.recv_any();
    t.recv_any();
    t.events();
    send!(t, ack(PEER_ISS + 1u32, a + 1460u32));
    assert_eq!(t.events(), vec![Event::Writable { conn: t.conn() }]);
    assert_eq!(t.ep.writable_bytes(t.conn()), 1460);
}

// =======================================================================================
// ESTABLISHED: the peer's FIN
// =======================================================================================

#[test]
fn fin_moves_to_close_wait_and_reads_return_end_of_file() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, fin(p, a));
    // A FIN consumes one sequence number. It is acknowledged at once here: no data came
    // before it, so Linux has no ACK timeout yet (`icsk_ack.ato` is 0); after data the
    // ACK is delayed (state_close_wait.rs).
    recv!(t, ack(a, p + 1u32));
    assert_eq!(
        t.events(),
        vec![
            Event::PeerClosed { conn: t.conn() },
            t.changed(State::Established, State::CloseWait, Reason::RcvFin),
        ]
    );
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
}

#[test]
fn fin_with_data_delivers_the_data_before_end_of_file() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"last words").with(TcpFlags::FIN));
    // Linux tcp_fin enters pingpong mode: no quick ACK for the data, the ACK of both
    // waits the delayed-ACK time for the application's answer (see the next test).
    let received = t.now;
    t.quiet_until(received + Duration::from_millis(40));
    recv!(t, ack(a, p + 11u32));
    assert_eq!(t.state(), Some(State::CloseWait));
    assert_eq!(t.read(), b"last words");
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 4]), Ok(0));
}

#[test]
fn out_of_order_fin_waits_for_the_missing_data() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p + 5u32, a, b"world").with(TcpFlags::FIN));
    recv!(t, ack(a, p));
    assert_eq!(t.state(), Some(State::Established));
    send!(t, data(p, a, b"hello"));
    recv!(t, ack(a, p + 11u32));
    assert_eq!(t.state(), Some(State::CloseWait));
    assert_eq!(t.read(), b"helloworld");
}

// =======================================================================================
// ESTABLISHED: close, shutdown, abort
// =======================================================================================

#[test]
fn close_sends_fin_and_enters_fin_wait_1() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.close();
    recv!(t, fin(a, p).win(WINDOW));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![t.changed(State::Established, State::FinWait1, Reason::AppClose)]
    );
}

#[test]
fn close_after_a_write_puts_the_fin_on_the_last_data_segment() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"bye");
    t.close();
    recv!(t, data(a, p, b"bye").with(TcpFlags::FIN));
    recv_nothing!(t);
}

#[test]
fn shutdown_write_sends_fin_and_reports_app_shutdown() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.shutdown_write();
    recv!(t, fin(a, p));
    assert_eq!(
        t.events(),
        vec![t.changed(State::Established, State::FinWait1, Reason::AppShutdown)]
    );
    assert_eq!(t.ep.send(t.now, t.conn(), b"x"), Err(Error::BrokenPipe));
}

#[test]
fn close_with_unread_data_sends_rst_instead_of_fin() {
    // RFC 2525 §2.17; Linux tcp_close counts TCPAbortOnClose.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"unread"));
    recv!(t, ack(a, p + 6u32));
    t.close();
    recv!(t, rst_ack(a, p + 6u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPAbortOnClose, 1);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.time_wait_count(), 0);
    assert_eq!(t.ep.poll_timeout(), None);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![(State::Established, State::Closed, Reason::AppAbort)]
    );
}

#[test]
fn close_with_so_linger_zero_sends_rst_and_leaves_no_time_wait() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.set(SockOpt::Linger(Some(Duration::ZERO)));
    t.write(b"pending");
    t.recv_any();
    t.close();
    recv!(t, rst_ack(a + 7u32, p));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.time_wait_count(), 0);
}

#[test]
fn abort_with_timestamps_puts_them_on_the_rst() {
    // RFC 7323 §3.2: TSopt SHOULD be sent in an <RST>; Linux's active reset has it.
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    t.advance(Duration::from_millis(3));
    t.ep.abort(t.now, t.conn()).unwrap();
    recv!(t, rst_ack(a, p).ts(t.our_clock(), t.peer_tsval));
}

#[test]
fn abort_sends_rst_and_forgets_the_connection() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.ep.abort(t.now, t.conn()).unwrap();
    recv!(t, rst_ack(a, p));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.counters().EstabResets, 1);
    assert_eq!(t.ep.counters().OutRsts, 1);
    assert_eq!(t.ep.send(t.now, t.conn(), b"x"), Err(Error::BadHandle));
}

// =======================================================================================
// ESTABLISHED: RST, SYN and bad ACKs (RFC 5961)
// =======================================================================================

#[test]
fn after_a_reset_the_tuple_is_a_closed_port_though_the_handle_lives_on() {
    // The reset connection stays in the endpoint until the application closes its handle;
    // the next segment of the tuple must not reach it (the endpoint remembers where the
    // previous segment went, and must not trust that for a CLOSED connection): RFC 9293
    // §3.10.7.1, an ACK to a closed port draws <SEQ=SEG.ACK><CTL=RST>.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, rst(p));
    assert_eq!(t.state(), Some(State::Closed));
    send!(t, data(p, a, b"late"));
    recv!(t, rst(a));
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(t.ep.counters().OutRsts, 1);
}

#[test]
fn rst_at_rcv_nxt_resets_the_connection_with_econnreset() {
    let mut t = established(config());
    let (_, p) = seqs(&t);
    send!(t, rst(p));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::Established, State::Closed, Reason::RcvRst),
            Event::Error {
                conn: t.conn(),
                error: Error::ConnectionReset
            },
        ]
    );
    assert_eq!(Error::ConnectionReset.errno(), 104);
    assert_eq!(t.ep.counters().EstabResets, 1);
    assert_eq!(
        t.ep.send(t.now, t.conn(), b"x"),
        Err(Error::ConnectionReset)
    );
    assert_eq!(
        t.ep.recv(t.now, t.conn(), &mut [0u8; 4]),
        Err(Error::ConnectionReset)
    );
    assert_eq!(t.ep.poll_timeout(), None);
    // The handle stays until the application closes it; close sends nothing.
    t.close();
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn rst_in_the_window_but_not_at_rcv_nxt_draws_a_challenge_ack() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number does not exactly
    // match the next expected sequence value, yet is within the current receive window,
    // TCP MUST send an acknowledgment (challenge ACK)".
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, rst(p + 1u32));
    recv!(t, ack(a, p).win(WINDOW));
    assert_eq!(t.state(), Some(State::Established));
    assert_eq!(t.ep.counters().TCPChallengeACK, 1);
    // The peer answers the challenge with an exact RST, which is believed.
    send!(t, rst(p));
    assert_eq!(t.state(), Some(State::Closed));
}

#[test]
fn rst_outside_the_window_is_dropped_silently() {
    let mut t = established(config());
    let (_, p) = seqs(&t);
    send!(t, rst(p - 1u32));
    send!(t, rst(p + 200_000u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn syn_in_the_window_draws_a_challenge_ack_counted_even_if_rate_limited() {
    // RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence number. Linux
    // tcp_validate_incoming, `syn_challenge:`: InErrs when syn_inerr (1 from
    // tcp_rcv_established, i.e. ESTABLISHED), then LINUX_MIB_TCPSYNCHALLENGE, then
    // tcp_send_challenge_ack, whose per-connection limit may skip the ACK.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, syn(p + 10u32).opts(mss_only(1460)));
    recv!(t, ack(a, p));
    assert_eq!(t.state(), Some(State::Established));
    let c = t.ep.counters();
    assert_eq!((c.TCPSYNChallenge, c.TCPChallengeACK, c.InErrs), (1, 1, 1));
    // 100 ms later, another: counted, not answered.
    t.advance(Duration::from_millis(100));
    send!(t, syn(p + 10u32).opts(mss_only(1460)));
    recv_nothing!(t);
    let c = t.ep.counters();
    assert_eq!((c.TCPSYNChallenge, c.TCPChallengeACK, c.InErrs), (2, 1, 2));
    assert_eq!(c.TCPACKSkippedChallenge, 1);
    assert_eq!((c.TCPACKSkippedSeq, c.TCPACKSkippedSynRecv), (0, 0));
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn syn_outside_the_window_draws_a_challenge_ack_too() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, ack(a, p));
    assert_eq!(t.state(), Some(State::Established));
    // Linux tcp_validate_incoming: an out-of-window SYN goes to syn_challenge.
    assert_eq!(t.ep.counters().TCPChallengeACK, 1);
    assert_eq!(t.ep.counters().TCPSYNChallenge, 1);
}

#[test]
fn challenge_acks_are_rate_limited_per_second() {
    // RFC 5961 §7 / Linux tcp_challenge_ack_limit, when set (Linux 6.0 turned it off by
    // default: INT_MAX). Linux draws each second's count from [half, limit + half - 1]
    // ("tcp: add small random increments to mitigate challenge ACK side channel"), here
    // [5, 14] for a limit of 10. tcp_invalid_ratelimit 0 takes the per-connection limit
    // out of the way so that the endpoint-wide one is what is seen.
    let mut t = established(Config {
        tcp_challenge_ack_limit: 10,
        tcp_invalid_ratelimit: Duration::ZERO,
        ..config()
    });
    let (a, p) = seqs(&t);
    let mut per_second = Vec::new();
    for _ in 0..20 {
        let before = t.ep.counters().TCPChallengeACK;
        for _ in 0..30 {
            send!(t, rst(p + 7u32));
            while let Some((_, _, seg)) = t.poll() {
                assert_eq!(seg, ack(a, p).win(WINDOW));
            }
        }
        per_second.push(t.ep.counters().TCPChallengeACK - before);
        t.advance(Duration::from_secs(1));
    }
    assert!(
        per_second.iter().all(|n| (5..=14).contains(n)),
        "{per_second:?}"
    );
    // Not the same count every second: the limit cannot be measured by exhausting it.
    assert!(
        per_second.iter().any(|&n| n != per_second[0]),
        "{per_second:?}"
    );
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn by_default_only_the_per_connection_limit_applies() {
    // Linux 6.x defaults: tcp_challenge_ack_limit = INT_MAX (no endpoint-wide limit),
    // tcp_invalid_ratelimit = 500 ms per connection. With the per-connection limit off,
    // every challenge is answered.
    let mut t = established(Config {
        tcp_invalid_ratelimit: Duration::ZERO,
        ..config()
    });
    assert_eq!(t.cfg().tcp_challenge_ack_limit, 2_147_483_647);
    let (a, p) = seqs(&t);
    for _ in 0..2000 {
        send!(t, rst(p + 7u32));
        recv!(t, ack(a, p));
    }
    assert_eq!(t.ep.counters().TCPChallengeACK, 2000);
    assert_eq!(t.ep.counters().TCPACKSkippedChallenge, 0);
}

#[test]
fn challenge_acks_are_rate_limited_per_connection() {
    // Linux tcp_send_challenge_ack first calls __tcp_oow_rate_limited(net,
    // LINUX_MIB_TCPACKSKIPPEDCHALLENGE, &tp->last_oow_ack_time): at most one challenge
    // ACK per tcp_invalid_ratelimit (500 ms) per connection.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    // Two in-window RSTs 100 ms apart: one challenge ACK.
    send!(t, rst(p + 7u32));
    recv!(t, ack(a, p));
    t.advance(Duration::from_millis(100));
    send!(t, rst(p + 7u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPChallengeACK, 1);
    assert_eq!(t.ep.counters().TCPACKSkippedChallenge, 1);
    // 600 ms after the first one (500 after the skipped one, which did not count as
    // sent): answered.
    t.advance(Duration::from_millis(500));
    send!(t, rst(p + 7u32));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.counters().TCPChallengeACK, 2);
    // Out-of-window SYNs the same way, 600 ms apart: both answered.
    t.advance(Duration::from_millis(600));
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, ack(a, p));
    t.advance(Duration::from_millis(600));
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.counters().TCPChallengeACK, 4);
    // And 100 ms apart: one.
    t.advance(Duration::from_millis(100));
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPChallengeACK, 4);
    assert_eq!(t.ep.counters().TCPACKSkippedChallenge, 2);
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn the_per_connection_limit_is_strictly_less_than_the_interval() {
    // __tcp_oow_rate_limited: limited while 0 <= elapsed < tcp_invalid_ratelimit, so a
    // segment exactly 500 ms after the last reply is answered.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, rst(p + 7u32));
    recv!(t, ack(a, p));
    t.advance(Duration::from_micros(499_999));
    send!(t, rst(p + 7u32));
    recv_nothing!(t);
    t.advance(Duration::from_micros(1));
    send!(t, rst(p + 7u32));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.counters().TCPChallengeACK, 2);
    assert_eq!(t.ep.counters().TCPACKSkippedChallenge, 1);
}

#[test]
fn tcp_invalid_ratelimit_is_a_knob_by_name() {
    let mut cfg = config();
    cfg.set("tcp_invalid_ratelimit_ms", "50").unwrap();
    let mut t = established(cfg);
    let (a, p) = seqs(&t);
    send!(t, rst(p + 7u32));
    recv!(t, ack(a, p));
    t.advance(Duration::from_millis(49));
    send!(t, rst(p + 7u32));
    recv_nothing!(t);
    t.advance(Duration::from_millis(51));
    send!(t, rst(p + 7u32));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.counters().TCPChallengeACK, 2);
    assert_eq!(t.ep.counters().TCPACKSkippedChallenge, 1);
}

#[test]
fn duplicate_acks_for_out_of_window_pure_acks_are_rate_limited() {
    // Linux tcp_validate_incoming, step 1: a segment that fails tcp_sequence and is not
    // an RST or SYN gets a duplicate ACK unless tcp_oow_rate_limited(...,
    // LINUX_MIB_TCPACKSKIPPEDSEQ, &tp->last_oow_ack_time), which exempts segments
    // carrying data or FIN ("Data packets without SYNs are not likely part of an ACK
    // loop"). The limit is shared with challenge ACKs.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let beyond = p + 200_000u32;
    send!(t, ack(beyond, a));
    recv!(t, ack(a, p));
    t.advance(Duration::from_millis(100));
    send!(t, ack(beyond, a));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPACKSkippedSeq, 1);
    // Data and a FIN outside the window are answered whatever the limit, and do not
    // move it.
    send!(t, data(beyond, a, b"x"));
    recv!(t, ack(a, p));
    send!(t, fin(beyond, a));
    recv!(t, ack(a, p));
    // The challenge ACK shares the connection's last out-of-window ACK time.
    send!(t, rst(p + 7u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPACKSkippedChallenge, 1);
    // 600 ms after the first reply: a pure ACK is answered again.
    t.advance(Duration::from_millis(500));
    send!(t, ack(beyond, a));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.counters().TCPACKSkippedSeq, 1);
    assert_eq!(t.ep.counters().TCPChallengeACK, 0);
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn ack_for_data_never_sent_draws_an_ack_and_the_segment_is_dropped() {
    // RFC 9293 §3.10.7.4 fifth: "If the ACK acks something not yet sent (SEG.ACK >
    // SND.NXT), then send an ACK, drop the segment, and return."
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a + 10u32, b"data"));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.readable_bytes(t.conn()), 0);
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn ack_older_than_the_window_draws_a_challenge_ack() {
    // RFC 5961 §5.2: acceptable only if SND.UNA - MAX.SND.WND <= SEG.ACK.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a - 100_000u32, b"data"));
    recv!(t, ack(a, p));
    assert_eq!(t.ep.readable_bytes(t.conn()), 0);
    assert_eq!(t.ep.counters().TCPChallengeACK, 1);
}

#[test]
fn old_ack_within_the_window_is_harmless_and_its_data_taken() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    t.write(b"abc");
    recv!(t, data(a, p, b"abc"));
    send!(t, ack(p, a + 3u32));
    send!(t, data(p, a, b"late"));
    recv!(t, ack(a + 3u32, p + 4u32));
    assert_eq!(t.read(), b"late");
}

#[test]
fn retransmitted_syn_ack_after_our_lost_ack_is_acknowledged_again() {
    // Our handshake ACK was lost: the peer's SYN-ACK comes again. It lies before
    // RCV.NXT and carries SYN, so it draws a (challenge) ACK that completes the peer.
    let mut t = established_active(config());
    let (a, p) = seqs(&t);
    send!(t, syn_ack(PEER_ISS, a).opts(mss_only(1460)));
    recv!(t, ack(a, p));
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn segment_without_ack_is_dropped() {
    // RFC 9293 §3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
    let mut t = established(config());
    let (_, p) = seqs(&t);
    send!(
        t,
        Seg::new(TcpFlags::PSH, p, SeqNumber(0)).payload(b"noack")
    );
    recv_nothing!(t);
    assert_eq!(t.ep.readable_bytes(t.conn()), 0);
}

// =======================================================================================
// ESTABLISHED: timestamps (RFC 7323)
// =======================================================================================

#[test]
fn every_segment_carries_timestamps_echoing_the_latest_tsval() {
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    t.advance(Duration::from_millis(7));
    send!(t, data(p, a, b"ping"));
    // TSval = our millisecond clock + offset; TSecr = the peer's TSval just sent.
    let expected_ts = (t.our_clock(), t.peer_clock());
    recv!(t, ack(a, p + 4u32).ts(expected_ts.0, expected_ts.1));
}

/// ESTABLISHED with timestamps, TS.Recent taken from the peer's "new" 10 ms in (3 bytes,
/// acknowledged): a TSval below the peer's latest now fails PAWS. With SND.NXT, RCV.NXT.
fn established_with_ts_recent() -> (T, SeqNumber, SeqNumber) {
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    t.advance(Duration::from_millis(10));
    send!(t, data(p, a, b"new"));
    t.recv_any();
    (t, a, p)
}

#[test]
fn paws_drops_a_segment_with_an_old_timestamp() {
    // RFC 7323 §5.3: a segment whose TSval is older than TS.Recent is dropped and ACKed.
    let (mut t, a, p) = established_with_ts_recent();
    let old = data(p + 3u32, a, b"old")
        .ts(t.peer_tsval - 5, t.our_tsval)
        .raw();
    send!(t, old);
    recv!(t, ack(a, p + 3u32));
    assert_eq!(t.read(), b"new");
    assert_eq!(t.ep.counters().PAWSEstab, 1);
}

#[test]
fn duplicate_acks_for_paws_rejected_pure_acks_are_rate_limited() {
    // Linux tcp_validate_incoming: a PAWS failure (not an RST) counts PAWSEstab and gets
    // a duplicate ACK unless tcp_oow_rate_limited(..., LINUX_MIB_TCPACKSKIPPEDPAWS, ...).
    let (mut t, a, p) = established_with_ts_recent();
    let (old_tsval, tsecr) = (t.peer_tsval - 5, t.our_tsval);
    let old = || ack(p + 3u32, a).ts(old_tsval, tsecr).raw();
    send!(t, old());
    t.recv_any();
    t.advance(Duration::from_millis(100));
    send!(t, old());
    recv_nothing!(t);
    assert_eq!(t.ep.counters().PAWSEstab, 2);
    assert_eq!(t.ep.counters().TCPACKSkippedPAWS, 1);
    // Data failing PAWS is always answered.
    send!(t, data(p + 3u32, a, b"old").ts(old_tsval, tsecr).raw());
    t.recv_any();
    assert_eq!(t.ep.counters().TCPACKSkippedPAWS, 1);
}

#[test]
fn a_syn_failing_paws_draws_a_challenge_ack_not_a_paws_reject() {
    // Linux tcp_validate_incoming, PAWS check: `if (!th->rst) { if (unlikely(th->syn))
    // goto syn_challenge; NET_INC_STATS(..., LINUX_MIB_PAWSESTABREJECTED); ...`.
    let (mut t, a, p) = established_with_ts_recent();
    let options = TcpOptions {
        timestamps: Some((t.peer_tsval - 5, t.our_tsval)),
        ..mss_only(1460)
    };
    send!(t, syn(p + 3u32).opts(options));
    recv!(t, ack(a, p + 3u32));
    let c = t.ep.counters();
    assert_eq!((c.TCPSYNChallenge, c.TCPChallengeACK), (1, 1));
    assert_eq!((c.PAWSEstab, c.TCPACKSkippedPAWS), (0, 0));
    assert_eq!(t.state(), Some(State::Established));
}
