//! Opening and closing as the articles draw them: the three-way handshake, the
//! four-way close, half-close, simultaneous close and simultaneous open.

use std::net::SocketAddrV4;

use tcpwave::{Config, Event};
use tcpwave_trace::Trace;

use super::common::*;
use crate::app::{app, Input};
use crate::sim::Sim;

pub fn three_way_handshake(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let client = request_client(server_addr(), b"", AfterReply::Nothing);
    let server = reply_server(PORT, b"", OnEof::Close);
    let mut sim = two_hosts("three-way-handshake", opts, client, server)?;
    sim.run_until(secs(1))?;
    Ok(sim.finish())
}

/// The server application closes 100 ms after it reads EOF: longer than Linux delays the
/// ACK of a FIN in CLOSE_WAIT (40 ms), so that ACK goes alone and the close takes the four
/// segments the articles draw. See `three_segment_close` for a server that closes at once.
pub fn four_way_close(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let client = request_client(server_addr(), REQUEST, AfterReply::Close);
    let server = reply_server(PORT, REPLY, OnEof::CloseAfter(ms(100)));
    let mut sim = two_hosts("four-way-close", opts, client, server)?;
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// The same exchange with a server application that closes as soon as it reads EOF. Linux
/// `tcp_fin` puts the connection in pingpong mode on entering CLOSE_WAIT, so the ACK of the
/// client's FIN is delayed (40 ms) in the hope of riding on the answer, and the server's
/// FIN carries it: FIN -> FIN+ACK -> ACK, what most real captures show.
pub fn three_segment_close(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let client = request_client(server_addr(), REQUEST, AfterReply::Close);
    let server = reply_server(PORT, REPLY, OnEof::Close);
    let mut sim = two_hosts("three-segment-close", opts, client, server)?;
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// Client: request, then shutdown(SHUT_WR) at once; keeps reading until EOF, then closes.
/// Server: on EOF (CLOSE_WAIT) keeps sending three chunks 100 ms apart, then closes.
pub fn half_close(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let client = app(move |ctx, input| match input {
        Input::Start => {
            let _ = ctx.connect(server_addr());
        }
        Input::Event(Event::Connected { conn }) => {
            let _ = ctx.send(conn, REQUEST);
            ctx.shutdown_write(conn);
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
            if let Ok((_, true)) = ctx.recv(conn) {
                ctx.close(conn);
            }
        }
        _ => {}
    });
    let mut listener = None;
    let mut peer = None;
    let server = app(move |ctx, input| match input {
        Input::Start => listener = ctx.listen(PORT, 128).ok(),
        Input::Event(Event::Acceptable { .. }) => {
            if let Some(l) = listener {
                ctx.accept_all(l);
            }
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) if peer.is_none() => {
            if let Ok((_, true)) = ctx.recv(conn) {
                peer = Some(conn);
                ctx.wake_after(ms(100), 1);
            }
        }
        Input::Wake(n) => {
            let Some(conn) = peer else { return };
            if n <= 3 {
                let chunk = format!("chunk {n} sent from CLOSE_WAIT\n");
                let _ = ctx.send(conn, chunk.as_bytes());
                ctx.wake_after(ms(100), n + 1);
            } else {
                ctx.close(conn);
            }
        }
        _ => {}
    });
    let mut sim = two_hosts("half-close", opts, client, server)?;
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// Both applications close at the same instant, 500 ms in (after an exchange).
pub fn simultaneous_close(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let client = request_client(server_addr(), REQUEST, AfterReply::Nothing);
    let server = reply_server(PORT, REPLY, OnEof::Close);
    let mut sim = two_hosts("simultaneous-close", opts, client, server)?;
    for host in [0, 1] {
        sim.at(secs(0) + ms(500), host, |ctx| {
            for c in ctx.connections() {
                ctx.close(c);
            }
        });
    }
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// Two peers each connect() to the other's fixed port at the same instant.
pub fn simultaneous_open(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let info = super::find("simultaneous-open")
        .map(|s| s.summary)
        .unwrap_or("");
    let mut sim = Sim::new("simultaneous-open", info, opts.seed);
    let cfg = opts.config(Config::default())?;
    let (a_port, b_port) = (5000, 6000);
    let peer_a = app(move |ctx, input| {
        if let Input::Start = input {
            let _ = ctx.connect_from(a_port, SocketAddrV4::new(SERVER, b_port));
        }
    });
    let peer_b = app(move |ctx, input| {
        if let Input::Start = input {
            let _ = ctx.connect_from(b_port, SocketAddrV4::new(CLIENT, a_port));
        }
    });
    sim.add_host("peer-a", "peer", CLIENT, cfg.clone(), Some(peer_a));
    sim.add_host("peer-b", "peer", SERVER, cfg, Some(peer_b));
    sim.run_until(secs(5))?;
    Ok(sim.finish())
}
