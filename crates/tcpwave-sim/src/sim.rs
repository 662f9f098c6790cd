//! The deterministic simulator: hosts running an endpoint and an application,
//! links with delay, loss, duplication and reordering, scripted faults, one seed
//! for all randomness, a virtual clock that jumps to the next thing to happen,
//! and a step cap so no run can hang.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{Config, ConnId, Duration, Endpoint, Event, Instant, ListenerId, State};
use tcpwave_trace::{Body, Segment, StateChange, Trace};

use crate::app::{App, AppCtx, Input};
use crate::net::{LinkParams, Rule, RuleAction, SegView};
use crate::recorder::{conn_name, Recorder};
use crate::rng::Rng;

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(
        "the run exceeded its step cap of {cap} steps at t={at:?}: something loops (seed {seed})"
    )]
    StepCap { cap: u64, at: Instant, seed: u64 },
    #[error("host {host} sent more than {FLUSH_MAX} segments at once at t={at:?}: an engine bug (seed {seed})")]
    Runaway {
        host: String,
        at: Instant,
        seed: u64,
    },
    #[error("no host named `{0}`")]
    UnknownHost(String),
    #[error("the engine emitted a packet that does not parse (host {host}): an engine bug")]
    BadPacket { host: String },
}

pub(crate) struct Host {
    pub name: String,
    pub addr: Ipv4Addr,
    pub cfg: Config,
    pub endpoint: Endpoint,
    pub app: Option<Box<dyn App>>,
    pub factory: Option<Box<dyn Fn() -> Box<dyn App>>>,
    pub up: bool,
    pub owned: Vec<ConnId>,
    pub listeners: Vec<ListenerId>,
}

enum Flight {
    Deliver { to: usize, segment: Segment },
    Lost { host: String, segment: Segment },
}

/// Something scheduled at a time.
enum Action {
    Wake {
        host: usize,
        token: u64,
    },
    Call {
        host: usize,
        call: Box<dyn FnOnce(&mut AppCtx<'_>)>,
    },
    Crash(usize),
    Restart(usize),
    KillApp(usize),
    Inject {
        host: usize,
        packet: Vec<u8>,
    },
}

/// A simulated network.
pub struct Sim {
    now: Instant,
    seed: u64,
    rng: Rng,
    pub(crate) hosts: Vec<Host>,
    default_link: LinkParams,
    links: BTreeMap<(usize, usize), LinkParams>,
    flights: BTreeMap<(Instant, u64), Flight>,
    actions: BTreeMap<(Instant, u64), Action>,
    order: u64,
    rules: Vec<Rule>,
    pub(crate) rec: Recorder,
    step_cap: u64,
    steps: u64,
    started: bool,
    buf: Vec<u8>,
    /// Check every connection's invariants after every input (STYLE.md); large runs
    /// turn it off because it walks all connections.
    check_invariants: bool,
    /// Segments wait in their endpoints while the applications start (`run_until`).
    holding: bool,
}

/// Bound on flush/dispatch rounds after one input (an application that keeps
/// calling the API in response to its own events).
const ROUNDS_MAX: usize = 10_000;
/// Bound on segments one host sends in one go.
const FLUSH_MAX: usize = 100_000;

impl Sim {
    pub fn new(scenario: &str, description: &str, seed: u64) -> Sim {
        Sim {
            now: Instant::ZERO,
            seed,
            rng: Rng::new(seed),
            hosts: Vec::new(),
            default_link: LinkParams::default(),
            links: BTreeMap::new(),
            flights: BTreeMap::new(),
            actions: BTreeMap::new(),
            order: 0,
            rules: Vec::new(),
            rec: Recorder::new(scenario, description, seed),
            step_cap: 5_000_000,
            steps: 0,
            started: false,
            buf: vec![0; 70_000],
            check_invariants: true,
            holding: false,
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Add a host with its own configuration and application.
    pub fn add_host(
        &mut self,
        name: &str,
        role: &str,
        addr: Ipv4Addr,
        mut cfg: Config,
        app: Option<Box<dyn App>>,
    ) -> usize {
        // A secret left at the engine's default (neither the scenario nor `--set
        // isn_secret` chose one) comes from the seed and the host's name, as a real
        // host draws its own at boot: the seed then decides ISNs, timestamp offsets and
        // ephemeral ports, and the same seed reproduces them.
        if cfg.isn_secret == Config::default().isn_secret {
            cfg.isn_secret = host_secret(self.seed, name);
        }
        let endpoint = Endpoint::new(cfg.clone(), self.now);
        self.hosts.push(Host {
            name: name.to_string(),
            addr,
            cfg,
            endpoint,
            app,
            factory: None,
            up: true,
            owned: Vec::new(),
            listeners: Vec::new(),
        });
        self.rec.trace.hosts.push(tcpwave_trace::Host {
            name: name.into(),
            addr: addr.to_string(),
            role: role.into(),
        });
        self.hosts.len() - 1
    }

    /// How to start the application again when the host restarts.
    pub fn set_app_factory(&mut self, host: usize, factory: impl Fn() -> Box<dyn App> + 'static) {
        self.hosts[host].factory = Some(Box::new(factory));
    }

    pub fn host_index(&self, name: &str) -> Result<usize, SimError> {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| SimError::UnknownHost(name.to_string()))
    }

    pub fn endpoint(&self, host: usize) -> &Endpoint {
        &self.hosts[host].endpoint
    }

    pub fn set_default_link(&mut self, link: LinkParams) {
        self.default_link = link;
    }

    /// Parameters for the direction `from` → `to`.
    pub fn set_link(&mut self, from: usize, to: usize, link: LinkParams) {
        self.links.insert((from, to), link);
    }

    pub fn add_rule(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Drop everything between two hosts (both ways) in [from, until).
    pub fn partition(&mut self, a: usize, b: usize, from: Instant, until: Instant) {
        let (na, nb) = (self.hosts[a].name.clone(), self.hosts[b].name.clone());
        let rule = Rule::new("partition", RuleAction::Drop, 0, move |s: &SegView| {
            (s.from == na && s.to == nb) || (s.from == nb && s.to == na)
        });
        self.rules.push(rule.during(from, until));
    }

    pub fn set_step_cap(&mut self, cap: u64) {
        self.step_cap = cap;
    }

    /// Turn off per-event snapshots but keep invariant checks (long test runs).
    pub fn disable_snapshots_for_tests(&mut self) {
        self.rec.snapshots_enabled = false;
    }

    /// Turn off per-event snapshots and invariant walks (large runs).
    pub fn large_run(&mut self) {
        self.rec.snapshots_enabled = false;
        self.check_invariants = false;
    }

    /// Record events (segments, states, application calls, what the application saw)
    /// or not. Large runs record only the moments worth drawing; figures, counters
    /// and the engines' own behaviour are the same either way.
    pub fn set_recording(&mut self, on: bool) {
        self.rec.recording = on;
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.order += 1;
        self.actions.insert((at.max(self.now), self.order), action);
    }

    /// Run `call` as the host's application at time `at`.
    pub fn at(&mut self, at: Instant, host: usize, call: impl FnOnce(&mut AppCtx<'_>) + 'static) {
        self.schedule(
            at,
            Action::Call {
                host,
                call: Box::new(call),
            },
        );
    }

    /// The host dies silently at `at`: no FIN, no RST, nothing answers.
    pub fn crash(&mut self, host: usize, at: Instant) {
        self.schedule(at, Action::Crash(host));
    }

    /// The host comes back at `at` with empty state (and its application restarted).
    pub fn restart(&mut self, host: usize, at: Instant) {
        self.schedule(at, Action::Restart(host));
    }

    /// The host's application is killed at `at`: its stack closes its sockets.
    pub fn kill_app(&mut self, host: usize, at: Instant) {
        self.schedule(at, Action::KillApp(host));
    }

    /// Put a hand-made IPv4 packet on the wire from host `from` at `at`: an attacker
    /// forging segments (RFC 5961's blind injection). Its source address may be spoofed;
    /// it is recorded and routed like any other packet (rules, delay and loss apply).
    pub fn inject(&mut self, at: Instant, from: usize, packet: Vec<u8>) {
        self.schedule(at, Action::Inject { host: from, packet });
    }

    /// Run until nothing is left to do or `end` is reached.
    pub fn run_until(&mut self, end: Instant) -> Result<(), SimError> {
        if !self.started {
            self.started = true;
            // Every application sets up (listen(), setsockopt(), connect()) before the
            // first segment of the instant goes out: a server's listen() at t=0 is drawn
            // before the SYN it will answer, whichever host was added first. Nothing can
            // arrive at t=0 anyway, so holding the segments changes no behaviour.
            self.holding = true;
            for h in 0..self.hosts.len() {
                self.with_app(h, Input::Start);
                self.settle(h)?;
            }
            self.holding = false;
            for h in 0..self.hosts.len() {
                self.settle(h)?;
            }
        }
        while let Some((at, what)) = self.next_item() {
            if at > end {
                break;
            }
            self.steps += 1;
            if self.steps > self.step_cap {
                return Err(SimError::StepCap {
                    cap: self.step_cap,
                    at: self.now,
                    seed: self.seed,
                });
            }
            self.now = self.now.max(at);
            match what {
                Next::Flight(key) => self.land(key)?,
                Next::Action(key) => self.act(key)?,
                Next::Timer(h) => {
                    self.hosts[h].endpoint.handle_timeout(self.now);
                    self.settle(h)?;
                }
            }
        }
        if end != Instant::from_micros(u64::MAX) {
            self.now = self.now.max(end);
        }
        Ok(())
    }

    fn next_item(&self) -> Option<(Instant, Next)> {
        let mut best: Option<(Instant, Next)> = None;
        let mut consider = |at: Instant, what: Next| {
            if best.as_ref().map_or(true, |(b, _)| at < *b) {
                best = Some((at, what));
            }
        };
        if let Some((&key, _)) = self.flights.iter().next() {
            consider(key.0, Next::Flight(key));
        }
        if let Some((&key, _)) = self.actions.iter().next() {
            consider(key.0, Next::Action(key));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if h.up {
                if let Some(t) = h.endpoint.poll_timeout() {
                    consider(t.max(self.now), Next::Timer(i));
                }
            }
        }
        best
    }

    fn land(&mut self, key: (Instant, u64)) -> Result<(), SimError> {
        let Some(flight) = self.flights.remove(&key) else {
            return Ok(());
        };
        match flight {
            Flight::Lost { host, segment } => {
                self.rec.push(self.now, &host, Body::Drop(segment));
                Ok(())
            }
            Flight::Deliver { to, mut segment } => {
                if !self.hosts[to].up {
                    segment.reason = Some("host down".to_string());
                    let name = self.hosts[to].name.clone();
                    self.rec.push(self.now, &name, Body::Drop(segment));
                    return Ok(());
                }
                let name = self.hosts[to].name.clone();
                let packet = segment.packet.clone();
                self.rec.push(self.now, &name, Body::Recv(segment));
                // A parse error is counted by the endpoint (InErrs); nothing else to do.
                let _ = self.hosts[to].endpoint.handle_packet(self.now, &packet);
                self.settle(to)
            }
        }
    }

    fn act(&mut self, key: (Instant, u64)) -> Result<(), SimError> {
        let Some(action) = self.actions.remove(&key) else {
            return Ok(());
        };
        match action {
            Action::Wake { host, token } => {
                if self.hosts[host].up {
                    self.with_app(host, Input::Wake(token));
                }
                self.settle(host)
            }
            Action::Call { host, call } => {
                if self.hosts[host].up {
                    self.with_ctx(host, |ctx| call(ctx));
                }
                self.settle(host)
            }
            Action::Crash(h) => {
                self.hosts[h].up = false;
                let name = self.hosts[h].name.clone();
                self.rec.app(
                    self.now,
                    &name,
                    String::new(),
                    "host crashed (power off): nothing is sent".into(),
                );
                Ok(())
            }
            Action::Restart(h) => {
                let host = &mut self.hosts[h];
                host.endpoint = Endpoint::new(host.cfg.clone(), self.now);
                host.up = true;
                host.owned.clear();
                host.listeners.clear();
                host.app = host.factory.as_ref().map(|f| f());
                let name = host.name.clone();
                self.rec.app(
                    self.now,
                    &name,
                    String::new(),
                    "host restarted with no memory of old connections".into(),
                );
                self.with_app(h, Input::Start);
                self.settle(h)
            }
            Action::KillApp(h) => {
                self.kill(h);
                self.settle(h)
            }
            Action::Inject { host, packet } => {
                let segment =
                    self.rec
                        .segment_forged(&packet)
                        .ok_or_else(|| SimError::BadPacket {
                            host: self.hosts[host].name.clone(),
                        })?;
                let name = self.hosts[host].name.clone();
                self.rec.push(self.now, &name, Body::Send(segment.clone()));
                self.route(host, segment);
                Ok(())
            }
        }
    }

    /// The process exits: the kernel closes every socket it held.
    fn kill(&mut self, h: usize) {
        let name = self.hosts[h].name.clone();
        self.rec.app(
            self.now,
            &name,
            String::new(),
            "application killed: the stack closes its sockets".into(),
        );
        let host = &mut self.hosts[h];
        host.app = None;
        for c in std::mem::take(&mut host.owned) {
            let _ = host.endpoint.close(self.now, c);
        }
        for l in std::mem::take(&mut host.listeners) {
            let _ = host.endpoint.close_listener(self.now, l);
        }
    }

    fn with_ctx<R>(&mut self, h: usize, f: impl FnOnce(&mut AppCtx<'_>) -> R) -> R {
        let mut wakes = Vec::new();
        let host = &mut self.hosts[h];
        let mut ctx = AppCtx {
            now: self.now,
            host: &host.name,
            addr: host.addr,
            endpoint: &mut host.endpoint,
            rec: &mut self.rec,
            wakes: &mut wakes,
            owned: &mut host.owned,
            listeners: &mut host.listeners,
        };
        let r = f(&mut ctx);
        for (at, token) in wakes {
            self.schedule(at, Action::Wake { host: h, token });
        }
        r
    }

    fn with_app(&mut self, h: usize, input: Input) {
        let Some(mut app) = self.hosts[h].app.take() else {
            return;
        };
        self.with_ctx(h, |ctx| app.handle(ctx, input));
        if self.hosts[h].app.is_none() {
            self.hosts[h].app = Some(app);
        }
    }

    /// After an input: send what the host wants to send, then tell its application,
    /// until both are quiet.
    fn settle(&mut self, h: usize) -> Result<(), SimError> {
        for _ in 0..ROUNDS_MAX {
            // State changes are recorded before the segments they caused; the segments
            // go out before the application hears (the stack ACKs a FIN in softirq,
            // before the process is scheduled).
            let mut events = Vec::new();
            while let Some(e) = self.hosts[h].endpoint.poll_event() {
                self.record_event(h, &e);
                events.push(e);
            }
            self.flush(h)?;
            if self.check_invariants {
                self.hosts[h].endpoint.check_invariants();
            }
            if events.is_empty() {
                self.snapshot();
                return Ok(());
            }
            for e in events {
                if self.hosts[h].up {
                    self.with_app(h, Input::Event(e));
                }
            }
        }
        Err(SimError::StepCap {
            cap: ROUNDS_MAX as u64,
            at: self.now,
            seed: self.seed,
        })
    }

    fn record_event(&mut self, h: usize, e: &Event) {
        if !self.rec.recording {
            return;
        }
        let name = self.hosts[h].name.clone();
        match *e {
            Event::StateChanged {
                tuple,
                from,
                to,
                reason,
                ..
            } => {
                self.rec.track(h, tuple);
                let change = StateChange {
                    conn: conn_name(&tuple),
                    from: from.name().into(),
                    to: to.name().into(),
                    reason: reason.name().into(),
                };
                self.rec.state(self.now, &name, change);
                self.snapshot();
            }
            Event::TimeWaitRestarted { tuple, expiry } => {
                let text = format!(
                    "2MSL restarted: TIME_WAIT now ends at {}",
                    tcpwave_trace::fmt_time(expiry.total_micros())
                );
                self.rec.timer(self.now, &name, conn_name(&tuple), text);
            }
            Event::Error { conn, error } => {
                let tuple = self.hosts[h]
                    .endpoint
                    .tuple(conn)
                    .map(|t| conn_name(&t))
                    .unwrap_or_default();
                if !self.rec.recording {
                    return;
                }
                let text = format!("error: {error}");
                self.rec.trace.outcome.app_saw.push(tcpwave_trace::Saw {
                    host: name.clone(),
                    conn: tuple.clone(),
                    text: text.clone(),
                });
                self.rec.app(self.now, &name, tuple, text);
            }
            Event::Connected { conn } => {
                let tuple = self.hosts[h]
                    .endpoint
                    .tuple(conn)
                    .map(|t| conn_name(&t))
                    .unwrap_or_default();
                self.rec
                    .app(self.now, &name, tuple, "connect() completed".into());
            }
            _ => {}
        }
    }

    fn snapshot(&mut self) {
        if !self.rec.snapshots_enabled {
            return;
        }
        let mut blocks = Vec::new();
        for &(h, tuple) in &self.rec.tracked {
            if let Some(info) = self.hosts[h].endpoint.info_by_tuple(&tuple) {
                blocks.push(self.rec.block(&self.hosts[h].name, &info));
            }
        }
        self.rec.snapshot(blocks);
    }

    /// Put everything host `h` wants to send on the network.
    fn flush(&mut self, h: usize) -> Result<(), SimError> {
        if !self.hosts[h].up || self.holding {
            return Ok(());
        }
        for _ in 0..FLUSH_MAX {
            let Some(n) = self.hosts[h]
                .endpoint
                .poll_transmit(self.now, &mut self.buf)
            else {
                return Ok(());
            };
            let packet = self.buf[..n].to_vec();
            let segment = self
                .rec
                .segment(&packet)
                .ok_or_else(|| SimError::BadPacket {
                    host: self.hosts[h].name.clone(),
                })?;
            let name = self.hosts[h].name.clone();
            self.rec.push(self.now, &name, Body::Send(segment.clone()));
            self.route(h, segment);
        }
        Err(SimError::Runaway {
            host: self.hosts[h].name.clone(),
            at: self.now,
            seed: self.seed,
        })
    }

    fn route(&mut self, from: usize, mut segment: Segment) {
        // The IPv4 destination address, bytes 16..20 of the header.
        let dst: Option<Ipv4Addr> = segment
            .packet
            .get(16..20)
            .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        let to = dst.and_then(|ip| self.hosts.iter().position(|h| h.addr == ip));
        let from_name = self.hosts[from].name.clone();
        let Some(to) = to else {
            segment.reason = Some("no route to host".into());
            self.order += 1;
            self.flights.insert(
                (self.now, self.order),
                Flight::Lost {
                    host: from_name,
                    segment,
                },
            );
            return;
        };
        let link = self
            .links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link);
        let view = SegView {
            from: from_name.clone(),
            to: self.hosts[to].name.clone(),
            flags: segment.flags.clone(),
            seq: segment.seq,
            ack: segment.ack,
            rel_seq: segment.rel_seq,
            rel_ack: segment.rel_ack,
            len: segment.len,
            at: self.now,
        };
        let mut extra = Duration::ZERO;
        let mut hold_until = self.now;
        for rule in &mut self.rules {
            if !rule.fires(&view) {
                continue;
            }
            match rule.action {
                RuleAction::Drop => {
                    segment.reason = Some(rule.name.clone());
                    return self.lose(from_name, segment, link.delay);
                }
                RuleAction::Delay(d) => extra = extra + d,
                RuleAction::HoldUntil(t) => hold_until = hold_until.max(t),
            }
        }
        if self.rng.chance(link.loss) {
            segment.reason = Some("random loss".into());
            return self.lose(from_name, segment, link.delay);
        }
        let jitter = Duration::from_micros(self.rng.below(link.jitter.total_micros()));
        if self.rng.chance(link.reorder) {
            extra =
                extra + Duration::from_micros(self.rng.below(link.reorder_delay.total_micros()));
        }
        let at = hold_until + link.delay + jitter + extra;
        if self.rng.chance(link.duplicate) {
            self.order += 1;
            let dup_at =
                at + Duration::from_micros(self.rng.below(link.delay.total_micros().max(1)));
            self.flights.insert(
                (dup_at, self.order),
                Flight::Deliver {
                    to,
                    segment: segment.clone(),
                },
            );
        }
        self.order += 1;
        self.flights
            .insert((at, self.order), Flight::Deliver { to, segment });
    }

    /// Lost half-way along the link.
    fn lose(&mut self, host: String, segment: Segment, delay: Duration) {
        self.order += 1;
        let at = self.now + Duration::from_micros(delay.total_micros() / 2);
        self.flights
            .insert((at, self.order), Flight::Lost { host, segment });
    }

    /// Finish: final states, counters, and the trace.
    pub fn finish(mut self) -> Trace {
        let mut finals = Vec::new();
        for &(h, tuple) in &self.rec.tracked {
            let state = self.hosts[h]
                .endpoint
                .info_by_tuple(&tuple)
                .map_or(State::Closed, |i| i.state);
            finals.push(tcpwave_trace::FinalState {
                host: self.hosts[h].name.clone(),
                conn: conn_name(&tuple),
                state: state.name().into(),
            });
        }
        let mut counters = Vec::new();
        for h in &self.hosts {
            let nonzero = h
                .endpoint
                .counters()
                .pairs()
                .iter()
                .filter(|(_, v)| *v > 0)
                .map(|(n, v)| (n.to_string(), *v))
                .collect();
            counters.push(tcpwave_trace::HostCounters {
                host: h.name.clone(),
                counters: nonzero,
            });
        }
        self.rec.trace.outcome.final_states = finals;
        self.rec.trace.outcome.counters = counters;
        self.rec.trace.outcome.end_us = self.now.total_micros();
        self.rec.trace
    }

    /// Add a figure to the outcome.
    pub fn figure(&mut self, name: &str, value: f64, unit: &str) {
        self.rec.trace.outcome.figures.push(tcpwave_trace::Figure {
            name: name.into(),
            value,
            unit: unit.into(),
        });
    }

    /// Connections of a host by state, right now.
    pub fn count_state(&self, host: usize, state: State) -> usize {
        if state == State::TimeWait {
            return self.hosts[host].endpoint.time_wait_count();
        }
        self.hosts[host]
            .endpoint
            .snapshot()
            .iter()
            .filter(|s| s.state == state)
            .count()
    }

    /// The address of a host and port.
    pub fn sock(&self, host: usize, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.hosts[host].addr, port)
    }
}

enum Next {
    Flight((Instant, u64)),
    Action((Instant, u64)),
    Timer(usize),
}

/// The 128-bit secret of host `name` in a run with `seed` (ISNs, timestamp offsets and
/// ephemeral port choice, `Config::isn_secret`): FNV-1a of the name mixed into the seed,
/// stretched by SplitMix64. Two hosts of one run differ; one host differs between seeds.
pub fn host_secret(seed: u64, name: &str) -> u128 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut rng = Rng::new(seed ^ hash.rotate_left(17));
    (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
}
