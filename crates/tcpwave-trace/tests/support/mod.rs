//! Shared by the renderer tests: hand-written traces, the scenario list, output folders,
//! and the policy for tests that need tools from outside (chromium, tshark).

#![allow(dead_code)]

pub mod chromium;
pub mod fixtures;
pub mod script;

use std::path::PathBuf;

/// Where tests leave files for humans to look at (pictures, pages, captures, screenshots):
/// `<target>/tcpwave-pictures/`.
pub fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("tcpwave-pictures"))
        .unwrap_or_else(|| PathBuf::from("target/tcpwave-pictures"));
    std::fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

/// Decides what a test does when an outside tool is missing: with
/// TCPWAVE_REQUIRE_PRIVILEGED=1 (CI) it fails, otherwise it says SKIPPED loudly and the
/// test returns. Returns true when the tool is there.
pub fn tool_available(tool: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("TCPWAVE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test}: `{tool}` is not installed and TCPWAVE_REQUIRE_PRIVILEGED=1; install it (scripts/test does, as root)");
    }
    eprintln!(
        "\n*** SKIPPED {test}: `{tool}` is not installed (scripts/test installs it as root) ***\n"
    );
    false
}
