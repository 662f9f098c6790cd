//! tcpwave, driven in process: a client endpoint and a server endpoint wired back to back
//! through one packet buffer, on a virtual clock.
//!
//! Every packet goes through the full path a user's runtime would take: `poll_transmit`
//! writes an IPv4 packet (both checksums filled) and `handle_packet` parses and verifies it on
//! the other side. Events are drained after every exchange, as the endpoint's docs require.

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpwave::{Config, ConnId, Duration, Endpoint, Event, Instant, ListenerId, SockOpt, State};

/// The server's address (the endpoints are in process: nothing reaches a network).
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// Port of the listener the measured lifecycles connect to.
pub const LIFECYCLE_PORT: u16 = 80;
/// Port of the listener that holds the parked idle connections.
pub const PARK_PORT: u16 = 81;
/// Port of the bulk-transfer listener.
pub const BULK_PORT: u16 = 82;
/// Virtual time between the starts of two lifecycles: 10,000 lifecycles per virtual second,
/// so the client's TIME_WAIT table holds 600,000 live entries once 60 s have passed.
pub const LIFECYCLE_GAP: Duration = Duration::from_micros(100);
/// Client addresses the lifecycles rotate over (127.1.0.0/24): 256 × 64,512 ephemeral
/// ports, far more 4-tuples than TIME_WAIT ever holds at once (2,344 per address in steady
/// state). Linux's port search (which tcpwave follows) tries the ports of one parity first,
/// so an address should stay well under half of its range in use.
pub const LIFECYCLE_CLIENTS: u32 = 256;
/// Client addresses of the parked connections (127.2.0.0/26).
pub const PARK_CLIENTS: u32 = 64;
/// Most steps a pump may take before the driver declares the exchange stuck.
const PUMP_STEP_MAX: usize = 1_000_000;

/// The configuration every tcpwave measurement uses: Linux defaults, except that TIME_WAIT
/// entries are never recycled early (`tcp_tw_reuse` 0), the table is not capped, the
/// ephemeral range is wide, the listen backlog may hold every parked connection, and TCP
/// checksums are offloaded to the "device" (`checksum_offload`), as on the peers' own
/// loopbacks: smoltcp's `Loopback` ignores them and Linux's `lo` neither computes nor
/// checks them. [`bench_config_checksums`] computes them in software instead.
pub fn bench_config() -> Config {
    Config {
        ip_local_port_range: (1024, 65535),
        tcp_tw_reuse: 0,
        tcp_max_tw_buckets: u32::MAX,
        somaxconn: 1 << 24,
        checksum_offload: true,
        ..Config::default()
    }
}

/// [`bench_config`] with TCP checksums computed on send and verified on receive.
pub fn bench_config_checksums() -> Config {
    Config {
        checksum_offload: false,
        ..bench_config()
    }
}

/// `cfg` with TIME_WAIT lasting 1 s (`msl` 500 ms) instead of 60 s: at the lifecycle
/// benchmark's 10,000 lifecycles per virtual second, 10,000 live entries (under 1 MiB, in
/// cache) instead of 600,000 (33 MiB). The same instructions run; only the table's cache
/// misses go.
pub fn short_time_wait(cfg: Config) -> Config {
    Config {
        msl: Duration::from_millis(500),
        ..cfg
    }
}

/// The configuration for a tcpwave engine name: `tcpwave` (checksums offloaded, like the
/// peers' loopbacks), `tcpwave-checksums` (computed and verified) or `tcpwave-tw1s`
/// (`tcpwave` with a 1-second TIME_WAIT, [`short_time_wait`]).
pub fn engine_config(engine: &str) -> Option<Config> {
    match engine {
        "tcpwave" => Some(bench_config()),
        "tcpwave-checksums" => Some(bench_config_checksums()),
        "tcpwave-tw1s" => Some(short_time_wait(bench_config())),
        _ => None,
    }
}

/// `base` + `index`, as an IPv4 address.
pub fn addr_plus(base: Ipv4Addr, index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + index)
}

/// Two endpoints joined by a lossless, zero-latency link.
pub struct Pair {
    pub client: Endpoint,
    pub server: Endpoint,
    pub now: Instant,
    buf: Vec<u8>,
    lifecycle_listener: ListenerId,
    park_listener: ListenerId,
    lifecycles_started: u64,
    parked_started: u64,
    /// Idle established connections, client side, when `keep_parked_ids` (the server side
    /// is held by the server endpoint).
    pub parked: Vec<ConnId>,
    /// Keep the `ConnId` of each parked connection (needed to set options on them later;
    /// off for memory measurements, where it would add 8 bytes per connection).
    pub keep_parked_ids: bool,
    /// Virtual time between two lifecycles.
    pub gap: Duration,
    /// Client addresses the lifecycles rotate over (from 127.1.0.0).
    pub clients: u32,
    /// Packets carried, both directions.
    pub packets: u64,
    /// Events drained, both endpoints.
    pub events: u64,
}

impl Pair {
    /// A client and a server endpoint with `cfg`, listening on the lifecycle and park ports.
    pub fn new(cfg: Config) -> Pair {
        let now = Instant::ZERO;
        let client = Endpoint::new(cfg.clone(), now);
        let mut server = Endpoint::new(cfg, now);
        let backlog = u32::MAX;
        let lifecycle_listener = server
            .listen(now, SocketAddrV4::new(SERVER_IP, LIFECYCLE_PORT), backlog)
            .expect("listen on the lifecycle port");
        let park_listener = server
            .listen(now, SocketAddrV4::new(SERVER_IP, PARK_PORT), backlog)
            .expect("listen on the park port");
        let buf_len = client.max_packet_len().max(server.max_packet_len());
        Pair {
            client,
            server,
            now,
            buf: vec![0; buf_len],
            lifecycle_listener,
            park_listener,
            lifecycles_started: 0,
            parked_started: 0,
            parked: Vec::new(),
            keep_parked_ids: true,
            gap: LIFECYCLE_GAP,
            clients: LIFECYCLE_CLIENTS,
            packets: 0,
            events: 0,
        }
    }

    /// Carry packets both ways until neither endpoint has anything to send, then drain events.
    pub fn pump(&mut self) {
        for _ in 0..PUMP_STEP_MAX {
            let mut moved = false;
            while let Some(n) = self.client.poll_transmit(self.now, &mut self.buf) {
                self.server
                    .handle_packet(self.now, &self.buf[..n])
                    .expect("client sent a malformed packet");
                self.packets += 1;
                moved = true;
            }
            while let Some(n) = self.server.poll_transmit(self.now, &mut self.buf) {
                self.client
                    .handle_packet(self.now, &self.buf[..n])
                    .expect("server sent a malformed packet");
                self.packets += 1;
                moved = true;
            }
            if !moved {
                self.drain_events();
                return;
            }
        }
        panic!("pump did not settle in {PUMP_STEP_MAX} steps");
    }

    /// Drain both event queues; reports failures loudly (a benchmark must not measure errors).
    pub fn drain_events(&mut self) {
        while let Some(event) = self.client.poll_event() {
            self.events += 1;
            if let Event::Error { conn, error } = event {
                panic!("client connection {conn} failed: {error}");
            }
        }
        while let Some(event) = self.server.poll_event() {
            self.events += 1;
            if let Event::Error { conn, error } = event {
                panic!("server connection {conn} failed: {error}");
            }
        }
    }

    /// Fire the timers that are due, then exchange what they produced.
    pub fn run_timers(&mut self) {
        let now = self.now;
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
        self.pump();
    }

    /// Move the virtual clock forward by `by`, firing what falls due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.run_timers();
    }

    /// Move the clock to the earliest timer (at most `until`); false when none is due by then.
    pub fn advance_to_next_timer(&mut self, until: Instant) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= until => {
                self.now = self.now.max(t);
                self.run_timers();
                true
            }
            _ => false,
        }
    }

    /// One short connection: handshake, a 4-byte request, a 4-byte reply, client close,
    /// server close. The client keeps a TIME_WAIT entry for 60 s of virtual time; the
    /// virtual clock then moves on by `gap` ([`LIFECYCLE_GAP`] unless changed).
    #[inline(never)]
    pub fn lifecycle(&mut self) {
        let index = self.lifecycles_started;
        self.lifecycles_started += 1;
        let client_ip = addr_plus(
            Ipv4Addr::new(127, 1, 0, 0),
            (index % u64::from(self.clients)) as u32,
        );
        let now = self.now;
        let c = self
            .client
            .connect(
                now,
                SocketAddrV4::new(client_ip, 0),
                SocketAddrV4::new(SERVER_IP, LIFECYCLE_PORT),
            )
            .expect("connect");
        self.pump();
        let s = self
            .server
            .accept(now, self.lifecycle_listener)
            .expect("the handshake completed");
        let mut word = [0u8; 4];
        assert_eq!(self.client.send(now, c, b"ping"), Ok(4));
        self.pump();
        assert_eq!(self.server.recv(now, s, &mut word), Ok(4));
        assert_eq!(self.server.send(now, s, b"pong"), Ok(4));
        self.pump();
        assert_eq!(self.client.recv(now, c, &mut word), Ok(4));
        self.client.close(now, c).expect("client close");
        self.pump();
        assert_eq!(self.server.recv(now, s, &mut word), Ok(0), "EOF");
        self.server.close(now, s).expect("server close");
        self.pump();
        debug_assert_eq!(self.server.state(s), None, "server connection freed");
        self.advance(self.gap);
    }

    /// Run `count` lifecycles.
    #[inline(never)]
    pub fn lifecycles(&mut self, count: u64) {
        for _ in 0..count {
            self.lifecycle();
        }
    }

    /// Establish `count` more idle connections to the park port and keep them open (no
    /// timers armed: keepalive off, nothing in flight).
    pub fn park(&mut self, count: u64) {
        const BATCH: u64 = 1024;
        let mut left = count;
        while left > 0 {
            let batch = left.min(BATCH);
            for _ in 0..batch {
                let index = self.parked_started;
                self.parked_started += 1;
                let client_ip = addr_plus(
                    Ipv4Addr::new(127, 2, 0, 0),
                    (index % u64::from(PARK_CLIENTS)) as u32,
                );
                let c = self
                    .client
                    .connect(
                        self.now,
                        SocketAddrV4::new(client_ip, 0),
                        SocketAddrV4::new(SERVER_IP, PARK_PORT),
                    )
                    .expect("connect a parked connection");
                if self.keep_parked_ids {
                    self.parked.push(c);
                }
            }
            self.pump();
            for _ in 0..batch {
                self.server
                    .accept(self.now, self.park_listener)
                    .expect("parked connection established");
            }
            left -= batch;
        }
        debug_assert!(self
            .parked
            .iter()
            .all(|&c| self.client.state(c) == Some(State::Established)));
    }

    /// Arm SO_KEEPALIVE on every parked connection (client side).
    pub fn arm_keepalive(&mut self) {
        for &c in &self.parked {
            self.client
                .set_option(self.now, c, SockOpt::KeepAlive(true))
                .expect("set SO_KEEPALIVE");
        }
    }
}

/// Outcome of a bulk transfer.
#[derive(Clone, Copy, Debug)]
pub struct BulkResult {
    pub bytes: u64,
    pub wall_seconds: f64,
}

/// One stream in process: the client writes `total_bytes` as fast as the window allows and
/// the server reads everything, each side copying through a 64 KiB application buffer.
/// `buffer_bytes` sizes both socket buffers.
pub fn bulk(base: Config, mss: u16, buffer_bytes: u32, total_bytes: u64) -> BulkResult {
    let cfg = Config {
        mss,
        tcp_rmem_default: buffer_bytes,
        tcp_rmem_max: buffer_bytes.max(65_535),
        tcp_wmem_default: buffer_bytes,
        ..base
    };
    let mut pair = Pair::new(cfg);
    let now = pair.now;
    let server_addr = SocketAddrV4::new(SERVER_IP, BULK_PORT);
    let l = pair.server.listen(now, server_addr, 1).expect("listen");
    let c = pair
        .client
        .connect(
            now,
            SocketAddrV4::new(Ipv4Addr::new(127, 3, 0, 1), 0),
            server_addr,
        )
        .expect("connect");
    pair.client
        .set_option(now, c, SockOpt::NoDelay(true))
        .expect("TCP_NODELAY");
    pair.pump();
    let s = pair.server.accept(now, l).expect("accept");
    let app_out = vec![0x5au8; 65_536];
    let mut app_in = vec![0u8; 65_536];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = std::time::Instant::now();
    let mut idle_rounds = 0;
    while received < total_bytes {
        let mut progress = false;
        while sent < total_bytes {
            let want = (total_bytes - sent).min(app_out.len() as u64) as usize;
            let n = match pair.client.send(pair.now, c, &app_out[..want]) {
                Ok(n) => n,
                Err(tcpwave::Error::WouldBlock) => 0,
                Err(e) => panic!("bulk send: {e}"),
            };
            if n == 0 {
                break;
            }
            sent += n as u64;
            progress = true;
        }
        pair.pump();
        loop {
            match pair.server.recv(pair.now, s, &mut app_in) {
                Ok(0) | Err(tcpwave::Error::WouldBlock) => break,
                Ok(n) => {
                    received += n as u64;
                    progress = true;
                }
                Err(e) => panic!("bulk recv: {e}"),
            }
        }
        // Reading opened the window: the window update goes out on the next pump.
        pair.pump();
        if !progress {
            // Only a timer (delayed ACK, persist) can move things on.
            idle_rounds += 1;
            assert!(idle_rounds < 1_000_000, "bulk transfer stalled");
            let until = pair.now + Duration::from_secs(1);
            if !pair.advance_to_next_timer(until) {
                pair.now = until;
            }
        }
    }
    BulkResult {
        bytes: received,
        wall_seconds: start.elapsed().as_secs_f64(),
    }
}

/// Outcome of the keepalive-timer run.
#[derive(Clone, Copy, Debug)]
pub struct TimerResult {
    pub connections: u64,
    pub virtual_seconds: u64,
    pub wall_seconds: f64,
    pub handle_timeout_calls: u64,
    pub packets: u64,
}

/// `connections` idle connections with SO_KEEPALIVE armed on the client side (Linux defaults:
/// first probe after 7,200 s idle), then two hours of virtual time driven like an event
/// loop that wakes at least once per virtual second: every wake-up calls `handle_timeout`,
/// and at the two-hour mark all probes fire, cross the link and are answered.
pub fn keepalive_timers(connections: u64) -> TimerResult {
    let mut pair = Pair::new(bench_config());
    pair.park(connections);
    pair.arm_keepalive();
    let start_virtual = pair.now;
    let end = start_virtual + Duration::from_secs(2 * 3600);
    let packets_before = pair.packets;
    let mut calls = 0u64;
    let start = std::time::Instant::now();
    while pair.now < end {
        let tick = (pair.now + Duration::from_secs(1)).min(end);
        let next = [pair.client.poll_timeout(), pair.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(tick);
        pair.now = next.min(tick).max(pair.now);
        pair.client.handle_timeout(pair.now);
        pair.server.handle_timeout(pair.now);
        calls += 1;
        pair.pump();
    }
    let wall_seconds = start.elapsed().as_secs_f64();
    TimerResult {
        connections,
        virtual_seconds: (pair.now - start_virtual).total_secs(),
        wall_seconds,
        handle_timeout_calls: calls,
        packets: pair.packets - packets_before,
    }
}
