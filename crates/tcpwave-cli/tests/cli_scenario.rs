//! `tcpwave scenario` as a user runs it.

use std::process::Command;

fn tcpwave(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpwave"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn four_way_close_json_has_the_state_paths_and_sixty_seconds_of_time_wait() {
    let (code, out, err) = tcpwave(&["scenario", "four-way-close", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["scenario"], "four-way-close");
    assert_eq!(v["seed"], 1);
    let events = v["events"].as_array().unwrap();
    let states = |host: &str| -> Vec<(String, u64)> {
        events
            .iter()
            .filter(|e| e["kind"] == "state" && e["host"] == host)
            .map(|e| {
                (
                    e["to"].as_str().unwrap().to_string(),
                    e["t_us"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let client = states("client");
    let names: Vec<&str> = client.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "SYN_SENT",
            "ESTABLISHED",
            "FIN_WAIT_1",
            "FIN_WAIT_2",
            "TIME_WAIT",
            "CLOSED"
        ]
    );
    assert_eq!(client[5].1 - client[4].1, 60_000_000);
    let server: Vec<String> = states("server").into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        server,
        [
            "SYN_RECEIVED",
            "ESTABLISHED",
            "CLOSE_WAIT",
            "LAST_ACK",
            "CLOSED"
        ]
    );
    let fin = events
        .iter()
        .find(|e| e["kind"] == "send" && e["flags"] == "FA")
        .unwrap();
    for key in [
        "t_us", "host", "seq", "ack", "rel_seq", "rel_ack", "len", "win", "src", "dst",
    ] {
        assert!(!fin[key].is_null(), "segment events carry {key}");
    }
    assert_eq!(
        fin["src"],
        format!(
            "192.0.2.1:{}",
            fin["src"].as_str().unwrap().split(':').nth(1).unwrap()
        )
    );
}

#[test]
fn the_diagram_shows_both_columns_and_the_final_states() {
    let (code, out, _) = tcpwave(&["scenario", "four-way-close"]);
    assert_eq!(code, 0);
    assert!(out.contains("client 192.0.2.1") && out.contains("server 192.0.2.2"));
    assert!(out.contains("FIN+ACK seq=19 ack=26"), "{out}");
    assert!(out.contains("[FIN_WAIT_2 → TIME_WAIT]"));
    assert!(out.contains("Final states"));
    assert!(!out.contains("\x1b["), "no colour when piped");
    let (_, abs, _) = tcpwave(&["scenario", "four-way-close", "--absolute"]);
    assert!(
        !abs.contains("FIN+ACK seq=19 ack=26"),
        "absolute numbers differ from relative ones"
    );
}

#[test]
fn list_names_every_scenario() {
    let (code, out, _) = tcpwave(&["scenario", "--list"]);
    assert_eq!(code, 0);
    for name in [
        "three-way-handshake",
        "four-way-close",
        "half-close",
        "simultaneous-close",
        "simultaneous-open",
        "lost-final-ack",
        "time-wait-old-duplicate",
        "no-time-wait-reconnect",
        "close-wait-leak",
        "fin-wait-2-timeout",
        "peer-process-killed",
        "port-closed",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing from --list"
        );
    }
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_status_2() {
    let (code, _, err) = tcpwave(&["scenario", "four-way-close", "--set", "tcp_tw_recycle=1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown knob `tcp_tw_recycle`") && err.contains("msl_ms"),
        "{err}"
    );
    let (code, _, err) = tcpwave(&["scenario", "four-way-close", "--set", "msl_ms=soon"]);
    assert_eq!(code, 2);
    assert!(err.contains("bad value `soon`"), "{err}");
    let (code, _, err) = tcpwave(&["scenario", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown scenario `nope`") && err.contains("--list"),
        "{err}"
    );
    // An empty name says so and lists the scenarios; a near miss gets a suggestion.
    let (code, _, err) = tcpwave(&["scenario", ""]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the scenario name is empty")
            && err.contains("four-way-close")
            && err.contains("--list"),
        "{err}"
    );
    let (code, _, err) = tcpwave(&["scenario", "four-way-clos"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `four-way-close`?"), "{err}");
    let (code, _, err) = tcpwave(&["scenario", "close-wiat-leak"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `close-wait-leak`?"), "{err}");
    assert!(!tcpwave(&["scenario", "nope"]).2.contains("did you mean"));
    let (code, _, err) = tcpwave(&["scenario"]);
    assert_eq!(code, 2);
    assert!(err.contains("--list"), "{err}");
    let (code, _, _) = tcpwave(&["scenario", "four-way-close", "--seed", "x"]);
    assert_eq!(code, 2, "clap rejects a bad number");
}

#[test]
fn set_changes_the_run() {
    let (code, out, err) = tcpwave(&["scenario", "four-way-close", "--set", "msl_ms=0", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let skipped = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "state" && e["reason"] == "no TIME_WAIT");
    assert!(skipped);
}

#[test]
fn the_seed_changes_absolute_numbers_and_the_same_seed_reproduces_them() {
    let run = |seed: &str| tcpwave(&["scenario", "four-way-close", "--absolute", "--seed", seed]);
    let (code, one, err) = run("1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(run("1").1, one, "same seed, same bytes");
    let (_, other, _) = run("99");
    assert_ne!(one, other, "--seed 99 changes ISNs and ports");
    let json = |seed: &str| -> serde_json::Value {
        let (_, out, _) = tcpwave(&["scenario", "four-way-close", "--json", "--seed", seed]);
        serde_json::from_str(&out).unwrap()
    };
    let (a, b) = (json("1"), json("99"));
    let final_conn = |v: &serde_json::Value| v["outcome"]["final_states"][0]["conn"].clone();
    assert_ne!(
        final_conn(&a),
        final_conn(&b),
        "the client's ephemeral port"
    );
}

#[test]
fn list_json_is_json_with_name_and_description() {
    let (code, out, err) = tcpwave(&["scenario", "--list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 26);
    assert_eq!(list[1]["name"], "four-way-close");
    assert!(list[1]["description"]
        .as_str()
        .unwrap()
        .contains("TIME_WAIT"));
}

#[test]
fn pcap_at_without_pcap_is_an_error() {
    let (code, _, err) = tcpwave(&["scenario", "four-way-close", "--pcap-at", "client"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--pcap-at needs --pcap FILE"), "{err}");
}

#[test]
fn names_are_case_insensitive_and_a_prefix_gets_a_suggestion() {
    let (code, out, err) = tcpwave(&["scenario", "Four-Way-CLOSE"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("four-way-close"), "{out}");
    let (code, _, err) = tcpwave(&["scenario", "four-way"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `four-way-close`"), "{err}");
    let (_, _, err) = tcpwave(&["scenario", "keepalive"]);
    assert!(
        err.contains("`keepalive-dead-peer`, `keepalive-alive-peer`"),
        "{err}"
    );
    let (_, _, err) = tcpwave(&["scenario", "four_way_close"]);
    assert!(err.contains("did you mean `four-way-close`"), "{err}");
}

#[test]
fn set_errors_say_what_is_wrong() {
    let (code, _, err) = tcpwave(&["scenario", "four-way-close", "--set", "msl_ms"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected KNOB=VALUE"), "{err}");
    assert!(!err.contains("bad value ``"), "{err}");
    let (_, _, err) = tcpwave(&["scenario", "four-way-close", "--set", "tcp_tw_recycle=1"]);
    assert!(err.contains("unknown knob `tcp_tw_recycle`"), "{err}");
    assert!(
        err.contains("isn_clock"),
        "every accepted knob is listed: {err}"
    );
    let (code, _, err) = tcpwave(&[
        "scenario",
        "four-way-close",
        "--set",
        "msl_ms=1000",
        "--set",
        "time_wait_s=10",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("give only one"), "{err}");
    // isn_clock is accepted, as listed.
    let (code, _, err) = tcpwave(&["scenario", "four-way-close", "--set", "isn_clock=0"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn settings_are_shown_and_recorded_in_the_json() {
    let (code, out, err) = tcpwave(&["scenario", "four-way-close", "--set", "msl_ms=0"]);
    assert_eq!(code, 0, "{err}");
    let second = out.lines().nth(1).unwrap();
    assert!(second.contains("settings: --set msl_ms=0"), "{out}");
    let (_, out, _) = tcpwave(&["scenario", "four-way-close", "--set", " msl_ms=0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["settings"], serde_json::json!(["msl_ms=0"]));
    let (_, out, _) = tcpwave(&["scenario", "four-way-close", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["settings"], serde_json::json!([]));
}

#[test]
fn app_saw_names_host_and_connection_apart() {
    let (_, out, _) = tcpwave(&["scenario", "abortive-close", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let saw = v["outcome"]["app_saw"].as_array().unwrap();
    let reset = saw
        .iter()
        .find(|n| n["text"].as_str().unwrap().contains("ECONNRESET"))
        .unwrap();
    assert_eq!(reset["host"], "server");
    let conn = reset["conn"].as_str().unwrap();
    assert!(conn.starts_with("192.0.2.2:80->192.0.2.1:"), "{conn}");
    let (_, out, _) = tcpwave(&["scenario", "time-wait-old-duplicate", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let failed = v["outcome"]["app_saw"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["text"].as_str().unwrap().contains("EADDRNOTAVAIL"))
        .unwrap()
        .clone();
    assert_eq!(failed["host"], "client");
    assert_eq!(failed["conn"], "192.0.2.1:40000->192.0.2.2:80");
}

#[test]
fn socket_options_read_as_setsockopt_calls_in_the_diagram() {
    let (_, out, _) = tcpwave(&["scenario", "keepalive-dead-peer"]);
    assert!(out.contains("setsockopt(TCP_KEEPIDLE, 60)"), "{out}");
    assert!(
        out.contains("setsockopt(TCP_USER_TIMEOUT, 100000 ms)"),
        "{out}"
    );
    assert!(!out.contains("KeepIdle("), "{out}");
    let (_, out, _) = tcpwave(&["scenario", "abortive-close"]);
    assert!(out.contains("setsockopt(SO_LINGER, {on, 0 s})"), "{out}");
    assert!(!out.contains("Linger(Some"), "{out}");
}

#[test]
fn listen_is_drawn_before_the_first_syn() {
    let (_, out, _) = tcpwave(&["scenario", "four-way-close"]);
    let listen = out.find("listen(:80").unwrap();
    let syn = out.find("SYN seq=").unwrap();
    assert!(listen < syn, "{out}");
}
