//! docs/scenarios.md shows every scenario, and each committed picture in docs/scenarios/
//! is exactly what the simulator draws now (seed 1, no settings: what
//! scripts/gen-scenario-docs writes with `tcpwave scenario NAME --svg FILE`).

use std::path::PathBuf;

use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::svg::{self, SvgOptions};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

const FIX: &str = "run scripts/gen-scenario-docs and commit docs/scenarios/";

#[test]
fn committed_pictures_are_fresh() {
    let mut stale = Vec::new();
    for info in scenarios::list() {
        let options = RunOptions {
            seed: 1,
            settings: Vec::new(),
        };
        let trace =
            scenarios::run(info.name, &options).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let drawn = svg::render(&trace, &SvgOptions::default());
        let file = docs().join("scenarios").join(format!("{}.svg", info.name));
        match std::fs::read_to_string(&file) {
            Ok(committed) if committed == drawn => {}
            Ok(_) => stale.push(format!("{} (differs)", info.name)),
            Err(_) => stale.push(format!("{} (missing)", info.name)),
        }
    }
    assert!(
        stale.is_empty(),
        "stale pictures in docs/scenarios/: {}; {FIX}",
        stale.join(", ")
    );
    let names: Vec<&str> = scenarios::list().iter().map(|s| s.name).collect();
    for entry in std::fs::read_dir(docs().join("scenarios")).expect("docs/scenarios/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        let scenario = name.strip_suffix(".svg").unwrap_or(&name);
        assert!(
            names.contains(&scenario),
            "docs/scenarios/{name} is no scenario's picture; {FIX}"
        );
    }
}

#[test]
fn every_scenario_is_explained_with_its_picture() {
    let page = std::fs::read_to_string(docs().join("scenarios.md")).expect("docs/scenarios.md");
    for info in scenarios::list() {
        let heading = format!("\n## {}\n", info.name);
        let picture = format!("](scenarios/{}.svg)", info.name);
        let at = page.find(&heading).unwrap_or_else(|| {
            panic!(
                "docs/scenarios.md has no section `## {}`: add a paragraph for it",
                info.name
            )
        });
        let section_end = page[at + heading.len()..]
            .find("\n## ")
            .map_or(page.len(), |e| at + heading.len() + e);
        let section = &page[at..section_end];
        assert!(
            section.contains(&picture),
            "the section of {} does not show scenarios/{}.svg",
            info.name,
            info.name
        );
        let words = section.split_whitespace().count();
        assert!(
            words > 40,
            "the section of {} is {words} words: explain it in a paragraph",
            info.name
        );
    }
}

/// The state-change reasons docs/trace-format.md's table lists are exactly those the
/// scenarios emit (seed 1, no settings).
#[test]
fn the_documented_state_reasons_are_the_emitted_ones() {
    let text = std::fs::read_to_string(docs().join("trace-format.md")).expect("trace-format.md");
    let start = text.find("| `reason` | when |").expect("the reasons table");
    let table: Vec<&str> = text[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let mut documented = std::collections::BTreeSet::new();
    for row in table {
        let first = row.split('|').nth(1).unwrap_or("");
        for name in first.split('`').skip(1).step_by(2) {
            documented.insert(name.to_string());
        }
    }
    let mut emitted = std::collections::BTreeSet::new();
    for info in scenarios::list() {
        let options = RunOptions {
            seed: 1,
            settings: Vec::new(),
        };
        let trace = scenarios::run(info.name, &options).unwrap();
        for e in &trace.events {
            if let tcpwave_trace::Body::State(s) = &e.body {
                emitted.insert(s.reason.clone());
            }
        }
    }
    assert_eq!(documented, emitted, "docs/trace-format.md's reasons table");
}
