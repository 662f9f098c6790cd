//! Timers worth seeing, as brackets beside a timeline: the 2·MSL of TIME_WAIT (split
//! where a retransmitted FIN restarts it), the RTO before each retransmission, the
//! keepalive idle time and probe interval, and an orphaned FIN_WAIT_2's fin_timeout.
//!
//! They are read off the trace itself (state changes and segments), so they show what
//! happened, not what a timer was set to.

use super::arrows::{segment_of, Arrow, SegKind};
use crate::model::{Body, Trace};

/// What a bracket measures (also its CSS class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BracketKind {
    TimeWait,
    Rto,
    Keepalive,
    FinWait2,
}

impl BracketKind {
    pub fn class(self) -> &'static str {
        match self {
            BracketKind::TimeWait => "tw",
            BracketKind::Rto => "rto",
            BracketKind::Keepalive => "ka",
            BracketKind::FinWait2 => "fw2",
        }
    }
}

/// A measured interval at one host, from one event to another (or to the end of the run).
#[derive(Clone, Debug)]
pub struct Bracket {
    pub host: String,
    pub kind: BracketKind,
    pub start: usize,
    /// `None`: still running when the run ended.
    pub end: Option<usize>,
    /// What is measured ("2·MSL", "RTO", "keepalive idle") and how long it was.
    pub name: String,
    pub detail: String,
}

/// A duration as people say it: "60 s", "1.5 s", "200 ms", "2 h".
pub fn human_duration(us: u64) -> String {
    let trim = |v: f64| {
        let text = format!("{v:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    };
    if us >= 3_600_000_000 {
        let hours = us as f64 / 3_600_000_000.0;
        return format!("{} h", trim(hours));
    }
    if us >= 1_000_000 {
        return format!("{} s", trim(us as f64 / 1e6));
    }
    if us >= 1_000 {
        return format!("{} ms", trim(us as f64 / 1e3));
    }
    format!("{us} µs")
}

/// Every bracket of the first `limit` events.
pub fn brackets(trace: &Trace, limit: usize, arrows: &[Arrow]) -> Vec<Bracket> {
    let mut out = state_brackets(trace, limit);
    segment_brackets(trace, arrows, &mut out);
    // A timer that lasted no time at all (TIME_WAIT turned off) is not worth a bracket.
    out.retain(
        |b| !matches!(b.end, Some(end) if trace.events[end].t_us == trace.events[b.start].t_us),
    );
    out
}

/// TIME_WAIT and orphaned-FIN_WAIT_2 intervals, from the state changes.
fn state_brackets(trace: &Trace, limit: usize) -> Vec<Bracket> {
    let mut out = Vec::new();
    let events = &trace.events[..limit.min(trace.events.len())];
    for (enter, event) in events.iter().enumerate() {
        let Body::State(change) = &event.body else {
            continue;
        };
        let kind = match change.to.as_str() {
            "TIME_WAIT" => BracketKind::TimeWait,
            "FIN_WAIT_2" => BracketKind::FinWait2,
            _ => continue,
        };
        let leave = events
            .iter()
            .enumerate()
            .skip(enter + 1)
            .find_map(|(i, e)| match &e.body {
                Body::State(s) if e.host == event.host && s.conn == change.conn => Some((i, s)),
                _ => None,
            });
        if kind == BracketKind::FinWait2 {
            // Only the FIN_WAIT_2 that timed out is worth a bracket.
            if let Some((leave, _)) = leave.filter(|(_, s)| s.to == "CLOSED") {
                let us = events[leave].t_us - event.t_us;
                let label = ("fin_timeout", human_duration(us));
                out.push(bracket(&event.host, kind, enter, Some(leave), label));
            }
            continue;
        }
        let leave = leave.map(|(i, _)| i);
        let end_limit = leave.unwrap_or(events.len());
        // RFC 9293 §3.6.1 / Linux: a retransmitted FIN in TIME_WAIT is re-ACKed and the
        // 2·MSL timer restarts.
        let (local, remote) = change.conn.split_once("->").unwrap_or((&change.conn, ""));
        let mut from = enter;
        for (i, e) in events.iter().enumerate().take(end_limit).skip(enter + 1) {
            if let Body::Recv(seg) = &e.body {
                if e.host == event.host
                    && seg.flags.contains('F')
                    && seg.dst == local
                    && seg.src == remote
                {
                    let label = (
                        "2·MSL",
                        format!(
                            "restarted after {}",
                            human_duration(e.t_us - events[from].t_us)
                        ),
                    );
                    out.push(bracket(&event.host, kind, from, Some(i), label));
                    from = i;
                }
            }
        }
        let label = match leave {
            Some(i) => ("2·MSL", human_duration(events[i].t_us - events[from].t_us)),
            None => ("2·MSL", "still running".to_string()),
        };
        out.push(bracket(&event.host, kind, from, leave, label));
    }
    out
}

fn bracket(
    host: &str,
    kind: BracketKind,
    start: usize,
    end: Option<usize>,
    label: (&str, String),
) -> Bracket {
    Bracket {
        host: host.to_string(),
        kind,
        start,
        end,
        name: label.0.to_string(),
        detail: label.1,
    }
}

/// RTO before each retransmission, keepalive idle and interval before each probe.
fn segment_brackets(trace: &Trace, arrows: &[Arrow], out: &mut Vec<Bracket>) {
    for arrow in arrows {
        let Some(send) = arrow.send else { continue };
        if arrow.seg_event != send {
            continue;
        }
        let host = &trace.events[send].host;
        let t = trace.events[send].t_us;
        match arrow.kind {
            SegKind::Retransmission { prev } => {
                let label = ("RTO", human_duration(t - trace.events[prev].t_us));
                out.push(bracket(host, BracketKind::Rto, prev, Some(send), label));
            }
            SegKind::KeepaliveProbe => {
                let Some(seg) = segment_of(trace, send) else {
                    continue;
                };
                let Some((last, was_probe)) =
                    last_activity(trace, arrows, send, &seg.src, &seg.dst)
                else {
                    continue;
                };
                let what = if was_probe {
                    "keepalive intvl"
                } else {
                    "keepalive idle"
                };
                let label = (what, human_duration(t - trace.events[last].t_us));
                out.push(bracket(
                    host,
                    BracketKind::Keepalive,
                    last,
                    Some(send),
                    label,
                ));
            }
            SegKind::Normal => {}
        }
    }
}

/// The last send or receipt of the same connection at the probing host before `probe`,
/// and whether it was itself a probe.
fn last_activity(
    trace: &Trace,
    arrows: &[Arrow],
    probe: usize,
    local: &str,
    remote: &str,
) -> Option<(usize, bool)> {
    let host = &trace.events[probe].host;
    (0..probe).rev().find_map(|i| {
        let event = &trace.events[i];
        if &event.host != host {
            return None;
        }
        match &event.body {
            Body::Send(s) if s.src == local && s.dst == remote => {}
            Body::Recv(s) if s.dst == local && s.src == remote => {}
            _ => return None,
        }
        let was_probe = arrows
            .iter()
            .any(|a| a.send == Some(i) && a.kind == SegKind::KeepaliveProbe);
        Some((i, was_probe))
    })
}

/// Assigns each bracket of one host a lane so overlapping ones stand side by side.
/// `span` gives a bracket's (top, bottom) in pixels.
pub fn lanes(brackets: &[Bracket], span: &dyn Fn(&Bracket) -> (f64, f64)) -> Vec<usize> {
    let mut lane_bottoms: Vec<(String, Vec<f64>)> = Vec::new();
    let mut order: Vec<usize> = (0..brackets.len()).collect();
    order.sort_by(|&a, &b| span(&brackets[a]).0.total_cmp(&span(&brackets[b]).0));
    let mut lane_of = vec![0; brackets.len()];
    for i in order {
        let (top, bottom) = span(&brackets[i]);
        let host = &brackets[i].host;
        let slot = match lane_bottoms.iter_mut().find(|(h, _)| h == host) {
            Some((_, bottoms)) => bottoms,
            None => {
                lane_bottoms.push((host.clone(), Vec::new()));
                &mut lane_bottoms.last_mut().expect("just pushed").1
            }
        };
        let lane = slot
            .iter()
            .position(|&b| b <= top + 0.5)
            .unwrap_or(slot.len());
        if lane == slot.len() {
            slot.push(bottom);
        } else {
            slot[lane] = bottom;
        }
        lane_of[i] = lane;
    }
    lane_of
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(60_000_000), "60 s");
        assert_eq!(human_duration(7_200_000_000), "2 h");
        assert_eq!(human_duration(1_500_000), "1.5 s");
        assert_eq!(human_duration(200_000), "200 ms");
        assert_eq!(human_duration(75_000_000), "75 s");
        assert_eq!(human_duration(999), "999 µs");
    }
}
