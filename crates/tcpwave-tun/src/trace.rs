//! What the runtime reports: engine events and segments with their time, packet counts,
//! and the seeded packet loss used when `tc netem` is not available.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use tcpwave::wire::TcpRepr;
use tcpwave::Event;

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

/// One line for a segment: `engine > kernel  [S.]  seq=.. ack=.. win=.. len=..`.
pub fn format_segment(s: &SegmentTrace) -> String {
    let arrow = match s.direction {
        Direction::Out => "engine --> kernel",
        Direction::In => "engine <-- kernel",
    };
    let mut line = format!(
        "{}  {arrow}  {:<4} seq={} ",
        format_at(s.at),
        s.tcp.flags.letters(),
        s.tcp.seq
    );
    if s.tcp.flags.ack() {
        let _ = write!(line, "ack={} ", s.tcp.ack);
    }
    let _ = write!(line, "win={} len={}", s.tcp.window, s.payload_len);
    let o = &s.tcp.options;
    if let Some(mss) = o.mss {
        let _ = write!(line, " mss={mss}");
    }
    if let Some(ws) = o.window_scale {
        let _ = write!(line, " wscale={ws}");
    }
    if o.sack_permitted {
        line.push_str(" sackOK");
    }
    if o.sack_count > 0 {
        let _ = write!(line, " sack={}", o.sack_count);
    }
    if s.dropped {
        line.push_str("  (DROPPED by seeded loss)");
    }
    line
}

/// One line for an engine event, or `None` for the chatty ones (readable, writable).
pub fn format_event(at: Duration, event: &Event) -> Option<String> {
    let text = match event {
        Event::StateChanged {
            conn,
            tuple,
            from,
            to,
            reason,
        } => {
            let who = conn.map_or("tw".to_string(), |c| c.to_string());
            format!("{who:<4} {tuple}  {from} -> {to}  ({})", reason.name())
        }
        Event::TimeWaitRestarted { tuple, .. } => {
            format!("tw   {tuple}  TIME_WAIT restarted (retransmitted FIN re-ACKed)")
        }
        Event::Connected { conn } => format!("{conn:<4} connected"),
        Event::Acceptable { conn, .. } => format!("{conn:<4} ready to accept"),
        Event::PeerClosed { conn } => format!("{conn:<4} peer sent FIN (EOF after buffered data)"),
        Event::Error { conn, error } => format!("{conn:<4} error: {error}"),
        Event::Readable { .. } | Event::Writable { .. } => return None,
    };
    Some(format!("{}  engine  {text}", format_at(at)))
}

/// Prints every trace of `rx` to stdout (state changes; segments if subscribed) until the
/// stack is dropped, or until stdout is closed (a reader such as `head` went away): then it
/// stops printing quietly instead of panicking as `println!` would.
pub fn spawn_printer(rx: std::sync::mpsc::Receiver<Trace>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Write;
        for trace in rx {
            let line = match &trace {
                Trace::Segment(s) => Some(format_segment(s)),
                Trace::Event { at, event } => format_event(*at, event),
            };
            if let Some(line) = line {
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
