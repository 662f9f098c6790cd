//! The `tcpwave` command: parse arguments, call the crates, print.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "tcpwave",
    version,
    about = "TCP connection lifecycle: engine, simulator, and operator tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a named scenario on the deterministic simulator and draw it.
    Scenario(cmd::scenario::ScenarioArgs),
    /// Diagnose this host's TCP connection states (CLOSE_WAIT owners, TIME_WAIT headroom).
    Doctor(cmd::doctor::DoctorArgs),
    /// Capacity arithmetic for short connections: ports, TIME_WAIT, sustainable rate.
    Plan(cmd::plan::PlanArgs),
    /// Serve HTTP/1.1, echo or discard with the engine on a TUN device.
    Serve(cmd::serve::ServeArgs),
    /// Connect with the engine on a TUN device to HOST:PORT.
    Connect(cmd::connect::ConnectArgs),
    /// Run a scenario against the real Linux kernel in a private network namespace (root).
    Live(cmd::live::LiveArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scenario(args) => cmd::scenario::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Connect(args) => cmd::connect::run(args),
        Command::Live(args) => cmd::live::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("tcpwave: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
