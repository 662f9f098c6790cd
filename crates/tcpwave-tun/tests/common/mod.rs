//! Shared by the interop tests: a lab per test, kernel peers, SHA-256 helpers.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddrV4, TcpListener as KernelListener};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tcpwave_tun::{Lab, SegmentTrace, StackConfig, Trace, KERNEL_ADDR};

/// A fresh lab for one test, or `None` when the test cannot run (a loud SKIPPED line was
/// printed; under TCPWAVE_REQUIRE_PRIVILEGED=1 `privileged` panics instead).
pub fn lab(test_name: &str, cfg: StackConfig) -> Option<Lab> {
    if !tcpwave_netns::privileged(test_name) {
        return None;
    }
    let prefix: String = test_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect();
    Some(Lab::create(&format!("tw-{prefix}"), cfg).expect("create the TUN lab"))
}

pub fn default_cfg() -> StackConfig {
    StackConfig::new(tcpwave_tun::ENGINE_ADDR)
}

/// A kernel listener on 192.0.2.1:`port` inside the lab.
pub fn kernel_listener(lab: &Lab, port: u16) -> KernelListener {
    lab.in_kernel(move || KernelListener::bind(SocketAddrV4::new(KERNEL_ADDR, port)))
        .expect("enter the namespace")
        .expect("bind a kernel listener")
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `n` bytes from a seeded generator (different per seed, reproducible).
pub fn seeded_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Reads to EOF with an overall time limit.
pub fn read_all(mut r: impl Read, limit: Duration) -> io::Result<Vec<u8>> {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if started.elapsed() > limit {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("read_all: {} bytes after {limit:?}", out.len()),
            ));
        }
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub fn write_all(mut w: impl Write, data: &[u8]) -> io::Result<()> {
    w.write_all(data)
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// The segments a subscription (`Stack::subscribe(true)`) has seen so far, in order.
pub fn segments(rx: &std::sync::mpsc::Receiver<Trace>) -> Vec<SegmentTrace> {
    rx.try_iter()
        .filter_map(|t| match t {
            Trace::Segment(s) => Some(s),
            _ => None,
        })
        .collect()
}
