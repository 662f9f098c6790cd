//! Closes that go wrong: a lost final ACK, a server that never closes (CLOSE_WAIT
//! leak, FIN_WAIT_2 timeout), a killed peer process, and closed ports.

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{Config, Event, State};
use tcpwave_trace::Trace;

use super::common::*;
use crate::app::{app, App, Input};
use crate::net::{Rule, RuleAction, SegView};
use crate::sim::Sim;

const CLIENT2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

/// The client's ACK of the server's FIN is lost: LAST_ACK retransmits the FIN after an
/// RTO, TIME_WAIT answers it and restarts its 2MSL timer.
pub fn lost_final_ack(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let client = request_client(server_addr(), REQUEST, AfterReply::Close);
    let server = reply_server(PORT, REPLY, OnEof::Close);
    let mut sim = two_hosts("lost-final-ack", opts, client, server)?;
    // SYN + request + FIN: the final ACK is the first pure ACK past the client's FIN.
    let final_ack_seq = REQUEST.len() as u32 + 2;
    sim.add_rule(Rule::new(
        "final ACK lost",
        RuleAction::Drop,
        1,
        move |s: &SegView| s.between("client", "server") && s.is("A") && s.rel_seq == final_ack_seq,
    ));
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// A client host that opens `n` request/reply connections 100 ms apart and closes
/// each after the reply.
fn many_clients(n: u64, server: SocketAddrV4) -> Box<dyn App> {
    app(move |ctx, input| match input {
        Input::Start => ctx.wake_after(ms(0), 0),
        Input::Wake(i) => {
            let _ = ctx.connect(server);
            if i + 1 < n {
                ctx.wake_after(ms(100), i + 1);
            }
        }
        Input::Event(Event::Connected { conn }) => {
            let _ = ctx.send(conn, REQUEST);
        }
        Input::Event(Event::Readable { conn }) => {
            if let Ok((data, _)) = ctx.recv(conn) {
                if !data.is_empty() {
                    ctx.close(conn);
                }
            }
        }
        _ => {}
    })
}

/// The server application reads EOF and never calls close(): its sockets stay in
/// CLOSE_WAIT until the process exits (here at 300 s); the clients' orphaned
/// FIN_WAIT_2 give up after tcp_fin_timeout.
pub fn close_wait_leak(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    const N: u64 = 5;
    let client = many_clients(N, server_addr());
    let server = reply_server(PORT, REPLY, OnEof::Ignore);
    let mut sim = two_hosts("close-wait-leak", opts, client, server)?;
    sim.kill_app(1, secs(300));
    for t in [1, 30, 59, 62, 120, 299, 301] {
        sim.run_until(secs(t))?;
        let cw = sim.count_state(1, State::CloseWait) as f64;
        let fw2 = sim.count_state(0, State::FinWait2) as f64;
        sim.figure(&format!("server CLOSE_WAIT at {t}s"), cw, "sockets");
        sim.figure(&format!("client FIN_WAIT_2 at {t}s"), fw2, "sockets");
    }
    sim.run_until(secs(400))?;
    Ok(sim.finish())
}

/// The server never closes. One client closes (its FIN_WAIT_2 is orphaned and ends
/// after tcp_fin_timeout); the other only shuts down its write side and keeps the
/// socket, so its FIN_WAIT_2 waits for ever.
pub fn fin_wait_2_timeout(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let info = super::find("fin-wait-2-timeout")
        .map(|s| s.summary)
        .unwrap_or("");
    let mut sim = Sim::new("fin-wait-2-timeout", info, opts.seed);
    let cfg = opts.config(Config::default())?;
    let closing = request_client(server_addr(), REQUEST, AfterReply::Close);
    let half = request_client(server_addr(), REQUEST, AfterReply::ShutdownWrite);
    sim.add_host(
        "client",
        "client (close)",
        CLIENT,
        cfg.clone(),
        Some(closing),
    );
    sim.add_host(
        "server",
        "server (never closes)",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Ignore)),
    );
    sim.add_host("client2", "client (shutdown)", CLIENT2, cfg, Some(half));
    sim.run_until(secs(300))?;
    Ok(sim.finish())
}

/// The server process is killed at 1 s. The connection whose data it had read gets
/// FIN (the client sees EOF); the one with unread data gets RST (ECONNRESET).
pub fn peer_process_killed(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let info = super::find("peer-process-killed")
        .map(|s| s.summary)
        .unwrap_or("");
    let mut sim = Sim::new("peer-process-killed", info, opts.seed);
    let cfg = opts.config(Config::default())?;
    let reader = request_client(server_addr(), REQUEST, AfterReply::Nothing);
    let writer = request_client(
        server_addr(),
        b"data the server never reads\n",
        AfterReply::Nothing,
    );
    let mut listener = None;
    let server = app(move |ctx, input| match input {
        Input::Start => listener = ctx.listen(PORT, 128).ok(),
        Input::Event(Event::Acceptable { .. }) => {
            if let Some(l) = listener {
                ctx.accept_all(l);
            }
        }
        Input::Event(Event::Readable { conn }) => {
            // Only the first client's requests are read and answered.
            let from_first = ctx
                .endpoint()
                .tuple(conn)
                .is_some_and(|t| t.remote_addr == CLIENT);
            if from_first {
                if let Ok((data, _)) = ctx.recv(conn) {
                    if !data.is_empty() {
                        let _ = ctx.send(conn, REPLY);
                    }
                }
            }
        }
        _ => {}
    });
    sim.add_host(
        "client",
        "client (read by server)",
        CLIENT,
        cfg.clone(),
        Some(reader),
    );
    sim.add_host(
        "server",
        "server (killed at 1 s)",
        SERVER,
        cfg.clone(),
        Some(server),
    );
    sim.add_host(
        "client2",
        "client (unread data)",
        CLIENT2,
        cfg,
        Some(writer),
    );
    sim.kill_app(1, secs(1));
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// A SYN to port 81, where nobody listens, is answered with RST: ECONNREFUSED.
/// A second client completes its handshake with a listener that never accepts; the
/// listener is closed at 1 s and the waiting connection is reset.
pub fn port_closed(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let info = super::find("port-closed").map(|s| s.summary).unwrap_or("");
    let mut sim = Sim::new("port-closed", info, opts.seed);
    let cfg = opts.config(Config::default())?;
    let refused = request_client(SocketAddrV4::new(SERVER, 81), REQUEST, AfterReply::Nothing);
    let pending = request_client(server_addr(), b"", AfterReply::Nothing);
    let mut listener = None;
    let server = app(move |ctx, input| match input {
        Input::Start => listener = ctx.listen(PORT, 128).ok(),
        Input::Wake(_) => {
            if let Some(l) = listener.take() {
                ctx.close_listener(l);
            }
        }
        _ => {}
    });
    sim.add_host(
        "client",
        "client (port 81)",
        CLIENT,
        cfg.clone(),
        Some(refused),
    );
    sim.add_host(
        "server",
        "server (listens on 80, never accepts)",
        SERVER,
        cfg.clone(),
        Some(server),
    );
    sim.add_host("client2", "client (port 80)", CLIENT2, cfg, Some(pending));
    sim.at(secs(1), 1, |ctx| ctx.wake_after(ms(0), 0));
    sim.run_until(secs(10))?;
    Ok(sim.finish())
}
