//! Interop 2: the engine as client of a kernel listener in the lab. Options are negotiated
//! with the kernel (MSS, window scale, SACK-permitted, timestamps) and 10 MB go each way
//! with matching SHA-256.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddrV4};
use std::time::Duration;

use common::*;
use tcpwave_tun::{Direction, TcpStream, KERNEL_ADDR};

const TEN_MB: usize = 10 * 1024 * 1024;

#[test]
fn engine_client_negotiates_options_with_the_kernel() {
    let Some(lab) = lab(
        "engine_client_negotiates_options_with_the_kernel",
        default_cfg(),
    ) else {
        return;
    };
    let traces = lab.stack().subscribe(true);
    let listener = kernel_listener(&lab, 8080);
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(b"world").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let remote = SocketAddrV4::new(KERNEL_ADDR, 8080);
    let mut stream =
        TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(5)).unwrap();
    stream.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"world");
    let ss = lab.kernel_sockets().unwrap();
    let estab = ss
        .iter()
        .find(|s| s.state == "ESTAB" && s.local.ends_with(":8080"))
        .unwrap_or_else(|| panic!("no ESTAB socket in {ss:#?}"));
    // The kernel's view: our window scale (7) and MSS 1460 less the 12 bytes the
    // timestamp option takes in every segment (so timestamps are on). This `ss` does not
    // print the `ts`/`sack` flags even for kernel-to-kernel sockets, so those are checked
    // on the wire below.
    let words: Vec<&str> = estab.info.split_whitespace().collect();
    assert!(
        words.iter().any(|w| w.starts_with("wscale:7,")),
        "{:?}",
        estab.info
    );
    assert!(words.contains(&"mss:1448"), "{:?}", estab.info);
    kernel.join().unwrap();
    // The engine's view: both SYNs carried every option, and every later segment in
    // both directions carries timestamps (RFC 7323 §3.2).
    let segments = segments(&traces);
    let syn = |dir| {
        segments
            .iter()
            .find(|s| s.direction == dir && s.tcp.flags.syn())
            .unwrap_or_else(|| panic!("no SYN {dir:?}"))
            .tcp
            .options
    };
    for o in [syn(Direction::Out), syn(Direction::In)] {
        assert_eq!(o.mss, Some(1460), "{o:?}");
        assert!(o.window_scale.is_some(), "{o:?}");
        assert!(o.sack_permitted, "{o:?}");
        assert!(o.timestamps.is_some(), "{o:?}");
    }
    assert!(syn(Direction::In)
        .timestamps
        .is_some_and(|(_, ecr)| ecr != 0));
    assert!(
        segments.iter().all(|s| s.tcp.options.timestamps.is_some()),
        "{segments:#?}"
    );
    stream.shutdown(Shutdown::Write).unwrap();
}

#[test]
fn ten_megabytes_each_way_with_matching_sha256() {
    let Some(lab) = lab("ten_megabytes_each_way_with_matching_sha256", default_cfg()) else {
        return;
    };
    let listener = kernel_listener(&lab, 8081);
    let upload = seeded_bytes(TEN_MB, 1);
    let download = seeded_bytes(TEN_MB, 2);
    let (up_sha, down_sha) = (sha256(&upload), sha256(&download));
    let kernel_download = download.clone();
    let kernel = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let writer = s.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let mut w = writer;
            w.write_all(&kernel_download).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let got = read_all(&s, Duration::from_secs(60)).unwrap();
        sender.join().unwrap();
        sha256(&got)
    });
    let remote = SocketAddrV4::new(KERNEL_ADDR, 8081);
    let stream = TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let received = std::thread::scope(|scope| {
        scope.spawn(|| {
            (&stream).write_all(&upload).unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
        });
        read_all(&stream, Duration::from_secs(60)).unwrap()
    });
    assert_eq!(received.len(), TEN_MB);
    assert_eq!(sha256(&received), down_sha, "kernel -> engine corrupted");
    assert_eq!(kernel.join().unwrap(), up_sha, "engine -> kernel corrupted");
    eprintln!("stats: {:?}", lab.stack().stats());
}
