//! `tcpwave live SCENARIO`: the engine against the real Linux kernel in a private network
//! namespace, both sides' states printed over time — the engine's from its events, the
//! kernel's from `ss` run in the namespace — and the namespace deleted afterwards, also on
//! Ctrl-C or error.

mod scenarios;
mod watch;

use std::io::Write;
use std::time::Duration;

use crate::error::{require_root, TunError};
use crate::lab::{Lab, ENGINE_ADDR, KERNEL_ADDR, TUN_NAME};
use crate::runtime::StackConfig;
use crate::signals;
pub use watch::Watcher;

/// The scenarios `live` can run (names as in shared/SCENARIOS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// The engine closes first: engine FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT; kernel
    /// CLOSE_WAIT -> LAST_ACK -> gone.
    FourWayClose,
    /// The kernel closes first: kernel ends in TIME_WAIT, the engine in CLOSED.
    FourWayCloseKernelFirst,
    /// The kernel application never closes: kernel CLOSE_WAIT for ever, the engine's
    /// orphaned FIN_WAIT_2 ends after tcp_fin_timeout.
    CloseWaitLeak,
    /// The engine closes with SO_LINGER {on, 0}: RST, the kernel application gets
    /// ECONNRESET, no TIME_WAIT anywhere.
    AbortiveClose,
    /// The engine connects to a kernel port nobody listens on: RST, ECONNREFUSED.
    PortClosed,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::FourWayClose,
        Scenario::FourWayCloseKernelFirst,
        Scenario::CloseWaitLeak,
        Scenario::AbortiveClose,
        Scenario::PortClosed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::FourWayClose => "four-way-close",
            Scenario::FourWayCloseKernelFirst => "four-way-close-kernel-first",
            Scenario::CloseWaitLeak => "close-wait-leak",
            Scenario::AbortiveClose => "abortive-close",
            Scenario::PortClosed => "port-closed",
        }
    }

    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Every name, comma separated (for error messages).
    pub fn names() -> String {
        Scenario::ALL.map(Scenario::name).join(", ")
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scenario::FourWayClose => {
                "the engine (client) closes first; the kernel application closes when it reads EOF"
            }
            Scenario::FourWayCloseKernelFirst => {
                "the kernel (server) closes first; the engine closes when it reads EOF"
            }
            Scenario::CloseWaitLeak => {
                "the engine closes; the kernel application reads EOF but never calls close()"
            }
            Scenario::AbortiveClose => "the engine sets SO_LINGER {on, 0} and closes: RST",
            Scenario::PortClosed => "the engine connects to a kernel port with no listener",
        }
    }
}

/// How a live run is set up.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub scenario: Scenario,
    /// How long to keep watching after the last step.
    pub watch: Duration,
    /// The engine's tcp_fin_timeout (shortened from Linux's 60 s so the run ends soon). A
    /// `tcp_fin_timeout_s` in `knobs` overrides it.
    pub fin_timeout: Duration,
    /// Connections for close-wait-leak.
    pub connections: usize,
    /// Print every segment, not only state changes.
    pub segments: bool,
    /// Engine knobs, `NAME=VALUE` (see `tcpwave::KNOBS`).
    pub knobs: Vec<String>,
}

impl LiveOptions {
    pub fn new(scenario: Scenario) -> LiveOptions {
        LiveOptions {
            scenario,
            watch: Duration::from_secs(2),
            fin_timeout: Duration::from_secs(5),
            connections: 3,
            segments: true,
            knobs: Vec::new(),
        }
    }
}

/// What the run checked against Linux's behaviour.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    pub checks: Vec<(String, bool)>,
}

impl LiveReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|(_, ok)| *ok)
    }

    pub(crate) fn check(&mut self, what: impl Into<String>, ok: bool) {
        self.checks.push((what.into(), ok));
    }
}

/// Runs a scenario, printing the timeline to `out`. Needs root.
pub fn run(opts: &LiveOptions, out: &mut dyn Write) -> Result<LiveReport, TunError> {
    require_root("tcpwave live (it creates a network namespace and a TUN device)")?;
    signals::install();
    let mut cfg = StackConfig::new(ENGINE_ADDR);
    cfg.engine.tcp_fin_timeout =
        tcpwave::Duration::from_micros(opts.fin_timeout.as_micros() as u64);
    for knob in &opts.knobs {
        cfg.engine.set_assignment(knob)?;
    }
    // What the engine runs with, `--set tcp_fin_timeout_s=N` included: the header and the
    // waits of close-wait-leak go by it.
    let mut effective = opts.clone();
    effective.fin_timeout = Duration::from_micros(cfg.engine.tcp_fin_timeout.total_micros());
    let opts = &effective;
    let lab = Lab::create("tcpwave-live", cfg)?;
    let io = |e| TunError::io("writing the timeline", e);
    writeln!(
        out,
        "scenario {}: {}",
        opts.scenario.name(),
        opts.scenario.describe()
    )
    .map_err(io)?;
    writeln!(
        out,
        "namespace {} | {TUN_NAME}: kernel {KERNEL_ADDR}/24, engine {ENGINE_ADDR} | engine tcp_fin_timeout {:?}",
        lab.netns_name(),
        opts.fin_timeout
    )
    .map_err(io)?;
    if opts.segments {
        writeln!(out, "{}", crate::trace::SEGMENT_LEGEND).map_err(io)?;
    }
    writeln!(out).map_err(io)?;
    let mut watcher = Watcher::new(&lab, opts.segments);
    let result = scenarios::run(&lab, &mut watcher, opts, out);
    // Whatever happened, show where both sides ended, then delete the lab.
    let _ = watcher.pump(out);
    let _ = watcher.summary(out);
    drop(watcher);
    let name = lab.netns_name().to_string();
    drop(lab);
    writeln!(out, "namespace {name} deleted").map_err(io)?;
    let report = result?;
    for (what, ok) in &report.checks {
        writeln!(out, "  [{}] {what}", if *ok { "ok" } else { "FAILED" }).map_err(io)?;
    }
    Ok(report)
}
