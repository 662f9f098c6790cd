//! `--seed N` decides each host's secret (ISNs, timestamp offsets, ephemeral ports) and the
//! links' random choices: another seed changes the numbers, never what happens, and the
//! same seed reproduces the run byte for byte.

mod support;

use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_sim::sim::host_secret;
use tcpwave_trace::{Body, Trace};

fn run_seed(name: &str, seed: u64) -> Trace {
    let opts = RunOptions {
        seed,
        settings: Vec::new(),
    };
    scenarios::run(name, &opts).unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"))
}

/// What happened, without the numbers a seed chooses: times, hosts, flags, relative
/// sequence numbers, lengths, state changes.
fn shape(t: &Trace) -> Vec<String> {
    t.events
        .iter()
        .filter_map(|e| {
            let what = match &e.body {
                Body::Send(s) | Body::Recv(s) | Body::Drop(s) => format!(
                    "{} {} {} {} {}",
                    s.flags, s.rel_seq, s.rel_ack, s.len, s.win
                ),
                Body::State(s) => format!("{}>{} ({})", s.from, s.to, s.reason),
                Body::App(_) | Body::Timer(_) => return None,
            };
            Some(format!("{} {} {what}", e.t_us, e.host))
        })
        .collect()
}

/// Absolute ISNs and local ports of every SYN sent.
fn syns(t: &Trace) -> Vec<(u32, String)> {
    t.sent()
        .filter(|(_, s)| s.flags.contains('S'))
        .map(|(_, s)| (s.seq, s.src.clone()))
        .collect()
}

#[test]
fn hosts_get_different_secrets_per_seed_and_per_name() {
    assert_eq!(host_secret(1, "client"), host_secret(1, "client"));
    assert_ne!(host_secret(1, "client"), host_secret(2, "client"));
    assert_ne!(host_secret(1, "client"), host_secret(1, "server"));
    assert_ne!(
        host_secret(1, "client"),
        tcpwave::Config::default().isn_secret
    );
}

#[test]
fn the_seed_changes_isns_and_ports_and_the_same_seed_reproduces_the_run() {
    let a = run_seed("four-way-close", 1);
    let again = run_seed("four-way-close", 1);
    let b = run_seed("four-way-close", 99);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
    let (syn_a, syn_b) = (syns(&a), syns(&b));
    assert_eq!(syn_a.len(), 2);
    assert_ne!(syn_a[0].0, syn_b[0].0, "client ISN");
    assert_ne!(syn_a[1].0, syn_b[1].0, "server ISN");
    assert_ne!(syn_a[0].1, syn_b[0].1, "client's ephemeral port");
    assert_eq!(shape(&a), shape(&b));
    let terminal = |t: &Trace, absolute| {
        let view = tcpwave_trace::terminal::TerminalOptions {
            color: false,
            absolute,
            options: false,
        };
        tcpwave_trace::terminal::render(t, &view)
    };
    assert_ne!(terminal(&a, true), terminal(&b, true), "--absolute differs");
    assert_eq!(terminal(&a, true), terminal(&again, true));
}

#[test]
fn every_scenario_does_the_same_under_another_seed() {
    // The large runs are covered by their own tests under TCPWAVE_TEST_SEED.
    let heavy = [
        "port-exhaustion",
        "load-balancer-time-wait",
        "http-keep-alive",
    ];
    for info in scenarios::list() {
        if heavy.contains(&info.name) {
            continue;
        }
        let a = run_seed(info.name, 1);
        let b = run_seed(info.name, 7);
        assert_eq!(shape(&a), shape(&b), "{}", info.name);
        assert_eq!(a.outcome.counters, b.outcome.counters, "{}", info.name);
        let isns = |t: &Trace| syns(t).into_iter().map(|(seq, _)| seq).collect::<Vec<_>>();
        if !isns(&a).is_empty() {
            assert_ne!(
                isns(&a),
                isns(&b),
                "{}: the seed reaches the ISNs",
                info.name
            );
        }
    }
}
