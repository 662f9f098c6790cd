//! How long `tcpwave doctor` takes on a host with 100,000 sockets.
//!
//! ```text
//! cargo run --release -p tcpwave-doctor --example bench_doctor            # synthetic dump
//! sudo cargo run --release -p tcpwave-doctor --example bench_doctor -- --real 100000
//! sudo .../bench_doctor --real 100000 --cli target/release/tcpwave   # also the whole CLI
//! ```
//!
//! Synthetic: the netlink messages the kernel would send for a busy 100k-socket host
//! (src/synthetic.rs: 60 % TIME_WAIT, 25 % ESTABLISHED, 10 % CLOSE_WAIT, 5 % FIN_WAIT_2),
//! parsed with the real parser and analysed with the real analysis, rendered as text and
//! JSON. Real (root): a throwaway network namespace filled with N TIME_WAIT sockets over
//! loopback, then the whole `diagnose()` — netlink dump, /proc/PID/fd scan, counters,
//! sysctls, analysis — timed as `tcpwave doctor --netns` runs it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};
use tcpwave_doctor::filter::Filters;
use tcpwave_doctor::netlink::parse_dump;
use tcpwave_doctor::{analysis, diagnose, render, synthetic, DoctorOptions};

const ROUNDS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn synthetic_bench(total: usize) {
    let (sockets, owners) = synthetic::busy_host(total);
    let chunks = synthetic::encode_dump(&sockets);
    let bytes: usize = chunks.iter().map(Vec::len).sum();
    let (mut parse, mut analyze, mut text, mut json) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut parsed = Vec::with_capacity(total);
        for chunk in &chunks {
            parse_dump(chunk, &mut parsed).expect("synthetic dump parses");
        }
        parse.push(started.elapsed());
        assert_eq!(parsed.len(), total);
        let snapshot = synthetic::snapshot(parsed, owners.clone());
        let started = Instant::now();
        let report = analysis::analyze(&snapshot, &Filters::default(), 10);
        analyze.push(started.elapsed());
        let started = Instant::now();
        let rendered = render::render(&report);
        text.push(started.elapsed());
        let started = Instant::now();
        let encoded = serde_json::to_string(&report).expect("json");
        json.push(started.elapsed());
        assert!(!rendered.is_empty() && !encoded.is_empty());
    }
    println!(
        "synthetic {total} sockets ({} recv buffers, {:.1} MiB of netlink messages), median of {ROUNDS}:",
        chunks.len(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  parse {}  analyse {}  render text {}  json {}",
        ms(median(parse)),
        ms(median(analyze)),
        ms(median(text)),
        ms(median(json))
    );
}

/// A client socket bound to 127.0.0.1:`port` and connected to `server`: every (port,
/// listener) tuple is used once, so no TIME_WAIT entry is ever recycled by a later connect.
fn connect_from(port: u16, server: SocketAddr) -> std::io::Result<TcpStream> {
    let SocketAddr::V4(server) = server else {
        unreachable!("IPv4 listeners")
    };
    let address = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    };
    let length = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor owned by the returned TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let one_ptr = (&one as *const libc::c_int).cast();
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, one_ptr, 4);
        let local = address(Ipv4Addr::LOCALHOST, port);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), length) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = address(*server.ip(), server.port());
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), length) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Makes `count` TIME_WAIT sockets in the calling thread's namespace over loopback: the
/// accepting side closes first and keeps TIME_WAIT; client ports are bound explicitly.
fn fill_time_wait(count: usize) -> usize {
    let listeners: Vec<TcpListener> = (0..8)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let mut made = 0;
    for index in 0..count {
        let listener = &listeners[index % listeners.len()];
        let port = 20_000 + (index / listeners.len()) as u16;
        let Ok(client) = connect_from(port, listener.local_addr().expect("addr")) else {
            break;
        };
        let (server, _) = listener.accept().expect("accept");
        drop(server); // the server closes first: TIME_WAIT on its side
        drop(client);
        made += 1;
    }
    made
}

fn real_bench(total: usize, cli: Option<&str>) {
    let ns = tcpwave_netns::Netns::create("twbench").expect("create a namespace (needs root)");
    let file = std::fs::File::open(ns.path()).expect("open namespace");
    let started = Instant::now();
    let made = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: setns on an open namespace file; affects this thread only.
                let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(result, 0, "setns");
                fill_time_wait(total)
            })
            .join()
            .expect("filler thread")
    });
    println!(
        "real: {made} TIME_WAIT sockets made in {:.1} s in namespace {}",
        started.elapsed().as_secs_f64(),
        ns.name()
    );
    let options = DoctorOptions {
        netns: Some(ns.name().to_string()),
        ..DoctorOptions::default()
    };
    let mut whole = Vec::new();
    let mut sockets = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let report = diagnose(&options).expect("diagnose");
        whole.push(started.elapsed());
        sockets = report.totals.sockets;
    }
    println!(
        "  diagnose() of {sockets} sockets (dump + /proc scan + analysis), median of {ROUNDS}: {}",
        ms(median(whole))
    );
    let mut ss_runs = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let output = ns.exec("ss", ["-tan"]).output().expect("run ss");
        ss_runs.push(started.elapsed());
        assert!(output.status.success());
    }
    println!(
        "  for reference, `ip netns exec {} ss -tan`, median of {ROUNDS}: {}",
        ns.name(),
        ms(median(ss_runs))
    );
    if let Some(binary) = cli {
        let mut runs = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let output = std::process::Command::new(binary)
                .args(["doctor", "--netns", ns.name(), "--json"])
                .output()
                .expect("run the tcpwave binary");
            runs.push(started.elapsed());
            assert!(
                output.status.code().is_some_and(|c| c <= 1),
                "tcpwave doctor failed"
            );
        }
        println!(
            "  `{binary} doctor --netns {} --json`, whole process, median of {ROUNDS}: {}",
            ns.name(),
            ms(median(runs))
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let real = args.iter().position(|a| a == "--real");
    let total = |at: Option<usize>| {
        at.and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000)
    };
    synthetic_bench(100_000);
    if let Some(index) = real {
        let cli = args
            .iter()
            .position(|a| a == "--cli")
            .and_then(|i| args.get(i + 1));
        real_bench(total(Some(index)), cli.map(String::as_str));
    }
}
