//! Segments as arrows: each send paired with its receipt or its loss (by segment id),
//! and each arrow classified (retransmission, keepalive probe) from the sequence numbers
//! alone, the way Wireshark's TCP analysis does it.

use std::collections::HashMap;

use crate::model::{Body, Segment, Trace};

/// What kind of segment an arrow carries, beyond its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegKind {
    Normal,
    /// Same sequence number as an earlier send that occupied sequence space; `prev` is that
    /// earlier send event (the start of the RTO bracket).
    Retransmission {
        prev: usize,
    },
    /// A pure ACK with SEG.SEQ = SND.NXT - 1 after earlier traffic (RFC 1122 §4.2.3.6).
    KeepaliveProbe,
}

/// One segment on its way: sent at one host, received at another or lost in between.
#[derive(Clone, Debug)]
pub struct Arrow {
    pub send: Option<usize>,
    pub recv: Option<usize>,
    pub drop: Option<usize>,
    /// Column of the sender and of the receiver (by event host, else by address).
    pub from: Option<usize>,
    pub to: Option<usize>,
    /// Event index whose segment this arrow shows.
    pub seg_event: usize,
    pub kind: SegKind,
}

impl Arrow {
    /// The events this arrow stands for, in order.
    pub fn events(&self) -> Vec<usize> {
        [self.send, self.recv, self.drop]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The segment carried by event `index` (send, recv or drop), if any.
pub fn segment_of(trace: &Trace, index: usize) -> Option<&Segment> {
    match &trace.events.get(index)?.body {
        Body::Send(s) | Body::Recv(s) | Body::Drop(s) => Some(s),
        _ => None,
    }
}

/// The IP part of `ip:port` (or the whole string when there is no port).
pub fn ip_of(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map_or(endpoint, |(ip, _)| ip)
}

/// The port part of `ip:port`, or "".
pub fn port_of(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map_or("", |(_, port)| port)
}

/// Sequence space a segment occupies (RFC 9293 §3.4 SEG.LEN): data, plus one for SYN and FIN.
pub fn seq_len(seg: &Segment) -> u32 {
    seg.len + u32::from(seg.flags.contains('S')) + u32::from(seg.flags.contains('F'))
}

/// Pairs the first `limit` events' segments into arrows, in order of their first event.
/// `column` maps a host name to its column; `column_of_addr` an IP address to one.
pub fn build(
    trace: &Trace,
    limit: usize,
    column: &dyn Fn(&str) -> Option<usize>,
    column_of_addr: &dyn Fn(&str) -> Option<usize>,
) -> Vec<Arrow> {
    let mut arrows: Vec<Arrow> = Vec::new();
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    for (index, event) in trace.events.iter().enumerate().take(limit) {
        let (seg, is_send, is_recv) = match &event.body {
            Body::Send(s) => (s, true, false),
            Body::Recv(s) => (s, false, true),
            Body::Drop(s) => (s, false, false),
            _ => continue,
        };
        let here = column(&event.host);
        if is_send {
            by_id.insert(seg.id, arrows.len());
            arrows.push(Arrow {
                send: Some(index),
                recv: None,
                drop: None,
                from: here,
                to: column_of_addr(ip_of(&seg.dst)),
                seg_event: index,
                kind: SegKind::Normal,
            });
            continue;
        }
        let existing = by_id.get(&seg.id).copied();
        let slot_free =
            existing.is_some_and(|a| arrows[a].recv.is_none() && arrows[a].drop.is_none());
        let target = match existing {
            Some(a) if slot_free => a,
            // A second receipt of one send (duplicated by the network) or a segment that
            // was never sent by a traced host (injected): an arrow of its own.
            _ => {
                let send = existing.and_then(|a| arrows[a].send);
                arrows.push(Arrow {
                    send,
                    recv: None,
                    drop: None,
                    from: send
                        .and_then(|s| column(&trace.events[s].host))
                        .or_else(|| column_of_addr(ip_of(&seg.src))),
                    to: column_of_addr(ip_of(&seg.dst)),
                    seg_event: index,
                    kind: SegKind::Normal,
                });
                arrows.len() - 1
            }
        };
        if is_recv {
            arrows[target].recv = Some(index);
            arrows[target].to = here.or(arrows[target].to);
        } else {
            arrows[target].drop = Some(index);
        }
    }
    classify(trace, &mut arrows);
    arrows
}

/// The segments lost on their way: send event index -> drop event index, paired as the
/// diagram pairs them (a duplicated segment's second copy is not its send's).
pub fn lost_sends(trace: &Trace) -> HashMap<usize, usize> {
    build(trace, trace.events.len(), &|_| None, &|_| None)
        .into_iter()
        .filter_map(|arrow| Some((arrow.send?, arrow.drop?)))
        .collect()
}

/// Marks retransmissions and keepalive probes, per sender and direction.
fn classify(trace: &Trace, arrows: &mut [Arrow]) {
    #[derive(Default)]
    struct Flow {
        /// Highest SEG.SEQ + SEG.LEN sent so far.
        max_end: Option<u32>,
        /// Last send event of each starting sequence number that occupied sequence space.
        sent_at: HashMap<u32, usize>,
        /// This side has sent FIN or RST.
        closed: bool,
    }
    let mut flows: HashMap<(String, String, String), Flow> = HashMap::new();
    for arrow in arrows.iter_mut() {
        let Some(send) = arrow.send else { continue };
        if arrow.seg_event != send {
            continue; // duplicate receipt: classified through its original
        }
        let Some(seg) = segment_of(trace, send) else {
            continue;
        };
        let key = (
            trace.events[send].host.clone(),
            seg.src.clone(),
            seg.dst.clone(),
        );
        let flow = flows.entry(key).or_default();
        let occupies = seq_len(seg);
        if seg.flags.contains('S') && (flow.closed || !flow.sent_at.contains_key(&seg.seq)) {
            // A SYN with a new ISN, or any SYN after this side sent FIN or RST, starts a
            // new incarnation of the 4-tuple (Wireshark: "port numbers reused").
            *flow = Flow::default();
        }
        if seg.flags.contains('F') || seg.flags.contains('R') {
            flow.closed = true;
        }
        let pure_ack = seg.flags == "A";
        if pure_ack && seg.len <= 1 && flow.max_end == Some(seg.seq.wrapping_add(1)) {
            arrow.kind = SegKind::KeepaliveProbe;
        } else if occupies > 0 {
            if let Some(&prev) = flow.sent_at.get(&seg.seq) {
                arrow.kind = SegKind::Retransmission { prev };
            }
            flow.sent_at.insert(seg.seq, send);
        }
        let end = seg.seq.wrapping_add(occupies);
        flow.max_end = Some(match flow.max_end {
            Some(old) if (end.wrapping_sub(old) as i32) < 0 => old,
            _ => end,
        });
    }
}

/// The words of the flags, in the order S, F, R, P, A, U, E, C ("SYN,ACK", "FIN,ACK").
pub fn flag_words(flags: &str) -> String {
    let words: Vec<&str> = flags
        .chars()
        .filter_map(|c| match c {
            'S' => Some("SYN"),
            'F' => Some("FIN"),
            'R' => Some("RST"),
            'P' => Some("PSH"),
            'A' => Some("ACK"),
            'U' => Some("URG"),
            'E' => Some("ECE"),
            'C' => Some("CWR"),
            _ => None,
        })
        .collect();
    if words.is_empty() {
        "(no flags)".to_string()
    } else {
        words.join(",")
    }
}
