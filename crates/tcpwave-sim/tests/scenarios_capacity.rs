//! Ports and TIME_WAIT at scale: port exhaustion (and `tcpwave plan` agreeing with it),
//! TIME_WAIT behind a load balancer.

mod support;
use support::*;
use tcpwave_doctor::plan::{self, Closer, PlanInput};
use tcpwave_sim::scenarios::capacity::{exhaustion_run, ExhaustionParams, LoadParams};
use tcpwave_sim::scenarios::RunOptions;
use tcpwave_trace::Trace;

const MS: u64 = 1_000;

fn fig(t: &Trace, name: &str) -> f64 {
    t.outcome
        .figures
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value)
        .unwrap_or_else(|| panic!("no figure {name:?}"))
}

fn opts() -> RunOptions {
    RunOptions {
        seed: 1,
        settings: Vec::new(),
    }
}

/// A connection per request at `rate` from `ports` ports (40000..), client closing first.
fn workload(rate: f64, ports: u16, run_s: u64) -> ExhaustionParams {
    ExhaustionParams {
        load: LoadParams {
            rate_per_s: rate,
            warmup_s: 0.2,
            until_s: run_s as f64,
            requests_per_conn: 1,
            server_closes_first: false,
        },
        sources: 1,
        settings: vec![(
            "ip_local_port_range".into(),
            format!("40000-{}", 40000 + ports - 1),
        )],
        run_s,
        check_invariants: false,
    }
}

/// One connection's life in the simulator, SYN to the client entering TIME_WAIT:
/// handshake, request/response and FIN exchange, 3 round trips of 20 ms.
const LIFETIME_S: f64 = 0.06;

fn plan_for(ports: u16, tw_reuse: bool) -> plan::PlanReport {
    plan::compute(&PlanInput {
        rate_per_s: 1.0,
        lifetime_s: LIFETIME_S,
        port_low: 40000,
        port_high: 40000 + ports - 1,
        tw_reuse,
        closer: Closer::Client,
        ..PlanInput::default()
    })
    .expect("valid plan input")
}

#[test]
fn a_small_port_range_runs_out_and_then_sustains_ports_over_time_wait() {
    // 1000 ports: the scenario scales its 500/s to 500 * 1000 / 28232 = 17.7/s.
    let t = run_with("port-exhaustion", &["ip_local_port_range=40000-40999"]);
    let rate = 500.0 * 1000.0 / 28232.0;
    assert_eq!(fig(&t, "ephemeral ports per destination"), 1000.0);
    assert!((fig(&t, "connection attempts per second") - rate).abs() < 1e-9);
    // The first request goes at 0 s, the rest from 0.2 s: the 1001st at 0.2 + 999 / rate.
    assert_eq!(fig(&t, "connections opened before it"), 1000.0);
    let first_failure = fig(&t, "first EADDRNOTAVAIL at");
    assert!(
        (first_failure - (0.2 + 999.0 / rate)).abs() < 0.001,
        "{first_failure}"
    );
    // The first connection entered TIME_WAIT at 60 ms: its port is free at 60.06 s.
    let freed = fig(&t, "first port freed by TIME_WAIT expiry at");
    assert!((60.06..60.06 + 1.0 / rate).contains(&freed), "{freed}");
    let sustained = fig(
        &t,
        "sustained connections per second with the pool full (over 60 s): EADDRNOTAVAIL onset",
    );
    let expected = 1000.0 / (60.0 + LIFETIME_S);
    assert!(
        (sustained - expected).abs() / expected < 0.02,
        "{sustained}"
    );
    // Connections that entered TIME_WAIT (60 ms after their connect) by 50 s: the first
    // and ticks 0..=880.
    assert_eq!(fig(&t, "client TIME_WAIT at 50s"), 882.0);
    assert!(fig(&t, "client TIME_WAIT at 60s") >= 999.0);
    // What the application saw, and the first connection drawn in full.
    let seen = saw(&t);
    assert!(
        seen.iter()
            .any(|s| s.contains("EADDRNOTAVAIL, the first, after 1000 connections")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|s| s.contains("a port came free")),
        "{seen:?}"
    );
    assert_eq!(
        sent(&t)[..6],
        [
            seg("client", "S", 0, 0, 0),
            seg("server", "SA", 0, 1, 0),
            seg("client", "A", 1, 1, 0),
            seg("client", "PA", 1, 1, 32),
            seg("server", "A", 1, 33, 0),
            seg("server", "PA", 1, 33, 65),
        ]
    );
    assert_eq!(
        path(&t, "client"),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>TIME_WAIT"
        ]
    );
    assert_eq!(times_of(&t, "client", "TIME_WAIT"), [60 * MS]);
}

#[test]
fn each_remedy_keeps_connect_working_at_the_same_rate() {
    let t = run_with("port-exhaustion", &["ip_local_port_range=40000-40999"]);
    assert!(fig(&t, "EADDRNOTAVAIL failures") > 0.0);
    for remedy in [
        "tcp_tw_reuse=1",
        "two source addresses",
        "keep-alive pool (100 requests per connection)",
        "server closes first",
    ] {
        assert_eq!(
            fig(&t, &format!("{remedy}: EADDRNOTAVAIL failures")),
            0.0,
            "{remedy}"
        );
    }
    assert!(fig(&t, "tcp_tw_reuse=1: TIME_WAIT tuples reused (TWRecycled)") > 100.0);
    assert!(counter(&t, "client [tcp_tw_reuse=1]", "TWRecycled") > 100);
    // Two sources: each holds half the TIME_WAIT entries (8.85/s * 60 s).
    assert!(
        (fig(
            &t,
            "two source addresses: client TIME_WAIT per source address at 70s"
        ) - 531.0)
            .abs()
            <= 2.0
    );
    // Keep-alive: 100 requests per connection, so 1/100 of the connections.
    let pooled = fig(
        &t,
        "keep-alive pool (100 requests per connection): new connections per second per source address",
    );
    assert!(pooled < 0.5, "{pooled}");
    // The server closing first moves TIME_WAIT to the server. The client's ports come
    // free at once and it cycles through them in seconds; a SYN reaching the server's
    // TIME_WAIT for a reused tuple opens a new connection (RFC 6191), so the server holds
    // at most one entry per client port in use (the even half first).
    assert_eq!(
        fig(
            &t,
            "server closes first: client TIME_WAIT per source address at 70s"
        ),
        0.0
    );
    let server_tw = fig(&t, "server closes first: server TIME_WAIT at 70s");
    assert!((300.0..=1000.0).contains(&server_tw), "{server_tw}");
}

#[test]
fn plan_predicts_the_onset_the_simulator_shows_within_5_percent() {
    // Same inputs both sides: 1000 ports, one source, one destination, the client
    // closing first, 60 s TIME_WAIT, 60 ms connection lifetime.
    let predicted = plan_for(1000, false)
        .eaddrnotavail_onset_rate_per_pool_per_s
        .unwrap();
    assert!((predicted - 1000.0 / 60.06).abs() < 1e-9);
    // Overloaded at 1.2x, the client gets exactly what TIME_WAIT releases.
    let (_, overload) =
        exhaustion_run(&opts(), &workload(predicted * 1.2, 1000, 125), false).unwrap();
    let observed = overload
        .sustained_rate_per_s
        .expect("the pool filled and freed");
    assert!(overload.stats.failures > 0);
    let error = (observed - predicted).abs() / predicted;
    eprintln!(
        "onset: plan {predicted:.3}/s, simulator {observed:.3}/s ({:.2} %)",
        error * 100.0
    );
    assert!(error < 0.05, "plan {predicted}, simulator {observed}");
    // And the onset is where plan says: 3 % below it never fails over three TIME_WAIT
    // lengths, 3 % above it fails.
    let (_, below) =
        exhaustion_run(&opts(), &workload(predicted * 0.97, 1000, 185), false).unwrap();
    assert_eq!(below.stats.failures, 0);
    let (_, above) =
        exhaustion_run(&opts(), &workload(predicted * 1.03, 1000, 185), false).unwrap();
    assert!(above.stats.failures > 0);
}

#[test]
fn plan_and_simulator_agree_with_tcp_tw_reuse() {
    // With tcp_tw_reuse=1 a port is held for the lifetime plus the 1 s reuse delay.
    let predicted = plan_for(200, true)
        .eaddrnotavail_onset_rate_per_pool_per_s
        .unwrap();
    assert!((predicted - 200.0 / 1.06).abs() < 1e-9);
    let mut params = workload(predicted * 1.2, 200, 64);
    params.settings.push(("tcp_tw_reuse".into(), "1".into()));
    let (_, report) = exhaustion_run(&opts(), &params, false).unwrap();
    let observed = report
        .sustained_rate_per_s
        .expect("the pool filled and freed");
    let error = (observed - predicted).abs() / predicted;
    eprintln!("onset with tw_reuse: plan {predicted:.2}/s, simulator {observed:.2}/s");
    assert!(error < 0.05, "plan {predicted}, simulator {observed}");
}

/// The default range: ~30k connections, measured (a release build takes about a
/// second; a debug build well under a minute).
#[test]
fn the_default_range_runs_out_after_28232_connections() {
    let params = ExhaustionParams {
        settings: Vec::new(),
        ..workload(500.0, 1, 62)
    };
    let wall = std::time::Instant::now();
    let (_, report) = exhaustion_run(&opts(), &params, false).unwrap();
    let elapsed = wall.elapsed();
    eprintln!(
        "28232-port run to 62 s: {elapsed:?} wall, {} connections",
        report.stats.opened
    );
    assert_eq!(report.ports_per_pool, 28232);
    let (at, opened) = report.stats.first_failure.unwrap();
    assert_eq!(opened, 28232);
    assert_eq!(
        at.total_micros(),
        200_000 + 28231 * 2_000,
        "the 28233rd connect()"
    );
    // The first port comes free at 60.06 s; the next connect() is at 60.062 s.
    assert_eq!(
        report.stats.first_reopen.unwrap().total_micros(),
        60_062_000
    );
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

#[test]
fn time_wait_lands_on_whoever_closes_first_behind_a_load_balancer() {
    let t = run("load-balancer-time-wait");
    let a = "balancer closes first";
    let b = "backend closes first";
    let c = "pooled keep-alive upstream";
    for v in [a, b, c] {
        assert!(
            fig(&t, &format!("{v}: requests answered")) >= 13_940.0,
            "{v}"
        );
        // Downstream the clients close first in every variant: 200/s * 60 s.
        assert_eq!(
            fig(&t, &format!("{v}: clients TIME_WAIT at 70s")),
            12_000.0,
            "{v}"
        );
    }
    // The balancer closes first: all upstream TIME_WAIT is the balancer's, and it holds
    // ports toward each backend (half the requests each).
    assert_eq!(
        fig(&t, &format!("{a}: balancer TIME_WAIT at 70s")),
        12_000.0
    );
    // Upstream TIME_WAIT begins 90 ms after the client's request: the first request and
    // ticks 0..=5942 by 30 s.
    assert_eq!(fig(&t, &format!("{a}: balancer TIME_WAIT at 30s")), 5_944.0);
    assert_eq!(fig(&t, &format!("{a}: backends TIME_WAIT at 70s")), 0.0);
    let used = fig(&t, &format!("{a}: balancer ports toward backend-1 in use"));
    assert!((6_000.0..6_020.0).contains(&used), "{used}");
    assert_eq!(
        fig(
            &t,
            &format!("{a}: request rate at which the balancer runs out of ports")
        ),
        941.0
    );
    // The backend closes first: TIME_WAIT moves to the backends, the balancer's ports
    // are free as soon as each exchange ends.
    assert_eq!(fig(&t, &format!("{b}: balancer TIME_WAIT at 70s")), 0.0);
    assert!(fig(&t, &format!("{b}: backends TIME_WAIT at 70s")) > 10_000.0);
    assert!(fig(&t, &format!("{b}: balancer ports toward backend-1 in use")) < 20.0);
    // A pool of keep-alive connections: a handful of upstream connections, no TIME_WAIT.
    assert!(fig(&t, &format!("{c}: upstream connections opened")) <= 10.0);
    assert_eq!(fig(&t, &format!("{c}: balancer TIME_WAIT at 70s")), 0.0);
    assert_eq!(fig(&t, &format!("{c}: backends TIME_WAIT at 70s")), 0.0);
    assert_eq!(
        fig(&t, &format!("{c}: balancer port headroom toward backend-1")),
        100.0
    );
    // The first request is drawn: the balancer's upstream connection ends in its TIME_WAIT.
    assert_eq!(
        path_of(&t, "lb", "192.0.2.21"),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>TIME_WAIT"
        ]
    );
    assert_eq!(
        path(&t, "backend-1"),
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>CLOSE_WAIT",
            "CLOSE_WAIT>LAST_ACK",
            "LAST_ACK>CLOSED"
        ]
    );
}

#[test]
fn tcp_max_tw_buckets_caps_time_wait_and_says_so() {
    // Over the cap a closing connection keeps no TIME_WAIT (Linux inet_twsk_alloc
    // refuses, TCPTimeWaitOverflow): the table stops at 300, the ports come free at once,
    // and connect() never runs out.
    let t = run_with(
        "port-exhaustion",
        &["ip_local_port_range=40000-40999", "tcp_max_tw_buckets=300"],
    );
    for second in [10, 30, 60, 120] {
        let tw = fig(&t, &format!("client TIME_WAIT at {second}s"));
        assert!(tw <= 300.0, "{second}s: {tw}");
    }
    assert_eq!(fig(&t, "client TIME_WAIT at 60s"), 300.0);
    assert_eq!(fig(&t, "EADDRNOTAVAIL failures"), 0.0);
    let overflow = counter(&t, "client", "TCPTimeWaitOverflow");
    let opens = counter(&t, "client", "ActiveOpens");
    let entered = counter(&t, "client", "TW");
    assert!(overflow > 1000, "{overflow}");
    // Every connection either entered TIME_WAIT (TW counts entries as they are made) or
    // overflowed, but the last one, which may still be open.
    assert!(
        (opens - 1..=opens).contains(&(overflow + entered)),
        "{opens} {overflow} {entered}"
    );
}

#[test]
fn endpoint_invariants_hold_through_exhaustion_and_every_remedy() {
    // Small enough to check every endpoint after every input, including the per
    // destination port counts connect() uses to skip full halves of the range.
    let base = ExhaustionParams {
        check_invariants: true,
        ..workload(100.0 / 60.06 * 1.3, 100, 130)
    };
    let mut variants = vec![base.clone()];
    let mut reuse = base.clone();
    reuse.settings.push(("tcp_tw_reuse".into(), "1".into()));
    variants.push(reuse);
    let mut two = base.clone();
    two.sources = 2;
    variants.push(two);
    let mut pooled = base.clone();
    pooled.load.requests_per_conn = 10;
    variants.push(pooled);
    let mut server_first = base.clone();
    server_first.load.server_closes_first = true;
    variants.push(server_first);
    let mut capped = base.clone();
    capped
        .settings
        .push(("tcp_max_tw_buckets".into(), "40".into()));
    variants.push(capped);
    for params in &variants {
        let (_, report) = exhaustion_run(&opts(), params, false).unwrap();
        // Every variant served requests; `exhaustion_run` panics on a broken invariant.
        assert!(report.stats.responses > 100, "{params:?}");
    }
}
