//! CLOSING and TIME-WAIT: simultaneous close (RFC 9293 §3.6 figure 13), the 2·MSL wait
//! (Linux TCP_TIMEWAIT_LEN, 60 s, not the sources' 30 s), re-ACK of a retransmitted FIN,
//! reuse of the tuple by a newer SYN (RFC 6191) or by connect() (tcp_tw_reuse), RST
//! handling per tcp_rfc1337 (RFC 1337), and the knobs that skip TIME_WAIT.
//! Segments for TIME-WAIT follow Linux `tcp_timewait_state_process`.

#[macro_use]
mod support;
use support::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// In the TIME_WAIT fixtures: our SND.NXT (after our FIN) and RCV.NXT (after theirs).
fn tw_seqs(t: &T) -> (SeqNumber, SeqNumber) {
    (t.iss + 2u32, PEER_ISS + 2u32)
}

/// TIME-WAIT on the active opener (the client closed first).
fn time_wait_active(cfg: Config) -> T {
    close_active(established_active(cfg))
}

/// The active opener closes first and ends in TIME-WAIT.
fn close_active(mut t: T) -> T {
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    t.close();
    recv!(t, fin(a, p));
    send!(t, fin(p, a + 1u32));
    recv!(t, ack(a + 1u32, p + 1u32));
    assert!(t.time_wait_entry().is_some());
    t.events();
    t
}

// =======================================================================================
// CLOSING
// =======================================================================================

#[test]
fn ack_of_our_fin_moves_closing_to_time_wait() {
    let mut t = closing(config());
    let (f, p) = (t.iss + 1u32, PEER_ISS + 2u32);
    send!(t, ack(p, f + 1u32));
    // Both FINs are acknowledged already: nothing to send.
    recv_nothing!(t);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![(State::Closing, State::TimeWait, Reason::RcvAck)]
    );
    assert_eq!(t.time_wait_entry(), Some((f + 1u32, p, t.now + secs(60))));
}

#[test]
fn our_fin_is_retransmitted_in_closing() {
    let mut t = closing(config());
    let (f, p) = (t.iss + 1u32, PEER_ISS + 2u32);
    t.quiet_until(START + Duration::from_millis(200));
    recv!(t, fin(f, p));
}

#[test]
fn retransmitted_peer_fin_in_closing_is_acknowledged() {
    let mut t = closing(config());
    let (f, p) = (t.iss + 1u32, PEER_ISS + 2u32);
    send!(t, fin(p - 1u32, f));
    recv!(t, ack(f + 1u32, p));
    assert_eq!(t.state(), Some(State::Closing));
}

#[test]
fn rst_in_closing_closes() {
    let mut t = closing(config());
    send!(t, rst(PEER_ISS + 2u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::Closed));
    assert_eq!(t.ep.time_wait_count(), 0);
}

// =======================================================================================
// TIME-WAIT: how long, and the retransmitted FIN
// =======================================================================================

#[test]
fn time_wait_lasts_sixty_seconds() {
    let mut t = time_wait(config());
    let entered = t.now;
    assert_eq!(t.ep.time_wait_count(), 1);
    // TW counts the entry as it is scheduled (Linux __inet_twsk_schedule), not at expiry.
    assert_eq!(t.ep.counters().TW, 1);
    assert_eq!(
        t.ep.connection_count(),
        0,
        "TIME_WAIT keeps only the compact entry"
    );
    t.quiet_until(entered + secs(60));
    recv_nothing!(t);
    assert_eq!(
        t.events(),
        vec![t.tw_changed(State::Closed, Reason::TimeWaitExpired)]
    );
    assert_eq!(t.ep.time_wait_count(), 0);
    assert_eq!(t.ep.counters().TW, 1);
    assert_eq!(t.ep.poll_timeout(), None);
}

#[test]
fn msl_sets_the_time_wait_length() {
    let mut t = time_wait(Config {
        msl: Duration::from_secs(5),
        ..config()
    });
    t.quiet_until(t.now + secs(10));
    assert_eq!(t.ep.time_wait_count(), 0);
}

#[test]
fn retransmitted_fin_is_acked_again_and_restarts_the_2msl_timer() {
    // The lost-final-ACK scenario, client side.
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    t.advance(secs(30));
    send!(t, fin(r - 1u32, s));
    recv!(t, ack(s, r).win(WINDOW));
    recv_nothing!(t);
    let restarted = t.now;
    assert_eq!(
        t.events(),
        vec![Event::TimeWaitRestarted {
            tuple: t.tuple(),
            expiry: restarted + secs(60)
        }]
    );
    assert_eq!(t.time_wait_entry().map(|e| e.2), Some(restarted + secs(60)));
    // Not gone at the original 60 s; gone 60 s after the restart.
    t.quiet_until(restarted + secs(60));
    assert_eq!(t.ep.time_wait_count(), 0);
}

#[test]
fn bare_ack_at_rcv_nxt_restarts_the_timer_without_an_answer() {
    // Linux tcp_timewait_state_process: an in-window bare ACK reschedules TIME_WAIT
    // (inet_twsk_reschedule) and is not answered.
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    t.advance(secs(10));
    send!(t, ack(r, s));
    recv_nothing!(t);
    assert_eq!(t.time_wait_entry().map(|e| e.2), Some(t.now + secs(60)));
}

#[test]
fn old_data_in_time_wait_is_acked() {
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    send!(t, data(r - 10u32, s, b"duplicate"));
    recv!(t, ack(s, r));
    assert_eq!(t.ep.time_wait_count(), 1);
}

#[test]
fn time_wait_ack_carries_timestamps() {
    let mut t = time_wait(config_linux());
    let (s, r) = tw_seqs(&t);
    // TS.Recent as the entry kept it: the TSval of the peer's first FIN.
    let ts_recent = t.peer_tsval;
    t.advance(secs(1));
    send!(t, fin(r - 1u32, s));
    // TSval from our clock; TSecr = that TS.Recent (Linux tcp_timewait_state_process
    // keeps TS.Recent for a segment outside the window, as this retransmission is).
    recv!(t, ack(s, r).ts(t.our_clock(), ts_recent));
}

// =======================================================================================
// TIME-WAIT: RST (tcp_rfc1337, RFC 1337)
// =======================================================================================

#[test]
fn a_time_wait_of_four_seconds_or_less_counts_in_twkilled() {
    // __inet_twsk_schedule: `kill = timeo <= 4*HZ` picks LINUX_MIB_TIMEWAITKILLED.
    let t = time_wait(Config {
        msl: Duration::from_secs(2),
        ..config()
    });
    assert_eq!(t.ep.time_wait_count(), 1);
    assert_eq!((t.ep.counters().TW, t.ep.counters().TWKilled), (0, 1));
}

#[test]
fn rst_kills_time_wait_when_rfc1337_is_off() {
    // Linux default tcp_rfc1337 = 0: "TIME_WAIT assassination" is allowed.
    let mut t = time_wait(config());
    let (_, r) = tw_seqs(&t);
    send!(t, rst(r));
    recv_nothing!(t);
    assert_eq!(t.ep.time_wait_count(), 0);
    // Linux counts no MIB for an assassination: TWKilled is about short timeouts, and TW
    // was counted when the entry was made.
    assert_eq!((t.ep.counters().TW, t.ep.counters().TWKilled), (1, 0));
    assert_eq!(
        t.events(),
        vec![t.tw_changed(State::Closed, Reason::RcvRst)]
    );
}

#[test]
fn rst_is_ignored_in_time_wait_when_rfc1337_is_on() {
    let mut t = time_wait(Config {
        tcp_rfc1337: true,
        ..config()
    });
    let (_, r) = tw_seqs(&t);
    let expiry = t.time_wait_entry().unwrap().2;
    t.advance(secs(1));
    send!(t, rst(r));
    recv_nothing!(t);
    assert_eq!(t.time_wait_entry().map(|e| e.2), Some(expiry), "timer kept");
    assert_eq!(t.ep.counters().TWKilled, 0);
}

#[test]
fn rst_off_rcv_nxt_is_ignored_in_time_wait() {
    let mut t = time_wait(config());
    let (_, r) = tw_seqs(&t);
    send!(t, rst(r + 5u32));
    send!(t, rst(r - 1u32));
    recv_nothing!(t);
    assert_eq!(t.ep.time_wait_count(), 1);
}

// =======================================================================================
// TIME-WAIT: a new SYN for the tuple (RFC 6191, RFC 9293 §3.6.1)
// =======================================================================================

#[test]
fn syn_above_rcv_nxt_reopens_the_tuple_with_an_iss_above_the_old_one() {
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    let new_iss = r + 100_000u32;
    t.advance(secs(5));
    send!(t, syn(new_iss).win(PEER_WINDOW).opts(mss_only(1460)));
    // Linux tcp_timewait_state_process: isn = tw_snd_nxt + 65535 + 2.
    let iss = s + 65_537u32;
    recv!(
        t,
        syn_ack(iss, new_iss + 1u32)
            .win(SYN_WINDOW)
            .opts(mss_only(1460))
    );
    let changes = T::state_changes(&t.events());
    assert_eq!(
        changes,
        vec![
            (State::TimeWait, State::Closed, Reason::TimeWaitReused),
            (State::Listen, State::SynReceived, Reason::RcvSyn),
        ]
    );
    assert_eq!(t.ep.time_wait_count(), 0);
}

#[test]
fn syn_below_rcv_nxt_is_an_old_duplicate_acked_and_dropped() {
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    let expiry = t.time_wait_entry().unwrap().2;
    t.advance(secs(5));
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, ack(s, r));
    recv_nothing!(t);
    // An ACK-less SYN does not restart the timer (it may be a new SYN with a low ISN).
    assert_eq!(t.time_wait_entry().map(|e| e.2), Some(expiry));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn syn_in_time_wait_without_a_listener_is_acked_and_the_entry_kept() {
    // Linux tcp_v4_rcv, TCP_TW_SYN: with no listener the SYN falls through to the
    // TIME_WAIT ACK (RFC 9293 §3.10.7.4: a SYN in TIME-WAIT gets an ACK otherwise).
    let mut t = time_wait(config());
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    let (s, r) = tw_seqs(&t);
    send!(t, syn(r + 100_000u32).opts(mss_only(1460)));
    recv!(t, ack(s, r));
    recv_nothing!(t);
    assert_eq!(t.ep.time_wait_count(), 1);
    assert!(t.events().is_empty());
}

#[test]
fn time_wait_rate_limits_its_acks_to_out_of_window_segments() {
    // Linux tcp_timewait_state_process ends in tcp_timewait_check_oow_rate_limit(tw, skb,
    // LINUX_MIB_TCPACKSKIPPEDTIMEWAIT): one ACK per tcp_invalid_ratelimit (500 ms) per
    // entry (tw_last_oow_ack_time) for SYNs and pure ACKs. The ACK still restarts 2MSL.
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    t.advance(Duration::from_millis(100));
    send!(t, ack(r - 5u32, s));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPACKSkippedTimeWait, 1);
    assert_eq!(t.time_wait_entry().map(|e| e.2), Some(t.now + secs(60)));
    // 600 ms after the first reply: answered again.
    t.advance(Duration::from_millis(500));
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    // ACK-less SYNs below RCV.NXT (old duplicates) the same way.
    t.advance(Duration::from_millis(600));
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv!(t, ack(s, r));
    t.advance(Duration::from_millis(100));
    send!(t, syn(PEER_ISS).opts(mss_only(1460)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPACKSkippedTimeWait, 2);
    assert_eq!(t.ep.time_wait_count(), 1);
}

#[test]
fn a_retransmitted_fin_in_time_wait_is_always_acked() {
    // tcp_oow_rate_limited: "Data packets without SYNs are not likely part of an ACK
    // loop": a FIN (it has sequence space) is answered whatever the limit, and does not
    // count as the last out-of-window ACK.
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    t.advance(Duration::from_millis(100));
    send!(t, fin(r - 1u32, s));
    recv!(t, ack(s, r));
    send!(t, data(r - 10u32, s, b"duplicate"));
    recv!(t, ack(s, r));
    assert_eq!(t.ep.counters().TCPACKSkippedTimeWait, 0);
    // The pure ACK limit still counts from the first reply.
    t.advance(Duration::from_millis(300));
    send!(t, ack(r - 5u32, s));
    recv_nothing!(t);
    t.advance(Duration::from_millis(100));
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
}

#[test]
fn a_newer_syn_without_a_listener_is_acked_whatever_the_limit() {
    // Linux returns TCP_TW_SYN before the rate limit; tcp_v4_rcv, finding no listener,
    // falls through to tcp_v4_timewait_ack.
    let mut t = time_wait(config());
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    let (s, r) = tw_seqs(&t);
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    t.advance(Duration::from_millis(100));
    send!(t, syn(r + 100_000u32).opts(mss_only(1460)));
    recv!(t, ack(s, r));
    assert_eq!(t.ep.counters().TCPACKSkippedTimeWait, 0);
}

#[test]
fn time_wait_rate_limit_follows_the_knob() {
    let mut t = time_wait(Config {
        tcp_invalid_ratelimit: Duration::ZERO,
        ..config()
    });
    let (s, r) = tw_seqs(&t);
    for _ in 0..5 {
        send!(t, ack(r - 5u32, s));
        recv!(t, ack(s, r));
    }
    // TIME_WAIT counts in 4 ms ticks (Linux's jiffies at HZ=250): a limit of 40 ms is 10
    // ticks, and the fixture's clock sits on a tick boundary.
    let mut cfg = config();
    cfg.set("tcp_invalid_ratelimit_ms", "40").unwrap();
    let mut t = time_wait(cfg);
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    t.advance(Duration::from_millis(39));
    send!(t, ack(r - 5u32, s));
    recv_nothing!(t);
    t.advance(Duration::from_millis(1));
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
}

#[test]
fn an_old_out_of_window_ack_never_limits_a_long_lived_entry() {
    // The entry keeps its last out-of-window ACK in 15 spare bits as 4 ms ticks, which
    // wrap every 131.068 s; an entry kept alive by restarts must not mistake a reply made
    // one wrap ago for a recent one.
    let mut t = time_wait(config());
    let (s, r) = tw_seqs(&t);
    let first = t.now;
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    // Bare ACKs at RCV.NXT restart 2MSL without an answer.
    for at in [50, 100] {
        t.advance_to(first + secs(at));
        send!(t, ack(r, s));
        recv_nothing!(t);
    }
    t.advance_to(first + Duration::from_millis(131_068 + 100));
    send!(t, ack(r - 5u32, s));
    recv!(t, ack(s, r));
    assert_eq!(t.ep.counters().TCPACKSkippedTimeWait, 0);
}

#[test]
fn syn_with_a_newer_timestamp_reopens_even_below_rcv_nxt() {
    // RFC 6191 §2: with timestamps, a SYN whose TSval is newer than TS.Recent is not an
    // old duplicate, whatever its sequence number.
    let mut t = time_wait(config_linux());
    let (s, _) = tw_seqs(&t);
    t.advance(secs(2));
    let newer = t.peer_clock();
    let options = TcpOptions {
        timestamps: Some((newer, 0)),
        ..linux_syn_options(newer)
    };
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(options));
    let seg = t.recv_any();
    assert_eq!(seg.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(seg.seq, s + 65_537u32);
}

#[test]
fn syn_with_an_older_timestamp_is_rejected_by_paws_even_above_rcv_nxt() {
    let mut t = time_wait(config_linux());
    let (s, r) = tw_seqs(&t);
    t.advance(secs(2));
    let older = t.peer_tsval - 1000;
    let options = TcpOptions {
        timestamps: Some((older, 0)),
        ..linux_syn_options(older)
    };
    send!(t, syn(r + 100_000u32).opts(options).raw());
    recv!(t, ack(s, r));
    assert_eq!(t.ep.time_wait_count(), 1);
    assert_eq!(t.ep.counters().PAWSEstab, 1);
}

// =======================================================================================
// TIME-WAIT: the connecting side (tcp_tw_reuse) and the knobs that skip it
// =======================================================================================

#[test]
fn connect_cannot_take_a_time_wait_tuple_by_default() {
    // tcp_tw_reuse = 2 reuses only loopback tuples.
    let mut t = time_wait_active(config_linux());
    t.advance(secs(2));
    assert_eq!(
        t.ep.connect(t.now, t.ours, t.peer),
        Err(Error::AddrNotAvailable)
    );
}

#[test]
fn connect_reuses_a_time_wait_tuple_with_tcp_tw_reuse_and_timestamps() {
    let mut t = time_wait_active(Config {
        tcp_tw_reuse: 1,
        ..config_linux()
    });
    let (s, _) = tw_seqs(&t);
    // Linux tcp_twsk_unique: the entry's timestamp must be at least a second old.
    assert_eq!(
        t.ep.connect(t.now, t.ours, t.peer),
        Err(Error::AddrNotAvailable)
    );
    t.advance(secs(1));
    let c = t.ep.connect(t.now, t.ours, t.peer).expect("reuse");
    t.conn = Some(c);
    let seg = t.recv_any();
    assert_eq!(seg.flags, TcpFlags::SYN);
    assert_eq!(
        seg.seq,
        s + 65_537u32,
        "ISS above the old incarnation's SND.NXT"
    );
    assert_eq!(t.ep.counters().TWRecycled, 1);
    assert_eq!(
        T::state_changes(&t.events()),
        vec![
            (State::TimeWait, State::Closed, Reason::TimeWaitReused),
            (State::Closed, State::SynSent, Reason::AppConnect),
        ]
    );
}

#[test]
fn tcp_tw_reuse_2_reuses_loopback_tuples() {
    // The Linux default: reuse for loopback only, with timestamps, after 1 s.
    let ours = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), CLIENT_PORT);
    let peer = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), SERVER_PORT);
    let mut t = close_active(established_from(syn_sent_between(
        config_linux(),
        ours,
        peer,
    )));
    assert_eq!(t.cfg().tcp_tw_reuse, 2);
    t.advance(secs(1));
    let c = t.ep.connect(t.now, t.ours, t.peer).expect("loopback reuse");
    assert_eq!(t.ep.state(c), Some(State::SynSent));
    assert_eq!(t.recv_any().seq, t.iss + 2u32 + 65_537u32);
    assert_eq!(t.ep.counters().TWRecycled, 1);
}

#[test]
fn tcp_tw_reuse_needs_timestamps() {
    let mut t = time_wait_active(Config {
        tcp_tw_reuse: 1,
        ..config()
    });
    t.advance(secs(5));
    assert_eq!(
        t.ep.connect(t.now, t.ours, t.peer),
        Err(Error::AddrNotAvailable)
    );
}

#[test]
fn full_time_wait_table_skips_time_wait_but_still_sends_the_last_ack() {
    // Linux inet_twsk_alloc refuses past tcp_max_tw_buckets (TCPTimeWaitOverflow).
    let mut t = fin_wait_2(Config {
        tcp_max_tw_buckets: 0,
        ..config()
    });
    let (f, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, fin(p, f + 1u32));
    recv!(t, ack(f + 1u32, p + 1u32));
    assert_eq!(t.ep.time_wait_count(), 0);
    assert_eq!(t.ep.counters().TCPTimeWaitOverflow, 1);
    assert!(T::state_changes(&t.events()).contains(&(
        State::TimeWait,
        State::Closed,
        Reason::TimeWaitSkipped
    )));
    // The peer's retransmitted FIN now draws a RST.
    send!(t, fin(p, f + 1u32));
    recv!(t, rst(f + 1u32));
}

#[test]
fn msl_zero_disables_time_wait() {
    let mut t = fin_wait_2(Config {
        msl: Duration::ZERO,
        ..config()
    });
    let (f, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, fin(p, f + 1u32));
    recv!(t, ack(f + 1u32, p + 1u32));
    assert_eq!(t.ep.time_wait_count(), 0);
    assert_eq!(t.ep.counters().TCPTimeWaitOverflow, 0);
}
