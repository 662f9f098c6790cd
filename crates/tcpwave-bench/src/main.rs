//! `tcpwave-bench`: the benchmark table of docs/benchmarks.md.
//!
//! ```text
//! tcpwave-bench [run] [--quick] [--json [PATH]]   every case, then the table
//! tcpwave-bench lifecycle ENGINE M [--quick]       tcpwave[-checksums|-tw1s] | smoltcp | kernel, M parked
//! tcpwave-bench time-wait-memory N
//! tcpwave-bench idle-memory ENGINE N               tcpwave | smoltcp
//! tcpwave-bench bulk ENGINE MSS BYTES              tcpwave | smoltcp | smoltcp-checksums
//! tcpwave-bench timers N
//! tcpwave-bench callgrind-lifecycles ENGINE N      tcpwave | smoltcp, for scripts/callgrind.sh
//! ```

use std::process::ExitCode;

use tcpwave_bench::cases::{self, Budget};
use tcpwave_bench::{kernel, report, sm, tw};

const USAGE: &str = "usage: tcpwave-bench [run] [--quick] [--json [PATH]]
       tcpwave-bench lifecycle tcpwave|tcpwave-checksums|tcpwave-tw1s|smoltcp|smoltcp-checksums|kernel M [--quick]
       tcpwave-bench time-wait-memory N
       tcpwave-bench idle-memory tcpwave|smoltcp N
       tcpwave-bench bulk tcpwave|tcpwave-checksums|smoltcp|smoltcp-checksums MSS BYTES
       tcpwave-bench timers N
       tcpwave-bench callgrind-lifecycles tcpwave|tcpwave-checksums|smoltcp|smoltcp-checksums N

tcpwave and smoltcp run with TCP checksums offloaded / ignored, as on their loopbacks (and
the kernel's lo); the -checksums variants compute and verify them. tcpwave-tw1s keeps
TIME_WAIT 1 s instead of 60 s (10,000 live entries instead of 600,000): what the table's
cache misses cost.";

fn number(arg: Option<&String>, what: &str) -> Result<u64, String> {
    let text = arg.ok_or_else(|| format!("missing {what}\n{USAGE}"))?;
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{what} must be a whole number, not {text:?}\n{USAGE}"))
}

/// A whole number within `range` (inclusive).
fn number_in(
    arg: Option<&String>,
    what: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    let n = number(arg, what)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{what} must be from {} to {}, not {n}\n{USAGE}",
            range.start(),
            range.end()
        ))
    }
}

fn text<'a>(arg: Option<&'a String>, what: &str) -> Result<&'a str, String> {
    arg.map(String::as_str)
        .ok_or_else(|| format!("missing {what}\n{USAGE}"))
}

/// An engine name among those `case` knows.
fn engine<'a>(arg: Option<&'a String>, case: &str, known: &[&str]) -> Result<&'a str, String> {
    let name = text(arg, "ENGINE")?;
    if known.contains(&name) {
        Ok(name)
    } else {
        Err(format!(
            "{case}: unknown engine {name:?}: use {}\n{USAGE}",
            known.join(", ")
        ))
    }
}

/// The in-process engines: tcpwave and smoltcp, checksums offloaded or computed.
const ENGINES: [&str; 4] = [
    "tcpwave",
    "tcpwave-checksums",
    "smoltcp",
    "smoltcp-checksums",
];
const LIFECYCLE_ENGINES: [&str; 6] = [
    "tcpwave",
    "tcpwave-checksums",
    "tcpwave-tw1s",
    "smoltcp",
    "smoltcp-checksums",
    "kernel",
];
/// Parked connections beyond this take minutes to set up and gigabytes of memory.
const PARKED_MAX: u64 = 10_000_000;

fn main() -> ExitCode {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    // Refuse what is not ours before anything runs: a mistyped flag must not start the
    // full run (a minute or more at full load).
    if let Some(flag) = all
        .iter()
        .find(|a| a.starts_with('-') && !matches!(a.as_str(), "--quick" | "--json"))
    {
        eprintln!("tcpwave-bench: unknown option {flag:?}\n{USAGE}");
        return ExitCode::from(2);
    }
    let quick = all.iter().any(|a| a == "--quick");
    let json_at = all.iter().position(|a| a == "--json");
    let json_path = json_at.map(|i| {
        all.get(i + 1)
            .filter(|p| !p.starts_with("--"))
            .map(std::path::PathBuf::from)
            .unwrap_or_else(report::default_json_path)
    });
    let positional: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && json_at.map_or(true, |j| *i != j + 1))
        .map(|(_, a)| a.clone())
        .collect();
    match dispatch(&positional, quick, json_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tcpwave-bench: {message}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(
    args: &[String],
    quick: bool,
    json_path: Option<std::path::PathBuf>,
) -> Result<(), String> {
    let budget = if quick { Budget::QUICK } else { Budget::FULL };
    let command = args.first().map(String::as_str).unwrap_or("run");
    let value = match command {
        "run" => {
            let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
            let plan = if quick {
                report::Plan::QUICK
            } else {
                report::Plan::FULL
            };
            let results = report::run(&exe, plan);
            println!("{}", report::table(&results, &plan.parked));
            if let Some(path) = json_path {
                let text = serde_json::to_string_pretty(&results).expect("JSON");
                std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("tcpwave-bench: figures written to {}", path.display());
            }
            return Ok(());
        }
        "lifecycle" => {
            let engine = engine(args.get(1), "lifecycle", &LIFECYCLE_ENGINES)?;
            let parked = number_in(args.get(2), "M", 0..=PARKED_MAX)?;
            cases::lifecycle(engine, parked, budget)
        }
        "time-wait-memory" => {
            let max = cases::TIME_WAIT_MEMORY_ENTRIES_MAX;
            cases::time_wait_memory(number_in(args.get(1), "N", 1..=max)?)
        }
        "idle-memory" => {
            let engine = engine(args.get(1), "idle-memory", &ENGINES)?;
            cases::idle_memory(engine, number_in(args.get(2), "N", 1..=PARKED_MAX)?)
        }
        "bulk" => {
            let engine = engine(args.get(1), "bulk", &ENGINES)?;
            // The engine's own range (Config "mss"): Linux's TCP_MIN_MSS to loopback's MSS.
            let mss = number_in(args.get(2), "MSS", 88..=65495)? as u16;
            cases::bulk(engine, mss, number_in(args.get(3), "BYTES", 1..=1 << 40)?)
        }
        "timers" => cases::timers(number_in(args.get(1), "N", 1..=PARKED_MAX)?),
        "callgrind-lifecycles" => {
            let engine = engine(args.get(1), "callgrind", &ENGINES)?;
            let count = number_in(args.get(2), "N", 1..=PARKED_MAX)?;
            match engine {
                "tcpwave" | "tcpwave-checksums" => {
                    // Instructions do not depend on the table's size (cache misses are not
                    // counted), so TIME_WAIT lasts 1 s here instead of 60 s: steady state
                    // (10,000 live entries, one expiring per lifecycle) after a warm-up that
                    // valgrind runs in seconds.
                    let cfg =
                        tw::short_time_wait(tw::engine_config(engine).expect("a tcpwave engine"));
                    let mut pair = tw::Pair::new(cfg);
                    let warmup = 20_000;
                    pair.lifecycles(warmup);
                    measured_tcpwave(&mut pair, count);
                    serde_json::json!({"engine": engine, "lifecycles": count, "warmup": warmup, "packets": pair.packets, "events": pair.events})
                }
                "smoltcp" | "smoltcp-checksums" => {
                    let device = sm::Lo::for_engine(engine, 65_535).expect("a smoltcp engine");
                    let mut net = sm::Net::new(device);
                    let warmup = 1000;
                    net.lifecycles(warmup);
                    measured_smoltcp(&mut net, count);
                    serde_json::json!({"engine": engine, "lifecycles": count, "warmup": warmup, "polls": net.polls, "packets": net.device.packets})
                }
                other => unreachable!("engine() let {other:?} through"),
            }
        }
        "kernel-park-server" => {
            let count = number(args.get(1), "N")?;
            kernel::park_server_main(count).map_err(|e| format!("park server: {e}"))?;
            return Ok(());
        }
        "help" | "-h" => {
            println!("{USAGE}");
            return Ok(());
        }
        other => return Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    println!("{value}");
    Ok(())
}

/// The functions scripts/callgrind.sh counts instructions in (`--toggle-collect`).
#[inline(never)]
fn measured_tcpwave(pair: &mut tw::Pair, count: u64) {
    pair.lifecycles(count);
}

#[inline(never)]
fn measured_smoltcp(net: &mut sm::Net, count: u64) {
    net.lifecycles(count);
}
