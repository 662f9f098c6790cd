//! Hand-written traces with real packet bytes, for testing the renderers on exactly
//! known input (the simulator's traces are tested in the per-scenario tests).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use tcpwave::wire::{emit_ipv4_tcp, TcpFlags, TcpOptions, TcpRepr};
use tcpwave::SeqNumber;
use tcpwave_trace::{
    Body, ConnBlock, Host, Note, Outcome, Segment, Snapshot, StateChange, Trace, TraceEvent,
};

/// Builds a trace event by event; `finish` sorts by time and adds snapshots.
pub struct Script {
    trace: Trace,
    next_id: u64,
    pub delay_us: u64,
}

/// One end of a connection: host name and port.
#[derive(Clone, Copy)]
pub struct End<'a> {
    pub host: &'a str,
    pub port: u16,
}

impl Script {
    pub fn new(scenario: &str, hosts: &[(&str, &str, &str)]) -> Script {
        Script {
            trace: Trace {
                scenario: scenario.to_string(),
                description: format!("hand-written {scenario} trace"),
                seed: 1,
                hosts: hosts
                    .iter()
                    .map(|(name, addr, role)| Host {
                        name: name.to_string(),
                        addr: addr.to_string(),
                        role: role.to_string(),
                    })
                    .collect(),
                ..Trace::default()
            },
            next_id: 1,
            delay_us: 10_000,
        }
    }

    fn addr(&self, host: &str) -> Ipv4Addr {
        let h = self
            .trace
            .hosts
            .iter()
            .find(|h| h.name == host)
            .expect("host");
        h.addr.parse().expect("IPv4 address")
    }

    /// The ISN of the sender, derived from its address and port (stable, distinct).
    fn iss(&self, end: End) -> u32 {
        u32::from(self.addr(end.host)).wrapping_mul(2_654_435_761) ^ u32::from(end.port) << 16
    }

    pub fn conn(&self, local: End, remote: End) -> String {
        format!(
            "{}:{}->{}:{}",
            self.addr(local.host),
            local.port,
            self.addr(remote.host),
            remote.port
        )
    }

    /// Builds the segment `from` -> `to` with relative numbers and real packet bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        from: End,
        to: End,
        flags: &str,
        rel_seq: u32,
        rel_ack: u32,
        len: u32,
    ) -> Segment {
        let mut bits = TcpFlags::NONE;
        for (letter, flag) in [
            ('S', TcpFlags::SYN),
            ('F', TcpFlags::FIN),
            ('R', TcpFlags::RST),
            ('P', TcpFlags::PSH),
            ('A', TcpFlags::ACK),
        ] {
            if flags.contains(letter) {
                bits = bits.union(flag);
            }
        }
        let seq = self.iss(from).wrapping_add(rel_seq);
        let ack = if flags.contains('A') {
            self.iss(to).wrapping_add(rel_ack)
        } else {
            0
        };
        let tsval = (self.trace.events.len() as u32 + 1) * 10;
        let mut options = TcpOptions {
            timestamps: Some((tsval, if flags == "S" { 0 } else { tsval - 5 })),
            ..TcpOptions::default()
        };
        let text = if flags.contains('S') {
            options.mss = Some(1460);
            options.sack_permitted = true;
            options.window_scale = Some(7);
            format!(
                "mss 1460,sackOK,TS val {tsval} ecr {},nop,wscale 7",
                options.timestamps.unwrap().1
            )
        } else {
            format!("nop,nop,TS val {tsval} ecr {}", tsval - 5)
        };
        let repr = TcpRepr {
            src_port: from.port,
            dst_port: to.port,
            seq: SeqNumber(seq),
            ack: SeqNumber(ack),
            flags: bits,
            window: 502,
            urgent: 0,
            options,
        };
        let payload = vec![b'x'; len as usize];
        let mut buf = vec![0u8; 1600];
        let n = emit_ipv4_tcp(
            self.addr(from.host),
            self.addr(to.host),
            64,
            self.next_id as u16,
            &repr,
            &payload,
            &mut buf,
        )
        .expect("emit");
        buf.truncate(n);
        let id = self.next_id;
        self.next_id += 1;
        Segment {
            id,
            src: format!("{}:{}", self.addr(from.host), from.port),
            dst: format!("{}:{}", self.addr(to.host), to.port),
            flags: flags.to_string(),
            seq,
            ack,
            rel_seq,
            rel_ack: if flags.contains('A') { rel_ack } else { 0 },
            len,
            win: 502,
            options: text,
            reason: None,
            note: None,
            packet: buf,
        }
    }

    fn push(&mut self, t_us: u64, host: &str, body: Body) {
        self.trace.events.push(TraceEvent {
            t_us,
            host: host.to_string(),
            body,
        });
    }

    /// Sends at `t_us`, received one delay later.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &mut self,
        t_us: u64,
        from: End,
        to: End,
        flags: &str,
        seq: u32,
        ack: u32,
        len: u32,
    ) {
        let seg = self.segment(from, to, flags, seq, ack, len);
        self.push(t_us, from.host, Body::Send(seg.clone()));
        self.push(t_us + self.delay_us, to.host, Body::Recv(seg));
    }

    /// Sends at `t_us`, lost half a delay later.
    #[allow(clippy::too_many_arguments)]
    pub fn lose(
        &mut self,
        t_us: u64,
        from: End,
        to: End,
        flags: &str,
        seq: u32,
        ack: u32,
        len: u32,
    ) {
        let mut seg = self.segment(from, to, flags, seq, ack, len);
        self.push(t_us, from.host, Body::Send(seg.clone()));
        seg.reason = Some("dropped by the network".to_string());
        self.push(t_us + self.delay_us / 2, to.host, Body::Drop(seg));
    }

    pub fn state(
        &mut self,
        t_us: u64,
        local: End,
        remote: End,
        from: &str,
        to: &str,
        reason: &str,
    ) {
        let conn = self.conn(local, remote);
        let change = StateChange {
            conn,
            from: from.to_string(),
            to: to.to_string(),
            reason: reason.to_string(),
        };
        self.push(t_us, local.host, Body::State(change));
    }

    pub fn app(&mut self, t_us: u64, host: &str, text: &str) {
        let note = Note {
            conn: String::new(),
            text: text.to_string(),
        };
        self.push(t_us, host, Body::App(note));
    }

    pub fn timer(&mut self, t_us: u64, host: &str, text: &str) {
        let note = Note {
            conn: String::new(),
            text: text.to_string(),
        };
        self.push(t_us, host, Body::Timer(note));
    }

    /// Sorts the events by time and adds a snapshot after every state change.
    pub fn finish(mut self) -> Trace {
        self.trace.events.sort_by_key(|e| e.t_us);
        let mut states: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut snapshots = Vec::new();
        for (i, event) in self.trace.events.iter().enumerate() {
            if let Body::State(c) = &event.body {
                states.insert((event.host.clone(), c.conn.clone()), c.to.clone());
                let blocks = states
                    .iter()
                    .filter(|(_, s)| s.as_str() != "CLOSED")
                    .map(|((host, conn), state)| ConnBlock {
                        host: host.clone(),
                        conn: conn.clone(),
                        state: state.clone(),
                        snd_una: 1,
                        snd_nxt: 1,
                        rcv_nxt: (state != "SYN_SENT").then_some(1),
                        snd_wnd: 64_256,
                        rcv_wnd: 64_256,
                        cwnd: 14_600,
                        timers: if state == "TIME_WAIT" {
                            vec!["TIME_WAIT @60.000s".into()]
                        } else {
                            vec![]
                        },
                    })
                    .collect();
                snapshots.push(Snapshot {
                    after_event: i,
                    blocks,
                });
            }
        }
        self.trace.snapshots = snapshots;
        let end_us = self.trace.events.last().map_or(0, |e| e.t_us);
        self.trace.outcome = Outcome {
            end_us,
            ..Outcome::default()
        };
        self.trace
    }
}
