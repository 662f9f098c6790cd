//! Links and faults: one-way delay, jitter, loss, duplication and reordering per
//! direction, and scripted rules that see each segment and pass, drop or delay it
//! (turmoil's idea), plus partitions with a time window.

use tcpwave::{Duration, Instant};

/// Properties of one direction of a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    pub delay: Duration,
    /// Extra delay drawn uniformly from [0, jitter).
    pub jitter: Duration,
    /// Probability a segment is lost.
    pub loss: f64,
    /// Probability a segment is delivered twice.
    pub duplicate: f64,
    /// Probability a segment is held back by up to `reorder_delay` (so later ones overtake it).
    pub reorder: f64,
    pub reorder_delay: Duration,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(30),
        }
    }
}

/// What a rule sees of a segment in flight.
#[derive(Clone, Debug)]
pub struct SegView {
    pub from: String,
    pub to: String,
    /// Flag letters, S F R P A order ("SA", "FA", "A", "PA").
    pub flags: String,
    pub seq: u32,
    pub ack: u32,
    pub rel_seq: u32,
    pub rel_ack: u32,
    pub len: u32,
    /// When it is sent.
    pub at: Instant,
}

impl SegView {
    /// Exactly these flags (letters in S F R P A order).
    pub fn is(&self, flags: &str) -> bool {
        self.flags == flags
    }
    pub fn has(&self, flag: char) -> bool {
        self.flags.contains(flag)
    }
    pub fn between(&self, from: &str, to: &str) -> bool {
        self.from == from && self.to == to
    }
}

/// What a rule does with a matching segment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RuleAction {
    Drop,
    /// Deliver this much later than the link would.
    Delay(Duration),
    /// Hold until this time (then deliver after the normal link delay).
    HoldUntil(Instant),
}

/// A scripted fault: act on the `nth` (1-based) segment the matcher accepts, or on
/// every match when `nth` is 0, within an optional time window.
pub struct Rule {
    pub name: String,
    pub matcher: Box<dyn Fn(&SegView) -> bool>,
    pub action: RuleAction,
    pub nth: usize,
    pub window: Option<(Instant, Instant)>,
    pub(crate) seen: usize,
}

impl Rule {
    pub fn new(
        name: &str,
        action: RuleAction,
        nth: usize,
        matcher: impl Fn(&SegView) -> bool + 'static,
    ) -> Rule {
        Rule {
            name: name.to_string(),
            matcher: Box::new(matcher),
            action,
            nth,
            window: None,
            seen: 0,
        }
    }

    /// Only between `from` (inclusive) and `until` (exclusive).
    pub fn during(mut self, from: Instant, until: Instant) -> Rule {
        self.window = Some((from, until));
        self
    }

    /// Does the rule fire on this segment? Counts matches.
    pub(crate) fn fires(&mut self, seg: &SegView) -> bool {
        if let Some((from, until)) = self.window {
            if seg.at < from || seg.at >= until {
                return false;
            }
        }
        if !(self.matcher)(seg) {
            return false;
        }
        self.seen += 1;
        self.nth == 0 || self.seen == self.nth
    }
}
