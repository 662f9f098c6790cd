//! `tcpwave scenario`: run a named scenario on the simulator and draw it.

use std::io::IsTerminal;

use anyhow::{bail, Context};
use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::terminal::{self, TerminalOptions};

#[derive(clap::Args)]
pub struct ScenarioArgs {
    /// Scenario name (see --list).
    name: Option<String>,
    /// List the scenarios with a one-line description.
    #[arg(long)]
    list: bool,
    /// Seed for every random choice of the run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Change a config knob for every host, e.g. --set msl_ms=0 --set tcp_fin_timeout_s=5.
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    set: Vec<String>,
    /// Print the trace as one JSON object instead of the diagram.
    #[arg(long)]
    json: bool,
    /// Absolute sequence numbers instead of relative ones.
    #[arg(long)]
    absolute: bool,
    /// Show TCP options (MSS, window scale, SACK, timestamps) under each segment.
    #[arg(long)]
    options: bool,
}

pub fn run(args: ScenarioArgs) -> anyhow::Result<u8> {
    if args.list {
        for s in scenarios::list() {
            println!("{:<26} {}", s.name, s.summary);
        }
        return Ok(0);
    }
    let Some(name) = args.name.as_deref() else {
        bail!("name a scenario (e.g. `tcpwave scenario four-way-close`), or use --list to see them all");
    };
    let opts = RunOptions {
        seed: args.seed,
        settings: args.set.clone(),
    };
    let trace = scenarios::run(name, &opts)?;
    if args.json {
        let text = serde_json::to_string_pretty(&trace).context("serializing the trace")?;
        println!("{text}");
        return Ok(0);
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let view = TerminalOptions {
        color,
        absolute: args.absolute,
        options: args.options,
    };
    print!("{}", terminal::render(&trace, &view));
    Ok(0)
}
