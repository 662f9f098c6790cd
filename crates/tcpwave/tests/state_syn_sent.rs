//! SYN-SENT: active open (RFC 9293 §3.10.1, §3.10.7.3), simultaneous open (§3.5 figure 7),
//! SYN retransmission (RFC 6298, Linux tcp_syn_retries) and ephemeral ports.

#[macro_use]
mod support;
use support::*;

fn server() -> SocketAddrV4 {
    SocketAddrV4::new(PEER_ADDR, SERVER_PORT)
}

// =======================================================================================
// SYN-SENT: the SYN
// =======================================================================================

#[test]
fn connect_sends_a_syn_with_linux_options_and_window() {
    let mut t = T::new(config_linux());
    t.ours = SocketAddrV4::new(OUR_ADDR, CLIENT_PORT);
    t.peer = server();
    let iss = t.expected_iss();
    let c = t.ep.connect(t.now, t.ours, t.peer).unwrap();
    t.conn = Some(c);
    // Linux: win 64240, <mss 1460,sackOK,TS val .. ecr 0,nop,wscale 7>.
    let options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((t.our_clock(), 0)),
        ..TcpOptions::default()
    };
    recv!(t, syn(iss).win(64_240).opts(options));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![t.changed(State::Closed, State::SynSent, Reason::AppConnect)]
    );
    assert_eq!(t.ep.counters().ActiveOpens, 1);
}

/// The TCP option bytes of an IPv4 packet without IP options.
fn tcp_option_bytes(packet: &[u8]) -> &[u8] {
    let data_offset = usize::from(packet[20 + 12] >> 4) * 4;
    &packet[40..20 + data_offset]
}

#[test]
fn syn_options_are_laid_out_byte_for_byte_as_linux() {
    // Linux tcp_options_write: MSS, then SACK-permitted packed with timestamps, then
    // NOP + window scale: 02 04 05 b4 | 04 02 08 0a <TSval> <TSecr> | 01 03 03 07.
    let mut t = T::new(config_linux());
    t.ours = SocketAddrV4::new(OUR_ADDR, CLIENT_PORT);
    t.peer = server();
    t.ep.connect(t.now, t.ours, t.peer).unwrap();
    let packet = t.poll_raw().expect("SYN");
    let tsval = t.our_clock().to_be_bytes();
    let mut expected = vec![2, 4, 0x05, 0xb4, 4, 2, 8, 10];
    expected.extend_from_slice(&tsval);
    expected.extend_from_slice(&[0, 0, 0, 0, 1, 3, 3, 7]);
    assert_eq!(tcp_option_bytes(&packet), &expected[..]);
    // Without timestamps: 02 04 05 b4 | 01 01 04 02 | 01 03 03 07.
    let mut t = T::new(Config {
        tcp_timestamps: false,
        ..config_linux()
    });
    t.ep.connect(t.now, SocketAddrV4::new(OUR_ADDR, CLIENT_PORT), server())
        .unwrap();
    let packet = t.poll_raw().expect("SYN");
    assert_eq!(
        tcp_option_bytes(&packet),
        &[2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]
    );
}

#[test]
fn connect_without_options_sends_mss_only() {
    let t = syn_sent(config());
    assert_eq!(t.state(), Some(State::SynSent));
}

#[test]
fn send_before_the_handshake_completes_would_block() {
    let mut t = syn_sent(config());
    assert_eq!(t.ep.send(t.now, t.conn(), b"x"), Err(Error::WouldBlock));
    assert_eq!(
        t.ep.shutdown(t.now, t.conn(), Shutdown::Write),
        Err(Error::NotConnected)
    );
}

// =======================================================================================
// SYN-SENT: the answer
// =======================================================================================

#[test]
fn syn_ack_completes_the_handshake_with_an_ack() {
    let mut t = syn_sent(config());
    send!(
        t,
        syn_ack(PEER_ISS, t.iss + 1u32)
            .win(PEER_WINDOW)
            .opts(mss_only(1460))
    );
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32).win(WINDOW));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Established));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::SynSent, State::Established, Reason::RcvSynAck),
            Event::Connected { conn: t.conn() },
        ]
    );
}

#[test]
fn rcv_nxt_and_irs_are_undefined_until_the_syn_ack_arrives() {
    // RFC 9293 §3.3.1: IRS (and so RCV.NXT) comes with the peer's SYN.
    let mut t = syn_sent(config());
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!((info.irs, info.rcv_nxt), (None, None));
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32).opts(mss_only(1460)));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32).win(WINDOW));
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!(info.irs, Some(PEER_ISS));
    assert_eq!(info.rcv_nxt, Some(PEER_ISS + 1u32));
}

#[test]
fn syn_ack_with_every_option_negotiates_them_all() {
    let mut t = established_active(config_linux());
    // RFC 7323 §2.2: the window of a SYN-ACK is never scaled.
    assert_eq!(t.ep.info(t.conn()).unwrap().snd_wnd, u32::from(PEER_WINDOW));
    // Window scale 7 both ways: our window is the 64240 of our SYN (rcv_ssthresh), rounded
    // up to 128-byte units (502 << 7 = 64256, as a Linux client sends), and the peer's
    // field 501 means 64128 bytes.
    t.write(&[7u8; 100]);
    recv!(t, data(t.iss + 1u32, PEER_ISS + 1u32, &[7u8; 100]).win(502));
    send!(t, ack(PEER_ISS + 1u32, t.iss + 101u32).win(501));
    assert_eq!(t.ep.info(t.conn()).unwrap().snd_wnd, 501 << 7);
}

#[test]
fn syn_ack_acknowledging_something_else_draws_rst_and_keeps_waiting() {
    // RFC 9293 §3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
    // <SEQ=SEG.ACK><CTL=RST> (unless the RST bit is set), discard the segment, and return."
    for bad in [0u32, 2, 1000] {
        let mut t = syn_sent(config());
        let seg_ack = t.iss + bad;
        send!(t, syn_ack(PEER_ISS, seg_ack).opts(mss_only(1460)));
        recv!(t, rst(seg_ack).win(0));
        recv_nothing!(t);
        assert_eq!(t.state(), Some(State::SynSent), "ack ISS+{bad}");
    }
}

#[test]
fn plain_ack_in_syn_sent_with_a_bad_ack_draws_rst() {
    let mut t = syn_sent(config());
    send!(t, ack(PEER_ISS, t.iss + 5u32));
    recv!(t, rst(t.iss + 5u32));
    assert_eq!(t.state(), Some(State::SynSent));
}

#[test]
fn plain_ack_in_syn_sent_with_an_acceptable_ack_is_dropped() {
    // RFC 9293 §3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop
    // the segment and return."
    let mut t = syn_sent(config());
    send!(t, ack(PEER_ISS, t.iss + 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynSent));
}

#[test]
fn rst_acknowledging_our_syn_refuses_the_connection() {
    let mut t = syn_sent(config());
    send!(t, rst_ack(SeqNumber(0), t.iss + 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::SynSent, State::Closed, Reason::RcvRst),
            Event::Error {
                conn: t.conn(),
                error: Error::ConnectionRefused
            },
        ]
    );
    assert_eq!(t.ep.error(t.conn()), Some(Error::ConnectionRefused));
    assert_eq!(Error::ConnectionRefused.errno(), 111);
    assert_eq!(t.ep.counters().AttemptFails, 1);
    // Nothing left to time.
    assert_eq!(t.ep.poll_timeout(), None);
}

#[test]
fn rst_without_ack_is_ignored_in_syn_sent() {
    // RFC 9293 §3.10.7.3: with the ACK bit off, "drop the segment and return".
    let mut t = syn_sent(config());
    send!(t, rst(PEER_ISS));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynSent));
}

#[test]
fn rst_with_an_unacceptable_ack_is_ignored_in_syn_sent() {
    let mut t = syn_sent(config());
    send!(t, rst_ack(SeqNumber(0), t.iss + 7u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynSent));
}

#[test]
fn close_in_syn_sent_sends_nothing() {
    let mut t = syn_sent(config());
    t.close();
    recv_nothing!(t);
    assert_eq!(t.ep.connection_count(), 0);
    assert_eq!(t.ep.poll_timeout(), None);
    // A late SYN-ACK finds nobody: RST.
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32));
    recv!(t, rst(t.iss + 1u32));
}

// =======================================================================================
// SYN-SENT: simultaneous open (RFC 9293 §3.5 figure 7)
// =======================================================================================

#[test]
fn simultaneous_open_answers_a_syn_with_syn_ack_from_the_same_iss() {
    let mut t = syn_sent(config());
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(1460)));
    recv!(
        t,
        syn_ack(t.iss, PEER_ISS + 1u32)
            .win(64_240)
            .opts(mss_only(1460))
    );
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::SynReceived));
    assert_eq!(
        t.events(),
        vec![t.changed(State::SynSent, State::SynReceived, Reason::RcvSyn)]
    );
    // The peer's SYN-ACK completes it.
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32).opts(mss_only(1460)));
    assert_eq!(t.state(), Some(State::Established));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::SynReceived, State::Established, Reason::RcvSynAck),
            Event::Connected { conn: t.conn() },
        ]
    );
    // Data flows both ways.
    t.write(b"hi");
    recv!(t, data(t.iss + 1u32, PEER_ISS + 1u32, b"hi"));
    send!(t, data(PEER_ISS + 1u32, t.iss + 3u32, b"yo"));
    recv!(t, ack(t.iss + 3u32, PEER_ISS + 3u32));
    assert_eq!(t.read(), b"yo");
}

#[test]
fn simultaneous_open_completes_on_a_plain_ack_too() {
    let mut t = syn_sent(config());
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, syn_ack(t.iss, PEER_ISS + 1u32).opts(mss_only(1460)));
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Established));
    assert!(t.events().contains(&Event::Connected { conn: t.conn() }));
}

#[test]
fn simultaneous_open_retransmits_its_syn_ack() {
    let mut t = syn_sent(config());
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, syn_ack(t.iss, PEER_ISS + 1u32).opts(mss_only(1460)));
    // The SYN's retransmission timer (armed at START) still runs: 1 s after the SYN.
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, syn_ack(t.iss, PEER_ISS + 1u32).opts(mss_only(1460)));
}

// =======================================================================================
// SYN-SENT: retransmission (RFC 6298, Linux tcp_syn_retries)
// =======================================================================================

#[test]
fn syn_is_retransmitted_with_doubling_rto_then_times_out_after_127_seconds() {
    let mut t = syn_sent(config());
    // tcp_syn_retries = 6, RTO 1 s doubling: retransmissions at 1, 3, 7, 15, 31, 63 s.
    for at in [1, 3, 7, 15, 31, 63] {
        t.quiet_until(START + Duration::from_secs(at));
        recv!(t, syn(t.iss).win(SYN_WINDOW).opts(mss_only(1460)));
        recv_nothing!(t);
        assert_eq!(t.state(), Some(State::SynSent));
    }
    let c = *t.ep.counters();
    assert_eq!((c.RetransSegs, c.TCPSynRetrans, c.TCPTimeouts), (6, 6, 6));
    // Linux tcp_model_timeout(6 retries, 1 s) = 127 s: connect() fails with ETIMEDOUT.
    t.quiet_until(START + Duration::from_secs(127));
    recv_nothing!(t);
    // The expiry that gives up is a timeout too (counted before tcp_write_timeout).
    let c = *t.ep.counters();
    assert_eq!((c.RetransSegs, c.TCPSynRetrans, c.TCPTimeouts), (6, 6, 7));
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(
        t.events(),
        vec![
            t.changed(State::SynSent, State::Closed, Reason::RetransmitTimeout),
            Event::Error {
                conn: t.conn(),
                error: Error::TimedOut
            },
        ]
    );
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
    assert_eq!(t.ep.poll_timeout(), None);
}

#[test]
fn syn_retries_follow_the_knob() {
    let mut t = syn_sent(Config {
        tcp_syn_retries: 2,
        ..config()
    });
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, syn(t.iss).opts(mss_only(1460)));
    t.quiet_until(START + Duration::from_secs(3));
    recv!(t, syn(t.iss).opts(mss_only(1460)));
    t.quiet_until(START + Duration::from_secs(7));
    recv_nothing!(t);
    assert_eq!(t.ep.error(t.conn()), Some(Error::TimedOut));
}

#[test]
fn syn_ack_to_a_retransmitted_syn_gives_no_rtt_sample_and_rto_falls_back_to_3s() {
    // Karn (RFC 6298 §3): an ACK of a retransmitted SYN cannot be timed. RFC 6298 (5.7)
    // and Linux tcp_init_metrics: without a sample from the handshake, RTO is 3 s.
    let mut t = syn_sent(config());
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, syn(t.iss).opts(mss_only(1460)));
    t.advance(Duration::from_millis(10));
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32).opts(mss_only(1460)));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!(info.rto_micros, Duration::from_secs(3).total_micros());
    t.write(b"data");
    recv!(t, data(t.iss + 1u32, PEER_ISS + 1u32, b"data"));
    let sent = t.now;
    t.quiet_until(sent + Duration::from_secs(3));
    recv!(t, data(t.iss + 1u32, PEER_ISS + 1u32, b"data"));
}

#[test]
fn syn_ack_to_a_first_syn_is_timed() {
    let mut t = syn_sent(config());
    t.advance(Duration::from_millis(100));
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32).opts(mss_only(1460)));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    // RFC 6298 (2.2): SRTT = 100 ms, RTTVAR = 50 ms; Linux floors 4*RTTVAR at 200 ms.
    let info = t.ep.info(t.conn()).unwrap();
    assert_eq!(info.rto_micros, Duration::from_millis(300).total_micros());
}

#[test]
fn syn_ack_after_two_syn_retransmissions_starts_with_one_segment_cwnd() {
    // RFC 5681 §3.1 / Linux tcp_init_transfer: after more than one SYN retransmission
    // the initial window is one segment.
    let mut t = syn_sent(config());
    t.quiet_until(START + Duration::from_secs(1));
    recv!(t, syn(t.iss).opts(mss_only(1460)));
    t.quiet_until(START + Duration::from_secs(3));
    recv!(t, syn(t.iss).opts(mss_only(1460)));
    send!(t, syn_ack(PEER_ISS, t.iss + 1u32).opts(mss_only(1460)));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    assert_eq!(t.ep.info(t.conn()).unwrap().cwnd, 1460);
    t.write(&[1u8; 3000]);
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32).payload(&[1u8; 1460]));
    recv_nothing!(t);
}

// =======================================================================================
// Ephemeral ports (Linux ip_local_port_range)
// =======================================================================================

#[test]
fn ephemeral_ports_run_out_with_addr_not_available() {
    let mut t = T::new(Config {
        ip_local_port_range: (40_000, 40_003),
        ..config()
    });
    let any = SocketAddrV4::new(OUR_ADDR, 0);
    let mut ports = Vec::new();
    for _ in 0..4 {
        let c = t.ep.connect(t.now, any, server()).expect("a free port");
        ports.push(t.ep.tuple(c).unwrap().local_port);
    }
    ports.sort();
    assert_eq!(ports, vec![40_000, 40_001, 40_002, 40_003]);
    assert_eq!(
        t.ep.connect(t.now, any, server()),
        Err(Error::AddrNotAvailable)
    );
    // Another destination has its own 4 ports (the tuple is what must be unique).
    let other = SocketAddrV4::new(PEER_ADDR, 443);
    assert!(t.ep.connect(t.now, any, other).is_ok());
}

#[test]
fn time_wait_entries_keep_their_ephemeral_ports() {
    // Without timestamps (and not on loopback) tcp_tw_reuse cannot take a TIME_WAIT
    // tuple, so a closed connection's port stays taken for 60 s.
    let mut t = established_active(Config {
        ip_local_port_range: (CLIENT_PORT, CLIENT_PORT),
        ..config()
    });
    t.close();
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 1u32));
    send!(t, fin(PEER_ISS + 1u32, t.iss + 2u32));
    recv!(t, ack(t.iss + 2u32, PEER_ISS + 2u32));
    assert_eq!(t.ep.time_wait_count(), 1);
    let any = SocketAddrV4::new(OUR_ADDR, 0);
    assert_eq!(
        t.ep.connect(t.now, any, server()),
        Err(Error::AddrNotAvailable)
    );
    t.advance(Duration::from_secs(60));
    assert_eq!(t.ep.time_wait_count(), 0);
    let c =
        t.ep.connect(t.now, any, server())
            .expect("the port is free again");
    assert_eq!(t.ep.tuple(c).unwrap().local_port, CLIENT_PORT);
}

#[test]
fn explicit_local_port_in_use_is_addr_not_available() {
    let mut t = syn_sent(config());
    assert_eq!(
        t.ep.connect(t.now, t.ours, t.peer),
        Err(Error::AddrNotAvailable)
    );
}
