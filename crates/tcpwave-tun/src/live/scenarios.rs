//! The scenarios: the kernel application runs on its own thread with a socket made in the
//! lab's namespace; the engine application runs here, step by step, while the watcher
//! prints both sides.

use std::io::{self, Read, Write};
use std::net::{SocketAddrV4, TcpListener as KernelListener, TcpStream as KernelStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tcpwave::State;

use super::watch::Notes;
use super::{LiveOptions, LiveReport, Scenario, Watcher};
use crate::error::TunError;
use crate::lab::{Lab, KERNEL_ADDR};
use crate::signals;
use crate::socket::TcpStream;

/// The kernel application's port.
const PORT: u16 = 8080;
/// A port nobody listens on (port-closed).
const CLOSED_PORT: u16 = 9;
/// Upper bound for any single wait of the kernel application.
const KERNEL_WAIT: Duration = Duration::from_secs(15);
/// How long the kernel application takes to call close() after EOF (visible CLOSE_WAIT).
const APP_DELAY: Duration = Duration::from_millis(500);

pub(super) fn run(
    lab: &Lab,
    w: &mut Watcher<'_>,
    opts: &LiveOptions,
    out: &mut dyn Write,
) -> Result<LiveReport, TunError> {
    match opts.scenario {
        Scenario::FourWayClose => four_way_close(lab, w, opts, out),
        Scenario::FourWayCloseKernelFirst => kernel_closes_first(lab, w, opts, out),
        Scenario::CloseWaitLeak => close_wait_leak(lab, w, opts, out),
        Scenario::AbortiveClose => abortive_close(lab, w, opts, out),
        Scenario::PortClosed => port_closed(lab, w, out),
    }
}

fn step(out: &mut dyn Write, lab: &Lab, text: &str) -> Result<(), TunError> {
    let at = crate::trace::format_at(lab.stack().elapsed());
    writeln!(out, "{at}  engine  app: {text}").map_err(|e| TunError::io("writing the timeline", e))
}

fn kernel_listener(lab: &Lab) -> Result<KernelListener, TunError> {
    let addr = SocketAddrV4::new(KERNEL_ADDR, PORT);
    let listener = lab.in_kernel(move || KernelListener::bind(addr))?;
    let listener = listener.map_err(|e| TunError::io("binding the kernel listener", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| TunError::io("setting the kernel listener non-blocking", e))?;
    Ok(listener)
}

/// accept() that gives up after KERNEL_WAIT or on Ctrl-C.
fn accept(listener: &KernelListener, notes: &Notes) -> io::Result<KernelStream> {
    let started = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, peer)) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(KERNEL_WAIT))?;
                notes.send(format!("app: accept() -> connection from {peer}"));
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if started.elapsed() > KERNEL_WAIT || signals::interrupted() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no connection"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reads until EOF, noting it.
fn read_to_eof(s: &mut KernelStream, notes: &Notes) -> io::Result<usize> {
    let mut total = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            notes.send(format!("app: read() = 0 (EOF after {total} bytes)"));
            return Ok(total);
        }
        total += n;
    }
}

fn connect(lab: &Lab, out: &mut dyn Write) -> Result<(TcpStream, String), TunError> {
    step(out, lab, &format!("connect({KERNEL_ADDR}:{PORT})"))?;
    let remote = SocketAddrV4::new(KERNEL_ADDR, PORT);
    let stream = TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(5))
        .map_err(|e| TunError::io("engine connect()", e))?;
    let local = stream
        .local_addr()
        .map_err(|e| TunError::io("local address", e))?;
    Ok((stream, local.to_string()))
}

fn tuple_text(local: &str) -> String {
    format!("{local}->{KERNEL_ADDR}:{PORT}")
}

fn engine_row(lab: &Lab, local: &str) -> Option<State> {
    lab.stack()
        .snapshot()
        .into_iter()
        .find(|r| r.local.to_string() == local)
        .map(|r| r.state)
}

fn join<T>(handle: std::thread::JoinHandle<io::Result<T>>) -> Result<T, TunError> {
    match handle.join() {
        Ok(result) => result.map_err(|e| TunError::io("the kernel application", e)),
        Err(_) => Err(TunError::io(
            "the kernel application",
            io::Error::other("panicked"),
        )),
    }
}

fn four_way_close(
    lab: &Lab,
    w: &mut Watcher<'_>,
    opts: &LiveOptions,
    out: &mut dyn Write,
) -> Result<LiveReport, TunError> {
    let listener = kernel_listener(lab)?;
    let notes = w.notes();
    let kernel = std::thread::spawn(move || -> io::Result<usize> {
        let mut s = accept(&listener, &notes)?;
        let n = read_to_eof(&mut s, &notes)?;
        std::thread::sleep(APP_DELAY);
        notes.send("app: close()");
        Ok(n)
    });
    let (mut stream, local) = connect(lab, out)?;
    w.watch(Duration::from_millis(200), out)?;
    step(out, lab, "write(\"hello\")")?;
    stream
        .write_all(b"hello")
        .map_err(|e| TunError::io("engine write()", e))?;
    w.watch(Duration::from_millis(200), out)?;
    step(out, lab, "close()")?;
    drop(stream);
    w.watch_until(Duration::from_secs(5), out, |w| {
        kernel.is_finished() && w.kernel_state(&local).is_none()
    })?;
    let received = join(kernel)?;
    w.watch(opts.watch, out)?;
    let tuple = tuple_text(&local);
    let mut r = LiveReport::default();
    r.check("kernel application received the 5 bytes", received == 5);
    r.check(
        "engine FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT",
        w.engine_went(&tuple, State::FinWait1, State::FinWait2)
            && w.engine_went(&tuple, State::FinWait2, State::TimeWait),
    );
    r.check(
        "engine holds TIME_WAIT (60 s)",
        engine_row(lab, &local) == Some(State::TimeWait),
    );
    r.check(
        "kernel passed through CLOSE-WAIT",
        w.kernel_saw(&local, "CLOSE-WAIT"),
    );
    // ss polls every 50 ms; the kernel's LAST-ACK lasts one round trip over the TUN device,
    // so it is rarely seen. Say what was seen.
    let gone = if w.kernel_saw(&local, "LAST-ACK") {
        "kernel LAST-ACK -> gone after the engine's ACK of its FIN"
    } else {
        "kernel socket gone after its close() (its LAST-ACK was too brief for ss to see)"
    };
    r.check(gone, w.kernel_state(&local).is_none());
    Ok(r)
}

fn kernel_closes_first(
    lab: &Lab,
    w: &mut Watcher<'_>,
    opts: &LiveOptions,
    out: &mut dyn Write,
) -> Result<LiveReport, TunError> {
    let listener = kernel_listener(lab)?;
    let notes = w.notes();
    let kernel = std::thread::spawn(move || -> io::Result<()> {
        let mut s = accept(&listener, &notes)?;
        s.write_all(b"hello")?;
        notes.send("app: write(\"hello\")");
        std::thread::sleep(APP_DELAY);
        notes.send("app: close()");
        Ok(())
    });
    let (stream, local) = connect(lab, out)?;
    stream
        .set_read_timeout(Some(KERNEL_WAIT))
        .map_err(|e| TunError::io("read timeout", e))?;
    let mut got = Vec::new();
    (&stream)
        .read_to_end(&mut got)
        .map_err(|e| TunError::io("engine read()", e))?;
    step(
        out,
        lab,
        &format!("read() = 0 (EOF after {} bytes)", got.len()),
    )?;
    w.watch(APP_DELAY, out)?;
    join(kernel)?;
    step(out, lab, "close()")?;
    drop(stream);
    w.watch_until(Duration::from_secs(5), out, |w| {
        w.kernel_state(&local) == Some("TIME-WAIT")
    })?;
    w.watch(opts.watch, out)?;
    let tuple = tuple_text(&local);
    let mut r = LiveReport::default();
    r.check("engine read the 5 bytes, then EOF", got == b"hello");
    r.check(
        "engine CLOSE_WAIT -> LAST_ACK -> CLOSED",
        w.engine_went(&tuple, State::CloseWait, State::LastAck)
            && w.engine_went(&tuple, State::LastAck, State::Closed),
    );
    r.check(
        "engine keeps nothing (CLOSED)",
        engine_row(lab, &local).is_none(),
    );
    r.check(
        "kernel passed through FIN-WAIT-2",
        w.kernel_saw(&local, "FIN-WAIT-2"),
    );
    r.check(
        "kernel holds TIME-WAIT",
        w.kernel_state(&local) == Some("TIME-WAIT"),
    );
    Ok(r)
}

fn close_wait_leak(
    lab: &Lab,
    w: &mut Watcher<'_>,
    opts: &LiveOptions,
    out: &mut dyn Write,
) -> Result<LiveReport, TunError> {
    let count = opts.connections.clamp(1, 64);
    let listener = kernel_listener(lab)?;
    let notes = w.notes();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let kernel = std::thread::spawn(move || -> io::Result<()> {
        let mut held = Vec::new();
        for _ in 0..count {
            held.push(accept(&listener, &notes)?);
        }
        for s in &mut held {
            read_to_eof(s, &notes)?;
        }
        notes.send("app: has read EOF on every connection and never calls close()");
        let _ = release_rx.recv_timeout(Duration::from_secs(600));
        notes.send(format!(
            "app: exits now that the checks are done; its {} CLOSE-WAIT sockets are closed (FIN; the engine, which has forgotten them, answers RST)",
            held.len()
        ));
        Ok(())
    });
    let mut locals = Vec::new();
    for _ in 0..count {
        let (stream, local) = connect(lab, out)?;
        step(out, lab, "close()")?;
        drop(stream);
        locals.push(local);
    }
    let limit = opts.fin_timeout + Duration::from_secs(3);
    let started = Instant::now();
    while started.elapsed() < limit && locals.iter().any(|l| engine_row(lab, l).is_some()) {
        w.watch(Duration::from_secs(1), out)?;
        counts(lab, w, out)?;
    }
    w.watch(opts.watch, out)?;
    counts(lab, w, out)?;
    let mut r = LiveReport::default();
    let timed_out = locals
        .iter()
        .filter(|l| w.engine_went(&tuple_text(l), State::FinWait2, State::Closed))
        .count();
    let close_wait = locals
        .iter()
        .filter(|l| w.kernel_state(l) == Some("CLOSE-WAIT"))
        .count();
    r.check(
        format!("engine: {count} orphaned FIN_WAIT_2 ended after tcp_fin_timeout ({timed_out})"),
        timed_out == count,
    );
    r.check(
        format!("kernel: {count} sockets stuck in CLOSE-WAIT ({close_wait})"),
        close_wait == count,
    );
    let _ = release_tx.send(());
    join(kernel)?;
    // Show the kernel's sockets going away, so the empty table that follows is explained.
    w.watch_until(Duration::from_secs(3), out, |w| {
        locals.iter().all(|l| w.kernel_state(l).is_none())
    })?;
    Ok(r)
}

/// One line of counts: the engine's states and the kernel's.
fn counts(lab: &Lab, w: &Watcher<'_>, out: &mut dyn Write) -> Result<(), TunError> {
    let engine = crate::netstat::state_counts(&lab.stack().snapshot());
    let mut kernel: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, _, state) in w.kernel_connections() {
        *kernel.entry(state).or_default() += 1;
    }
    let kernel: Vec<String> = kernel.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let at = crate::trace::format_at(lab.stack().elapsed());
    writeln!(
        out,
        "{at}  counts  engine: {engine} | kernel: {}",
        kernel.join(", ")
    )
    .map_err(|e| TunError::io("writing the timeline", e))
}

fn abortive_close(
    lab: &Lab,
    w: &mut Watcher<'_>,
    opts: &LiveOptions,
    out: &mut dyn Write,
) -> Result<LiveReport, TunError> {
    let listener = kernel_listener(lab)?;
    let notes = w.notes();
    let kernel = std::thread::spawn(move || -> io::Result<Option<io::ErrorKind>> {
        let mut s = accept(&listener, &notes)?;
        let mut hello = [0u8; 5];
        s.read_exact(&mut hello)?;
        let mut buf = [0u8; 64];
        let result = s.read(&mut buf);
        notes.send(format!("app: read() -> {result:?}"));
        Ok(result.err().map(|e| e.kind()))
    });
    let (mut stream, local) = connect(lab, out)?;
    stream
        .write_all(b"hello")
        .map_err(|e| TunError::io("engine write()", e))?;
    w.watch(Duration::from_millis(200), out)?;
    step(out, lab, "setsockopt(SO_LINGER, {on, 0}); close()")?;
    stream
        .set_linger(Some(Duration::ZERO))
        .map_err(|e| TunError::io("SO_LINGER", e))?;
    drop(stream);
    w.watch_until(Duration::from_secs(5), out, |w| {
        kernel.is_finished() && w.kernel_state(&local).is_none()
    })?;
    let error = join(kernel)?;
    w.watch(opts.watch, out)?;
    let mut r = LiveReport::default();
    r.check(
        "kernel application's read() failed with ECONNRESET",
        error == Some(io::ErrorKind::ConnectionReset),
    );
    r.check(
        "engine keeps no TIME_WAIT",
        engine_row(lab, &local).is_none(),
    );
    r.check(
        "kernel keeps nothing (no TIME-WAIT)",
        w.kernel_state(&local).is_none(),
    );
    Ok(r)
}

fn port_closed(
    lab: &Lab,
    w: &mut Watcher<'_>,
    out: &mut dyn Write,
) -> Result<LiveReport, TunError> {
    step(
        out,
        lab,
        &format!("connect({KERNEL_ADDR}:{CLOSED_PORT}), where nobody listens"),
    )?;
    let remote = SocketAddrV4::new(KERNEL_ADDR, CLOSED_PORT);
    let result = TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(5));
    w.watch(Duration::from_millis(300), out)?;
    let kind = result.as_ref().err().map(io::Error::kind);
    step(
        out,
        lab,
        &format!(
            "connect() -> {:?}",
            result.map(|_| ()).map_err(|e| e.to_string())
        ),
    )?;
    let mut r = LiveReport::default();
    r.check(
        "connect() failed with ECONNREFUSED",
        kind == Some(io::ErrorKind::ConnectionRefused),
    );
    Ok(r)
}
