//! `tcpwave doctor` against real kernel sockets in throwaway network namespaces: exact
//! counts, attribution, agreement with `ss`, `--watch` growth, non-root behaviour and exit
//! statuses. Needs root (tcpwave_netns::privileged decides: skip loudly, or fail in CI).

// The namespace helper and the socket lab are shared with tcpwave-doctor's tests. They are
// included by path so that this crate needs no extra dev-dependency.
#[path = "../../tcpwave-doctor/tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "../../tcpwave-netns/src/lib.rs"]
mod tcpwave_netns;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;
use support::{Lab, PEER_IP, SERVICE};

const TCPWAVE: &str = env!("CARGO_BIN_EXE_tcpwave");

/// Entry point of the fixture processes (see tcpwave-doctor/tests/support); a no-op otherwise.
#[test]
fn fixture_entry() {
    support::run_role_if_requested();
}

fn doctor(args: &[&str]) -> Output {
    Command::new(TCPWAVE)
        .arg("doctor")
        .args(args)
        .output()
        .expect("run tcpwave doctor")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn ss_name(doctor_state: &str) -> &'static str {
    match doctor_state {
        "ESTABLISHED" => "ESTAB",
        "SYN_SENT" => "SYN-SENT",
        "SYN_RECV" => "SYN-RECV",
        "FIN_WAIT_1" => "FIN-WAIT-1",
        "FIN_WAIT_2" => "FIN-WAIT-2",
        "TIME_WAIT" => "TIME-WAIT",
        "CLOSE" => "UNCONN",
        "CLOSE_WAIT" => "CLOSE-WAIT",
        "LAST_ACK" => "LAST-ACK",
        "LISTEN" => "LISTEN",
        "CLOSING" => "CLOSING",
        other => panic!("unknown state {other}"),
    }
}

#[test]
fn json_reports_exact_counts_and_owners_and_agrees_with_ss() {
    if !tcpwave_netns::privileged("json_reports_exact_counts_and_owners_and_agrees_with_ss") {
        return;
    }
    let mut lab = Lab::start();
    lab.add_close_wait(200);
    lab.add_time_wait(500);
    lab.add_established(3);
    let ns = lab.server_ns.name().to_string();

    let output = doctor(&["--netns", &ns, "--json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a 200-socket CLOSE_WAIT leak is a warning"
    );
    let report = json(&output);
    assert_eq!(report["schema"], "tcpwave-doctor/1");
    assert_eq!(report["netns"], ns.as_str());
    let states = &report["totals"]["by_state"];
    assert_eq!(states["CLOSE_WAIT"], 200);
    assert_eq!(states["TIME_WAIT"], 500);
    assert_eq!(states["ESTABLISHED"], 3);
    assert_eq!(states["LISTEN"], 1);
    let ss = lab.ss_counts();
    for (state, count) in states.as_object().unwrap() {
        let expected = ss.get(ss_name(state)).copied().unwrap_or(0);
        assert_eq!(
            count.as_u64(),
            Some(expected),
            "{state}: doctor vs ss -tan {ss:?}"
        );
    }

    let group = &report["close_wait"]["by_process"][0];
    assert_eq!(group["owner"]["kind"], "process");
    assert_eq!(group["owner"]["pid"], lab.server.pid);
    assert_eq!(group["count"], 200);
    assert_eq!(group["unread_data_bytes"], 1000);
    let remote = &report["close_wait"]["by_remote"][0];
    assert_eq!(
        (remote["local"].as_str(), remote["remote"].as_str()),
        (Some(SERVICE), Some(PEER_IP))
    );
    assert_eq!(remote["direction"], "inbound");
    assert_eq!(remote["count"], 200);
    let pool = &report["time_wait"]["outbound_pools"][0];
    assert_eq!(pool["destination"], "192.0.2.2:9090");
    assert_eq!(pool["count"], 500);
    assert_eq!(pool["headroom"], 28232 - 500);
    assert_eq!(report["findings"][0]["code"], "close-wait-leak");
    assert_eq!(report["exit_code"], 1);

    // The same namespace in text, and through filters.
    let text = doctor(&["--netns", &ns]);
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("held by pid {}", lab.server.pid)),
        "{text}"
    );
    assert!(
        text.contains("TIME_WAIT BY (SOURCE, DESTINATION)"),
        "{text}"
    );
    let filtered = json(&doctor(&[
        "--netns",
        &ns,
        "--json",
        "--state",
        "close-wait",
        "--dst",
        PEER_IP,
    ]));
    assert_eq!(filtered["totals"]["sockets"], 200);
    let pid = lab.server.pid.to_string();
    let by_pid = json(&doctor(&["--netns", &ns, "--json", "--process", &pid]));
    assert_eq!(
        by_pid["totals"]["by_state"]["TIME_WAIT"], 0,
        "TIME_WAIT has no owner"
    );
    assert_eq!(by_pid["totals"]["by_state"]["CLOSE_WAIT"], 200);
}

/// Runs `tcpwave doctor --watch`, calls `grow` once the first sample is out, and returns
/// every line printed (bounded by --count; a stuck run fails the test after 60 s).
fn watch_while_growing(
    ns: &str,
    extra: &[&str],
    grow: impl FnOnce(),
) -> (Vec<String>, Option<i32>) {
    let mut child = Command::new(TCPWAVE)
        .args(["doctor", "--netns", ns, "--watch", "0.5", "--count", "6"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the watch");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut seen = vec![lines
        .recv_timeout(Duration::from_secs(60))
        .expect("first sample")];
    grow();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) {
        seen.push(line);
    }
    let status = child.wait().expect("watch exits by itself");
    (seen, status.code())
}

#[test]
fn watch_reports_close_wait_growth_per_process_and_destination() {
    if !tcpwave_netns::privileged("watch_reports_close_wait_growth_per_process_and_destination") {
        return;
    }
    let mut lab = Lab::start();
    lab.add_close_wait(20);
    let ns = lab.server_ns.name().to_string();
    let (lines, status) = watch_while_growing(&ns, &["--json"], || lab.add_close_wait(30));
    assert_eq!(lines.len(), 6, "one JSON line per sample");
    assert_eq!(status, Some(1), "growing CLOSE_WAIT is a warning");
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["schema"], "tcpwave-doctor-watch/1");
    assert_eq!(last["by_state"]["CLOSE_WAIT"], 50);
    let growth = last["growth_since_start"].as_array().unwrap();
    let close_wait = growth
        .iter()
        .find(|g| g["state"] == "CLOSE_WAIT")
        .expect("CLOSE_WAIT growth");
    assert_eq!(close_wait["owner"]["pid"], lab.server.pid);
    assert_eq!(close_wait["remote"], PEER_IP);
    assert_eq!(close_wait["local"], SERVICE);
    assert_eq!(
        (close_wait["before"].as_u64(), close_wait["after"].as_u64()),
        (Some(20), Some(50))
    );
    let message = close_wait["message"].as_str().unwrap();
    let expected = format!(
        "CLOSE_WAIT from {PEER_IP} on {SERVICE} owned by pid {}",
        lab.server.pid
    );
    assert!(
        message.starts_with(&expected) && message.contains("grew by 30 in"),
        "{message}"
    );

    // Text mode says the same sentence.
    let (lines, status) = watch_while_growing(&ns, &[], || lab.add_close_wait(5));
    assert_eq!(status, Some(1));
    let text = lines.join("\n");
    assert!(text.contains("grew by 5 in"), "{text}");
    assert!(text.contains("watch ended after 6 samples"), "{text}");
}

#[test]
fn without_root_counts_are_reported_and_attribution_needs_root() {
    if !tcpwave_netns::privileged("without_root_counts_are_reported_and_attribution_needs_root") {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIPPED part of without_root...: setpriv (util-linux) is not installed");
        return;
    }
    let mut lab = Lab::start();
    lab.add_close_wait(60);
    // A copy that uid 65534 can execute wherever the build directory lives.
    let dir = std::env::temp_dir().join(format!("tcpwave-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("tcpwave");
    std::fs::copy(TCPWAVE, &binary).unwrap();
    let run = |args: &[&str]| {
        let mut full = vec![
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            binary.to_str().unwrap(),
            "doctor",
        ];
        full.extend_from_slice(args);
        lab.server_ns
            .exec("setpriv", &full)
            .output()
            .expect("run as nobody")
    };
    let output = run(&["--json"]);
    let report = json(&output);
    assert_eq!(
        report["totals"]["by_state"]["CLOSE_WAIT"], 60,
        "counts need no root"
    );
    assert_eq!(report["attribution"]["root"], false);
    let note = report["attribution"]["note"].as_str().unwrap();
    assert!(note.starts_with("process attribution needs root"), "{note}");
    assert_eq!(
        report["close_wait"]["by_process"][0]["owner"]["kind"],
        "uid"
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "60 CLOSE_WAIT is still a warning"
    );
    // Entering a namespace is what needs root: a clear error, exit 2.
    let denied = run(&["--netns", lab.peer_ns.name()]);
    assert_eq!(denied.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("needs root"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_namespace_is_healthy_and_exits_zero() {
    if !tcpwave_netns::privileged("an_empty_namespace_is_healthy_and_exits_zero") {
        return;
    }
    let ns = tcpwave_netns::Netns::create("twdoc-empty").unwrap();
    let output = doctor(&["--netns", ns.name(), "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let report = json(&output);
    assert_eq!(report["status"], "healthy");
    assert_eq!(report["totals"]["sockets"], 0);
    let text = doctor(&["--netns", ns.name()]);
    assert_eq!(text.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&text.stdout).contains("status: HEALTHY"));
}
