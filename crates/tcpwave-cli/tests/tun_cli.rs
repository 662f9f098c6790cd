//! The `tcpwave serve`, `connect` and `live` commands against the kernel, each in a fresh
//! network namespace (tcpwave-netns, included by path: this crate's manifest does not list
//! it). Until the subcommands are wired into the binary these tests say so and return.

#[path = "../../tcpwave-netns/src/lib.rs"]
#[allow(dead_code)]
mod netns;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tcpwave");

/// True when the binary has the subcommand (it is wired by the lead in main.rs).
fn wired(subcommand: &str) -> bool {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run tcpwave --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let ok = help.lines().any(|l| l.trim_start().starts_with(subcommand));
    if !ok {
        eprintln!("!!! NOT RUN: `tcpwave {subcommand}` is not wired into the binary yet");
    }
    ok
}

fn run_with_limit(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Runs a command that does not end by itself (a server) until `done(stdout, stderr)` holds
/// or `limit` passes, then kills it and returns what it printed. A fixed wait would be
/// either slow or flaky on a loaded machine.
fn run_until(
    mut command: Command,
    limit: Duration,
    done: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let collect = |mut pipe: Box<dyn Read + Send>| {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        (text, reader)
    };
    let (stdout, out_reader) = collect(Box::new(child.stdout.take().expect("stdout")));
    let (stderr, err_reader) = collect(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let snapshot = || {
        (
            stdout.lock().unwrap().clone(),
            stderr.lock().unwrap().clone(),
        )
    };
    while started.elapsed() < limit {
        let (out, err) = snapshot();
        if done(&out, &err) || child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    // The pipes close with the process: the readers have everything once they end.
    out_reader.join().expect("stdout reader");
    err_reader.join().expect("stderr reader");
    snapshot()
}

#[test]
fn live_four_way_close_shows_both_sides_and_deletes_its_namespace() {
    if !netns::privileged("live_four_way_close_shows_both_sides") || !wired("live") {
        return;
    }
    let mut command = Command::new(BIN);
    command.args(["live", "four-way-close", "--watch-s", "0.3"]);
    let out = run_with_limit(command, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("FIN_WAIT_2 -> TIME_WAIT"), "{text}");
    assert!(text.contains("-> CLOSE-WAIT   (ss)"), "{text}");
    // The check line says only what the timeline showed of the kernel's LAST-ACK.
    if text.contains("-> LAST-ACK   (ss)") {
        assert!(text.contains("[ok] kernel LAST-ACK -> gone"), "{text}");
    } else {
        assert!(
            text.contains("[ok] kernel socket gone after its close() (its LAST-ACK was too brief for ss to see)"),
            "{text}"
        );
    }
    assert!(!text.contains("LAST_ACK -> CLOSED"), "{text}");
    // Segments as the scenario diagram words them, options with timestamps, and a header
    // saying the numbers are absolute.
    assert!(text.contains("segments: absolute seq/ack"), "{text}");
    assert!(text.contains("engine --> kernel  SYN seq="), "{text}");
    assert!(text.contains("<mss 1460,sackOK,TS val "), "{text}");
    assert!(!text.contains("mss="), "{text}");
    let name = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("namespace ")
                .and_then(|r| r.split(' ').next())
        })
        .expect("namespace named");
    assert!(!std::path::Path::new("/run/netns").join(name).exists());
}

#[test]
fn live_without_root_says_so_and_fails() {
    if !netns::privileged("live_without_root_says_so_and_fails") || !wired("live") {
        return;
    }
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        BIN,
        "live",
        "four-way-close",
    ]);
    let out = run_with_limit(command, Duration::from_secs(30));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs root"), "{stderr}");
}

#[test]
fn serve_http_answers_curl_and_connect_talks_to_a_kernel_server() {
    if !netns::privileged("serve_http_answers_curl") || !wired("serve") {
        return;
    }
    let ns = netns::Netns::create("tw-cli").expect("namespace");
    // README's recipe, word for word (in a namespace of our own).
    let mut serve = ns
        .exec(
            BIN,
            [
                "serve",
                "--tun",
                "tw0",
                "--addr",
                "192.0.2.2",
                "--kernel-addr",
                "192.0.2.1/24",
                "--http",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let curl = |url: &str| {
        ns.exec("curl", ["-s", "--max-time", "5", url])
            .output()
            .expect("curl")
    };
    let started = Instant::now();
    let body = loop {
        let out = curl("http://192.0.2.2/bytes/100");
        if out.status.success() || started.elapsed() > Duration::from_secs(10) {
            break out.stdout;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // A second connection: the log numbers it c1, though the engine reuses handle c0.
    let second = curl("http://192.0.2.2/");
    std::thread::sleep(Duration::from_millis(300));
    let _ = serve.kill();
    let served = serve.wait_with_output().expect("serve output");
    let log = String::from_utf8_lossy(&served.stdout);
    let warnings = String::from_utf8_lossy(&served.stderr);
    assert_eq!(body.len(), 100, "{}", String::from_utf8_lossy(&body));
    assert!(body.starts_with(b"0123456789abcdef"));
    assert!(second.status.success());
    assert!(
        log.starts_with("tcpwave serve: HTTP on 192.0.2.2:80 via tw0"),
        "{log}"
    );
    assert!(log.contains(" c0 "), "{log}");
    assert!(log.contains(" c1 "), "{log}");
    assert!(
        !warnings.contains("warning"),
        "configured: no warning\n{warnings}"
    );
    // The engine as a client of a kernel HTTP server, as docs/tun.md says: a persistent
    // device with the kernel's address, the server, then connect.
    ns.ip(&["tuntap", "add", "mode", "tun", "name", "tun1"])
        .unwrap();
    ns.add_addr("tun1", "198.51.100.1/24").unwrap();
    ns.ip(&["link", "set", "tun1", "up"]).unwrap();
    let mut kernel = ns
        .exec(
            "python3",
            ["-m", "http.server", "8000", "--bind", "198.51.100.1"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 http.server");
    std::thread::sleep(Duration::from_millis(800));
    let mut connect = ns.exec(BIN, ["connect", "--tun", "tun1", "--addr", "198.51.100.2"]);
    connect.args(["198.51.100.1:8000", "--http", "/", "--segments"]);
    let out = run_with_limit(connect, Duration::from_secs(30));
    let _ = kernel.kill();
    let _ = kernel.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(text.contains("HTTP/1.0 200 OK"), "{text}");
    assert!(text.contains("SYN_SENT -> ESTABLISHED"), "{text}");
    // The request goes out whole, in one segment.
    let request =
        "GET / HTTP/1.1\r\nHost: 198.51.100.1\r\nUser-Agent: tcpwave\r\nConnection: close\r\n\r\n";
    let data_out: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("engine --> kernel") && l.contains(" len="))
        .collect();
    assert_eq!(data_out.len(), 1, "{text}");
    assert!(
        data_out[0].contains(&format!(" len={} ", request.len())),
        "{text}"
    );
    // No bare netstat header when the engine has no sockets left.
    let last = text.trim_end().lines().last().unwrap_or_default();
    assert!(!last.starts_with("State "), "{text}");
}

#[test]
fn serve_on_a_device_without_an_address_warns_that_nothing_can_reach_it() {
    if !netns::privileged("serve_without_kernel_addr_warns") || !wired("serve") {
        return;
    }
    let ns = netns::Netns::create("tw-cli").expect("namespace");
    let serve = ns.exec(
        BIN,
        ["serve", "--tun", "tw0", "--addr", "192.0.2.2", "--http"],
    );
    let (stdout, stderr) = run_until(serve, Duration::from_secs(30), |out, err| {
        out.contains("via tw0") && err.contains("give the device an address")
    });
    assert!(
        stdout.starts_with("tcpwave serve: HTTP on 192.0.2.2:80 via tw0"),
        "{stdout}"
    );
    assert!(
        stderr.contains("tcpwave serve: warning: the kernel cannot reach 192.0.2.2 via tw0 (tw0 is down, tw0 has no IPv4 address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("give the device an address with --kernel-addr 192.0.2.1/24 or `ip addr add 192.0.2.1/24 dev tw0"),
        "{stderr}"
    );
}

#[test]
fn engine_addresses_the_kernel_cannot_reach_are_refused_before_any_device_exists() {
    if !netns::privileged("unreachable_engine_addresses_refused") || !wired("serve") {
        return;
    }
    let ns = netns::Netns::create("tw-cli").expect("namespace");
    for (command, addr, expected) in [
        (
            "serve",
            "192.0.2.1",
            "--addr 192.0.2.1 is the kernel's own address",
        ),
        (
            "serve",
            "198.51.100.2",
            "--addr 198.51.100.2 is outside --kernel-addr 192.0.2.1/24",
        ),
        (
            "connect",
            "192.0.2.1",
            "--addr 192.0.2.1 is the kernel's own address",
        ),
        (
            "connect",
            "10.1.2.3",
            "is outside --kernel-addr 192.0.2.1/24",
        ),
    ] {
        let mut run = ns.exec(BIN, [command, "--tun", "tw0", "--addr", addr]);
        run.args(["--kernel-addr", "192.0.2.1/24"]);
        if command == "serve" {
            run.arg("--http");
        } else {
            run.arg("192.0.2.9:80");
        }
        let out = run_with_limit(run, Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command} {addr}: {stderr}");
        assert!(stderr.contains(expected), "{command} {addr}: {stderr}");
        assert!(stderr.contains("e.g. --addr 192.0.2.2"), "{stderr}");
        assert!(out.stdout.is_empty(), "{command} {addr}: nothing started");
        assert!(
            ns.ip(&["link", "show", "tw0"]).is_err(),
            "no device was created"
        );
    }
}

#[test]
fn connect_that_times_out_says_so() {
    if !netns::privileged("connect_that_times_out_says_so") || !wired("connect") {
        return;
    }
    let ns = netns::Netns::create("tw-cli").expect("namespace");
    // No address on the device: the SYN goes nowhere, and the run gives up after 1 s.
    let mut connect = ns.exec(BIN, ["connect", "--tun", "tun1", "--addr", "198.51.100.2"]);
    connect.args(["198.51.100.1:8000", "--http", "/", "--timeout-s", "1"]);
    let out = run_with_limit(connect, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}\n{stderr}");
    assert!(
        text.contains("SYN_SENT -> CLOSED  (connect timed out after 1 s: close())"),
        "{text}"
    );
    assert!(!text.contains("(close())\n"), "{text}");
    assert!(
        stderr.contains("connect to 198.51.100.1:8000: connect timed out after 1 s"),
        "{stderr}"
    );
    assert!(stderr.contains("tun1 was created by this run"), "{stderr}");
    assert!(
        stderr.contains("the kernel cannot reach 198.51.100.2 via tun1"),
        "{stderr}"
    );
}

#[test]
fn live_close_wait_leak_says_the_kernel_app_exits_and_takes_tcp_fin_timeout_from_set() {
    if !netns::privileged("live_close_wait_leak_says_the_app_exits") || !wired("live") {
        return;
    }
    let mut command = Command::new(BIN);
    command.args([
        "live",
        "close-wait-leak",
        "--connections",
        "1",
        "--watch-s",
        "0.2",
    ]);
    command.args(["--set", "tcp_fin_timeout_s=1", "--no-segments"]);
    let out = run_with_limit(command, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("engine tcp_fin_timeout 1s"), "{text}");
    assert!(!text.contains("segments: absolute"), "{text}");
    let exits = text
        .find("kernel  app: exits")
        .expect("the app's exit is told");
    let gone = text.find("CLOSE-WAIT -> (gone)").expect("the sockets go");
    assert!(exits < gone, "{text}");
    assert!(
        text.contains("engine sockets (tcpwave netstat):\n  (none)"),
        "{text}"
    );
}
