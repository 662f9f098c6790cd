//! CLOSED: segments for a tuple nobody owns, RFC 9293 §3.10.7.1.
//!
//! "If the state is CLOSED (i.e., TCB does not exist), then all data in the incoming
//! segment is discarded. An incoming segment containing a RST is discarded. An incoming
//! segment not containing a RST causes a RST to be sent in response. [...] If the ACK bit
//! is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the
//! ACK bit is on, <SEQ=SEG.ACK><CTL=RST>."

#[macro_use]
mod support;
use support::*;

// =======================================================================================
// CLOSED: nobody listens on the port
// =======================================================================================

#[test]
fn syn_to_a_closed_port_draws_rst_ack_at_seq_zero() {
    let mut t = T::new(config());
    send!(t, syn(PEER_ISS).win(PEER_WINDOW).opts(mss_only(1460)));
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 1u32).win(0));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().OutRsts, 1);
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn ack_to_a_closed_port_draws_rst_at_its_ack_number() {
    let mut t = T::new(config());
    send!(t, ack(PEER_ISS, SeqNumber(12_345)));
    recv!(t, rst(SeqNumber(12_345)).win(0));
    recv_nothing!(t);
}

#[test]
fn data_without_ack_to_a_closed_port_is_covered_by_the_rst_ack() {
    let mut t = T::new(config());
    // SEG.LEN counts the data and the FIN (RFC 9293 §3.4).
    let seg = Seg::new(TcpFlags::PSH | TcpFlags::FIN, PEER_ISS, SeqNumber(0)).payload(b"hello");
    send!(t, seg);
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 6u32));
}

#[test]
fn data_with_ack_to_a_closed_port_draws_rst_at_its_ack_number() {
    let mut t = T::new(config());
    send!(t, data(PEER_ISS, SeqNumber(777), b"stale data"));
    recv!(t, rst(SeqNumber(777)));
}

#[test]
fn syn_ack_to_a_closed_port_draws_rst_at_its_ack_number() {
    let mut t = T::new(config());
    send!(t, syn_ack(PEER_ISS, SeqNumber(4_000_000_000)));
    recv!(t, rst(SeqNumber(4_000_000_000)));
}

#[test]
fn fin_to_a_closed_port_draws_rst() {
    let mut t = T::new(config());
    send!(t, fin(PEER_ISS, SeqNumber(99)));
    recv!(t, rst(SeqNumber(99)));
}

#[test]
fn rst_to_a_closed_port_is_discarded_silently() {
    let mut t = T::new(config());
    send!(t, rst(PEER_ISS));
    send!(t, rst_ack(PEER_ISS, SeqNumber(5)));
    recv_nothing!(t);
    assert_eq!(t.ep.counters().OutRsts, 0);
}

#[test]
fn a_listener_on_another_port_does_not_answer_for_this_one() {
    let mut t = T::new(config());
    t.ep.listen(t.now, SocketAddrV4::new(OUR_ADDR, 8080), 16)
        .unwrap();
    send!(t, syn(PEER_ISS));
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 1u32));
}

#[test]
fn a_listener_bound_to_another_address_does_not_answer_for_this_one() {
    let mut t = T::new(config());
    let other = Ipv4Addr::new(192, 0, 2, 99);
    t.ep.listen(t.now, SocketAddrV4::new(other, SERVER_PORT), 16)
        .unwrap();
    send!(t, syn(PEER_ISS));
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 1u32));
}

#[test]
fn segment_for_an_aborted_connection_draws_rst() {
    // The connection existed, then was aborted: its tuple is CLOSED again.
    let mut t = established(config());
    t.ep.abort(t.now, t.conn()).unwrap();
    recv!(t, rst_ack(t.iss + 1u32, PEER_ISS + 1u32));
    recv_nothing!(t);
    send!(t, data(PEER_ISS + 1u32, t.iss + 1u32, b"late"));
    recv!(t, rst(t.iss + 1u32));
    assert_eq!(t.ep.connection_count(), 0);
}

#[test]
fn listener_closed_then_syn_draws_rst() {
    let mut t = listen(config());
    t.ep.close_listener(t.now, t.listener.unwrap()).unwrap();
    send!(t, syn(PEER_ISS));
    recv!(t, rst_ack(SeqNumber(0), PEER_ISS + 1u32));
}
