//! Segment arrows and their labels.
//!
//! Labels run along their arrow, above it, and slide along it (middle first, then
//! towards either end) to the first place where they neither cover a state box or
//! another label nor, if possible, cross another arrow. A retransmission or keepalive
//! probe gets a second, smaller line under its arrow.

use std::fmt::Write;

use super::arrows::{segment_of, Arrow, SegKind};
use super::marks::StateBox;
use super::xml::{num, Doc};
use super::{segment_label, Scene, LABEL_CHAR_PX};
use crate::model::{fmt_time, Segment};

/// An oriented rectangle: centre, half extents along and across its direction.
#[derive(Clone, Copy, Debug)]
struct Obb {
    cx: f64,
    cy: f64,
    hw: f64,
    hh: f64,
    cos: f64,
    sin: f64,
}

impl Obb {
    fn axes(&self) -> [(f64, f64); 2] {
        [(self.cos, self.sin), (-self.sin, self.cos)]
    }

    /// Half the extent of the rectangle projected on `axis`.
    fn radius(&self, (ax, ay): (f64, f64)) -> f64 {
        self.hw * (self.cos * ax + self.sin * ay).abs()
            + self.hh * (-self.sin * ax + self.cos * ay).abs()
    }

    /// Separating-axis test.
    fn overlaps(&self, other: &Obb) -> bool {
        if (self.cy - other.cy).abs() > self.hw + self.hh + other.hw + other.hh {
            return false;
        }
        let (dx, dy) = (other.cx - self.cx, other.cy - self.cy);
        self.axes()
            .into_iter()
            .chain(other.axes())
            .all(|axis| (dx * axis.0 + dy * axis.1).abs() <= self.radius(axis) + other.radius(axis))
    }

    fn upright(x: f64, y: f64, w: f64, h: f64) -> Obb {
        Obb {
            cx: x + w / 2.0,
            cy: y + h / 2.0,
            hw: w / 2.0,
            hh: h / 2.0,
            cos: 1.0,
            sin: 0.0,
        }
    }

    /// The thin rectangle around a line from `a` to `b`.
    fn around_line(a: (f64, f64), b: (f64, f64)) -> Obb {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy).max(1e-6);
        Obb {
            cx: (a.0 + b.0) / 2.0,
            cy: (a.1 + b.1) / 2.0,
            hw: len / 2.0,
            hh: 1.0,
            cos: dx / len,
            sin: dy / len,
        }
    }
}

/// Where an arrow starts and ends, and how it ends.
struct Path {
    start: (f64, f64),
    end: (f64, f64),
    ending: Ending,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Head,
    Lost,
    InFlight,
}

/// Colour class by the flags that matter most.
fn kind_class(seg: &Segment) -> &'static str {
    if seg.flags.contains('R') {
        "k-rst"
    } else if seg.flags.contains('S') {
        "k-syn"
    } else if seg.flags.contains('F') {
        "k-fin"
    } else if seg.len > 0 {
        "k-data"
    } else {
        "k-ack"
    }
}

fn path_of(scene: &Scene, arrow: &Arrow) -> Path {
    let geo = &scene.geo;
    let col_x = |c: Option<usize>| c.map(|c| geo.col_x[c]);
    let toward_middle = |x: f64| if x < geo.width / 2.0 { 1.0 } else { -1.0 };
    let end_y = arrow.recv.or(arrow.drop).map(|e| geo.y_of(e));
    let start = match (arrow.send, col_x(arrow.from)) {
        (Some(send), Some(x)) => (x, geo.y_of(send)),
        (_, from_x) => {
            let to_x = col_x(arrow.to).unwrap_or(geo.width / 2.0);
            let x = from_x.unwrap_or(to_x - toward_middle(to_x) * scene.col_gap * 0.5);
            (x, end_y.unwrap_or(0.0) - 24.0)
        }
    };
    let to_x = col_x(arrow.to).unwrap_or(start.0 + toward_middle(start.0) * scene.col_gap * 0.6);
    match (arrow.recv, arrow.drop) {
        (Some(recv), _) => Path {
            start,
            end: (to_x, geo.y_of(recv)),
            ending: Ending::Head,
        },
        (None, Some(drop)) => Path {
            start,
            end: ((start.0 + to_x) / 2.0, geo.y_of(drop).max(start.1 + 24.0)),
            ending: Ending::Lost,
        },
        (None, None) => Path {
            start,
            end: ((start.0 + to_x) / 2.0, start.1 + 24.0),
            ending: Ending::InFlight,
        },
    }
}

/// A placed label: the baseline points of its two lines and its angle in degrees.
struct Placement {
    main: (f64, f64),
    tag: (f64, f64),
    degrees: f64,
}

/// Chooses where the label of `path` goes, avoiding `obstacles` (weight 10: boxes and
/// labels, weight 1: other arrows), and records the label as an obstacle.
fn place(path: &Path, main_px: f64, tag_px: f64, obstacles: &mut Vec<(Obb, u32)>) -> Placement {
    let len = (path.end.0 - path.start.0)
        .hypot(path.end.1 - path.start.1)
        .max(1.0);
    let half = main_px.max(tag_px) / 2.0 + 10.0;
    // The label stays clear of the sender's timeline; on a lost segment's arrow it may run
    // past the cross, where nothing else is drawn.
    let far_end = if path.ending == Ending::Head {
        len - half
    } else {
        len - 20.0
    };
    let (low, high) = if half < far_end {
        (half / len, far_end / len)
    } else {
        (0.5, 0.5)
    };
    let mut best: Option<(u32, Placement, [Obb; 2])> = None;
    // Above the line first, at the middle, then further out; then the same below it
    // (crossing arrows, as in a simultaneous close, leave no room above both).
    let spots = [1.0, -1.0]
        .into_iter()
        .flat_map(|side| [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85].map(|f| (side, f)));
    for (side, f) in spots {
        let (placement, boxes) = candidate(path, side, f64::clamp(f, low, high), main_px, tag_px);
        let cost: u32 = obstacles
            .iter()
            .filter(|(o, _)| boxes.iter().any(|b| b.overlaps(o)))
            .map(|(_, w)| w)
            .sum();
        if !matches!(&best, Some((c, _, _)) if *c <= cost) {
            best = Some((cost, placement, boxes));
        }
        if cost == 0 {
            break;
        }
    }
    let (_, placement, boxes) = best.expect("at least one candidate");
    obstacles.extend(boxes.into_iter().map(|b| (b, 10)));
    placement
}

/// The label of `path` centred at fraction `f` of it, above (`side` 1) or below (-1) the
/// line, with the rectangles its two lines cover.
fn candidate(path: &Path, side: f64, f: f64, main_px: f64, tag_px: f64) -> (Placement, [Obb; 2]) {
    let (dx, dy) = (path.end.0 - path.start.0, path.end.1 - path.start.1);
    // Text reads left to right whichever way the arrow points.
    let mut angle = dy.atan2(dx);
    if angle > std::f64::consts::FRAC_PI_2 {
        angle -= std::f64::consts::PI;
    } else if angle < -std::f64::consts::FRAC_PI_2 {
        angle += std::f64::consts::PI;
    }
    let (cos, sin) = (angle.cos(), angle.sin());
    let p = (path.start.0 + dx * f, path.start.1 + dy * f);
    let at = |d: f64| (p.0 + sin * d * side, p.1 - cos * d * side);
    // (baseline, box centre) offsets: text above the line has its baseline 5 px off it,
    // below it 15 px.
    let (main_at, tag_at) = if side > 0.0 {
        ((5.0, 9.5), (-15.0, -11.0))
    } else {
        ((15.0, 11.0), (-5.0, -9.5))
    };
    let rect = |centre: (f64, f64), hw: f64, hh: f64| Obb {
        cx: centre.0,
        cy: centre.1,
        hw,
        hh,
        cos,
        sin,
    };
    let main_box = rect(at(main_at.1), main_px / 2.0 + 2.0, 7.5);
    let tag_box = rect(at(tag_at.1), tag_px / 2.0 + 2.0, 6.5);
    let boxes = if tag_px > 0.0 {
        [main_box, tag_box]
    } else {
        [main_box, main_box]
    };
    let placement = Placement {
        main: at(main_at.0),
        tag: at(tag_at.0),
        degrees: angle.to_degrees(),
    };
    (placement, boxes)
}

/// Draws every arrow with its label.
pub fn arrows(doc: &mut Doc, scene: &Scene, boxes: &[StateBox]) {
    let paths: Vec<Path> = scene.arrows.iter().map(|a| path_of(scene, a)).collect();
    let mut obstacles: Vec<(Obb, u32)> = boxes
        .iter()
        .map(|b| (Obb::upright(b.x, b.y, b.w, b.h), 10))
        .collect();
    for path in &paths {
        obstacles.push((Obb::around_line(path.start, path.end), 1));
    }
    for (index, (arrow, path)) in scene.arrows.iter().zip(&paths).enumerate() {
        // Each arrow's own line is not an obstacle for its own label.
        obstacles[boxes.len() + index].1 = 0;
        draw_arrow(doc, scene, arrow, path, &mut obstacles);
        obstacles[boxes.len() + index].1 = 1;
    }
}

fn draw_arrow(
    doc: &mut Doc,
    scene: &Scene,
    arrow: &Arrow,
    path: &Path,
    obstacles: &mut Vec<(Obb, u32)>,
) {
    let Some(seg) = segment_of(scene.trace, arrow.seg_event) else {
        return;
    };
    let label = segment_label(seg, scene.options.show_window);
    let what = match (arrow.kind, path.ending) {
        (SegKind::Retransmission { .. }, _) => "retransmission",
        (SegKind::KeepaliveProbe, _) => "keepalive probe",
        (_, Ending::InFlight) => "receipt not in the trace",
        _ => "",
    };
    // A SYN's options are what the handshake negotiates: worth a line of their own.
    let options = if seg.flags.contains('S') {
        short_options(&seg.options)
    } else {
        String::new()
    };
    let tag = match (what.is_empty(), options.is_empty()) {
        (true, _) => options,
        (false, true) => what.to_string(),
        (false, false) => format!("{what} · {options}"),
    };
    let tag = tag.as_str();
    let events: Vec<String> = arrow.events().iter().map(usize::to_string).collect();
    let lost = if path.ending == Ending::Head {
        ""
    } else {
        " lost"
    };
    let _ = writeln!(
        doc.out,
        r#"<g class="seg {}{lost}" data-ev="{}">"#,
        kind_class(seg),
        events.join(" ")
    );
    doc.title(&describe(scene, arrow, seg));
    doc.line(path.start, path.end, "path");
    match path.ending {
        Ending::Head => arrowhead(doc, path),
        Ending::Lost => draw_cross(doc, scene, arrow, path, obstacles),
        Ending::InFlight => {}
    }
    let main_px = label.chars().count() as f64 * LABEL_CHAR_PX;
    let tag_px = tag.chars().count() as f64 * 6.6;
    let spot = place(path, main_px, tag_px, obstacles);
    let rotate = |p: (f64, f64)| {
        format!(
            r#" transform="rotate({} {} {})""#,
            num(spot.degrees),
            num(p.0),
            num(p.1)
        )
    };
    doc.text(spot.main.0, spot.main.1, "lbl", &rotate(spot.main), &label);
    if !tag.is_empty() {
        let extra = format!(
            r#"{} style="font-size:11px;font-style:italic""#,
            rotate(spot.tag)
        );
        doc.text(spot.tag.0, spot.tag.1, "lbl", &extra, tag);
    }
    doc.raw("</g>\n");
}

/// Options in tcpdump's words, without padding and timestamp values:
/// "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7" becomes "mss 1460, sackOK, TS, wscale 7".
pub fn short_options(options: &str) -> String {
    let words: Vec<&str> = options
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty() && *o != "nop" && *o != "eol")
        .map(|o| if o.starts_with("TS ") { "TS" } else { o })
        .collect();
    words.join(", ")
}

/// A filled triangle at the end of `path`, pointing along it.
fn arrowhead(doc: &mut Doc, path: &Path) {
    let (dx, dy) = (path.end.0 - path.start.0, path.end.1 - path.start.1);
    let len = dx.hypot(dy).max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (path.end.0 - ux * 10.0, path.end.1 - uy * 10.0);
    let _ = writeln!(
        doc.out,
        r#"<polygon points="{},{} {},{} {},{}"/>"#,
        num(path.end.0),
        num(path.end.1),
        num(bx - uy * 4.5),
        num(by + ux * 4.5),
        num(bx + uy * 4.5),
        num(by - ux * 4.5)
    );
}

/// The red cross where a segment was lost, and why.
fn draw_cross(
    doc: &mut Doc,
    scene: &Scene,
    arrow: &Arrow,
    path: &Path,
    obstacles: &mut Vec<(Obb, u32)>,
) {
    let (x, y) = path.end;
    doc.line((x - 7.0, y - 7.0), (x + 7.0, y + 7.0), "cross");
    doc.line((x - 7.0, y + 7.0), (x + 7.0, y - 7.0), "cross");
    let reason = arrow
        .drop
        .and_then(|d| segment_of(scene.trace, d))
        .and_then(|s| s.reason.clone())
        .filter(|r| r.chars().count() <= 28)
        .unwrap_or_else(|| "lost".to_string());
    let text = format!("✕ {reason}");
    let w = text.chars().count() as f64 * 6.6;
    // Below the cross, on the far side of the arrow's direction.
    let right = path.end.0 >= path.start.0;
    let (tx, anchor) = if right {
        (x - 4.0, "end")
    } else {
        (x + 4.0, "start")
    };
    let extra = format!(r#" text-anchor="{anchor}""#);
    doc.text(tx, y + 21.0, "lost-text", &extra, &text);
    let left = if right { tx - w } else { tx };
    obstacles.push((Obb::upright(left, y + 10.0, w, 14.0), 10));
}

/// The tooltip of an arrow: everything the label leaves out.
fn describe(scene: &Scene, arrow: &Arrow, seg: &Segment) -> String {
    let trace = scene.trace;
    let at = |e: Option<usize>| {
        e.map(|e| {
            (
                trace.events[e].host.as_str(),
                fmt_time(trace.events[e].t_us),
            )
        })
    };
    let mut text = format!(
        "{} → {} {} seq {} ack {} win {} len {}",
        seg.src,
        seg.dst,
        super::arrows::flag_words(&seg.flags),
        seg.seq,
        seg.ack,
        seg.win,
        seg.len
    );
    if !seg.options.is_empty() {
        text.push_str(&format!(" [{}]", seg.options));
    }
    if let Some(note) = &seg.note {
        // The label's relative numbers count from another connection's ISNs: say so
        // where the absolute ones are.
        text.push_str(&format!(" ({note})"));
    }
    if let Some((host, t)) = at(arrow.send) {
        text.push_str(&format!("; sent by {host} at {t}"));
    }
    if let Some((host, t)) = at(arrow.recv) {
        text.push_str(&format!("; received by {host} at {t}"));
    }
    if let Some((_, t)) = at(arrow.drop) {
        let reason = arrow
            .drop
            .and_then(|d| segment_of(trace, d))
            .and_then(|s| s.reason.clone());
        text.push_str(&format!("; lost at {t}"));
        if let Some(reason) = reason {
            text.push_str(&format!(" ({reason})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::short_options;

    #[test]
    fn syn_options_are_shortened() {
        assert_eq!(
            short_options("mss 1460,sackOK,TS val 10 ecr 0,nop,wscale 7"),
            "mss 1460, sackOK, TS, wscale 7"
        );
        assert_eq!(short_options(""), "");
    }
}
