//! Harness for the per-state tests (the smoltcp style): one real [`Endpoint`] under test,
//! driven with crafted segments through `Endpoint::handle_segment`, and every segment it
//! sends parsed back from the bytes of `poll_transmit` and compared field by field.
//!
//! - `send!(t, seg)` injects a segment from the peer;
//! - `recv!(t, seg)` asserts the exact next segment we send (flags, seq, ack, payload,
//!   options; the window when the expectation names one);
//! - `recv_nothing!(t)` asserts that nothing is waiting to be sent.
//!
//! Fixtures reach each state by driving the real handshake and close (never by setting
//! fields): `listen`, `syn_sent`, `syn_received`, `established`, `fin_wait_1`,
//! `fin_wait_2`, `close_wait`, `last_ack`, `closing`, `time_wait`, with `_after_shutdown`
//! variants where the application keeps its handle. They drain the events of the way
//! there, so a test sees only the events its own steps cause.
//!
//! After every input the harness calls `Endpoint::check_invariants` (debug builds also run
//! the per-connection part inside the endpoint), so every test checks them at every step.

#![allow(dead_code, unused_macros, unused_imports)]

use std::fmt;

pub use std::net::{Ipv4Addr, SocketAddrV4};
pub use tcpwave::endpoint::isn::IsnGenerator;
pub use tcpwave::wire::{self, SackBlock, TcpFlags, TcpOptions, TcpRepr};
pub use tcpwave::{
    Config, ConnId, Duration, Endpoint, Error, Event, FourTuple, Instant, ListenerId, Reason,
    SeqNumber, Shutdown, SockOpt, State,
};

/// A data segment (ACK|PSH, timestamps) for the wire-format tests to emit and parse.
pub fn data_segment() -> TcpRepr {
    TcpRepr {
        src_port: 5_000,
        dst_port: 80,
        seq: SeqNumber(1_000),
        ack: SeqNumber(2_000),
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window: 1_024,
        options: TcpOptions {
            timestamps: Some((7, 9)),
            ..TcpOptions::default()
        },
        ..TcpRepr::default()
    }
}

/// Our address (the endpoint under test).
pub const OUR_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The peer's address.
pub const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// The port we listen on (passive opens) and the peer listens on (active opens).
pub const SERVER_PORT: u16 = 80;
/// The client's port: the peer's in passive opens, ours in active opens.
pub const CLIENT_PORT: u16 = 40_000;
/// The peer's initial sequence number: 296 octets below 2^32, so that data crosses the
/// wrap of the sequence space and every comparison must be modular (RFC 9293 §3.4).
pub const PEER_ISS: SeqNumber = SeqNumber(u32::MAX - 295);
/// The peer's MSS and receive window (a Linux peer: 64240 = 44 * 1460 on its SYN).
pub const PEER_MSS: u16 = 1460;
pub const PEER_WINDOW: u16 = 64_240;
/// The window scale a Linux peer offers for a 6 MiB tcp_rmem[2].
pub const PEER_WSCALE: u8 = 7;
/// The peer's timestamp clock at time zero (its TSval = milliseconds + this).
pub const PEER_TS_BASE: u32 = 0x2000_0000;
/// When every test starts.
pub const START: Instant = Instant::from_secs(100);
/// Our SYN / SYN-ACK window: Linux rounds 65535 down to whole MSS-sized segments.
pub const SYN_WINDOW: u16 = 64_240;
/// Our window field once established with `config()` (no scaling, 128 KiB buffer): the
/// window of our SYN, which caps the window we offer (`rcv_ssthresh`, Linux
/// `__tcp_select_window`) until a segment of 128 bytes or more arrives.
pub const WINDOW: u16 = 64_240;
/// The same once such a segment opened the window to the unscaled clamp.
pub const WINDOW_OPEN: u16 = 65_535;

/// The configuration most tests use: the Linux profile without timestamps, SACK and
/// window scaling, so that segments carry no options after the SYNs.
pub fn config() -> Config {
    Config {
        tcp_timestamps: false,
        tcp_sack: false,
        tcp_window_scaling: false,
        ..Config::default()
    }
}

/// `config()` with SACK on (out-of-order tests).
pub fn config_sack() -> Config {
    Config {
        tcp_sack: true,
        ..config()
    }
}

/// The full Linux profile: timestamps, SACK and window scaling on.
pub fn config_linux() -> Config {
    Config::default()
}

/// A segment as the tests write them. In an expectation, `window: None` means "any
/// window" and `options: None` means "any options"; when injected, they default to the
/// peer's usual window and to no options.
#[derive(Clone, PartialEq, Eq)]
pub struct Seg {
    pub flags: TcpFlags,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub window: Option<u16>,
    pub options: Option<TcpOptions>,
    pub payload: Vec<u8>,
    /// Set on injected segments that must not get the peer's automatic timestamp.
    pub raw: bool,
}

impl Seg {
    pub fn new(flags: TcpFlags, seq: SeqNumber, ack: SeqNumber) -> Seg {
        Seg {
            flags,
            seq,
            ack,
            window: None,
            options: Some(TcpOptions::default()),
            payload: Vec::new(),
            raw: false,
        }
    }
    /// The window field.
    pub fn win(mut self, window: u16) -> Seg {
        self.window = Some(window);
        self
    }
    /// The exact options.
    pub fn opts(mut self, options: TcpOptions) -> Seg {
        self.options = Some(options);
        self
    }
    /// In an expectation: do not compare options.
    pub fn any_opts(mut self) -> Seg {
        self.options = None;
        self
    }
    /// Injected exactly as written: no automatic timestamp option.
    pub fn raw(mut self) -> Seg {
        self.raw = true;
        self
    }
    pub fn payload(mut self, data: &[u8]) -> Seg {
        self.payload = data.to_vec();
        self
    }
    pub fn with(mut self, flags: TcpFlags) -> Seg {
        self.flags = self.flags | flags;
        self
    }
    /// Add SACK blocks (expected or injected).
    pub fn sack(mut self, blocks: &[(SeqNumber, SeqNumber)]) -> Seg {
        let options = self.options.get_or_insert_with(TcpOptions::default);
        for (i, &(left, right)) in blocks.iter().enumerate() {
            options.sack_blocks[i] = SackBlock { left, right };
        }
        options.sack_count = blocks.len() as u8;
        self
    }
    /// Add a timestamp option (TSval, TSecr).
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> Seg {
        self.options
            .get_or_insert_with(TcpOptions::default)
            .timestamps = Some((tsval, tsecr));
        self
    }
    /// Sequence space the segment occupies (RFC 9293 §3.4: SYN and FIN count one).
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + self.flags.syn() as u32 + self.flags.fin() as u32
    }
}

impl fmt::Debug for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] seq={} ack={}",
            self.flags.letters(),
            self.seq,
            self.ack
        )?;
        match self.window {
            Some(w) => write!(f, " win={w}")?,
            None => write!(f, " win=*")?,
        }
        write!(f, " len={}", self.payload.len())?;
        match &self.options {
            Some(o) if *o == TcpOptions::default() => {}
            Some(o) => write!(f, " <{}>", o)?,
            None => write!(f, " <*>")?,
        }
        Ok(())
    }
}

/// `<SEQ=seq><CTL=SYN>`.
pub fn syn(seq: SeqNumber) -> Seg {
    Seg::new(TcpFlags::SYN, seq, SeqNumber(0))
}
/// `<SEQ=seq><ACK=ack><CTL=SYN,ACK>`.
pub fn syn_ack(seq: SeqNumber, ack: SeqNumber) -> Seg {
    Seg::new(TcpFlags::SYN | TcpFlags::ACK, seq, ack)
}
/// `<SEQ=seq><ACK=ack><CTL=ACK>`.
pub fn ack(seq: SeqNumber, ack: SeqNumber) -> Seg {
    Seg::new(TcpFlags::ACK, seq, ack)
}
/// `<SEQ=seq><ACK=ack><CTL=PSH,ACK>` carrying `data`.
pub fn data(seq: SeqNumber, ack: SeqNumber, data: &[u8]) -> Seg {
    Seg::new(TcpFlags::PSH | TcpFlags::ACK, seq, ack).payload(data)
}
/// `<SEQ=seq><ACK=ack><CTL=FIN,ACK>`.
pub fn fin(seq: SeqNumber, ack: SeqNumber) -> Seg {
    Seg::new(TcpFlags::FIN | TcpFlags::ACK, seq, ack)
}
/// `<SEQ=seq><CTL=RST>`.
pub fn rst(seq: SeqNumber) -> Seg {
    Seg::new(TcpFlags::RST, seq, SeqNumber(0))
}
/// `<SEQ=seq><ACK=ack><CTL=RST,ACK>`.
pub fn rst_ack(seq: SeqNumber, ack: SeqNumber) -> Seg {
    Seg::new(TcpFlags::RST | TcpFlags::ACK, seq, ack)
}

/// The peer's address with another port: a second peer.
pub fn peer_at(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(PEER_ADDR, port)
}

/// Options of a SYN: MSS only.
pub fn mss_only(mss: u16) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        ..TcpOptions::default()
    }
}

/// Options a Linux peer puts on its SYN: MSS, SACK-permitted, timestamps, window scale.
pub fn linux_syn_options(tsval: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(PEER_MSS),
        window_scale: Some(PEER_WSCALE),
        sack_permitted: true,
        timestamps: Some((tsval, 0)),
        ..TcpOptions::default()
    }
}

/// `SeqNumber + n`, written short.
pub fn s(base: SeqNumber, n: u32) -> SeqNumber {
    base + n
}

/// Bounds every loop in the harness.
const STEP_LIMIT: usize = 100_000;

/// The endpoint under test and what the harness knows about the one connection a test
/// is about.
pub struct T {
    pub ep: Endpoint,
    pub now: Instant,
    /// Our address and port.
    pub ours: SocketAddrV4,
    /// The peer's address and port.
    pub peer: SocketAddrV4,
    pub conn: Option<ConnId>,
    pub listener: Option<ListenerId>,
    /// Our initial sequence number (RFC 6528), known from the fixture.
    pub iss: SeqNumber,
    /// Timestamps were negotiated: injected segments get the peer's TS option, and
    /// expectations with options but no TS get ours (TSval from our clock, TSecr = the
    /// peer's latest TSval).
    pub ts: bool,
    /// The latest TSval the peer sent (auto-stamped segments only).
    pub peer_tsval: u32,
    /// The latest TSval we sent.
    pub our_tsval: u32,
    /// Window scale the peer's window fields are shifted by (0 without scaling).
    pub peer_wscale: u8,
    /// Events taken from the endpoint and not yet handed to the test.
    stashed: Vec<Event>,
    buf: Vec<u8>,
}

impl T {
    /// A fresh endpoint with `cfg`, clock at `START`, no sockets.
    pub fn new(cfg: Config) -> T {
        T {
            ep: Endpoint::new(cfg, START),
            now: START,
            ours: SocketAddrV4::new(OUR_ADDR, SERVER_PORT),
            peer: SocketAddrV4::new(PEER_ADDR, CLIENT_PORT),
            conn: None,
            listener: None,
            iss: SeqNumber(0),
            ts: false,
            peer_tsval: 0,
            our_tsval: 0,
            peer_wscale: 0,
            stashed: Vec::new(),
            buf: vec![0u8; 70_000],
        }
    }

    pub fn cfg(&self) -> &Config {
        self.ep.config()
    }

    /// The connection the test is about.
    #[track_caller]
    pub fn conn(&self) -> ConnId {
        self.conn.expect("the test has no connection yet")
    }

    /// Its state, or `None` once the endpoint forgot it.
    pub fn state(&self) -> Option<State> {
        self.ep.state(self.conn())
    }

    /// The 4-tuple from our side.
    pub fn tuple(&self) -> FourTuple {
        FourTuple::new(self.ours, self.peer)
    }

    /// The peer's timestamp clock now.
    pub fn peer_clock(&self) -> u32 {
        (self.now.total_millis() as u32).wrapping_add(PEER_TS_BASE)
    }

    /// Our timestamp clock now (RFC 7323 §5.4: milliseconds plus a per-pair offset).
    pub fn our_clock(&self) -> u32 {
        let offset =
            IsnGenerator::new(self.cfg().isn_secret).ts_offset(*self.ours.ip(), *self.peer.ip());
        (self.now.total_millis() as u32).wrapping_add(offset)
    }

    /// The ISN RFC 6528 gives our side of the test's tuple now.
    pub fn expected_iss(&self) -> SeqNumber {
        IsnGenerator::new(self.cfg().isn_secret).isn(&self.tuple(), self.now)
    }

    /// Check the endpoint's invariants (after every input).
    pub fn check(&self) {
        self.ep.check_invariants();
    }

    /// The window field the peer uses by default.
    fn default_peer_window(&self) -> u16 {
        PEER_WINDOW >> self.peer_wscale
    }

    /// Inject `seg` from the peer (to our address and port).
    #[track_caller]
    pub fn send(&mut self, seg: Seg) {
        let (src, dst) = (self.peer, self.ours);
        self.send_from(src, dst, seg);
    }

    /// Inject `seg` from `src` to `dst` (another tuple than the test's).
    #[track_caller]
    pub fn send_from(&mut self, src: SocketAddrV4, dst: SocketAddrV4, seg: Seg) {
        let mut options = seg.options.unwrap_or_default();
        if self.ts && !seg.raw && options.timestamps.is_none() && !seg.flags.syn() {
            self.peer_tsval = self.peer_clock();
            options.timestamps = Some((self.peer_tsval, self.our_tsval));
        }
        let repr = TcpRepr {
            src_port: src.port(),
            dst_port: dst.port(),
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: seg.window.unwrap_or_else(|| self.default_peer_window()),
            urgent: 0,
            options,
        };
        self.ep
            .handle_segment(self.now, *src.ip(), *dst.ip(), &repr, &seg.payload);
        self.check();
    }

    /// The next packet we send, as raw IPv4 bytes (to check the wire layout).
    pub fn poll_raw(&mut self) -> Option<Vec<u8>> {
        let n = self.ep.poll_transmit(self.now, &mut self.buf)?;
        self.check();
        Some(self.buf[..n].to_vec())
    }

    /// The next segment we send, parsed from the packet bytes, with its addresses.
    pub fn poll(&mut self) -> Option<(SocketAddrV4, SocketAddrV4, Seg)> {
        let n = self.ep.poll_transmit(self.now, &mut self.buf)?;
        self.check();
        let (ip, tcp, payload) = wire::parse_ipv4_tcp(&self.buf[..n])
            .unwrap_or_else(|e| panic!("the endpoint sent a packet that does not parse: {e}"));
        if let Some((tsval, _)) = tcp.options.timestamps {
            self.our_tsval = tsval;
        }
        let src = SocketAddrV4::new(ip.src, tcp.src_port);
        let dst = SocketAddrV4::new(ip.dst, tcp.dst_port);
        let seg = Seg {
            flags: tcp.flags,
            seq: tcp.seq,
            ack: tcp.ack,
            window: Some(tcp.window),
            options: Some(tcp.options),
            payload: payload.to_vec(),
            raw: false,
        };
        Some((src, dst, seg))
    }

    /// The next segment we send to the peer; panics if there is none or it goes elsewhere.
    #[track_caller]
    pub fn recv_any(&mut self) -> Seg {
        let Some((src, dst, seg)) = self.poll() else {
            panic!("expected a segment at {:?}, nothing was sent", self.now);
        };
        assert_eq!(
            (src, dst),
            (self.ours, self.peer),
            "segment {seg:?} on another tuple"
        );
        seg
    }

    /// Assert that the next segment we send is `expected`.
    #[track_caller]
    pub fn recv(&mut self, expected: Seg) {
        let (ours, peer) = (self.ours, self.peer);
        self.recv_on(ours, peer, expected);
    }

    /// Assert that the next segment we send goes from `src` to `dst` and is `expected`.
    #[track_caller]
    pub fn recv_on(&mut self, src: SocketAddrV4, dst: SocketAddrV4, mut expected: Seg) {
        let our_clock = self.our_clock();
        let Some((got_src, got_dst, got)) = self.poll() else {
            panic!("at {:?}: expected {expected:?}, nothing was sent", self.now);
        };
        if self.ts && !expected.flags.rst() {
            if let Some(o) = expected.options.as_mut() {
                if o.timestamps.is_none() {
                    o.timestamps = Some((our_clock, self.peer_tsval));
                }
            }
        }
        assert_eq!(
            (got_src, got_dst),
            (src, dst),
            "at {:?}: segment {got:?} sent on the wrong tuple",
            self.now
        );
        let same = got.flags == expected.flags
            && got.seq == expected.seq
            && got.ack == expected.ack
            && got.payload == expected.payload
            && (expected.window.is_none() || expected.window == got.window)
            && (expected.options.is_none() || expected.options == got.options);
        assert!(
            same,
            "at {:?}: wrong segment\n expected {expected:?}\n      got {got:?}",
            self.now
        );
    }

    /// Assert that nothing is waiting to be sent.
    #[track_caller]
    pub fn recv_nothing(&mut self) {
        if let Some((src, dst, seg)) = self.poll() {
            panic!(
                "at {:?}: expected nothing, got {seg:?} from {src} to {dst}",
                self.now
            );
        }
    }

    /// Let `d` pass, running every timer that falls due on the way at its own time.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.advance_to(target);
    }

    /// Run every timer due up to `target`, each at its own time, then set the clock there.
    pub fn advance_to(&mut self, target: Instant) {
        for _ in 0..STEP_LIMIT {
            match self.ep.poll_timeout() {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    self.ep.handle_timeout(self.now);
                    self.check();
                    if at == target {
                        return;
                    }
                }
                _ => {
                    self.now = target;
                    self.ep.handle_timeout(self.now);
                    self.check();
                    return;
                }
            }
        }
        panic!("timers kept firing before {target:?}");
    }

    /// Assert that nothing is sent and no event happens before `at`, then let the clock
    /// reach `at` (running what falls due then). `poll_timeout` may name an earlier
    /// wake-up than the timer itself (the wheel's slot boundary), so tests name the exact
    /// time they expect instead of trusting it.
    #[track_caller]
    pub fn quiet_until(&mut self, at: Instant) {
        assert!(at > self.now, "quiet_until({at:?}) is not in the future");
        // A user drains poll_transmit after every call; so does the harness, now.
        if let Some((_, _, seg)) = self.poll() {
            panic!("{seg:?} is waiting to be sent at {:?}", self.now);
        }
        self.stash_events();
        self.advance_to(at - Duration::from_micros(1));
        if let Some((_, _, seg)) = self.poll() {
            panic!("{seg:?} was sent at {:?}, before {at:?}", self.now);
        }
        let early: Vec<Event> = std::iter::from_fn(|| self.ep.poll_event()).collect();
        assert!(early.is_empty(), "events before {at:?}: {early:?}");
        self.advance_to(at);
    }

    /// Move the endpoint's queued events into the harness, keeping their order.
    fn stash_events(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.stashed.push(e);
            assert!(self.stashed.len() < STEP_LIMIT, "endless events");
        }
    }

    /// Every event since the last call.
    pub fn events(&mut self) -> Vec<Event> {
        self.stash_events();
        std::mem::take(&mut self.stashed)
    }

    /// The state changes among `events`, as (from, to, reason).
    pub fn state_changes(events: &[Event]) -> Vec<(State, State, Reason)> {
        events
            .iter()
            .filter_map(|e| match *e {
                Event::StateChanged {
                    from, to, reason, ..
                } => Some((from, to, reason)),
                _ => None,
            })
            .collect()
    }

    /// The events since the last call, other than state changes.
    pub fn other_events(&mut self) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| !matches!(e, Event::StateChanged { .. }))
            .collect()
    }

    /// A `StateChanged` event of the test's connection.
    pub fn changed(&self, from: State, to: State, reason: Reason) -> Event {
        Event::StateChanged {
            conn: self.conn,
            tuple: self.tuple(),
            from,
            to,
            reason,
        }
    }

    /// A `StateChanged` event of the TIME_WAIT entry of the test's tuple.
    pub fn tw_changed(&self, to: State, reason: Reason) -> Event {
        Event::StateChanged {
            conn: None,
            tuple: self.tuple(),
            from: State::TimeWait,
            to,
            reason,
        }
    }

    /// Queue `bytes` for sending; all of them must fit.
    #[track_caller]
    pub fn write(&mut self, bytes: &[u8]) {
        let n = self.ep.send(self.now, self.conn(), bytes).expect("send");
        assert_eq!(n, bytes.len(), "the send buffer took only part of the data");
        self.check();
    }

    /// Read everything that is ready.
    #[track_caller]
    pub fn read(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        for _ in 0..STEP_LIMIT {
            match self.ep.recv(self.now, self.conn(), &mut buf) {
                Ok(0) | Err(Error::WouldBlock) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => panic!("recv failed: {e}"),
            }
        }
        self.check();
        out
    }

    #[track_caller]
    pub fn close(&mut self) {
        self.ep.close(self.now, self.conn()).expect("close");
        self.check();
    }

    #[track_caller]
    pub fn shutdown_write(&mut self) {
        self.ep
            .shutdown(self.now, self.conn(), Shutdown::Write)
            .expect("shutdown");
        self.check();
    }

    #[track_caller]
    pub fn set(&mut self, opt: SockOpt) {
        self.ep
            .set_option(self.now, self.conn(), opt)
            .expect("setsockopt");
        self.check();
    }

    /// The TIME_WAIT entry of the test's tuple, if any: (SND.NXT, RCV.NXT, expiry).
    pub fn time_wait_entry(&self) -> Option<(SeqNumber, SeqNumber, Instant)> {
        let info = self.ep.info_by_tuple(&self.tuple())?;
        (info.state == State::TimeWait).then(|| {
            (
                info.snd_nxt,
                info.rcv_nxt.expect("TIME_WAIT entries know RCV.NXT"),
                info.time_wait_until
                    .expect("TIME_WAIT entries report their expiry"),
            )
        })
    }
}

/// `send!(t, seg)`: inject a segment from the peer.
macro_rules! send {
    ($t:expr, $seg:expr) => {
        $t.send($seg)
    };
}

/// `recv!(t, seg)`: the next segment we send must be exactly `seg`.
macro_rules! recv {
    ($t:expr, $seg:expr) => {
        $t.recv($seg)
    };
}

/// `recv_nothing!(t)`: nothing is waiting to be sent.
macro_rules! recv_nothing {
    ($t:expr) => {
        $t.recv_nothing()
    };
}

// ---------------------------------------------------------------------------------------
// Fixtures: each state reached through the real handshake and close.
// ---------------------------------------------------------------------------------------

/// The peer's SYN as a Linux client sends it (every option on).
pub fn peer_syn(t: &T) -> Seg {
    syn(PEER_ISS)
        .win(PEER_WINDOW)
        .opts(linux_syn_options(t.peer_clock()))
}

/// The options of our SYN-ACK in answer to `peer_syn` under the test's configuration.
pub fn our_syn_ack_options(t: &T) -> TcpOptions {
    let cfg = t.cfg();
    TcpOptions {
        mss: Some(cfg.mss),
        window_scale: cfg.tcp_window_scaling.then(|| cfg.offered_window_scale()),
        sack_permitted: cfg.tcp_sack,
        timestamps: cfg.tcp_timestamps.then(|| (t.our_clock(), t.peer_clock())),
        ..TcpOptions::default()
    }
}

/// The window of our SYN-ACK: 65535 rounded down to whole segments of the MSS we will
/// receive (1460, or 1448 with the 12 bytes of timestamps: 64240 or 65160, as Linux).
pub fn our_syn_ack_window(t: &T) -> u16 {
    let cfg = t.cfg();
    let ts_len = if cfg.tcp_timestamps { 12 } else { 0 };
    initial_window(cfg.tcp_rmem_default, u32::from(cfg.mss) - ts_len)
}

/// Linux `tcp_select_initial_window`: the buffer, at most 65535, rounded down to whole
/// segments of `mss` when it is larger than one.
pub fn initial_window(space: u32, mss: u32) -> u16 {
    let space = space.min(65_535);
    let window = if space > mss {
        space / mss * mss
    } else {
        space
    };
    window as u16
}

/// LISTEN: a listener on our address, port 80, backlog 16.
pub fn listen(cfg: Config) -> T {
    let mut t = T::new(cfg);
    let l = t.ep.listen(t.now, t.ours, 16).expect("listen");
    t.listener = Some(l);
    t.check();
    t
}

/// SYN-RECEIVED: LISTEN, the peer's SYN in, our SYN-ACK out.
pub fn syn_received(cfg: Config) -> T {
    let mut t = listen(cfg);
    t.iss = t.expected_iss();
    let syn = peer_syn(&t);
    let syn_tsval = t.peer_clock();
    send!(t, syn);
    let expected = syn_ack(t.iss, PEER_ISS + 1u32)
        .win(our_syn_ack_window(&t))
        .opts(our_syn_ack_options(&t));
    recv!(t, expected);
    t.conn = t.events().iter().find_map(|e| match *e {
        Event::StateChanged {
            conn,
            to: State::SynReceived,
            ..
        } => conn,
        _ => None,
    });
    assert!(t.conn.is_some(), "no connection entered SYN_RECEIVED");
    let cfg = t.cfg().clone();
    t.ts = cfg.tcp_timestamps;
    t.peer_tsval = syn_tsval;
    t.peer_wscale = if cfg.tcp_window_scaling {
        PEER_WSCALE
    } else {
        0
    };
    t
}

/// ESTABLISHED (passive open): SYN-RECEIVED, the handshake's ACK in, accept().
pub fn established(cfg: Config) -> T {
    let mut t = syn_received(cfg);
    send!(t, ack(PEER_ISS + 1u32, t.iss + 1u32));
    let l = t.listener.expect("listener");
    let c = t.ep.accept(t.now, l).expect("accept");
    assert_eq!(Some(c), t.conn, "accept() returned another connection");
    assert_eq!(t.state(), Some(State::Established));
    t.events();
    t
}

/// SYN-SENT: connect() from our port 40000 to the peer's port 80; our SYN out.
pub fn syn_sent(cfg: Config) -> T {
    syn_sent_between(
        cfg,
        SocketAddrV4::new(OUR_ADDR, CLIENT_PORT),
        SocketAddrV4::new(PEER_ADDR, SERVER_PORT),
    )
}

/// SYN-SENT from `ours` to `peer` (e.g. on loopback).
pub fn syn_sent_between(cfg: Config, ours: SocketAddrV4, peer: SocketAddrV4) -> T {
    let mut t = T::new(cfg);
    t.ours = ours;
    t.peer = peer;
    t.iss = t.expected_iss();
    let c = t.ep.connect(t.now, t.ours, t.peer).expect("connect");
    t.conn = Some(c);
    t.check();
    let window = initial_window(t.cfg().tcp_rmem_default, u32::from(t.cfg().mss));
    let expected = syn(t.iss).win(window).opts(our_syn_options(&t));
    recv!(t, expected);
    t.events();
    t
}

/// The options of our SYN under the test's configuration (Linux order and content).
pub fn our_syn_options(t: &T) -> TcpOptions {
    let cfg = t.cfg();
    TcpOptions {
        mss: Some(cfg.mss),
        window_scale: cfg.tcp_window_scaling.then(|| cfg.offered_window_scale()),
        sack_permitted: cfg.tcp_sack,
        timestamps: cfg.tcp_timestamps.then(|| (t.our_clock(), 0)),
        ..TcpOptions::default()
    }
}

/// The options of the peer's SYN-ACK to our SYN: what a Linux peer answers to what we
/// offered (RFC 7323 §2.2, RFC 2018 §2: only options our SYN carried).
pub fn peer_syn_ack_options(t: &T) -> TcpOptions {
    let cfg = t.cfg();
    TcpOptions {
        mss: Some(PEER_MSS),
        window_scale: cfg.tcp_window_scaling.then_some(PEER_WSCALE),
        sack_permitted: cfg.tcp_sack,
        timestamps: cfg.tcp_timestamps.then(|| (t.peer_clock(), t.our_tsval)),
        ..TcpOptions::default()
    }
}

/// ESTABLISHED (active open): SYN-SENT, the peer's SYN-ACK in, our ACK out.
pub fn established_active(cfg: Config) -> T {
    established_from(syn_sent(cfg))
}

/// ESTABLISHED from a SYN-SENT fixture: the peer's SYN-ACK in, our ACK out.
pub fn established_from(mut t: T) -> T {
    let cfg = t.cfg().clone();
    let syn_ack_seg = syn_ack(PEER_ISS, t.iss + 1u32)
        .win(PEER_WINDOW)
        .opts(peer_syn_ack_options(&t));
    send!(t, syn_ack_seg);
    t.ts = cfg.tcp_timestamps;
    t.peer_tsval = t.peer_clock();
    t.peer_wscale = if cfg.tcp_window_scaling {
        PEER_WSCALE
    } else {
        0
    };
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 1u32));
    assert_eq!(t.state(), Some(State::Established));
    t.events();
    t
}

/// FIN-WAIT-1 after close(): our FIN out, not yet acknowledged.
pub fn fin_wait_1(cfg: Config) -> T {
    let mut t = established(cfg);
    t.close();
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 1u32));
    assert_eq!(t.state(), Some(State::FinWait1));
    t.events();
    t
}

/// FIN-WAIT-1 after shutdown(SHUT_WR): the application keeps its handle.
pub fn fin_wait_1_after_shutdown(cfg: Config) -> T {
    let mut t = established(cfg);
    t.shutdown_write();
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 1u32));
    assert_eq!(t.state(), Some(State::FinWait1));
    t.events();
    t
}

/// FIN-WAIT-2 after close() (an orphan): our FIN acknowledged.
pub fn fin_wait_2(cfg: Config) -> T {
    let mut t = fin_wait_1(cfg);
    send!(t, ack(PEER_ISS + 1u32, t.iss + 2u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::FinWait2));
    t.events();
    t
}

/// FIN-WAIT-2 after shutdown(SHUT_WR): the application still holds the socket.
pub fn fin_wait_2_after_shutdown(cfg: Config) -> T {
    let mut t = fin_wait_1_after_shutdown(cfg);
    send!(t, ack(PEER_ISS + 1u32, t.iss + 2u32));
    recv_nothing!(t);
    assert_eq!(t.state(), Some(State::FinWait2));
    t.events();
    t
}

/// CLOSE-WAIT: ESTABLISHED, the peer's FIN in, our ACK out.
pub fn close_wait(cfg: Config) -> T {
    let mut t = established(cfg);
    send!(t, fin(PEER_ISS + 1u32, t.iss + 1u32));
    recv!(t, ack(t.iss + 1u32, PEER_ISS + 2u32));
    assert_eq!(t.state(), Some(State::CloseWait));
    t.events();
    t
}

/// LAST-ACK: CLOSE-WAIT, close(), our FIN out.
pub fn last_ack(cfg: Config) -> T {
    let mut t = close_wait(cfg);
    t.close();
    recv!(t, fin(t.iss + 1u32, PEER_ISS + 2u32));
    assert_eq!(t.state(), Some(State::LastAck));
    t.events();
    t
}

/// CLOSING (simultaneous close): FIN-WAIT-1 after shutdown, the peer's FIN in before
/// the ACK of ours; our ACK out.
pub fn closing(cfg: Config) -> T {
    let mut t = fin_wait_1_after_shutdown(cfg);
    send!(t, fin(PEER_ISS + 1u32, t.iss + 1u32));
    recv!(t, ack(t.iss + 2u32, PEER_ISS + 2u32));
    assert_eq!(t.state(), Some(State::Closing));
    t.events();
    t
}

/// TIME-WAIT: FIN-WAIT-2 (after close()), the peer's FIN in, our last ACK out.
pub fn time_wait(cfg: Config) -> T {
    let mut t = fin_wait_2(cfg);
    send!(t, fin(PEER_ISS + 1u32, t.iss + 2u32));
    recv!(t, ack(t.iss + 2u32, PEER_ISS + 2u32));
    assert!(t.time_wait_entry().is_some(), "no TIME_WAIT entry");
    t.events();
    t
}
