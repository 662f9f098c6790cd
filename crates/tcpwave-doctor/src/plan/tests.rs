use super::*;

fn input(rate: f64) -> PlanInput {
    PlanInput {
        rate_per_s: rate,
        ..PlanInput::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn default_pool_exhausts_at_about_470_per_second() {
    let report = compute(&input(100.0)).unwrap();
    assert_eq!(report.ports_per_pool, 28232);
    let onset = report.eaddrnotavail_onset_rate_per_pool_per_s.unwrap();
    assert!(close(onset, 28232.0 / 60.0), "{onset}");
    assert!((470.0..471.0).contains(&onset));
    assert!(report.sustainable);
    assert!(report.time_to_exhaustion_s.is_none());
    // R·(L+T) = 100 · 60
    assert!(close(report.ports_in_use_per_pool, 6000.0));
    assert!(close(report.headroom_per_pool, 28232.0 - 6000.0));
    // conntrack R·(L+120)
    assert!(close(report.conntrack_entries as f64, 12000.0));
    assert!(close(report.time_wait_entries as f64, 6000.0));
}

#[test]
fn six_hundred_per_second_runs_out_after_47_seconds() {
    let report = compute(&input(600.0)).unwrap();
    assert!(!report.sustainable);
    assert!(close(report.ports_in_use_per_pool, 36000.0));
    assert!(close(report.headroom_per_pool, 28232.0 - 36000.0));
    let exhaustion = report.time_to_exhaustion_s.unwrap();
    assert!(close(exhaustion, 28232.0 / 600.0), "{exhaustion}");
    assert!(close(
        report.max_request_rate_per_s.unwrap(),
        28232.0 / 60.0
    ));
    // The ranking is fixed and SO_LINGER 0 comes last with its warning.
    let codes: Vec<&str> = report.remedies.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [
            "keep-alive",
            "source-addresses",
            "port-range",
            "tw-reuse",
            "so-linger-zero"
        ]
    );
    assert!(report.remedies[4].caveat.starts_with("LAST RESORT"));
    assert!(
        report.remedies.iter().all(|r| r.sufficient),
        "{:?}",
        report.remedies
    );
    // Two requests per connection halve the connection rate: enough.
    assert!(report.remedies[0]
        .change
        .contains("2 requests per connection"));
    assert!(report.remedies[1].change.contains("2 source addresses"));
}

#[test]
fn lifetime_sources_destinations_and_keep_alive_scale_as_expected() {
    let plan = PlanInput {
        rate_per_s: 10_000.0,
        lifetime_s: 2.0,
        sources: 4,
        destinations: 5,
        requests_per_conn: 10,
        ..PlanInput::default()
    };
    let report = compute(&plan).unwrap();
    assert_eq!(report.pools, 20);
    assert!(close(report.connection_rate_per_s, 1000.0));
    assert!(close(report.connection_rate_per_pool_per_s, 50.0));
    assert!(close(report.port_hold_s, 62.0));
    assert!(close(report.ports_in_use_per_pool, 3100.0));
    let onset = report.eaddrnotavail_onset_rate_per_pool_per_s.unwrap();
    assert!(close(onset, 28232.0 / 62.0));
    assert!(close(
        report.max_request_rate_per_s.unwrap(),
        onset * 20.0 * 10.0
    ));
    assert!(close(report.conntrack_entries as f64, 1000.0 * 122.0));
}

#[test]
fn tw_reuse_and_server_close_shorten_the_port_hold() {
    let reuse = compute(&PlanInput {
        tw_reuse: true,
        ..input(600.0)
    })
    .unwrap();
    assert!(close(reuse.port_hold_s, 1.0));
    assert!(reuse.sustainable);
    let server = compute(&PlanInput {
        closer: Closer::Server,
        lifetime_s: 0.5,
        ..input(600.0)
    })
    .unwrap();
    assert!(close(server.port_hold_s, 0.5));
    assert_eq!(server.time_wait_holder, Closer::Server);
    assert!(server.notes.iter().any(|n| n.contains("RFC 6191")));
    assert!(server.remedies[3].caveat.contains("no effect"));
    // No lifetime and no client TIME_WAIT: nothing to exhaust.
    let instant = compute(&PlanInput {
        closer: Closer::Server,
        ..input(600.0)
    })
    .unwrap();
    assert!(instant.eaddrnotavail_onset_rate_per_pool_per_s.is_none());
    assert!(instant.sustainable);
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    for rate in [
        0.0,
        -5.0,
        f64::NAN,
        f64::INFINITY,
        1e308,
        RATE_MAX_PER_S * 1.5,
    ] {
        assert!(
            matches!(compute(&input(rate)), Err(PlanError::RateNotPositive(_))),
            "{rate}"
        );
    }
    let negative = compute(&PlanInput {
        lifetime_s: -1.0,
        ..input(1.0)
    });
    assert_eq!(
        negative,
        Err(PlanError::BadDuration {
            option: "--lifetime",
            value: -1.0
        })
    );
    let empty = compute(&PlanInput {
        port_low: 5000,
        port_high: 4000,
        ..input(1.0)
    });
    assert_eq!(
        empty,
        Err(PlanError::EmptyPortRange {
            low: 5000,
            high: 4000
        })
    );
    let zero = compute(&PlanInput {
        sources: 0,
        ..input(1.0)
    });
    assert_eq!(
        zero,
        Err(PlanError::ZeroCount {
            option: "--sources"
        })
    );
    let message = PlanError::EmptyPortRange {
        low: 5000,
        high: 4000,
    }
    .to_string();
    assert!(message.contains("32768-60999"), "{message}");
}

#[test]
fn port_ranges_parse() {
    assert_eq!(parse_port_range("32768-60999"), Ok((32768, 60999)));
    assert_eq!(parse_port_range("1024 65535"), Ok((1024, 65535)));
    assert_eq!(parse_port_range("80-80"), Ok((80, 80)));
    assert!(matches!(
        parse_port_range("60999-32768"),
        Err(PlanError::EmptyPortRange { .. })
    ));
    // Out of range is not "empty": the message says what ports are.
    for (text, low, high) in [
        ("0-10", 0, 10),
        ("1024-70000", 1024, 70000),
        ("0-100", 0, 100),
        ("70000-80000", 70000, 80000),
        ("5-99999999999999999999999", 5, u64::MAX),
    ] {
        let err = parse_port_range(text).unwrap_err();
        assert_eq!(err, PlanError::PortOutOfRange { low, high }, "{text}");
        let message = err.to_string();
        assert!(message.contains("ports must be 1..=65535"), "{message}");
        assert!(!message.contains("empty"), "{message}");
    }
    let message = parse_port_range("5000-4000").unwrap_err().to_string();
    assert!(
        message.contains("is empty: LOW must not exceed HIGH"),
        "{message}"
    );
    assert!(matches!(
        parse_port_range("abc"),
        Err(PlanError::PortRangeSyntax(_))
    ));
    assert!(matches!(
        parse_port_range("1-2-3"),
        Err(PlanError::PortRangeSyntax(_))
    ));
    // A sign, an empty side or stray separators is a mistake, not something to skip.
    for text in [
        "-5-10", "5-", "-10", "5--10", "5:-10", "+5-10", " ", "1 2 3", "5-1x",
    ] {
        assert!(
            matches!(parse_port_range(text), Err(PlanError::PortRangeSyntax(_))),
            "{text:?}"
        );
    }
    assert_eq!(parse_port_range(" 1024 : 65535 "), Ok((1024, 65535)));
    assert_eq!(parse_port_range("32768\t60999"), Ok((32768, 60999)));
}

#[test]
fn every_figure_is_finite_up_to_the_largest_inputs() {
    let report = compute(&PlanInput {
        rate_per_s: RATE_MAX_PER_S,
        lifetime_s: DURATION_MAX_S,
        time_wait_s: DURATION_MAX_S,
        ..PlanInput::default()
    })
    .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    for field in [
        "ports_in_use_per_pool",
        "usage_percent",
        "time_to_exhaustion_s",
    ] {
        assert!(json[field].as_f64().is_some_and(f64::is_finite), "{field}");
    }
    let message = compute(&input(1e308)).unwrap_err().to_string();
    assert!(message.contains("at most 1e9"), "{message}");
}

#[test]
fn render_and_json_carry_the_key_numbers() {
    let report = compute(&input(600.0)).unwrap();
    let text = render::render(&report);
    assert!(text.contains("470.5 new connections/s per pool"), "{text}");
    assert!(text.contains("NOT SUSTAINABLE"), "{text}");
    assert!(text.contains("so-linger-zero"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema"], "tcpwave-plan/1");
    assert_eq!(json["ports_per_pool"], 28232);
    assert_eq!(json["input"]["closer"], "client");
    assert!(
        json["eaddrnotavail_onset_rate_per_pool_per_s"]
            .as_f64()
            .unwrap()
            > 470.0
    );
}

#[test]
fn time_wait_and_conntrack_entries_never_exceed_the_tuples() {
    // 500/s × 60 s = 30000, but one pool has 28232 client ports: one tuple each, and the
    // connections beyond the onset fail and leave no entry.
    let report = compute(&input(500.0)).unwrap();
    assert!(close(report.time_wait_entries as f64, 28232.0));
    assert!(close(report.time_wait_memory_bytes as f64, 28232.0 * 256.0));
    assert!(close(report.conntrack_entries as f64, 28232.0));
    // tcp_tw_reuse at 10000/s: ports turn over every 1 s, the entries stay; connect()
    // keeps to the low-parity half of the range while it suffices.
    let reuse = compute(&PlanInput {
        rate_per_s: 10_000.0,
        tw_reuse: true,
        ..PlanInput::default()
    })
    .unwrap();
    assert!(close(reuse.ports_in_use_per_pool, 10_000.0));
    assert!(close(reuse.time_wait_entries as f64, 14116.0));
    assert!(close(reuse.conntrack_entries as f64, 14116.0));
    assert!(
        !reuse.notes.iter().any(|n| n.contains("tcp_max_tw_buckets")),
        "{:?}",
        reuse.notes
    );
    // Past the half, the whole range.
    let faster = compute(&PlanInput {
        rate_per_s: 20_000.0,
        tw_reuse: true,
        ..PlanInput::default()
    })
    .unwrap();
    assert!(close(faster.time_wait_entries as f64, 28232.0));
    // The server closing first: each of its entries is a client 4-tuple.
    let server = compute(&PlanInput {
        rate_per_s: 500.0,
        closer: Closer::Server,
        ..PlanInput::default()
    })
    .unwrap();
    assert!(close(server.time_wait_entries as f64, 14116.0));
    // Two pools hold twice as many; below the cap nothing changes.
    let two = compute(&PlanInput {
        rate_per_s: 1000.0,
        sources: 2,
        ..PlanInput::default()
    })
    .unwrap();
    assert!(close(two.time_wait_entries as f64, 2.0 * 28232.0));
    assert_eq!(compute(&input(100.0)).unwrap().time_wait_entries, 6000);
}

#[test]
fn remedies_are_listed_only_when_the_pool_runs_out_or_is_near_it() {
    // 400/s: 24000 of 28232 ports, 85 %: sustainable, nothing to change.
    let text = render::render(&compute(&input(400.0)).unwrap());
    assert!(text.contains("REMEDIES: none needed"), "{text}");
    assert!(!text.contains("[keep-alive]"), "{text}");
    // 450/s: 27000, 95.6 %: near exhaustion, as doctor's 90 % critical level says.
    let text = render::render(&compute(&input(450.0)).unwrap());
    assert!(text.contains("NEAR EXHAUSTION (95.6 %"), "{text}");
    assert!(text.contains("1. [keep-alive]"), "{text}");
}

#[test]
fn a_pool_that_cannot_run_out_gets_no_remedies() {
    // The server closing first with no lifetime: a client port is free at once. Advice
    // such as "spread over 1 source address" or "10 requests per connection" would change
    // nothing, so there is none, in the text and in the JSON.
    for tw_reuse in [false, true] {
        let server = compute(&PlanInput {
            closer: Closer::Server,
            tw_reuse,
            ..input(500.0)
        })
        .unwrap();
        assert!(server.max_request_rate_per_s.is_none());
        assert!(server.remedies.is_empty(), "{:?}", server.remedies);
        let text = render::render(&server);
        assert!(
            text.contains("REMEDIES: none: the ports cannot run out"),
            "{text}"
        );
        assert!(text.contains("no connection holds a port beyond an instant"));
        assert!(!text.contains("source address"), "{text}");
    }
}

#[test]
fn tw_reuse_with_the_server_closing_first_says_it_has_no_effect() {
    let plan = PlanInput {
        closer: Closer::Server,
        tw_reuse: true,
        lifetime_s: 2.0,
        ..input(20_000.0)
    };
    let report = compute(&plan).unwrap();
    let without = compute(&PlanInput {
        tw_reuse: false,
        ..plan.clone()
    })
    .unwrap();
    assert_eq!(
        report.max_request_rate_per_s,
        without.max_request_rate_per_s
    );
    let text = render::render(&report);
    assert!(
        text.contains("tcp_tw_reuse=1 (no effect: the server closes first)"),
        "{text}"
    );
    assert!(
        text.contains("tcp_tw_reuse=1 has no effect here: the server closes first"),
        "{text}"
    );
    assert!(report.notes.iter().any(|n| n == TW_REUSE_NO_EFFECT));
    // The client's own tcp_tw_reuse is not called useless.
    let client = compute(&PlanInput {
        closer: Closer::Client,
        ..plan
    })
    .unwrap();
    assert!(!render::render(&client).contains("no effect"));
    assert!(client.remedies[3].caveat.starts_with("already on"));
}

#[test]
fn a_one_port_range_has_a_small_rate_not_zero() {
    let report = compute(&PlanInput {
        port_low: 5,
        port_high: 5,
        ..input(1.0)
    })
    .unwrap();
    assert_eq!(report.ports_per_pool, 1);
    assert!(render::render(&report).contains("1 pool(s) of 1 port (5-5)"));
    // One port held 60 s: one new connection a minute.
    assert!(close(report.max_request_rate_per_s.unwrap(), 1.0 / 60.0));
    assert!(!report.sustainable);
    let text = render::render(&report);
    assert!(
        text.contains("max sustainable       0.0167 requests/s"),
        "{text}"
    );
    assert!(text.contains("0.0167 new connections/s per pool"), "{text}");
    assert!(!text.contains(" 0.0 "), "{text}");
}

#[test]
fn counts_are_whole_numbers_in_json() {
    let report = compute(&input(600.0)).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"time_wait_entries\":28232,"), "{json}");
    assert!(json.contains("\"conntrack_entries\":28232,"), "{json}");
    assert!(
        json.contains(&format!("\"time_wait_memory_bytes\":{},", 28232 * 256)),
        "{json}"
    );
    // A fractional expectation is rounded to whole entries: 1/7 per second × 60 s.
    let slow = compute(&input(1.0 / 7.0)).unwrap();
    assert_eq!(slow.time_wait_entries, 9, "60/7 = 8.57 entries");
}
