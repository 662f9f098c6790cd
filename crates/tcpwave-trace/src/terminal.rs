//! The terminal sequence diagram the articles draw: one column per host, an arrow
//! per segment (flags, seq/ack, length, window), a lost segment drawn once, at its send,
//! ending in ✗ half-way with why it was lost (as the SVG draws it), every state
//! change in its host's column at its time, and at the end what each side ended in
//! and what the applications saw. Colour only when asked (a terminal).

use std::fmt::Write as _;

use crate::model::{fmt_time, Body, Segment, Trace};

/// How to draw.
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminalOptions {
    /// ANSI colours (use when stdout is a terminal).
    pub color: bool,
    /// Absolute sequence numbers instead of relative ones.
    pub absolute: bool,
    /// Show segment options (MSS, window scale, SACK, timestamps).
    pub options: bool,
}

const TIME_WIDTH: usize = 10;
/// A pause longer than this gets its own "time passes" line.
const GAP_US: u64 = 1_000_000;

struct Palette {
    color: bool,
}

impl Palette {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn for_flags(&self, flags: &str, text: &str) -> String {
        let code = if flags.contains('R') {
            "1;31"
        } else if flags.contains('S') {
            "1;32"
        } else if flags.contains('F') {
            "1;33"
        } else if flags.contains('P') {
            "36"
        } else {
            "0"
        };
        self.paint(code, text)
    }
}

/// "SYN+ACK", "FIN+ACK", "PSH+ACK", "RST" from flag letters.
pub fn flag_names(letters: &str) -> String {
    letters
        .chars()
        .map(|c| match c {
            'S' => "SYN",
            'F' => "FIN",
            'R' => "RST",
            'P' => "PSH",
            'A' => "ACK",
            'U' => "URG",
            'E' => "ECE",
            'C' => "CWR",
            _ => "?",
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// The label of a segment: "FIN+ACK seq=19 ack=27 win=1024" (+ "len=N" with data).
pub fn segment_label(s: &Segment, absolute: bool) -> String {
    let (seq, ack) = if absolute {
        (s.seq, s.ack)
    } else {
        (s.rel_seq, s.rel_ack)
    };
    let mut label = format!("{} seq={seq}", flag_names(&s.flags));
    if s.flags.contains('A') {
        let _ = write!(label, " ack={ack}");
    }
    if s.len > 0 {
        let _ = write!(label, " len={}", s.len);
    }
    let _ = write!(label, " win={}", s.win);
    label
}

/// Render the whole trace as text.
pub fn render(trace: &Trace, opts: &TerminalOptions) -> String {
    let pal = Palette { color: opts.color };
    let n = trace.hosts.len().max(1);
    let col = if n <= 2 {
        44
    } else if n == 3 {
        34
    } else {
        28
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {}",
        pal.paint("1", &trace.scenario),
        trace.description
    );
    if let Some(line) = settings_line(trace) {
        let _ = writeln!(out, "{}", pal.paint("2", &line));
    }
    let mut header = format!("{:>TIME_WIDTH$} ", "time");
    for h in &trace.hosts {
        let title = format!("{} {}", h.name, h.addr);
        header.push_str(&format!("{:<col$}", center(&title, col)));
    }
    let _ = writeln!(out, "{}", pal.paint("1", header.trim_end()));
    let _ = writeln!(out, "{}", "─".repeat(TIME_WIDTH + 1 + col * n));
    let index_of = |name: &str| trace.hosts.iter().position(|h| h.name == name);
    let host_of_addr = |addr: &str| {
        let ip = addr.split(':').next().unwrap_or("");
        trace.hosts.iter().position(|h| h.addr == ip)
    };
    // A lost segment is drawn once, at its send, ending in ✗ (as in the SVG); its drop
    // event adds no line of its own.
    let lost = crate::svg::lost_sends(trace);
    let shown_at_send: std::collections::HashSet<usize> = lost.values().copied().collect();
    let late = late_receipts(trace);
    let mut last_t = 0u64;
    for (index, e) in trace.events.iter().enumerate() {
        if e.t_us > last_t + GAP_US {
            let gap = format!(
                "⋮  {} pass",
                fmt_time(e.t_us - last_t).trim_end_matches('s').to_string() + " s"
            );
            let _ = writeln!(out, "{:>TIME_WIDTH$} {}", "", pal.paint("2", &gap));
        }
        last_t = e.t_us;
        // Receipts are drawn by their send's arrow, lost segments at their send; a
        // receipt held up in the network gets a line of its own where it lands.
        if shown_at_send.contains(&index) {
            continue;
        }
        if let Body::Recv(s) = &e.body {
            let Some(sent_us) = late.get(&index) else {
                continue;
            };
            let Some(h) = index_of(&e.host) else { continue };
            let text = format!(
                "⤷ {} arrives, sent at {} (held up in the network)",
                segment_label(s, opts.absolute),
                fmt_time(*sent_us)
            );
            let line = format!(
                "{}{}",
                " ".repeat(col * h + 1),
                pal.for_flags(&s.flags, &text)
            );
            let _ = writeln!(out, "{:>TIME_WIDTH$} {line}", fmt_time(e.t_us));
            continue;
        }
        let Some(h) = index_of(&e.host) else { continue };
        let time = fmt_time(e.t_us);
        let line = match &e.body {
            Body::Send(s) => {
                let to = host_of_addr(&s.dst).unwrap_or(h);
                let label = segment_label(s, opts.absolute);
                let drop_reason = lost.get(&index).map(|&d| match &trace.events[d].body {
                    Body::Drop(dropped) => dropped.reason.as_deref().unwrap_or("lost"),
                    _ => "lost",
                });
                let mut text = match drop_reason {
                    Some(reason) => {
                        let label = format!("{label} — {reason}");
                        pal.paint("1;31", &arrow_line(h, to, col, n, &label, true))
                    }
                    None => pal.for_flags(&s.flags, &arrow_line(h, to, col, n, &label, false)),
                };
                if let Some(note) = &s.note {
                    let _ = write!(
                        text,
                        "\n{:>TIME_WIDTH$} {}",
                        "",
                        pal.paint("2", &format!("{}({note})", " ".repeat(col * h.min(to) + 2)))
                    );
                }
                if opts.options && !s.options.is_empty() {
                    let _ = write!(
                        text,
                        "\n{:>TIME_WIDTH$} {}",
                        "",
                        pal.paint(
                            "2",
                            &format!("{}<{}>", " ".repeat(col * h.min(to) + 2), s.options)
                        )
                    );
                }
                text
            }
            Body::Drop(s) => {
                let from = host_of_addr(&s.src).unwrap_or(h);
                let to = host_of_addr(&s.dst).unwrap_or(h);
                let reason = s.reason.clone().unwrap_or_else(|| "lost".into());
                let label = format!("{} — {}", segment_label(s, opts.absolute), reason);
                pal.paint("1;31", &arrow_line(from, to, col, n, &label, true))
            }
            Body::Recv(_) => continue,
            Body::State(s) => {
                let text = format!("{} → {}", s.from, s.to);
                let shown = format!(
                    "{}{}",
                    " ".repeat(col * h + 1),
                    pal.paint("1;35", &format!("[{text}]"))
                );
                format!("{shown}  {}", pal.paint("2", &format!("({})", s.reason)))
            }
            Body::App(note) => format!(
                "{}{}",
                " ".repeat(col * h + 1),
                pal.paint("34", &format!("▸ {}", note.text))
            ),
            Body::Timer(note) => format!(
                "{}{}",
                " ".repeat(col * h + 1),
                pal.paint("33", &format!("⏲ {}", note.text))
            ),
        };
        let _ = writeln!(out, "{time:>TIME_WIDTH$} {line}");
    }
    render_outcome(&mut out, trace, &pal);
    out
}

fn center(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let left = (width - len) / 2;
    format!("{}{}", " ".repeat(left), text)
}

/// An arrow from column `from` to column `to` with the label written on it.
fn arrow_line(from: usize, to: usize, col: usize, n: usize, label: &str, lost: bool) -> String {
    let mid = |i: usize| col * i + col / 2;
    let (a, b) = (mid(from.min(to)), mid(from.max(to)));
    let width = col * n;
    let mut cells: Vec<char> = vec![' '; width.max(b + 1)];
    if a == b {
        return format!("{}⟲ {label}", " ".repeat(a));
    }
    for c in cells.iter_mut().take(b + 1).skip(a) {
        *c = '─';
    }
    if lost {
        let stop = (a + b) / 2;
        let range = if from < to {
            stop + 1..=b
        } else {
            a..=stop.saturating_sub(1)
        };
        for i in range {
            cells[i] = ' ';
        }
        cells[stop] = '✗';
    } else if from < to {
        cells[b] = '▶';
    } else {
        cells[a] = '◀';
    }
    let label: Vec<char> = format!(" {label} ").chars().collect();
    let start = if lost {
        // Beside the cross, in the half the segment never crossed: the label must not
        // hide the ✗.
        let stop = (a + b) / 2;
        if from < to {
            (b - stop >= label.len()).then_some(stop + 1)
        } else {
            (stop - a >= label.len()).then(|| stop - label.len())
        }
    } else {
        let span = b - a;
        (label.len() + 2 <= span).then(|| a + (span - label.len()) / 2)
    };
    match start {
        Some(start) => {
            for (i, ch) in label.iter().enumerate() {
                cells[start + i] = *ch;
            }
            cells.iter().collect::<String>().trim_end().to_string()
        }
        // Too long for the room on the arrow: after it when nothing lies beyond (the arrow
        // reaches the last lane, or a lost segment's label goes on into the half it never
        // crossed); otherwise (three hosts or more) on its own line above, centred on the
        // arrow: written after it, it would run into the next host's lane and read as that
        // host's segment.
        None if b == mid(n - 1) || (lost && from < to) => format!(
            "{} {}",
            cells.iter().collect::<String>().trim_end(),
            label.iter().collect::<String>().trim()
        ),
        None => {
            let label = label.iter().collect::<String>();
            let label = label.trim();
            let centre = (a + b) / 2;
            let start = centre.saturating_sub(label.chars().count() / 2);
            format!(
                "{}{label}\n{}{}",
                " ".repeat(start),
                " ".repeat(TIME_WIDTH + 1),
                cells.iter().collect::<String>().trim_end()
            )
        }
    }
}

/// The `--set` settings of the run, as the command line gave them, for a line under the
/// description (which states the linux profile's values); `None` without settings.
pub fn settings_line(trace: &Trace) -> Option<String> {
    if trace.settings.is_empty() {
        return None;
    }
    Some(format!(
        "settings: --set {} (every host; they win over values the description states)",
        trace.settings.join(" --set ")
    ))
}

/// Receipts that took far longer than the run's usual transit (a segment a rule held
/// up, an old duplicate): index of the `recv` event -> when it was sent. Their effects
/// at the receiver would otherwise appear with no visible cause.
pub fn late_receipts(trace: &Trace) -> std::collections::HashMap<usize, u64> {
    let mut sent_at = std::collections::HashMap::new();
    let mut transits = Vec::new();
    for (index, e) in trace.events.iter().enumerate() {
        match &e.body {
            Body::Send(s) => {
                sent_at.insert(s.id, e.t_us);
            }
            Body::Recv(s) => {
                if let Some(&t) = sent_at.get(&s.id) {
                    transits.push((index, t, e.t_us.saturating_sub(t)));
                }
            }
            _ => {}
        }
    }
    let mut sorted: Vec<u64> = transits.iter().map(|&(_, _, d)| d).collect();
    sorted.sort_unstable();
    let Some(&median) = sorted.get(sorted.len() / 2) else {
        return std::collections::HashMap::new();
    };
    let threshold = (median * LATE_TRANSIT_FACTOR).max(LATE_TRANSIT_MIN_US);
    transits
        .into_iter()
        .filter(|&(_, _, d)| d > threshold)
        .map(|(index, t, _)| (index, t))
        .collect()
}

/// A receipt is late when its transit is above this many times the median transit...
const LATE_TRANSIT_FACTOR: u64 = 4;
/// ...and above this (jitter of a few milliseconds is not worth a line).
const LATE_TRANSIT_MIN_US: u64 = 100_000;

fn render_outcome(out: &mut String, trace: &Trace, pal: &Palette) {
    let o = &trace.outcome;
    let _ = writeln!(
        out,
        "\n{} (at {})",
        pal.paint("1", "Final states"),
        fmt_time(o.end_us)
    );
    for f in &o.final_states {
        let _ = writeln!(out, "  {:<10} {:<44} {}", f.host, f.conn, f.state);
    }
    if !o.app_saw.is_empty() {
        let _ = writeln!(out, "{}", pal.paint("1", "What the applications saw"));
        for saw in &o.app_saw {
            let _ = match saw.conn.as_str() {
                "" => writeln!(out, "  {}: {}", saw.host, saw.text),
                conn => writeln!(out, "  {}: {} — {}", saw.host, conn, saw.text),
            };
        }
    }
    if !o.figures.is_empty() {
        let _ = writeln!(out, "{}", pal.paint("1", "Figures"));
        for f in &o.figures {
            let _ = writeln!(out, "  {:<44} {} {}", f.name, trim_float(f.value), f.unit);
        }
    }
    let _ = writeln!(out, "{}", pal.paint("1", "Counters"));
    for h in &o.counters {
        let list: Vec<String> = h.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  {:<10} {}", h.host, list.join(" "));
    }
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column of `needle` in `line`, counted in characters.
    fn column(line: &str, needle: char) -> Option<usize> {
        line.chars().position(|c| c == needle)
    }

    #[test]
    fn a_label_that_fits_is_written_on_the_arrow() {
        let line = arrow_line(0, 1, 44, 2, "SYN seq=0 win=64240", false);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(column(&line, '▶'), Some(44 + 22), "{line}");
        assert!(line.contains(" SYN seq=0 win=64240 "), "{line}");
    }

    #[test]
    fn a_label_too_long_for_the_lanes_goes_above_the_arrow_not_into_the_next_lane() {
        // Four hosts, 28 columns a lane: a SYN-ACK from the second host to the first.
        let label = "SYN+ACK seq=0 ack=1 win=65160";
        let text = arrow_line(1, 0, 28, 4, label, false);
        let (above, arrow) = text.split_once('\n').expect("two lines");
        assert_eq!(above.trim(), label);
        let label_start = above.len() - above.trim_start().len();
        assert_eq!(
            label_start,
            28 - label.len() / 2,
            "centred on the arrow: {above:?}"
        );
        let arrow = &arrow[TIME_WIDTH + 1..];
        assert_eq!(column(arrow, '◀'), Some(14), "{arrow}");
        // The arrow ends at the sender's lane and nothing is written beyond it.
        assert_eq!(arrow.chars().count(), 28 + 14 + 1, "{arrow:?}");
    }

    #[test]
    fn a_label_too_long_goes_after_an_arrow_that_reaches_the_last_lane() {
        // Two hosts: nothing lies to the right of the arrow.
        let label = "PSH+ACK seq=1 ack=1 len=1448 win=502 and a long tail";
        let line = arrow_line(1, 0, 44, 2, label, false);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.ends_with(&format!("─ {label}")), "{line}");
        // A lost segment's label goes on into the half it never crossed.
        let line = arrow_line(0, 1, 28, 4, "SYN seq=0 win=64240 — lost", true);
        assert!(line.contains("✗ SYN seq=0 win=64240 — lost"), "{line}");
    }

    #[test]
    fn a_lost_segment_sent_left_in_narrow_lanes_gets_its_label_above_and_keeps_its_cross() {
        let text = arrow_line(2, 1, 28, 4, "SYN+ACK seq=0 ack=1 win=65160 — lost", true);
        let (above, arrow) = text.split_once('\n').expect("two lines");
        assert_eq!(above.trim(), "SYN+ACK seq=0 ack=1 win=65160 — lost");
        assert_eq!(column(&arrow[TIME_WIDTH + 1..], '✗'), Some((42 + 70) / 2));
    }
}
