//! Malformed input: every way a packet can be wrong maps to its own `WireError` variant.
//!
//! Each test starts from a valid packet emitted by `emit_ipv4_tcp`, breaks one thing, and
//! repairs the checksums that would otherwise hide the fault it is about.

mod support;
use support::data_segment;

use core::net::Ipv4Addr;
use tcpwave::wire::{
    emit_ipv4_tcp, ipv4_tcp_len, parse_ipv4_tcp, parse_options, Ipv4Packet, TcpOptions, TcpPacket,
    TcpRepr, WireError,
};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Offset of the TCP header in a packet built here (no IP options).
const TCP_AT: usize = 20;

/// A valid IPv4+TCP packet with an 8-byte payload.
fn valid_packet() -> Vec<u8> {
    let tcp = data_segment();
    let mut buf = vec![0u8; ipv4_tcp_len(&tcp, 8)];
    emit_ipv4_tcp(SRC, DST, 64, 1, &tcp, b"payload!", &mut buf).expect("sized by ipv4_tcp_len");
    assert!(
        parse_ipv4_tcp(&buf).is_ok(),
        "the template itself must be valid"
    );
    buf
}

/// A valid packet whose TCP option area is exactly `area` (a multiple of 4 bytes), with
/// both checksums correct, so only the options can be at fault.
fn packet_with_options(area: &[u8]) -> Vec<u8> {
    assert_eq!(
        area.len() % 4,
        0,
        "test bug: option area must be whole words"
    );
    let tcp = TcpRepr {
        options: TcpOptions::default(),
        ..data_segment()
    };
    let mut buf = vec![0u8; ipv4_tcp_len(&tcp, 0) + area.len()];
    emit_ipv4_tcp(SRC, DST, 64, 1, &tcp, area, &mut buf).expect("sized");
    // The "payload" we wrote is the option area; move the data offset over it.
    let mut segment = TcpPacket::new_unchecked(&mut buf[TCP_AT..]);
    segment.set_header_len(20 + area.len());
    segment.fill_checksum(SRC, DST);
    buf
}

fn refill_ip_checksum(buf: &mut [u8]) {
    let mut packet = Ipv4Packet::new_unchecked(buf);
    packet.fill_checksum();
}

fn refill_tcp_checksum(buf: &mut [u8]) {
    TcpPacket::new_unchecked(&mut buf[TCP_AT..]).fill_checksum(SRC, DST);
}

#[track_caller]
fn assert_rejected(buf: &[u8], expected: WireError) {
    assert_eq!(parse_ipv4_tcp(buf).map(|_| ()), Err(expected));
}

// --- short buffers -----------------------------------------------------------------------

#[test]
fn empty_and_short_ip_buffers_are_truncated() {
    assert_rejected(&[], WireError::Truncated { needed: 20, got: 0 });
    let packet = valid_packet();
    assert_rejected(
        &packet[..19],
        WireError::Truncated {
            needed: 20,
            got: 19,
        },
    );
}

#[test]
fn buffer_shorter_than_total_length_is_rejected() {
    let packet = valid_packet();
    let total = packet.len() as u16;
    assert_rejected(
        &packet[..packet.len() - 1],
        WireError::BadIpTotalLength(total),
    );
}

#[test]
fn ip_payload_shorter_than_a_tcp_header_is_truncated() {
    let mut packet = valid_packet();
    Ipv4Packet::new_unchecked(&mut packet[..]).set_total_len(30);
    refill_ip_checksum(&mut packet);
    assert_rejected(
        &packet,
        WireError::Truncated {
            needed: 20,
            got: 10,
        },
    );
    assert_eq!(
        TcpPacket::new_checked(&[0u8; 19][..]).map(|_| ()),
        Err(WireError::Truncated {
            needed: 20,
            got: 19
        })
    );
}

#[test]
fn bytes_after_total_length_are_ignored() {
    let mut packet = valid_packet();
    packet.extend_from_slice(&[0xee; 6]);
    let (_, _, payload) = parse_ipv4_tcp(&packet).expect("link padding is not an error");
    assert_eq!(payload, b"payload!");
}

// --- IPv4 header -------------------------------------------------------------------------

#[test]
fn non_ipv4_version_is_rejected() {
    let mut packet = valid_packet();
    packet[0] = 0x65;
    assert_rejected(&packet, WireError::NotIpv4(6));
}

#[test]
fn ip_header_length_below_five_words_is_rejected() {
    let mut packet = valid_packet();
    packet[0] = 0x44;
    assert_rejected(&packet, WireError::BadIpHeaderLength(4));
}

#[test]
fn ip_header_length_beyond_the_buffer_is_rejected() {
    let mut packet = valid_packet();
    packet.truncate(40);
    packet[0] = 0x4f;
    assert_rejected(&packet, WireError::BadIpHeaderLength(15));
}

#[test]
fn ip_total_length_below_the_header_is_rejected() {
    let mut packet = valid_packet();
    Ipv4Packet::new_unchecked(&mut packet[..]).set_total_len(19);
    assert_rejected(&packet, WireError::BadIpTotalLength(19));
}

#[test]
fn bad_ip_checksum_is_rejected() {
    let mut packet = valid_packet();
    packet[8] ^= 0x01; // TTL, without refilling the checksum
    assert_rejected(&packet, WireError::BadIpChecksum);
}

#[test]
fn fragments_are_rejected() {
    let mut packet = valid_packet();
    Ipv4Packet::new_unchecked(&mut packet[..]).set_fragment(false, true, 0);
    refill_ip_checksum(&mut packet);
    assert_rejected(
        &packet,
        WireError::Fragmented {
            offset: 0,
            more: true,
        },
    );

    let mut packet = valid_packet();
    Ipv4Packet::new_unchecked(&mut packet[..]).set_fragment(false, false, 1_480);
    refill_ip_checksum(&mut packet);
    assert_rejected(
        &packet,
        WireError::Fragmented {
            offset: 1_480,
            more: false,
        },
    );
}

#[test]
fn non_tcp_protocol_is_rejected() {
    let mut packet = valid_packet();
    Ipv4Packet::new_unchecked(&mut packet[..]).set_protocol(17);
    refill_ip_checksum(&mut packet);
    assert_rejected(&packet, WireError::NotTcp(17));
}

// --- TCP header --------------------------------------------------------------------------

#[test]
fn data_offset_below_five_words_is_rejected() {
    let mut packet = valid_packet();
    packet[TCP_AT + 12] = 0x40;
    refill_tcp_checksum(&mut packet);
    assert_rejected(&packet, WireError::BadDataOffset(4));
}

#[test]
fn data_offset_beyond_the_segment_is_rejected() {
    let tcp = TcpRepr {
        options: TcpOptions::default(),
        ..data_segment()
    };
    let mut packet = vec![0u8; ipv4_tcp_len(&tcp, 0)];
    emit_ipv4_tcp(SRC, DST, 64, 1, &tcp, &[], &mut packet).expect("sized");
    packet[TCP_AT + 12] = 0x60; // 24 bytes of header in a 20-byte segment
    refill_tcp_checksum(&mut packet);
    assert_rejected(&packet, WireError::BadDataOffset(6));
    assert_eq!(
        TcpPacket::new_checked(&packet[TCP_AT..]).map(|_| ()),
        Err(WireError::BadDataOffset(6))
    );
}

#[test]
fn bad_tcp_checksum_is_rejected() {
    let mut packet = valid_packet();
    let last = packet.len() - 1;
    packet[last] ^= 0x80; // a payload bit
    assert_rejected(&packet, WireError::BadTcpChecksum);
}

#[test]
fn tcp_checksum_covers_the_pseudo_header() {
    let mut packet = valid_packet();
    Ipv4Packet::new_unchecked(&mut packet[..]).set_dst_addr(Ipv4Addr::new(10, 0, 0, 3));
    refill_ip_checksum(&mut packet);
    assert_rejected(&packet, WireError::BadTcpChecksum);
}

// --- TCP options -------------------------------------------------------------------------

#[track_caller]
fn assert_bad_option(area: &[u8], kind: u8, length: u8) {
    let expected = WireError::BadOptionLength { kind, length };
    assert_rejected(&packet_with_options(area), expected);
    assert_eq!(parse_options(area), Err(expected));
}

#[test]
fn option_area_template_is_valid() {
    let packet = packet_with_options(&[2, 4, 0x05, 0xb4, 1, 1, 4, 2]);
    let (_, tcp, payload) = parse_ipv4_tcp(&packet).expect("valid options");
    assert_eq!(tcp.options.mss, Some(1_460));
    assert!(tcp.options.sack_permitted);
    assert!(payload.is_empty());
}

#[test]
fn option_length_zero_is_rejected() {
    assert_bad_option(&[2, 0, 0, 0], 2, 0);
}

#[test]
fn option_length_one_is_rejected() {
    assert_bad_option(&[1, 1, 99, 1], 99, 1);
}

#[test]
fn option_running_past_the_area_is_rejected() {
    assert_bad_option(&[1, 1, 8, 10, 0, 0, 0, 0], 8, 10);
    assert_bad_option(&[1, 1, 1, 3], 3, 0);
}

#[test]
fn wrong_fixed_length_for_mss_is_rejected() {
    assert_bad_option(&[2, 3, 0x05, 1], 2, 3);
}

#[test]
fn wrong_fixed_length_for_window_scale_is_rejected() {
    assert_bad_option(&[3, 4, 7, 0], 3, 4);
}

#[test]
fn wrong_fixed_length_for_timestamps_is_rejected() {
    assert_bad_option(&[8, 8, 0, 0, 0, 1, 0, 0], 8, 8);
}

#[test]
fn wrong_length_for_sack_is_rejected() {
    assert_bad_option(&[1, 1, 5, 2], 5, 2);
    assert_bad_option(&[5, 6, 0, 0, 0, 1, 0, 0], 5, 6);
}

// --- emit --------------------------------------------------------------------------------

#[test]
fn emit_into_a_short_buffer_is_an_error_not_a_panic() {
    let tcp = data_segment();
    let needed = ipv4_tcp_len(&tcp, 8);
    for len in 0..needed {
        let mut buf = vec![0u8; len];
        assert_eq!(
            emit_ipv4_tcp(SRC, DST, 64, 1, &tcp, b"payload!", &mut buf),
            Err(WireError::BufferTooSmall { needed, got: len })
        );
    }
}
