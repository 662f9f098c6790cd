//! Helpers to read a trace the way the articles' figures are read.
#![allow(dead_code)]

use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::{Body, Trace};

pub fn run(name: &str) -> Trace {
    run_with(name, &[])
}

/// The seed the scenario tests run with: 1, or `TCPWAVE_TEST_SEED` to check that every
/// assertion holds for another seed (`TCPWAVE_TEST_SEED=99 cargo test -p tcpwave-sim`).
pub fn test_seed() -> u64 {
    std::env::var("TCPWAVE_TEST_SEED")
        .ok()
        .map(|s| s.parse().expect("TCPWAVE_TEST_SEED is a number"))
        .unwrap_or(1)
}

pub fn run_with(name: &str, settings: &[&str]) -> Trace {
    let opts = RunOptions {
        seed: test_seed(),
        settings: settings.iter().map(|s| s.to_string()).collect(),
    };
    scenarios::run(name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (host, flags, rel_seq, rel_ack, len) of every segment sent, in order.
pub fn sent(trace: &Trace) -> Vec<(String, String, u32, u32, u32)> {
    trace
        .sent()
        .map(|(e, s)| (e.host.clone(), s.flags.clone(), s.rel_seq, s.rel_ack, s.len))
        .collect()
}

/// The same, only segments sent by or to `host` (as sender name match on either side).
pub fn sent_between(trace: &Trace, a: &str, b: &str) -> Vec<(String, String, u32, u32, u32)> {
    let addr = |name: &str| {
        trace
            .hosts
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.addr.clone())
            .unwrap()
    };
    let (aa, ba) = (addr(a), addr(b));
    trace
        .sent()
        .filter(|(_, s)| {
            let src = s.src.split(':').next().unwrap().to_string();
            let dst = s.dst.split(':').next().unwrap().to_string();
            (src == aa && dst == ba) || (src == ba && dst == aa)
        })
        .map(|(e, s)| (e.host.clone(), s.flags.clone(), s.rel_seq, s.rel_ack, s.len))
        .collect()
}

pub fn seg(
    host: &str,
    flags: &str,
    seq: u32,
    ack: u32,
    len: u32,
) -> (String, String, u32, u32, u32) {
    (host.to_string(), flags.to_string(), seq, ack, len)
}

/// The state path of one host as "FROM>TO" strings.
pub fn path(trace: &Trace, host: &str) -> Vec<String> {
    trace
        .state_path(host)
        .into_iter()
        .map(|(f, t)| format!("{f}>{t}"))
        .collect()
}

/// State changes of one host on one connection (by local port match in the conn name).
pub fn path_of(trace: &Trace, host: &str, conn_contains: &str) -> Vec<String> {
    trace
        .events
        .iter()
        .filter(|e| e.host == host)
        .filter_map(|e| match &e.body {
            Body::State(s) if s.conn.contains(conn_contains) => {
                Some(format!("{}>{}", s.from, s.to))
            }
            _ => None,
        })
        .collect()
}

/// Times (µs) at which `host` entered `to`.
pub fn times_of(trace: &Trace, host: &str, to: &str) -> Vec<u64> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::State(s) if e.host == host && s.to == to => Some(e.t_us),
            _ => None,
        })
        .collect()
}

/// Everything the applications saw, as "host: text".
pub fn saw(trace: &Trace) -> Vec<String> {
    trace
        .outcome
        .app_saw
        .iter()
        .map(|n| format!("{}: {} | {}", n.host, n.conn, n.text))
        .collect()
}

pub fn final_state(trace: &Trace, host: &str) -> Vec<String> {
    trace
        .outcome
        .final_states
        .iter()
        .filter(|f| f.host == host)
        .map(|f| f.state.clone())
        .collect()
}

pub fn drops(trace: &Trace) -> Vec<(String, String, u32, u32)> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Drop(s) => Some((e.host.clone(), s.flags.clone(), s.rel_seq, s.rel_ack)),
            _ => None,
        })
        .collect()
}

pub const SEC: u64 = 1_000_000;
pub const MS: u64 = 1_000;

/// A host's counter by its Linux name (0 when it never moved).
pub fn counter(t: &Trace, host: &str, name: &str) -> u64 {
    t.outcome
        .counters
        .iter()
        .find(|c| c.host == host)
        .and_then(|c| c.counters.iter().find(|(n, _)| n == name))
        .map_or(0, |(_, v)| *v)
}

/// Did `host`'s application see something containing `text`?
pub fn app_saw(t: &Trace, host: &str, text: &str) -> bool {
    saw(t)
        .iter()
        .any(|s| s.starts_with(&format!("{host}:")) && s.contains(text))
}
