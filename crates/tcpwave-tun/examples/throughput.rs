//! Bulk throughput, as root:
//! `cargo run --release -p tcpwave-tun --example throughput -- [MEGABYTES]`
//!
//! 1. engine <-> kernel over the TUN device of a lab namespace, both directions;
//! 2. kernel <-> kernel over a veth pair between two namespaces (198.51.100.0/24).
//!
//! Every namespace is deleted afterwards.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddrV4, TcpListener, TcpStream as KernelStream};
use std::time::{Duration, Instant};

use tcpwave_netns::Netns;
use tcpwave_tun::netns::in_netns;
use tcpwave_tun::{Lab, StackConfig, TcpStream, ENGINE_ADDR, KERNEL_ADDR};

const CHUNK: usize = 64 * 1024;

fn sink(mut r: impl Read) -> usize {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

fn source(mut w: impl Write, bytes: usize) {
    let buf = vec![0x5a_u8; CHUNK];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK);
        w.write_all(&buf[..n]).expect("write");
        left -= n;
    }
}

fn report(what: &str, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let mbytes = bytes as f64 / 1e6;
    println!(
        "{what:<40} {:>8.1} MB in {secs:>6.3} s = {:>8.1} MB/s = {:>6.2} Gbit/s",
        mbytes,
        mbytes / secs,
        mbytes * 8.0 / 1000.0 / secs
    );
}

fn engine_kernel(bytes: usize) {
    let lab = Lab::create("tw-tput", StackConfig::new(ENGINE_ADDR)).expect("lab");
    for upload in [true, false] {
        let listener = lab
            .in_kernel(|| TcpListener::bind(SocketAddrV4::new(KERNEL_ADDR, 5001)))
            .unwrap()
            .unwrap();
        let kernel = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            if upload {
                sink(&s)
            } else {
                source(&s, bytes);
                s.shutdown(Shutdown::Write).unwrap();
                bytes
            }
        });
        let started = Instant::now();
        let stream = TcpStream::connect(lab.stack(), SocketAddrV4::new(KERNEL_ADDR, 5001)).unwrap();
        let moved = if upload {
            source(&stream, bytes);
            stream.shutdown(Shutdown::Write).unwrap();
            kernel.join().unwrap()
        } else {
            let n = sink(&stream);
            kernel.join().unwrap();
            n
        };
        let what = if upload {
            "engine -> kernel (TUN)"
        } else {
            "kernel -> engine (TUN)"
        };
        report(what, moved, started.elapsed());
        assert_eq!(moved, bytes);
    }
}

fn kernel_kernel(bytes: usize) {
    let a = Netns::create("tw-tput-a").expect("namespace");
    let b = Netns::create("tw-tput-b").expect("namespace");
    a.link_veth("veth0", &b, "veth1").expect("veth");
    a.add_addr("veth0", "198.51.100.1/24").unwrap();
    b.add_addr("veth1", "198.51.100.2/24").unwrap();
    let server_addr: SocketAddrV4 = "198.51.100.1:5001".parse().unwrap();
    let listener = in_netns(&a.path(), || TcpListener::bind(server_addr))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || sink(&listener.accept().unwrap().0));
    let started = Instant::now();
    let client = in_netns(&b.path(), || KernelStream::connect(server_addr))
        .unwrap()
        .unwrap();
    source(&client, bytes);
    client.shutdown(Shutdown::Write).unwrap();
    let moved = server.join().unwrap();
    report(
        "kernel -> kernel (veth, two namespaces)",
        moved,
        started.elapsed(),
    );
}

fn main() {
    tcpwave_tun::require_root("the throughput measurement").unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let megabytes: usize = std::env::args()
        .nth(1)
        .map_or(200, |s| s.parse().expect("MEGABYTES"));
    let bytes = megabytes * 1024 * 1024;
    engine_kernel(bytes);
    kernel_kernel(bytes);
}
