//! Interop 3: close semantics against the kernel, the kernel's states read with `ss` in
//! the lab's namespace.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddrV4;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use tcpwave::{Event, Reason, State};
use tcpwave_tun::{Lab, TcpStream, Trace, KERNEL_ADDR};

fn connect(lab: &Lab, port: u16) -> TcpStream {
    let remote = SocketAddrV4::new(KERNEL_ADDR, port);
    TcpStream::connect_timeout(lab.stack(), remote, Duration::from_secs(5)).expect("connect")
}

/// The engine's row for a local address, if any (TIME_WAIT entries included).
fn engine_state(lab: &Lab, local: SocketAddrV4) -> Option<State> {
    lab.stack()
        .snapshot()
        .into_iter()
        .find(|r| r.local == local)
        .map(|r| r.state)
}

/// The kernel's socket whose peer is `engine_local`, as `ss` names its state.
fn kernel_state(lab: &Lab, engine_local: SocketAddrV4) -> Option<String> {
    let peer = engine_local.to_string();
    lab.kernel_sockets()
        .expect("ss")
        .into_iter()
        .find(|s| s.peer == peer)
        .map(|s| s.state)
}

/// Engine state changes seen so far: (from, to, reason).
fn changes(rx: &mpsc::Receiver<Trace>) -> Vec<(State, State, Reason)> {
    rx.try_iter()
        .filter_map(|t| match t {
            Trace::Event {
                event:
                    Event::StateChanged {
                        from, to, reason, ..
                    },
                ..
            } => Some((from, to, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn engine_closes_first_engine_time_wait_kernel_gone() {
    let Some(lab) = lab(
        "engine_closes_first_engine_time_wait_kernel_gone",
        default_cfg(),
    ) else {
        return;
    };
    let events = lab.stack().subscribe(false);
    let listener = kernel_listener(&lab, 9001);
    let kernel = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The application closes as soon as it reads EOF.
        read_all(&s, Duration::from_secs(10)).unwrap()
    });
    let mut stream = connect(&lab, 9001);
    let local = stream.local_addr().unwrap();
    stream.write_all(b"bye").unwrap();
    drop(stream);
    assert_eq!(kernel.join().unwrap(), b"bye");
    let settled = eventually(Duration::from_secs(5), || {
        engine_state(&lab, local) == Some(State::TimeWait) && kernel_state(&lab, local).is_none()
    });
    assert!(
        settled,
        "engine {:?}, kernel {:?}",
        engine_state(&lab, local),
        kernel_state(&lab, local)
    );
    let seen = changes(&events);
    use State::*;
    for step in [
        (Established, FinWait1),
        (FinWait1, FinWait2),
        (FinWait2, TimeWait),
    ] {
        assert!(
            seen.iter().any(|&(f, t, _)| (f, t) == step),
            "{step:?} not in {seen:?}"
        );
    }
}

#[test]
fn kernel_closes_first_kernel_time_wait_engine_closed() {
    let Some(lab) = lab(
        "kernel_closes_first_kernel_time_wait_engine_closed",
        default_cfg(),
    ) else {
        return;
    };
    let events = lab.stack().subscribe(false);
    let listener = kernel_listener(&lab, 9002);
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"bye").unwrap();
        // close() first
    });
    let stream = connect(&lab, 9002);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let local = stream.local_addr().unwrap();
    kernel.join().unwrap();
    assert_eq!(read_all(&stream, Duration::from_secs(10)).unwrap(), b"bye");
    assert_eq!(stream.state(), State::CloseWait);
    // The engine's ACK of that FIN is delayed (Linux tcp_fin pingpong after data: up to
    // 40 ms), so the kernel may still be in FIN-WAIT-1 when EOF is read.
    assert!(
        eventually(Duration::from_secs(5), || kernel_state(&lab, local)
            .as_deref()
            == Some("FIN-WAIT-2")),
        "kernel {:?}",
        kernel_state(&lab, local)
    );
    drop(stream);
    let settled = eventually(Duration::from_secs(5), || {
        engine_state(&lab, local).is_none()
            && kernel_state(&lab, local).as_deref() == Some("TIME-WAIT")
    });
    assert!(
        settled,
        "engine {:?}, kernel {:?}",
        engine_state(&lab, local),
        kernel_state(&lab, local)
    );
    let seen = changes(&events);
    use State::*;
    for step in [
        (Established, CloseWait),
        (CloseWait, LastAck),
        (LastAck, Closed),
    ] {
        assert!(
            seen.iter().any(|&(f, t, _)| (f, t) == step),
            "{step:?} not in {seen:?}"
        );
    }
}

#[test]
fn kernel_never_closes_close_wait_stays_engine_fin_wait_2_times_out() {
    let name = "kernel_never_closes_close_wait_stays_engine_fin_wait_2_times_out";
    let fin_timeout = Duration::from_secs(2);
    let mut cfg = default_cfg();
    cfg.engine.tcp_fin_timeout = tcpwave::Duration::from_secs(fin_timeout.as_secs());
    let Some(lab) = lab(name, cfg) else {
        return;
    };
    let events = lab.stack().subscribe(false);
    let listener = kernel_listener(&lab, 9003);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let kernel = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let data = read_all(&s, Duration::from_secs(10)).unwrap();
        // Read EOF, and never close (until the test is over).
        let _ = release_rx.recv_timeout(Duration::from_secs(30));
        drop(s);
        data
    });
    let stream = connect(&lab, 9003);
    let local = stream.local_addr().unwrap();
    drop(stream);
    let in_fin_wait_2 = eventually(Duration::from_secs(3), || {
        engine_state(&lab, local) == Some(State::FinWait2)
            && kernel_state(&lab, local).as_deref() == Some("CLOSE-WAIT")
    });
    assert!(
        in_fin_wait_2,
        "engine {:?}, kernel {:?}",
        engine_state(&lab, local),
        kernel_state(&lab, local)
    );
    let entered = Instant::now();
    let gone = eventually(fin_timeout + Duration::from_secs(3), || {
        engine_state(&lab, local).is_none()
    });
    let waited = entered.elapsed();
    assert!(
        gone,
        "FIN_WAIT_2 did not end: {:?}",
        engine_state(&lab, local)
    );
    assert!(
        waited >= fin_timeout - Duration::from_millis(300),
        "ended after only {waited:?}"
    );
    assert_eq!(
        kernel_state(&lab, local).as_deref(),
        Some("CLOSE-WAIT"),
        "the kernel side leaks"
    );
    let seen = changes(&events);
    assert!(
        seen.contains(&(State::FinWait2, State::Closed, Reason::FinWait2Timeout)),
        "{seen:?}"
    );
    release_tx.send(()).unwrap();
    assert!(kernel.join().unwrap().is_empty());
}

#[test]
fn engine_aborts_kernel_application_gets_econnreset() {
    let Some(lab) = lab(
        "engine_aborts_kernel_application_gets_econnreset",
        default_cfg(),
    ) else {
        return;
    };
    let listener = kernel_listener(&lab, 9004);
    let kernel = std::thread::spawn(move || {
        let mut results = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut hello = [0u8; 5];
            s.read_exact(&mut hello).unwrap();
            let mut buf = [0u8; 16];
            results.push(s.read(&mut buf).map_err(|e| e.kind()));
        }
        results
    });
    // SO_LINGER {on, 0} then close, and ABORT: both reset.
    let first = connect(&lab, 9004);
    let first_local = first.local_addr().unwrap();
    (&first).write_all(b"hello").unwrap();
    first.set_linger(Some(Duration::ZERO)).unwrap();
    drop(first);
    let second = connect(&lab, 9004);
    let second_local = second.local_addr().unwrap();
    (&second).write_all(b"hello").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    second.abort().unwrap();
    let results = kernel.join().unwrap();
    assert_eq!(
        results,
        vec![
            Err(ErrorKind::ConnectionReset),
            Err(ErrorKind::ConnectionReset)
        ]
    );
    for local in [first_local, second_local] {
        assert_eq!(
            engine_state(&lab, local),
            None,
            "no TIME_WAIT after an abort"
        );
        assert_eq!(kernel_state(&lab, local), None, "kernel socket gone");
    }
    assert!(lab.stack().counters().OutRsts >= 2);
}

/// The segments of one connection (by the engine's local port), in order, from a
/// subscription that asked for segments.
fn segments_of(rx: &mpsc::Receiver<Trace>, local_port: u16) -> Vec<tcpwave_tun::SegmentTrace> {
    segments(rx)
        .into_iter()
        .filter(|s| !s.dropped && (s.tcp.src_port == local_port || s.tcp.dst_port == local_port))
        .collect()
}

#[test]
fn kernel_delays_the_ack_of_a_fin_in_close_wait_as_the_engine_does() {
    // Linux tcp_fin: ESTABLISHED -> CLOSE_WAIT enters pingpong mode, so after data the ACK
    // of the FIN waits for the delayed-ACK timer (40 ms, TCP_ATO_MIN) — the behaviour the
    // engine models (conn/receive.rs `receive_fin`, docs/scenarios.md four-way-close).
    let Some(lab) = lab(
        "kernel_delays_the_ack_of_a_fin_in_close_wait_as_the_engine_does",
        default_cfg(),
    ) else {
        return;
    };
    let trace = lab.stack().subscribe(true);
    let listener = kernel_listener(&lab, 9005);
    let kernel = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let got = read_all(&s, Duration::from_secs(10)).unwrap();
        // The application answers the EOF late: the delayed ACK must go alone first.
        std::thread::sleep(Duration::from_millis(300));
        got
    });
    let mut stream = connect(&lab, 9005);
    let local = stream.local_addr().unwrap();
    stream.write_all(b"bye").unwrap();
    drop(stream);
    assert_eq!(kernel.join().unwrap(), b"bye");
    assert!(eventually(Duration::from_secs(5), || {
        engine_state(&lab, local) == Some(State::TimeWait)
    }));
    let segs = segments_of(&trace, local.port());
    let fin = segs
        .iter()
        .position(|s| s.direction == tcpwave_tun::Direction::Out && s.tcp.flags.fin())
        .expect("the engine sent its FIN");
    // Replies that acknowledge our FIN (the quick ACK of "bye" may cross it).
    let fin_acked = segs[fin].tcp.seq + 1u32;
    let replies: Vec<_> = segs[fin + 1..]
        .iter()
        .filter(|s| s.direction == tcpwave_tun::Direction::In && s.tcp.ack == fin_acked)
        .collect();
    assert!(
        replies.len() >= 2,
        "kernel ACK and FIN after ours: {segs:#?}"
    );
    let (ack, kernel_fin) = (replies[0], replies[1]);
    assert!(
        !ack.tcp.flags.fin() && ack.tcp.flags.ack() && ack.payload_len == 0,
        "a pure ACK first: {ack:?}"
    );
    let delay = ack.at - segs[fin].at;
    assert!(
        delay >= Duration::from_millis(30) && delay < Duration::from_millis(250),
        "the kernel delayed the ACK of our FIN by {delay:?}, expected about 40 ms"
    );
    assert!(
        kernel_fin.tcp.flags.fin(),
        "then the kernel's FIN: {kernel_fin:?}"
    );
}
