//! Output to a reader that goes away (`tcpwave ... | head`) or to a full disk: a closed
//! pipe ends the command quietly with success, as Unix tools do; a write error is reported
//! as one, saying it was writing to standard output. Never a panic.

use std::fs::OpenOptions;
use std::process::{Command, Stdio};

const TCPWAVE: &str = env!("CARGO_BIN_EXE_tcpwave");

/// Every subcommand that prints without needing root or a device.
const COMMANDS: &[&[&str]] = &[
    &["scenario", "--list"],
    &["scenario", "close-wait-leak", "--json"],
    &["scenario", "four-way-close"],
    &["plan", "--rate", "600"],
    &["plan", "--rate", "600", "--json"],
    &["doctor", "--source", "proc"],
    &["doctor", "--source", "proc", "--json"],
    &[
        "doctor", "--source", "proc", "--watch", "0.1", "--count", "2",
    ],
];

/// Exit statuses a command may end with when its output was fine: plan and doctor report
/// what they found with 1.
fn expected_codes(args: &[&str]) -> &'static [i32] {
    match args[0] {
        "scenario" => &[0],
        _ => &[0, 1],
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    for args in COMMANDS {
        let mut child = Command::new(TCPWAVE)
            .args(*args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tcpwave");
        // Close the reading end before anything is read: the first write gets EPIPE.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait for tcpwave");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        let code = output.status.code().expect("exited, not killed");
        assert!(expected_codes(args).contains(&code), "{args:?}: {code}");
    }
}

#[test]
fn a_full_disk_is_an_error_that_names_standard_output() {
    for args in COMMANDS {
        let full = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let output = Command::new(TCPWAVE)
            .args(*args)
            .env("NO_COLOR", "1")
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .expect("run tcpwave");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write the output to standard output"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("No space left on device"),
            "{args:?}: {stderr}"
        );
    }
}
