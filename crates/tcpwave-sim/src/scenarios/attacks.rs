//! Resets, wanted and unwanted: abortive close (SO_LINGER {on, 0}), close() with unread
//! data (RFC 2525 §2.17), blind injection against an established connection (RFC 5961),
//! and an RST that assassinates TIME_WAIT (RFC 1337) with and without `tcp_rfc1337`.

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::wire::{self, TcpFlags, TcpOptions, TcpRepr};
use tcpwave::{Config, Duration, Event, FourTuple, SeqNumber, SockOpt, State};
use tcpwave_trace::{Body, Trace};

use super::common::*;
use super::keepalive::{new_sim, send_at, set_options, CLIENT2};
use crate::app::{app, App, Input};
use crate::net::{Rule, RuleAction, SegView};
use crate::sim::Sim;

const ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);

/// How long client2 waits after its shutdown(SHUT_WR) before SO_LINGER {on, 0} and
/// close(): long enough for the server's (delayed) ACK of its FIN, so the reset comes
/// from FIN_WAIT_2.
const LINGER_AFTER_SHUTDOWN_MS: u64 = 100;
/// How long the server takes to close after it read end of file: longer than client2
/// waits, so that client2 closes first and its reset finds the server in CLOSE_WAIT.
const SERVER_CLOSE_AFTER_EOF_MS: u64 = 200;

/// Once the reply is in: shutdown(SHUT_WR) (our FIN goes out; FIN_WAIT_1, FIN_WAIT_2
/// when the server ACKs it), then SO_LINGER {on, 0} and close().
fn lingering_after_shutdown() -> Box<dyn App> {
    app(move |ctx, input| match input {
        Input::Start => {
            let _ = ctx.connect(server_addr());
        }
        Input::Event(Event::Connected { conn }) => {
            let _ = ctx.send(conn, REQUEST);
        }
        Input::Event(Event::Readable { conn }) => {
            if let Ok((data, _)) = ctx.recv(conn) {
                if !data.is_empty() && ctx.state(conn) == Some(State::Established) {
                    ctx.shutdown_write(conn);
                    ctx.wake_after(Duration::from_millis(LINGER_AFTER_SHUTDOWN_MS), 0);
                }
            }
        }
        Input::Wake(_) => {
            for conn in ctx.connections() {
                ctx.set_option(conn, SockOpt::Linger(Some(Duration::ZERO)));
                ctx.close(conn);
            }
        }
        _ => {}
    })
}

/// Client: request; once the reply is in, SO_LINGER {on, 0} and close(): RST at
/// SND.NXT instead of FIN, no TIME_WAIT anywhere. The server learns ECONNRESET.
///
/// `client2` shuts down its side first (its FIN goes out, the server moves to
/// CLOSE_WAIT and takes its time to close) and then closes with SO_LINGER {on, 0} from
/// FIN_WAIT_2: Linux `tcp_disconnect` still resets (`tcp_need_reset` covers FIN_WAIT_2),
/// so an RST follows the FIN, the server's CLOSE_WAIT ends on it, and neither side
/// holds TIME_WAIT.
pub fn abortive_close(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("abortive-close", opts);
    let cfg = opts.config(Config::default())?;
    let client = sim.add_host(
        "client",
        "client (SO_LINGER {on, 0})",
        CLIENT,
        cfg.clone(),
        Some(request_client(server_addr(), REQUEST, AfterReply::Close)),
    );
    sim.add_host(
        "server",
        "server",
        SERVER,
        cfg.clone(),
        Some(reply_server(
            PORT,
            REPLY,
            OnEof::CloseAfter(Duration::from_millis(SERVER_CLOSE_AFTER_EOF_MS)),
        )),
    );
    sim.add_host(
        "client2",
        "client (shutdown, then SO_LINGER {on, 0})",
        CLIENT2,
        cfg,
        Some(lingering_after_shutdown()),
    );
    let linger_zero = vec![SockOpt::Linger(Some(Duration::ZERO))];
    set_options(&mut sim, client, tcpwave::Instant::ZERO, linger_zero);
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// A client that sends its request and closes at 1 s, having read what arrived or not.
fn closing_client(read: bool) -> Box<dyn App> {
    app(move |ctx, input| match input {
        Input::Start => {
            let _ = ctx.connect(server_addr());
            ctx.wake_after(secs_d(1), 0);
        }
        Input::Event(Event::Connected { conn }) => {
            let _ = ctx.send(conn, REQUEST);
        }
        Input::Event(Event::Readable { conn }) if read => {
            let _ = ctx.recv(conn);
        }
        Input::Wake(_) => {
            for conn in ctx.connections() {
                ctx.close(conn);
            }
        }
        _ => {}
    })
}

fn secs_d(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Two clients get the same reply and close at 1 s. `client` never read it: close()
/// sends RST (RFC 2525 §2.17, TCPAbortOnClose) and the server sees ECONNRESET, so it
/// knows its reply was not consumed. `client2` read it: a normal FIN close.
pub fn close_with_unread_data(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("close-with-unread-data", opts);
    let cfg = opts.config(Config::default())?;
    sim.add_host(
        "client",
        "client (never reads)",
        CLIENT,
        cfg.clone(),
        Some(closing_client(false)),
    );
    sim.add_host(
        "server",
        "server",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    sim.add_host(
        "client2",
        "client (reads the reply)",
        CLIENT2,
        cfg,
        Some(closing_client(true)),
    );
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}

/// A segment an attacker forges, claiming to come from `src`, with an optional
/// timestamps option (TSval, TSecr).
pub(super) fn forge(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    flags: TcpFlags,
    seq: SeqNumber,
    ack: SeqNumber,
    payload: &[u8],
    timestamps: Option<(u32, u32)>,
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq,
        ack,
        flags,
        window: 1024,
        urgent: 0,
        options: TcpOptions {
            timestamps,
            ..TcpOptions::default()
        },
    };
    let mut buf = vec![0u8; 128 + payload.len()];
    let len = wire::emit_ipv4_tcp(*src.ip(), *dst.ip(), 64, 0x1337, &repr, payload, &mut buf)
        .expect("a forged segment fits its buffer");
    buf.truncate(len);
    buf
}

/// The TSval of the last segment `host` sent, read from the trace so far.
fn last_tsval(sim: &Sim, host: &str) -> Option<u32> {
    sim.rec
        .trace
        .events
        .iter()
        .rev()
        .find_map(|e| match &e.body {
            Body::Send(s) if e.host == host => wire::parse_ipv4_tcp(&s.packet)
                .ok()
                .and_then(|(_, tcp, _)| tcp.options.timestamps)
                .map(|(tsval, _)| tsval),
            _ => None,
        })
}

/// At 2 s, an RST at exactly RCV.NXT of `host`'s TIME_WAIT entry, carrying a timestamp
/// older than the last one its peer sent: an old duplicate, which PAWS rejects.
fn inject_old_rst(sim: &mut Sim, host: usize, peer: &str) -> Result<(), ScenarioError> {
    sim.run_until(secs(2))?;
    let entry = sim
        .endpoint(host)
        .snapshot()
        .into_iter()
        .find(|s| s.state == State::TimeWait);
    let Some(entry) = entry else { return Ok(()) };
    let tuple = FourTuple::new(entry.local, entry.remote);
    let (Some(rcv_nxt), Some(tsval)) = (
        sim.endpoint(host)
            .info_by_tuple(&tuple)
            .and_then(|info| info.rcv_nxt),
        last_tsval(sim, peer),
    ) else {
        return Ok(());
    };
    let old = Some((tsval.wrapping_sub(1000), 0));
    let rst = forge(
        tuple.remote(),
        tuple.local(),
        TcpFlags::RST,
        rcv_nxt,
        SeqNumber(0),
        &[],
        old,
    );
    let attacker = sim.host_index("attacker")?;
    sim.inject(secs(2), attacker, rst);
    Ok(())
}

/// The server's end of its only established connection.
fn established_tuple(sim: &Sim, server: usize) -> Option<FourTuple> {
    sim.endpoint(server)
        .snapshot()
        .iter()
        .find(|s| s.state == State::Established)
        .map(|s| FourTuple::new(s.local, s.remote))
}

/// One forged segment against the server's connection, computed from its RCV.NXT and
/// SND.UNA at the time: (flags, SEQ, ACK, payload length).
type Attack = fn(SeqNumber, SeqNumber) -> (TcpFlags, SeqNumber, SeqNumber, usize);

/// The attack script: (second, copies, segment). The server's receive window is 64 KiB
/// and more, so +1000 is inside it and +2^30 is not.
const ATTACKS: &[(u64, usize, Attack)] = &[
    // RST in the window but not at RCV.NXT (RFC 5961 §3.2).
    (1, 1, |r, u| (TcpFlags::RST, r + 1000u32, u, 0)),
    // RST outside the window: dropped silently.
    (2, 1, |r, u| (TcpFlags::RST, r + (1u32 << 30), u, 0)),
    // SYN in and out of the window (RFC 5961 §4.2).
    (3, 1, |r, u| (TcpFlags::SYN, r + 1000u32, u, 0)),
    (4, 1, |r, u| (TcpFlags::SYN, r + (1u32 << 30), u, 0)),
    // Data acknowledging below SND.UNA - MAX.SND.WND (RFC 5961 §5.2).
    (5, 1, |r, u| {
        (TcpFlags::ACK | TcpFlags::PSH, r, u - (1u32 << 30), 16)
    }),
    // A burst of in-window RSTs against the challenge ACK rate limit (RFC 5961 §7; Linux
    // tcp_invalid_ratelimit, per connection).
    (6, 5, |r, u| (TcpFlags::RST, r + 2000u32, u, 0)),
    // The one that works: RST exactly at RCV.NXT.
    (8, 1, |r, u| (TcpFlags::RST, r, u, 0)),
];

/// A long-lived connection (the server listens, the client asked once). From 1 s an
/// attacker who knows the 4-tuple but not the sequence numbers forges segments as the
/// client: an in-window RST, an out-of-window RST, SYNs in and out of the window, data
/// with an impossible ACK. The server answers the in-window RST, both SYNs and the
/// data with a challenge ACK (RFC 5961 §3.2, §4.2, §5.2; sent to the real client,
/// which ignores it) and drops the out-of-window RST silently: the connection lives.
/// At 6 s a burst of five in-window RSTs meets the rate limit: Linux (6.0 and later)
/// sends at most one challenge ACK per connection per `tcp_invalid_ratelimit` (500 ms),
/// its endpoint-wide `tcp_challenge_ack_limit` being off by default, so one challenge ACK
/// goes out and four are skipped (TCPACKSkippedChallenge). At 8 s an RST exactly at
/// RCV.NXT resets the server side (ECONNRESET); the client learns it with its next write
/// at 9 s, which draws an RST from the server's closed tuple.
pub fn blind_reset_attack(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("blind-reset-attack", opts);
    let base = opts.config(Config::default())?;
    let client = sim.add_host(
        "client",
        "client",
        CLIENT,
        base.clone(),
        Some(request_client(server_addr(), REQUEST, AfterReply::Nothing)),
    );
    let server = sim.add_host(
        "server",
        "server",
        SERVER,
        base.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    let attacker = sim.add_host("attacker", "off-path attacker", ATTACKER, base, None);
    sim.run_until(secs(1))?;
    // The attacker knows the 4-tuple, not the numbers; the script reads them to aim.
    let Some(tuple) = established_tuple(&sim, server) else {
        return Ok(sim.finish());
    };
    for &(at_s, copies, attack) in ATTACKS {
        sim.run_until(secs(at_s))?;
        let Some(info) = sim.endpoint(server).info_by_tuple(&tuple) else {
            break;
        };
        let Some(rcv_nxt) = info.rcv_nxt else { break };
        let (flags, seq, ack, len) = attack(rcv_nxt, info.snd_una);
        let payload = &[b'!'; 16][..len];
        for _ in 0..copies {
            let packet = forge(
                tuple.remote(),
                tuple.local(),
                flags,
                seq,
                ack,
                payload,
                None,
            );
            sim.inject(secs(at_s), attacker, packet);
        }
    }
    send_at(&mut sim, client, secs(9), b"still there?\n");
    sim.run_until(secs(20))?;
    Ok(sim.finish())
}

const CLIENT_1337: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const SERVER_1337: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// First, at 2 s, an RST at exactly the entry's RCV.NXT but with an old timestamp (a
/// stale duplicate) reaches `client`'s TIME_WAIT: PAWS rejects it (Linux
/// `tcp_paws_reject`, RST or not, while TS.Recent is under 60 s old) and the entry lives.
///
/// Two client/server pairs, `tcp_rfc1337=0` (Linux's default) and `=1`. Each server's
/// reply is held up 3 s in the network; the server retransmits it after an RTO, the
/// client reads it and closes first, so the client holds TIME_WAIT. At 3 s the held-up
/// original arrives, an old duplicate (RFC 1337's hazard H1): TIME_WAIT ACKs it (and
/// restarts 2MSL), the server, which has closed, answers that ACK with an RST at
/// exactly the TIME_WAIT's RCV.NXT. With rfc1337=0 the RST kills TIME_WAIT at once (no
/// counter says so, in Linux either: TWKilled counts short TIME_WAITs); with rfc1337=1
/// it is ignored and TIME_WAIT lasts its 60 s.
pub fn time_wait_assassination(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("time-wait-assassination", opts);
    let mut off = opts.config(Config::default())?;
    off.tcp_rfc1337 = false;
    let mut on = off.clone();
    on.tcp_rfc1337 = true;
    for (suffix, role, cfg, client, server) in [
        ("", "tcp_rfc1337=0", off, CLIENT, SERVER),
        ("-1337", "tcp_rfc1337=1", on, CLIENT_1337, SERVER_1337),
    ] {
        let dst = SocketAddrV4::new(server, PORT);
        sim.add_host(
            &format!("client{suffix}"),
            &format!("client ({role})"),
            client,
            cfg.clone(),
            Some(request_client(dst, REQUEST, AfterReply::Close)),
        );
        sim.add_host(
            &format!("server{suffix}"),
            &format!("server ({role})"),
            server,
            cfg,
            Some(reply_server(PORT, REPLY, OnEof::Close)),
        );
    }
    let reply_len = REPLY.len() as u32;
    for server in ["server", "server-1337"] {
        // Only the first transmission of the reply is held up (nth = 1).
        sim.add_rule(Rule::new(
            "reply held up 3 s",
            RuleAction::Delay(secs_d(3)),
            1,
            move |s: &SegView| s.from == server && s.len == reply_len,
        ));
    }
    let attacker_cfg = opts.config(Config::default())?;
    sim.add_host(
        "attacker",
        "old duplicate RST",
        ATTACKER,
        attacker_cfg,
        None,
    );
    let client = sim.host_index("client")?;
    inject_old_rst(&mut sim, client, "server")?;
    sim.run_until(secs(120))?;
    Ok(sim.finish())
}
