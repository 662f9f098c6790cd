//! `tcpwave live SCENARIO`: the engine against the real Linux kernel in a private network
//! namespace; both sides' states over time; the namespace is deleted afterwards (also on
//! Ctrl-C or error). Needs root.

use std::time::Duration;

use tcpwave_tun::live::{LiveOptions, Scenario};
use tcpwave_tun::TunError;

#[derive(clap::Args)]
pub struct LiveArgs {
    /// four-way-close, four-way-close-kernel-first, close-wait-leak, abortive-close,
    /// port-closed.
    #[arg(value_name = "SCENARIO")]
    scenario: String,
    /// Keep watching this many seconds after the last step.
    #[arg(long, default_value_t = 2.0)]
    watch_s: f64,
    /// The engine's tcp_fin_timeout in seconds (Linux: 60; shortened so the run ends).
    #[arg(long, default_value_t = 5)]
    fin_timeout_s: u64,
    /// Connections for close-wait-leak.
    #[arg(long, default_value_t = 3)]
    connections: usize,
    /// Print state changes only, not every segment.
    #[arg(long)]
    no_segments: bool,
    /// Set an engine knob, NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    knobs: Vec<String>,
}

pub fn run(args: LiveArgs) -> anyhow::Result<u8> {
    let Some(scenario) = Scenario::from_name(&args.scenario) else {
        anyhow::bail!(
            "unknown scenario `{}`; live scenarios: {}",
            args.scenario,
            Scenario::names()
        );
    };
    let mut opts = LiveOptions::new(scenario);
    opts.watch = Duration::from_secs_f64(args.watch_s.clamp(0.0, 600.0));
    opts.fin_timeout = Duration::from_secs(args.fin_timeout_s.clamp(1, 600));
    opts.connections = args.connections;
    opts.segments = !args.no_segments;
    opts.knobs = args.knobs;
    match tcpwave_tun::live::run(&opts, &mut std::io::stdout()) {
        Ok(report) if report.passed() => Ok(0),
        Ok(_) => {
            eprintln!("tcpwave live: some checks failed (see above)");
            Ok(1)
        }
        Err(TunError::Interrupted) => {
            eprintln!("tcpwave live: interrupted; the namespace was deleted");
            Ok(130)
        }
        Err(e) => Err(e.into()),
    }
}
