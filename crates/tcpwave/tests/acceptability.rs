//! Segment acceptability, state by state: RFC 9293 §3.10.7.4 (the sequence test, the
//! RST, SYN and ACK checks) hardened by RFC 5961 (challenge ACKs), with TIME-WAIT as
//! Linux `tcp_timewait_state_process` handles it. Each row is one kind of segment; each
//! column one state; each cell the reply and what becomes of the connection.
//!
//! Notation: R = RCV.NXT, S = SND.NXT, U = SND.UNA; the receive window is 128 KiB and
//! MAX.SND.WND 64240 in every fixture.

#[macro_use]
mod support;
use support::*;

/// The kinds of segment tried in every state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    /// RST with SEQ = R: the only RST believed (RFC 5961 §3.2).
    RstExact,
    /// RST inside the window but not at R.
    RstInWindow,
    /// RST just below the window.
    RstBelowWindow,
    /// RST beyond the window.
    RstAboveWindow,
    /// SYN inside the window.
    SynInWindow,
    /// SYN below the window (an old duplicate's sequence number).
    SynBelowWindow,
    /// Acceptable sequence number, SEG.ACK > SND.NXT.
    AckAboveSndNxt,
    /// Acceptable sequence number, SEG.ACK < SND.UNA - MAX.SND.WND (RFC 5961 §5.2).
    AckBelowMaxWindow,
    /// Data entirely beyond the window.
    DataAboveWindow,
    /// Data entirely below R (an old duplicate).
    DataBelowWindow,
}

const CELLS: [Cell; 10] = [
    Cell::RstExact,
    Cell::RstInWindow,
    Cell::RstBelowWindow,
    Cell::RstAboveWindow,
    Cell::SynInWindow,
    Cell::SynBelowWindow,
    Cell::AckAboveSndNxt,
    Cell::AckBelowMaxWindow,
    Cell::DataAboveWindow,
    Cell::DataBelowWindow,
];

/// What comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Nothing,
    /// `<SEQ=S><ACK=R><CTL=ACK>`, an ordinary duplicate ACK.
    Ack,
    /// The same segment sent as an RFC 5961 challenge ACK (counted, rate-limited).
    ChallengeAck,
    /// `<SEQ=SEG.ACK><CTL=RST>`.
    RstAtSegAck,
    /// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`, the reset for a segment without ACK.
    RstAckToSegEnd,
    /// A SYN-ACK: the tuple was reopened.
    SynAck,
}

/// What becomes of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    /// Same state.
    Same,
    /// CLOSED, the application's handle still valid.
    Closed,
    /// Forgotten: the TCB (or TIME_WAIT entry) is gone.
    Gone,
}

use After::*;
use Reply::*;

/// A fixture and its R, S, U.
struct Column {
    name: &'static str,
    make: fn(Config) -> T,
    rcv_nxt: fn(&T) -> SeqNumber,
    snd_nxt: fn(&T) -> SeqNumber,
    snd_una: fn(&T) -> SeqNumber,
    state: Option<State>,
    /// The expected result for each of `CELLS`, in order.
    cells: [(Reply, After); 10],
}

fn before_fin(_: &T) -> SeqNumber {
    PEER_ISS + 1u32
}
fn after_fin(_: &T) -> SeqNumber {
    PEER_ISS + 2u32
}
fn iss(t: &T) -> SeqNumber {
    t.iss
}
fn iss1(t: &T) -> SeqNumber {
    t.iss + 1u32
}
fn iss2(t: &T) -> SeqNumber {
    t.iss + 2u32
}

fn columns() -> Vec<Column> {
    let synchronized = |rst_exact: After| {
        [
            (Nothing, rst_exact),
            (ChallengeAck, Same),
            (Nothing, Same),
            (Nothing, Same),
            (ChallengeAck, Same),
            (ChallengeAck, Same),
            (ChallengeAck, Same),
            (ChallengeAck, Same),
            (Ack, Same),
            (Ack, Same),
        ]
    };
    vec![
        Column {
            name: "SYN_RECEIVED",
            make: syn_received,
            rcv_nxt: before_fin,
            snd_nxt: iss1,
            snd_una: iss,
            state: Some(State::SynReceived),
            // A passive open: Linux checks its segments as a request sock, in
            // tcp_check_req's order (the ACK number, then PAWS and the window, then RST
            // and SYN), without RFC 5961.
            cells: [
                // An RST anywhere in the window drops the half-open connection
                // (embryonic_reset), silently.
                (Nothing, Gone),
                (Nothing, Gone),
                (Nothing, Same),
                (Nothing, Same),
                // So does a SYN in the window, with the reset tcp_v4_send_reset forms.
                (RstAckToSegEnd, Gone),
                // A segment outside the window gets a plain ACK (req->rsk_ops->send_ack),
                // SYN or not.
                (Ack, Same),
                // RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: an unacceptable ACK draws
                // <SEQ=SEG.ACK><CTL=RST> (the listener sends it: "Invalid ACK: reset will
                // be sent by listening socket")...
                (RstAtSegAck, Same),
                (RstAtSegAck, Same),
                // ... checked before the window: the data segments below carry ACK = U =
                // ISS, not ISS+1.
                (RstAtSegAck, Same),
                (RstAtSegAck, Same),
            ],
        },
        Column {
            name: "ESTABLISHED",
            make: established,
            rcv_nxt: before_fin,
            snd_nxt: iss1,
            snd_una: iss1,
            state: Some(State::Established),
            cells: synchronized(Closed),
        },
        Column {
            name: "FIN_WAIT_1",
            make: fin_wait_1_after_shutdown,
            rcv_nxt: before_fin,
            snd_nxt: iss2,
            snd_una: iss1,
            state: Some(State::FinWait1),
            cells: synchronized(Closed),
        },
        Column {
            name: "FIN_WAIT_2",
            make: fin_wait_2_after_shutdown,
            rcv_nxt: before_fin,
            snd_nxt: iss2,
            snd_una: iss2,
            state: Some(State::FinWait2),
            cells: synchronized(Closed),
        },
        Column {
            name: "CLOSE_WAIT",
            make: close_wait,
            rcv_nxt: after_fin,
            snd_nxt: iss1,
            snd_una: iss1,
            state: Some(State::CloseWait),
            cells: synchronized(Closed),
        },
        Column {
            name: "CLOSING",
            make: closing,
            rcv_nxt: after_fin,
            snd_nxt: iss2,
            snd_una: iss1,
            state: Some(State::Closing),
            cells: synchronized(Closed),
        },
        Column {
            name: "LAST_ACK",
            make: last_ack,
            rcv_nxt: after_fin,
            snd_nxt: iss2,
            snd_una: iss1,
            state: Some(State::LastAck),
            // The application closed: the TCB goes with the RST.
            cells: synchronized(Gone),
        },
        Column {
            name: "TIME_WAIT",
            make: time_wait,
            rcv_nxt: after_fin,
            snd_nxt: iss2,
            snd_una: iss2,
            state: None,
            cells: [
                // tcp_rfc1337 = 0: the RST at R kills the entry.
                (Nothing, Gone),
                // Any other RST is ignored.
                (Nothing, Same),
                (Nothing, Same),
                (Nothing, Same),
                // RFC 6191: a SYN above R reopens the tuple through the listener.
                (SynAck, Gone),
                // Below R it may be an old duplicate: ACK it, keep the entry.
                (Ack, Same),
                // Linux looks at neither ACK field of a bare segment at R: no answer.
                (Nothing, Same),
                (Nothing, Same),
                // Everything else is ACKed.
                (Ack, Same),
                (Ack, Same),
            ],
        },
    ]
}

/// The segment for `cell`, given the connection's R, S and U.
fn segment(cell: Cell, r: SeqNumber, s: SeqNumber, u: SeqNumber) -> Seg {
    match cell {
        Cell::RstExact => rst(r),
        Cell::RstInWindow => rst(r + 100u32),
        Cell::RstBelowWindow => rst(r - 1u32),
        Cell::RstAboveWindow => rst(r + 200_000u32),
        Cell::SynInWindow => syn(r + 100u32).opts(mss_only(1460)),
        Cell::SynBelowWindow => syn(r - 1000u32).opts(mss_only(1460)),
        Cell::AckAboveSndNxt => ack(r, s + 10u32),
        Cell::AckBelowMaxWindow => ack(r, u - 100_000u32),
        Cell::DataAboveWindow => data(r + 200_000u32, u, b"0123456789"),
        Cell::DataBelowWindow => data(r - 20u32, u, b"0123456789"),
    }
}

#[test]
fn every_state_answers_every_kind_of_segment_as_the_table_says() {
    let mut failures = Vec::new();
    for column in columns() {
        for (cell, &(reply, after)) in CELLS.iter().zip(column.cells.iter()) {
            if let Err(why) = run_cell(&column, *cell, reply, after) {
                failures.push(format!("{} / {:?}: {}", column.name, cell, why));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cell(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One cell: a fresh connection in the column's state, the segment in, the reply and the
/// state after checked.
fn run_cell(column: &Column, cell: Cell, reply: Reply, after: After) -> Result<(), String> {
    let mut t = (column.make)(config());
    let (r, s, u) = (
        (column.rcv_nxt)(&t),
        (column.snd_nxt)(&t),
        (column.snd_una)(&t),
    );
    let seg = segment(cell, r, s, u);
    let seg_ack = seg.ack;
    let seg_end = seg.seq + seg.seq_len();
    let is_syn = seg.flags.syn();
    let before = *t.ep.counters();
    t.send(seg);
    let got = t.poll().map(|(_, _, seg)| seg);
    let after_counters = *t.ep.counters();
    let challenges = after_counters.TCPChallengeACK - before.TCPChallengeACK;
    let ok_reply = match (reply, &got) {
        (Nothing, None) => true,
        (Ack | ChallengeAck, Some(g)) => {
            g.flags == TcpFlags::ACK && g.seq == s && g.ack == r && g.payload.is_empty()
        }
        (RstAtSegAck, Some(g)) => g.flags == TcpFlags::RST && g.seq == seg_ack,
        (RstAckToSegEnd, Some(g)) => {
            g.flags == TcpFlags::RST | TcpFlags::ACK && g.seq == SeqNumber(0) && g.ack == seg_end
        }
        (SynAck, Some(g)) => g.flags == TcpFlags::SYN | TcpFlags::ACK && g.seq == s + 65_537u32,
        _ => false,
    };
    if !ok_reply {
        return Err(format!("expected {reply:?}, got {got:?}"));
    }
    let expected_challenges = u64::from(reply == ChallengeAck);
    if challenges != expected_challenges {
        return Err(format!("{challenges} challenge ACKs counted"));
    }
    // Linux tcp_validate_incoming, `syn_challenge:`: a SYN challenged in a synchronized
    // state counts TCPSYNChallenge, and InErrs too in ESTABLISHED (syn_inerr). A request
    // sock (passive SYN_RECEIVED, tcp_check_req) has no SYN challenge.
    let syn_challenged = is_syn && reply == ChallengeAck && column.name != "SYN_RECEIVED";
    let syn_challenges = after_counters.TCPSYNChallenge - before.TCPSYNChallenge;
    if syn_challenges != u64::from(syn_challenged) {
        return Err(format!("{syn_challenges} SYN challenges counted"));
    }
    let in_errs = after_counters.InErrs - before.InErrs;
    if in_errs != u64::from(syn_challenged && column.state == Some(State::Established)) {
        return Err(format!("{in_errs} InErrs counted"));
    }
    // Linux tcp_check_req: a request sock reset by an RST or SYN counts AttemptFails,
    // then EmbryonicRsts as it leaves the SYN queue.
    let embryonic_reset = column.name == "SYN_RECEIVED" && after == Gone;
    let embryonic_rsts = after_counters.EmbryonicRsts - before.EmbryonicRsts;
    if embryonic_rsts != u64::from(embryonic_reset) {
        return Err(format!("{embryonic_rsts} EmbryonicRsts counted"));
    }
    let attempt_fails = after_counters.AttemptFails - before.AttemptFails;
    if attempt_fails != u64::from(embryonic_reset) {
        return Err(format!("{attempt_fails} AttemptFails counted"));
    }
    if let Some((_, _, extra)) = t.poll() {
        return Err(format!("a second segment {extra:?}"));
    }
    let now_state = match column.state {
        Some(_) => t.state(),
        None => t.time_wait_entry().map(|_| State::TimeWait),
    };
    let expected_state = match (after, column.state) {
        (Same, Some(s)) => Some(s),
        (Same, None) => Some(State::TimeWait),
        (Closed, _) => Some(State::Closed),
        (Gone, _) => None,
    };
    if now_state != expected_state {
        return Err(format!("state {now_state:?}, expected {expected_state:?}"));
    }
    Ok(())
}

#[test]
fn the_table_covers_every_synchronized_state_and_syn_received() {
    let names: Vec<&str> = columns().iter().map(|c| c.name).collect();
    let expected: Vec<&str> = State::ALL
        .iter()
        .filter(|s| s.is_synchronized() || **s == State::SynReceived)
        .map(|s| s.name())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted);
}

#[test]
fn an_acceptable_segment_at_the_window_edges() {
    // RFC 9293 §3.10.7.4: with a window, a segment is acceptable if its first or last
    // byte lies in [RCV.NXT, RCV.NXT + RCV.WND).
    let mut t = established(Config {
        tcp_rmem_default: 1000,
        ..config()
    });
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    // Starts before R, ends inside: acceptable, the new bytes kept.
    send!(t, data(p - 5u32, a, b"0123456789"));
    recv!(t, ack(a, p + 5u32));
    assert_eq!(t.read(), b"56789");
    // Starts at the last byte of the window: acceptable, one byte kept.
    let r = p + 5u32;
    send!(t, data(r + 999u32, a, b"xy"));
    recv!(t, ack(a, r));
    // Starts just past the window: not acceptable.
    send!(t, data(r + 1000u32, a, b"z"));
    recv!(t, ack(a, r));
}

#[test]
fn zero_window_accepts_only_a_bare_segment_at_rcv_nxt() {
    // RFC 9293 §3.10.7.4: with RCV.WND = 0 only SEG.LEN = 0 at SEG.SEQ = RCV.NXT passes,
    // but its ACK, URG and RST fields are still processed.
    let mut t = established(Config {
        tcp_rmem_default: 1460,
        ..config()
    });
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, data(p, a, &[0u8; 1460]));
    recv!(t, ack(a, p + 1460u32).win(0));
    let r = p + 1460u32;
    t.write(b"hi");
    recv!(t, data(a, r, b"hi"));
    // A bare ACK at R: acceptable, its ACK field processed.
    send!(t, ack(r, a + 2u32));
    recv_nothing!(t);
    assert_eq!(t.ep.info(t.conn()).unwrap().snd_una, a + 2u32);
    // One byte at R does not fit: ACK it and drop it.
    send!(t, data(r, a + 2u32, b"!"));
    recv!(t, ack(a + 2u32, r).win(0));
    // The exact RST still resets.
    send!(t, rst(r));
    assert_eq!(t.state(), Some(State::Closed));
}

#[test]
fn zero_window_still_takes_a_bare_fin_at_rcv_nxt() {
    // Linux tcp_data_queue accepts a bare FIN into a closed window; a FIN with data, or
    // one not at RCV.NXT, is refused.
    let mut t = established(Config {
        tcp_rmem_default: 1460,
        ..config()
    });
    let (a, p) = (t.iss + 1u32, PEER_ISS + 1u32);
    send!(t, data(p, a, &[0u8; 1460]));
    recv!(t, ack(a, p + 1460u32).win(0));
    let r = p + 1460u32;
    send!(t, data(r, a, b"x").with(TcpFlags::FIN));
    recv!(t, ack(a, r).win(0));
    send!(t, fin(r + 1u32, a));
    recv!(t, ack(a, r).win(0));
    assert_eq!(t.state(), Some(State::Established));
    send!(t, fin(r, a));
    // CLOSE-WAIT after data: Linux delays this ACK (pingpong, see state_close_wait.rs).
    let received = t.now;
    t.quiet_until(received + Duration::from_millis(40));
    recv!(t, ack(a, r + 1u32).win(0));
    assert_eq!(t.state(), Some(State::CloseWait));
    assert_eq!(t.read().len(), 1460);
    assert_eq!(t.ep.recv(t.now, t.conn(), &mut [0u8; 1]), Ok(0));
}
