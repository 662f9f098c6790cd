//! Cross-checks `tcpwave::wire` against an independent implementation, the `etherparse`
//! crate: what we emit, etherparse reads back field for field (and its checksums agree);
//! what etherparse builds, we read back field for field. Random inputs come from proptest,
//! which also checks that arbitrary or corrupted bytes never make a parser panic.

use core::net::Ipv4Addr;
use etherparse::{
    checksum::Sum16BitWords, IpNumber, Ipv4Header, NetSlice, PacketBuilder, SlicedPacket,
    TcpHeader, TcpOptionElement, TransportSlice,
};
use proptest::collection::vec;
use proptest::prelude::*;
use tcpwave::wire::{
    checksum, emit_ipv4_tcp, ipv4_tcp_len, parse_ipv4_tcp, parse_options, tcp_checksum, Ipv4Packet,
    Ipv4Repr, SackBlock, TcpFlags, TcpOptions, TcpPacket, TcpRepr, IP_PROTO_TCP,
};
use tcpwave::SeqNumber;

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn sack_block() -> impl Strategy<Value = SackBlock> {
    (any::<u32>(), any::<u32>()).prop_map(|(left, right)| SackBlock {
        left: SeqNumber(left),
        right: SeqNumber(right),
    })
}

/// Options in the canonical form our emitter produces for a SYN or non-SYN segment, so
/// that emit followed by parse must give them back unchanged.
fn canonical_options(syn: bool) -> BoxedStrategy<TcpOptions> {
    if syn {
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
        )
            .prop_map(
                |(mss, window_scale, sack_permitted, timestamps)| TcpOptions {
                    mss,
                    window_scale,
                    sack_permitted,
                    timestamps,
                    ..TcpOptions::default()
                },
            )
            .boxed()
    } else {
        (
            proptest::option::of((any::<u32>(), any::<u32>())),
            vec(sack_block(), 0..=4),
        )
            .prop_map(|(timestamps, blocks)| {
                // RFC 2018 §3: three blocks fit beside timestamps, four without.
                let room = if timestamps.is_some() { 3 } else { 4 };
                let mut options = TcpOptions {
                    timestamps,
                    ..TcpOptions::default()
                };
                for (slot, block) in options.sack_blocks.iter_mut().zip(blocks.iter().take(room)) {
                    *slot = *block;
                }
                options.sack_count = blocks.len().min(room) as u8;
                options
            })
            .boxed()
    }
}

fn canonical_tcp_repr() -> impl Strategy<Value = TcpRepr> {
    any::<u8>().prop_flat_map(|flags| {
        let syn = TcpFlags(flags).syn();
        (
            (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
            (any::<u16>(), any::<u16>()),
            canonical_options(syn),
        )
            .prop_map(
                move |((src_port, dst_port, seq, ack), (window, urgent), options)| TcpRepr {
                    src_port,
                    dst_port,
                    seq: SeqNumber(seq),
                    ack: SeqNumber(ack),
                    flags: TcpFlags(flags),
                    window,
                    urgent,
                    options,
                },
            )
    })
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

/// One etherparse option element; SACK carries 1..=4 blocks.
fn option_element() -> impl Strategy<Value = TcpOptionElement> {
    prop_oneof![
        Just(TcpOptionElement::Noop),
        any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
        any::<u8>().prop_map(TcpOptionElement::WindowScale),
        Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
        (any::<u32>(), any::<u32>())
            .prop_map(|(tsval, tsecr)| TcpOptionElement::Timestamp(tsval, tsecr)),
        (
            (any::<u32>(), any::<u32>()),
            vec((any::<u32>(), any::<u32>()), 0..=3)
        )
            .prop_map(|(first, rest)| {
                let mut more = [None; 3];
                for (slot, block) in more.iter_mut().zip(rest) {
                    *slot = Some(block);
                }
                TcpOptionElement::SelectiveAcknowledgement(first, more)
            }),
    ]
}

fn element_len(element: &TcpOptionElement) -> usize {
    match element {
        TcpOptionElement::Noop => 1,
        TcpOptionElement::MaximumSegmentSize(_) => 4,
        TcpOptionElement::WindowScale(_) => 3,
        TcpOptionElement::SelectiveAcknowledgementPermitted => 2,
        TcpOptionElement::Timestamp(_, _) => 10,
        TcpOptionElement::SelectiveAcknowledgement(_, more) => {
            10 + 8 * more.iter().flatten().count()
        }
    }
}

/// A list of option elements that fits in the 40-byte option area.
fn option_elements() -> impl Strategy<Value = Vec<TcpOptionElement>> {
    vec(option_element(), 0..8).prop_map(|elements| {
        let mut used = 0;
        elements
            .into_iter()
            .filter(|element| {
                let fits = used + element_len(element) <= 40;
                if fits {
                    used += element_len(element);
                }
                fits
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// Conversions between the two vocabularies
// ---------------------------------------------------------------------------------------

/// Applies etherparse option elements in order, later ones overwriting earlier ones, as
/// our parser does.
fn options_from_elements(elements: impl IntoIterator<Item = TcpOptionElement>) -> TcpOptions {
    let mut options = TcpOptions::default();
    for element in elements {
        match element {
            TcpOptionElement::Noop => {}
            TcpOptionElement::MaximumSegmentSize(mss) => options.mss = Some(mss),
            TcpOptionElement::WindowScale(shift) => options.window_scale = Some(shift),
            TcpOptionElement::SelectiveAcknowledgementPermitted => options.sack_permitted = true,
            TcpOptionElement::Timestamp(tsval, tsecr) => options.timestamps = Some((tsval, tsecr)),
            TcpOptionElement::SelectiveAcknowledgement(first, more) => {
                options.sack_blocks = [SackBlock::default(); 4];
                let blocks = core::iter::once(first).chain(more.into_iter().flatten());
                let mut count = 0;
                for (slot, (left, right)) in options.sack_blocks.iter_mut().zip(blocks) {
                    *slot = SackBlock {
                        left: SeqNumber(left),
                        right: SeqNumber(right),
                    };
                    count += 1;
                }
                options.sack_count = count;
            }
        }
    }
    options
}

fn etherparse_flags(header: &TcpHeader) -> TcpFlags {
    let bits = [
        (header.fin, TcpFlags::FIN),
        (header.syn, TcpFlags::SYN),
        (header.rst, TcpFlags::RST),
        (header.psh, TcpFlags::PSH),
        (header.ack, TcpFlags::ACK),
        (header.urg, TcpFlags::URG),
        (header.ece, TcpFlags::ECE),
        (header.cwr, TcpFlags::CWR),
    ];
    bits.iter()
        .filter(|(set, _)| *set)
        .fold(TcpFlags::NONE, |all, (_, flag)| all | *flag)
}

fn set_etherparse_flags(header: &mut TcpHeader, flags: TcpFlags) {
    header.fin = flags.fin();
    header.syn = flags.syn();
    header.rst = flags.rst();
    header.psh = flags.psh();
    header.ack = flags.ack();
    header.urg = flags.contains(TcpFlags::URG);
    header.ece = flags.contains(TcpFlags::ECE);
    header.cwr = flags.contains(TcpFlags::CWR);
}

/// etherparse never writes a zero TCP checksum (it sends 0xffff, the other one's-complement
/// zero, as UDP must); RFC 9293 has no such rule and Linux writes 0. Both verify.
fn same_tcp_checksum(ours: u16, theirs: u16) -> bool {
    ours == theirs || (ours == 0 && theirs == 0xffff)
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn checksum_agrees_with_etherparse(data in vec(any::<u8>(), 0..2000)) {
        let theirs = Sum16BitWords::new().add_slice(&data).ones_complement().to_be();
        prop_assert_eq!(checksum(&data), theirs);
    }

    #[test]
    fn our_packets_are_read_identically_by_etherparse(
        tcp in canonical_tcp_repr(),
        src in addr(),
        dst in addr(),
        ttl in any::<u8>(),
        ident in any::<u16>(),
        payload in vec(any::<u8>(), 0..300),
    ) {
        let mut buf = vec![0u8; ipv4_tcp_len(&tcp, payload.len())];
        let written = emit_ipv4_tcp(src, dst, ttl, ident, &tcp, &payload, &mut buf).expect("sized by ipv4_tcp_len");
        prop_assert_eq!(written, buf.len());

        let sliced = SlicedPacket::from_ip(&buf).expect("etherparse reads our packet");
        let Some(NetSlice::Ipv4(ip)) = sliced.net else { panic!("not IPv4: {:?}", sliced.net) };
        let ip_header = ip.header().to_header();
        prop_assert_eq!(ip_header.total_len as usize, buf.len());
        prop_assert_eq!(ip_header.identification, ident);
        prop_assert!(ip_header.dont_fragment);
        prop_assert!(!ip_header.is_fragmenting_payload());
        prop_assert_eq!(ip_header.time_to_live, ttl);
        prop_assert_eq!(ip_header.protocol, IpNumber::TCP);
        prop_assert_eq!(ip_header.source, src.octets());
        prop_assert_eq!(ip_header.destination, dst.octets());
        prop_assert!(ip_header.options.is_empty());
        prop_assert_eq!(ip_header.header_checksum, ip_header.calc_header_checksum());

        let Some(TransportSlice::Tcp(segment)) = sliced.transport else { panic!("not TCP") };
        let header = segment.to_header();
        prop_assert_eq!(header.source_port, tcp.src_port);
        prop_assert_eq!(header.destination_port, tcp.dst_port);
        prop_assert_eq!(header.sequence_number, tcp.seq.0);
        prop_assert_eq!(header.acknowledgment_number, tcp.ack.0);
        prop_assert_eq!(etherparse_flags(&header), tcp.flags);
        prop_assert_eq!(header.window_size, tcp.window);
        prop_assert_eq!(header.urgent_pointer, tcp.urgent);
        prop_assert_eq!(header.header_len(), tcp.header_len());
        prop_assert_eq!(segment.payload(), &payload[..]);
        let theirs = segment.calc_checksum_ipv4(src.octets(), dst.octets()).expect("small segment");
        prop_assert!(same_tcp_checksum(header.checksum, theirs), "ours {:#06x} theirs {:#06x}", header.checksum, theirs);

        let elements: Vec<TcpOptionElement> = header
            .options_iterator()
            .collect::<Result<_, _>>()
            .expect("etherparse reads our options");
        prop_assert_eq!(options_from_elements(elements), tcp.options);
    }

    #[test]
    fn etherparse_packets_are_read_identically_by_us(
        elements in option_elements(),
        flags in any::<u8>(),
        (src_port, dst_port, seq, ack) in (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
        (window, urgent, ttl) in (any::<u16>(), any::<u16>(), any::<u8>()),
        src in addr(),
        dst in addr(),
        payload in vec(any::<u8>(), 0..300),
    ) {
        let mut header = TcpHeader::new(src_port, dst_port, seq, window);
        header.acknowledgment_number = ack;
        header.urgent_pointer = urgent;
        set_etherparse_flags(&mut header, TcpFlags(flags));
        header.set_options(&elements).expect("elements were sized to fit");
        let builder = PacketBuilder::ipv4(src.octets(), dst.octets(), ttl).tcp_header(header);
        let mut buf = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut buf, &payload).expect("etherparse writes");

        let (ip, tcp, ours_payload) = parse_ipv4_tcp(&buf).expect("we read etherparse's packet");
        prop_assert_eq!((ip.src, ip.dst, ip.ttl, ip.protocol), (src, dst, ttl, IP_PROTO_TCP));
        prop_assert_eq!(ip.payload_len, buf.len() - 20);
        prop_assert_eq!(tcp.src_port, src_port);
        prop_assert_eq!(tcp.dst_port, dst_port);
        prop_assert_eq!(tcp.seq, SeqNumber(seq));
        prop_assert_eq!(tcp.ack, SeqNumber(ack));
        prop_assert_eq!(tcp.flags, TcpFlags(flags));
        prop_assert_eq!(tcp.window, window);
        prop_assert_eq!(tcp.urgent, urgent);
        prop_assert_eq!(tcp.options, options_from_elements(elements));
        prop_assert_eq!(ours_payload, &payload[..]);
    }

    #[test]
    fn etherparse_packets_with_ip_options_are_read_by_us(
        ip_options_words in 1usize..=10,
        tcp in canonical_tcp_repr(),
        payload in vec(any::<u8>(), 0..64),
    ) {
        let (src, dst) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 7));
        // Our TCP segment inside an IPv4 header with NOP options, written by etherparse.
        let mut segment = vec![0u8; tcp.header_len() + payload.len()];
        tcp.emit(&mut segment, src, dst, &payload).expect("sized by header_len");
        let mut ip_header = Ipv4Header::new(segment.len() as u16, 9, IpNumber::TCP, src.octets(), dst.octets()).expect("small");
        ip_header.options = vec![1u8; ip_options_words * 4][..].try_into().expect("at most 40 bytes");
        ip_header.total_len = (ip_header.header_len() + segment.len()) as u16;
        let mut buf = Vec::new();
        ip_header.write(&mut buf).expect("etherparse writes");
        buf.extend_from_slice(&segment);

        let packet = Ipv4Packet::new_checked(&buf[..]).expect("valid");
        prop_assert_eq!(packet.header_len(), 20 + ip_options_words * 4);
        let (ip, parsed, ours_payload) = parse_ipv4_tcp(&buf).expect("valid");
        prop_assert_eq!(ip.payload_len, segment.len());
        prop_assert_eq!(parsed, tcp);
        prop_assert_eq!(ours_payload, &payload[..]);
    }

    #[test]
    fn emit_then_parse_is_identity(
        tcp in canonical_tcp_repr(),
        src in addr(),
        dst in addr(),
        ttl in any::<u8>(),
        ident in any::<u16>(),
        payload in vec(any::<u8>(), 0..300),
        trailing in vec(any::<u8>(), 0..8),
    ) {
        let len = ipv4_tcp_len(&tcp, payload.len());
        let mut buf = vec![0u8; len + trailing.len()];
        buf[len..].copy_from_slice(&trailing);
        prop_assert_eq!(emit_ipv4_tcp(src, dst, ttl, ident, &tcp, &payload, &mut buf), Ok(len));
        let (ip, parsed, ours_payload) = parse_ipv4_tcp(&buf).expect("own output parses");
        let expected_ip = Ipv4Repr { src, dst, protocol: IP_PROTO_TCP, ttl, ident, payload_len: len - 20 };
        prop_assert_eq!(ip, expected_ip);
        prop_assert_eq!(parsed, tcp);
        prop_assert_eq!(ours_payload, &payload[..]);
        let segment = &buf[20..len];
        prop_assert_eq!(tcp_checksum(src, dst, segment), 0, "a filled-in segment sums to zero");
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..160)) {
        exercise_every_parser(&bytes);
    }

    #[test]
    fn corrupted_packets_never_panic(
        tcp in canonical_tcp_repr(),
        payload in vec(any::<u8>(), 0..40),
        edits in vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut buf = vec![0u8; ipv4_tcp_len(&tcp, payload.len())];
        emit_ipv4_tcp(src, dst, 64, 0, &tcp, &payload, &mut buf).expect("sized");
        for (at, value) in edits {
            let len = buf.len();
            buf[at % len] = value;
        }
        // Refill the IP checksum so corrupted lengths and option bytes get past it.
        if let Ok(mut packet) = Ipv4Packet::new_checked(&mut buf[..]) {
            packet.fill_checksum();
        }
        let keep = cut % (buf.len() + 1);
        exercise_every_parser(&buf[..keep]);
        exercise_every_parser(&buf);
    }
}

/// Runs every parser and every accessor a checked view allows over `bytes`; any panic
/// fails the property.
fn exercise_every_parser(bytes: &[u8]) {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let _ = parse_ipv4_tcp(bytes);
    let _ = parse_options(bytes);
    if let Ok(packet) = Ipv4Packet::new_checked(bytes) {
        let _ = (
            packet.version(),
            packet.dscp_ecn(),
            packet.ident(),
            packet.ttl(),
        );
        let _ = (
            packet.dont_fragment(),
            packet.more_fragments(),
            packet.fragment_offset(),
        );
        let _ = (
            packet.protocol(),
            packet.header_checksum(),
            packet.src_addr(),
            packet.dst_addr(),
        );
        let _ = (packet.options(), packet.payload(), packet.verify_checksum());
        let _ = Ipv4Repr::parse(&packet);
        exercise_tcp(packet.payload(), src, dst);
    }
    exercise_tcp(bytes, src, dst);
    for start in [20, 24, 40, 60] {
        if let Some(rest) = bytes.get(start..) {
            exercise_tcp(rest, src, dst);
        }
    }
}

fn exercise_tcp(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    if let Ok(packet) = TcpPacket::new_checked(bytes) {
        let _ = (
            packet.src_port(),
            packet.dst_port(),
            packet.seq_number(),
            packet.ack_number(),
        );
        let _ = (
            packet.flags(),
            packet.window_len(),
            packet.checksum(),
            packet.urgent_at(),
        );
        let _ = (
            packet.options(),
            packet.payload(),
            packet.verify_checksum(src, dst),
        );
        let _ = parse_options(packet.options());
        // Skipping the checksum reaches the option parser with arbitrary option bytes.
        if let Ok(repr) = TcpRepr::parse(&packet, src, dst, false) {
            let mut out = [0u8; 60];
            let written = repr
                .emit(&mut out, src, dst, &[])
                .expect("60 bytes hold any header");
            assert_eq!(written, repr.header_len());
        }
        let _ = TcpRepr::parse(&packet, src, dst, true);
    }
}
