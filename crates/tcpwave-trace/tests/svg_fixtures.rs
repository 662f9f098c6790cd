//! The SVG diagram of hand-written traces: valid XML, every state change and every
//! segment label present, breaks and brackets where they belong.

mod support;

use support::fixtures;
use tcpwave_trace::svg::{self, segment_label, SvgOptions};
use tcpwave_trace::{Body, Trace};

fn render_and_save(trace: &Trace, name: &str) -> String {
    let text = svg::render(trace, &SvgOptions::default());
    std::fs::write(support::out_dir().join(format!("{name}.svg")), &text).expect("write");
    text
}

/// All text of the document's <text> elements.
fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
        })
        .collect()
}

fn check_complete(trace: &Trace, svg_text: &str) {
    let doc = roxmltree::Document::parse(svg_text).expect("the SVG is well-formed XML");
    let texts = texts(&doc);
    for (i, event) in trace.events.iter().enumerate() {
        match &event.body {
            Body::State(c) => assert!(
                texts.iter().any(|t| t.starts_with(&c.to)),
                "state change {i} ({} -> {} at {}) is not written",
                c.from,
                c.to,
                event.host
            ),
            Body::Send(s) => {
                let label = segment_label(s, false);
                assert!(
                    texts.iter().any(|t| t == &label),
                    "segment label {label:?} (event {i}) missing"
                );
            }
            _ => {}
        }
    }
    assert!(!svg_text.contains("href"), "no external references");
}

#[test]
fn lost_final_ack_is_complete_and_marks_the_loss() {
    let trace = fixtures::lost_final_ack();
    let text = render_and_save(&trace, "fixture-lost-final-ack");
    check_complete(&trace, &text);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts = texts(&doc);
    assert!(
        texts.iter().any(|t| t.contains("retransmission")),
        "retransmitted FIN is marked"
    );
    let has = |s: &str| texts.iter().any(|t| t == s);
    assert!(has("RTO") && has("210 ms"), "RTO bracket: {texts:?}");
    assert!(
        has("2·MSL") && has("60 s"),
        "2MSL bracket after the restart: {texts:?}"
    );
    assert!(has("restarted after 210 ms"), "2MSL restart marked");
    assert!(
        texts.iter().any(|t| t.contains("later")),
        "the 60 s TIME_WAIT is cut out"
    );
    assert!(
        text.contains("class=\"cross\""),
        "the lost ACK ends in a cross"
    );
}

#[test]
fn three_hosts_get_three_timelines() {
    let trace = fixtures::three_hosts();
    let text = render_and_save(&trace, "fixture-three-hosts");
    check_complete(&trace, &text);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let timelines: std::collections::BTreeSet<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("line") && n.attribute("class") == Some("tl"))
        .map(|n| n.attribute("x1").unwrap().to_string())
        .collect();
    assert_eq!(timelines.len(), 3, "one timeline per host");
}

#[test]
fn keepalive_idle_is_compressed() {
    let trace = fixtures::keepalive_dead_peer();
    let text = render_and_save(&trace, "fixture-keepalive");
    check_complete(&trace, &text);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let height: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        height < 2500.0,
        "2 h 11 min of idle and probes fit in {height} px"
    );
    let texts = texts(&doc);
    let has = |s: &str| texts.iter().any(|t| t == s);
    assert!(has("keepalive idle") && has("2 h"), "{texts:?}");
    assert!(has("keepalive intvl") && has("75 s"));
    assert_eq!(texts.iter().filter(|t| *t == "keepalive probe").count(), 9);
}

#[test]
fn window_is_shown_when_asked() {
    let trace = fixtures::lost_final_ack();
    let options = SvgOptions {
        show_window: true,
        ..SvgOptions::default()
    };
    let text = svg::render(&trace, &options);
    assert!(text.contains("win=502"));
    let capped = svg::render(
        &trace,
        &SvgOptions {
            max_events: 5,
            ..SvgOptions::default()
        },
    );
    roxmltree::Document::parse(&capped).expect("a capped picture is valid too");
    assert!(capped.contains("Only the first 5 of"));
}
