//! A self-contained step-through page: the sequence diagram, an event table, and
//! controls (previous / next / play, and the arrow keys) that highlight the current
//! event and show every connection's control block at that moment (state, SND.UNA,
//! SND.NXT, RCV.NXT, windows, running timers).
//!
//! Everything is inline (style, script, the SVG and the trace data), so the page works
//! opened from disk with no network. The script is `assets/page.js`, the style
//! `assets/page.css`.
//!
//! Step `-1` is "before the first event"; step `i` shows the trace right after event `i`.
//! The connection blocks at step `i` are those of the latest snapshot taken after an
//! event `<= i`; a connection that snapshot does not hold (or every connection, when the
//! trace has no snapshots) shows the state of its latest state change, numbers as "–".

use serde::Serialize;

use crate::model::{fmt_time, Body, ConnBlock, Snapshot, Trace};
use crate::svg::{self, xml::escape, SvgOptions};

const PAGE_CSS: &str = include_str!("../assets/page.css");
const PAGE_JS: &str = include_str!("../assets/page.js");

/// One row of the event table, as the page's script reads it.
#[derive(Serialize)]
struct Row {
    t: String,
    host: String,
    kind: &'static str,
    text: String,
    /// For state changes: the connection and the new state (the page tracks them).
    #[serde(skip_serializing_if = "Option::is_none")]
    conn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

/// The data the page's script works from.
#[derive(Serialize)]
struct PageData<'a> {
    scenario: &'a str,
    hosts: Vec<&'a str>,
    events: Vec<Row>,
    snapshots: &'a [Snapshot],
}

/// Renders the step-through page for `trace` (the diagram drawn with `options`).
pub fn render(trace: &Trace, options: &SvgOptions) -> String {
    let diagram = svg::render(trace, options);
    let diagram = diagram
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .unwrap_or(&diagram);
    let data = PageData {
        scenario: &trace.scenario,
        hosts: trace.hosts.iter().map(|h| h.name.as_str()).collect(),
        events: trace.events.iter().map(row).collect(),
        snapshots: &trace.snapshots,
    };
    let json = serde_json::to_string(&data).expect("page data serializes");
    // Inside <script>, "</script>" or "<!--" in a string would end the element: JSON
    // allows '<' only inside strings, where \u003c means the same.
    let json = json.replace('<', "\\u003c");
    let title = escape(&trace.scenario);
    let description = escape(&trace.description);
    let meta = format!(
        "seed {} · {} events · run ended at {} (virtual time)",
        trace.seed,
        trace.events.len(),
        fmt_time(trace.outcome.end_us)
    );
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tcpwave · {title}</title>
<style>{PAGE_CSS}</style>
</head>
<body>
<header>
<h1>tcpwave · {title}</h1>
<p class="desc">{description}</p>
<p class="meta">{meta}</p>
</header>
<nav id="controls" aria-label="step controls">
<button id="prev" type="button" title="previous event (←)">◀ Previous</button>
<button id="play" type="button" title="play / pause (space)">▶ Play</button>
<button id="next" type="button" title="next event (→)">Next ▶</button>
<span id="step" aria-live="polite">before the first event</span>
<span id="current"></span>
<span class="hint">← → step · space play · Home / End</span>
</nav>
<main>
<section id="diagram" aria-label="sequence diagram">
{diagram}
</section>
<aside id="blocks" aria-label="connection blocks"></aside>
</main>
<section id="events-wrap" aria-label="events">
<table id="events">
<thead><tr><th>#</th><th>time</th><th>host</th><th>event</th><th>details</th></tr></thead>
<tbody></tbody>
</table>
</section>
<script type="application/json" id="trace-data">{json}</script>
<script>{PAGE_JS}</script>
</body>
</html>
"#
    )
}

/// The table row of one event.
fn row(event: &crate::model::TraceEvent) -> Row {
    let mut row = Row {
        t: fmt_time(event.t_us),
        host: event.host.clone(),
        kind: "",
        text: String::new(),
        conn: None,
        to: None,
    };
    match &event.body {
        Body::Send(s) => {
            row.kind = "send";
            row.text = format!("→ {}  {}", s.dst, svg::segment_label(s, true));
        }
        Body::Recv(s) => {
            row.kind = "recv";
            row.text = format!("← {}  {}", s.src, svg::segment_label(s, true));
        }
        Body::Drop(s) => {
            row.kind = "drop";
            let why = s.reason.as_deref().unwrap_or("lost");
            row.text = format!(
                "{} → {}  {}  ✕ {why}",
                s.src,
                s.dst,
                svg::segment_label(s, true)
            );
        }
        Body::State(c) => {
            row.kind = "state";
            row.text = format!("{}: {} → {} ({})", c.conn, c.from, c.to, c.reason);
            row.conn = Some(c.conn.clone());
            row.to = Some(c.to.clone());
        }
        Body::App(n) | Body::Timer(n) => {
            row.kind = if matches!(event.body, Body::App(_)) {
                "app"
            } else {
                "timer"
            };
            row.text = if n.conn.is_empty() {
                n.text.clone()
            } else {
                format!("{}  [{}]", n.text, n.conn)
            };
        }
    }
    if let Body::Send(s) | Body::Recv(s) = &event.body {
        if !s.options.is_empty() {
            row.text.push_str(&format!("  <{}>", s.options));
        }
    }
    if let Body::Send(s) | Body::Recv(s) | Body::Drop(s) = &event.body {
        if let Some(note) = &s.note {
            row.text.push_str(&format!("  ({note})"));
        }
    }
    row
}

/// What the page shows for each connection after `step` presses of "next" (step 0:
/// nothing yet): (host, conn, state) in the page's order. Tests compare the page against
/// this; `assets/page.js` (`connectionRows`) computes the same.
pub fn expected_states(trace: &Trace, step: usize) -> Vec<(String, String, String)> {
    if step == 0 || trace.events.is_empty() {
        return Vec::new();
    }
    let current = (step - 1).min(trace.events.len() - 1);
    // The latest snapshot at or before `current`; of several after the same event, the
    // last (as the page's script picks it).
    let snapshot: Option<&Snapshot> = trace
        .snapshots
        .iter()
        .filter(|s| s.after_event <= current)
        .max_by_key(|s| s.after_event);
    // (host, conn, state, index of the event that set it)
    let mut rows: Vec<(String, String, String, usize)> = Vec::new();
    let mut set = |host: &str, conn: &str, state: &str, at: usize| match rows
        .iter_mut()
        .find(|r| r.0 == host && r.1 == conn)
    {
        Some(r) if r.3 <= at => {
            r.2 = state.to_string();
            r.3 = at;
        }
        Some(_) => {}
        None => rows.push((host.to_string(), conn.to_string(), state.to_string(), at)),
    };
    for (i, event) in trace.events[..=current].iter().enumerate() {
        if let Body::State(c) = &event.body {
            set(&event.host, &c.conn, &c.to, i);
        }
    }
    if let Some(snapshot) = snapshot {
        let blocks: &[ConnBlock] = &snapshot.blocks;
        for b in blocks {
            set(&b.host, &b.conn, &b.state, snapshot.after_event);
        }
    }
    let host_order = |h: &str| {
        trace
            .hosts
            .iter()
            .position(|x| x.name == h)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| host_order(&r.0));
    rows.into_iter().map(|(h, c, s, _)| (h, c, s)).collect()
}
