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
    /// The engine's tcp_fin_timeout in seconds, 1 to 600 (default 5; Linux: 60; shortened
    /// so the run ends). The same as --set tcp_fin_timeout_s=N, as serve and connect spell it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=600))]
    fin_timeout_s: Option<u64>,
    /// Connections for close-wait-leak, 1 to 1000.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    connections: u64,
    /// Print state changes only, not every segment.
    #[arg(long, overrides_with = "segments")]
    no_segments: bool,
    /// Print every segment (the default here; serve and connect print them only with it).
    #[arg(long, overrides_with = "no_segments")]
    segments: bool,
    /// Set an engine knob, NAME=VALUE (repeatable; e.g. tcp_fin_timeout_s=5).
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
    let fin_knob = args.knobs.iter().any(|k| {
        k.split_once('=')
            .is_some_and(|(name, _)| name.trim() == "tcp_fin_timeout_s")
    });
    if fin_knob && args.fin_timeout_s.is_some() {
        anyhow::bail!(
            "--fin-timeout-s and --set tcp_fin_timeout_s=N set the same knob: give it once"
        );
    }
    let mut opts = LiveOptions::new(scenario);
    opts.watch = Duration::from_secs_f64(args.watch_s);
    if let Some(seconds) = args.fin_timeout_s {
        opts.fin_timeout = Duration::from_secs(seconds);
    }
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
