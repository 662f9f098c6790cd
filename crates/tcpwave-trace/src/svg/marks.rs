//! Marks on the timelines: state boxes, application and timer notes, timer brackets.

use std::fmt::Write;

use super::timers::lanes;
use super::xml::{escape, num, Doc};
use super::{Scene, STATE_CHAR_PX};
use crate::model::{fmt_time, Body};

/// A state box, placed before anything else so segment labels can avoid it.
#[derive(Clone, Debug)]
pub struct StateBox {
    pub event: usize,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub text: String,
    pub class: &'static str,
}

/// CSS class of a state's box colour.
pub fn state_class(state: &str) -> &'static str {
    match state {
        "LISTEN" => "s-listen",
        "SYN_SENT" | "SYN_RECEIVED" => "s-syn",
        "ESTABLISHED" => "s-est",
        "FIN_WAIT_1" | "FIN_WAIT_2" | "CLOSING" => "s-fin",
        "CLOSE_WAIT" | "LAST_ACK" => "s-wait",
        "TIME_WAIT" => "s-tw",
        _ => "s-closed",
    }
}

/// Every state change of the drawn events as a box centred on its host's timeline.
pub fn state_boxes(scene: &Scene) -> Vec<StateBox> {
    let mut boxes = Vec::new();
    for (i, event) in scene.trace.events[..scene.limit].iter().enumerate() {
        let Body::State(change) = &event.body else {
            continue;
        };
        let Some(c) = scene.column(&event.host) else {
            continue;
        };
        let text = scene.state_text(&event.host, &change.conn, &change.to);
        let w = text.chars().count() as f64 * STATE_CHAR_PX + 16.0;
        boxes.push(StateBox {
            event: i,
            x: scene.geo.col_x[c] - w / 2.0,
            y: scene.geo.y_of(i) + 4.0,
            w,
            h: 20.0,
            text,
            class: state_class(&change.to),
        });
    }
    boxes
}

/// Draws the state boxes.
pub fn states(doc: &mut Doc, scene: &Scene, boxes: &[StateBox]) {
    for b in boxes {
        let event = &scene.trace.events[b.event];
        let Body::State(change) = &event.body else {
            continue;
        };
        let _ = writeln!(
            doc.out,
            r#"<g class="st {}" data-ev="{}" data-host="{}">"#,
            b.class,
            b.event,
            escape(&event.host)
        );
        doc.title(&format!(
            "{} {}: {} → {} ({}) at {}",
            event.host,
            change.conn,
            change.from,
            change.to,
            change.reason,
            fmt_time(event.t_us)
        ));
        doc.rect((b.x, b.y), (b.w, b.h), 10.0, "");
        doc.text(b.x + b.w / 2.0, b.y + 14.5, "", "", &b.text);
        doc.raw("</g>\n");
    }
}

/// Notes longer than this are cut (the tooltip and the HTML table have them whole).
const NOTE_CHARS_MAX: usize = 28;

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Application calls and timer notes beside their timeline, on its outer side.
pub fn notes(doc: &mut Doc, scene: &Scene) {
    for (i, event) in scene.trace.events[..scene.limit].iter().enumerate() {
        let (note, class) = match &event.body {
            Body::App(n) => (n, "n-app"),
            Body::Timer(n) => (n, "n-timer"),
            _ => continue,
        };
        let Some(c) = scene.column(&event.host) else {
            continue;
        };
        let x = scene.geo.col_x[c];
        let side = scene.outer_side(c);
        let y = scene.geo.y_of(i);
        let anchor = if side < 0.0 { "end" } else { "start" };
        let _ = writeln!(doc.out, r#"<g class="nt" data-ev="{i}">"#);
        doc.title(&format!(
            "{} at {}: {} {}",
            event.host,
            fmt_time(event.t_us),
            note.text,
            note.conn
        ));
        let _ = writeln!(
            doc.out,
            r#"<circle cx="{}" cy="{}" r="3" class="dot"/>"#,
            num(x),
            num(y + 9.0)
        );
        let extra = format!(r#" text-anchor="{anchor}""#);
        doc.text(
            x + side * 9.0,
            y + 13.0,
            &format!("note {class}"),
            &extra,
            &shorten(&note.text, NOTE_CHARS_MAX),
        );
        doc.raw("</g>\n");
    }
}

/// Timer brackets beside their host's timeline, overlapping ones in separate lanes.
pub fn brackets(doc: &mut Doc, scene: &Scene) {
    let bottom = scene.geo.bottom - 12.0;
    let span = |b: &super::timers::Bracket| {
        let top = scene.geo.y_of(b.start);
        let end = b.end.map_or(bottom, |e| scene.geo.y_of(e));
        (top, end.max(top + 6.0))
    };
    let lane_of = lanes(&scene.brackets, &span);
    for (b, lane) in scene.brackets.iter().zip(lane_of) {
        let Some(c) = scene.column(&b.host) else {
            continue;
        };
        let side = scene.outer_side(c);
        let offset = scene.columns[c].box_half.max(36.0) + 12.0 + lane as f64 * 16.0;
        let x = scene.geo.col_x[c] + side * offset;
        let (top, end) = span(b);
        let events = match b.end {
            Some(e) => format!("{} {e}", b.start),
            None => b.start.to_string(),
        };
        let _ = writeln!(
            doc.out,
            r#"<g class="br b-{}" data-ev="{events}">"#,
            b.kind.class()
        );
        let inward = -side * 7.0;
        doc.line((x + inward, top), (x, top), "");
        doc.line(
            (x, top),
            (x, end),
            if b.end.is_none() { "open-end" } else { "" },
        );
        if b.end.is_some() {
            doc.line((x + inward, end), (x, end), "");
        }
        let anchor = if side < 0.0 { "end" } else { "start" };
        let extra = format!(r#" text-anchor="{anchor}""#);
        let middle = (top + end) / 2.0;
        if end - top >= 34.0 {
            doc.text(x + side * 6.0, middle - 2.0, "", &extra, &b.name);
            doc.text(x + side * 6.0, middle + 12.0, "", &extra, &b.detail);
        } else {
            doc.text(
                x + side * 6.0,
                middle + 4.0,
                "",
                &extra,
                &format!("{} {}", b.name, b.detail),
            );
        }
        doc.raw("</g>\n");
    }
}
