//! The one-pass `parse_ipv4_tcp` / `emit_ipv4_tcp*` against the layered views they
//! replace (`Ipv4Packet`, `Ipv4Repr`, `TcpPacket`, `TcpRepr`, `emit_options`, each
//! computing its own lengths and checksums): the same result, the same error for every
//! malformed input, byte-for-byte the same output. And TCP checksum offload
//! ([`TcpChecksum::Offloaded`]) in both directions.

mod support;
use support::data_segment;

use core::net::Ipv4Addr;
use proptest::collection::vec;
use proptest::prelude::*;
use tcpwave::wire::{
    checksum, emit_ipv4_tcp, emit_ipv4_tcp_in_place, emit_ipv4_tcp_in_place_with, emit_options,
    ipv4_tcp_len, options_len, parse_ipv4_tcp, parse_ipv4_tcp_with, pseudo_header_sum,
    tcp_checksum, Ipv4Packet, Ipv4Repr, SackBlock, TcpChecksum, TcpFlags, TcpOptions, TcpPacket,
    TcpRepr, WireError, IP_PROTO_TCP,
};
use tcpwave::SeqNumber;

/// The layered parse, as `parse_ipv4_tcp` was written before the one-pass version.
fn layered_parse(buf: &[u8]) -> Result<(Ipv4Repr, TcpRepr, &[u8]), WireError> {
    let ip_packet = Ipv4Packet::new_checked(buf)?;
    let ip_repr = Ipv4Repr::parse(&ip_packet)?;
    if ip_repr.protocol != IP_PROTO_TCP {
        return Err(WireError::NotTcp(ip_repr.protocol));
    }
    let tcp_packet = TcpPacket::new_checked(ip_packet.payload())?;
    let tcp_repr = TcpRepr::parse(&tcp_packet, ip_repr.src, ip_repr.dst, true)?;
    Ok((ip_repr, tcp_repr, tcp_packet.payload()))
}

/// The layered emit, field by field through the views' setters and `fill_checksum`.
fn layered_emit(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    tcp: &TcpRepr,
    payload: &[u8],
) -> Vec<u8> {
    let syn = tcp.flags.syn();
    let tcp_header_len = 20 + options_len(&tcp.options, syn);
    let total = 20 + tcp_header_len + payload.len();
    let mut buf = vec![0u8; total];
    let mut ip = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.set_version_and_header_len(20);
    ip.set_total_len(total as u16);
    ip.set_ident(ident);
    ip.set_fragment(true, false, 0);
    ip.set_ttl(ttl);
    ip.set_protocol(IP_PROTO_TCP);
    ip.set_src_addr(src);
    ip.set_dst_addr(dst);
    ip.fill_checksum();
    emit_options(&tcp.options, syn, &mut buf[40..40 + tcp_header_len - 20]).expect("sized");
    buf[20 + tcp_header_len..].copy_from_slice(payload);
    let mut segment = TcpPacket::new_unchecked(&mut buf[20..]);
    segment.set_src_port(tcp.src_port);
    segment.set_dst_port(tcp.dst_port);
    segment.set_seq_number(tcp.seq);
    segment.set_ack_number(tcp.ack);
    segment.set_header_len(tcp_header_len);
    segment.set_flags(tcp.flags);
    segment.set_window_len(tcp.window);
    segment.set_urgent_at(tcp.urgent);
    segment.fill_checksum(src, dst);
    buf
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        proptest::option::of((any::<u32>(), any::<u32>())),
        vec((any::<u32>(), any::<u32>()), 0..=4),
    )
        .prop_map(|(mss, window_scale, sack_permitted, timestamps, blocks)| {
            let mut options = TcpOptions {
                mss,
                window_scale,
                sack_permitted,
                timestamps,
                ..TcpOptions::default()
            };
            for (slot, (left, right)) in options.sack_blocks.iter_mut().zip(&blocks) {
                *slot = SackBlock {
                    left: SeqNumber(*left),
                    right: SeqNumber(*right),
                };
            }
            options.sack_count = blocks.len() as u8;
            options
        })
}

fn tcp_repr() -> impl Strategy<Value = TcpRepr> {
    (
        any::<(u16, u16, u32, u32, u8, u16, u16)>(),
        options(),
        // Mostly the two layouts that have a fast path: none, and timestamps alone.
        prop_oneof![Just(0u8), Just(1u8), Just(2u8),],
    )
        .prop_map(
            |((src_port, dst_port, seq, ack, flags, window, urgent), options, shape)| TcpRepr {
                src_port,
                dst_port,
                seq: SeqNumber(seq),
                ack: SeqNumber(ack),
                flags: TcpFlags(flags),
                window,
                urgent,
                options: match shape {
                    0 => TcpOptions::default(),
                    1 => TcpOptions {
                        timestamps: options.timestamps.or(Some((1, 2))),
                        ..TcpOptions::default()
                    },
                    _ => options,
                },
            },
        )
}

/// One way to damage a packet, applied at a position chosen by proptest.
#[derive(Clone, Debug)]
enum Damage {
    SetByte { at: usize, value: u8 },
    Truncate { len: usize },
    Extend { bytes: Vec<u8> },
    SetTotalLength { value: u16 },
    SetIhl { ihl: u8 },
    SetDataOffset { words: u8 },
    SetOptionByte { at: usize, value: u8 },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0usize..120, any::<u8>()).prop_map(|(at, value)| Damage::SetByte { at, value }),
        (0usize..120).prop_map(|len| Damage::Truncate { len }),
        vec(any::<u8>(), 1..8).prop_map(|bytes| Damage::Extend { bytes }),
        (0u16..140).prop_map(|value| Damage::SetTotalLength { value }),
        (0u8..16).prop_map(|ihl| Damage::SetIhl { ihl }),
        (0u8..16).prop_map(|words| Damage::SetDataOffset { words }),
        (0usize..40, any::<u8>()).prop_map(|(at, value)| Damage::SetOptionByte { at, value }),
    ]
}

fn apply(packet: &mut Vec<u8>, damage: &Damage) {
    let len = packet.len();
    match damage {
        Damage::SetByte { at, value } => {
            if let Some(byte) = packet.get_mut(*at % len.max(1)) {
                *byte = *value;
            }
        }
        Damage::Truncate { len: keep } => packet.truncate(*keep),
        Damage::Extend { bytes } => packet.extend_from_slice(bytes),
        Damage::SetTotalLength { value } => {
            if len >= 4 {
                packet[2..4].copy_from_slice(&value.to_be_bytes());
            }
        }
        Damage::SetIhl { ihl } => {
            if let Some(byte) = packet.first_mut() {
                *byte = (*byte & 0xf0) | ihl;
            }
        }
        Damage::SetDataOffset { words } => {
            if let Some(byte) = packet.get_mut(32) {
                *byte = (*byte & 0x0f) | (words << 4);
            }
        }
        Damage::SetOptionByte { at, value } => {
            if let Some(byte) = packet.get_mut(40 + at) {
                *byte = *value;
            }
        }
    }
}

/// Recomputes the IPv4 header checksum (if the IHL allows) and the TCP checksum (if the
/// lengths allow), so that damage reaches the checks after them.
fn repair(packet: &mut [u8], ip: bool, tcp: bool) {
    let Ok(view) = Ipv4Packet::new_checked(&packet[..]) else {
        return;
    };
    let (header_len, total_len) = (view.header_len(), usize::from(view.total_len()));
    let (src, dst) = (view.src_addr(), view.dst_addr());
    if tcp && total_len >= header_len + 18 {
        let segment = &mut packet[header_len..total_len];
        segment[16..18].fill(0);
        let value = tcp_checksum(src, dst, segment);
        segment[16..18].copy_from_slice(&value.to_be_bytes());
    }
    if ip {
        Ipv4Packet::new_unchecked(&mut packet[..]).fill_checksum();
    }
}

/// The same verdict, and on success the same headers and the same payload (same bytes,
/// same place in the input).
#[track_caller]
fn assert_same_parse(packet: &[u8]) {
    let fast = parse_ipv4_tcp(packet);
    let layered = layered_parse(packet);
    match (&fast, &layered) {
        (Ok((ip, tcp, payload)), Ok((ip_l, tcp_l, payload_l))) => {
            assert_eq!((ip, tcp), (ip_l, tcp_l));
            assert_eq!(payload.as_ptr(), payload_l.as_ptr());
            assert_eq!(payload.len(), payload_l.len());
        }
        _ => assert_eq!(fast.map(|_| ()), layered.map(|_| ()), "{packet:02x?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn emit_is_byte_for_byte_the_layered_emit(
        src in addr(), dst in addr(), ttl in any::<u8>(), ident in any::<u16>(),
        tcp in tcp_repr(), payload in vec(any::<u8>(), 0..80),
    ) {
        let expected = layered_emit(src, dst, ttl, ident, &tcp, &payload);
        let mut copied = vec![0xeeu8; expected.len() + 3];
        let written = emit_ipv4_tcp(src, dst, ttl, ident, &tcp, &payload, &mut copied);
        prop_assert_eq!(written, Ok(expected.len()));
        prop_assert_eq!(&copied[..expected.len()], &expected[..]);
        prop_assert_eq!(&copied[expected.len()..], &[0xee; 3][..], "wrote past the packet");
        let mut in_place = vec![0u8; expected.len()];
        let at = ipv4_tcp_len(&tcp, 0);
        in_place[at..].copy_from_slice(&payload);
        let written = emit_ipv4_tcp_in_place(src, dst, ttl, ident, &tcp, payload.len(), &mut in_place);
        prop_assert_eq!(written, Ok(expected.len()));
        prop_assert_eq!(&in_place, &expected);
        let mut segment = vec![0u8; expected.len() - 20];
        prop_assert_eq!(tcp.emit(&mut segment, src, dst, &payload), Ok(segment.len()));
        prop_assert_eq!(&segment[..], &expected[20..]);
    }

    #[test]
    fn damaged_packets_get_the_layered_verdict(
        src in addr(), dst in addr(), tcp in tcp_repr(), payload in vec(any::<u8>(), 0..40),
        damages in vec(damage(), 1..4), repair_ip in any::<bool>(), repair_tcp in any::<bool>(),
    ) {
        let mut packet = layered_emit(src, dst, 64, 1, &tcp, &payload);
        assert_same_parse(&packet);
        for damage in &damages {
            apply(&mut packet, damage);
        }
        assert_same_parse(&packet);
        repair(&mut packet, repair_ip, repair_tcp);
        assert_same_parse(&packet);
    }

    #[test]
    fn random_option_areas_get_the_layered_verdict(
        area in vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(8), Just(10), any::<u8>()], 0..=40),
    ) {
        let area = &area[..area.len() / 4 * 4];
        let tcp = TcpRepr { flags: TcpFlags::ACK, ..TcpRepr::default() };
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let mut packet = layered_emit(src, dst, 64, 1, &tcp, area);
        // The data written is the option area: move the data offset over it.
        packet[32] = (((20 + area.len()) / 4) << 4) as u8;
        repair(&mut packet, false, true);
        assert_same_parse(&packet);
    }

    #[test]
    fn offloaded_emit_completed_by_the_device_is_the_software_emit(
        src in addr(), dst in addr(), tcp in tcp_repr(), payload in vec(any::<u8>(), 0..80),
    ) {
        let len = ipv4_tcp_len(&tcp, payload.len());
        let at = ipv4_tcp_len(&tcp, 0);
        let mut software = vec![0u8; len];
        software[at..].copy_from_slice(&payload);
        let mut offloaded = software.clone();
        emit_ipv4_tcp_in_place_with(src, dst, 64, 9, &tcp, payload.len(), &mut software, TcpChecksum::Software)
            .expect("sized");
        emit_ipv4_tcp_in_place_with(src, dst, 64, 9, &tcp, payload.len(), &mut offloaded, TcpChecksum::Offloaded)
            .expect("sized");
        // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
        let partial = u16::from_be_bytes([offloaded[36], offloaded[37]]);
        prop_assert_eq!(partial, pseudo_header_sum(src, dst, IP_PROTO_TCP, len - 20));
        // Everything else, the IPv4 header and its checksum included, is already final.
        prop_assert_eq!(&offloaded[..36], &software[..36]);
        prop_assert_eq!(&offloaded[38..], &software[38..]);
        // The device sums from the TCP header to the end, field in place, and stores the
        // complement at the checksum offset.
        let completed = checksum(&offloaded[20..]);
        offloaded[36..38].copy_from_slice(&completed.to_be_bytes());
        prop_assert_eq!(&offloaded, &software);
        prop_assert!(parse_ipv4_tcp(&offloaded).is_ok(), "the completed packet verifies");
    }

    #[test]
    fn offloaded_parse_is_software_parse_but_for_the_tcp_checksum(
        src in addr(), dst in addr(), tcp in tcp_repr(), payload in vec(any::<u8>(), 0..40),
        damages in vec(damage(), 0..3), repair_ip in any::<bool>(),
    ) {
        let mut packet = layered_emit(src, dst, 64, 1, &tcp, &payload);
        for damage in &damages {
            apply(&mut packet, damage);
        }
        repair(&mut packet, repair_ip, false);
        let software = parse_ipv4_tcp_with(&packet, TcpChecksum::Software);
        let offloaded = parse_ipv4_tcp_with(&packet, TcpChecksum::Offloaded);
        match software {
            Err(WireError::BadTcpChecksum) => {
                // Trusted instead: whatever comes after the checksum decides.
                prop_assert_ne!(offloaded.map(|_| ()), Err(WireError::BadTcpChecksum));
            }
            other => prop_assert_eq!(offloaded, other),
        }
    }
}

#[test]
fn offloaded_parse_accepts_a_wrong_tcp_checksum() {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let mut packet = vec![0u8; ipv4_tcp_len(&data_segment(), 4)];
    emit_ipv4_tcp(src, dst, 64, 1, &data_segment(), b"data", &mut packet).expect("sized");
    packet[36] ^= 0x5a;
    assert_eq!(
        parse_ipv4_tcp(&packet).map(|_| ()),
        Err(WireError::BadTcpChecksum)
    );
    let (ip, tcp, payload) =
        parse_ipv4_tcp_with(&packet, TcpChecksum::Offloaded).expect("TCP checksum trusted");
    assert_eq!((ip.src, ip.dst, ip.payload_len), (src, dst, 36));
    assert_eq!(tcp, data_segment());
    assert_eq!(payload, b"data");
}

#[test]
fn offloaded_parse_still_rejects_a_bad_ip_checksum() {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let mut packet = vec![0u8; ipv4_tcp_len(&data_segment(), 4)];
    emit_ipv4_tcp(src, dst, 64, 1, &data_segment(), b"data", &mut packet).expect("sized");
    packet[10] ^= 0x01;
    assert_eq!(
        parse_ipv4_tcp_with(&packet, TcpChecksum::Offloaded).map(|_| ()),
        Err(WireError::BadIpChecksum)
    );
}

#[test]
fn offloaded_emit_stores_the_pseudo_header_sum() {
    // 10.0.0.1 -> 10.0.0.2, TCP length 36: 0a00 + 0001 + 0a00 + 0002 + 0006 + 0024 = 0x142d.
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let mut packet = vec![0u8; ipv4_tcp_len(&data_segment(), 4)];
    packet[52..].copy_from_slice(b"data");
    let written = emit_ipv4_tcp_in_place_with(
        src,
        dst,
        64,
        1,
        &data_segment(),
        4,
        &mut packet,
        TcpChecksum::Offloaded,
    );
    assert_eq!(written, Ok(56));
    assert_eq!(&packet[36..38], &[0x14, 0x2d]);
    assert!(Ipv4Packet::new_checked(&packet[..])
        .expect("lengths")
        .verify_checksum());
    assert_eq!(TcpChecksum::default(), TcpChecksum::Software);
}

#[test]
fn emit_errors_are_unchanged_in_both_modes() {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    for mode in [TcpChecksum::Software, TcpChecksum::Offloaded] {
        let mut short = [0u8; 55];
        assert_eq!(
            emit_ipv4_tcp_in_place_with(src, dst, 64, 1, &data_segment(), 4, &mut short, mode),
            Err(WireError::BufferTooSmall {
                needed: 56,
                got: 55
            })
        );
        assert_eq!(
            emit_ipv4_tcp_in_place_with(src, dst, 64, 1, &data_segment(), 65_500, &mut short, mode),
            Err(WireError::PacketTooLong {
                len: 65_552,
                max: 65_535
            })
        );
    }
}
