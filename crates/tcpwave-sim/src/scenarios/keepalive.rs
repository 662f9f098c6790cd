//! Peers that go away: keepalive against a dead and a live peer (RFC 1122 §4.2.3.6),
//! a peer that crashes while we send (retransmissions until `tcp_retries2`, RFC 9293
//! §3.8.3 R2), one that reboots with no memory of us (RST, RFC 9293 §3.10.7.1), and a
//! network outage that heals in time or too late.

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{Config, Duration, Instant, SockOpt};
use tcpwave_trace::Trace;

use super::common::*;
use crate::app::App;
use crate::sim::Sim;

pub(super) const CLIENT2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
pub(super) const CLIENT3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);
pub(super) const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);
const CLIENT5: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 6);
const SERVER2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);

/// An empty simulation named after a registered scenario.
pub(super) fn new_sim(name: &str, opts: &RunOptions) -> Sim {
    let info = super::find(name).map(|s| s.summary).unwrap_or("");
    Sim::new(name, info, opts.seed)
}

/// A client that connects and then only does what the scenario scripts with `sim.at`.
pub(super) fn idle_client() -> Box<dyn App> {
    request_client(server_addr(), b"", AfterReply::Nothing)
}

/// A client that sends one request, reads the reply and stays connected.
fn asking_client() -> Box<dyn App> {
    request_client(server_addr(), REQUEST, AfterReply::Nothing)
}

/// Set socket options on every connection the host's application holds, at `at`.
pub(super) fn set_options(sim: &mut Sim, host: usize, at: Instant, options: Vec<SockOpt>) {
    sim.at(at, host, move |ctx| {
        for conn in ctx.connections() {
            for &option in &options {
                ctx.set_option(conn, option);
            }
        }
    });
}

/// The host's application writes `data` on every connection it holds, at `at`.
pub(super) fn send_at(sim: &mut Sim, host: usize, at: Instant, data: &'static [u8]) {
    sim.at(at, host, move |ctx| {
        for conn in ctx.connections() {
            let _ = ctx.send(conn, data);
        }
    });
}

/// The host's application writes `data` and closes every connection it holds, at `at`.
fn send_and_close_at(sim: &mut Sim, host: usize, at: Instant, data: &'static [u8]) {
    sim.at(at, host, move |ctx| {
        for conn in ctx.connections() {
            let _ = ctx.send(conn, data);
            ctx.close(conn);
        }
    });
}

fn secs_d(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The server host vanishes at 10 s. Three idle clients with SO_KEEPALIVE:
/// - `client`: the sysctls (7200 s idle, a probe every 75 s, 9 probes): RST and
///   ETIMEDOUT 7875 s after the last segment it received;
/// - `client2`: TCP_KEEPIDLE 60 s, TCP_KEEPINTVL 10 s, TCP_KEEPCNT 3: ETIMEDOUT at 90 s;
/// - `client3`: the same plus TCP_USER_TIMEOUT 100 s, which replaces the probe count
///   (Linux `tcp_keepalive_timer`): ETIMEDOUT at the first check 100 s after the last
///   segment, after 5 probes.
pub fn keepalive_dead_peer(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("keepalive-dead-peer", opts);
    let cfg = opts.config(Config::default())?;
    let c1 = sim.add_host(
        "client",
        "client (SO_KEEPALIVE, sysctl defaults)",
        CLIENT,
        cfg.clone(),
        Some(asking_client()),
    );
    let server = sim.add_host(
        "server",
        "server (vanishes at 10 s)",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    let c2 = sim.add_host(
        "client2",
        "client (KEEPIDLE 60 s, KEEPINTVL 10 s, KEEPCNT 3)",
        CLIENT2,
        cfg.clone(),
        Some(asking_client()),
    );
    let c3 = sim.add_host(
        "client3",
        "client (as client2, TCP_USER_TIMEOUT 100 s)",
        CLIENT3,
        cfg,
        Some(asking_client()),
    );
    let short = vec![
        SockOpt::KeepAlive(true),
        SockOpt::KeepIdle(secs_d(60)),
        SockOpt::KeepIntvl(secs_d(10)),
        SockOpt::KeepCnt(3),
    ];
    let mut with_user_timeout = short.clone();
    with_user_timeout.push(SockOpt::UserTimeout(secs_d(100)));
    set_options(&mut sim, c1, Instant::ZERO, vec![SockOpt::KeepAlive(true)]);
    set_options(&mut sim, c2, Instant::ZERO, short);
    set_options(&mut sim, c3, Instant::ZERO, with_user_timeout);
    sim.crash(server, secs(10));
    sim.run_until(secs(8000))?;
    Ok(sim.finish())
}

/// An idle connection with SO_KEEPALIVE to a live peer: every 7200 s of silence a probe
/// (SEQ = SND.UNA − 1, no data) draws an ACK, which restarts the idle timer. After three
/// probes the connection is still ESTABLISHED. `client2` turns SO_KEEPALIVE on only
/// at 1000 s: as in Linux (tcp_set_keepalive) its first probe comes 7200 s after that,
/// not 7200 s after the last segment.
pub fn keepalive_alive_peer(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("keepalive-alive-peer", opts);
    let cfg = opts.config(Config::default())?;
    let client = sim.add_host(
        "client",
        "client (SO_KEEPALIVE)",
        CLIENT,
        cfg.clone(),
        Some(asking_client()),
    );
    sim.add_host(
        "server",
        "server (alive, idle)",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    let late = sim.add_host(
        "client2",
        "client (SO_KEEPALIVE from 1000 s)",
        CLIENT2,
        cfg,
        Some(asking_client()),
    );
    set_options(
        &mut sim,
        client,
        Instant::ZERO,
        vec![SockOpt::KeepAlive(true)],
    );
    set_options(&mut sim, late, secs(1000), vec![SockOpt::KeepAlive(true)]);
    sim.run_until(secs(3 * 7200 + 60))?;
    Ok(sim.finish())
}

/// The server host dies at 1 s, with nothing sent.
/// - `client` writes 100 bytes at 2 s: retransmissions back off exponentially up to
///   `rto_max` and stop when `tcp_retries2` (15) worth of RTOs have passed, modelled as
///   Linux does (924.6 s from 200 ms): ETIMEDOUT, no RST.
/// - `client2` writes and closes at 2 s: the orphan gives up after
///   `tcp_orphan_retries` (0 means 8: 102.2 s), silently.
/// - `client3` connects to the dead host at 5 s: `tcp_syn_retries` (6) SYNs, ETIMEDOUT
///   127 s later.
/// - `client4` writes at 2 s with TCP_USER_TIMEOUT 30 s: the last RTO is cut short so
///   that ETIMEDOUT comes exactly 30 s after the write (Linux
///   `tcp_clamp_rto_to_user_timeout`).
/// - `client5` dies 5 ms after sending its SYN to `server2`: the half-open connection
///   resends its SYN-ACK `tcp_synack_retries` (5) times and is dropped 63 s after the
///   first.
pub fn peer_crash(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("peer-crash", opts);
    let cfg = opts.config(Config::default())?;
    let c1 = sim.add_host(
        "client",
        "client (writes at 2 s)",
        CLIENT,
        cfg.clone(),
        Some(idle_client()),
    );
    let server = sim.add_host(
        "server",
        "server (dies at 1 s)",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    let c2 = sim.add_host(
        "client2",
        "client (writes and closes at 2 s)",
        CLIENT2,
        cfg.clone(),
        Some(idle_client()),
    );
    let late = crate::app::app({
        let mut started = false;
        move |ctx, input| {
            if let crate::app::Input::Wake(_) = input {
                if !started {
                    started = true;
                    let _ = ctx.connect(server_addr());
                }
            }
        }
    });
    let c3 = sim.add_host(
        "client3",
        "client (connects at 5 s)",
        CLIENT3,
        cfg.clone(),
        Some(late),
    );
    let c4 = sim.add_host(
        "client4",
        "client (TCP_USER_TIMEOUT 30 s, writes at 2 s)",
        CLIENT4,
        cfg.clone(),
        Some(idle_client()),
    );
    set_options(
        &mut sim,
        c4,
        Instant::ZERO,
        vec![SockOpt::UserTimeout(secs_d(30))],
    );
    // A client that dies right after its SYN, toward a second, live server: the
    // half-open SYN_RECEIVED resends its SYN-ACK `tcp_synack_retries` (5) times.
    let server2 = SocketAddrV4::new(SERVER2, PORT);
    let c5 = sim.add_host(
        "client5",
        "client (dies after its SYN)",
        CLIENT5,
        cfg.clone(),
        Some(request_client(server2, REQUEST, AfterReply::Nothing)),
    );
    sim.add_host(
        "server2",
        "server (alive)",
        SERVER2,
        cfg,
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    sim.crash(c5, Instant::from_micros(5_000));
    sim.crash(server, secs(1));
    send_at(&mut sim, c4, secs(2), &[b'z'; 100]);
    send_at(&mut sim, c1, secs(2), &[b'x'; 100]);
    send_and_close_at(&mut sim, c2, secs(2), &[b'y'; 100]);
    sim.at(secs(5), c3, |ctx| ctx.wake_after(Duration::ZERO, 0));
    sim.run_until(secs(1000))?;
    Ok(sim.finish())
}

/// The server host dies at 1 s and is back at 30 s with no memory of the connections.
/// `client` writes at 60 s: the rebooted host answers <SEQ=SEG.ACK><CTL=RST> (RFC 9293
/// §3.10.7.1), which is exactly RCV.NXT: ECONNRESET. `client2` stays idle with
/// SO_KEEPALIVE (TCP_KEEPIDLE 120 s): its first probe draws the RST.
pub fn peer_crash_reboot(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let mut sim = new_sim("peer-crash-reboot", opts);
    let cfg = opts.config(Config::default())?;
    let c1 = sim.add_host(
        "client",
        "client (writes at 60 s)",
        CLIENT,
        cfg.clone(),
        Some(asking_client()),
    );
    let server = sim.add_host(
        "server",
        "server (dies at 1 s, back at 30 s)",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    sim.set_app_factory(server, || reply_server(PORT, REPLY, OnEof::Close));
    let c2 = sim.add_host(
        "client2",
        "client (idle, KEEPIDLE 120 s)",
        CLIENT2,
        cfg,
        Some(asking_client()),
    );
    let keepalive = vec![SockOpt::KeepAlive(true), SockOpt::KeepIdle(secs_d(120))];
    set_options(&mut sim, c2, Instant::ZERO, keepalive);
    sim.crash(server, secs(1));
    sim.restart(server, secs(30));
    send_at(&mut sim, c1, secs(60), b"are you there?\n");
    sim.run_until(secs(300))?;
    Ok(sim.finish())
}

/// The path between the server and three clients is cut at 10 s.
/// - `client-idle` has nothing to say: its connection survives an outage of 1090 s
///   untouched and works again at 1200 s (no keepalive: nobody noticed).
/// - `client-short` writes at 20 s; the path heals at 70 s, the next retransmission
///   (at 76.1 s) gets through and the reply follows.
/// - `client-long` writes at 20 s; the path is cut until 1100 s, so retransmissions run
///   out first: ETIMEDOUT 945 s after the write.
pub fn network_outage_recovery(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    const IDLE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const SHORT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
    const LONG: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);
    let mut sim = new_sim("network-outage-recovery", opts);
    let cfg = opts.config(Config::default())?;
    let server = sim.add_host(
        "server",
        "server",
        SERVER,
        cfg.clone(),
        Some(reply_server(PORT, REPLY, OnEof::Close)),
    );
    let mut clients = Vec::new();
    for (name, role, addr) in [
        ("client-idle", "client (idle; outage 10-1100 s)", IDLE),
        (
            "client-short",
            "client (writes at 20 s; outage 10-70 s)",
            SHORT,
        ),
        (
            "client-long",
            "client (writes at 20 s; outage 10-1100 s)",
            LONG,
        ),
    ] {
        let app = request_client(
            SocketAddrV4::new(SERVER, PORT),
            REQUEST,
            AfterReply::Nothing,
        );
        clients.push(sim.add_host(name, role, addr, cfg.clone(), Some(app)));
    }
    let [idle, short, long] = [clients[0], clients[1], clients[2]];
    sim.partition(idle, server, secs(10), secs(1100));
    sim.partition(short, server, secs(10), secs(70));
    sim.partition(long, server, secs(10), secs(1100));
    send_at(&mut sim, short, secs(20), b"second request\n");
    send_at(&mut sim, long, secs(20), b"second request\n");
    send_at(&mut sim, idle, secs(1200), b"after the outage\n");
    sim.run_until(secs(1300))?;
    Ok(sim.finish())
}
