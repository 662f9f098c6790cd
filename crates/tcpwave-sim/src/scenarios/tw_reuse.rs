//! Reusing a 4-tuple that is still in TIME_WAIT, from both ends: a new SYN reaching the
//! server's TIME_WAIT entry (RFC 6191, Linux `tcp_timewait_state_process`), and an
//! outgoing connect() taking over the client's own entry (`tcp_tw_reuse`, Linux
//! `tcp_twsk_unique`).

use std::net::Ipv4Addr;

use tcpwave::{Config, Duration, Event};
use tcpwave_trace::Trace;

use super::common::*;
use super::keepalive::new_sim;
use crate::app::{app, App, Input};

const SEQ_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const TS_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const OLD_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 13);
const REUSE_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 21);
const REUSE_NO_TS_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 22);
const REUSE_2_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 23);
/// A host: name, role, address, knobs and application.
type HostSpec = (&'static str, &'static str, Ipv4Addr, Config, Box<dyn App>);

/// The fixed port the RFC 6191 clients reconnect from.
const CLIENT_PORT: u16 = 40000;

/// Connects from `port` (0: ephemeral) at start and again at each of `retries`,
/// sending a request each time and closing once the reply (or EOF) is in.
fn client(port: u16, retries: &'static [u64]) -> Box<dyn App> {
    app(move |ctx, input| match input {
        Input::Start => {
            let _ = ctx.connect_from(port, server_addr());
            for (i, &at_ms) in retries.iter().enumerate() {
                ctx.wake_after(Duration::from_millis(at_ms), i as u64);
            }
        }
        Input::Wake(_) => {
            if let Ok(conn) = ctx.connect_from(port, server_addr()) {
                let note = format!(
                    "connect() at {} took local port {}",
                    tcpwave_trace::fmt_time(ctx.now().total_micros()),
                    ctx.endpoint().tuple(conn).map_or(0, |t| t.local_port)
                );
                ctx.saw(Some(conn), &note);
            }
        }
        Input::Event(Event::Connected { conn }) => {
            let _ = ctx.send(conn, REQUEST);
        }
        Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
            if !ctx.connections().contains(&conn) {
                return; // closed on an earlier event of the same batch
            }
            let Ok((data, eof)) = ctx.recv(conn) else {
                return;
            };
            if !data.is_empty() {
                ctx.saw(Some(conn), "reply received");
            }
            if eof || (port == 0 && !data.is_empty()) {
                ctx.close(conn);
            }
        }
        _ => {}
    })
}

/// Six clients of one server.
///
/// RFC 6191 (the server closes first and holds TIME_WAIT; each client reconnects from
/// the same port 1 s later):
/// - `client-seq` (no timestamps, ISN clock on): the new SYN's sequence number is above
///   the old RCV.NXT: TIME_WAIT gives way to a new connection;
/// - `client-ts` (timestamps, ISN clock off, so the same ISN as before): its TSval is
///   newer: accepted too;
/// - `client-old` (neither): the SYN could be an old duplicate. TIME_WAIT ACKs it with
///   the old numbers and drops it; the client (SYN_SENT) answers that ACK with an RST,
///   which ends TIME_WAIT (tcp_rfc1337=0), and its SYN retransmitted 1 s later opens
///   the connection.
///
/// `tcp_tw_reuse` (the client closes first and holds TIME_WAIT; its only ephemeral port
/// is 50000, it connects again at 0.5 s and 1.5 s):
/// - `client-reuse` (tcp_tw_reuse=1, timestamps): EADDRNOTAVAIL at 0.5 s (the entry is
///   under 1 s old), reuse at 1.5 s (TWRecycled), ISS = old SND.NXT + 65537;
/// - `client-reuse-nots` (tcp_tw_reuse=1, no timestamps): EADDRNOTAVAIL both times;
/// - `client-reuse-2` (tcp_tw_reuse=2, the default: loopback only): EADDRNOTAVAIL.
pub fn time_wait_reuse(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("time-wait-reuse", opts);
    let base = opts.config(Config::default())?;
    const CLOSES_FIRST: &[Ipv4Addr] = &[SEQ_CLIENT, TS_CLIENT, OLD_CLIENT];
    sim.add_host(
        "server",
        "server (closes first for the RFC 6191 clients)",
        SERVER,
        base.clone(),
        Some(reply_server_closing_first(
            PORT,
            REPLY,
            OnEof::Close,
            CLOSES_FIRST,
        )),
    );
    let with = |changes: &[(&str, &str)]| -> Result<Config, ScenarioError> {
        let mut cfg = Config::default();
        for (knob, value) in changes {
            cfg.set(knob, value)?;
        }
        opts.config(cfg)
    };
    let one_port = ("ip_local_port_range", "50000-50000");
    let hosts: [HostSpec; 6] = [
        (
            "client-seq",
            "RFC 6191: higher sequence number",
            SEQ_CLIENT,
            with(&[("tcp_timestamps", "0")])?,
            client(CLIENT_PORT, &[1000]),
        ),
        (
            "client-ts",
            "RFC 6191: newer timestamp",
            TS_CLIENT,
            with(&[("isn_clock", "0")])?,
            client(CLIENT_PORT, &[1000]),
        ),
        (
            "client-old",
            "RFC 6191: neither (old duplicate?)",
            OLD_CLIENT,
            with(&[("tcp_timestamps", "0"), ("isn_clock", "0")])?,
            client(CLIENT_PORT, &[1000]),
        ),
        (
            "client-reuse",
            "tcp_tw_reuse=1, timestamps",
            REUSE_CLIENT,
            with(&[one_port, ("tcp_tw_reuse", "1")])?,
            client(0, &[500, 1500]),
        ),
        (
            "client-reuse-nots",
            "tcp_tw_reuse=1, no timestamps",
            REUSE_NO_TS_CLIENT,
            with(&[one_port, ("tcp_tw_reuse", "1"), ("tcp_timestamps", "0")])?,
            client(0, &[500, 1500]),
        ),
        (
            "client-reuse-2",
            "tcp_tw_reuse=2 (loopback only)",
            REUSE_2_CLIENT,
            with(&[one_port, ("tcp_tw_reuse", "2")])?,
            client(0, &[500, 1500]),
        ),
    ];
    for (name, role, addr, cfg, app) in hosts {
        sim.add_host(name, role, addr, cfg, Some(app));
    }
    sim.run_until(secs(130))?;
    Ok(sim.finish())
}
