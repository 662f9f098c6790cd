//! LISTEN: passive open (RFC 9293 §3.10.7.2), option negotiation in the SYN-ACK
//! (RFC 9293 §3.7.1, RFC 7323, RFC 2018) and the listen backlog (Linux SYN queue and
//! accept queue).

#[macro_use]
mod support;
use support::*;

// =======================================================================================
// LISTEN: the SYN-ACK and what it negotiates
// =======================================================================================

#[test]
fn syn_is_answered_with_syn_ack_carrying_every_option_linux_negotiates() {
    let mut t = listen(config_linux());
    let tsval = t.peer_clock();
    let iss = t.expected_iss();
    send!(
        t,
        syn(PEER_ISS)
            .win(PEER_WINDOW)
            .opts(linux_syn_options(tsval))
    );
    // Linux: MSS 1460, SACK-permitted, TS echoing the SYN's TSval, window scale 7 for a
    // 6 MiB tcp_rmem[2], and 65160 = 45 * 1448 (the MSS less 12 bytes of timestamps).
    let options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((t.our_clock(), tsval)),
        ..TcpOptions::default()
    };
    recv!(t, syn_ack(iss, PEER_ISS + 1u32).win(65_160).opts(options));
    recv_nothing!(t);
}

#[test]
fn syn_ack_window_is_64240_without_timestamps() {
    let mut t = listen(config());
    let iss = t.expected_iss();
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(1460)));
    recv!(
        t,
        syn_ack(iss, PEER_ISS + 1u32)
            .win(64_240)
            .opts(mss_only(1460))
    );
}

#[test]
fn syn_ack_leaves_out_options_the_syn_did_not_offer() {
    // RFC 7323 §2.2 and §3.2, RFC 2018 §2: an option in the SYN-ACK only if the SYN had it.
    let mut t = listen(config_linux());
    let iss = t.expected_iss();
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(1460)));
    recv!(
        t,
        syn_ack(iss, PEER_ISS + 1u32)
            .win(64_240)
            .opts(mss_only(1460))
    );
}

#[test]
fn syn_ack_leaves_out_options_we_have_disabled() {
    let mut t = listen(config());
    let iss = t.expected_iss();
    let tsval = t.peer_clock();
    send!(
        t,
        syn(PEER_ISS)
            .win(PEER_WINDOW)
            .opts(linux_syn_options(tsval))
    );
    recv!(
        t,
        syn_ack(iss, PEER_ISS + 1u32)
            .win(64_240)
            .opts(mss_only(1460))
    );
}

#[test]
fn syn_ack_echoes_window_scale_even_when_the_peer_offers_zero() {
    // RFC 7323 §2.2: a SYN-ACK carries WS if and only if the SYN did; a shift of 0
    // is still an offer to scale.
    let mut t = listen(Config {
        tcp_window_scaling: true,
        tcp_rmem_max: 65_535,
        ..config()
    });
    let iss = t.expected_iss();
    let options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(0),
        ..TcpOptions::default()
    };
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(options));
    recv!(t, syn_ack(iss, PEER_ISS + 1u32).win(64_240).opts(options));
}

#[test]
fn syn_data_is_not_acknowledged() {
    // Without TCP Fast Open, Linux drops data carried on a SYN: the SYN-ACK acknowledges
    // the SYN alone and the peer sends the data again.
    let mut t = listen(config());
    let iss = t.expected_iss();
    send!(t, syn(PEER_ISS).opts(mss_only(1460)).payload(b"early"));
    recv!(t, syn_ack(iss, PEER_ISS + 1u32).opts(mss_only(1460)));
}

#[test]
fn passive_open_reports_syn_received_then_established_then_acceptable() {
    let mut t = syn_received(config());
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    recv_nothing!(t);
    let events = t.events();
    assert_eq!(
        events,
        vec![
            t.changed(State::SynReceived, State::Established, Reason::RcvAck),
            Event::Acceptable {
                listener: t.listener.unwrap(),
                conn: t.conn()
            },
        ]
    );
    assert_eq!(t.ep.accept(t.now, t.listener.unwrap()), Ok(t.conn()));
    assert_eq!(
        t.ep.accept(t.now, t.listener.unwrap()),
        Err(Error::WouldBlock)
    );
    assert_eq!(t.ep.counters().PassiveOpens, 1);
}

#[test]
fn syn_creates_the_connection_in_syn_received() {
    let mut t = listen(config());
    send!(t, peer_syn(&t));
    let events = t.events();
    let conn = match events.as_slice() {
        [Event::StateChanged {
            conn: Some(c),
            from: State::Listen,
            to: State::SynReceived,
            reason: Reason::RcvSyn,
            ..
        }] => *c,
        other => panic!("unexpected events {other:?}"),
    };
    assert_eq!(t.ep.state(conn), Some(State::SynReceived));
    assert_eq!(
        t.ep.accept(t.now, t.listener.unwrap()),
        Err(Error::WouldBlock)
    );
}

// =======================================================================================
// LISTEN: segments other than SYN
// =======================================================================================

#[test]
fn ack_to_a_listener_draws_rst_at_its_ack_number() {
    // "any acknowledgment is bad if it arrives on a connection still in the LISTEN state"
    let mut t = listen(config());
    send!(t, ack(PEER_ISS, SeqNumber(31_337)));
    recv!(t, rst(SeqNumber(31_337)).win(0));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn rst_to_a_listener_is_ignored() {
    let mut t = listen(config());
    send!(t, rst(PEER_ISS));
    send!(t, rst_ack(PEER_ISS, SeqNumber(1)));
    recv_nothing!(t);
}

#[test]
fn segment_without_syn_rst_or_ack_is_dropped_by_a_listener() {
    // RFC 9293 §3.10.7.2 fourth: "drop the segment and return".
    let mut t = listen(config());
    send!(t, Seg::new(TcpFlags::FIN, PEER_ISS, SeqNumber(0)));
    send!(
        t,
        Seg::new(TcpFlags::PSH, PEER_ISS, SeqNumber(0)).payload(b"x")
    );
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn syn_ack_to_a_listener_draws_rst() {
    let mut t = listen(config());
    send!(t, syn_ack(PEER_ISS, SeqNumber(500)));
    recv!(t, rst(SeqNumber(500)));
}

#[test]
fn listener_on_the_wildcard_address_accepts_for_any_local_address() {
    let mut t = T::new(config());
    let l =
        t.ep.listen(
            t.now,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SERVER_PORT),
            4,
        )
        .unwrap();
    t.listener = Some(l);
    let iss = t.expected_iss();
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, syn_ack(iss, PEER_ISS + 1u32).opts(mss_only(1460)));
}

#[test]
fn listening_twice_on_one_port_is_addr_in_use() {
    let mut t = listen(config());
    assert_eq!(t.ep.listen(t.now, t.ours, 4), Err(Error::AddrInUse));
}

// =======================================================================================
// LISTEN: the backlog (SYN queue and accept queue)
// =======================================================================================
//
// Linux lets backlog + 1 connections into each queue: `sk_acceptq_is_full` is
// `sk_ack_backlog > sk_max_ack_backlog` (include/net/sock.h, kept so on purpose since
// commit 64a146513f8f), and `inet_csk_reqsk_queue_is_full` is `qlen > sk_max_ack_backlog`
// since commit 3479c7549fb1 (2025). tcpwave has no SYN cookies: it behaves as
// `tcp_syncookies = 0`, where a SYN over the SYN-queue bound is dropped.

/// Peer `p`'s SYN to our listener; returns our SYN-ACK's sequence number (our ISS).
#[track_caller]
fn handshake_syn(t: &mut T, p: SocketAddrV4) -> SeqNumber {
    t.send_from(p, t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    let (src, dst, seg) = t.poll().expect("SYN-ACK");
    assert_eq!((src, dst), (t.ours, p));
    assert_eq!(seg.flags, TcpFlags::SYN | TcpFlags::ACK);
    seg.seq
}

/// Peer `p`'s handshake ACK for our SYN-ACK with sequence number `iss`.
#[track_caller]
fn handshake_ack(t: &mut T, p: SocketAddrV4, iss: SeqNumber) {
    t.send_from(p, t.ours, ack(PEER_ISS + 1u32, iss + 1u32));
}

fn state_of(t: &T, p: SocketAddrV4) -> Option<State> {
    t.ep.info_by_tuple(&FourTuple::new(t.ours, p))
        .map(|i| i.state)
}

#[test]
fn syn_queue_holds_backlog_plus_one_then_drops_the_syn_and_counts_listen_drops() {
    // Backlog 2: three SYNs get a SYN-ACK (`inet_csk_reqsk_queue_is_full` is `qlen >
    // backlog`); the fourth is dropped (tcp_conn_request: goto drop, tcp_listendrop).
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 2).unwrap();
    for port in [50_001, 50_002, 50_003] {
        handshake_syn(&mut t, peer_at(port));
    }
    t.send_from(peer_at(50_004), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    assert_eq!(t.ep.counters().TCPReqQFullDrop, 1, "the SYN queue was full");
    assert_eq!(t.ep.counters().ListenOverflows, 0);
    assert_eq!(t.ep.connection_count(), 3);
    assert_eq!(state_of(&t, peer_at(50_004)), None);
    assert_eq!(t.ep.accept(t.now, l), Err(Error::WouldBlock));
}

#[test]
fn accept_queue_holds_backlog_plus_one_then_drops_the_syn() {
    // Backlog 1: two established connections wait for accept() (`sk_acceptq_is_full` is
    // `sk_ack_backlog > sk_max_ack_backlog`); then tcp_conn_request drops the next SYN:
    // `if (sk_acceptq_is_full(sk)) { NET_INC_STATS(.., LINUX_MIB_LISTENOVERFLOWS); goto
    // drop; }`, and `drop:` counts ListenDrops.
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 1).unwrap();
    t.listener = Some(l);
    for port in [50_001, 50_002] {
        let iss = handshake_syn(&mut t, peer_at(port));
        handshake_ack(&mut t, peer_at(port), iss);
        assert_eq!(state_of(&t, peer_at(port)), Some(State::Established));
    }
    t.send_from(peer_at(50_003), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    assert_eq!(
        t.ep.counters().ListenOverflows,
        1,
        "the accept queue was full"
    );
    assert_eq!(t.ep.counters().TCPReqQFullDrop, 0);
    assert_eq!(state_of(&t, peer_at(50_003)), None);
    // Once one is accepted, there is room again.
    t.ep.accept(t.now, l).unwrap();
    handshake_syn(&mut t, peer_at(50_003));
    assert_eq!(t.ep.counters().ListenDrops, 1);
}

#[test]
fn backlog_2_holds_3_children_and_drops_the_4th_handshake_ack_until_synack_retried() {
    // Linux `tcp_v4_syn_recv_sock` (net/ipv4/tcp_ipv4.c), reached from tcp_check_req when
    // the handshake's ACK arrives: `if (sk_acceptq_is_full(sk)) goto exit_overflow;` and
    // `exit_overflow: NET_INC_STATS(.., LINUX_MIB_LISTENOVERFLOWS); .. exit:
    // tcp_listendrop(sk);` (ListenDrops). `sk_acceptq_is_full` (include/net/sock.h) is
    // `sk_ack_backlog > sk_max_ack_backlog`, so backlog 2 holds 3 established children.
    // The ACK is dropped, the request stays in SYN-RECEIVED and its SYN-ACK timer
    // retransmits; a later ACK completes the handshake once accept() made room.
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 2).unwrap();
    let peers: Vec<SocketAddrV4> = (50_001..=50_004).map(peer_at).collect();
    let (a, b, c, d) = (peers[0], peers[1], peers[2], peers[3]);
    let mut iss = std::collections::HashMap::new();
    for p in [a, b] {
        iss.insert(p, handshake_syn(&mut t, p));
        handshake_ack(&mut t, p, iss[&p]);
    }
    // Accept queue a, b: not full yet (2 > 2 is false), so c's and d's SYNs get answers.
    for p in [c, d] {
        iss.insert(p, handshake_syn(&mut t, p));
    }
    handshake_ack(&mut t, c, iss[&c]);
    for p in [a, b, c] {
        assert_eq!(state_of(&t, p), Some(State::Established));
    }
    t.events();
    // Accept queue a, b, c: full (3 > 2). d's ACK is dropped without a word.
    handshake_ack(&mut t, d, iss[&d]);
    recv_nothing!(t);
    assert!(t.events().is_empty());
    assert_eq!(t.ep.counters().ListenDrops, 1);
    assert_eq!(t.ep.counters().ListenOverflows, 1);
    assert_eq!(t.ep.counters().PassiveOpens, 4);
    assert_eq!(state_of(&t, d), Some(State::SynReceived));
    // The SYN-ACK is retransmitted after the initial RTO (1 s).
    t.advance(Duration::from_secs(1));
    let (_, dst, seg) = t.poll().expect("SYN-ACK retransmission");
    assert_eq!(dst, d);
    assert_eq!(
        (seg.flags, seg.seq, seg.ack),
        (TcpFlags::SYN | TcpFlags::ACK, iss[&d], PEER_ISS + 1u32)
    );
    recv_nothing!(t);
    // Still full: the ACK answering the retransmission is dropped too.
    handshake_ack(&mut t, d, iss[&d]);
    assert_eq!(t.ep.counters().ListenDrops, 2);
    assert_eq!(state_of(&t, d), Some(State::SynReceived));
    // accept() makes room; the next ACK completes the handshake.
    let first = t.ep.accept(t.now, l).unwrap();
    assert_eq!(t.ep.tuple(first), Some(FourTuple::new(t.ours, a)));
    handshake_ack(&mut t, d, iss[&d]);
    assert_eq!(state_of(&t, d), Some(State::Established));
    assert_eq!(t.ep.counters().ListenDrops, 2);
    // b, c, d wait: three again, the most backlog 2 holds.
    let mut waiting = Vec::new();
    while let Ok(c) = t.ep.accept(t.now, l) {
        waiting.push(t.ep.tuple(c).unwrap().remote());
    }
    assert_eq!(waiting, vec![b, c, d]);
}

#[test]
fn backlog_0_holds_one_child() {
    // listen(fd, 0): Linux keeps 0 (`__sys_listen` only caps it at somaxconn), and the `>`
    // comparisons let one connection in (include/net/sock.h: "Note: If you think the test
    // should be: return sk->sk_ack_backlog >= sk->sk_max_ack_backlog; Then please take a
    // look at commit 64a146513f8f").
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 0).unwrap();
    let iss = handshake_syn(&mut t, peer_at(50_001));
    handshake_ack(&mut t, peer_at(50_001), iss);
    assert_eq!(state_of(&t, peer_at(50_001)), Some(State::Established));
    t.send_from(peer_at(50_002), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenOverflows, 1);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    t.ep.accept(t.now, l).unwrap();
    handshake_syn(&mut t, peer_at(50_002));
}

// =======================================================================================
// Closing a listener (Linux inet_csk_listen_stop)
// =======================================================================================

#[test]
fn close_listener_resets_connections_waiting_for_accept() {
    let mut t = established_waiting_for_accept();
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    t.check();
    recv!(t, rst_ack(t.iss + 1u32, PEER_ISS + 1u32));
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn close_listener_frees_half_open_children_silently_and_resets_queued_ones() {
    // inet_csk_listen_stop: the child in the accept queue goes through inet_child_forget
    // -> tcp_disconnect, which sends tcp_send_active_reset's RST|ACK (tcp_need_reset:
    // ESTABLISHED) and counts OutRsts and EstabResets. The request socket in SYN-RECEIVED
    // sends nothing: it is dropped (reqsk_timer_handler and tcp_v4_rcv drop a request
    // whose listener is no longer in TCP_LISTEN), and the peer's handshake ACK then
    // finds no socket at all: RST as for a closed port.
    let mut t = established_waiting_for_accept();
    let queued = t.conn();
    let half_open_peer = peer_at(50_001);
    let half_open_iss = handshake_syn(&mut t, half_open_peer);
    let half_open = t
        .events()
        .iter()
        .find_map(|e| match *e {
            Event::StateChanged {
                conn,
                to: State::SynReceived,
                ..
            } => conn,
            _ => None,
        })
        .expect("the half-open connection");
    let before = *t.ep.counters();

    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    t.check();

    recv!(t, rst_ack(t.iss + 1u32, PEER_ISS + 1u32));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![
            Event::StateChanged {
                conn: Some(half_open),
                tuple: FourTuple::new(t.ours, half_open_peer),
                from: State::SynReceived,
                to: State::Closed,
                reason: Reason::ListenerClosed,
            },
            Event::StateChanged {
                conn: Some(queued),
                tuple: t.tuple(),
                from: State::Established,
                to: State::Closed,
                reason: Reason::AppAbort,
            },
        ]
    );
    let after = *t.ep.counters();
    assert_eq!(after.OutRsts, before.OutRsts + 1);
    assert_eq!(after.EstabResets, before.EstabResets + 1);
    assert_eq!(after.AttemptFails, before.AttemptFails);
    assert_eq!(after.ListenDrops, before.ListenDrops);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.state(half_open), None);
    assert_eq!(t.ep.state(queued), None);
    assert_eq!(t.ep.poll_timeout(), None, "no timer left behind");

    // No SYN-ACK retransmission: the half-open connection is gone.
    t.advance(Duration::from_secs(10));
    recv_nothing!(t);
    assert!(t.events().is_empty());

    // The late handshake ACK meets a closed port: <SEQ=SEG.ACK><CTL=RST>
    // (RFC 9293 §3.10.7.1, Linux tcp_v4_send_reset with no socket).
    handshake_ack(&mut t, half_open_peer, half_open_iss);
    let (src, dst, seg) = t.poll().expect("RST for the late ACK");
    assert_eq!((src, dst), (t.ours, half_open_peer));
    assert_eq!((seg.flags, seg.seq), (TcpFlags::RST, half_open_iss + 1u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().OutRsts, before.OutRsts + 2);
    assert_eq!(t.ep.connection_count(), 0);
    assert!(t.events().is_empty());
}

#[test]
fn close_listener_sends_nothing_for_a_queued_child_the_peer_already_reset() {
    // tcp_disconnect sends RST only from the states of tcp_need_reset; a child that the
    // peer reset while it waited is CLOSED already and is just freed.
    let mut t = established_waiting_for_accept();
    send!(t, rst(PEER_ISS + 1u32));
    t.events();
    let before = *t.ep.counters();
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    t.check();
    recv_nothing!(t);
    assert!(t.events().is_empty());
    assert_eq!(t.ep.counters().OutRsts, before.OutRsts);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn close_listener_resets_a_queued_child_in_close_wait() {
    // CLOSE-WAIT is one of tcp_need_reset's states: RST|ACK acknowledging the FIN, and
    // tcp_set_state(TCP_CLOSE) from CLOSE-WAIT counts EstabResets.
    let mut t = established_waiting_for_accept();
    send!(t, fin(PEER_ISS + 1u32, t.iss + 1u32));
    t.advance(Duration::from_secs(1));
    while t.poll().is_some() {}
    t.events();
    assert_eq!(t.state(), Some(State::CloseWait));
    let before = *t.ep.counters();
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    t.check();
    recv!(t, rst_ack(t.iss + 1u32, PEER_ISS + 2u32));
    recv_nothing!(t);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![(State::CloseWait, State::Closed, Reason::AppAbort)]
    );
    assert_eq!(t.ep.counters().EstabResets, before.EstabResets + 1);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn close_listener_then_a_retransmitted_syn_meets_a_closed_port() {
    // The half-open connection is gone: the peer's retransmitted SYN gets the RST|ACK of
    // a port nobody listens on (connect() then fails with ECONNREFUSED).
    let mut t = syn_received(config());
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    t.check();
    assert_eq!(
        t.events(),
        vec![t.changed(State::SynReceived, State::Closed, Reason::ListenerClosed)]
    );
    recv_nothing!(t);
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 1u32));
    assert_eq!(t.ep.connection_count(), 0);
}

/// ESTABLISHED, still in the accept queue.
fn established_waiting_for_accept() -> T {
    let mut t = syn_received(config());
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    t.events();
    t
}

#[test]
fn connection_reset_in_the_accept_queue_reports_its_error_at_accept() {
    let mut t = established_waiting_for_accept();
    send!(t, rst(PEER_ISS + 1u32));
    assert!(t.events().iter().all(|e| !matches!(e, Event::Error { .. })));
    let c = t.ep.accept(t.now, t.listener.unwrap()).unwrap();
    assert_eq!(
        t.events(),
        vec![Event::Error {
            conn: c,
            error: Error::ConnectionReset
        }]
    );
}

/// A listener with backlog 2 whose accept queue holds three children (full: 3 > 2), and a
/// fourth peer whose SYN was answered before the queue filled: its half-open connection
/// and our ISS for it (a SYN arriving with the accept queue full is dropped).
fn full_accept_queue_and_a_half_open_peer(cfg: tcpwave::Config) -> (T, SocketAddrV4, SeqNumber) {
    let mut t = T::new(cfg);
    t.ep.listen(t.now, t.ours, 2).unwrap();
    let [a, b, c, d] = [50_001, 50_002, 50_003, 50_004].map(peer_at);
    for p in [a, b] {
        let iss = handshake_syn(&mut t, p);
        handshake_ack(&mut t, p, iss);
    }
    let iss_c = handshake_syn(&mut t, c);
    let iss_d = handshake_syn(&mut t, d);
    handshake_ack(&mut t, c, iss_c);
    for p in [a, b, c] {
        assert_eq!(state_of(&t, p), Some(State::Established));
    }
    t.events();
    (t, d, iss_d)
}

#[test]
fn with_the_accept_queue_full_segments_that_fail_the_request_checks_are_answered_as_usual() {
    // Linux tcp_check_req reaches `syn_recv_sock` (where the full accept queue drops the
    // ACK: ListenOverflows) only after the ACK-number, PAWS/window and RST/SYN checks: a
    // segment failing those gets the answer it would get with room in the queue.
    let (mut t, p, iss) = full_accept_queue_and_a_half_open_peer(config());
    // An ACK number other than ISS + 1: the listener's RST <SEQ=SEG.ACK>.
    t.send_from(p, t.ours, ack(PEER_ISS + 1u32, iss + 1000u32));
    let (_, dst, seg) = t.poll().expect("RST for the bad ACK number");
    assert_eq!((dst, seg.flags, seg.seq), (p, TcpFlags::RST, iss + 1000u32));
    // The right ACK number but far outside our window: a plain ACK, not an overflow.
    t.send_from(p, t.ours, ack(PEER_ISS + 1_000_000u32, iss + 1u32));
    let (_, dst, seg) = t.poll().expect("ACK for the out-of-window segment");
    assert_eq!((dst, seg.flags), (p, TcpFlags::ACK));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenOverflows, 0);
    assert_eq!(t.ep.counters().ListenDrops, 0);
    // The real handshake ACK passes every check and finds no room: dropped, counted.
    handshake_ack(&mut t, p, iss);
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenOverflows, 1);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    assert_eq!(state_of(&t, p), Some(State::SynReceived));
}

#[test]
fn tcp_abort_on_overflow_resets_the_half_open_connection_whose_ack_finds_no_room() {
    // Linux tcp_check_req, `listen_overflow:` with net.ipv4.tcp_abort_on_overflow = 1 falls
    // through to `embryonic_reset:`: tcp_v4_send_reset answers the ACK with <SEQ=SEG.ACK>
    // <CTL=RST> and the request leaves the SYN queue (EmbryonicRsts). AttemptFails is not
    // counted on this path (only before `goto embryonic_reset` for an RST or SYN).
    let cfg = tcpwave::Config {
        tcp_abort_on_overflow: true,
        ..config()
    };
    let (mut t, p, iss) = full_accept_queue_and_a_half_open_peer(cfg);
    handshake_ack(&mut t, p, iss);
    let (_, dst, seg) = t.poll().expect("RST for the handshake ACK");
    assert_eq!((dst, seg.flags, seg.seq), (p, TcpFlags::RST, iss + 1u32));
    recv_nothing!(t);
    let c = t.ep.counters();
    assert_eq!((c.ListenOverflows, c.ListenDrops), (1, 1));
    assert_eq!((c.EmbryonicRsts, c.AttemptFails), (1, 0));
    assert_eq!(state_of(&t, p), None, "the half-open connection is gone");
    assert!(t.events().iter().any(|e| matches!(
        e,
        Event::StateChanged {
            reason: Reason::AcceptQueueFull,
            ..
        }
    )));
    // The accept queue is still full: a new SYN is dropped (ListenDrops), as before.
    t.send_from(peer_at(50_005), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenDrops, 2);
    // And the knob is a sysctl like the others.
    let mut cfg = tcpwave::Config::default();
    cfg.set("tcp_abort_on_overflow", "1").unwrap();
    assert!(cfg.tcp_abort_on_overflow);
    assert!(cfg.set("tcp_abort_on_overflow", "yes please").is_err());
}
