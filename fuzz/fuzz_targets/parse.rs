//! Fuzz target for the wire parsers: no input may make them panic, and anything that
//! parses must survive an emit and parse again to the same header fields and payload.
//!
//! Random bytes rarely carry two valid checksums, so each input is also tried as a TCP
//! segment wrapped in a valid IPv4 header with its TCP checksum filled in; that reaches
//! the option parser and the round trip on nearly every run.
#![no_main]

use core::net::Ipv4Addr;
use libfuzzer_sys::fuzz_target;
use tcpwave::wire::{
    emit_ipv4_tcp, ipv4_tcp_len, parse_ipv4_tcp, parse_options, tcp_checksum, Ipv4Repr, TcpPacket,
    TcpRepr, IP_PROTO_TCP,
};

/// Large enough for any packet `parse_ipv4_tcp` accepts (the IPv4 total length is 16 bits).
const PACKET_LEN_MAX: usize = 65_535;
const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let _ = parse_options(data);
    if let Ok(packet) = TcpPacket::new_checked(data) {
        let _ = TcpRepr::parse(&packet, SRC, DST, false);
    }
    round_trip(data);
    if let Some(packet) = wrap_as_segment(data) {
        round_trip(&packet);
    }
});

/// Builds a valid IPv4 packet around `segment`, with a correct TCP checksum.
fn wrap_as_segment(segment: &[u8]) -> Option<Vec<u8>> {
    if segment.len() < 20 || segment.len() > PACKET_LEN_MAX - 20 {
        return None;
    }
    let ip = Ipv4Repr {
        src: SRC,
        dst: DST,
        protocol: IP_PROTO_TCP,
        ttl: 64,
        ident: 0,
        payload_len: segment.len(),
    };
    let mut packet = vec![0u8; 20 + segment.len()];
    ip.emit(&mut packet).ok()?;
    packet[20..].copy_from_slice(segment);
    packet[36..38].fill(0);
    let value = tcp_checksum(SRC, DST, &packet[20..]);
    packet[36..38].copy_from_slice(&value.to_be_bytes());
    Some(packet)
}

fn round_trip(data: &[u8]) {
    let Ok((ip, tcp, payload)) = parse_ipv4_tcp(data) else {
        return;
    };
    let len = ipv4_tcp_len(&tcp, payload.len());
    // Linux's layout can be a word longer than a tightly packed input (TS + 3 SACK blocks:
    // 36 bytes in, 40 out), so a maximum-size input may not fit again; that is not a bug.
    if len > PACKET_LEN_MAX {
        return;
    }
    let mut out = vec![0u8; len];
    let written = emit_ipv4_tcp(ip.src, ip.dst, ip.ttl, ip.ident, &tcp, payload, &mut out)
        .expect("a parsed header re-emits into ipv4_tcp_len bytes");
    assert_eq!(written, len);
    let (ip_again, tcp_again, payload_again) = parse_ipv4_tcp(&out).expect("our own output parses");
    assert_eq!(
        (ip_again.src, ip_again.dst, ip_again.ttl),
        (ip.src, ip.dst, ip.ttl)
    );
    assert_eq!(
        (tcp_again.src_port, tcp_again.dst_port),
        (tcp.src_port, tcp.dst_port)
    );
    assert_eq!(
        (tcp_again.seq, tcp_again.ack, tcp_again.flags),
        (tcp.seq, tcp.ack, tcp.flags)
    );
    assert_eq!(
        (tcp_again.window, tcp_again.urgent),
        (tcp.window, tcp.urgent)
    );
    assert_eq!(tcp_again.options.timestamps, tcp.options.timestamps);
    assert_eq!(payload_again, payload);
}
