//! What TIME_WAIT protects against, shown side by side: one client/server pair with
//! TIME_WAIT (the linux profile) and one with TIME_WAIT disabled (`msl_ms=0`).

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{Config, Event, SockOpt};
use tcpwave_trace::Trace;

use super::common::*;
use crate::app::{app, App, Input};
use crate::net::{Rule, RuleAction, SegView};
use crate::sim::Sim;

const CLIENT_B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const SERVER_B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const CLIENT_PORT: u16 = 40000;

/// Four hosts: "client"/"server" keep TIME_WAIT, "client-no-tw"/"server-no-tw" do not.
fn two_pairs(
    name: &str,
    opts: &RunOptions,
    base: Config,
    apps: [Box<dyn App>; 4],
) -> Result<Sim, ScenarioError> {
    let info = super::find(name).map(|s| s.summary).unwrap_or("");
    let mut sim = Sim::new(name, info, opts.seed);
    let with_tw = opts.config(base)?;
    let mut without_tw = with_tw.clone();
    without_tw.set("msl_ms", "0")?;
    let [a, b, c, d] = apps;
    sim.add_host(
        "client",
        "client (TIME_WAIT on)",
        CLIENT,
        with_tw.clone(),
        Some(a),
    );
    sim.add_host("server", "server (TIME_WAIT on)", SERVER, with_tw, Some(b));
    sim.add_host(
        "client-no-tw",
        "client (TIME_WAIT off)",
        CLIENT_B,
        without_tw.clone(),
        Some(c),
    );
    sim.add_host(
        "server-no-tw",
        "server (TIME_WAIT off)",
        SERVER_B,
        without_tw,
        Some(d),
    );
    Ok(sim)
}

/// Server: sends three 6-byte pieces 1 ms apart on its first connection; on later
/// connections, answers a request 1 s later with three new pieces. Closes on EOF.
fn pieces_server() -> Box<dyn App> {
    let mut listener = None;
    let mut accepted = 0u64;
    let mut current = None;
    app(move |ctx, input| match input {
        Input::Start => listener = ctx.listen(PORT, 16).ok(),
        Input::Event(Event::Acceptable { .. }) => {
            let Some(l) = listener else { return };
            for c in ctx.accept_all(l) {
                accepted += 1;
                ctx.set_option(c, SockOpt::NoDelay(true));
                current = Some(c);
                if accepted == 1 {
                    ctx.wake_after(ms(0), 1);
                }
            }
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
            let Ok((data, eof)) = ctx.recv(conn) else {
                return;
            };
            if !data.is_empty() && accepted > 1 {
                ctx.wake_after(ms(1000), 11);
            }
            if eof {
                ctx.close(conn);
            }
        }
        Input::Wake(token) => {
            let Some(c) = current else { return };
            let (prefix, n) = if token < 10 {
                ("OLD", token)
            } else {
                ("new", token - 10)
            };
            let _ = ctx.send(c, format!("{prefix}-{n}|").as_bytes());
            if n < 3 {
                ctx.wake_after(ms(1), token + 1);
            }
        }
        _ => {}
    })
}

/// Client: reads 18 bytes on its first connection and closes; at 1 s reconnects from
/// the same port, sends a request and reports the 18 bytes it gets back.
fn pieces_client(server: SocketAddrV4) -> Box<dyn App> {
    let mut received = Vec::new();
    let mut round = 0;
    app(move |ctx, input| match input {
        Input::Start => {
            round = 1;
            let _ = ctx.connect_from(CLIENT_PORT, server);
            ctx.wake_after(ms(1000), 2);
        }
        Input::Wake(_) => {
            round = 2;
            received.clear();
            let _ = ctx.connect_from(CLIENT_PORT, server);
        }
        Input::Event(Event::Connected { conn }) if round == 2 => {
            let _ = ctx.send(conn, b"GET");
        }
        Input::Event(Event::Readable { conn }) => {
            let Ok((data, _)) = ctx.recv(conn) else {
                return;
            };
            received.extend_from_slice(&data);
            if received.len() >= 18 {
                let text = format!(
                    "connection {round} delivered {:?}",
                    String::from_utf8_lossy(&received)
                );
                ctx.saw(Some(conn), &text);
                ctx.close(conn);
            }
        }
        _ => {}
    })
}

/// A server→client data segment of the first connection is held up 1.5 s. The client
/// closes first and reconnects from the same port at 1 s. With TIME_WAIT the port is
/// still taken (EADDRNOTAVAIL) and the straggler dies in TIME_WAIT; without it the new
/// incarnation (same ISNs: `isn_clock=0`) accepts the old bytes as its own.
///
/// Linux's defaults protect the new incarnation even without TIME_WAIT: RFC 6528 ISNs
/// put it far from the old sequence numbers and RFC 7323 PAWS rejects the straggler's
/// older timestamp. The scenario turns both off to show what TIME_WAIT alone protects,
/// and its drawn description says so (`--set isn_clock=1 --set tcp_timestamps=1` shows
/// the protected case, and says that instead).
///
/// TIME_WAIT answers the straggler with an ACK, and the server, closed by then, answers
/// that ACK with an RST: with `tcp_rfc1337=0` (Linux's default) that RST would end the
/// TIME_WAIT early (RFC 1337's "TIME-WAIT assassination", hazard H1) in the very run
/// that shows TIME_WAIT protecting the tuple. The scenario sets `tcp_rfc1337=1` so
/// TIME_WAIT ignores it and lives its 60 s; `--set tcp_rfc1337=0` shows the
/// assassination, and the description says which one the run shows.
pub fn time_wait_old_duplicate(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let base = Config {
        isn_clock: false,
        tcp_timestamps: false,
        tcp_rfc1337: true,
        ..Config::default()
    };
    let description = old_duplicate_description(&opts.config(base.clone())?);
    let apps = [
        pieces_client(SocketAddrV4::new(SERVER, PORT)),
        pieces_server(),
        pieces_client(SocketAddrV4::new(SERVER_B, PORT)),
        pieces_server(),
    ];
    let mut sim = two_pairs("time-wait-old-duplicate", opts, base, apps)?;
    sim.rec.trace.description = description;
    sim.add_rule(Rule::new(
        "old segment delayed 1.5 s",
        RuleAction::Delay(ms(1500)),
        0,
        |s: &SegView| {
            s.from.starts_with("server") && s.rel_seq == 7 && s.len == 6 && s.at < secs(1)
        },
    ));
    sim.run_until(secs(130))?;
    Ok(sim.finish())
}

/// The summary, plus which of Linux's other protections are off in this run (the knobs
/// it changes from the linux profile) and how to see them at work. Short enough for the
/// SVG's subtitle (about 240 characters at four hosts).
fn old_duplicate_description(cfg: &Config) -> String {
    let summary = super::find("time-wait-old-duplicate").map_or("", |s| s.summary);
    let rfc1337 = if cfg.tcp_rfc1337 {
        "tcp_rfc1337=1"
    } else {
        "tcp_rfc1337=0: the server's RST ends TIME_WAIT early"
    };
    let note = match (cfg.isn_clock, cfg.tcp_timestamps) {
        (false, false) => {
            "isn_clock=0, tcp_timestamps=0: ISNs and PAWS stop it even without TIME_WAIT \
             (--set isn_clock=1 --set tcp_timestamps=1)"
        }
        (true, false) => {
            "isn_clock=1: the new incarnation's RFC 6528 ISN puts the old segment out of \
             its window even without TIME_WAIT"
        }
        (false, true) => {
            "tcp_timestamps=1: PAWS rejects the old segment's older timestamp even \
             without TIME_WAIT"
        }
        (true, true) => {
            "Linux defaults: RFC 6528 ISNs and PAWS reject the old segment even without \
             TIME_WAIT"
        }
    };
    format!("{summary}; {rfc1337}; {note}")
}

/// The client's final ACK is lost and it reconnects from the same port 100 ms later.
/// With TIME_WAIT the port is taken and TIME_WAIT answers the server's retransmitted
/// FIN; without it the new SYN meets the server's stale LAST_ACK connection, which
/// answers with a (challenge) ACK, gets reset, and the connect is delayed by an RTO.
pub fn no_time_wait_reconnect(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let apps = [
        reconnect_client(SocketAddrV4::new(SERVER, PORT)),
        reply_server(PORT, REPLY, OnEof::Close),
        reconnect_client(SocketAddrV4::new(SERVER_B, PORT)),
        reply_server(PORT, REPLY, OnEof::Close),
    ];
    let mut sim = two_pairs("no-time-wait-reconnect", opts, Config::default(), apps)?;
    let final_ack_seq = REQUEST.len() as u32 + 2;
    sim.add_rule(Rule::new(
        "final ACK lost",
        RuleAction::Drop,
        0,
        move |s: &SegView| {
            s.from.starts_with("client")
                && s.is("A")
                && s.rel_seq == final_ack_seq
                && s.at < secs(0) + ms(100)
        },
    ));
    sim.run_until(secs(130))?;
    Ok(sim.finish())
}

/// Request, reply, close; 100 ms after start, connect again from the same port.
fn reconnect_client(server: SocketAddrV4) -> Box<dyn App> {
    let mut round = 1;
    app(move |ctx, input| match input {
        Input::Start => {
            let _ = ctx.connect_from(CLIENT_PORT, server);
            ctx.wake_after(ms(100), 2);
        }
        Input::Wake(_) => {
            round = 2;
            let _ = ctx.connect_from(CLIENT_PORT, server);
        }
        Input::Event(Event::Connected { conn }) => {
            if round == 2 {
                ctx.saw(
                    Some(conn),
                    &format!(
                        "reconnected at {}",
                        tcpwave_trace::fmt_time(ctx.now().total_micros())
                    ),
                );
            }
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
