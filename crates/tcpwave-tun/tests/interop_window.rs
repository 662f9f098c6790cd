//! Interop 5: the receive window after the handshake, engine against kernel. The engine is
//! given the kernel's buffer sizes (the window share of its tcp_rmem[1], and its window
//! scale), then each side plays client once and server once with the same options (MSS
//! 1460, timestamps, SACK, scaling): the windows each puts on its first segment after the
//! SYNs must be the same field for the same role, and so must `rcv_ssthresh` (`ss -i`).
//!
//! Linux with tcp_rmem[1] = 131072: `rcv_ssthresh` = 65536 - 1448 = 64088 on both sides
//! (`tcp_init_buffer_space` reserves one segment), so `__tcp_select_window` would offer
//! ALIGN(64088, 1 << wscale); but the SYN and SYN-ACK promised 64240 and 65160, an edge
//! `tcp_select_window` never pulls back: a client's ACK of the SYN-ACK says
//! ALIGN(64240, 1 << wscale), a server's first segment ALIGN(65160, 1 << wscale) (502
//! and 510 with scale 7, 63 and 64 with scale 10).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpStream as KernelStream};
use std::time::Duration;

use common::*;
use tcpwave::ConnId;
use tcpwave_tun::{
    Direction, Lab, SegmentTrace, StackConfig, TcpListener, TcpStream, ENGINE_ADDR, KERNEL_ADDR,
};

/// A sysctl of the lab's namespace, as numbers (`/proc/sys/net` shows the reader's
/// namespace).
fn sysctl(lab: &Lab, name: &str) -> Vec<u64> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    let text = lab
        .in_kernel(move || std::fs::read_to_string(path))
        .expect("enter the namespace")
        .unwrap_or_else(|e| panic!("read {name}: {e}"));
    text.split_whitespace()
        .map(|w| w.parse().expect("a number"))
        .collect()
}

/// tcp_rmem[2] for the scale-7 run: Linux's default, 6 MiB.
const RMEM_MAX_SCALE_7: u64 = 6_291_456;

/// The engine configuration that sizes the receive side as the lab's kernel does, with
/// `rmem` (tcp_rmem) and `rmem_max` (net.core.rmem_max):
/// - buffer: the kernel offers tcp_win_from_space(tcp_rmem[1]) (half, the default
///   scaling_ratio); the engine's buffer holds payload only, so it gets that half;
/// - window scale: the kernel's is ilog2(max(tcp_rmem[2], rmem_max)) - 15
///   (`tcp_select_initial_window`); the engine offers the smallest shift that fits its
///   tcp_rmem_max in 16 bits, the same shift for the same value.
fn kernel_like_config(rmem: &[u64], rmem_max: u64) -> StackConfig {
    let mut cfg = default_cfg();
    cfg.engine.tcp_rmem_default = (rmem[1] / 2) as u32;
    cfg.engine.tcp_rmem_max = rmem[2].max(rmem_max).min(u64::from(u32::MAX)) as u32;
    cfg
}

/// The segments of one connection (by the engine's port and the kernel's), in order.
fn conversation(all: &[SegmentTrace], engine_port: u16, kernel_port: u16) -> Vec<SegmentTrace> {
    all.iter()
        .filter(|s| {
            let (ours, theirs) = match s.direction {
                Direction::Out => (s.tcp.src_port, s.tcp.dst_port),
                Direction::In => (s.tcp.dst_port, s.tcp.src_port),
            };
            ours == engine_port && theirs == kernel_port
        })
        .cloned()
        .collect()
}

/// The window scale a SYN in `dir` offered, and the window field of the first segment
/// after the SYNs in `dir`.
fn syn_scale_and_first_window(segments: &[SegmentTrace], dir: Direction) -> (u8, u16) {
    let syn = segments
        .iter()
        .find(|s| s.direction == dir && s.tcp.flags.syn())
        .unwrap_or_else(|| panic!("no SYN {dir:?} in {segments:#?}"));
    let scale = syn.tcp.options.window_scale.expect("window scale offered");
    let first = segments
        .iter()
        .find(|s| s.direction == dir && !s.tcp.flags.syn())
        .unwrap_or_else(|| panic!("no segment {dir:?} after the SYN in {segments:#?}"));
    (scale, first.tcp.window)
}

/// `rcv_ssthresh:N` from an `ss -i` line, when this `ss` prints it.
fn ss_rcv_ssthresh(info: &str) -> Option<u32> {
    info.split_whitespace()
        .find_map(|w| w.strip_prefix("rcv_ssthresh:"))
        .and_then(|n| n.parse().ok())
}

fn engine_rcv_ssthresh(lab: &Lab, id: ConnId) -> u32 {
    lab.stack()
        .with_endpoint(|ep, _| ep.info(id))
        .expect("the engine's connection")
        .rcv_ssthresh
}

/// The kernel's `rcv_ssthresh` for its socket with local port `port`, if `ss` shows it.
fn kernel_rcv_ssthresh(lab: &Lab, port: u16) -> Option<u32> {
    let suffix = format!(":{port}");
    let sockets = lab.kernel_sockets().expect("ss");
    let socket = sockets
        .iter()
        .find(|s| s.state == "ESTAB" && s.local.ends_with(&suffix))
        .unwrap_or_else(|| panic!("no ESTAB kernel socket on {port} in {sockets:#?}"));
    ss_rcv_ssthresh(&socket.info)
}

#[test]
fn first_windows_after_the_handshake_are_the_kernels_in_both_roles() {
    compare_first_windows("first_windows_after_the_handshake", false);
}

#[test]
fn first_windows_after_the_handshake_are_the_kernels_with_window_scale_7() {
    // Linux's default tcp_rmem[2] (6 MiB) in the lab's namespace (tcp_rmem is per
    // namespace) gives window scale 7, where the fields are the figures of most hosts:
    // 502 for a client, 510 for a server. rmem_max is global: skip if it is larger.
    compare_first_windows("first_windows_scale_7", true);
}

/// One lab, each side client once and server once; `scale_7`: with tcp_rmem[2] set to
/// 6 MiB in the lab's namespace first.
fn compare_first_windows(name: &str, scale_7: bool) {
    // A first lab only to read the namespace's sysctls; the engine of the second runs
    // with the kernel's sizes.
    let Some(probe) = lab(name, default_cfg()) else {
        return;
    };
    let mut rmem = sysctl(&probe, "net.ipv4.tcp_rmem");
    let rmem_max = sysctl(&probe, "net.core.rmem_max")[0];
    drop(probe);
    if scale_7 {
        if rmem_max > RMEM_MAX_SCALE_7 {
            eprintln!("SKIPPED {name}: net.core.rmem_max {rmem_max} > {RMEM_MAX_SCALE_7}");
            return;
        }
        rmem[2] = RMEM_MAX_SCALE_7;
    }
    let Some(lab) = lab(name, kernel_like_config(&rmem, rmem_max)) else {
        return;
    };
    if scale_7 {
        let value = format!("{} {} {}", rmem[0], rmem[1], rmem[2]);
        lab.in_kernel(move || std::fs::write("/proc/sys/net/ipv4/tcp_rmem", value))
            .expect("enter the namespace")
            .expect("set tcp_rmem in the lab's namespace");
        assert_eq!(sysctl(&lab, "net.ipv4.tcp_rmem"), rmem);
    }
    let traces = lab.stack().subscribe(true);

    // The server speaks first, so that each side's first segment after the SYNs leaves
    // with an empty receive queue: the client's ACK of the SYN-ACK, the server's data.
    // Engine client, kernel server.
    let listener = kernel_listener(&lab, 8090);
    let kernel_server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hello").unwrap();
        s
    });
    let remote = SocketAddrV4::new(KERNEL_ADDR, 8090);
    let mut client =
        TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(5)).unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    let engine_client_port = client.local_addr().unwrap().port();
    let kernel_server_socket = kernel_server.join().unwrap();
    let kernel_server_ssthresh = kernel_rcv_ssthresh(&lab, 8090);
    let engine_client_ssthresh = engine_rcv_ssthresh(&lab, client.id());

    // Kernel client, engine server.
    let engine_listener = TcpListener::bind(lab.stack(), 8091).unwrap();
    let kernel_client = lab
        .spawn_kernel("kernel-client", || {
            let mut s = KernelStream::connect_timeout(
                &SocketAddrV4::new(ENGINE_ADDR, 8091).into(),
                Duration::from_secs(5),
            )
            .unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hello");
            (s.local_addr().unwrap().port(), s)
        })
        .expect("enter the namespace");
    let (mut server, _) = engine_listener.accept().unwrap();
    server.write_all(b"hello").unwrap();
    let (kernel_client_port, kernel_client_socket) = kernel_client.join().unwrap();
    let kernel_client_ssthresh = kernel_rcv_ssthresh(&lab, kernel_client_port);
    let engine_server_ssthresh = engine_rcv_ssthresh(&lab, server.id());

    // Let the last segments reach the trace.
    std::thread::sleep(Duration::from_millis(100));
    let all = segments(&traces);
    let first = conversation(&all, engine_client_port, 8090);
    let second = conversation(&all, 8091, kernel_client_port);

    // The same scale both ways, or the fields would not compare.
    let (engine_client_scale, engine_client_window) =
        syn_scale_and_first_window(&first, Direction::Out);
    let (kernel_server_scale, kernel_server_window) =
        syn_scale_and_first_window(&first, Direction::In);
    let (kernel_client_scale, kernel_client_window) =
        syn_scale_and_first_window(&second, Direction::In);
    let (engine_server_scale, engine_server_window) =
        syn_scale_and_first_window(&second, Direction::Out);
    assert_eq!(
        engine_client_scale, kernel_server_scale,
        "the engine was configured for the kernel's window scale"
    );
    assert_eq!(engine_server_scale, kernel_client_scale);
    eprintln!(
        "scale {engine_client_scale}: client windows engine {engine_client_window} kernel \
         {kernel_client_window}; server windows engine {engine_server_window} kernel \
         {kernel_server_window}"
    );
    // The client's ACK of the SYN-ACK: ALIGN(64240, 1 << scale) >> scale on both (not
    // the whole free buffer).
    assert_eq!(
        engine_client_window, kernel_client_window,
        "client's first window after the handshake: {first:#?}\n{second:#?}"
    );
    // The server's first segment: ALIGN(65160, 1 << scale) >> scale on both.
    assert_eq!(
        engine_server_window, kernel_server_window,
        "server's first window after the handshake: {first:#?}\n{second:#?}"
    );
    // And the figures themselves: each side's SYN window, rounded up to the scale unit
    // (the edge the SYN promised, never pulled back; 64240 and 65160 with Linux's
    // tcp_rmem[1] = 131072).
    let syn_window = |segments: &[SegmentTrace], dir: Direction| {
        let syn = segments
            .iter()
            .find(|s| s.direction == dir && s.tcp.flags.syn())
            .expect("a SYN");
        u32::from(syn.tcp.window)
    };
    let align = |v: u32, s: u8| v.div_ceil(1 << s) << s;
    assert_eq!(
        u32::from(engine_client_window) << engine_client_scale,
        align(syn_window(&first, Direction::Out), engine_client_scale)
    );
    assert_eq!(
        u32::from(engine_server_window) << engine_server_scale,
        align(syn_window(&second, Direction::Out), engine_server_scale)
    );

    // rcv_ssthresh as `ss -i` shows it, when it does.
    match (kernel_client_ssthresh, kernel_server_ssthresh) {
        (Some(client), Some(server)) => {
            assert_eq!(client, engine_client_ssthresh, "client rcv_ssthresh");
            assert_eq!(server, engine_server_ssthresh, "server rcv_ssthresh");
        }
        _ => eprintln!("this ss does not print rcv_ssthresh: compared the wire only"),
    }
    if scale_7 && rmem[1] == 131_072 {
        assert_eq!((engine_client_window, engine_server_window), (502, 510));
    }
    drop((kernel_server_socket, kernel_client_socket));
}
