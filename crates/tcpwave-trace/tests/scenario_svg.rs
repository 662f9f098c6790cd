//! Every scenario's diagram: well-formed XML, self-contained, with each state change
//! and each segment label of the run.

mod support;

use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::svg::{self, segment_label, SvgOptions};
use tcpwave_trace::{Body, Trace};

/// The options `tcpwave scenario NAME` runs with by default (seed 1, no settings).
pub fn default_run(name: &str) -> Trace {
    let options = RunOptions {
        seed: 1,
        settings: Vec::new(),
    };
    scenarios::run(name, &options).unwrap_or_else(|e| panic!("scenario {name}: {e}"))
}

/// The text of every <text> element.
fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect()
        })
        .collect()
}

#[test]
fn every_scenario_draws_every_state_change_and_segment() {
    for info in scenarios::list() {
        let trace = default_run(info.name);
        let options = SvgOptions::default();
        let text = svg::render(&trace, &options);
        std::fs::write(support::out_dir().join(format!("{}.svg", info.name)), &text).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{}: the SVG is not well-formed XML: {e}", info.name));
        assert!(
            !text.contains("href") && !text.contains("<script"),
            "{}: self-contained",
            info.name
        );
        let texts = texts(&doc);
        let drawn = trace.events.len().min(options.max_events);
        for (i, event) in trace.events.iter().enumerate().take(drawn) {
            match &event.body {
                Body::State(c) => assert!(
                    texts.iter().any(|t| t.starts_with(&c.to)),
                    "{}: state change {i} ({} {} -> {}) not written",
                    info.name,
                    event.host,
                    c.from,
                    c.to
                ),
                Body::Send(s) => {
                    let label = segment_label(s, false);
                    assert!(
                        texts.contains(&label),
                        "{}: label {label:?} of event {i} missing",
                        info.name
                    );
                }
                _ => {}
            }
        }
    }
}
