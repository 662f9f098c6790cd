//! Interop 4: 5% loss on the TUN link (`tc netem`, or the runtime's seeded loss when the
//! kernel has no netem); 1 MB each way still arrives intact.

mod common;

use std::io::Write;
use std::net::{Shutdown, SocketAddrV4};
use std::time::Duration;

use common::*;
use tcpwave_tun::{Loss, TcpStream, KERNEL_ADDR};

const ONE_MB: usize = 1024 * 1024;
const LOSS_PERCENT: f64 = 5.0;
const SEED: u64 = 5;

#[test]
fn one_megabyte_each_way_survives_five_percent_loss() {
    let name = "one_megabyte_each_way_survives_five_percent_loss";
    if !tcpwave_netns::privileged(name) {
        return;
    }
    // Try netem first; without it, the runtime drops packets itself (seeded).
    let mut lab = lab(name, default_cfg()).unwrap();
    if !lab.netem_loss(LOSS_PERCENT).unwrap() {
        eprintln!("no netem in this kernel: seeded runtime loss {LOSS_PERCENT}% (seed {SEED})");
        drop(lab);
        let mut cfg = default_cfg();
        cfg.loss = Some(Loss::percent(LOSS_PERCENT, SEED));
        lab = common::lab(name, cfg).unwrap();
    }
    let listener = kernel_listener(&lab, 9100);
    let upload = seeded_bytes(ONE_MB, 11);
    let download = seeded_bytes(ONE_MB, 12);
    let (up_sha, down_sha) = (sha256(&upload), sha256(&download));
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let got = read_all(&s, Duration::from_secs(90)).unwrap();
        s.write_all(&download).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        sha256(&got)
    });
    let remote = SocketAddrV4::new(KERNEL_ADDR, 9100);
    let stream = TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(30)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    (&stream).write_all(&upload).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let received = read_all(&stream, Duration::from_secs(90)).unwrap();
    assert_eq!(
        kernel.join().unwrap(),
        up_sha,
        "engine -> kernel corrupted under loss"
    );
    assert_eq!(received.len(), ONE_MB);
    assert_eq!(
        sha256(&received),
        down_sha,
        "kernel -> engine corrupted under loss"
    );
    let stats = lab.stack().stats();
    let counters = lab.stack().counters();
    eprintln!(
        "stats {stats:?}; engine retransmitted {} segments",
        counters.RetransSegs
    );
    if lab.stack().stats().dropped_in + stats.dropped_out > 0 {
        assert!(counters.RetransSegs > 0, "losses but no retransmissions?");
    }
}
