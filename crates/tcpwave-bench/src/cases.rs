//! One measurement each, run in a fresh process by `tcpwave-bench <case> ..`; each returns
//! a JSON object that the orchestrator (`report`) collects into the table.

use serde_json::{json, Value};
use tcpwave::Duration;

use crate::{kernel, measure_rate, rss_bytes, sm, tw};

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Seconds per timed round (rates are the median of `rounds` rounds).
    pub round_seconds: f64,
    pub rounds: usize,
    /// Tiny counts everywhere: a smoke run of the harness, not a measurement.
    pub quick: bool,
}

impl Budget {
    pub const FULL: Budget = Budget {
        round_seconds: 1.0,
        rounds: 3,
        quick: false,
    };
    pub const QUICK: Budget = Budget {
        round_seconds: 0.01,
        rounds: 1,
        quick: true,
    };
}

const NO_LIMIT: u64 = u64::MAX / 4;

/// Lifecycles per second for `engine` with `parked` idle established connections parked in
/// the same endpoint (tcpwave), interface (smoltcp) or host (kernel).
pub fn lifecycle(engine: &str, parked: u64, budget: Budget) -> Value {
    let setup = std::time::Instant::now();
    match engine {
        "tcpwave" | "tcpwave-checksums" | "tcpwave-tw1s" => {
            let cfg = tw::engine_config(engine).expect("a tcpwave engine");
            let mut pair = tw::Pair::new(cfg);
            pair.keep_parked_ids = false;
            pair.park(parked);
            let setup_seconds = setup.elapsed().as_secs_f64();
            // Warm up to steady state: 60 s of virtual time fills TIME_WAIT to 600,000 entries,
            // after which entries expire as fast as lifecycles create them.
            let warmup = if budget.quick { 100 } else { 600_000 };
            let rate = measure_rate(
                &mut |n| pair.lifecycles(n),
                warmup,
                1000.min(if budget.quick { 10 } else { 1000 }),
                budget.round_seconds,
                NO_LIMIT,
                budget.rounds,
            );
            json!({
                "engine": engine, "parked": parked, "rate": rate.median,
                "rate_min": rate.min, "rate_max": rate.max, "lifecycles": rate.operations,
                "seconds": rate.seconds, "setup_seconds": setup_seconds,
                "time_wait_entries": pair.client.time_wait_count(),
                "client_connections": pair.client.connection_count(),
                "server_connections": pair.server.connection_count(),
                "packets": pair.packets,
            })
        }
        "smoltcp" | "smoltcp-checksums" => {
            let device = sm::Lo::for_engine(engine, 65_535).expect("a smoltcp engine");
            let mut net = sm::Net::new(device);
            net.park(parked, 0);
            let setup_seconds = setup.elapsed().as_secs_f64();
            let (warmup, batch) = match (budget.quick, parked) {
                (true, _) => (10, 10),
                (false, 0) => (10_000, 1000),
                (false, m) if m < 10_000 => (100, 10),
                _ => (5, 1),
            };
            let rate = measure_rate(
                &mut |n| net.lifecycles(n),
                warmup,
                batch,
                budget.round_seconds,
                NO_LIMIT,
                budget.rounds,
            );
            json!({
                "engine": engine, "parked": parked, "rate": rate.median,
                "rate_min": rate.min, "rate_max": rate.max, "lifecycles": rate.operations,
                "seconds": rate.seconds, "setup_seconds": setup_seconds,
                "sockets": net.parked.len() * 2 + 2,
            })
        }
        "kernel" => {
            let exe = std::env::current_exe().expect("own executable");
            let park = kernel::Parked::open(&exe, parked).expect("park kernel connections");
            let server = kernel::Server::start().expect("start the loopback server");
            let setup_seconds = setup.elapsed().as_secs_f64();
            let (warmup, batch) = if budget.quick { (10, 10) } else { (500, 100) };
            let rate = measure_rate(
                &mut |n| server.lifecycles(n),
                warmup,
                batch,
                budget.round_seconds,
                NO_LIMIT,
                budget.rounds,
            );
            let parked_count = park.len();
            drop(server);
            drop(park);
            json!({
                "engine": engine, "parked": parked_count, "rate": rate.median,
                "rate_min": rate.min, "rate_max": rate.max, "lifecycles": rate.operations,
                "seconds": rate.seconds, "setup_seconds": setup_seconds,
            })
        }
        other => panic!(
            "unknown engine {other:?}: use tcpwave, tcpwave-checksums, smoltcp, smoltcp-checksums or kernel"
        ),
    }
}

/// The most entries `time_wait_memory` can hold at once: 50 s of 1 µs gaps (none expires
/// within the 60 s TIME_WAIT).
pub const TIME_WAIT_MEMORY_ENTRIES_MAX: u64 = 50_000_000;

/// Bytes per TIME_WAIT entry: resident memory delta over `entries` real lifecycles whose
/// client sides all stay in TIME_WAIT (1 µs of virtual time apart, so none expires).
pub fn time_wait_memory(entries: u64) -> Value {
    let mut pair = tw::Pair::new(tw::bench_config());
    pair.gap = Duration::from_micros(1);
    // At most ~10,000 entries per client address (127.1.0.0/16): Linux's port search, which
    // tcpwave follows, scans every port of one parity before the other, so a destination
    // with more than half its ephemeral range in TIME_WAIT costs O(range) per connect.
    pair.clients = (entries / 10_000).clamp(256, 65_536) as u32;
    assert!(
        entries <= TIME_WAIT_MEMORY_ENTRIES_MAX,
        "more entries than 50 s of 1 µs gaps: some would expire"
    );
    // The endpoints' fixed-size parts (port perturbation table, first arena chunk, queues).
    pair.lifecycles(1000);
    let base_entries = pair.client.time_wait_count() as u64;
    let before = rss_bytes();
    let start = std::time::Instant::now();
    pair.lifecycles(entries);
    let seconds = start.elapsed().as_secs_f64();
    let after = rss_bytes();
    let count = pair.client.time_wait_count() as u64 - base_entries;
    assert_eq!(count, entries, "every lifecycle left one TIME_WAIT entry");
    let total = pair.client.time_wait_count() as f64;
    json!({
        "entries": count, "rss_delta": after.saturating_sub(before),
        "rss_bytes_per_entry": after.saturating_sub(before) as f64 / count as f64,
        "table_bytes": pair.client.time_wait_memory_bytes(),
        "table_bytes_per_entry": pair.client.time_wait_memory_bytes() as f64 / total,
        "seconds": seconds,
    })
}

/// Bytes per idle established connection without data buffers: resident memory delta over
/// `count` parked connections (each one TCB in the client and one in the server), divided
/// by the number of TCBs.
pub fn idle_memory(engine: &str, count: u64) -> Value {
    match engine {
        "tcpwave" | "tcpwave-checksums" => {
            let cfg = tw::engine_config(engine).expect("a tcpwave engine");
            let mut pair = tw::Pair::new(cfg);
            pair.keep_parked_ids = false;
            pair.park(16);
            let before = rss_bytes();
            pair.park(count);
            let after = rss_bytes();
            let delta = after.saturating_sub(before);
            json!({
                "engine": engine, "connections": count, "tcbs": 2 * count, "rss_delta": delta,
                "bytes_per_tcb": delta as f64 / (2 * count) as f64,
            })
        }
        "smoltcp" | "smoltcp-checksums" => {
            let device = sm::Lo::for_engine(engine, 65_535).expect("a smoltcp engine");
            let mut net = sm::Net::new(device);
            net.park(16, 0);
            let before = rss_bytes();
            net.park(count, 0);
            let after = rss_bytes();
            let delta = after.saturating_sub(before);
            json!({
                "engine": engine, "connections": count, "tcbs": 2 * count, "rss_delta": delta,
                "bytes_per_tcb": delta as f64 / (2 * count) as f64,
                "socket_storage_bytes": sm::socket_storage_bytes(),
                "tcp_socket_bytes": sm::tcp_socket_bytes(),
            })
        }
        other => panic!("idle memory: unknown engine {other:?}: use tcpwave or smoltcp"),
    }
}

/// Socket buffers of both bulk-transfer peers.
pub const BULK_BUFFER_BYTES: u32 = 1 << 20;

/// One stream in process at `mss`: bytes per second.
pub fn bulk(engine: &str, mss: u16, total_bytes: u64) -> Value {
    let (bytes, seconds) = match engine {
        "tcpwave" | "tcpwave-checksums" => {
            let cfg = tw::engine_config(engine).expect("a tcpwave engine");
            let r = tw::bulk(cfg, mss, BULK_BUFFER_BYTES, total_bytes);
            (r.bytes, r.wall_seconds)
        }
        "smoltcp" | "smoltcp-checksums" => {
            let device =
                sm::Lo::for_engine(engine, usize::from(mss) + 40).expect("a smoltcp engine");
            let r = sm::bulk(device, BULK_BUFFER_BYTES as usize, total_bytes);
            (r.bytes, r.wall_seconds)
        }
        other => {
            panic!("bulk: unknown engine {other:?}: use tcpwave, tcpwave-checksums, smoltcp or smoltcp-checksums")
        }
    };
    json!({
        "engine": engine, "mss": mss, "bytes": bytes, "seconds": seconds,
        "bytes_per_second": bytes as f64 / seconds,
    })
}

/// Wall time to drive two hours of virtual time over `connections` keepalive-armed
/// connections.
pub fn timers(connections: u64) -> Value {
    let setup = std::time::Instant::now();
    let pair_result = tw::keepalive_timers(connections);
    json!({
        "connections": pair_result.connections,
        "virtual_seconds": pair_result.virtual_seconds,
        "wall_seconds": pair_result.wall_seconds,
        "handle_timeout_calls": pair_result.handle_timeout_calls,
        "packets": pair_result.packets,
        "total_seconds": setup.elapsed().as_secs_f64(),
    })
}
