//! Clients → load balancer → two backends, short HTTP requests. Whoever closes a
//! connection first keeps its TIME_WAIT: downstream the clients close first; upstream
//! three variants, each run on its own:
//! - the balancer closes first (it reads the whole response, then closes): TIME_WAIT
//!   piles up on the balancer and eats its ephemeral ports toward each backend;
//! - the backend closes first (the balancer asks `Connection: close`): TIME_WAIT sits on
//!   the backends, the balancer's ports come free at once;
//! - a pool of keep-alive upstream connections: almost no connections, no TIME_WAIT.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcpwave::{Config, ConnId, Event, Instant, ListenerId, State};
use tcpwave_trace::{Figure, Trace};

use super::capacity::{load_client, LoadParams, LoadStats};
use super::common::*;
use super::http::{close_once, http_server, parse_request, request_bytes, response_len, Buffers};
use super::keepalive::new_sim;
use crate::app::{App, AppCtx, Input};

const LB: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const BACKENDS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 21), Ipv4Addr::new(192, 0, 2, 22)];
const BODY: &[u8] = b"backend says hi\n";

/// How the balancer talks to the backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// A connection per request; the balancer closes it once the response is in.
    BalancerClosesFirst,
    /// A connection per request with `Connection: close`: the backend closes first.
    BackendClosesFirst,
    /// Persistent keep-alive connections, reused request after request.
    Pooled,
}

impl Upstream {
    pub const ALL: [Upstream; 3] = [
        Upstream::BalancerClosesFirst,
        Upstream::BackendClosesFirst,
        Upstream::Pooled,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Upstream::BalancerClosesFirst => "balancer closes first",
            Upstream::BackendClosesFirst => "backend closes first",
            Upstream::Pooled => "pooled keep-alive upstream",
        }
    }
}

/// An upstream connection and the downstream request it serves.
#[derive(Default)]
struct UpSlot {
    backend: usize,
    established: bool,
    /// The downstream connection waiting for this response, if busy.
    serving: Option<ConnId>,
    /// The request to send once connected.
    pending: Option<Vec<u8>>,
}

/// The balancer: accepts on :80, forwards each request round-robin to a backend and
/// relays the response.
struct Balancer {
    mode: Upstream,
    listener: Option<ListenerId>,
    down: Buffers,
    up: Buffers,
    upstream: BTreeMap<ConnId, UpSlot>,
    /// Idle pooled connections per backend.
    idle: [Vec<ConnId>; 2],
    next_backend: usize,
    /// Upstream connections opened.
    opened: Rc<RefCell<u64>>,
}

impl Balancer {
    fn on_request(&mut self, ctx: &mut AppCtx<'_>, down: ConnId) {
        let Some((buf, eof)) = self.down.read(ctx, down) else {
            return;
        };
        let request = parse_request(buf).map(|(r, used)| {
            buf.drain(..used);
            r
        });
        if eof {
            // The client closes first, once it has its response.
            close_once(ctx, &mut self.down, down);
        }
        let Some(request) = request else {
            return;
        };
        let backend = self.next_backend;
        self.next_backend = (self.next_backend + 1) % BACKENDS.len();
        let close = self.mode == Upstream::BackendClosesFirst;
        let bytes = request_bytes(&request.path, "HTTP/1.1", close);
        if self.mode == Upstream::Pooled {
            if let Some(up) = self.idle[backend].pop() {
                if let Some(slot) = self.upstream.get_mut(&up) {
                    slot.serving = Some(down);
                    let _ = ctx.send(up, &bytes);
                    return;
                }
            }
        }
        let to = SocketAddrV4::new(BACKENDS[backend], PORT);
        if let Ok(up) = ctx.connect(to) {
            *self.opened.borrow_mut() += 1;
            let slot = UpSlot {
                backend,
                serving: Some(down),
                pending: Some(bytes),
                ..UpSlot::default()
            };
            self.upstream.insert(up, slot);
        }
    }

    fn on_response(&mut self, ctx: &mut AppCtx<'_>, up: ConnId) {
        let Some((buf, eof)) = self.up.read(ctx, up) else {
            return;
        };
        let response = response_len(buf).map(|len| buf.drain(..len).collect::<Vec<u8>>());
        let Some(slot) = self.upstream.get_mut(&up) else {
            return;
        };
        if let Some(response) = response {
            if let Some(down) = slot.serving.take() {
                if ctx.connections().contains(&down) {
                    let _ = ctx.send(down, &response);
                }
            }
            match self.mode {
                Upstream::BalancerClosesFirst => {
                    self.upstream.remove(&up);
                    return close_once(ctx, &mut self.up, up);
                }
                Upstream::Pooled if !eof => self.idle[slot.backend].push(up),
                _ => {}
            }
        }
        if eof {
            let backend = slot.backend;
            self.idle[backend].retain(|&c| c != up);
            self.upstream.remove(&up);
            close_once(ctx, &mut self.up, up);
        }
    }
}

impl App for Balancer {
    fn handle(&mut self, ctx: &mut AppCtx<'_>, input: Input) {
        match input {
            Input::Start => self.listener = ctx.listen(PORT, 4096).ok(),
            Input::Event(Event::Acceptable { .. }) => {
                if let Some(l) = self.listener {
                    ctx.accept_all(l);
                }
            }
            Input::Event(Event::Connected { conn }) => {
                let pending = self.upstream.get_mut(&conn).and_then(|s| {
                    s.established = true;
                    s.pending.take()
                });
                if let Some(bytes) = pending {
                    let _ = ctx.send(conn, &bytes);
                }
            }
            Input::Event(Event::Readable { conn } | Event::PeerClosed { conn }) => {
                if self.upstream.contains_key(&conn) {
                    self.on_response(ctx, conn)
                } else {
                    self.on_request(ctx, conn)
                }
            }
            Input::Event(Event::Error { conn, .. }) => {
                self.upstream.remove(&conn);
                for idle in &mut self.idle {
                    idle.retain(|&c| c != conn);
                }
                close_once(ctx, &mut self.up, conn);
                close_once(ctx, &mut self.down, conn);
            }
            _ => {}
        }
    }
}

/// One variant's workload.
#[derive(Clone, Debug, PartialEq)]
pub struct BalancerParams {
    pub mode: Upstream,
    pub load: LoadParams,
    /// Run this long; TIME_WAIT is sampled every 10 s.
    pub run_s: u64,
}

/// What one variant showed.
#[derive(Clone, Debug, Default)]
pub struct BalancerReport {
    pub client: LoadStats,
    pub upstream_opened: u64,
    /// (second, client, balancer, backend-1 + backend-2) TIME_WAIT entries.
    pub time_wait: Vec<(u64, usize, usize, usize)>,
    /// The balancer's ports toward backend-1 (connections and TIME_WAIT) at the end.
    pub ports_to_backend_1: usize,
    pub ports_per_pool: u32,
}

/// Run one variant; with `draw` the first request is recorded.
pub fn balancer_run(
    opts: &RunOptions,
    params: &BalancerParams,
    draw: bool,
) -> Result<(Trace, BalancerReport), ScenarioError> {
    let cfg = opts.config(Config::default())?;
    let mut sim = new_sim("load-balancer-time-wait", opts);
    let stats = Rc::new(RefCell::new(LoadStats::default()));
    let opened = Rc::new(RefCell::new(0u64));
    let to_lb = SocketAddrV4::new(LB, PORT);
    let client = load_client(to_lb, params.load.clone(), stats.clone(), false);
    let c = sim.add_host("client", "clients", CLIENT, cfg.clone(), Some(client));
    let balancer = Balancer {
        mode: params.mode,
        listener: None,
        down: Buffers::default(),
        up: Buffers::default(),
        upstream: BTreeMap::new(),
        idle: [Vec::new(), Vec::new()],
        next_backend: 0,
        opened: opened.clone(),
    };
    let role = format!("load balancer ({})", params.mode.label());
    let lb = sim.add_host("lb", &role, LB, cfg.clone(), Some(Box::new(balancer)));
    let mut backends = Vec::new();
    for (i, &addr) in BACKENDS.iter().enumerate() {
        let name = format!("backend-{}", i + 1);
        let app = http_server(PORT, BODY);
        backends.push(sim.add_host(&name, "backend", addr, cfg.clone(), Some(app)));
    }
    sim.large_run();
    if draw {
        let warmup_us = (params.load.warmup_s * 1e6) as u64;
        sim.run_until(Instant::from_micros(warmup_us.saturating_sub(1)))?;
    }
    sim.set_recording(false);
    let mut time_wait = Vec::new();
    for second in 1..=params.run_s {
        sim.run_until(secs(second))?;
        if second % 10 == 0 {
            let backend_tw = backends
                .iter()
                .map(|&b| sim.count_state(b, State::TimeWait))
                .sum();
            let row = (
                second,
                sim.count_state(c, State::TimeWait),
                sim.count_state(lb, State::TimeWait),
                backend_tw,
            );
            time_wait.push(row);
        }
    }
    let to_backend_1 = SocketAddrV4::new(BACKENDS[0], PORT);
    let ports_to_backend_1 = sim
        .endpoint(lb)
        .snapshot()
        .iter()
        .filter(|s| s.remote == to_backend_1)
        .count();
    let (low, high) = cfg.ip_local_port_range;
    let report = BalancerReport {
        client: stats.borrow().clone(),
        upstream_opened: *opened.borrow(),
        time_wait,
        ports_to_backend_1,
        ports_per_pool: u32::from(high) - u32::from(low) + 1,
    };
    Ok((sim.finish(), report))
}

fn figure(name: String, value: f64, unit: &str) -> Figure {
    Figure {
        name,
        value,
        unit: unit.into(),
    }
}

fn figures(params: &BalancerParams, r: &BalancerReport, tw_len_s: f64) -> Vec<Figure> {
    let label = params.mode.label();
    let mut f = vec![
        figure(
            format!("{label}: requests answered"),
            r.client.responses as f64,
            "",
        ),
        figure(
            format!("{label}: upstream connections opened"),
            r.upstream_opened as f64,
            "",
        ),
    ];
    // The side that closes first upstream accumulates TIME_WAIT: its growth over time.
    for &(second, _, lb, backends) in &r.time_wait[..r.time_wait.len().saturating_sub(1)] {
        match params.mode {
            Upstream::BalancerClosesFirst => f.push(figure(
                format!("{label}: balancer TIME_WAIT at {second}s"),
                lb as f64,
                "entries",
            )),
            Upstream::BackendClosesFirst => f.push(figure(
                format!("{label}: backends TIME_WAIT at {second}s"),
                backends as f64,
                "entries",
            )),
            Upstream::Pooled => {}
        }
    }
    if let Some(&(second, client, lb, backends)) = r.time_wait.last() {
        f.push(figure(
            format!("{label}: clients TIME_WAIT at {second}s"),
            client as f64,
            "entries",
        ));
        f.push(figure(
            format!("{label}: balancer TIME_WAIT at {second}s"),
            lb as f64,
            "entries",
        ));
        f.push(figure(
            format!("{label}: backends TIME_WAIT at {second}s"),
            backends as f64,
            "entries",
        ));
    }
    let ports = f64::from(r.ports_per_pool);
    let used = r.ports_to_backend_1 as f64;
    f.push(figure(
        format!("{label}: balancer ports toward backend-1 in use"),
        used,
        "ports",
    ));
    f.push(figure(
        format!("{label}: balancer port headroom toward backend-1"),
        ((ports - used) / ports * 1000.0).round() / 10.0,
        "%",
    ));
    if params.mode == Upstream::BalancerClosesFirst {
        // Each upstream connection holds a port for TIME_WAIT: the balancer can open at
        // most ports / TIME_WAIT per second toward each backend.
        let max = ports / tw_len_s * BACKENDS.len() as f64;
        f.push(figure(
            format!("{label}: request rate at which the balancer runs out of ports"),
            max.round(),
            "/s",
        ));
    }
    f
}

/// 200 requests per second for 70 s through the balancer, in each of the three upstream
/// variants. The diagram shows the first request of the first variant; figures give
/// each variant's TIME_WAIT on clients, balancer and backends, the upstream connections
/// opened, and the balancer's port headroom toward a backend.
pub fn load_balancer_time_wait(opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let variants: Vec<BalancerParams> = Upstream::ALL
        .iter()
        .map(|&mode| BalancerParams {
            mode,
            load: LoadParams {
                rate_per_s: 200.0,
                warmup_s: 0.2,
                until_s: 70.0,
                requests_per_conn: 1,
                server_closes_first: false,
            },
            run_s: 70,
        })
        .collect();
    let tw_len_s = opts
        .config(Config::default())?
        .time_wait_len()
        .total_micros() as f64
        / 1e6;
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = variants[1..]
            .iter()
            .map(|p| scope.spawn(move || balancer_run(opts, p, false)))
            .collect();
        let first = balancer_run(opts, &variants[0], true);
        let mut all = vec![first];
        all.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("a load-balancer variant panicked")),
        );
        all
    });
    let mut trace = None;
    let mut extra_figures = Vec::new();
    let mut extra_counters = Vec::new();
    for (params, result) in variants.iter().zip(results) {
        let (t, report) = result?;
        extra_figures.extend(figures(params, &report, tw_len_s));
        for mut host in t.outcome.counters.clone() {
            host.host = format!("{} [{}]", host.host, params.mode.label());
            extra_counters.push(host);
        }
        trace.get_or_insert(t);
    }
    let mut trace = trace.expect("three variants ran");
    trace.outcome.figures.extend(extra_figures);
    trace.outcome.counters = extra_counters;
    Ok(trace)
}
