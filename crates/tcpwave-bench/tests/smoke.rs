//! A smoke run of the whole harness with tiny counts (`tcpwave-bench run --quick`): every case
//! runs in its child process and the table prints. Nothing here is timed or compared: the
//! figures of a smoke run mean nothing.

use std::process::Command;

#[test]
fn quick_run_prints_the_whole_table() {
    let output = Command::new(env!("CARGO_BIN_EXE_tcpwave-bench"))
        .args(["run", "--quick"])
        .output()
        .expect("run tcpwave-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for heading in [
        "1-2. Lifecycles per second",
        "TW 1 s |",
        "3. TIME_WAIT memory",
        "4. Idle established connection",
        "5. Bulk throughput",
        "6. Timers",
        "Targets (issue 7):",
    ] {
        assert!(
            stdout.contains(heading),
            "missing {heading:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("not run: tcpwave"), "{stdout}");
}

#[test]
fn tcpwave_lifecycles_leave_one_time_wait_entry_each() {
    let mut pair = tcpwave_bench::tw::Pair::new(tcpwave_bench::tw::bench_config());
    pair.lifecycles(50);
    assert_eq!(pair.client.time_wait_count(), 50);
    assert_eq!(pair.client.connection_count(), 0);
    assert_eq!(pair.server.connection_count(), 0);
}

#[test]
fn smoltcp_lifecycles_complete() {
    let mut net = tcpwave_bench::sm::Net::new(tcpwave_bench::sm::Lo::shipped());
    net.park(3, 0);
    net.lifecycles(50);
}

/// Bad arguments get a message that names the problem and the usage, and exit status 2:
/// no panic, no case started.
#[test]
fn bad_arguments_are_refused_with_the_reason() {
    for (args, reason) in [
        (
            &["lifecycle", "foo", "0"][..],
            "lifecycle: unknown engine \"foo\"",
        ),
        (
            &["idle-memory", "kernel", "5"],
            "idle-memory: unknown engine \"kernel\"",
        ),
        (
            &["bulk", "tcpwave", "20", "1000"],
            "MSS must be from 88 to 65495, not 20",
        ),
        (
            &["bulk", "smoltcp", "0", "1000"],
            "MSS must be from 88 to 65495, not 0",
        ),
        (
            &["bulk", "tcpwave", "1460", "x"],
            "BYTES must be a whole number, not \"x\"",
        ),
        (&["timers", "0"], "N must be from 1 to 10000000, not 0"),
        (
            &["time-wait-memory", "0"],
            "N must be from 1 to 50000000, not 0",
        ),
        (&["lifecycle", "tcpwave"], "missing M"),
        (
            &["callgrind-lifecycles", "kernel", "1"],
            "callgrind: unknown engine \"kernel\"",
        ),
        (&["frobnicate"], "unknown command \"frobnicate\""),
        // A mistyped flag must not start the full run.
        (&["run", "--bogus"], "unknown option \"--bogus\""),
        (&["--quik"], "unknown option \"--quik\""),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tcpwave-bench"))
            .args(args)
            .output()
            .expect("run tcpwave-bench");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("tcpwave-bench: {reason}")) && stderr.contains("usage:"),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed a result");
    }
}

#[test]
fn help_prints_the_usage_and_runs_nothing() {
    for flag in ["--help", "-h", "help"] {
        let output = Command::new(env!("CARGO_BIN_EXE_tcpwave-bench"))
            .arg(flag)
            .output()
            .expect("run tcpwave-bench");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{flag}: {stdout}");
        assert!(
            stdout.starts_with("usage: tcpwave-bench"),
            "{flag}: {stdout}"
        );
        assert!(output.stderr.is_empty(), "{flag} started something");
    }
}
