//! The trace data model. Its JSON form (`tcpwave scenario NAME --json`) is stable and
//! documented in docs/trace-format.md: one object with `scenario`, `seed`, `hosts`,
//! `events`, `snapshots` and `outcome`.

use serde::{Deserialize, Serialize};

/// One run: who took part, everything that happened, and how it ended.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    /// The `--set KNOB=VALUE` settings the run was made with, in the order given, as
    /// `KNOB=VALUE`: with `scenario` and `seed` they reproduce the run. Always written;
    /// empty when nothing was set.
    #[serde(default)]
    pub settings: Vec<String>,
    pub hosts: Vec<Host>,
    pub events: Vec<TraceEvent>,
    /// Connection control blocks after events, for step-through pages. Always written;
    /// empty for runs with more connections than the recorder tracks.
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    pub outcome: Outcome,
}

/// A host of the simulated network.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub addr: String,
    /// What the host plays in the scenario ("client", "server", "load balancer", ...).
    pub role: String,
}

/// One event at one host.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TraceEvent {
    /// Virtual time in microseconds since the run started.
    pub t_us: u64,
    /// Name of the host where it happened.
    pub host: String,
    #[serde(flatten)]
    pub body: Body,
}

/// What happened. Serialized with a `kind` field: `send`, `recv`, `drop`, `state`, `app`, `timer`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    /// The host put a segment on the wire.
    Send(Segment),
    /// The host received a segment.
    Recv(Segment),
    /// The network (or a dead host) lost a segment; `t_us` is where it was lost.
    Drop(Segment),
    /// A connection changed state.
    State(StateChange),
    /// The application called the socket API or learned something from it.
    App(Note),
    /// A timer worth showing (TIME_WAIT restarted, RTO fired, keepalive probe due).
    Timer(Note),
}

/// A TCP segment as the articles draw it, plus the raw IPv4 packet for captures.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    /// Same for the send, recv and drop events of one packet on the wire.
    pub id: u64,
    /// `ip:port`.
    pub src: String,
    pub dst: String,
    /// Letters in the order S, F, R, P, A (e.g. "SA", "FA", "A", "R").
    pub flags: String,
    pub seq: u32,
    pub ack: u32,
    /// Relative to the sender's initial sequence number, as Wireshark shows them.
    pub rel_seq: u32,
    pub rel_ack: u32,
    /// Payload length in bytes.
    pub len: u32,
    /// Raw window field.
    pub win: u16,
    /// Options in tcpdump's words ("mss 1460,sackOK,TS val 10 ecr 0,nop,wscale 7").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub options: String,
    /// Why it was lost (drop events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Something the numbers alone do not tell, e.g. that `rel_seq` / `rel_ack` count
    /// from the previous connection on the same 4-tuple (omitted when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The whole IPv4 packet (not in JSON).
    #[serde(skip)]
    pub packet: Vec<u8>,
}

/// A connection state change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateChange {
    /// The connection, as `local->remote`.
    pub conn: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Free text tied to a connection (application calls, timers).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Note {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub conn: String,
    pub text: String,
}

/// Something an application saw, for the outcome: on which host, on which connection.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Saw {
    pub host: String,
    /// The connection as `local_ip:port->remote_ip:port`; empty (omitted) when the call
    /// made none, as a connect() from an ephemeral port that failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub conn: String,
    pub text: String,
}

/// Every tracked connection's control block right after event `after_event`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub after_event: usize,
    pub blocks: Vec<ConnBlock>,
}

/// A connection's control block (RFC 9293 §3.3.1) at one moment.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConnBlock {
    pub host: String,
    pub conn: String,
    pub state: String,
    /// Relative to our ISS / the peer's ISS, like segment numbers.
    pub snd_una: u32,
    pub snd_nxt: u32,
    /// `null` until the connection has the peer's SYN (SYN_SENT, or a CLOSED reached from
    /// it): RCV.NXT is not defined before (RFC 9293 §3.3.1).
    pub rcv_nxt: Option<u32>,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub cwnd: u32,
    /// Running timers as "name until t" (e.g. "retransmit @1.210s", "TIME_WAIT @61.012s").
    pub timers: Vec<String>,
}

/// How the run ended.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    /// Each connection's last state, per host.
    pub final_states: Vec<FinalState>,
    /// What each application saw (errors, EOF, data), in order.
    pub app_saw: Vec<Saw>,
    /// Figures the scenario reports (port-exhaustion rates, TIME_WAIT counts, ...).
    /// Always written; empty when the scenario reports none.
    #[serde(default)]
    pub figures: Vec<Figure>,
    /// Nonzero engine counters per host (Linux MIB names).
    pub counters: Vec<HostCounters>,
    /// Virtual time when the run ended.
    pub end_us: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FinalState {
    pub host: String,
    pub conn: String,
    pub state: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostCounters {
    pub host: String,
    pub counters: Vec<(String, u64)>,
}

impl Trace {
    /// The state changes of one host, in order, as (from, to) names.
    pub fn state_path(&self, host: &str) -> Vec<(String, String)> {
        self.events
            .iter()
            .filter(|e| e.host == host)
            .filter_map(|e| match &e.body {
                Body::State(s) => Some((s.from.clone(), s.to.clone())),
                _ => None,
            })
            .collect()
    }

    /// Segments as sent, in order.
    pub fn sent(&self) -> impl Iterator<Item = (&TraceEvent, &Segment)> {
        self.events.iter().filter_map(|e| match &e.body {
            Body::Send(s) => Some((e, s)),
            _ => None,
        })
    }

    /// Time in microseconds of the first state change of `host` into `to`.
    pub fn time_of_state(&self, host: &str, to: &str) -> Option<u64> {
        self.events.iter().find_map(|e| match &e.body {
            Body::State(s) if e.host == host && s.to == to => Some(e.t_us),
            _ => None,
        })
    }
}

/// Format microseconds as seconds with millisecond precision ("60.012s").
pub fn fmt_time(t_us: u64) -> String {
    format!("{}.{:03}s", t_us / 1_000_000, (t_us % 1_000_000) / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_figures_are_written_even_when_empty() {
        // docs/trace-format.md: both arrays are always present, possibly empty.
        let json = serde_json::to_value(Trace::default()).unwrap();
        assert_eq!(json["snapshots"], serde_json::json!([]));
        assert_eq!(json["outcome"]["figures"], serde_json::json!([]));
        // Traces written before they were always present still read.
        let mut old = json;
        old.as_object_mut().unwrap().remove("snapshots");
        old["outcome"].as_object_mut().unwrap().remove("figures");
        assert_eq!(
            serde_json::from_value::<Trace>(old).unwrap(),
            Trace::default()
        );
    }

    #[test]
    fn an_undefined_rcv_nxt_is_null() {
        let block = ConnBlock {
            state: "SYN_SENT".into(),
            ..ConnBlock::default()
        };
        let json = serde_json::to_value(&block).unwrap();
        assert!(json["rcv_nxt"].is_null(), "{json}");
        assert_eq!(serde_json::from_value::<ConnBlock>(json).unwrap(), block);
    }
}
