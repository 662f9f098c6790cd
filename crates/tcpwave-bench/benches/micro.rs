//! Criterion micro-benchmarks: segment parse and emit (tcpwave and smoltcp's wire module on
//! the same bytes), `handle_segment` on an established connection, and one 4-byte
//! request/reply round trip.
//!
//!     cargo bench -p tcpwave-bench --bench micro

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcpwave::wire::{self, TcpRepr};
use tcpwave_bench::tw::{bench_config, Pair, SERVER_IP};

/// An established pair and the packets of a 4-byte exchange: (client's data segment,
/// server's ACK of it), as bytes on the wire.
fn established() -> (Pair, tcpwave::ConnId, tcpwave::ConnId, Vec<u8>, Vec<u8>) {
    let mut pair = Pair::new(bench_config());
    let now = pair.now;
    let l = pair
        .server
        .listen(now, SocketAddrV4::new(SERVER_IP, 9000), 8)
        .unwrap();
    let c = pair
        .client
        .connect(
            now,
            SocketAddrV4::new(Ipv4Addr::new(127, 4, 0, 1), 0),
            SocketAddrV4::new(SERVER_IP, 9000),
        )
        .unwrap();
    pair.pump();
    let s = pair.server.accept(now, l).unwrap();
    let mut buf = vec![0u8; pair.client.max_packet_len()];
    pair.client.send(now, c, b"ping").unwrap();
    let n = pair.client.poll_transmit(now, &mut buf).unwrap();
    let data = buf[..n].to_vec();
    pair.server.handle_packet(now, &data).unwrap();
    let n = pair.server.poll_transmit(now, &mut buf).unwrap();
    let ack = buf[..n].to_vec();
    pair.client.handle_packet(now, &ack).unwrap();
    let mut word = [0u8; 4];
    pair.server.recv(now, s, &mut word).unwrap();
    pair.pump();
    (pair, c, s, data, ack)
}

fn wire_benches(c: &mut Criterion) {
    let (_, _, _, data, _) = established();
    let (ip, tcp, payload) = wire::parse_ipv4_tcp(&data).unwrap();
    let payload = payload.to_vec();
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(1));
    group.bench_function("tcpwave parse_ipv4_tcp (4 B data, timestamps)", |b| {
        b.iter(|| wire::parse_ipv4_tcp(black_box(&data)).unwrap().1.seq)
    });
    let mut out = vec![0u8; 128];
    group.bench_function("tcpwave emit_ipv4_tcp (4 B data, timestamps)", |b| {
        b.iter(|| {
            wire::emit_ipv4_tcp(
                ip.src,
                ip.dst,
                64,
                1,
                black_box(&tcp),
                black_box(&payload),
                &mut out,
            )
            .unwrap()
        })
    });
    group.bench_function(
        "tcpwave parse_ipv4_tcp_with Offloaded (4 B data, timestamps)",
        |b| {
            b.iter(|| {
                wire::parse_ipv4_tcp_with(black_box(&data), wire::TcpChecksum::Offloaded)
                    .unwrap()
                    .1
                    .seq
            })
        },
    );
    for (name, mode) in [
        (
            "tcpwave emit_ipv4_tcp_in_place_with Software (4 B data, timestamps)",
            wire::TcpChecksum::Software,
        ),
        (
            "tcpwave emit_ipv4_tcp_in_place_with Offloaded (4 B data, timestamps)",
            wire::TcpChecksum::Offloaded,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                wire::emit_ipv4_tcp_in_place_with(
                    ip.src,
                    ip.dst,
                    64,
                    1,
                    black_box(&tcp),
                    payload.len(),
                    &mut out,
                    mode,
                )
                .unwrap()
            })
        });
    }
    // A SYN with Linux's options takes the general option walk on parse and emit.
    let syn = TcpRepr {
        src_port: 40_000,
        dst_port: 9000,
        seq: tcpwave::SeqNumber(0x1234_5678),
        flags: wire::TcpFlags::SYN,
        window: 64_240,
        options: wire::TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1_000, 0)),
            ..wire::TcpOptions::default()
        },
        ..TcpRepr::default()
    };
    let mut syn_bytes = vec![0u8; wire::ipv4_tcp_len(&syn, 0)];
    wire::emit_ipv4_tcp(ip.src, ip.dst, 64, 1, &syn, &[], &mut syn_bytes).unwrap();
    group.bench_function("tcpwave parse_ipv4_tcp (SYN, Linux options)", |b| {
        b.iter(|| wire::parse_ipv4_tcp(black_box(&syn_bytes)).unwrap().1.seq)
    });
    group.bench_function("tcpwave emit_ipv4_tcp (SYN, Linux options)", |b| {
        b.iter(|| {
            wire::emit_ipv4_tcp(ip.src, ip.dst, 64, 1, black_box(&syn), &[], &mut out).unwrap()
        })
    });
    {
        use smoltcp::phy::ChecksumCapabilities;
        use smoltcp::wire::{IpAddress, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr as SmRepr};
        let caps = ChecksumCapabilities::default();
        group.bench_function("smoltcp Ipv4Repr+TcpRepr parse (same bytes)", |b| {
            b.iter(|| {
                let ip_packet = Ipv4Packet::new_checked(black_box(&data[..])).unwrap();
                let ip_repr = Ipv4Repr::parse(&ip_packet, &caps).unwrap();
                let tcp_packet = TcpPacket::new_checked(ip_packet.payload()).unwrap();
                let src = IpAddress::Ipv4(ip_repr.src_addr);
                let dst = IpAddress::Ipv4(ip_repr.dst_addr);
                SmRepr::parse(&tcp_packet, &src, &dst, &caps)
                    .unwrap()
                    .seq_number
            })
        });
        let ip_packet = Ipv4Packet::new_checked(&data[..]).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip_packet, &caps).unwrap();
        let tcp_packet = TcpPacket::new_checked(ip_packet.payload()).unwrap();
        let src = IpAddress::Ipv4(ip_repr.src_addr);
        let dst = IpAddress::Ipv4(ip_repr.dst_addr);
        let sm_repr = SmRepr::parse(&tcp_packet, &src, &dst, &caps).unwrap();
        group.bench_function("smoltcp Ipv4Repr+TcpRepr emit (same segment)", |b| {
            b.iter(|| {
                let mut ip_out = Ipv4Packet::new_unchecked(&mut out[..]);
                ip_repr.emit(&mut ip_out, &caps);
                let mut tcp_out = TcpPacket::new_unchecked(ip_out.payload_mut());
                black_box(&sm_repr).emit(&mut tcp_out, &src, &dst, &caps);
            })
        });
    }
    group.finish();
}

fn engine_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    {
        let (mut pair, _, _, _, ack) = established();
        let (ip, tcp, payload): (_, TcpRepr, _) = wire::parse_ipv4_tcp(&ack).unwrap();
        let payload = payload.to_vec();
        let now = pair.now;
        group.bench_function("handle_segment: pure ACK, established", |b| {
            b.iter(|| {
                pair.client
                    .handle_segment(now, ip.src, ip.dst, black_box(&tcp), &payload);
            })
        });
    }
    {
        let (mut pair, c, s, _, _) = established();
        let mut word = [0u8; 4];
        group.bench_function("round trip: 4 B request, 4 B reply (both endpoints)", |b| {
            b.iter(|| {
                let now = pair.now;
                pair.client.send(now, c, b"ping").unwrap();
                pair.pump();
                pair.server.recv(now, s, &mut word).unwrap();
                pair.server.send(now, s, b"pong").unwrap();
                pair.pump();
                pair.client.recv(now, c, &mut word).unwrap();
            })
        });
    }
    {
        let mut pair = Pair::new(bench_config());
        pair.lifecycles(1000);
        group.bench_function("lifecycle (both endpoints, small TIME_WAIT table)", |b| {
            b.iter(|| pair.lifecycle())
        });
    }
    group.finish();
}

criterion_group!(benches, wire_benches, engine_benches);
criterion_main!(benches);
