//! The frame of the diagram: style sheet, title, host headers, timelines, breaks, the
//! time axis and the footer with the outcome.

use std::fmt::Write;

use super::layout::{AXIS_PX, TOP_PX};
use super::xml::{escape, num, Doc};
use super::Scene;
use crate::model::fmt_time;

/// The embedded style sheet. Fonts are generic families, so nothing is fetched.
const STYLE: &str = r#"
text{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;fill:#1f2933;font-size:12px}
.mono,.lbl,.st text,.axis,.note{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
.bg{fill:#fff}
.h1{font-size:17px;font-weight:bold}
.sub{font-size:12px;fill:#52606d}
.host rect{fill:#f0f4f8;stroke:#486581;stroke-width:1.2}
.hname{font-size:14px;font-weight:bold;text-anchor:middle}
.hrole{font-size:11px;fill:#52606d;text-anchor:middle}
.tl{stroke:#7b8794;stroke-width:2}
.tl-cut{stroke:#bcccdc;stroke-width:2;stroke-dasharray:2 4}
.brk{fill:#f5f7fa}
.brk-edge{fill:none;stroke:#9aa5b1;stroke-width:1}
.brk-text{font-size:12px;font-style:italic;fill:#52606d;text-anchor:middle}
.axis{font-size:10.5px;fill:#7b8794;text-anchor:end}
.tick{stroke:#cbd2d9;stroke-width:1}
.lbl{font-size:12px;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round;text-anchor:middle}
.seg line{stroke-width:1.7}
.k-syn line{stroke:#2f855a}.k-syn polygon{fill:#2f855a}.k-syn .lbl{fill:#22543d}
.k-fin line{stroke:#2b6cb0}.k-fin polygon{fill:#2b6cb0}.k-fin .lbl{fill:#2a4365}
.k-rst line{stroke:#c53030}.k-rst polygon{fill:#c53030}.k-rst .lbl{fill:#9b2c2c}
.k-data line{stroke:#1a202c}.k-data polygon{fill:#1a202c}.k-data .lbl{fill:#1a202c}
.k-ack line{stroke:#718096}.k-ack polygon{fill:#718096}.k-ack .lbl{fill:#4a5568}
.lost line.path{stroke-dasharray:7 4}
.cross{stroke:#e53e3e;stroke-width:3;stroke-linecap:round}
.lost-text{font-size:11px;font-style:italic;fill:#c53030;paint-order:stroke;stroke:#fff;stroke-width:3px}
.st rect{stroke-width:1.2}
.st text{font-size:11px;font-weight:bold;text-anchor:middle}
.s-closed rect{fill:#e4e7eb;stroke:#7b8794}
.s-listen rect{fill:#e3f8ff;stroke:#0b69a3}
.s-syn rect{fill:#e3fcec;stroke:#38a169}
.s-est rect{fill:#c6f6d5;stroke:#276749}
.s-fin rect{fill:#ebf4ff;stroke:#2b6cb0}
.s-wait rect{fill:#fffbea;stroke:#b7791f}
.s-tw rect{fill:#faf5ff;stroke:#6b46c1}
.note{font-size:11px;font-style:italic;paint-order:stroke;stroke:#fff;stroke-width:3px}
.n-app{fill:#2d3748}.n-timer{fill:#975a16}
.dot{fill:#4a5568}
.br line{stroke-width:1.5}
.br text{font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px}
.b-tw line{stroke:#6b46c1}.b-tw text{fill:#553c9a}
.b-rto line{stroke:#dd6b20}.b-rto text{fill:#9c4221}
.b-ka line{stroke:#319795}.b-ka text{fill:#234e52}
.b-fw2 line{stroke:#2b6cb0}.b-fw2 text{fill:#2a4365}
.open-end{stroke-dasharray:3 3}
.foot{font-size:12px;fill:#323f4b}
"#;

/// Figures the footer lists at most.
const FIGURES_MAX: usize = 60;

/// The outcome lines under the diagram.
fn footer_lines(scene: &Scene) -> Vec<String> {
    let trace = scene.trace;
    let mut lines = Vec::new();
    if scene.limit < trace.events.len() {
        lines.push(format!(
            "Only the first {} of {} events are drawn (see --json for all).",
            scene.limit,
            trace.events.len()
        ));
    }
    let finals: Vec<String> = trace
        .outcome
        .final_states
        .iter()
        .take(8)
        .map(|f| format!("{} {}", f.host, f.state))
        .collect();
    if !finals.is_empty() {
        let more = trace.outcome.final_states.len().saturating_sub(8);
        let tail = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        lines.push(format!("Final states: {}{tail}", finals.join(", ")));
    }
    for figure in trace.outcome.figures.iter().take(FIGURES_MAX) {
        let value = if figure.value.fract() == 0.0 && figure.value.abs() < 1e15 {
            format!("{}", figure.value as i64)
        } else {
            format!("{:.2}", figure.value)
        };
        let unit = if figure.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", figure.unit)
        };
        lines.push(format!("{}: {value}{unit}", figure.name));
    }
    for saw in trace.outcome.app_saw.iter().take(6) {
        let conn = if saw.conn.is_empty() {
            String::new()
        } else {
            format!(" [{}]", saw.conn)
        };
        lines.push(format!("Application saw: {}{conn}", saw.text));
    }
    if let Some(line) = crate::terminal::settings_line(trace) {
        lines.push(format!("Run with {line}."));
    }
    lines.push(format!(
        "Run ended at {} (virtual time), seed {}.",
        fmt_time(trace.outcome.end_us),
        trace.seed
    ));
    lines
}

/// `<svg>` start tag, style, background, title and host headers.
pub fn open(doc: &mut Doc, scene: &Scene) {
    let height = scene.geo.bottom + 24.0 + 17.0 * footer_lines(scene).len() as f64;
    let width = scene.geo.width;
    let _ = write!(
        doc.out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" class=\"tcpwave\" \
         data-scenario=\"{s}\">\n<style>{STYLE}</style>\n",
        w = num(width),
        h = num(height),
        s = escape(&scene.trace.scenario),
    );
    doc.rect((0.0, 0.0), (width, height), 0.0, "bg");
    doc.text(16.0, 26.0, "h1", "", &scene.trace.scenario);
    let description = &scene.trace.description;
    let room = ((width - 32.0) / 6.6) as usize;
    let shown = if description.chars().count() > room {
        let cut: String = description.chars().take(room.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        description.clone()
    };
    doc.text(16.0, 46.0, "sub", "", &shown);
    for (c, column) in scene.columns.iter().enumerate() {
        let x = scene.geo.col_x[c];
        doc.raw("<g class=\"host\">\n");
        let detail = match (column.role.is_empty(), column.addr.is_empty()) {
            (false, false) => format!("{} · {}", column.role, column.addr),
            (false, true) => column.role.clone(),
            (true, false) => column.addr.clone(),
            (true, true) => String::new(),
        };
        let text_px =
            (detail.chars().count() as f64 * 6.4).max(column.name.chars().count() as f64 * 8.6);
        let w = (text_px + 24.0).clamp(184.0, scene.col_gap - 16.0);
        doc.rect((x - w / 2.0, 58.0), (w, 40.0), 6.0, "");
        doc.text(x, 75.0, "hname", "", &column.name);
        doc.text(x, 91.0, "hrole", "", &detail);
        doc.raw("</g>\n");
    }
}

/// The cut-out idle stretches: a grey band with wavy edges and the time skipped.
pub fn breaks(doc: &mut Doc, scene: &Scene) {
    let width = scene.geo.width;
    let center = if scene.columns.len() > 1 {
        (scene.geo.col_x[0] + scene.geo.col_x[1]) / 2.0
    } else {
        width / 2.0
    };
    for cut in &scene.geo.breaks {
        doc.raw("<g class=\"break\">\n");
        doc.rect(
            (0.0, cut.y_top),
            (width, cut.y_bottom - cut.y_top),
            0.0,
            "brk",
        );
        for y in [cut.y_top, cut.y_bottom] {
            let mut path = format!("M0 {}", num(y));
            let mut x = 0.0;
            let mut up = true;
            while x < width {
                x += 8.0;
                let dy = if up { -2.5 } else { 2.5 };
                path.push_str(&format!(" L{} {}", num(x), num(y + dy)));
                up = !up;
            }
            let _ = writeln!(doc.out, r#"<path d="{path}" class="brk-edge"/>"#);
        }
        let text = format!("··· {} later ···", super::human_duration(cut.skipped_us));
        doc.text(
            center,
            (cut.y_top + cut.y_bottom) / 2.0 + 4.0,
            "brk-text",
            "",
            &text,
        );
        doc.raw("</g>\n");
    }
}

/// One vertical line per host, dotted where it crosses a break.
pub fn timelines(doc: &mut Doc, scene: &Scene) {
    for &x in &scene.geo.col_x {
        let mut y = TOP_PX;
        for cut in &scene.geo.breaks {
            doc.line((x, y), (x, cut.y_top), "tl");
            doc.line((x, cut.y_top), (x, cut.y_bottom), "tl-cut");
            y = cut.y_bottom;
        }
        doc.line((x, y), (x, scene.geo.bottom), "tl");
    }
}

/// Virtual time of each instant at the left edge, skipping labels that would collide.
pub fn axis(doc: &mut Doc, scene: &Scene) {
    let mut last_y = f64::NEG_INFINITY;
    for &(y, t) in &scene.geo.instants {
        if y - last_y < 13.0 {
            continue;
        }
        doc.text(AXIS_PX, y + 3.5, "axis", "", &fmt_time(t));
        doc.line((AXIS_PX + 3.0, y), (AXIS_PX + 9.0, y), "tick");
        last_y = y;
    }
}

/// The outcome under the diagram.
pub fn footer(doc: &mut Doc, scene: &Scene) {
    let mut y = scene.geo.bottom + 20.0;
    for line in footer_lines(scene) {
        doc.text(16.0, y, "foot", "", &line);
        y += 17.0;
    }
}
