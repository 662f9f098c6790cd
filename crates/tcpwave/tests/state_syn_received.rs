//! SYN-RECEIVED: the half-open connection (RFC 9293 §3.10.7.4 with RFC 5961), SYN-ACK
//! retransmission (Linux tcp_synack_retries) and the segments that complete or kill it.

#[macro_use]
mod support;
use support::*;

fn synack(t: &T) -> Seg {
    syn_ack(t.iss, PEER_ISS + 1u32)
        .win(SYN_WINDOW)
        .opts(mss_only(1460))
}

/// SYN-RECEIVED by a simultaneous open: SYN-SENT, the peer's SYN in, our SYN-ACK out.
fn simultaneous_open(cfg: Config) -> T {
    let mut t = syn_sent(cfg);
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, synack(&t));
    assert_eq!(t.state(), Some(State::SynReceived));
    t.events();
    t
}

// =======================================================================================
// SYN-RECEIVED: completing the handshake
// =======================================================================================

#[test]
fn ack_of_the_syn_ack_establishes_and_takes_the_peer_window() {
    let mut t = syn_received(config());
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32).win(30_000));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Established));
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!((info.snd_una, info.snd_nxt), (t.iss + 1u32, t.iss + 1u32));
    assert_eq!(info.snd_wnd, 30_000);
    assert_eq!(info.rcv_nxt, Some(PEER_ISS + 1u32));
}

#[test]
fn ack_window_is_scaled_once_both_syns_carried_window_scale() {
    let mut t = syn_received(config_linux());
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32).win(100));
    assert_eq!(t.ep.info(t.conn()).unwrap().snd_wnd, 100 << PEER_WSCALE);
}

#[test]
fn data_on_the_handshake_ack_is_delivered_and_acknowledged() {
    let mut t = syn_received(config());
    send!(t, data(PEER_ISS + 1u32, t.iss + 1u32, b"GET /"));
    // The first data segments are acknowledged at once (Linux quick-ACK mode).
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 6u32).win(WINDOW));
    let c = t.ep.accept(t.now, t.listener.unwrap()).unwrap();
    assert_eq!(c, t.conn());
    assert_eq!(t.read(), b"GET /");
}

#[test]
fn fin_on_the_handshake_ack_goes_straight_to_close_wait() {
    let mut t = syn_received(config());
    send!(t, fin(PEER_ISS + 1u32, t.iss + 1u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 2u32));
    assert_eq!(t.state(), Some(State::CloseWait));
    let changes = T::state_changes(&t.events());
    assert_eq!(
        changes,
        vec![
            (State::SynReceived, State::Established, Reason::RcvAck),
            (State::Established, State::CloseWait, Reason::RcvFin),
        ]
    );
    t.ep.accept(t.now, t.listener.unwrap()).unwrap();
    assert_eq!(
        t.ep.recv(t.now, t.conn(), &mut [0u8; 8]),
        Ok(0),
        "end of file"
    );
}

#[test]
fn ack_acknowledging_something_else_draws_rst() {
    // RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: "If the segment acknowledgment is not
    // acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
    for bad in [0u32, 2, 70_000] {
        let mut t = syn_received(config());
        send!(t, ack(PEER_ISS + 1u32, t.iss + bad));
        recv!(t, rst(t.iss + bad).win(0));
        recv_nothing!(t);
        assert_eq!(t.state(), Some(State::SynReceived), "ack ISS+{bad}");
    }
}

#[test]
fn segment_without_ack_is_dropped() {
    let mut t = syn_received(config());
    send!(
        t,
        Seg::new(TcpFlags::PSH, PEER_ISS + 1u32, SeqNumber(0)).payload(b"x")
    );
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynReceived));
}

// =======================================================================================
// SYN-RECEIVED: SYN and RST
// =======================================================================================

#[test]
fn retransmitted_syn_is_answered_with_the_same_syn_ack() {
    let mut t = syn_received(config());
    t.advance(Duration::from_millis(300));
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(1460)));
    recv!(t, synack(&t));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 1);
}

#[test]
fn retransmitted_syns_get_one_syn_ack_per_500_ms_which_restarts_the_timer() {
    // Linux tcp_check_req, "Check for pure retransmitted SYN": the SYN-ACK goes again
    // only if !tcp_oow_rate_limited(..., LINUX_MIB_TCPACKSKIPPEDSYNRECV,
    // &tcp_rsk(req)->last_oow_ack_time); tcp_rtx_synack counts it in RetransSegs; then
    // mod_timer_pending(&req->rsk_timer, jiffies + reqsk_timeout(req, TCP_RTO_MAX)).
    let mut t = syn_received(config());
    let peer_syn = || syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(1460));
    t.advance(Duration::from_millis(300));
    send!(t, peer_syn());
    recv!(t, synack(&t));
    t.advance(Duration::from_millis(200));
    send!(t, peer_syn());
    recv_nothing!(t);
    let c = t.ep.counters();
    assert_eq!((c.TCPACKSkippedSynRecv, c.RetransSegs), (1, 1));
    // tcp_rtx_synack counts the answer in TCPSynRetrans; no timer expired yet.
    assert_eq!((c.TCPSynRetrans, c.TCPTimeouts), (1, 0));
    // The SYN-ACK timer, due at 1 s, now runs a whole RTO from the resend at 300 ms.
    t.quiet_until(START + Duration::from_millis(1300));
    recv!(t, synack(&t));
    recv_nothing!(t);
    let c = *t.ep.counters();
    assert_eq!(c.RetransSegs, 2);
    // This one the timer sent (Linux tcp_syn_ack_timeout counts TCPTimeouts).
    assert_eq!((c.TCPSynRetrans, c.TCPTimeouts), (2, 1));
    // Not a timeout: no backoff, the next one comes 2 s later, not 4 s.
    t.quiet_until(START + Duration::from_millis(3300));
    recv!(t, synack(&t));
    assert_eq!(t.state(), Some(State::SynReceived));
}

#[test]
fn a_retransmitted_syn_failing_paws_is_an_out_of_window_segment() {
    // tcp_check_req: the retransmitted-SYN case needs `!paws_reject`; otherwise the SYN
    // goes on to the PAWS / window check: a plain ACK, PAWSEstab.
    let mut t = syn_received(config_linux());
    let options = TcpOptions {
        timestamps: Some((t.peer_tsval - 5, 0)),
        ..mss_only(1460)
    };
    send!(t, syn(PEER_ISS).opts(options));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    let c = t.ep.counters();
    assert_eq!((c.PAWSEstab, c.RetransSegs), (1, 0));
    assert_eq!(t.state(), Some(State::SynReceived));
}

// =======================================================================================
// SYN-RECEIVED: the ACK number is checked first (Linux tcp_check_req)
// =======================================================================================

#[test]
fn a_bad_ack_outside_the_window_draws_a_rst_not_an_ack() {
    // tcp_check_req checks `ack_seq != snt_isn + 1` ("Invalid ACK: reset will be sent by
    // listening socket") before PAWS and the window.
    let mut t = syn_received(config());
    send!(t, ack(PEER_ISS + 200_000u32, t.iss + 2u32));
    recv!(t, rst(t.iss + 2u32).win(0));
    send!(t, data(PEER_ISS - 20u32, t.iss, b"old"));
    recv!(t, rst(t.iss).win(0));
    recv_nothing!(t);
    let c = t.ep.counters();
    assert_eq!((c.OutRsts, c.TCPACKSkippedSynRecv), (2, 0));
    assert_eq!(t.state(), Some(State::SynReceived));
    // An RST with a bad ACK goes to the listener too, which never answers an RST.
    send!(t, rst_ack(PEER_ISS + 1u32, t.iss + 2u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynReceived));
}

#[test]
fn a_bad_ack_failing_paws_draws_a_rst_too() {
    let mut t = syn_received(config_linux());
    let old = ack(PEER_ISS + 1u32, t.iss + 2u32)
        .ts(t.peer_tsval - 5, t.our_tsval)
        .raw();
    send!(t, old);
    recv!(t, rst(t.iss + 2u32).win(0));
    assert_eq!(t.ep.counters().PAWSEstab, 0);
    assert_eq!(t.state(), Some(State::SynReceived));
}

// =======================================================================================
// SYN-RECEIVED: an RST or SYN in the window resets the half-open connection
// =======================================================================================

/// The half-open connection was reset for `reason` and is gone: AttemptFails and
/// EmbryonicRsts counted, no challenge ACK, no error event (nobody holds it), the
/// listener's SYN queue is empty (the invariants check its count), and the peer's
/// handshake ACK now draws the listener's RST.
#[track_caller]
fn assert_half_open_connection_reset(t: &mut T, reason: Reason) {
    let c = t.ep.counters();
    assert_eq!((c.AttemptFails, c.EmbryonicRsts), (1, 1));
    assert_eq!((c.TCPChallengeACK, c.TCPSYNChallenge), (0, 0));
    let events = t.events();
    assert_eq!(
        T::state_changes(&events).last(),
        Some(&(State::SynReceived, State::Closed, reason))
    );
    assert!(events.iter().all(|e| !matches!(e, Event::Error { .. })));
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.state(), None);
    t.check();
    assert_eq!(t.ep.poll_timeout(), None, "no SYN-ACK retransmission left");
    assert_eq!(
        t.ep.accept(t.now, t.listener.unwrap()),
        Err(Error::WouldBlock)
    );
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    recv!(t, rst(t.iss + 1u32).win(0));
}

#[test]
fn syn_in_the_window_resets_the_half_open_connection() {
    // Linux tcp_check_req: `if (flg & (TCP_FLAG_RST|TCP_FLAG_SYN)) {
    // TCP_INC_STATS(.., TCP_MIB_ATTEMPTFAILS); goto embryonic_reset; }`, which sends
    // tcp_v4_send_reset's answer to a segment without ACK, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
    // <CTL=RST,ACK>, drops the request and counts EmbryonicRsts. No challenge ACK.
    let mut t = syn_received(config());
    send!(t, syn(PEER_ISS + 100u32).opts(mss_only(1460)));
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 101u32).win(0));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().OutRsts, 1);
    assert_half_open_connection_reset(&mut t, Reason::RcvSyn);
}

#[test]
fn syn_ack_in_the_window_resets_with_seq_seg_ack() {
    // tcp_v4_send_reset for a segment with ACK (the right one, ISS+1): <SEQ=SEG.ACK><CTL=RST>.
    let mut t = syn_received(config());
    send!(
        t,
        syn_ack(PEER_ISS + 100u32, t.iss + 1u32).opts(mss_only(1460))
    );
    recv!(t, rst(t.iss + 1u32).win(0));
    assert_half_open_connection_reset(&mut t, Reason::RcvSyn);
}

#[test]
fn rst_anywhere_in_the_window_drops_the_half_open_connection_silently() {
    // tcp_check_req has no RFC 5961 exact-sequence rule: an RST that passes
    // tcp_in_window goes to embryonic_reset (no reply to an RST).
    let mut t = syn_received(config());
    send!(t, rst(PEER_ISS + 10u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().OutRsts, 0);
    assert_half_open_connection_reset(&mut t, Reason::RcvRst);
}

#[test]
fn a_reset_half_open_connection_frees_its_place_in_the_syn_queue() {
    // Backlog 0: the SYN queue holds one half-open connection (`qlen > backlog` is
    // full). Once the RST drops it (inet_csk_reqsk_queue_drop), a new SYN gets in.
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 0).unwrap();
    t.listener = Some(l);
    t.send_from(peer_at(50_001), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    assert!(t
        .poll()
        .is_some_and(|(_, _, g)| g.flags == TcpFlags::SYN | TcpFlags::ACK));
    t.send_from(peer_at(50_002), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPReqQFullDrop, 1);
    t.send_from(peer_at(50_001), t.ours, rst(PEER_ISS + 50u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().EmbryonicRsts, 1);
    t.send_from(peer_at(50_002), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    assert!(t
        .poll()
        .is_some_and(|(_, _, g)| g.flags == TcpFlags::SYN | TcpFlags::ACK));
    assert_eq!(t.ep.connection_count(), 1);
}

#[test]
fn rst_at_rcv_nxt_drops_the_half_open_connection_silently() {
    let mut t = syn_received(config());
    send!(t, rst(PEER_ISS + 1u32));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert!(t.events().iter().all(|e| !matches!(e, Event::Error { .. })));
    assert_eq!(
        t.ep.accept(t.now, t.listener.unwrap()),
        Err(Error::WouldBlock)
    );
    assert_eq!(t.ep.poll_timeout(), None, "no SYN-ACK retransmission left");
    // Back to LISTEN: the listener answers a new SYN.
    send!(t, syn(PEER_ISS + 5000u32).opts(mss_only(1460)));
    assert_eq!(
        t.poll().expect("SYN-ACK").2.flags,
        TcpFlags::SYN | TcpFlags::ACK
    );
}

#[test]
fn rst_outside_the_window_is_dropped_silently() {
    let mut t = syn_received(config());
    send!(t, rst(PEER_ISS - 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynReceived));
}

#[test]
fn rst_in_a_simultaneous_open_refuses_the_connection() {
    // RFC 9293 §3.10.7.4 second, SYN-RECEIVED: "If this connection was initiated with an
    // active OPEN (i.e., came from SYN-SENT state), then the connection was refused".
    let mut t = simultaneous_open(config());
    send!(t, rst(PEER_ISS + 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::SynReceived, State::Closed, Reason::RcvRst),
            Event::Error {
                conn: t.conn(),
                error: Error::ConnectionRefused
            },
        ]
    );
}

#[test]
fn close_in_a_simultaneous_open_sends_fin() {
    // RFC 9293 §3.10.4, SYN-RECEIVED: "If no SENDs have been issued and there is no
    // pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1".
    let mut t = simultaneous_open(config());
    t.close();
    assert_eq!(t.state(), Some(State::FinWait1));
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 1u32));
    recv_nothing!(t);
    // The peer acknowledges our SYN and FIN at once.
    send!(t, ack(PEER_ISS + 1u32, t.iss + 2u32));
    assert_eq!(t.state(), Some(State::FinWait2));
}

#[test]
fn fin_sent_before_the_handshake_completes_is_retransmitted_with_the_syn() {
    let mut t = simultaneous_open(config());
    t.close();
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 1u32));
    // Nothing is acknowledged: the SYN-ACK (from ISS) goes again, then the FIN.
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, synack(&t));
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 1u32));
    recv_nothing!(t);
    // The peer's SYN-ACK now lies before RCV.NXT: it is answered with an ACK.
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32).opts(mss_only(1460)));
    recv!(t, ack(t.iss + 2u32, PEER_ISS + 1u32));
    send!(t, ack(PEER_ISS + 1u32, t.iss + 2u32));
    assert_eq!(t.state(), Some(State::FinWait2));
}

// =======================================================================================
// SYN-RECEIVED: SYN-ACK retransmission (Linux tcp_synack_retries)
// =======================================================================================

#[test]
fn syn_ack_is_retransmitted_with_doubling_rto_then_the_half_open_connection_dies() {
    let mut t = syn_received(config());
    for at in [1, 3, 7, 15, 31] {
        t.quiet_until(START + Duration::from_secs(at));
        recv!(t, synack(&t));
        recv_nothing!(t);
    }
    // tcp_synack_retries = 5: after the fifth retransmission times out (63 s) the
    // request is dropped without a RST.
    t.quiet_until(START + Duration::from_secs(63));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.poll_timeout(), None);
    // The peer's late ACK now finds the listener: RST.
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    recv!(t, rst(t.iss + 1u32));
}

#[test]
fn ack_of_a_retransmitted_syn_ack_gives_no_rtt_sample() {
    let mut t = syn_received(config());
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, synack(&t));
    t.advance(Duration::from_millis(5));
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    // Karn: no sample, so RFC 6298 (5.7) sets 3 s.
    assert_eq!(
        t.ep.info(t.conn()).unwrap().rto_micros,
        Duration::from_secs(3).total_micros()
    );
}

// =======================================================================================
// SYN-RECEIVED: replies to segments that fail PAWS or the window (Linux tcp_check_req)
// =======================================================================================

/// A pure ACK beyond the window, answered; 100 ms later the same, and 100 ms after that a
/// SYN below the window, neither answered: within 500 ms of the reply (a SYN shares the
/// limit, Linux tcp_oow_rate_limited exempting only data).
fn three_out_of_window_segments_in_200_ms(t: &mut T) {
    let beyond = PEER_ISS + 200_000u32;
    send!(t, ack(beyond, t.iss + 1u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    t.advance(Duration::from_millis(100));
    send!(t, ack(beyond, t.iss + 1u32));
    recv_nothing!(t);
    t.advance(Duration::from_millis(100));
    send!(t, syn(PEER_ISS - 1000u32).opts(mss_only(1460)));
    recv_nothing!(t);
}

#[test]
fn out_of_window_segments_get_one_ack_per_500_ms_counted_as_skipped_syn_recv() {
    // Linux keeps a passive open in SYN-RECEIVED as a request sock; tcp_check_req answers
    // a segment outside its window with req->rsk_ops->send_ack unless
    // tcp_oow_rate_limited(..., LINUX_MIB_TCPACKSKIPPEDSYNRECV,
    // &tcp_rsk(req)->last_oow_ack_time) says not now. No challenge ACK, even for a SYN.
    let mut t = syn_received(config());
    three_out_of_window_segments_in_200_ms(&mut t);
    let beyond = PEER_ISS + 200_000u32;
    let c = t.ep.counters();
    assert_eq!(c.TCPACKSkippedSynRecv, 2);
    assert_eq!((c.TCPACKSkippedSeq, c.TCPACKSkippedPAWS), (0, 0));
    assert_eq!((c.TCPSYNChallenge, c.TCPChallengeACK), (0, 0));
    assert_eq!(c.TCPACKSkippedChallenge, 0);
    // Data outside the window is always answered and does not move the limit.
    send!(t, data(beyond, t.iss + 1u32, b"x"));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    // 600 ms after the first reply (before the SYN-ACK's retransmission at 1 s).
    t.advance(Duration::from_millis(400));
    send!(t, ack(beyond, t.iss + 1u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    assert_eq!(t.ep.counters().TCPACKSkippedSynRecv, 2);
    assert_eq!(t.state(), Some(State::SynReceived));
}

#[test]
fn paws_failing_segments_get_one_ack_per_500_ms_counted_as_skipped_syn_recv() {
    // tcp_check_req: `if (paws_reject || !tcp_in_window(...))` the same ACK, the same
    // limit, then PAWSEstab (LINUX_MIB_PAWSESTABREJECTED) whether or not it was sent.
    let mut t = syn_received(config_linux());
    let (old_tsval, tsecr) = (t.peer_tsval - 5, t.our_tsval);
    let old = |t: &T| {
        ack(PEER_ISS + 1u32, t.iss + 1u32)
            .ts(old_tsval, tsecr)
            .raw()
    };
    send!(t, old(&t));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    t.advance(Duration::from_millis(100));
    send!(t, old(&t));
    recv_nothing!(t);
    let c = t.ep.counters();
    assert_eq!((c.PAWSEstab, c.TCPACKSkippedSynRecv), (2, 1));
    assert_eq!((c.TCPACKSkippedPAWS, c.TCPACKSkippedSeq), (0, 0));
    assert_eq!(t.state(), Some(State::SynReceived));
    // A fresh timestamp completes the handshake.
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    assert_eq!(t.state(), Some(State::Established));
}

#[test]
fn a_simultaneous_open_answers_bad_segments_as_a_full_socket() {
    // A simultaneous open is a full socket in SYN_RECV: tcp_rcv_state_process checks its
    // segments with tcp_validate_incoming(sk, skb, th, 0), so a pure ACK outside the
    // window counts TCPACKSkippedSeq and a SYN goes to syn_challenge (no InErrs:
    // syn_inerr is 0 there).
    let mut t = simultaneous_open(config());
    three_out_of_window_segments_in_200_ms(&mut t);
    let c = t.ep.counters();
    assert_eq!((c.TCPACKSkippedSeq, c.TCPACKSkippedSynRecv), (1, 0));
    assert_eq!((c.TCPSYNChallenge, c.TCPACKSkippedChallenge), (1, 1));
    assert_eq!(c.InErrs, 0);
    assert_eq!(t.state(), Some(State::SynReceived));
}

#[test]
fn the_established_connection_does_not_inherit_the_requests_out_of_window_limit() {
    // Linux tcp_create_openreq_child makes a new full socket whose last_oow_ack_time is
    // the listener's (0), not the request sock's: its first out-of-window ACK goes out
    // even 100 ms after the request's, then its own 500 ms limit applies.
    let mut t = syn_received(config());
    let beyond = PEER_ISS + 200_000u32;
    send!(t, ack(beyond, t.iss + 1u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    t.advance(Duration::from_millis(50));
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    assert_eq!(t.state(), Some(State::Established));
    t.advance(Duration::from_millis(50));
    send!(t, ack(beyond, t.iss + 1u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    t.advance(Duration::from_millis(100));
    send!(t, ack(beyond, t.iss + 1u32));
    recv_nothing!(t);
    let c = t.ep.counters();
    assert_eq!((c.TCPACKSkippedSynRecv, c.TCPACKSkippedSeq), (0, 1));
}

#[test]
fn a_simultaneous_open_keeps_rfc_5961_for_rst_and_syn_in_the_window() {
    // A full socket in SYN_RECV (tcp_rcv_state_process → tcp_validate_incoming): an RST
    // not at RCV.NXT and a SYN draw challenge ACKs; nothing is reset.
    let mut t = simultaneous_open(config());
    send!(t, rst(PEER_ISS + 10u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    t.advance(Duration::from_millis(600));
    send!(t, syn(PEER_ISS + 100u32).opts(mss_only(1460)));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    let c = t.ep.counters();
    assert_eq!((c.TCPChallengeACK, c.TCPSYNChallenge), (2, 1));
    assert_eq!((c.EmbryonicRsts, c.AttemptFails), (0, 0));
    assert_eq!(t.state(), Some(State::SynReceived));
}
