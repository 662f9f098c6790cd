//! The receive window we offer once the handshake is done (RFC 9293 §3.8.6.2.2), as Linux
//! offers it: free space capped by `rcv_ssthresh`, which starts at the window of our SYN or
//! SYN-ACK (`tcp_select_initial_window`), less than the clamp (the buffer less one
//! segment), and grows with in-order data (`tcp_grow_window`): by 2·advmss for each
//! full-sized segment, by 2·rcv_mss for a segment of 128 bytes or
//! more whose overhead is larger than itself, not at all for shorter ones, and never past
//! the buffer (the clamp) nor past the free space.
//!
//! The figures are those of a Linux 6.x host with tcp_rmem[1] = 131072 and MSS 1460: a
//! client answers a SYN-ACK with `win 502` (64256 = ALIGN(64240, 128), shift 7), a
//! server's first ACK says `win 510` (65280 = ALIGN(65160, 128)).

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

/// The connection's `rcv_ssthresh`.
fn rcv_ssthresh(t: &T) -> u32 {
    t.ep.info(t.conn()).expect("connection").rcv_ssthresh
}

/// Every segment waiting to be sent, as (ACK, window field).
fn drain_acks(t: &mut T) -> Vec<(SeqNumber, u16)> {
    let mut acks = Vec::new();
    while let Some((_, _, seg)) = t.poll() {
        assert!(seg.payload.is_empty(), "we have nothing to send: {seg:?}");
        acks.push((seg.ack, seg.window.expect("a parsed segment has a window")));
    }
    acks
}

/// The MSS-sized segment of a Linux peer with timestamps (1460 - 12).
const FULL: usize = 1_448;

// =======================================================================================
// After the handshake: the window of our SYN, rounded up to the scale unit
// =======================================================================================

#[test]
fn a_client_answers_the_syn_ack_with_the_window_of_its_syn_502() {
    let mut t = syn_sent(config_linux());
    // Our SYN offered 64240 (44 * 1460: no timestamps known yet).
    send!(
        t,
        syn_ack(PEER_ISS, t.iss + 1u32)
            .win(PEER_WINDOW)
            .opts(peer_syn_ack_options(&t))
    );
    t.ts = true;
    t.peer_tsval = t.peer_clock();
    t.peer_wscale = PEER_WSCALE;
    // Not 1024 (the 128 KiB buffer): rcv_ssthresh = 64240, ALIGN(64240, 128) >> 7 = 502.
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32).win(502));
    assert_eq!(rcv_ssthresh(&t), 64_240);
    // Data too short to open the window keeps it there.
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"hello"));
    recv!(t, ack(a, p + 5u32).win(502));
}

#[test]
fn a_server_acknowledges_its_first_data_with_the_window_of_its_syn_ack_510() {
    let mut t = established(config_linux());
    assert_eq!(our_syn_ack_window(&t), 65_160);
    assert_eq!(rcv_ssthresh(&t), 65_160);
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"hello"));
    // ALIGN(65160, 128) >> 7 = 510, not 1023 (the free 128 KiB less 5 bytes).
    recv!(t, ack(a, p + 5u32).win(510));
}

#[test]
fn without_window_scaling_the_window_is_the_syn_window_exactly() {
    let mut t = established(config());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, b"hello"));
    recv!(t, ack(a, p + 5u32).win(64_240));
    // One full segment opens it to what the field can carry (the unscaled clamp).
    send!(t, data(p + 5u32, a, &bytes(1_460)));
    recv!(t, ack(a, p + 1_465u32).win(WINDOW_OPEN));
    assert_eq!(rcv_ssthresh(&t), 65_535);
}

// =======================================================================================
// Growth: which segments open the window, and by how much
// =======================================================================================

#[test]
fn segments_shorter_than_128_bytes_never_open_the_window() {
    // Linux tcp_event_data_recv: "if (skb->len >= 128) tcp_grow_window(sk, skb, true)".
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    let mut next = p;
    for _ in 0..40 {
        send!(t, data(next, a, &bytes(127)));
        next += 127u32;
        assert_eq!(t.read().len(), 127);
        for (_, window) in drain_acks(&mut t) {
            assert_eq!(window, 510);
        }
    }
    assert_eq!(rcv_ssthresh(&t), 65_160);
    // 128 bytes do: their overhead (576 modelled bytes) is more than their length, so
    // __tcp_grow_window gives 2 * rcv_mss (536 before any full segment) = 1072.
    send!(t, data(next, a, &bytes(128)));
    assert_eq!(rcv_ssthresh(&t), 65_160 + 1_072);
    t.advance(Duration::from_millis(200));
    let acks = drain_acks(&mut t);
    // ALIGN(66232, 128) = 66304: 518 units.
    assert_eq!(acks.last().map(|&(_, w)| w), Some(518));
}

#[test]
fn full_segments_open_the_window_by_two_advmss_each_up_to_the_clamp() {
    // advmss is the MSS we announced less the timestamps, 1448: each full segment adds
    // 2896, from 65160 up to window_clamp, the 128 KiB buffer less one advmss
    // (tcp_init_buffer_space: "Force reservation of one segment").
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    let mut next = p;
    let mut expected = 65_160u32;
    let mut last_window = 510;
    for i in 0..30 {
        send!(t, data(next, a, &bytes(FULL)));
        next += FULL as u32;
        expected = (expected + 2_896).min(131_072 - 1_448);
        assert_eq!(rcv_ssthresh(&t), expected, "after segment {}", i + 1);
        assert_eq!(t.read().len(), FULL);
        for (ack_seq, window) in drain_acks(&mut t) {
            assert!(ack_seq <= next);
            assert!(
                window >= last_window,
                "the window went from {last_window} to {window}"
            );
            last_window = window;
        }
    }
    // 65160 + 23 * 2896 > 129624: the clamp from the 23rd segment on.
    assert_eq!(expected, 129_624);
    t.advance(Duration::from_millis(200));
    drain_acks(&mut t);
    // ALIGN(129624, 128) = 129664: 1013 units (on the delayed ACK: quick ACKs are over).
    send!(t, data(next, a, b"x"));
    t.advance(Duration::from_millis(200));
    recv!(t, ack(a, next + 1u32).win(1_013));
}

#[test]
fn advmss_leaves_room_for_timestamps_on_both_sides() {
    // Linux: "tp->advmss -= TCPOLEN_TSTAMP_ALIGNED" once timestamps are on, in
    // tcp_rcv_synsent_state_process for a client, in tcp_rcv_state_process for a server:
    // each full segment adds 2 * 1448.
    let mut t = established_active(config_linux());
    let (a, p) = seqs(&t);
    assert_eq!(rcv_ssthresh(&t), 64_240);
    send!(t, data(p, a, &bytes(FULL)));
    assert_eq!(rcv_ssthresh(&t), 64_240 + 2_896);
    // ALIGN(67136, 128) = 67200: 525 units.
    recv!(t, ack(a, p + FULL as u32).win(525));
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, &bytes(FULL)));
    assert_eq!(rcv_ssthresh(&t), 65_160 + 2_896);
    // ALIGN(68056, 128) = 68096: 532 units.
    recv!(t, ack(a, p + FULL as u32).win(532));
}

#[test]
fn the_window_grows_no_further_than_the_free_space() {
    // "room = min(window_clamp, tcp_space(sk)) - rcv_ssthresh": with nothing read,
    // rcv_ssthresh stops where the free space is once the segment is queued.
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    let mut next = p;
    for n in 1..=20u32 {
        send!(t, data(next, a, &bytes(FULL)));
        next += FULL as u32;
        let free = 131_072 - n * FULL as u32;
        let ssthresh = rcv_ssthresh(&t);
        assert!(
            ssthresh <= free.max(108_600),
            "segment {n}: {ssthresh} over {free}"
        );
        drain_acks(&mut t);
    }
    // The 15th segment left 109352 bytes free and took rcv_ssthresh from 105704 to
    // 108600; from the 16th on less is free than that, and it stays.
    assert_eq!(rcv_ssthresh(&t), 108_600);
    // The window follows the free space down, below ALIGN(108600, 128) = 849 units:
    // 131072 - 20 * 1448 - 1 = 102111 bytes (797 units), or up to the edge promised
    // when more was free.
    t.advance(Duration::from_millis(200));
    send!(t, data(next, a, b"x"));
    t.advance(Duration::from_millis(200));
    let seg = t.recv_any();
    assert_eq!(seg.ack, next + 1u32);
    let window = seg.window.expect("a window");
    assert!((797..849).contains(&window), "window {window}");
}

#[test]
fn a_64_kib_buffer_keeps_one_segment_in_reserve() {
    // Linux tcp_init_buffer_space: window_clamp = maxwin - advmss, and rcv_ssthresh =
    // min(rcv_ssthresh, window_clamp) once established. 64 KiB is the window share of
    // Linux's own tcp_rmem[1] (131072): these are a Linux host's figures.
    let small = Config {
        tcp_rmem_default: 65_536,
        ..config_linux()
    };
    let mut server = established(small.clone());
    assert_eq!(rcv_ssthresh(&server), 65_536 - 1_448);
    // A client's ACK of the SYN-ACK keeps the edge of its SYN (64240, promised before
    // RCV.NXT was known): ALIGN(64240, 128) >> 7 = 502, as a Linux client's, although
    // rcv_ssthresh alone would give ALIGN(64088, 128) >> 7 = 501.
    let mut client = syn_sent(small);
    send!(
        client,
        syn_ack(PEER_ISS, client.iss + 1u32)
            .win(PEER_WINDOW)
            .opts(peer_syn_ack_options(&client))
    );
    client.ts = true;
    client.peer_tsval = client.peer_clock();
    client.peer_wscale = PEER_WSCALE;
    recv!(client, ack(client.iss + 1u32, PEER_ISS + 1u32).win(502));
    assert_eq!(rcv_ssthresh(&client), 65_536 - 1_448);
    // The SYN-ACK offered 65160: that edge stays (never shrink), so the first ACK still
    // says ALIGN(65155, 128) >> 7 = 510, as a Linux server's does.
    let (a, p) = seqs(&server);
    send!(server, data(p, a, b"hello"));
    recv!(server, ack(a, p + 5u32).win(510));
}

// =======================================================================================
// A full buffer: the window closes, and reopens only up to rcv_ssthresh
// =======================================================================================

#[test]
fn an_unread_buffer_closes_the_window_then_a_read_reopens_it_to_rcv_ssthresh() {
    // Unscaled, so every byte of the window shows. rcv_ssthresh reaches 65535 with the
    // first full segment; the window stays there while more than that is free, then
    // follows the free space down to zero when the 128 KiB are all held.
    let mut t = established(config());
    let (a, p) = seqs(&t);
    let mut next = p;
    let mut edge = p + u32::from(WINDOW);
    let mut received = 0usize;
    for _ in 0..1_000 {
        let room = edge - next;
        if room == 0 {
            break;
        }
        let len = room.min(1_460);
        if len < 1_460 && edge - p != 131_072 {
            // Wait for the edge to move rather than send a short segment.
            t.advance(Duration::from_millis(200));
        } else {
            send!(t, data(next, a, &bytes(len)));
            next += len as u32;
            received += len;
        }
        for (ack_seq, window) in drain_acks(&mut t) {
            let right = ack_seq + u32::from(window);
            assert!(right >= edge, "the right edge moved left");
            edge = right;
        }
    }
    assert_eq!(received, 131_072);
    assert_eq!(rcv_ssthresh(&t), 65_535);
    // The last ACK closed the window; a byte more is not taken.
    send!(t, data(next, a, b"x"));
    recv!(t, ack(a, next).win(0));
    // Reading it all reopens the window to rcv_ssthresh, not to the 128 KiB now free.
    assert_eq!(t.read().len(), 131_072);
    recv!(t, ack(a, next).win(WINDOW_OPEN));
    recv_nothing!(t);
}

#[test]
fn a_read_that_frees_space_beyond_rcv_ssthresh_sends_no_window_update() {
    // The offered window is capped by rcv_ssthresh whatever is read: no update to send
    // (Linux __tcp_cleanup_rbuf sends one only when the new window doubles).
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    send!(t, data(p, a, &bytes(FULL)));
    recv!(t, ack(a, p + FULL as u32).win(532));
    assert_eq!(t.read().len(), FULL);
    recv_nothing!(t);
}

// =======================================================================================
// Acceptability: the edge we advertised, not the free buffer
// =======================================================================================

#[test]
fn data_past_the_advertised_edge_is_out_of_window_though_the_buffer_has_room() {
    // The SYN-ACK promised 65160 bytes; the free buffer is 128 KiB. Linux tcp_sequence
    // checks the window it advertised (tcp_receive_window), so data at 70000 is out of
    // window: a duplicate ACK, nothing queued, no SACK block for it.
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    send!(t, data(p + 70_000u32, a, &bytes(1_000)));
    recv!(t, ack(a, p).win(510));
    recv_nothing!(t);
    // Just inside the edge it is taken (out of order, so SACKed by the ACK).
    send!(t, data(p + 64_000u32, a, &bytes(1_000)));
    recv!(
        t,
        ack(a, p).win(510).sack(&[(p + 64_000u32, p + 65_000u32)])
    );
}

#[test]
fn an_rst_past_the_advertised_edge_is_ignored_and_draws_no_challenge_ack() {
    // RFC 5961 §3.2: an RST outside the window is dropped silently; inside it but not at
    // RCV.NXT it draws a challenge ACK. The window is the advertised one (65160 here),
    // so an RST at 80000, inside the 128 KiB buffer, is outside.
    let mut t = established(config_linux());
    let (a, p) = seqs(&t);
    send!(t, rst(p + 80_000u32));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().TCPChallengeACK, 0);
    send!(t, rst(p + 1_000u32));
    recv!(t, ack(a, p).win(510));
    assert_eq!(t.ep.counters().TCPChallengeACK, 1);
}
