//! `tcpwave plan`: numbers, remedies, JSON, exit statuses and input errors.

use std::process::{Command, Output};
use tcpwave_doctor::plan::{compute, PlanInput};

const TCPWAVE: &str = env!("CARGO_BIN_EXE_tcpwave");

fn plan(args: &[&str]) -> Output {
    Command::new(TCPWAVE)
        .arg("plan")
        .args(args)
        .output()
        .expect("run tcpwave plan")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn six_hundred_per_second_exhausts_one_pool() {
    let output = plan(&["--rate", "600"]);
    assert_eq!(output.status.code(), Some(1), "not sustainable");
    let text = stdout(&output);
    for expected in [
        "36000 of 28232 (127.5 %), headroom -7768",
        "470.5 new connections/s per pool",
        "NOT SUSTAINABLE",
        "after 47.1 s",
        "TIME_WAIT entries     28232 (7.2 MB) on the client",
        "conntrack entries     28232",
        "1. [keep-alive]",
        "5. [so-linger-zero]",
        "LAST RESORT",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn a_sustainable_plan_exits_zero() {
    let output = plan(&[
        "--rate",
        "100",
        "--lifetime",
        "0.5",
        "--port-range",
        "1024-65535",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("sustainable ("));
}

#[test]
fn json_matches_the_library_computation() {
    let args = [
        "--rate",
        "5000",
        "--lifetime",
        "2",
        "--sources",
        "2",
        "--destinations",
        "3",
        "--requests-per-conn",
        "4",
        "--tw-reuse",
        "--closer",
        "client",
        "--json",
    ];
    let output = plan(&args);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let expected = compute(&PlanInput {
        rate_per_s: 5000.0,
        lifetime_s: 2.0,
        sources: 2,
        destinations: 3,
        requests_per_conn: 4,
        tw_reuse: true,
        ..PlanInput::default()
    })
    .unwrap();
    // Byte for byte what the library computes (floats compared as printed).
    assert_eq!(
        stdout(&output),
        serde_json::to_string_pretty(&expected).unwrap() + "\n"
    );
    assert_eq!(json["schema"], "tcpwave-plan/1");
    assert_eq!(json["pools"], 6);
    assert_eq!(
        json["port_hold_s"], 3.0,
        "lifetime 2 s + 1 s of TIME_WAIT with tw_reuse"
    );
    let code = if expected.sustainable { 0 } else { 1 };
    assert_eq!(output.status.code(), Some(code));
}

#[test]
fn bad_inputs_get_clear_errors_and_exit_two() {
    let cases: [(&[&str], &str); 15] = [
        (&["--rate", "0"], "--rate must be a positive number"),
        (&["--rate", "1e308"], "at most 1e9 (got 1e308)"),
        (&["--rate", "inf"], "--rate must be a positive number"),
        (&["--rate", "NaN"], "--rate must be a positive number"),
        (
            &["--rate", "10", "--time-wait", "1e300"],
            "--time-wait must be",
        ),
        (
            &["--rate", "600", "--port-range=-5-10"],
            "is not LOW-HIGH: write it like 32768-60999",
        ),
        (&["--rate", "-5"], "--rate must be a positive number"),
        (&["--rate", "10", "--port-range", "5000-4000"], "is empty"),
        (
            &["--rate", "10", "--port-range", "1024-70000"],
            "out of range: ports must be 1..=65535",
        ),
        (
            &["--rate", "10", "--port-range", "0-100"],
            "out of range: ports must be 1..=65535",
        ),
        (&["--rate", "10", "--port-range", "fast"], "is not LOW-HIGH"),
        (
            &["--rate", "10", "--sources", "0"],
            "--sources must be at least 1",
        ),
        (
            &["--rate", "10", "--lifetime", "-1"],
            "--lifetime must be zero or a positive",
        ),
        (&["--rate", "lots"], "invalid value 'lots'"),
        (&[], "--rate"),
    ];
    for (args, expected) in cases {
        let output = plan(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn tw_reuse_when_the_server_closes_first_is_called_useless_and_gets_no_remedies() {
    let output = plan(&["--rate", "600", "--closer", "server", "--tw-reuse"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.contains("tcp_tw_reuse=1 (no effect: the server closes first)"),
        "{text}"
    );
    assert!(text.contains("tcp_tw_reuse=1 has no effect here"), "{text}");
    let output = plan(&[
        "--rate",
        "600",
        "--closer",
        "server",
        "--tw-reuse",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["remedies"], serde_json::json!([]), "{json}");
    // Counts are JSON integers, not 14116.0.
    assert!(json["time_wait_entries"].is_u64(), "{json}");
    assert!(json["conntrack_entries"].is_u64(), "{json}");
    assert!(json["time_wait_memory_bytes"].is_u64(), "{json}");
}

#[test]
fn a_one_port_range_shows_its_small_rate() {
    let output = plan(&["--rate", "1", "--port-range", "5-5"]);
    let text = stdout(&output);
    assert!(
        text.contains("max sustainable       0.0167 requests/s"),
        "{text}"
    );
}
