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
