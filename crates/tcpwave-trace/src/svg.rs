//! The sequence diagram as a self-contained SVG, drawn the way the source articles draw
//! the handshake and the four-way close: one vertical timeline per host, time running
//! down, each segment an arrow from the sender's time to the receiver's time labelled
//! with its flags and relative seq/ack, lost segments ending in a cross half-way, every
//! state change in a box on its host's timeline, timers as brackets beside it, and long
//! idle stretches cut out with a visible break.
//!
//! ```no_run
//! # let trace = tcpwave_trace::Trace::default();
//! let svg = tcpwave_trace::svg::render(&trace, &tcpwave_trace::svg::SvgOptions::default());
//! std::fs::write("close.svg", svg).unwrap();
//! ```
//!
//! The output is plain SVG 1.1 with an embedded style sheet: no scripts, no fonts, no
//! external references. Every element that stands for trace events carries
//! `data-ev="i j .."` (indices into `trace.events`) so the HTML page can highlight it.

mod arrows;
mod frame;
mod layout;
mod marks;
mod paint;
mod timers;
pub(crate) mod xml;

use std::collections::HashMap;

use crate::model::{Body, Segment, Trace};
use arrows::{flag_words, ip_of, port_of, Arrow};
use layout::Geometry;
use timers::Bracket;

pub(crate) use arrows::lost_sends;
pub use timers::human_duration;

/// How to draw the diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SvgOptions {
    /// Also write each segment's window field (`win=...`) in its label.
    pub show_window: bool,
    /// Draw at most this many events (the first ones); a note says how many were left out.
    pub max_events: usize,
}

/// Events drawn by default: enough for every per-connection scenario, small enough that
/// the picture of a many-connection run stays a picture.
pub const DEFAULT_MAX_EVENTS: usize = 1200;

impl Default for SvgOptions {
    fn default() -> SvgOptions {
        SvgOptions {
            show_window: false,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// Renders `trace` as a standalone SVG document (UTF-8 text).
pub fn render(trace: &Trace, options: &SvgOptions) -> String {
    let scene = Scene::new(trace, options);
    let mut doc = xml::Doc::new();
    frame::open(&mut doc, &scene);
    frame::breaks(&mut doc, &scene);
    frame::timelines(&mut doc, &scene);
    frame::axis(&mut doc, &scene);
    marks::brackets(&mut doc, &scene);
    let boxes = marks::state_boxes(&scene);
    paint::arrows(&mut doc, &scene, &boxes);
    marks::states(&mut doc, &scene, &boxes);
    marks::notes(&mut doc, &scene);
    frame::footer(&mut doc, &scene);
    doc.raw("</svg>\n");
    doc.out
}

/// The label of a segment as the diagram writes it: flags, relative seq, ack (when the
/// ACK flag is set), length (when there is data) and, if asked, the window.
/// For example `"SYN seq=0"`, `"FIN,ACK seq=1 ack=1"`, `"PSH,ACK seq=1 ack=1 len=100"`.
pub fn segment_label(segment: &Segment, show_window: bool) -> String {
    let mut label = format!("{} seq={}", flag_words(&segment.flags), segment.rel_seq);
    if segment.flags.contains('A') {
        label.push_str(&format!(" ack={}", segment.rel_ack));
    }
    if segment.len > 0 {
        label.push_str(&format!(" len={}", segment.len));
    }
    if show_window {
        label.push_str(&format!(" win={}", segment.win));
    }
    label
}

/// One host's column.
pub(crate) struct Column {
    pub name: String,
    pub role: String,
    pub addr: String,
    /// Half the width of the widest state box on this timeline.
    pub box_half: f64,
    /// The side of the timeline for notes and brackets: -1 left, 1 right.
    pub side: f64,
}

/// Everything the drawing functions need, computed once.
pub(crate) struct Scene<'a> {
    pub trace: &'a Trace,
    pub options: &'a SvgOptions,
    /// Events drawn: `trace.events[..limit]`.
    pub limit: usize,
    pub columns: Vec<Column>,
    pub arrows: Vec<Arrow>,
    pub geo: Geometry,
    pub brackets: Vec<Bracket>,
    pub col_gap: f64,
    /// Short tags telling a host's connections apart (only for hosts with several).
    pub conn_tags: HashMap<(String, String), String>,
}

/// Width of one character of the 12 px monospace label font.
pub(crate) const LABEL_CHAR_PX: f64 = 7.3;
/// Width of one character of the 11 px monospace state font.
pub(crate) const STATE_CHAR_PX: f64 = 6.7;

impl<'a> Scene<'a> {
    fn new(trace: &'a Trace, options: &'a SvgOptions) -> Scene<'a> {
        let limit = trace.events.len().min(options.max_events.max(1));
        let mut columns: Vec<Column> = trace
            .hosts
            .iter()
            .map(|h| Column {
                name: h.name.clone(),
                role: h.role.clone(),
                addr: h.addr.clone(),
                box_half: 0.0,
                side: 1.0,
            })
            .collect();
        for event in &trace.events[..limit] {
            let known = columns.iter().any(|c| c.name == event.host);
            if !known && !matches!(event.body, Body::Drop(_)) {
                columns.push(Column {
                    name: event.host.clone(),
                    role: String::new(),
                    addr: String::new(),
                    box_half: 0.0,
                    side: 1.0,
                });
            }
        }
        let column = |name: &str| columns.iter().position(|c| c.name == name);
        let column_of_addr = |addr: &str| {
            columns
                .iter()
                .position(|c| !c.addr.is_empty() && ip_of(&c.addr) == addr)
        };
        let arrows = arrows::build(trace, limit, &column, &column_of_addr);
        let col_gap = column_gap(trace, options, &arrows);
        let geo = layout::layout(trace, limit, &arrows, &column, columns.len(), col_gap);
        let brackets = timers::brackets(trace, limit, &arrows);
        let conn_tags = conn_tags(trace, limit);
        let mut scene = Scene {
            trace,
            options,
            limit,
            columns,
            arrows,
            geo,
            brackets,
            col_gap,
            conn_tags,
        };
        scene.measure_boxes();
        scene.choose_sides();
        scene
    }

    /// Records each column's widest state box.
    fn measure_boxes(&mut self) {
        for event in &self.trace.events[..self.limit] {
            if let Body::State(change) = &event.body {
                let half = self
                    .state_text(&event.host, &change.conn, &change.to)
                    .chars()
                    .count() as f64
                    * STATE_CHAR_PX
                    / 2.0
                    + 8.0;
                if let Some(c) = self.column(&event.host) {
                    self.columns[c].box_half = self.columns[c].box_half.max(half);
                }
            }
        }
    }

    /// Puts each timeline's notes and brackets on the side fewer arrows leave from
    /// (ties: left for the first timeline, right for the others).
    fn choose_sides(&mut self) {
        let count = self.columns.len();
        let mut toward = vec![(0usize, 0usize); count];
        for arrow in &self.arrows {
            if let (Some(a), Some(b)) = (arrow.from, arrow.to) {
                for (here, there) in [(a, b), (b, a)] {
                    if there < here {
                        toward[here].0 += 1;
                    } else if there > here {
                        toward[here].1 += 1;
                    }
                }
            }
        }
        for (c, (left, right)) in toward.into_iter().enumerate() {
            self.columns[c].side = match left.cmp(&right) {
                std::cmp::Ordering::Less => -1.0,
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal if c == 0 && count > 1 => -1.0,
                std::cmp::Ordering::Equal => 1.0,
            };
        }
    }

    pub fn column(&self, host: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == host)
    }

    /// Which side of column `c` its notes and brackets go: -1 left, 1 right.
    pub fn outer_side(&self, c: usize) -> f64 {
        self.columns[c].side
    }

    /// The text of a state box: the state, and a connection tag when the host has several.
    pub fn state_text(&self, host: &str, conn: &str, state: &str) -> String {
        match self.conn_tags.get(&(host.to_string(), conn.to_string())) {
            Some(tag) => format!("{state} {tag}"),
            None => state.to_string(),
        }
    }
}

/// Space between timelines: enough for every label to sit on its arrow (a lost
/// segment's arrow is only half as long), within bounds.
fn column_gap(trace: &Trace, options: &SvgOptions, arrows: &[Arrow]) -> f64 {
    let needed = arrows.iter().filter_map(|arrow| {
        let seg = arrows::segment_of(trace, arrow.seg_event)?;
        let label_px =
            segment_label(seg, options.show_window).chars().count() as f64 * LABEL_CHAR_PX;
        let columns = match (arrow.from, arrow.to) {
            (Some(a), Some(b)) if a != b => a.abs_diff(b) as f64,
            _ => 1.0,
        };
        let arrow_px = if arrow.recv.is_some() {
            1.5 * label_px + 60.0
        } else {
            2.0 * label_px + 60.0
        };
        Some(arrow_px / columns)
    });
    needed.fold(COL_GAP_MIN_PX, f64::max).min(COL_GAP_MAX_PX)
}

/// Bounds of the space between timelines.
const COL_GAP_MIN_PX: f64 = 360.0;
const COL_GAP_MAX_PX: f64 = 640.0;

/// A listening socket's "connection" has no remote end (`*`, port 0 or none).
fn is_listener(conn: &str) -> bool {
    match conn.split_once("->") {
        Some((_, remote)) => {
            remote.is_empty()
                || remote.contains('*')
                || port_of(remote) == "0"
                || remote.starts_with("0.0.0.0")
        }
        None => true,
    }
}

/// For hosts with more than one connection: a port that tells them apart ("·40001"),
/// the local port when those differ, else the remote one.
fn conn_tags(trace: &Trace, limit: usize) -> HashMap<(String, String), String> {
    let mut per_host: Vec<(String, Vec<String>)> = Vec::new();
    for event in &trace.events[..limit] {
        let conn = match &event.body {
            Body::State(s) => &s.conn,
            Body::App(n) | Body::Timer(n) if !n.conn.is_empty() => &n.conn,
            _ => continue,
        };
        if is_listener(conn) {
            continue;
        }
        let entry = match per_host.iter_mut().find(|(h, _)| *h == event.host) {
            Some(entry) => entry,
            None => {
                per_host.push((event.host.clone(), Vec::new()));
                per_host.last_mut().expect("just pushed")
            }
        };
        if !entry.1.contains(conn) {
            entry.1.push(conn.clone());
        }
    }
    let mut tags = HashMap::new();
    for (host, conns) in per_host.into_iter().filter(|(_, c)| c.len() > 1) {
        let ends = |c: &String| -> (String, String) {
            let (local, remote) = c.split_once("->").unwrap_or((c.as_str(), ""));
            (port_of(local).to_string(), port_of(remote).to_string())
        };
        let first_local = ends(&conns[0]).0;
        let locals_differ = conns.iter().any(|c| ends(c).0 != first_local);
        for conn in conns {
            let (local, remote) = ends(&conn);
            let port = if locals_differ { local } else { remote };
            tags.insert((host.clone(), conn), format!("·{port}"));
        }
    }
    tags
}
