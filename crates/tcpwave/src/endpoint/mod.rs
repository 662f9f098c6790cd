//! Many connections: O(1) demux by 4-tuple, listeners with SYN and accept queues,
//! the compact TIME_WAIT table, ephemeral ports, RFC 6528 ISNs and a timer wheel.
//!
//! The endpoint is driven by four kinds of method (the quinn-proto shape):
//! - inputs: [`Endpoint::handle_segment`] / [`Endpoint::handle_packet`] and
//!   [`Endpoint::handle_timeout`];
//! - application calls: `connect`, `listen`, `accept`, `send`, `recv`, `shutdown`,
//!   `close`, `abort`, `set_option` (see `api.rs`);
//! - outputs: [`Endpoint::poll_transmit`] (one IPv4 packet per call, until `None`),
//!   [`Endpoint::poll_event`] and [`Endpoint::poll_timeout`];
//! - getters: `state`, `info`, `snapshot`, `counters`.
//!
//! Call order: after any input or application call, drain `poll_transmit` and
//! `poll_event`, then sleep until `poll_timeout` and call `handle_timeout`.
//! `now` must never go backwards between calls.
//!
//! Nothing here scans all connections: inputs find their connection through the
//! demux map, outputs come from a queue of connections that have something to send,
//! and timers from the wheel (connections) or the TIME_WAIT FIFO.

mod connect;
pub mod isn;
mod lifecycle;
pub(crate) mod listener;
pub mod ports;
pub mod slab;
mod snapshot;
pub mod time_wait;
pub mod timer_wheel;
mod tw_process;

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::conn::buffers::BufferPool;
use crate::conn::{ChallengeBudget, Conn, Ctx, OutSegment, ResetReply};
use crate::counters::Counters;
use crate::event::Event;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;
use crate::wire::{self, TcpFlags, TcpOptions, TcpRepr, WireError};
use isn::IsnGenerator;
use listener::Listener;
use ports::PortAllocator;
use slab::{Handle, Slab};
use time_wait::TimeWaitTable;
use timer_wheel::TimerWheel;

pub use snapshot::{ConnInfo, SocketInfo};

/// Names a connection of one endpoint. Stale handles are detected (generation check).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ConnId(pub(crate) Handle);

/// Names a listening socket of one endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ListenerId(pub(crate) Handle);

impl ConnId {
    /// A small number for display (`c3`); unique among live connections.
    pub fn index(self) -> u32 {
        self.0.index()
    }
}

impl core::fmt::Display for ConnId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "c{}", self.0.index())
    }
}

/// A segment sent on nobody's behalf: RSTs for unknown tuples, TIME_WAIT re-ACKs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ControlSegment {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    repr: TcpRepr,
}

/// IPv4 TTL of everything we send (Linux `ip_default_ttl`).
const TTL: u8 = 64;

/// A TCP endpoint: every connection of one host (or one network namespace).
pub struct Endpoint {
    pub(crate) cfg: Config,
    pub(crate) now: Instant,
    pub(crate) conns: Slab<Conn>,
    pub(crate) demux: FxHashMap<FourTuple, Handle>,
    /// The connection the last segment was for (see `lookup`).
    last_demux: Option<Handle>,
    pub(crate) listeners: Slab<Listener>,
    pub(crate) listen_map: FxHashMap<(Ipv4Addr, u16), Handle>,
    pub(crate) time_wait: TimeWaitTable,
    pub(crate) ports: PortAllocator,
    pub(crate) isn: IsnGenerator,
    pub(crate) wheel: TimerWheel<Handle>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) transmit_queue: VecDeque<Handle>,
    pub(crate) control: VecDeque<ControlSegment>,
    pub(crate) counters: Counters,
    pub(crate) challenge: ChallengeBudget,
    /// Small send/receive buffer storage of freed connections, for new ones.
    pub(crate) pool: BufferPool,
    pub(crate) ip_ident: u16,
    /// Ephemeral ports taken per destination (a shortcut for `connect`'s port scan).
    pub(crate) port_use: connect::PortUse,
    /// Where `transmit_next` has a connection build its segment: every path that produces
    /// one writes all of it, so it is not cleared between packets (a ~100-byte zero fill
    /// per packet otherwise).
    out_segment: OutSegment,
}

impl Endpoint {
    /// A new endpoint with the given configuration, its clock starting at `now`.
    pub fn new(cfg: Config, now: Instant) -> Endpoint {
        let ports = PortAllocator::new(cfg.ip_local_port_range, cfg.isn_secret);
        Endpoint {
            time_wait: TimeWaitTable::new(cfg.time_wait_len()),
            isn: IsnGenerator::new(cfg.isn_secret),
            ports,
            wheel: TimerWheel::new(now),
            cfg,
            now,
            conns: Slab::new(),
            demux: FxHashMap::default(),
            last_demux: None,
            listeners: Slab::new(),
            listen_map: FxHashMap::default(),
            events: VecDeque::new(),
            transmit_queue: VecDeque::new(),
            control: VecDeque::new(),
            counters: Counters::default(),
            challenge: ChallengeBudget::default(),
            pool: BufferPool::default(),
            ip_ident: 0,
            port_use: connect::PortUse::default(),
            out_segment: OutSegment::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Number of full connections (TIME_WAIT entries not included).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of TIME_WAIT entries.
    pub fn time_wait_count(&self) -> usize {
        self.time_wait.len()
    }

    /// Bytes the TIME_WAIT table holds, all overheads included.
    pub fn time_wait_memory_bytes(&self) -> usize {
        self.time_wait.memory_bytes()
    }

    /// Smallest buffer `poll_transmit` accepts: IPv4 + TCP headers with options + MSS.
    pub fn max_packet_len(&self) -> usize {
        20 + 60 + self.cfg.mss as usize
    }

    pub(crate) fn advance(&mut self, now: Instant) {
        debug_assert!(
            now >= self.now,
            "time went backwards: {now:?} < {:?}",
            self.now
        );
        if now > self.now {
            self.now = now;
        }
    }

    /// Run `f` on a connection with a context for its events and counters.
    pub(crate) fn with_conn<R>(
        &mut self,
        h: Handle,
        f: impl FnOnce(&mut Conn, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let conn = self.conns.get_mut(h)?;
        let mut ctx = Ctx {
            now: self.now,
            cfg: &self.cfg,
            events: &mut self.events,
            counters: &mut self.counters,
            challenge: &mut self.challenge,
            pool: &mut self.pool,
            id: ConnId(h),
        };
        Some(f(conn, &mut ctx))
    }

    /// Store a new CLOSED connection for `tuple`, let `open` open it where it lies (it may
    /// report events: they carry the new handle), and enter it in the demux map.
    pub(crate) fn insert_conn(
        &mut self,
        tuple: FourTuple,
        iss: crate::seq::SeqNumber,
        ts_offset: u32,
        open: impl FnOnce(&mut Conn, &mut Ctx<'_>),
    ) -> Handle {
        let h = self.insert_blank_conn(tuple, iss, ts_offset);
        self.with_conn(h, open);
        h
    }

    /// `insert_conn` up to the opening: one out-of-line copy for active and passive opens
    /// (inlined into both, the TCB's initialisation was two copies of the same code).
    #[inline(never)]
    fn insert_blank_conn(
        &mut self,
        tuple: FourTuple,
        iss: crate::seq::SeqNumber,
        ts_offset: u32,
    ) -> Handle {
        let (cfg, now) = (&self.cfg, self.now);
        let h = self
            .conns
            .insert_with(|| Conn::blank(tuple, iss, ts_offset, cfg, now));
        self.demux.insert(tuple, h);
        h
    }

    /// Parse an IPv4 packet and process the TCP segment in it. Malformed packets
    /// are counted (InErrs) and returned as errors; nothing else happens.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) -> Result<(), WireError> {
        // Parsed in place and passed on by reference (see `parse_ipv4_tcp_into`).
        let mut tcp = TcpRepr::default();
        match wire::parse_ipv4_tcp_into(packet, self.tcp_checksum(), &mut tcp) {
            Ok((ip, payload)) => {
                self.handle_segment(now, ip.src, ip.dst, &tcp, payload);
                Ok(())
            }
            Err(err) => {
                self.counters.InErrs += 1;
                Err(err)
            }
        }
    }

    /// Process one parsed segment from `src` to `dst` (RFC 9293 §3.10.7).
    pub fn handle_segment(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: &TcpRepr,
        payload: &[u8],
    ) {
        self.advance(now);
        self.counters.InSegs += 1;
        let tuple = FourTuple {
            local_addr: dst,
            remote_addr: src,
            local_port: seg.dst_port,
            remote_port: seg.src_port,
        };
        if let Some(h) = self.lookup(&tuple) {
            self.last_demux = Some(h);
            self.conn_segment(h, seg, payload);
        } else if self.time_wait.get(&tuple).is_some() {
            self.time_wait_segment(tuple, seg, payload);
        } else if let Some(lh) = self.find_listener(dst, seg.dst_port) {
            self.listener_segment(lh, tuple, seg, None);
        } else {
            self.closed_port_reply(tuple, seg, payload.len());
        }
    }

    /// The live connection of `tuple`: the one the previous segment went to when it
    /// matches (a burst of one connection's segments skips the hash probe), else the
    /// demux map. A connection in the slab that is not CLOSED is always in the demux map
    /// under its tuple (`check_invariants`), so the shortcut needs no invalidation.
    #[inline]
    fn lookup(&self, tuple: &FourTuple) -> Option<Handle> {
        if let Some(h) = self.last_demux {
            if self
                .conns
                .get(h)
                .is_some_and(|c| c.tuple == *tuple && c.state != State::Closed)
            {
                return Some(h);
            }
        }
        self.demux.get(tuple).copied()
    }

    fn conn_segment(&mut self, h: Handle, seg: &TcpRepr, payload: &[u8]) {
        let Some(conn) = self.conns.get(h) else {
            return;
        };
        let before = conn.state;
        // Only a half-open connection of a listener asks (once its segment has passed the
        // request checks, `Conn::listen_overflow`); never on an established one's path.
        let accept_queue_full = before == State::SynReceived
            && conn
                .listener
                .is_some_and(|lid| self.accept_queue_full(lid.0));
        let reply = self
            .with_conn(h, |conn, ctx| {
                conn.on_segment(ctx, seg, payload, accept_queue_full)
            })
            .flatten();
        if let Some(reply) = reply {
            let tuple = self.conns.get(h).map(|c| c.tuple);
            if let Some(tuple) = tuple {
                self.queue_reset(tuple, reply.seq, reply.ack);
            }
        }
        self.after_change(h, before);
    }

    /// RFC 9293 §3.10.7.1: a segment for a tuple nobody owns (CLOSED).
    #[cold]
    fn closed_port_reply(&mut self, tuple: FourTuple, seg: &TcpRepr, payload_len: usize) {
        if let Some(reply) = ResetReply::answering(seg, payload_len) {
            self.queue_reset(tuple, reply.seq, reply.ack);
        }
    }

    /// Queue `<SEQ=seq><CTL=RST>` (with ACK when `ack` is given) toward the tuple's remote.
    #[cold]
    fn queue_reset(
        &mut self,
        tuple: FourTuple,
        seq: crate::seq::SeqNumber,
        ack: Option<crate::seq::SeqNumber>,
    ) {
        let flags = if ack.is_some() {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        };
        let repr = TcpRepr {
            src_port: tuple.local_port,
            dst_port: tuple.remote_port,
            seq,
            ack: ack.unwrap_or_default(),
            flags,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        };
        self.counters.OutRsts += 1;
        self.control.push_back(ControlSegment {
            src: tuple.local_addr,
            dst: tuple.remote_addr,
            repr,
        });
    }

    /// Run every timer that is due at `now`.
    ///
    /// At most as many expiries run as timers were armed when the call started: a
    /// connection whose timer re-arms itself at `now` (which a valid configuration never
    /// does) is left for the next call, with `poll_timeout` saying `now`, so one call
    /// always returns and a driver's step cap can see the loop.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        for _ in 0..self.wheel.len() {
            let Some((h, _)) = self.wheel.pop_expired(now) else {
                break;
            };
            let Some(conn) = self.conns.get_mut(h) else {
                continue;
            };
            conn.wheel = None;
            let before = conn.state;
            self.with_conn(h, |conn, ctx| conn.on_timers(ctx));
            self.after_change(h, before);
        }
        self.expire_time_wait(now);
    }

    /// When `handle_timeout` should next be called (it may find nothing due).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.wheel.next_wakeup(), self.time_wait.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Write the next packet to send into `buf` (at least `max_packet_len()` bytes) and
    /// return its length; `None` when there is nothing to send.
    #[must_use]
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.advance(now);
        // A runtime drains until `None`, so every burst ends with a call that finds both
        // queues empty: answer it without entering the (large) body below.
        if self.control.is_empty() && self.transmit_queue.is_empty() {
            return None;
        }
        self.transmit_next(buf)
    }

    #[inline(never)]
    fn transmit_next(&mut self, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < self.max_packet_len() {
            debug_assert!(
                false,
                "poll_transmit buffer of {} bytes is too small",
                buf.len()
            );
            return None;
        }
        if let Some(c) = self.control.pop_front() {
            // Tcp: OutSegs counts every segment sent except retransmissions (RFC 1213).
            self.counters.OutSegs += 1;
            self.ip_ident = self.ip_ident.wrapping_add(1);
            return wire::emit_ipv4_tcp_in_place_with(
                c.src,
                c.dst,
                TTL,
                self.ip_ident,
                &c.repr,
                0,
                buf,
                self.tcp_checksum(),
            )
            .ok();
        }
        let tcp_checksum = self.tcp_checksum();
        while let Some(h) = self.transmit_queue.pop_front() {
            let Some(conn) = self.conns.get_mut(h) else {
                continue;
            };
            conn.queued_for_output = false;
            let before = conn.state;
            let mut ctx = Ctx {
                now: self.now,
                cfg: &self.cfg,
                events: &mut self.events,
                counters: &mut self.counters,
                challenge: &mut self.challenge,
                pool: &mut self.pool,
                id: ConnId(h),
            };
            // The segment is built in place and written out by reference while the
            // connection is at hand: returning it through `with_conn`'s nested `Option`
            // copied ~100 bytes several times, each copy stalling on the narrow stores that
            // built it (perf put a third of this function's time on those moves). Going
            // through `with_conn` with the slot, then looking the connection up again to
            // write it, still costs ~250 instructions a lifecycle: hence this second `Ctx`.
            let seg = &mut self.out_segment;
            let produced = conn.poll_output(&mut ctx, seg);
            let written = if produced {
                if !seg.retransmit {
                    // OutSegs counts every segment sent except retransmissions (RFC 1213).
                    self.counters.OutSegs += 1;
                }
                self.ip_ident = self.ip_ident.wrapping_add(1);
                write_segment(conn, seg, self.ip_ident, tcp_checksum, buf)
            } else {
                None
            };
            self.after_change_queueing(h, before, produced);
            if written.is_some() {
                return written;
            }
        }
        None
    }

    /// Who computes and checks TCP checksums (the `checksum_offload` knob).
    fn tcp_checksum(&self) -> wire::TcpChecksum {
        if self.cfg.checksum_offload {
            wire::TcpChecksum::Offloaded
        } else {
            wire::TcpChecksum::Software
        }
    }
}

/// Write `seg` with its payload from `conn`'s send buffer into `buf`; its length, or `None`
/// if `buf` is too short (the caller checked `max_packet_len`).
fn write_segment(
    conn: &Conn,
    seg: &OutSegment,
    ip_ident: u16,
    tcp_checksum: wire::TcpChecksum,
    buf: &mut [u8],
) -> Option<usize> {
    let header_len = wire::ipv4_tcp_len(&seg.repr, 0);
    let end = header_len + seg.data_len;
    conn.send
        .copy_out(seg.data_offset, buf.get_mut(header_len..end)?);
    let (src, dst) = (conn.tuple.local_addr, conn.tuple.remote_addr);
    wire::emit_ipv4_tcp_in_place_with(
        src,
        dst,
        TTL,
        ip_ident,
        &seg.repr,
        seg.data_len,
        buf,
        tcp_checksum,
    )
    .ok()
}
