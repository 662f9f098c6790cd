//! `serve`, `connect` and `live` arguments refused while they are parsed, before any TUN device is
//! created (these tests never get as far as a device: every run here has a bad value).

use std::process::Command;

const TCPWAVE: &str = env!("CARGO_BIN_EXE_tcpwave");

#[test]
fn loss_outside_zero_to_one_hundred_percent_is_refused_not_clamped() {
    let serve = [
        "serve",
        "--tun",
        "tcpwave-none",
        "--addr",
        "192.0.2.2",
        "--http",
    ];
    let connect = [
        "connect",
        "--tun",
        "tcpwave-none",
        "--addr",
        "192.0.2.2",
        "192.0.2.1:80",
    ];
    for base in [&serve[..], &connect[..]] {
        for (loss, expected) in [
            ("150", "from 0 to 100 (got 150)"),
            ("-1", "from 0 to 100 (got -1)"),
            ("NaN", "from 0 to 100 (got NaN)"),
            ("inf", "from 0 to 100 (got inf)"),
            ("lots", "give a percentage from 0 to 100"),
        ] {
            let output = Command::new(TCPWAVE)
                .args(base)
                .arg(format!("--loss={loss}"))
                .output()
                .expect("run tcpwave");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{loss}: {stderr}");
            assert!(stderr.contains("--loss"), "{loss}: {stderr}");
            assert!(stderr.contains(expected), "{loss}: {stderr}");
            assert!(output.stdout.is_empty(), "{loss}: nothing started");
        }
    }
}

#[test]
fn live_timings_and_counts_out_of_range_are_refused_not_clamped() {
    for (flag, value, expected) in [
        ("--watch-s", "NaN", "from 0 to 600 (got NaN)"),
        ("--watch-s", "-1", "from 0 to 600 (got -1)"),
        ("--watch-s", "1e9", "from 0 to 600 (got 1e9)"),
        ("--watch-s", "soon", "give a number of seconds"),
        ("--fin-timeout-s", "0", "1..=600"),
        ("--fin-timeout-s", "601", "1..=600"),
        ("--connections", "0", "1..=1000"),
    ] {
        let output = Command::new(TCPWAVE)
            .args(["live", "four-way-close"])
            .arg(format!("{flag}={value}"))
            .output()
            .expect("run tcpwave");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
        assert!(stderr.contains(expected), "{flag} {value}: {stderr}");
        assert!(output.stdout.is_empty(), "{flag} {value}: nothing started");
    }
}

#[test]
fn live_fin_timeout_given_twice_is_refused_before_anything_runs() {
    let output = Command::new(TCPWAVE)
        .args(["live", "four-way-close", "--fin-timeout-s", "3"])
        .args(["--set", "tcp_fin_timeout_s=2"])
        .output()
        .expect("run tcpwave");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--fin-timeout-s and --set tcp_fin_timeout_s=N set the same knob"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing started");
}

#[test]
fn segments_flags_are_spelled_alike_everywhere() {
    // Each command takes both spellings; the last one wins. `--help` shows them.
    for command in ["serve", "connect", "live"] {
        let output = Command::new(TCPWAVE)
            .args([command, "--help"])
            .output()
            .expect("run tcpwave");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("--segments"), "{command}: {help}");
        assert!(help.contains("--no-segments"), "{command}: {help}");
        assert!(help.contains("--set <KNOB=VALUE>"), "{command}: {help}");
    }
}
