//! `tcpwave doctor --watch SECS`: sample repeatedly and report growth per process and per
//! destination ("CLOSE_WAIT to 192.0.2.3:6379 owned by pid 4711 (worker) grew by 120 in
//! 60 s"), plus counter rates. Bounded by `--count` and/or `--duration`.

use crate::analysis::{self, GrowthKey};
use crate::collect::{collect, Snapshot};
use crate::error::{DoctorError, Result};
use crate::render;
use crate::report::{Direction, Finding, Owner, Report, Severity};
use crate::socket::TcpState;
use crate::DoctorOptions;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// Identifier of the per-sample JSON line schema.
pub const WATCH_SCHEMA: &str = "tcpwave-doctor-watch/1";
/// Shortest and longest accepted interval.
pub const INTERVAL_MIN: Duration = Duration::from_millis(100);
pub const INTERVAL_MAX: Duration = Duration::from_secs(24 * 3600);

/// How long and how often to watch.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub interval: Duration,
    /// Samples to take (the first included). None: until `duration`, or forever.
    pub count: Option<u32>,
    /// Stop after this long. None: until `count`, or forever.
    pub duration: Option<Duration>,
    /// One JSON object per line (schema `tcpwave-doctor-watch/1`) instead of text.
    pub json: bool,
}

impl WatchOptions {
    /// Checks the bounds; `interval_s` as given on the command line.
    pub fn new(
        interval_s: f64,
        count: Option<u32>,
        duration_s: Option<f64>,
        json: bool,
    ) -> Result<Self> {
        let invalid = |option, value: f64, hint: &str| DoctorError::InvalidOption {
            option,
            value: value.to_string(),
            hint: hint.to_string(),
        };
        if !interval_s.is_finite()
            || interval_s < INTERVAL_MIN.as_secs_f64()
            || interval_s > INTERVAL_MAX.as_secs_f64()
        {
            return Err(invalid(
                "--watch",
                interval_s,
                "give the seconds between samples, 0.1 to 86400",
            ));
        }
        if count == Some(0) {
            return Err(invalid(
                "--count",
                0.0,
                "give at least 1 sample (2 or more to see growth)",
            ));
        }
        if let Some(d) = duration_s {
            if !d.is_finite() || d <= 0.0 || d > 366.0 * 86400.0 {
                return Err(invalid(
                    "--duration",
                    d,
                    "give a positive number of seconds",
                ));
            }
        }
        Ok(WatchOptions {
            interval: Duration::from_secs_f64(interval_s),
            count,
            duration: duration_s.map(Duration::from_secs_f64),
            json,
        })
    }
}

/// Growth of one group between two samples.
#[derive(Clone, Debug, Serialize)]
pub struct Growth {
    pub state: TcpState,
    pub owner: Owner,
    pub direction: Direction,
    pub local: String,
    pub remote: String,
    pub before: u64,
    pub after: u64,
    pub delta: u64,
    pub seconds: f64,
    /// The sentence, e.g. "CLOSE_WAIT to 192.0.2.3:6379 owned by pid 4711 (worker) grew by
    /// 120 in 60 s".
    pub message: String,
}

/// One `--watch --json` line.
#[derive(Serialize)]
struct SampleLine<'a> {
    schema: &'static str,
    sample: u32,
    samples_planned: Option<u32>,
    elapsed_s: f64,
    by_state: &'a BTreeMap<&'static str, u64>,
    growth: &'a [Growth],
    growth_since_start: &'a [Growth],
    counter_rates_per_s: BTreeMap<String, f64>,
    report: &'a Report,
}

struct Sample {
    at: Instant,
    counts: HashMap<GrowthKey, u64>,
    counters: BTreeMap<String, u64>,
}

/// Runs the watch, writing to `out`. Returns the exit code: 1 if any sample had a finding at
/// warning level or above (CLOSE_WAIT growth is one), else 0.
pub fn run(options: &DoctorOptions, watch: &WatchOptions, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let mut first: Option<Sample> = None;
    let mut previous: Option<Sample> = None;
    let mut exit_code = 0;
    let mut sample_number = 0u32;
    loop {
        sample_number += 1;
        let sample_started = Instant::now();
        let snapshot = collect(&options.collect_options())?;
        let current = Sample {
            at: sample_started,
            counts: analysis::growth_counts(&snapshot, &options.filters),
            counters: snapshot.counters.clone(),
        };
        let mut report = analysis::analyze(&snapshot, &options.filters, options.top);
        let growth = previous
            .as_ref()
            .map_or_else(Vec::new, |p| growth_between(p, &current));
        let since_start = first
            .as_ref()
            .map_or_else(Vec::new, |f| growth_between(f, &current));
        add_growth_findings(&mut report, &growth);
        exit_code = exit_code.max(report.exit_code);
        let rates = previous
            .as_ref()
            .map(|p| counter_rates(p, &current))
            .unwrap_or_default();
        let line = SampleLine {
            schema: WATCH_SCHEMA,
            sample: sample_number,
            samples_planned: watch.count,
            elapsed_s: started.elapsed().as_secs_f64(),
            by_state: &report.totals.by_state,
            growth: &growth,
            growth_since_start: &since_start,
            counter_rates_per_s: rates,
            report: &report,
        };
        write_sample(out, watch, &line, &snapshot)?;
        out.flush()?;
        if first.is_none() {
            first = Some(Sample {
                at: current.at,
                counts: current.counts.clone(),
                counters: current.counters.clone(),
            });
        }
        previous = Some(current);
        if !sleep_until_next(watch, started, sample_started, sample_number) {
            break;
        }
    }
    if !watch.json {
        writeln!(
            out,
            "watch ended after {sample_number} samples in {:.1} s; exit status {exit_code}",
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(exit_code)
}

/// Sleeps until the next sample is due; false when the watch is over.
fn sleep_until_next(
    watch: &WatchOptions,
    started: Instant,
    sample_started: Instant,
    taken: u32,
) -> bool {
    if watch.count.is_some_and(|count| taken >= count) {
        return false;
    }
    let due = sample_started + watch.interval;
    if watch
        .duration
        .is_some_and(|d| due.duration_since(started) > d)
    {
        return false;
    }
    std::thread::sleep(due.saturating_duration_since(Instant::now()));
    true
}

fn growth_between(before: &Sample, after: &Sample) -> Vec<Growth> {
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let mut rows: Vec<Growth> = after
        .counts
        .iter()
        .filter_map(|(key, now)| {
            let was = before.counts.get(key).copied().unwrap_or(0);
            (*now > was).then(|| Growth {
                state: key.state,
                owner: key.owner.clone(),
                direction: key.direction(),
                local: key.local(),
                remote: key.remote(),
                before: was,
                after: *now,
                delta: now - was,
                seconds,
                message: format!(
                    "{} grew by {} in {}",
                    key.describe(),
                    now - was,
                    seconds_text(seconds)
                ),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.delta
            .cmp(&a.delta)
            .then_with(|| a.message.cmp(&b.message))
    });
    rows
}

fn seconds_text(seconds: f64) -> String {
    if seconds >= 10.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds:.1} s")
    }
}

fn counter_rates(before: &Sample, after: &Sample) -> BTreeMap<String, f64> {
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-3);
    after
        .counters
        .iter()
        .filter(|(name, _)| name.as_str() != "CurrEstab")
        .filter_map(|(name, now)| {
            let was = before.counters.get(name)?;
            Some((name.clone(), now.saturating_sub(*was) as f64 / seconds))
        })
        .collect()
}

fn add_growth_findings(report: &mut Report, growth: &[Growth]) {
    for row in growth.iter().filter(|g| g.state == TcpState::CloseWait) {
        report.findings.push(Finding {
            severity: Severity::Warning,
            code: "close-wait-growing",
            title: row.message.clone(),
            evidence: vec![format!("{} → {} sockets", row.before, row.after)],
            action: "the application is leaking sockets right now: it does not close() after \
                     the peer's FIN"
                .to_string(),
        });
    }
    report.finish();
}

fn write_sample(
    out: &mut dyn Write,
    watch: &WatchOptions,
    line: &SampleLine,
    snapshot: &Snapshot,
) -> Result<()> {
    if watch.json {
        serde_json::to_writer(&mut *out, line).map_err(|e| DoctorError::Output(e.into()))?;
        writeln!(out)?;
        return Ok(());
    }
    let planned = watch.count.map_or(String::new(), |c| format!("/{c}"));
    writeln!(
        out,
        "── sample {}{planned} · +{:.1} s ──",
        line.sample, line.elapsed_s
    )?;
    if line.sample == 1 {
        out.write_all(render::render(line.report).as_bytes())?;
        return Ok(());
    }
    let states: Vec<String> = line
        .by_state
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let states = if states.is_empty() {
        "none".to_string()
    } else {
        states.join(" · ")
    };
    writeln!(
        out,
        "states: {states} ({}, {:.1} ms)",
        crate::findings::sockets(snapshot.sockets.len() as u64),
        snapshot.collect_ms
    )?;
    if line.growth.is_empty() {
        writeln!(out, "no growth since the last sample")?;
    }
    for growth in line.growth {
        writeln!(out, "  {}", growth.message)?;
    }
    let rates: Vec<String> = line
        .counter_rates_per_s
        .iter()
        .filter(|(_, r)| **r > 0.0)
        .map(|(n, r)| format!("{n} {r:.1}/s"))
        .collect();
    if !rates.is_empty() {
        writeln!(out, "rates: {}", rates.join(" · "))?;
    }
    for finding in line
        .report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        writeln!(out, "  [{}] {}", finding.severity.label(), finding.title)?;
    }
    // At sample 2 "since the first sample" is "since the last sample": said once.
    if line.sample > 2 && !line.growth_since_start.is_empty() {
        writeln!(out, "since the first sample:")?;
        for growth in line.growth_since_start.iter().take(10) {
            writeln!(out, "  {}", growth.message)?;
        }
    }
    Ok(())
}
