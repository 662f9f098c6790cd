//! A two-namespace lab with real kernel sockets in known states, for `tcpwave doctor` tests.
//!
//! ```text
//!  namespace A ("server", 192.0.2.1 on va)          namespace B ("peer", 192.0.2.2 on vb)
//!  fixture process (role server):                    fixture process (role peer):
//!    listens on 192.0.2.1:7000, accepts and  ◄──────   connects, sends "hello", closes
//!    never closes        → CLOSE_WAIT in A
//!    connects and closes first             ──────►   192.0.2.2:9090: reads to EOF, closes
//!                         → TIME_WAIT in A
//!    connects and holds   → ESTABLISHED in A ────►   192.0.2.2:9091: accepts and holds
//! ```
//!
//! Two namespaces so that namespace A holds exactly the sockets a test asked for (the peer
//! ends live in B). The fixture processes are this very test binary, re-executed inside the
//! namespace with `TCPWAVE_FIXTURE_ROLE` set: each test file that uses the lab has a test
//! named `fixture_entry` that calls [`run_role_if_requested`]. They read commands on stdin
//! and answer one line each; every wait is bounded. The namespaces (and the processes in
//! them) are deleted when the [`Lab`] is dropped, also when a test fails.
//!
//! The module reaches the namespace helper as `crate::tcpwave_netns`: the including test
//! crate brings it into its root (`use tcpwave_netns;`, or a `#[path]` module).

#![allow(dead_code)]

use crate::tcpwave_netns::Netns;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

pub const ROLE_ENV: &str = "TCPWAVE_FIXTURE_ROLE";
pub const SERVER_IP: &str = "192.0.2.1";
pub const PEER_IP: &str = "192.0.2.2";
pub const SERVICE: &str = "192.0.2.1:7000";
pub const TIME_WAIT_DESTINATION: &str = "192.0.2.2:9090";
pub const HOLD_DESTINATION: &str = "192.0.2.2:9091";
/// Every blocking step of the fixture gives up after this long.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound on connections one command may ask for.
const CONNECTIONS_MAX: usize = 20_000;

/// In the `fixture_entry` test: run the requested role and exit; otherwise return at once.
pub fn run_role_if_requested() {
    let role = match std::env::var(ROLE_ENV) {
        Ok(role) => role,
        Err(_) => return,
    };
    let result = match role.as_str() {
        "server" => server_role(),
        "peer" => peer_role(),
        other => Err(format!("unknown role {other}")),
    };
    if let Err(error) = result {
        println!("fixture: error {error}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

fn reply(line: &str) {
    println!("fixture: {line}");
    let _ = std::io::stdout().flush();
}

fn commands() -> impl Iterator<Item = (String, usize)> {
    std::io::stdin()
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let verb = parts.next()?.to_string();
            let count = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            Some((verb, count.min(CONNECTIONS_MAX)))
        })
}

fn connect(address: &str) -> Result<TcpStream, String> {
    let address: SocketAddr = address.parse().map_err(|e| format!("{e}"))?;
    TcpStream::connect_timeout(&address, STEP_TIMEOUT)
        .map_err(|e| format!("connect {address}: {e}"))
}

/// Accepts `count` connections within STEP_TIMEOUT.
fn accept_some(
    listener: &TcpListener,
    count: usize,
    kept: &mut Vec<TcpStream>,
) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut accepted = 0;
    while accepted < count {
        match listener.accept() {
            Ok((stream, _)) => {
                kept.push(stream);
                accepted += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(format!(
                        "accepted {accepted} of {count} before the deadline"
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
    Ok(())
}

fn server_role() -> Result<(), String> {
    let listener = TcpListener::bind(SERVICE).map_err(|e| format!("bind {SERVICE}: {e}"))?;
    let mut kept: Vec<TcpStream> = Vec::new();
    reply(&format!("ready pid={}", std::process::id()));
    for (verb, count) in commands() {
        match verb.as_str() {
            // Accepted and never read nor closed: CLOSE_WAIT once the peer closes.
            "accept" => accept_some(&listener, count, &mut kept)?,
            // Connect and close first: TIME_WAIT here once the peer closes too.
            "tw" => {
                for _ in 0..count {
                    drop(connect(TIME_WAIT_DESTINATION)?);
                }
            }
            "est" => {
                for _ in 0..count {
                    kept.push(connect(HOLD_DESTINATION)?);
                }
            }
            "quit" => return Ok(()),
            other => return Err(format!("unknown command {other}")),
        }
        reply(&format!("ok {verb} {count}"));
    }
    Ok(())
}

fn peer_role() -> Result<(), String> {
    let closer = TcpListener::bind(TIME_WAIT_DESTINATION).map_err(|e| e.to_string())?;
    let holder = TcpListener::bind(HOLD_DESTINATION).map_err(|e| e.to_string())?;
    // Reads each connection to EOF, then closes it (the fixture server closed first).
    std::thread::spawn(move || {
        for stream in closer.incoming().take(CONNECTIONS_MAX * 4).flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(STEP_TIMEOUT));
            let _ = stream.read_to_end(&mut Vec::new());
        }
    });
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = holder.incoming().take(1000).flatten().collect();
        drop(held);
    });
    reply(&format!("ready pid={}", std::process::id()));
    for (verb, count) in commands() {
        match verb.as_str() {
            "connect" => {
                for _ in 0..count {
                    let mut stream = connect(SERVICE)?;
                    stream.write_all(b"hello").map_err(|e| e.to_string())?;
                }
            }
            "quit" => return Ok(()),
            other => return Err(format!("unknown command {other}")),
        }
        reply(&format!("ok {verb} {count}"));
    }
    Ok(())
}

/// One fixture process, driven over its stdin/stdout.
pub struct Fixture {
    pub pid: u32,
    child: Child,
    input: ChildStdin,
    /// Protocol lines, read by a thread so that every wait can time out.
    replies: Receiver<String>,
}

/// Forwards the fixture's protocol lines (libtest prints "test fixture_entry ... " without a
/// newline before the test runs, so a line may start with that).
fn forward_replies(output: ChildStdout, sender: Sender<String>) {
    for line in BufReader::new(output).lines().map_while(Result::ok) {
        if let Some((_, text)) = line.split_once("fixture: ") {
            if sender.send(text.to_string()).is_err() {
                return;
            }
        }
    }
}

impl Fixture {
    fn start(ns: &Netns, role: &str) -> Fixture {
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = ns
            .exec(
                &exe,
                [
                    "--exact",
                    "fixture_entry",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ],
            )
            .env(ROLE_ENV, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn fixture");
        let input = child.stdin.take().expect("stdin");
        let output = child.stdout.take().expect("stdout");
        let (sender, replies) = channel();
        std::thread::spawn(move || forward_replies(output, sender));
        let mut fixture = Fixture {
            pid: 0,
            child,
            input,
            replies,
        };
        let ready = fixture.read_reply();
        fixture.pid = ready
            .strip_prefix("ready pid=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fixture {role} did not start: {ready}"));
        fixture
    }

    /// Next protocol line. The fixture answers or fails within its own step timeout; this
    /// waits a little longer, so a stuck fixture fails the test instead of hanging it.
    fn read_reply(&mut self) -> String {
        let text = match self
            .replies
            .recv_timeout(STEP_TIMEOUT + Duration::from_secs(10))
        {
            Ok(text) => text,
            Err(RecvTimeoutError::Timeout) => panic!("fixture did not answer in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("fixture exited without answering"),
        };
        assert!(!text.starts_with("error"), "fixture failed: {text}");
        text
    }

    /// Sends a command without waiting for its answer.
    pub fn send(&mut self, command: &str) {
        writeln!(self.input, "{command}").expect("write to fixture");
        self.input.flush().expect("flush fixture stdin");
    }

    /// Waits for the answer to a command sent earlier.
    pub fn expect_ok(&mut self, command: &str) {
        let answer = self.read_reply();
        assert_eq!(answer, format!("ok {command}"));
    }

    pub fn run(&mut self, command: &str) {
        self.send(command);
        self.expect_ok(command);
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two namespaces joined by a veth pair, a fixture process in each.
pub struct Lab {
    // Field order matters: the fixtures are killed before the namespaces are deleted.
    pub server: Fixture,
    pub peer: Fixture,
    pub server_ns: Netns,
    pub peer_ns: Netns,
}

impl Lab {
    pub fn start() -> Lab {
        let server_ns = Netns::create("twdoc-a").expect("create namespace A");
        let peer_ns = Netns::create("twdoc-b").expect("create namespace B");
        server_ns
            .link_veth("va", &peer_ns, "vb")
            .expect("veth pair");
        server_ns
            .add_addr("va", &format!("{SERVER_IP}/24"))
            .expect("address A");
        peer_ns
            .add_addr("vb", &format!("{PEER_IP}/24"))
            .expect("address B");
        // IPv6 duplicate address detection is irrelevant here; IPv4 works at once.
        let server = Fixture::start(&server_ns, "server");
        let peer = Fixture::start(&peer_ns, "peer");
        Lab {
            server,
            peer,
            server_ns,
            peer_ns,
        }
    }

    /// `count` more CLOSE_WAIT sockets held by the server fixture (Recv-Q 6: 5 bytes + FIN).
    pub fn add_close_wait(&mut self, count: usize) {
        let accept = format!("accept {count}");
        self.server.send(&accept);
        self.peer.run(&format!("connect {count}"));
        self.server.expect_ok(&accept);
        self.wait_for_state("close-wait", None);
    }

    /// `count` more TIME_WAIT sockets in A toward 192.0.2.2:9090.
    pub fn add_time_wait(&mut self, count: usize) {
        let before = self.ss_counts().get("TIME-WAIT").copied().unwrap_or(0);
        let want = before + count as u64;
        self.server.run(&format!("tw {count}"));
        // Under load the peer's accept queue can overflow, and a connection whose
        // handshake the peer dropped ends in RST, not TIME_WAIT. Top up (bounded) until
        // exactly `count` more TIME_WAIT sockets exist; the peer never closes first, so
        // the count cannot overshoot.
        for _ in 0..5 {
            self.wait_for_state("time-wait", None);
            let now = self.ss_counts().get("TIME-WAIT").copied().unwrap_or(0);
            if now >= want {
                break;
            }
            self.server.run(&format!("tw {}", want - now));
        }
        self.wait_for_state("time-wait", Some(want));
    }

    pub fn add_established(&mut self, count: usize) {
        self.server.run(&format!("est {count}"));
    }

    /// Waits (bounded) until `ss` in A shows `expected` sockets in `state`, or until the
    /// FIN_WAIT/LAST_ACK transients toward it have settled when `expected` is None.
    fn wait_for_state(&self, state: &str, expected: Option<u64>) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut last = 0;
        while Instant::now() < deadline {
            let counts = self.ss_counts();
            last = counts.get(&state.to_uppercase()).copied().unwrap_or(0);
            let transient = [
                "FIN-WAIT-1",
                "FIN-WAIT-2",
                "LAST-ACK",
                "SYN-SENT",
                "SYN-RECV",
            ]
            .iter()
            .any(|s| counts.contains_key(*s));
            if expected.map_or(!transient, |e| last == e && !transient) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{state}: {last} sockets in namespace A, expected {expected:?}");
    }

    /// `ss -tan` in namespace A, counted by its State column.
    pub fn ss_counts(&self) -> BTreeMap<String, u64> {
        let output = self
            .server_ns
            .exec("ss", ["-tan"])
            .output()
            .expect("run ss");
        assert!(output.status.success(), "ss failed");
        let mut counts = BTreeMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines().skip(1) {
            if let Some(state) = line.split_whitespace().next() {
                *counts.entry(state.to_string()).or_default() += 1;
            }
        }
        counts
    }
}
