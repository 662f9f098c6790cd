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
    /// Keep watching this many seconds after the last step (0 to 600).
    #[arg(long, default_value_t = 2.0, value_parser = watch_seconds)]
    watch_s: f64,
    /// The engine's tcp_fin_timeout in seconds, 1 to 600 (Linux: 60; shortened so the run
    /// ends).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    fin_timeout_s: u64,
    /// Connections for close-wait-leak, 1 to 1000.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    connections: u64,
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
    opts.watch = Duration::from_secs_f64(args.watch_s);
    opts.fin_timeout = Duration::from_secs(args.fin_timeout_s);
    opts.connections = args.connections as usize;
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

/// `--watch-s`: seconds from 0 to 600, refused (not clamped) otherwise.
fn watch_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| {
        format!("give a number of seconds from 0 to 600, e.g. 2 or 0.5 (got {text:?})")
    })?;
    if !(0.0..=600.0).contains(&seconds) {
        return Err(format!(
            "the watch time is in seconds, from 0 to 600 (got {text})"
        ));
    }
    Ok(seconds)
}
