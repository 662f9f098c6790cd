//! What the runtime reports: engine events and segments with their time, packet counts,
//! and the seeded packet loss used when `tc netem` is not available.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcpwave::wire::TcpRepr;
use tcpwave::{ConnId, Event, Reason, State};

/// Which way a segment went, seen from the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the kernel to the engine.
    In,
    /// From the engine to the kernel.
    Out,
}

/// One segment through the TUN device.
#[derive(Clone, Debug)]
pub struct SegmentTrace {
    /// Time since the stack started.
    pub at: Duration,
    pub direction: Direction,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub tcp: TcpRepr,
    pub payload_len: usize,
    /// The seeded loss dropped it.
    pub dropped: bool,
}

/// An entry of a subscription (`Stack::subscribe`).
#[derive(Clone, Debug)]
pub enum Trace {
    /// An engine event (state change, readable, error, ...), with its time since start.
    Event { at: Duration, event: Event },
    /// A segment, when the subscription asked for them.
    Segment(SegmentTrace),
    /// `connect_timeout` gave up after `after` without a completed handshake and is about to
    /// close the connection: the `SYN_SENT -> CLOSED` change that follows is its doing.
    ConnectTimedOut {
        at: Duration,
        conn: ConnId,
        after: Duration,
    },
}

/// Packet counts of the runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// IPv4 TCP packets to our address handed to the engine.
    pub packets_in: u64,
    /// Packets written to the device.
    pub packets_out: u64,
    /// Packets that were not ours (IPv6, ICMP, other addresses): ignored without noise.
    pub ignored: u64,
    /// Ours but rejected by the engine's parser (bad checksum, truncated, fragment).
    pub malformed: u64,
    /// Dropped by the seeded loss, inbound and outbound.
    pub dropped_in: u64,
    pub dropped_out: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    /// Traces a slow subscriber missed.
    pub trace_overflow: u64,
}

/// Random loss on the TUN link, reproducible from a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loss {
    /// Probability of dropping a packet, in parts per million.
    pub per_million: u32,
    pub seed: u64,
}

impl Loss {
    /// `percent` (0..=100) of packets dropped in each direction.
    pub fn percent(percent: f64, seed: u64) -> Loss {
        let per_million = (percent.clamp(0.0, 100.0) * 10_000.0).round() as u32;
        Loss { per_million, seed }
    }
}

/// xorshift64* (Vigna): small, fast, and the same sequence for the same seed.
#[derive(Clone, Debug)]
pub(crate) struct LossRng {
    state: u64,
    per_million: u32,
}

impl LossRng {
    pub fn new(loss: Loss) -> LossRng {
        LossRng {
            // A zero state would stay zero.
            state: loss.seed ^ 0x9e37_79b9_7f4a_7c15,
            per_million: loss.per_million,
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn drop_next(&mut self) -> bool {
        self.per_million > 0 && (self.next() % 1_000_000) < u64::from(self.per_million)
    }
}

/// `  1.234567s` for a time since start.
pub fn format_at(at: Duration) -> String {
    format!("{:>4}.{:06}s", at.as_secs(), at.subsec_micros())
}

/// What the segment lines show, for the header of a live capture: seq and ack are the
/// numbers on the wire, not relative to the first SYN as `tcpwave scenario` prints them.
pub const SEGMENT_LEGEND: &str =
    "segments: absolute seq/ack as on the wire (tcpdump -S; `tcpwave scenario` prints them relative), options in <...>";

/// One line for a segment, worded as `tcpwave scenario`'s diagram (and tcpdump's options):
/// `engine --> kernel  SYN+ACK seq=.. ack=.. len=.. win=..  <mss 1460,sackOK,TS val 1 ecr 0,wscale 7>`.
/// Seq and ack are absolute (see [`SEGMENT_LEGEND`]); `len` is shown when there is data.
pub fn format_segment(s: &SegmentTrace) -> String {
    let arrow = match s.direction {
        Direction::Out => "engine --> kernel",
        Direction::In => "engine <-- kernel",
    };
    let flags = tcpwave_trace::terminal::flag_names(&s.tcp.flags.letters().to_string());
    let mut line = format!("{}  {arrow}  {flags} seq={}", format_at(s.at), s.tcp.seq);
    if s.tcp.flags.ack() {
        let _ = write!(line, " ack={}", s.tcp.ack);
    }
    if s.payload_len > 0 {
        let _ = write!(line, " len={}", s.payload_len);
    }
    let _ = write!(line, " win={}", s.tcp.window);
    let options = s.tcp.options.to_string();
    if !options.is_empty() {
        let _ = write!(line, "  <{options}>");
    }
    if s.dropped {
        line.push_str("  (DROPPED by seeded loss)");
    }
    line
}

/// One line for an engine event, or `None` for the chatty ones (readable, writable).
/// Connections are named by the engine's handle (`c0`), which a new connection reuses once
/// the old one is gone; [`TraceFormatter`] numbers them instead.
pub fn format_event(at: Duration, event: &Event) -> Option<String> {
    event_line(at, event, &|conn| conn.to_string(), None)
}

/// The line of an event, naming connections with `name`; `reason` replaces the engine's
/// reason of a state change.
fn event_line(
    at: Duration,
    event: &Event,
    name: &dyn Fn(ConnId) -> String,
    reason_text: Option<&str>,
) -> Option<String> {
    let text = match event {
        Event::StateChanged {
            conn,
            tuple,
            from,
            to,
            reason,
        } => {
            let who = conn.map_or("tw".to_string(), name);
            let why = reason_text.unwrap_or(reason.name());
            format!("{who:<4} {tuple}  {from} -> {to}  ({why})")
        }
        Event::TimeWaitRestarted { tuple, .. } => {
            format!("tw   {tuple}  TIME_WAIT restarted (retransmitted FIN re-ACKed)")
        }
        Event::Connected { conn } => format!("{:<4} connected", name(*conn)),
        Event::Acceptable { conn, .. } => format!("{:<4} ready to accept", name(*conn)),
        Event::PeerClosed { conn } => {
            format!("{:<4} peer sent FIN (EOF after buffered data)", name(*conn))
        }
        Event::Error { conn, error } => format!("{:<4} error: {error}", name(*conn)),
        Event::Readable { .. } | Event::Writable { .. } => return None,
    };
    Some(format!("{}  engine  {text}", format_at(at)))
}

/// Connections whose numbers are kept after they ended, for late events about them.
const RETIRED_KEPT: usize = 256;

/// Turns traces into lines, numbering connections in the order they appear (`c0`, `c1`,
/// ...; the engine's own handles are reused, so a server would log every connection as
/// `c0`), and naming the reason of a close that `connect_timeout` made.
#[derive(Debug, Default)]
pub struct TraceFormatter {
    numbers: HashMap<ConnId, u64>,
    next: u64,
    /// Ended connections, oldest first; their numbers are forgotten past RETIRED_KEPT.
    retired: VecDeque<ConnId>,
    /// Connections that connect_timeout is closing, and after how long.
    timed_out: HashMap<ConnId, Duration>,
}

impl TraceFormatter {
    pub fn new() -> TraceFormatter {
        TraceFormatter::default()
    }

    /// The number of `conn` (assigned on first sight).
    fn number(&mut self, conn: ConnId) -> u64 {
        let next = &mut self.next;
        *self.numbers.entry(conn).or_insert_with(|| {
            *next += 1;
            *next - 1
        })
    }

    /// The line for `trace`, or `None` for the chatty events and notes.
    pub fn line(&mut self, trace: &Trace) -> Option<String> {
        match trace {
            Trace::Segment(s) => Some(format_segment(s)),
            Trace::ConnectTimedOut { conn, after, .. } => {
                self.timed_out.insert(*conn, *after);
                None
            }
            Trace::Event { at, event } => {
                let conn = event_conn(event);
                if let Some(conn) = conn {
                    self.number(conn);
                }
                let mut reason = None;
                if let Event::StateChanged {
                    conn: Some(conn),
                    from: State::SynSent | State::SynReceived,
                    reason: Reason::AppClose,
                    ..
                } = event
                {
                    if let Some(after) = self.timed_out.remove(conn) {
                        reason = Some(format!(
                            "connect timed out after {}: close()",
                            seconds(after)
                        ));
                    }
                }
                let numbers = &self.numbers;
                let name = |c: ConnId| numbers.get(&c).map_or(c.to_string(), |n| format!("c{n}"));
                let line = event_line(*at, event, &name, reason.as_deref());
                if let (
                    Some(conn),
                    Event::StateChanged {
                        to: State::Closed | State::TimeWait,
                        ..
                    },
                ) = (conn, event)
                {
                    self.retire(conn);
                }
                line
            }
        }
    }

    fn retire(&mut self, conn: ConnId) {
        self.retired.push_back(conn);
        if self.retired.len() > RETIRED_KEPT {
            if let Some(old) = self.retired.pop_front() {
                self.numbers.remove(&old);
                self.timed_out.remove(&old);
            }
        }
    }
}

/// The connection an event is about.
fn event_conn(event: &Event) -> Option<ConnId> {
    match event {
        Event::StateChanged { conn, .. } => *conn,
        Event::TimeWaitRestarted { .. } => None,
        Event::Connected { conn }
        | Event::Acceptable { conn, .. }
        | Event::Readable { conn }
        | Event::Writable { conn }
        | Event::PeerClosed { conn }
        | Event::Error { conn, .. } => Some(*conn),
    }
}

/// `10 s`, `2.5 s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// Prints every trace of `rx` to stdout (state changes; segments if subscribed) until the
/// stack is dropped, or until stdout is closed (a reader such as `head` went away): then it
/// stops printing quietly instead of panicking as `println!` would.
pub fn spawn_printer(rx: std::sync::mpsc::Receiver<Trace>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Write;
        let mut formatter = TraceFormatter::new();
        for trace in rx {
            if let Some(line) = formatter.line(&trace) {
                if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddrV4;
    use tcpwave::{Config, Endpoint, Instant};

    const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 0);
    const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8080);

    fn events(ep: &mut Endpoint) -> Vec<Trace> {
        std::iter::from_fn(|| ep.poll_event())
            .map(|event| Trace::Event {
                at: Duration::ZERO,
                event,
            })
            .collect()
    }

    fn lines(f: &mut TraceFormatter, traces: &[Trace]) -> Vec<String> {
        traces.iter().filter_map(|t| f.line(t)).collect()
    }

    #[test]
    fn connections_are_numbered_though_the_engine_reuses_its_handles() {
        let now = Instant::ZERO;
        let mut ep = Endpoint::new(Config::default(), now);
        let mut f = TraceFormatter::new();
        let first = ep.connect(now, LOCAL, REMOTE).unwrap();
        ep.abort(now, first).unwrap();
        let mut out = lines(&mut f, &events(&mut ep));
        let second = ep.connect(now, LOCAL, REMOTE).unwrap();
        // The engine names both `c0`: the second took the first's slot.
        assert_eq!(first.to_string(), second.to_string());
        assert_ne!(first, second);
        ep.abort(now, second).unwrap();
        out.extend(lines(&mut f, &events(&mut ep)));
        let names: Vec<&str> = out
            .iter()
            .map(|l| l.split_whitespace().nth(2).unwrap())
            .collect();
        assert_eq!(names, ["c0", "c0", "c1", "c1"], "{out:#?}");
    }

    #[test]
    fn a_close_by_connect_timeout_says_it_timed_out() {
        let now = Instant::ZERO;
        let mut ep = Endpoint::new(Config::default(), now);
        let mut f = TraceFormatter::new();
        let conn = ep.connect(now, LOCAL, REMOTE).unwrap();
        let mut traces = events(&mut ep);
        traces.push(Trace::ConnectTimedOut {
            at: Duration::from_secs(10),
            conn,
            after: Duration::from_secs(10),
        });
        ep.close(now, conn).unwrap();
        traces.extend(events(&mut ep));
        let out = lines(&mut f, &traces);
        let last = out.last().unwrap();
        assert!(
            last.ends_with("SYN_SENT -> CLOSED  (connect timed out after 10 s: close())"),
            "{out:#?}"
        );
        // A close by the application alone keeps the engine's reason.
        let other = ep.connect(now, LOCAL, REMOTE).unwrap();
        ep.close(now, other).unwrap();
        let out = lines(&mut f, &events(&mut ep));
        assert!(out.last().unwrap().ends_with("(close())"), "{out:#?}");
    }

    #[test]
    fn segments_are_worded_as_the_scenario_diagram_with_their_options() {
        let now = Instant::ZERO;
        let mut ep = Endpoint::new(Config::default(), now);
        ep.connect(now, LOCAL, REMOTE).unwrap();
        let mut buf = vec![0u8; 2048];
        let n = ep.poll_transmit(now, &mut buf).expect("a SYN");
        let (ip, tcp, payload) = tcpwave::wire::parse_ipv4_tcp(&buf[..n]).unwrap();
        let syn = SegmentTrace {
            at: Duration::from_micros(1500),
            direction: Direction::Out,
            src: ip.src,
            dst: ip.dst,
            tcp,
            payload_len: payload.len(),
            dropped: false,
        };
        let line = format_segment(&syn);
        let (ts_val, _) = tcp.options.timestamps.expect("the SYN carries timestamps");
        assert_eq!(
            line,
            format!(
                "   0.001500s  engine --> kernel  SYN seq={} win={}  <mss 1460,sackOK,TS val {ts_val} ecr 0,wscale 7>",
                tcp.seq, tcp.window
            )
        );
        assert!(!line.contains("len="), "no data, no len");
        assert!(
            !line.contains("mss="),
            "tcpdump's `mss 1460`, as scenario prints it"
        );
        assert!(SEGMENT_LEGEND.contains("absolute seq/ack"));
    }

    #[test]
    fn loss_is_reproducible_and_near_its_rate() {
        let run = |seed| {
            let mut rng = LossRng::new(Loss::percent(5.0, seed));
            (0..100_000).filter(|_| rng.drop_next()).count()
        };
        assert_eq!(run(7), run(7));
        let dropped = run(7);
        assert!((4_000..6_000).contains(&dropped), "{dropped}");
        let mut none = LossRng::new(Loss::percent(0.0, 1));
        assert!((0..10_000).all(|_| !none.drop_next()));
    }
}
