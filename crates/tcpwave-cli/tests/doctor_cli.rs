//! `tcpwave doctor` errors and the host run: every mistake a user can make ends with a
//! message that says what to do and exit status 2. No root needed.

use std::process::{Command, Output};

const TCPWAVE: &str = env!("CARGO_BIN_EXE_tcpwave");

fn doctor(args: &[&str]) -> Output {
    Command::new(TCPWAVE)
        .arg("doctor")
        .args(args)
        .output()
        .expect("run tcpwave doctor")
}

fn assert_usage_error(args: &[&str], expected: &[&str]) {
    let output = doctor(args);
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for text in expected {
        assert!(stderr.contains(text), "{args:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty(), "no report on error");
}

#[test]
fn a_missing_namespace_says_how_to_list_them() {
    assert_usage_error(
        &["--netns", "tcpwave-surely-missing"],
        &[
            "network namespace \"tcpwave-surely-missing\" not found",
            "ip netns list",
        ],
    );
    assert_usage_error(&["--netns", "../x"], &["invalid namespace name"]);
}

#[test]
fn bad_filters_and_watch_values_are_explained() {
    assert_usage_error(
        &["--state", "close-wiat"],
        &["invalid --state", "close-wait"],
    );
    assert_usage_error(&["--dst", "not-an-address"], &["invalid --dst", ":6379"]);
    assert_usage_error(&["--process", " "], &["invalid --process"]);
    // An empty --state would silently mean every state.
    assert_usage_error(&["--state", ""], &["invalid --state", "leave --state out"]);
    assert_usage_error(&["--state", " , "], &["invalid --state"]);
    // A process that is not running gives no report that looks healthy.
    assert_usage_error(
        &["--process", "4000000000"],
        &[
            "--process \"4000000000\"",
            "no process has pid 4000000000",
            "ps -p",
        ],
    );
    assert_usage_error(
        &["--process", "no-such-command-x"],
        &["no running command name contains \"no-such-command-x\""],
    );
    assert_usage_error(&["--watch", "0"], &["invalid --watch", "0.1 to 86400"]);
    assert_usage_error(&["--watch", "1", "--count", "0"], &["invalid --count"]);
    assert_usage_error(&["--watch", "1", "--duration", "-5"], &["--duration"]);
    assert_usage_error(&["--count", "3"], &["--watch"]);
    assert_usage_error(&["--top", "0"], &["--top"]);
    assert_usage_error(&["--source", "carrier-pigeon"], &["--source"]);
}

#[test]
fn a_running_process_is_accepted_by_pid_and_by_name() {
    let pid = std::process::id().to_string();
    let output = doctor(&["--process", &pid, "--source", "proc"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0) | Some(1)),
        "{stderr}"
    );
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    let output = doctor(&["--process", comm.trim(), "--source", "proc"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0) | Some(1)),
        "{stderr}"
    );
}

#[test]
fn the_host_report_is_valid_json_with_an_exit_status_that_matches() {
    let output = doctor(&["--json", "--top", "3"]);
    let code = output.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "{code:?} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["schema"], "tcpwave-doctor/1");
    assert_eq!(report["exit_code"].as_i64(), code.map(i64::from));
    for state in [
        "ESTABLISHED",
        "CLOSE_WAIT",
        "TIME_WAIT",
        "FIN_WAIT_2",
        "LISTEN",
    ] {
        assert!(report["totals"]["by_state"][state].is_u64(), "{state}");
    }
    for section in [
        "close_wait",
        "time_wait",
        "ports",
        "fin_wait_2",
        "listeners",
        "counters",
        "sockstat",
    ] {
        assert!(report[section].is_object(), "{section}");
    }
    let sysctls = report["sysctls"].as_array().unwrap();
    assert!(sysctls
        .iter()
        .any(|s| s["name"] == "net.ipv4.tcp_fin_timeout"
            && s["note"]
                .as_str()
                .unwrap()
                .contains("does not shorten TIME_WAIT")));
}

#[test]
fn text_report_and_help_state_the_exit_statuses() {
    let output = doctor(&["--state", "time-wait,close-wait"]);
    assert!(matches!(output.status.code(), Some(0) | Some(1)));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("tcpwave doctor:"), "{text}");
    assert!(
        text.contains("filters: state TIME_WAIT,CLOSE_WAIT"),
        "{text}"
    );
    assert!(text.contains("SYSCTL REVIEW"), "{text}");
    let help = doctor(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("0 healthy, 1 a finding at warning level or above, 2 error"),
        "{help}"
    );
}

#[test]
fn a_short_watch_ends_by_itself() {
    let output = doctor(&["--watch", "0.1", "--count", "2", "--json"]);
    assert!(matches!(output.status.code(), Some(0) | Some(1)));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (index, line) in lines.iter().enumerate() {
        let sample: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(sample["sample"], index as u64 + 1);
        assert_eq!(sample["samples_planned"], 2);
        assert_eq!(sample["report"]["schema"], "tcpwave-doctor/1");
    }
}
