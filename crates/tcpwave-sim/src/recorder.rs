//! Builds the trace from what the hosts did: segments from the bytes on the wire
//! (relative sequence numbers as Wireshark computes them), state changes from the
//! engine's events, application calls, and connection-block snapshots.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddrV4;

use tcpwave::wire;
use tcpwave::{ConnInfo, FourTuple, Instant};
use tcpwave_trace::{Body, ConnBlock, Note, Segment, Snapshot, StateChange, Trace, TraceEvent};

/// Most connections tracked for snapshots; larger runs record none.
const SNAPSHOT_CONN_LIMIT: usize = 8;

/// Half the sequence space: a relative number at or above it lies before the ISN.
const HALF_SPACE: u32 = 1 << 31;

/// The note on a segment whose relative numbers count from the previous incarnation.
pub const PREVIOUS_CONNECTION_NOTE: &str =
    "numbers of the previous connection on this 4-tuple (relative to its ISNs)";

#[derive(Default)]
pub struct Recorder {
    pub trace: Trace,
    /// Initial sequence number per direction ("src" -> "dst"), from the latest SYN.
    isn: HashMap<(SocketAddrV4, SocketAddrV4), u32>,
    /// The ISN of the previous incarnation per direction, for segments that still carry
    /// its numbers (a stale LAST_ACK answering a new SYN, and the RST that replies).
    previous_isn: HashMap<(SocketAddrV4, SocketAddrV4), u32>,
    /// Window scale shift offered on the latest SYN per direction (RFC 7323 §2.2).
    wscale: HashMap<(SocketAddrV4, SocketAddrV4), u8>,
    next_id: u64,
    /// (host index, tuple) of every connection seen, in order of appearance.
    pub tracked: Vec<(usize, FourTuple)>,
    /// The same, for O(1) lookups (large runs see tens of thousands of connections).
    tracked_set: HashSet<(usize, FourTuple)>,
    pub snapshots_enabled: bool,
    /// Record events at all. Large runs turn it off outside the moments worth
    /// showing (`Sim::set_recording`); figures and counters are kept either way.
    pub recording: bool,
}

impl Recorder {
    pub fn new(scenario: &str, description: &str, seed: u64) -> Recorder {
        let mut r = Recorder {
            snapshots_enabled: true,
            recording: true,
            ..Recorder::default()
        };
        r.trace.scenario = scenario.to_string();
        r.trace.description = description.to_string();
        r.trace.seed = seed;
        r
    }

    /// Turn raw packet bytes into a trace segment (None if they do not parse).
    pub fn segment(&mut self, packet: &[u8]) -> Option<Segment> {
        self.segment_learning(packet, true)
    }

    /// `segment` for a forged packet: a forged SYN must not become the reference for
    /// the relative sequence numbers of the connection it pretends to belong to.
    pub fn segment_forged(&mut self, packet: &[u8]) -> Option<Segment> {
        self.segment_learning(packet, false)
    }

    fn segment_learning(&mut self, packet: &[u8], learn_isn: bool) -> Option<Segment> {
        let (ip, tcp, payload) = wire::parse_ipv4_tcp(packet).ok()?;
        let src = SocketAddrV4::new(ip.src, tcp.src_port);
        let dst = SocketAddrV4::new(ip.dst, tcp.dst_port);
        if tcp.flags.syn() && learn_isn {
            if let Some(old) = self.isn.insert((src, dst), tcp.seq.0) {
                if old != tcp.seq.0 {
                    self.previous_isn.insert((src, dst), old);
                }
            }
            match tcp.options.window_scale {
                Some(shift) => self.wscale.insert((src, dst), shift),
                None => self.wscale.remove(&(src, dst)),
            };
        }
        let own = self.isn.get(&(src, dst)).copied().unwrap_or(0);
        let peer = self.isn.get(&(dst, src)).copied();
        // A number before the current ISN that lies just after the previous incarnation's
        // is that incarnation's: count it from there, and say so.
        let mut previous = false;
        let mut relative = |number: u32, isn: u32, key: (SocketAddrV4, SocketAddrV4)| {
            let rel = number.wrapping_sub(isn);
            match self.previous_isn.get(&key) {
                Some(&old) if rel >= HALF_SPACE && number.wrapping_sub(old) < HALF_SPACE => {
                    previous = true;
                    number.wrapping_sub(old)
                }
                _ => rel,
            }
        };
        let rel_seq = if tcp.flags.syn() {
            tcp.seq.0.wrapping_sub(own)
        } else {
            relative(tcp.seq.0, own, (src, dst))
        };
        let rel_ack = match (tcp.flags.ack(), peer) {
            (true, Some(p)) => relative(tcp.ack.0, p, (dst, src)),
            (true, None) => tcp.ack.0,
            (false, _) => 0,
        };
        self.next_id += 1;
        // Large runs that record nothing skip the text (`push` fills it in if needed).
        let (src, dst) = if self.recording {
            (src.to_string(), dst.to_string())
        } else {
            (String::new(), String::new())
        };
        Some(Segment {
            id: self.next_id,
            src,
            dst,
            flags: tcp.flags.letters().to_string(),
            seq: tcp.seq.0,
            ack: if tcp.flags.ack() { tcp.ack.0 } else { 0 },
            rel_seq,
            rel_ack,
            len: payload.len() as u32,
            win: tcp.window,
            options: if self.recording {
                tcp.options.to_string()
            } else {
                String::new()
            },
            reason: None,
            note: previous.then(|| PREVIOUS_CONNECTION_NOTE.to_string()),
            packet: packet.to_vec(),
        })
    }

    pub fn push(&mut self, now: Instant, host: &str, mut body: Body) {
        if !self.recording {
            return;
        }
        if let Body::Send(s) | Body::Recv(s) | Body::Drop(s) = &mut body {
            if s.src.is_empty() {
                // Built while recording was off, recorded now: name its ends.
                if let Ok((ip, tcp, _)) = wire::parse_ipv4_tcp(&s.packet) {
                    s.src = SocketAddrV4::new(ip.src, tcp.src_port).to_string();
                    s.dst = SocketAddrV4::new(ip.dst, tcp.dst_port).to_string();
                    s.options = tcp.options.to_string();
                }
            }
        }
        self.trace.events.push(TraceEvent {
            t_us: now.total_micros(),
            host: host.to_string(),
            body,
        });
    }

    pub fn state(&mut self, now: Instant, host: &str, change: StateChange) {
        self.push(now, host, Body::State(change));
    }

    pub fn app(&mut self, now: Instant, host: &str, conn: String, text: String) {
        self.push(now, host, Body::App(Note { conn, text }));
    }

    pub fn timer(&mut self, now: Instant, host: &str, conn: String, text: String) {
        self.push(now, host, Body::Timer(Note { conn, text }));
    }

    /// Remember a connection for snapshots and final states.
    pub fn track(&mut self, host: usize, tuple: FourTuple) {
        if self.recording && self.tracked_set.insert((host, tuple)) {
            self.tracked.push((host, tuple));
            if self.tracked.len() > SNAPSHOT_CONN_LIMIT {
                self.snapshots_enabled = false;
                self.trace.snapshots.clear();
            }
        }
    }

    /// Control block relative to the initial sequence numbers of both directions.
    /// RCV.NXT stays `None` until the connection has the peer's SYN: the recorder may
    /// already know the peer's ISN from the wire, but the connection does not.
    pub fn block(&self, host: &str, info: &ConnInfo) -> ConnBlock {
        let t = info.tuple;
        let (local, remote) = (t.local(), t.remote());
        let own = self
            .isn
            .get(&(local, remote))
            .copied()
            .unwrap_or(info.iss.0);
        let peer = self
            .isn
            .get(&(remote, local))
            .copied()
            .or(info.irs.map(|irs| irs.0));
        let mut timers = Vec::new();
        let mut add = |name: &str, at: Option<Instant>| {
            if let Some(at) = at {
                timers.push(format!(
                    "{name} @{}",
                    tcpwave_trace::fmt_time(at.total_micros())
                ));
            }
        };
        add("retransmit", info.retransmit_at);
        add("delayed-ack", info.delayed_ack_at);
        add("keepalive", info.keepalive_at);
        add("fin-wait-2", info.fin_wait_2_at);
        add("TIME_WAIT", info.time_wait_until);
        ConnBlock {
            host: host.to_string(),
            conn: format!("{local}->{remote}"),
            state: info.state.name().to_string(),
            snd_una: info.snd_una.0.wrapping_sub(own),
            snd_nxt: info.snd_nxt.0.wrapping_sub(own),
            rcv_nxt: info
                .rcv_nxt
                .zip(peer)
                .map(|(rcv_nxt, peer)| rcv_nxt.0.wrapping_sub(peer)),
            snd_wnd: info.snd_wnd,
            rcv_wnd: self.rcv_wnd_bytes(info),
            cwnd: info.cwnd,
            timers,
        }
    }

    /// The receive window in bytes. A TIME_WAIT entry keeps only the raw window field
    /// it re-ACKs with (Linux `tcp_time_wait` keeps no scale either); scale it by the
    /// shift this side offered on its SYN when both sides offered one (RFC 7323 §2.2),
    /// as a live connection's window is reported.
    fn rcv_wnd_bytes(&self, info: &ConnInfo) -> u32 {
        if info.state != tcpwave::State::TimeWait {
            return info.rcv_wnd;
        }
        let (local, remote) = (info.tuple.local(), info.tuple.remote());
        match (
            self.wscale.get(&(local, remote)),
            self.wscale.get(&(remote, local)),
        ) {
            (Some(&ours), Some(_)) => info.rcv_wnd << ours.min(14),
            _ => info.rcv_wnd,
        }
    }

    pub fn snapshot(&mut self, blocks: Vec<ConnBlock>) {
        if !self.snapshots_enabled || self.trace.events.is_empty() {
            return;
        }
        let after_event = self.trace.events.len() - 1;
        if self
            .trace
            .snapshots
            .last()
            .is_some_and(|s| s.blocks == blocks)
        {
            return;
        }
        self.trace.snapshots.push(Snapshot {
            after_event,
            blocks,
        });
    }
}

/// `local->remote` as traces print a connection.
pub fn conn_name(tuple: &FourTuple) -> String {
    format!(
        "{}:{}->{}:{}",
        tuple.local_addr, tuple.local_port, tuple.remote_addr, tuple.remote_port
    )
}
