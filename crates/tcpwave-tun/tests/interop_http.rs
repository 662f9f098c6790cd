//! Interop 1: curl (the kernel's TCP) against the engine's HTTP/1.1 server.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use tcpwave_tun::serve::{serve, ServeMode, ServeOptions};
use tcpwave_tun::{Lab, ENGINE_ADDR};

const PORT: u16 = 8080;

fn curl(lab: &Lab, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--silent", "--show-error", "--max-time", "60"];
    all.extend_from_slice(args);
    lab.exec("curl", &all)
        .output()
        .expect("run curl (install curl)")
}

/// Runs the HTTP server on the engine while `f` runs curl against it.
fn with_server<T>(lab: &Lab, f: impl FnOnce() -> T) -> (T, tcpwave_tun::serve::ServeSummary) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let server = scope.spawn(|| {
            let opts = ServeOptions {
                port: PORT,
                mode: ServeMode::Http,
                connections_max: 16,
                accepts_max: None,
            };
            serve(lab.stack(), opts, &stop)
        });
        // The listener exists once the engine has a LISTEN row.
        assert!(eventually(std::time::Duration::from_secs(5), || {
            lab.stack()
                .snapshot()
                .iter()
                .any(|r| r.state == tcpwave::State::Listen)
        }));
        let out = f();
        stop.store(true, Ordering::Relaxed);
        (out, server.join().unwrap().expect("server"))
    })
}

#[test]
fn curl_gets_responses_reuses_one_connection_and_ten_megabytes_intact() {
    let Some(lab) = lab("curl_gets_responses_reuses_one_connection", default_cfg()) else {
        return;
    };
    let base = format!("http://{ENGINE_ADDR}:{PORT}");
    let ((root, two, big), summary) = with_server(&lab, || {
        let root = curl(&lab, &[&format!("{base}/")]);
        let two = curl(
            &lab,
            &[
                "--verbose",
                &format!("{base}/bytes/100"),
                &format!("{base}/netstat"),
            ],
        );
        let big = curl(&lab, &[&format!("{base}/bytes/{}", 10 * 1024 * 1024)]);
        (root, two, big)
    });
    assert!(root.status.success(), "{root:?}");
    assert!(String::from_utf8_lossy(&root.stdout).starts_with("hello from tcpwave"));

    assert!(two.status.success(), "{two:?}");
    let verbose = String::from_utf8_lossy(&two.stderr);
    assert!(
        verbose.contains("Re-using existing connection"),
        "{verbose}"
    );
    assert_eq!(verbose.matches("Connected to").count(), 1, "{verbose}");
    let body = String::from_utf8_lossy(&two.stdout);
    assert!(body.starts_with("0123456789abcdef"), "{body}");
    assert!(
        body.contains("ESTABLISHED"),
        "/netstat shows the live connection: {body}"
    );

    assert!(
        big.status.success(),
        "{:?}",
        String::from_utf8_lossy(&big.stderr)
    );
    let mut expected = Vec::new();
    tcpwave_tun::http::write_pattern(&mut expected, 10 * 1024 * 1024).unwrap();
    assert_eq!(big.stdout.len(), expected.len());
    assert_eq!(
        sha256(&big.stdout),
        sha256(&expected),
        "10 MB body corrupted"
    );
    assert_eq!(summary.connections, 3, "one connection per curl call");
}
