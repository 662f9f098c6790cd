//! `cargo run --release -p tcpwave-tun --example live -- four-way-close` (as root): the
//! same as `tcpwave live`, for use before the CLI is wired.

use tcpwave_tun::live::{run, LiveOptions, Scenario};

fn main() -> std::process::ExitCode {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "four-way-close".into());
    let Some(scenario) = Scenario::from_name(&name) else {
        eprintln!(
            "unknown scenario {name:?}; scenarios: {}",
            Scenario::names()
        );
        return std::process::ExitCode::from(2);
    };
    match run(&LiveOptions::new(scenario), &mut std::io::stdout()) {
        Ok(report) if report.passed() => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("live: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
