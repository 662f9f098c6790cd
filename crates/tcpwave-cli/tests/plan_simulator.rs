//! `tcpwave plan` against the simulator: the TIME_WAIT entries plan predicts are the ones
//! a simulated Linux client and server hold, capped by the tuples of the pool.
//! (The EADDRNOTAVAIL onset is compared in tcpwave-sim's tests/scenarios_capacity.rs.)

use tcpwave_doctor::plan::{self, Closer, PlanInput};
use tcpwave_sim::scenarios::capacity::{exhaustion_run, ExhaustionParams, LoadParams};
use tcpwave_sim::scenarios::RunOptions;

/// One simulated connection, SYN to the closer's TIME_WAIT: 3 round trips of 20 ms.
const LIFETIME_S: f64 = 0.06;
/// When the simulator's TIME_WAIT table is read: a TIME_WAIT length past the pool filling.
const MEASURE_AT_S: u64 = 70;

/// (client, server) TIME_WAIT entries at 70 s for `rate` connections per second over the
/// default range, one source, one destination.
fn simulated_time_wait(rate: f64, tw_reuse: bool, server_closes_first: bool) -> (f64, f64) {
    let mut settings = Vec::new();
    if tw_reuse {
        settings.push(("tcp_tw_reuse".to_string(), "1".to_string()));
    }
    let params = ExhaustionParams {
        load: LoadParams {
            rate_per_s: rate,
            warmup_s: 0.2,
            until_s: MEASURE_AT_S as f64,
            requests_per_conn: 1,
            server_closes_first,
        },
        sources: 1,
        settings,
        run_s: MEASURE_AT_S,
        check_invariants: false,
    };
    let options = RunOptions {
        seed: 1,
        settings: Vec::new(),
    };
    let (_, report) = exhaustion_run(&options, &params, false).expect("simulator run");
    let &(second, client, server) = report.time_wait.last().expect("TIME_WAIT samples");
    assert_eq!(second, MEASURE_AT_S);
    (client as f64, server as f64)
}

fn planned_time_wait(rate: f64, tw_reuse: bool, closer: Closer) -> f64 {
    plan::compute(&PlanInput {
        rate_per_s: rate,
        lifetime_s: LIFETIME_S,
        tw_reuse,
        closer,
        ..PlanInput::default()
    })
    .expect("valid plan input")
    .time_wait_entries as f64
}

#[test]
fn an_exhausted_pool_holds_one_time_wait_entry_per_port() {
    // 500/s × 60 s would be 30000: the client holds at most its 28232 ports.
    let planned = planned_time_wait(500.0, false, Closer::Client);
    assert!((planned - 28232.0 * 60.0 / 60.06).abs() < 1.0, "{planned}");
    let (client, server) = simulated_time_wait(500.0, false, false);
    eprintln!("client closes: plan {planned:.0}, simulator {client}");
    assert_eq!(server, 0.0);
    assert!(client <= 28232.0);
    assert!((client - planned).abs() / planned < 0.01, "{client}");
}

#[test]
fn tuples_taken_over_in_time_wait_bound_the_entries() {
    // tcp_tw_reuse on the client, or the server closing first: connect() keeps to the
    // low-parity half of the range (14116 ports) and a new connection replaces the old
    // tuple's TIME_WAIT. Plan gives the bound; the simulator's random port step leaves a
    // few of the half unused within 60 s.
    for (tw_reuse, closer) in [(true, Closer::Client), (false, Closer::Server)] {
        let planned = planned_time_wait(500.0, tw_reuse, closer);
        // Less the 30 tuples of connections open at any moment (500/s × 60 ms).
        assert!((planned - (14116.0 - 30.0)).abs() < 1e-6, "{planned}");
        let (client, server) = simulated_time_wait(500.0, tw_reuse, closer == Closer::Server);
        let observed = if closer == Closer::Server {
            server
        } else {
            client
        };
        eprintln!("{closer:?} closes, tw_reuse {tw_reuse}: plan {planned}, simulator {observed}");
        assert!(observed <= planned, "{observed}");
        assert!(observed >= 0.85 * planned, "{observed}");
    }
}
