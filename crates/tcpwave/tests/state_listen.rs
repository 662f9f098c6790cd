//! LISTEN: passive open (RFC 9293 §3.10.7.2), option negotiation in the SYN-ACK
//! (RFC 9293 §3.7.1, RFC 7323, RFC 2018) and the listen backlog (Linux SYN queue and
//! accept queue).

#[macro_use]
mod support;
use support::*;

fn peer_at(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(PEER_ADDR, port)
}

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

#[test]
fn syn_queue_full_drops_the_syn_and_counts_listen_drops() {
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 2).unwrap();
    for port in [50_001, 50_002] {
        t.send_from(peer_at(port), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
        let seg = t.poll().expect("SYN-ACK").2;
        assert_eq!(seg.flags, TcpFlags::SYN | TcpFlags::ACK);
    }
    t.send_from(peer_at(50_003), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    assert_eq!(t.ep.connection_count(), 2);
    assert_eq!(t.ep.accept(t.now, l), Err(Error::WouldBlock));
}

#[test]
fn accept_queue_full_drops_the_syn() {
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 1).unwrap();
    t.listener = Some(l);
    let first = peer_at(50_001);
    t.send_from(first, t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    let synack = t.poll().expect("SYN-ACK").2;
    t.send_from(first, t.ours, ack(PEER_ISS + 1u32, synack.seq + 1u32));
    assert_eq!(
        t.ep.snapshot()
            .iter()
            .filter(|r| r.state == State::Established)
            .count(),
        1
    );
    // The accept queue holds one connection nobody accepted: the next SYN is dropped.
    t.send_from(peer_at(50_002), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    // Once accepted, there is room again.
    t.ep.accept(t.now, l).unwrap();
    t.send_from(peer_at(50_002), t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    let seg = t.poll().expect("SYN-ACK").2;
    assert_eq!(seg.flags, TcpFlags::SYN | TcpFlags::ACK);
}

#[test]
fn handshake_ack_is_dropped_while_the_accept_queue_is_full_and_synack_retried() {
    let mut t = T::new(config());
    let l = t.ep.listen(t.now, t.ours, 2).unwrap();
    let (a, b, c) = (peer_at(50_001), peer_at(50_002), peer_at(50_003));
    let mut iss = std::collections::HashMap::new();
    for p in [a, b] {
        t.send_from(p, t.ours, syn(PEER_ISS).opts(mss_only(1460)));
        iss.insert(p, t.poll().unwrap().2.seq);
    }
    t.send_from(a, t.ours, ack(PEER_ISS + 1u32, iss[&a] + 1u32));
    t.send_from(c, t.ours, syn(PEER_ISS).opts(mss_only(1460)));
    iss.insert(c, t.poll().expect("room in both queues").2.seq);
    t.send_from(b, t.ours, ack(PEER_ISS + 1u32, iss[&b] + 1u32));
    // Accept queue: a, b (full). c's ACK is dropped (Linux tcp_check_req, ListenOverflows).
    t.send_from(c, t.ours, ack(PEER_ISS + 1u32, iss[&c] + 1u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().ListenDrops, 1);
    let c_tuple = FourTuple::new(t.ours, c);
    assert_eq!(
        t.ep.info_by_tuple(&c_tuple).unwrap().state,
        State::SynReceived
    );
    // The SYN-ACK is retransmitted after the initial RTO; once there is room, the
    // retransmitted ACK completes the handshake.
    t.advance(Duration::from_secs(1));
    let (_, dst, seg) = t.poll().expect("SYN-ACK retransmission");
    assert_eq!(dst, c);
    assert_eq!(
        (seg.flags, seg.seq),
        (TcpFlags::SYN | TcpFlags::ACK, iss[&c])
    );
    t.ep.accept(t.now, l).unwrap();
    t.send_from(c, t.ours, ack(PEER_ISS + 1u32, iss[&c] + 1u32));
    assert_eq!(
        t.ep.info_by_tuple(&c_tuple).unwrap().state,
        State::Established
    );
}

#[test]
fn close_listener_resets_connections_waiting_for_accept() {
    let mut t = established_waiting_for_accept();
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    recv!(t, rst_ack(t.iss + 1u32, PEER_ISS + 1u32));
    recv_nothing!(t);
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
