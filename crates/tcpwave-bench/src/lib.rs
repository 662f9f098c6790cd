//! Benchmarks of tcpwave against the peers a user would pick instead: smoltcp 0.14 (over its
//! `Loopback` device, on a virtual clock) and the Linux kernel (real sockets on 127.0.0.1),
//! measured in the same run. `cargo run --profile perf -p tcpwave-bench` prints the table;
//! docs/benchmarks.md explains every row.
//!
//! Each measurement runs in a fresh child process (`tcpwave-bench <case> ..`), so resident
//! memory deltas are not polluted by an earlier case and a case can be rerun alone.

pub mod cases;
pub mod kernel;
pub mod report;
pub mod sm;
pub mod tw;

use std::time::Instant as WallInstant;

/// Resident set size of this process in bytes (`VmRSS` of /proc/self/status).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// A rate measured over several rounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rate {
    /// Median of the rounds' rates, per second.
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Operations timed, all rounds.
    pub operations: u64,
    /// Wall time of the timed rounds.
    pub seconds: f64,
}

/// Time `run(n)` (which performs `n` operations): a warm-up of `warmup` operations, then
/// `rounds` rounds of at least `round_seconds` each (or `round_max` operations, whichever
/// comes first), in batches of `batch`. Returns the median round rate.
pub fn measure_rate(
    run: &mut dyn FnMut(u64),
    warmup: u64,
    batch: u64,
    round_seconds: f64,
    round_max: u64,
    rounds: usize,
) -> Rate {
    assert!(batch > 0 && rounds > 0);
    run(warmup);
    let mut rates = Vec::with_capacity(rounds);
    let (mut operations, mut seconds) = (0u64, 0f64);
    for _ in 0..rounds {
        let start = WallInstant::now();
        let mut done = 0u64;
        loop {
            let n = batch.min(round_max - done);
            run(n);
            done += n;
            if done >= round_max || start.elapsed().as_secs_f64() >= round_seconds {
                break;
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        rates.push(done as f64 / elapsed);
        operations += done;
        seconds += elapsed;
    }
    rates.sort_by(f64::total_cmp);
    Rate {
        median: rates[rates.len() / 2],
        min: rates[0],
        max: rates[rates.len() - 1],
        operations,
        seconds,
    }
}
