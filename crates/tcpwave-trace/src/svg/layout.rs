//! Where things go: one column per host, and a vertical position for every event.
//!
//! Time runs down the page on a scale taken from the run itself: the typical one-way
//! delay is 48 px, gaps up to two delays are drawn to scale, longer ones shrink
//! logarithmically, and idle stretches longer than [`BREAK_MIN_US`] (a 60 s TIME_WAIT, a
//! 2 h keepalive idle) are cut out and marked with a visible break. Events that happen in
//! the same microsecond at one host are stacked in the order they happened (a receipt, the
//! state change it caused, the answer sent), so state boxes never sit on an arrow.

use std::collections::HashMap;

use super::arrows::Arrow;
use crate::model::{Body, Trace};

/// Pixels for one typical one-way delay.
const DELAY_PX: f64 = 48.0;
/// Pixels per doubling of a gap beyond two delays.
const LOG_PX: f64 = 30.0;
/// The least space between two distinct instants.
const GAP_MIN_PX: f64 = 16.0;
/// Idle stretches at least this long (and at least 40 delays) become a break.
pub const BREAK_MIN_US: u64 = 1_500_000;
/// Height of a break band.
pub const BREAK_PX: f64 = 46.0;
/// Vertical room a state box takes in its host's column.
pub const STATE_ROW_PX: f64 = 28.0;
/// Vertical room an application or timer note takes.
pub const NOTE_ROW_PX: f64 = 18.0;
/// Vertical room under a lost segment's cross.
const LOST_ROW_PX: f64 = 30.0;
/// Top of the timelines.
pub const TOP_PX: f64 = 104.0;
/// Room left of the first timeline (time axis, notes, brackets) and right of the last.
pub const SIDE_PX: f64 = 268.0;
/// The time axis labels end here.
pub const AXIS_PX: f64 = 62.0;

/// A cut-out idle stretch.
#[derive(Clone, Debug)]
pub struct Break {
    pub y_top: f64,
    pub y_bottom: f64,
    pub skipped_us: u64,
}

/// Positions of everything that is drawn.
#[derive(Clone, Debug)]
pub struct Geometry {
    pub col_x: Vec<f64>,
    /// Vertical position of each event (trace order); `None` when not drawn.
    pub y: Vec<Option<f64>>,
    /// (y, time) of each distinct instant, for the time axis.
    pub instants: Vec<(f64, u64)>,
    pub breaks: Vec<Break>,
    /// Bottom of the timelines.
    pub bottom: f64,
    pub width: f64,
}

impl Geometry {
    pub fn y_of(&self, event: usize) -> f64 {
        self.y.get(event).copied().flatten().unwrap_or(TOP_PX)
    }
}

/// The median one-way delay of received segments, or 10 ms when nothing was received.
pub fn typical_delay_us(trace: &Trace, arrows: &[Arrow]) -> u64 {
    let mut delays: Vec<u64> = arrows
        .iter()
        .filter_map(|a| {
            let sent = trace.events[a.send?].t_us;
            let received = trace.events[a.recv?].t_us;
            received.checked_sub(sent).filter(|d| *d > 0)
        })
        .collect();
    delays.sort_unstable();
    delays.get(delays.len() / 2).copied().unwrap_or(10_000)
}

/// Space for a gap of `dt_us` between two instants, and whether it is a break.
pub fn gap_px(dt_us: u64, delay_us: u64) -> (f64, bool) {
    if dt_us == 0 {
        return (0.0, false);
    }
    if dt_us >= BREAK_MIN_US.max(delay_us.saturating_mul(40)) {
        return (BREAK_PX, true);
    }
    let delays = dt_us as f64 / delay_us.max(1) as f64;
    let px = if delays <= 2.0 {
        DELAY_PX * delays
    } else {
        2.0 * DELAY_PX + LOG_PX * (delays / 2.0).log2()
    };
    (px.max(GAP_MIN_PX), false)
}

/// Vertical room an event takes in its host's column.
fn row_px(body: &Body) -> f64 {
    match body {
        Body::State(_) => STATE_ROW_PX,
        Body::App(_) | Body::Timer(_) => NOTE_ROW_PX,
        Body::Send(_) | Body::Recv(_) | Body::Drop(_) => 0.0,
    }
}

/// Lays out the first `limit` events over `columns` host columns `col_gap` apart.
pub fn layout(
    trace: &Trace,
    limit: usize,
    arrows: &[Arrow],
    column: &dyn Fn(&str) -> Option<usize>,
    columns: usize,
    col_gap: f64,
) -> Geometry {
    let col_x: Vec<f64> = (0..columns).map(|c| SIDE_PX + col_gap * c as f64).collect();
    let width = SIDE_PX * 2.0 + col_gap * columns.saturating_sub(1) as f64;
    let mut order: Vec<usize> = (0..limit.min(trace.events.len())).collect();
    order.sort_by_key(|&i| (trace.events[i].t_us, i));
    let mut walk = Walk {
        trace,
        column,
        delay_us: typical_delay_us(trace, arrows),
        ends_of: arrow_ends(arrows),
        y: vec![None; trace.events.len()],
        end_at_least: HashMap::new(),
        instants: Vec::new(),
        breaks: Vec::new(),
        group_end: TOP_PX + 8.0,
        previous_t: None,
    };
    for group in order.chunk_by(|&a, &b| trace.events[a].t_us == trace.events[b].t_us) {
        walk.instant(group);
    }
    Geometry {
        col_x,
        y: walk.y,
        instants: walk.instants,
        breaks: walk.breaks,
        bottom: walk.group_end + 36.0,
        width,
    }
}

/// For each send event, the events where its segment arrives or is lost.
fn arrow_ends(arrows: &[Arrow]) -> HashMap<usize, Vec<usize>> {
    let mut ends_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for arrow in arrows {
        if let Some(send) = arrow.send {
            let ends = ends_of.entry(send).or_default();
            ends.extend(arrow.recv);
            ends.extend(arrow.drop);
        }
    }
    ends_of
}

/// The layout in progress, instant by instant down the page.
struct Walk<'a> {
    trace: &'a Trace,
    column: &'a dyn Fn(&str) -> Option<usize>,
    delay_us: u64,
    ends_of: HashMap<usize, Vec<usize>>,
    y: Vec<Option<f64>>,
    /// An arrow's end may not come before its start plus the drawn delay.
    end_at_least: HashMap<usize, f64>,
    instants: Vec<(f64, u64)>,
    breaks: Vec<Break>,
    /// Bottom of everything placed so far.
    group_end: f64,
    previous_t: Option<u64>,
}

impl Walk<'_> {
    /// Places the events of one instant (all with the same time, in trace order).
    fn instant(&mut self, group: &[usize]) {
        let t = self.trace.events[group[0]].t_us;
        let (gap, is_break) = match self.previous_t {
            Some(p) => gap_px(t - p, self.delay_us),
            None => (12.0, false),
        };
        let mut top = self.group_end + gap;
        if is_break {
            self.breaks.push(Break {
                y_top: self.group_end + 6.0,
                y_bottom: self.group_end + gap - 6.0,
                skipped_us: t - self.previous_t.unwrap_or(t),
            });
        } else {
            for i in group {
                if let Some(&least) = self.end_at_least.get(i) {
                    top = top.max(least);
                }
            }
        }
        let mut cursor: HashMap<usize, f64> = HashMap::new();
        let mut height: f64 = 0.0;
        for &i in group {
            let event = &self.trace.events[i];
            let host_col = match event.body {
                Body::Drop(_) => None,
                _ => (self.column)(&event.host),
            };
            let offset = host_col.map_or(0.0, |c| *cursor.get(&c).unwrap_or(&0.0));
            let event_y = top + offset;
            self.y[i] = Some(event_y);
            match host_col {
                Some(c) => {
                    let next = offset + row_px(&event.body);
                    cursor.insert(c, next);
                    height = height.max(next);
                }
                // Room for the cross and its "lost" line under it.
                None => height = height.max(LOST_ROW_PX),
            }
            self.hold_ends(i, t, event_y);
        }
        self.instants.push((top, t));
        self.group_end = top + height;
        self.previous_t = Some(t);
    }

    /// Keeps the ends of the segment sent by event `send` at least one drawn delay lower.
    fn hold_ends(&mut self, send: usize, t: u64, send_y: f64) {
        for &end in self.ends_of.get(&send).map(Vec::as_slice).unwrap_or(&[]) {
            let dt = self.trace.events[end].t_us.saturating_sub(t);
            let (drawn, crosses_break) = gap_px(dt, self.delay_us);
            if !crosses_break {
                self.end_at_least.insert(end, send_y + drawn);
            }
        }
    }
}
