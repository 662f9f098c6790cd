//! The `checksum_offload` knob: the device computes and checks TCP checksums, as on Linux's
//! `lo` (CHECKSUM_PARTIAL on send, CHECKSUM_UNNECESSARY on receive). The IPv4 header
//! checksum stays in software both ways.

use std::net::{Ipv4Addr, SocketAddrV4};
use tcpwave::wire::{self, TcpChecksum};
use tcpwave::{Config, Endpoint, Instant};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 80);

fn offloaded() -> Config {
    Config {
        checksum_offload: true,
        ..Config::default()
    }
}

/// Every packet `from` sends, until it has nothing more.
fn drain(from: &mut Endpoint, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; from.max_packet_len()];
    let mut out = Vec::new();
    while let Some(n) = from.poll_transmit(now, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Carry packets both ways until both sides are quiet; every packet must be accepted.
fn exchange(a: &mut Endpoint, b: &mut Endpoint, now: Instant) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    loop {
        let ab = drain(a, now);
        for p in &ab {
            b.handle_packet(now, p).expect("b accepts a's packet");
        }
        let ba = drain(b, now);
        for p in &ba {
            a.handle_packet(now, p).expect("a accepts b's packet");
        }
        if ab.is_empty() && ba.is_empty() {
            return seen;
        }
        seen.extend(ab);
        seen.extend(ba);
    }
}

/// The TCP checksum field of an emitted packet (20-byte IPv4 header, no options).
fn tcp_checksum_field(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[36], packet[37]])
}

#[test]
fn offloaded_pair_carries_a_whole_lifecycle_with_partial_checksums() {
    let now = Instant::ZERO;
    let mut client = Endpoint::new(offloaded(), now);
    let mut server = Endpoint::new(offloaded(), now);
    let l = server.listen(now, SERVER, 8).unwrap();
    let c = client
        .connect(now, SocketAddrV4::new(CLIENT, 0), SERVER)
        .unwrap();
    let mut packets = exchange(&mut client, &mut server, now);
    let s = server.accept(now, l).unwrap();
    client.send(now, c, b"ping").unwrap();
    packets.extend(exchange(&mut client, &mut server, now));
    let mut word = [0u8; 4];
    assert_eq!(server.recv(now, s, &mut word), Ok(4));
    assert_eq!(&word, b"ping");
    client.close(now, c).unwrap();
    packets.extend(exchange(&mut client, &mut server, now));
    server.close(now, s).unwrap();
    packets.extend(exchange(&mut client, &mut server, now));
    // Both sides closed: the client's side lives on only as a TIME_WAIT entry.
    assert_eq!(client.state(c), None);
    assert_eq!(server.state(s), None);
    assert_eq!(client.time_wait_count(), 1);
    assert!(packets.len() >= 8, "a whole lifecycle went by");
    for p in &packets {
        // Software parsing sees a bad TCP checksum (only the pseudo-header sum is there)
        // but a good IPv4 header; offloaded parsing takes it.
        assert_eq!(
            wire::parse_ipv4_tcp(p).map(|_| ()),
            Err(wire::WireError::BadTcpChecksum),
            "the device would fill in the checksum"
        );
        let (ip, _, _) = wire::parse_ipv4_tcp_with(p, TcpChecksum::Offloaded).unwrap();
        // CHECKSUM_PARTIAL: the folded pseudo-header sum, not complemented.
        let tcp_len = p.len() - 20;
        let pseudo = wire::pseudo_header_sum(ip.src, ip.dst, 6, tcp_len);
        assert_eq!(tcp_checksum_field(p), pseudo);
    }
    assert_eq!(client.counters().InErrs + server.counters().InErrs, 0);
}

#[test]
fn software_endpoint_rejects_partial_checksums_and_offloaded_one_trusts_them() {
    let now = Instant::ZERO;
    let mut offload_client = Endpoint::new(offloaded(), now);
    offload_client
        .connect(now, SocketAddrV4::new(CLIENT, 0), SERVER)
        .unwrap();
    let syn = drain(&mut offload_client, now).remove(0);

    let mut software = Endpoint::new(Config::default(), now);
    software.listen(now, SERVER, 8).unwrap();
    assert_eq!(
        software.handle_packet(now, &syn),
        Err(wire::WireError::BadTcpChecksum)
    );
    assert_eq!(software.counters().InErrs, 1);
    assert!(drain(&mut software, now).is_empty(), "nothing answers it");

    let mut trusting = Endpoint::new(offloaded(), now);
    trusting.listen(now, SERVER, 8).unwrap();
    // Even a TCP checksum that is plainly wrong is trusted: the device checked it.
    let mut corrupt = syn.clone();
    corrupt[36] ^= 0x5a;
    trusting.handle_packet(now, &corrupt).unwrap();
    let reply = drain(&mut trusting, now);
    assert_eq!(reply.len(), 1, "the SYN-ACK");
    let (_, tcp, _) = wire::parse_ipv4_tcp_with(&reply[0], TcpChecksum::Offloaded).unwrap();
    assert!(tcp.flags.syn() && tcp.flags.ack());
}

#[test]
fn offloaded_endpoint_still_checks_the_ip_header() {
    let now = Instant::ZERO;
    let mut client = Endpoint::new(offloaded(), now);
    client
        .connect(now, SocketAddrV4::new(CLIENT, 0), SERVER)
        .unwrap();
    let mut syn = drain(&mut client, now).remove(0);
    syn[8] = syn[8].wrapping_sub(1); // TTL changed without fixing the header checksum
    let mut server = Endpoint::new(offloaded(), now);
    server.listen(now, SERVER, 8).unwrap();
    assert_eq!(
        server.handle_packet(now, &syn),
        Err(wire::WireError::BadIpChecksum)
    );
    assert!(drain(&mut server, now).is_empty());
}

#[test]
fn the_knob_is_settable_by_name() {
    let mut cfg = Config::default();
    assert!(
        !cfg.checksum_offload,
        "off by default: TUN and captures need real sums"
    );
    cfg.set("checksum_offload", "1").unwrap();
    assert!(cfg.checksum_offload);
    let err = cfg.set("checksum_offload", "maybe").unwrap_err();
    assert!(err.to_string().contains("0 or 1"), "{err}");
}
