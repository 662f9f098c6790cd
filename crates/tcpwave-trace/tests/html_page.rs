//! The step-through page in a real headless chromium: opened from disk, stepped with
//! real key presses and mouse clicks, showing each connection's state at every step.

mod support;

use serde_json::Value;
use support::chromium::Browser;
use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::html::{self, expected_states};
use tcpwave_trace::svg::SvgOptions;
use tcpwave_trace::{Body, Trace};

/// Cards the page shows at most (assets/page.js CARDS_MAX).
const CARDS_MAX: usize = 60;

fn default_run(name: &str) -> Trace {
    let options = RunOptions {
        seed: 1,
        settings: Vec::new(),
    };
    scenarios::run(name, &options).unwrap_or_else(|e| panic!("scenario {name}: {e}"))
}

fn write_page(trace: &Trace) -> std::path::PathBuf {
    let file = support::out_dir().join(format!("{}.html", trace.scenario));
    std::fs::write(&file, html::render(trace, &SvgOptions::default())).expect("write page");
    file
}

/// (host, conn, state) of every connection card the page shows.
fn shown_states(browser: &mut Browser) -> Vec<(String, String, String)> {
    let value = browser.eval(
        "JSON.stringify([...document.querySelectorAll('#blocks .card')].map(c => \
         [c.dataset.host, c.dataset.conn, c.querySelector('.state').textContent]))",
    );
    let rows: Vec<Vec<String>> =
        serde_json::from_str(value.as_str().expect("a string")).expect("JSON");
    rows.into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect()
}

fn expected(trace: &Trace, step: usize) -> Vec<(String, String, String)> {
    let mut rows = expected_states(trace, step);
    rows.truncate(CARDS_MAX);
    rows
}

fn text(browser: &mut Browser, selector: &str) -> String {
    let value = browser.eval(&format!("document.querySelector({selector:?}).textContent"));
    value.as_str().unwrap_or_default().to_string()
}

fn state_of(rows: &[(String, String, String)], host: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| r.0 == host)
        .map(|r| r.2.clone())
        .collect()
}

fn assert_self_contained(browser: &Browser, name: &str) {
    let (requests, exceptions) = browser.requests_and_exceptions();
    assert!(
        exceptions.is_empty(),
        "{name}: the page threw {exceptions:?}"
    );
    let outside: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .collect();
    assert!(
        outside.is_empty(),
        "{name}: the page asked the network for {outside:?}"
    );
}

#[test]
fn lost_final_ack_page_steps_through_the_close() {
    if !support::tool_available("chromium", "lost_final_ack_page_steps_through_the_close") {
        return;
    }
    let trace = default_run("lost-final-ack");
    let file = write_page(&trace);
    let mut browser = Browser::start(1400, 1000);
    browser.open(&file);
    assert_eq!(text(&mut browser, "#step"), "before the first event");
    assert!(shown_states(&mut browser).is_empty());
    let total = trace.events.len();
    let time_wait_at = trace
        .events
        .iter()
        .position(
            |e| matches!(&e.body, Body::State(s) if e.host == "client" && s.to == "TIME_WAIT"),
        )
        .expect("the client enters TIME_WAIT");
    // Blocks (with their timers) come from the snapshot taken after the whole input that
    // moved the client to TIME_WAIT: the server's FIN+ACK also moved it through FIN_WAIT_2
    // and made it send the final ACK.
    let time_wait_shown_at = trace
        .snapshots
        .iter()
        .map(|s| s.after_event)
        .filter(|&e| e >= time_wait_at)
        .min()
        .expect("a snapshot after the client entered TIME_WAIT");
    for step in 1..=total {
        browser.press("ArrowRight");
        assert_eq!(
            text(&mut browser, "#step"),
            format!("event {step} of {total}")
        );
        let shown = shown_states(&mut browser);
        assert_eq!(
            shown,
            expected(&trace, step),
            "connection states after {step} presses of →"
        );
        let row = browser.eval("document.querySelector('#events tr.cur').dataset.ev");
        assert_eq!(
            row,
            Value::String((step - 1).to_string()),
            "table row of the current event"
        );
        let marked = browser.eval("document.querySelectorAll('#diagram .cur').length");
        assert!(
            marked.as_u64() > Some(0),
            "event {} is highlighted in the diagram",
            step - 1
        );
        if step == time_wait_shown_at + 1 {
            assert_eq!(state_of(&shown, "client"), ["TIME_WAIT"]);
            assert_eq!(state_of(&shown, "server"), ["LAST_ACK"]);
            let timers = text(&mut browser, "#blocks .card[data-host=client] .timers");
            assert!(
                timers.contains("TIME_WAIT") || timers.contains("timewait"),
                "2MSL timer shown: {timers}"
            );
            browser.screenshot(&support::out_dir().join("lost-final-ack-time-wait.png"));
        }
    }
    let last = shown_states(&mut browser);
    assert!(
        last.iter().all(|r| r.2 == "CLOSED"),
        "both sides end CLOSED: {last:?}"
    );
    // The buttons, clicked with the mouse.
    browser.click("#prev");
    browser.click("#prev");
    assert_eq!(
        text(&mut browser, "#step"),
        format!("event {} of {total}", total - 2)
    );
    browser.click("#next");
    assert_eq!(
        text(&mut browser, "#step"),
        format!("event {} of {total}", total - 1)
    );
    assert_eq!(shown_states(&mut browser), expected(&trace, total - 1));
    browser.press("ArrowLeft");
    assert_eq!(shown_states(&mut browser), expected(&trace, total - 2));
    browser.press("Home");
    assert_eq!(text(&mut browser, "#step"), "before the first event");
    browser.screenshot(&support::out_dir().join("lost-final-ack-start.png"));
    assert_self_contained(&browser, "lost-final-ack");
}

#[test]
fn every_scenario_page_works_from_disk() {
    if !support::tool_available("chromium", "every_scenario_page_works_from_disk") {
        return;
    }
    let mut browser = Browser::start(1400, 1000);
    for info in scenarios::list() {
        let trace = default_run(info.name);
        let file = write_page(&trace);
        browser.open(&file);
        let steps = trace.events.len().min(8);
        for _ in 0..steps {
            browser.press("ArrowRight");
        }
        assert_eq!(
            shown_states(&mut browser),
            expected(&trace, steps),
            "{} after {steps} steps",
            info.name
        );
        browser.press("End");
        let total = trace.events.len();
        assert_eq!(
            text(&mut browser, "#step"),
            format!("event {total} of {total}"),
            "{}",
            info.name
        );
        assert_eq!(
            shown_states(&mut browser),
            expected(&trace, total),
            "{} at the end",
            info.name
        );
        let marks = browser.eval("document.querySelectorAll('#diagram [data-ev]').length");
        assert!(
            marks.as_u64() > Some(0),
            "{}: the diagram is in the page",
            info.name
        );
        browser.screenshot(&support::out_dir().join(format!("{}-page-end.png", info.name)));
        assert_self_contained(&browser, info.name);
    }
}

#[test]
fn the_page_needs_nothing_from_outside() {
    let trace = default_run("lost-final-ack");
    let page = html::render(&trace, &SvgOptions::default());
    for outside in ["<script src", "<link", "@import", "url(", "https://"] {
        assert!(
            !page.contains(outside),
            "the page refers to something outside: {outside}"
        );
    }
    let http: Vec<&str> = page.matches("http://").collect();
    assert_eq!(http.len(), 1, "only the SVG namespace name is a URL");
    let start = page
        .find(r#"<script type="application/json" id="trace-data">"#)
        .expect("data");
    let data = &page[start..];
    let data = &data[data.find('>').unwrap() + 1..data.find("</script>").unwrap()];
    let value: Value = serde_json::from_str(data).expect("the embedded data is JSON");
    assert_eq!(
        value["events"].as_array().map(Vec::len),
        Some(trace.events.len())
    );
}
