//! Port exhaustion: a client opening short connections to one server ip:port and
//! closing first keeps each local port for the connection's life plus TIME_WAIT (60 s),
//! so once `ip_local_port_range` (28232 ports) is spent connect() fails with
//! EADDRNOTAVAIL, and the client sustains at most ports / (lifetime + 60 s) ≈ 470 new
//! connections per second. Four remedies, each run on its own: `tcp_tw_reuse=1`, a
//! second source address, keep-alive pooling, and the server closing first.
//!
//! The runs are large (tens of thousands of connections): they record only the first
//! connection and the moments that matter, and report figures (`Sim::figure`). The
//! variants run on threads of their own; each is a deterministic simulation.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcpwave::{Config, ConnId, Event, Instant, State};
use tcpwave_trace::{Figure, HostCounters, Trace};

use super::common::*;
use super::http::{close_once, http_server, request_bytes, response_len, Buffers};
use super::keepalive::new_sim;
use crate::app::{App, AppCtx, Input};

const BODY: &[u8] = b"ok\n";

/// What a load-generating client does.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadParams {
    /// Requests per second from one client host, after the first one at 0 s.
    pub rate_per_s: f64,
    /// When the steady requests begin (the first request goes alone at 0 s, to be drawn).
    pub warmup_s: f64,
    /// No request is made at or after this time.
    pub until_s: f64,
    /// Requests one connection carries (1: a connection per request; more: keep-alive).
    pub requests_per_conn: u32,
    /// The server closes first (its last response says `Connection: close`), so it holds
    /// TIME_WAIT; otherwise the client closes first and holds it.
    pub server_closes_first: bool,
}

/// What a load-generating client saw.
#[derive(Clone, Debug, Default)]
pub struct LoadStats {
    pub requests: u64,
    pub responses: u64,
    /// connect() calls.
    pub attempts: u64,
    /// connect() calls that got a port.
    pub opened: u64,
    /// connect() calls that failed with EADDRNOTAVAIL (the request is dropped).
    pub failures: u64,
    /// The first EADDRNOTAVAIL, and how many connections had been opened before it.
    pub first_failure: Option<(Instant, u64)>,
    /// The first successful connect() after a failure: a port came free.
    pub first_reopen: Option<Instant>,
    /// Connections opened in each second of the run.
    pub opened_per_second: Vec<u32>,
}

impl LoadStats {
    /// Mean connections opened per second over [from_s, from_s + len_s).
    pub fn opened_rate(&self, from_s: usize, len_s: usize) -> Option<f64> {
        let window = self.opened_per_second.get(from_s..from_s + len_s)?;
        Some(window.iter().map(|&n| f64::from(n)).sum::<f64>() / len_s as f64)
    }
}

#[derive(Default)]
struct Slot {
    established: bool,
    /// Requests this connection may still carry.
    remaining: u32,
    /// Sent and not answered.
    outstanding: u32,
    /// Waiting for the handshake.
    queued: u32,
}

/// Makes requests at a steady rate; reuses an idle connection with requests left when
/// there is one, else opens a new one.
struct LoadClient {
    server: SocketAddrV4,
    params: LoadParams,
    stats: Rc<RefCell<LoadStats>>,
    conns: BTreeMap<ConnId, Slot>,
    buffers: Buffers,
    /// Record the first EADDRNOTAVAIL and the first connect() after it for the diagram.
    draw: bool,
    /// Draw the next successful connect() (the first after a failure).
    draw_reopen: bool,
}

impl LoadClient {
    fn tick_at(&self, tick: u64) -> Instant {
        let offset_s = self.params.warmup_s + tick as f64 / self.params.rate_per_s;
        Instant::from_micros((offset_s * 1e6).round() as u64)
    }

    fn schedule(&self, ctx: &mut AppCtx<'_>, tick: u64) {
        let at = self.tick_at(tick);
        if at.total_micros() as f64 >= self.params.until_s * 1e6 {
            return;
        }
        ctx.wake_after(at.saturating_since(ctx.now()), tick);
    }

    fn send_request(&mut self, ctx: &mut AppCtx<'_>, conn: ConnId) {
        let Some(slot) = self.conns.get_mut(&conn) else {
            return;
        };
        slot.remaining = slot.remaining.saturating_sub(1);
        slot.outstanding += 1;
        let close = slot.remaining == 0 && self.params.server_closes_first;
        let _ = ctx.send(conn, &request_bytes("/", "HTTP/1.1", close));
    }

    fn request(&mut self, ctx: &mut AppCtx<'_>) {
        self.stats.borrow_mut().requests += 1;
        let idle = self
            .conns
            .iter()
            .find(|(_, s)| s.established && s.outstanding == 0 && s.remaining > 0)
            .map(|(&c, _)| c);
        if let Some(conn) = idle {
            return self.send_request(ctx, conn);
        }
        self.connect(ctx);
    }

    fn connect(&mut self, ctx: &mut AppCtx<'_>) {
        let now = ctx.now();
        let mut stats = self.stats.borrow_mut();
        stats.attempts += 1;
        match ctx.connect(self.server) {
            Ok(conn) => {
                stats.opened += 1;
                let second = (now.total_micros() / 1_000_000) as usize;
                if stats.opened_per_second.len() <= second {
                    stats.opened_per_second.resize(second + 1, 0);
                }
                stats.opened_per_second[second] += 1;
                if stats.failures > 0 && stats.first_reopen.is_none() {
                    stats.first_reopen = Some(now);
                    self.draw_reopen = self.draw;
                }
                let slot = Slot {
                    remaining: self.params.requests_per_conn.max(1),
                    queued: 1,
                    ..Slot::default()
                };
                self.conns.insert(conn, slot);
                if self.draw_reopen {
                    self.draw_reopen = false;
                    let text = format!(
                        "a port came free: connect() succeeds again ({} connections opened, {} EADDRNOTAVAIL so far)",
                        stats.opened, stats.failures
                    );
                    drop(stats);
                    ctx.set_recording(true);
                    ctx.saw(Some(conn), &text);
                    ctx.set_recording(false);
                }
            }
            Err(_) => {
                stats.failures += 1;
                if stats.first_failure.is_none() {
                    stats.first_failure = Some((now, stats.opened));
                    let text = format!(
                        "connect({}) failed: EADDRNOTAVAIL, the first, after {} connections: every port toward it is in use or in TIME_WAIT",
                        self.server, stats.opened
                    );
                    drop(stats);
                    if self.draw {
                        ctx.set_recording(true);
                        ctx.saw(None, &text);
                        ctx.set_recording(false);
                    }
                }
            }
        }
    }

    fn on_data(&mut self, ctx: &mut AppCtx<'_>, conn: ConnId) {
        let Some((buf, eof)) = self.buffers.read(ctx, conn) else {
            return;
        };
        let mut answered = 0;
        while let Some(len) = response_len(buf) {
            buf.drain(..len);
            answered += 1;
        }
        self.stats.borrow_mut().responses += answered;
        let Some(slot) = self.conns.get_mut(&conn) else {
            return;
        };
        slot.outstanding = slot.outstanding.saturating_sub(answered as u32);
        let spent = slot.remaining == 0 && slot.outstanding == 0;
        if eof || (spent && !self.params.server_closes_first) {
            self.conns.remove(&conn);
            close_once(ctx, &mut self.buffers, conn);
        }
    }
}

impl App for LoadClient {
    fn handle(&mut self, ctx: &mut AppCtx<'_>, input: Input) {
        match input {
            Input::Start => {
                self.request(ctx);
                self.schedule(ctx, 0);
            }
            Input::Wake(tick) => {
                self.request(ctx);
                self.schedule(ctx, tick + 1);
            }
            Input::Event(Event::Connected { conn }) => {
                let queued = self.conns.get_mut(&conn).map_or(0, |s| {
                    s.established = true;
                    std::mem::take(&mut s.queued)
                });
                for _ in 0..queued {
                    self.send_request(ctx, conn);
                }
            }
            Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
                self.on_data(ctx, conn)
            }
            Input::Event(Event::Error { conn, .. }) => {
                self.conns.remove(&conn);
                close_once(ctx, &mut self.buffers, conn);
            }
            _ => {}
        }
    }
}

pub(super) fn load_client(
    server: SocketAddrV4,
    params: LoadParams,
    stats: Rc<RefCell<LoadStats>>,
    draw: bool,
) -> Box<dyn App> {
    Box::new(LoadClient {
        server,
        params,
        stats,
        conns: BTreeMap::new(),
        buffers: Buffers::default(),
        draw,
        draw_reopen: false,
    })
}

/// One port-exhaustion run: the workload and the client's knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct ExhaustionParams {
    /// Requests per second, all source addresses together.
    pub load: LoadParams,
    /// Source addresses (client hosts) sharing the load evenly.
    pub sources: u32,
    /// Knobs for every host on top of the user's `--set` (e.g. `ip_local_port_range`).
    pub settings: Vec<(String, String)>,
    /// Run this long (a little past the last request).
    pub run_s: u64,
    /// Check every endpoint's invariants after every input (small runs: it walks every
    /// connection each time).
    pub check_invariants: bool,
}

/// What one port-exhaustion run showed (the first source address's figures).
#[derive(Clone, Debug, Default)]
pub struct ExhaustionReport {
    pub ports_per_pool: u32,
    pub stats: LoadStats,
    /// (second, client TIME_WAIT entries, server TIME_WAIT entries) every 10 s.
    pub time_wait: Vec<(u64, usize, usize)>,
    /// Connections opened per second once the pool is full: over one TIME_WAIT length
    /// starting at the first whole second after a port first came free.
    pub sustained_rate_per_s: Option<f64>,
    pub time_wait_len_s: u64,
    /// Counters of every host, by host name.
    pub counters: Vec<HostCounters>,
}

/// The first client is the usual 192.0.2.1; more source addresses follow from .101.
fn client_addr(i: u32) -> Ipv4Addr {
    match i {
        0 => CLIENT,
        n => Ipv4Addr::new(192, 0, 2, 100 + n as u8),
    }
}

/// Run one port-exhaustion variant. With `draw`, the first connection and the first
/// EADDRNOTAVAIL are recorded for the diagram.
pub fn exhaustion_run(
    opts: &RunOptions,
    params: &ExhaustionParams,
    draw: bool,
) -> Result<(Trace, ExhaustionReport), ScenarioError> {
    let mut base = Config::default();
    for (knob, value) in &params.settings {
        base.set(knob, value)?;
    }
    let cfg = opts.config(base)?;
    let mut sim = new_sim("port-exhaustion", opts);
    let sources = params.sources.max(1);
    let mut load = params.load.clone();
    load.rate_per_s /= f64::from(sources);
    let mut stats = Vec::new();
    let mut clients = Vec::new();
    for i in 0..sources {
        let s = Rc::new(RefCell::new(LoadStats::default()));
        let app = load_client(server_addr(), load.clone(), s.clone(), draw && i == 0);
        let name = if i == 0 {
            "client".to_string()
        } else {
            format!("client{}", i + 1)
        };
        clients.push(sim.add_host(&name, "client", client_addr(i), cfg.clone(), Some(app)));
        stats.push(s);
    }
    let server = sim.add_host(
        "server",
        "server",
        SERVER,
        cfg.clone(),
        Some(http_server(PORT, BODY)),
    );
    if params.check_invariants {
        sim.disable_snapshots_for_tests();
    } else {
        sim.large_run();
    }
    if draw {
        // The first request alone, drawn in full.
        let warmup_us = (load.warmup_s * 1e6) as u64;
        sim.run_until(Instant::from_micros(warmup_us.saturating_sub(1)))?;
    }
    sim.set_recording(false);
    let mut time_wait = Vec::new();
    for second in 1..=params.run_s {
        sim.run_until(secs(second))?;
        if second % 10 == 0 {
            let tw_client = sim.count_state(clients[0], State::TimeWait);
            let tw_server = sim.count_state(server, State::TimeWait);
            time_wait.push((second, tw_client, tw_server));
        }
    }
    let tw_len_s = cfg.time_wait_len().total_secs();
    let stats = stats[0].borrow().clone();
    let sustained = stats.first_reopen.and_then(|t| {
        let from = (t.total_micros() as usize).div_ceil(1_000_000);
        stats.opened_rate(from, tw_len_s as usize)
    });
    let (low, high) = cfg.ip_local_port_range;
    let trace = sim.finish();
    let report = ExhaustionReport {
        ports_per_pool: u32::from(high) - u32::from(low) + 1,
        stats,
        time_wait,
        sustained_rate_per_s: sustained,
        time_wait_len_s: tw_len_s,
        counters: trace.outcome.counters.clone(),
    };
    Ok((trace, report))
}

/// The CLI's workload: 500 new connections per second (above the ≈ 470/s the default
/// range sustains), scaled with the port range when `--set ip_local_port_range` changes it;
/// and how long the remedies run: 10 s past both the baseline's first EADDRNOTAVAIL and
/// its first TIME_WAIT expiry.
fn default_params(opts: &RunOptions) -> Result<(ExhaustionParams, u64), ScenarioError> {
    let cfg = opts.config(Config::default())?;
    let (low, high) = cfg.ip_local_port_range;
    let ports = f64::from(u32::from(high) - u32::from(low) + 1);
    let rate = (500.0 * ports / 28232.0).max(1.0);
    let tw = cfg.time_wait_len().total_micros() as f64 / 1e6;
    // Past the first TIME_WAIT expiry (the pool is full by then, at ports / rate < 60 s)
    // plus one TIME_WAIT length, to measure the sustained rate over a whole cycle.
    let run_s = ((ports / rate).max(tw) + tw).ceil() as u64 + 3;
    let remedy_run_s = (ports / rate).max(tw).ceil() as u64 + 10;
    let params = ExhaustionParams {
        load: LoadParams {
            rate_per_s: rate,
            warmup_s: 0.2,
            until_s: run_s as f64,
            requests_per_conn: 1,
            server_closes_first: false,
        },
        sources: 1,
        settings: Vec::new(),
        run_s,
        check_invariants: false,
    };
    Ok((params, remedy_run_s))
}

/// A remedy: its label and how it changes the baseline.
struct Remedy {
    label: &'static str,
    change: fn(&mut ExhaustionParams),
}

const REMEDIES: &[Remedy] = &[
    Remedy {
        label: "tcp_tw_reuse=1",
        change: |p| p.settings.push(("tcp_tw_reuse".into(), "1".into())),
    },
    Remedy {
        label: "two source addresses",
        change: |p| p.sources = 2,
    },
    Remedy {
        label: "keep-alive pool (100 requests per connection)",
        change: |p| p.load.requests_per_conn = 100,
    },
    Remedy {
        label: "server closes first",
        change: |p| p.load.server_closes_first = true,
    },
];

fn figure(name: String, value: f64, unit: &str) -> Figure {
    Figure {
        name,
        value,
        unit: unit.into(),
    }
}

/// The client opens a connection per request at 500/s (default range) and closes
/// first. TIME_WAIT fills the 28232 ports in 56.5 s, connect() fails with EADDRNOTAVAIL
/// until the first entries expire at 60 s, and from then on the client gets as many
/// connections as TIME_WAIT releases: ≈ 470 per second. Each remedy runs the same
/// workload (up to just past the baseline's first failure) and is reported alongside.
pub fn port_exhaustion(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let (base, remedy_run_s) = default_params(opts)?;
    let remedy_params: Vec<ExhaustionParams> = REMEDIES
        .iter()
        .map(|r| {
            let mut p = base.clone();
            (r.change)(&mut p);
            p.run_s = remedy_run_s;
            p.load.until_s = remedy_run_s as f64;
            p
        })
        .collect();
    let (baseline, remedies) = std::thread::scope(|scope| {
        let handles: Vec<_> = remedy_params
            .iter()
            .map(|p| scope.spawn(move || exhaustion_run(opts, p, false).map(|(_, r)| r)))
            .collect();
        let baseline = exhaustion_run(opts, &base, true);
        let remedies: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("a port-exhaustion variant panicked"))
            .collect();
        (baseline, remedies)
    });
    let (mut trace, report) = baseline?;
    let mut figures = baseline_figures(&base, &report);
    for (remedy, result) in REMEDIES.iter().zip(remedies) {
        let r = result?;
        figures.extend(remedy_figures(remedy.label, &r));
        for mut host in r.counters {
            host.host = format!("{} [{}]", host.host, remedy.label);
            trace.outcome.counters.push(host);
        }
    }
    trace.outcome.figures.extend(figures);
    Ok(trace)
}

fn baseline_figures(params: &ExhaustionParams, r: &ExhaustionReport) -> Vec<Figure> {
    let s = &r.stats;
    let mut f = vec![
        figure(
            "ephemeral ports per destination".into(),
            f64::from(r.ports_per_pool),
            "ports",
        ),
        figure(
            "connection attempts per second".into(),
            params.load.rate_per_s,
            "/s",
        ),
    ];
    for &(second, client, _) in &r.time_wait {
        f.push(figure(
            format!("client TIME_WAIT at {second}s"),
            client as f64,
            "entries",
        ));
    }
    if let Some((at, opened)) = s.first_failure {
        f.push(figure(
            "first EADDRNOTAVAIL at".into(),
            at.total_micros() as f64 / 1e6,
            "s",
        ));
        f.push(figure(
            "connections opened before it".into(),
            opened as f64,
            "",
        ));
    }
    if let Some(at) = s.first_reopen {
        f.push(figure(
            "first port freed by TIME_WAIT expiry at".into(),
            at.total_micros() as f64 / 1e6,
            "s",
        ));
    }
    f.push(figure(
        "EADDRNOTAVAIL failures".into(),
        s.failures as f64,
        "",
    ));
    if let Some(rate) = r.sustained_rate_per_s {
        f.push(figure(
            format!("sustained connections per second with the pool full (over {} s): EADDRNOTAVAIL onset", r.time_wait_len_s),
            (rate * 10.0).round() / 10.0,
            "/s",
        ));
    }
    f
}

fn remedy_figures(label: &str, r: &ExhaustionReport) -> Vec<Figure> {
    let s = &r.stats;
    let last = r.time_wait.last().copied().unwrap_or_default();
    let run_s = r.stats.opened_per_second.len().max(1) as f64;
    let mut f = vec![
        figure(
            format!("{label}: EADDRNOTAVAIL failures"),
            s.failures as f64,
            "",
        ),
        figure(
            format!("{label}: new connections per second per source address"),
            (s.opened as f64 / run_s * 10.0).round() / 10.0,
            "/s",
        ),
        figure(
            format!(
                "{label}: client TIME_WAIT per source address at {}s",
                last.0
            ),
            last.1 as f64,
            "entries",
        ),
        figure(
            format!("{label}: server TIME_WAIT at {}s", last.0),
            last.2 as f64,
            "entries",
        ),
    ];
    let recycled = r
        .counters
        .iter()
        .flat_map(|h| h.counters.iter())
        .filter(|(name, _)| name == "TWRecycled")
        .map(|(_, v)| *v)
        .sum::<u64>();
    if recycled > 0 {
        f.push(figure(
            format!("{label}: TIME_WAIT tuples reused (TWRecycled)"),
            recycled as f64,
            "",
        ));
    }
    f
}
