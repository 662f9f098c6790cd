//! `tcpwave scenario`: run a named scenario on the simulator and draw it.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::terminal::{self, TerminalOptions};
use tcpwave_trace::{html, pcap, svg, Trace};

use super::output;

#[derive(clap::Args)]
pub struct ScenarioArgs {
    /// Scenario name (see --list).
    name: Option<String>,
    /// List the scenarios with a one-line description (with --json, as JSON).
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
    /// Also write a self-contained SVG sequence diagram to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Also write a self-contained step-through HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Also write a pcap capture (Wireshark, tshark) to FILE.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Where the capture is taken: a host's name, or `wire` (the default) for every
    /// segment sent. Needs --pcap.
    #[arg(long, value_name = "HOST|wire")]
    pcap_at: Option<String>,
    /// Write each segment's window in the SVG and HTML labels.
    #[arg(long)]
    window: bool,
}

pub fn run(args: ScenarioArgs) -> anyhow::Result<u8> {
    if args.list {
        output::to_stdout(|out| {
            if args.json {
                let list: Vec<ListedScenario> = scenarios::list()
                    .iter()
                    .map(|s| ListedScenario {
                        name: s.name,
                        description: s.summary,
                        source: s.source,
                    })
                    .collect();
                return output::json(out, &list);
            }
            for s in scenarios::list() {
                writeln!(out, "{:<26} {}", s.name, s.summary)?;
            }
            Ok(())
        })?;
        return Ok(0);
    }
    let Some(name) = args.name.as_deref() else {
        bail!("name a scenario (e.g. `tcpwave scenario four-way-close`), or use --list to see them all");
    };
    let name = check_name(name)?;
    if args.pcap_at.is_some() && args.pcap.is_none() {
        bail!("--pcap-at needs --pcap FILE: it says where the capture written to FILE is taken (e.g. --pcap run.pcap --pcap-at client)");
    }
    let opts = RunOptions {
        seed: args.seed,
        settings: check_settings(&args.set)?,
    };
    let trace = scenarios::run(name, &opts)?;
    write_files(&trace, &args)?;
    if args.json {
        output::to_stdout(|out| output::json(out, &trace))?;
        return Ok(0);
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let view = TerminalOptions {
        color,
        absolute: args.absolute,
        options: args.options,
    };
    let diagram = terminal::render(&trace, &view);
    output::to_stdout(|out| out.write_all(diagram.as_bytes()))?;
    Ok(0)
}

/// One scenario of `--list --json`.
#[derive(serde::Serialize)]
struct ListedScenario {
    name: &'static str,
    description: &'static str,
    /// Which source articles (shared/seeds) or RFCs describe it.
    source: &'static str,
}

/// The scenario a name means: names are matched case-insensitively. An empty or unknown
/// name gets the list of scenarios, and a near miss (a typo, `_` for `-`, the start of a
/// name) the name it was probably meant to be.
fn check_name(name: &str) -> anyhow::Result<&'static str> {
    let known = scenarios::list();
    if let Some(s) = known
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
    {
        return Ok(s.name);
    }
    let names: Vec<&str> = known.iter().map(|s| s.name).collect();
    let lower = name.trim().to_ascii_lowercase().replace('_', "-");
    let all = format!(
        "scenarios: {} (see `tcpwave scenario --list`)",
        names.join(", ")
    );
    if name.trim().is_empty() {
        bail!("the scenario name is empty; {all}");
    }
    let starting: Vec<&str> = names
        .iter()
        .copied()
        .filter(|candidate| candidate.starts_with(&lower))
        .collect();
    match starting.as_slice() {
        [] => {}
        [one] => bail!("unknown scenario `{name}`: did you mean `{one}`? {all}"),
        several => bail!(
            "unknown scenario `{name}`: did you mean one of `{}`? {all}",
            several.join("`, `")
        ),
    }
    let nearest = names
        .iter()
        .map(|candidate| (edit_distance(&lower, candidate), *candidate))
        .min();
    match nearest {
        Some((distance, candidate)) if distance <= SUGGEST_DISTANCE_MAX => {
            bail!("unknown scenario `{name}`: did you mean `{candidate}`? {all}")
        }
        _ => bail!("unknown scenario `{name}`; {all}"),
    }
}

/// The `--set` settings checked before the run, each as `KNOB=VALUE` with the knob's
/// name trimmed: a missing `=`, an unknown knob (listed with every valid one) and a bad
/// value are told apart, and `msl_ms` with `time_wait_s` (both set TIME_WAIT's length)
/// is refused rather than letting the later one win silently.
fn check_settings(settings: &[String]) -> anyhow::Result<Vec<String>> {
    let mut checked = Vec::new();
    let mut timewait_knobs = Vec::new();
    for setting in settings {
        let Some((knob, value)) = setting.split_once('=') else {
            bail!(
                "--set `{setting}`: expected KNOB=VALUE, e.g. --set msl_ms=0; valid knobs: {}",
                tcpwave::Config::knob_names()
            );
        };
        let knob = knob.trim();
        if let Err(error) = tcpwave::Config::default().set(knob, value) {
            match error {
                tcpwave::ConfigError::UnknownKnob { .. } => bail!(
                    "--set {setting}: unknown knob `{knob}`; valid knobs: {}",
                    tcpwave::Config::knob_names()
                ),
                other => bail!("--set {setting}: {other}"),
            }
        }
        if matches!(knob, "msl_ms" | "time_wait_s") && !timewait_knobs.contains(&knob) {
            timewait_knobs.push(knob);
        }
        checked.push(format!("{knob}={value}"));
    }
    if timewait_knobs.len() > 1 {
        bail!(
            "--set msl_ms and --set time_wait_s both set TIME_WAIT's length \
             (TIME_WAIT = 2 x msl_ms; time_wait_s sets msl_ms to half of it): give only one"
        );
    }
    Ok(checked)
}

/// Typos a "did you mean" covers: a dropped, added, swapped or changed character or two.
const SUGGEST_DISTANCE_MAX: usize = 2;

/// Levenshtein distance between two names (insertions, deletions, substitutions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

fn write_file(path: &Path, bytes: &[u8], what: &str) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| {
        format!(
            "cannot write the {what} to {}: check the directory exists and is writable",
            path.display()
        )
    })
}

/// The pictures and the capture asked for with --svg, --html and --pcap.
fn write_files(trace: &Trace, args: &ScenarioArgs) -> anyhow::Result<()> {
    let picture = svg::SvgOptions {
        show_window: args.window,
        ..svg::SvgOptions::default()
    };
    if let Some(path) = &args.svg {
        write_file(path, svg::render(trace, &picture).as_bytes(), "SVG diagram")?;
    }
    if let Some(path) = &args.html {
        write_file(path, html::render(trace, &picture).as_bytes(), "HTML page")?;
    }
    if let Some(path) = &args.pcap {
        let at = pcap::CaptureAt::parse(args.pcap_at.as_deref().unwrap_or("wire"));
        let bytes = pcap::to_bytes(trace, &at).map_err(|e| anyhow::anyhow!("{e}"))?;
        write_file(path, &bytes, "capture")?;
    }
    Ok(())
}
