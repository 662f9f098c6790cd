//! The named scenarios of shared/SCENARIOS.md, one file per family:
//! `open_close` (handshakes and closes), `failures` (lost ACKs, leaks, timeouts,
//! killed peers, closed ports) and `reuse` (what TIME_WAIT protects against).

mod common;
mod failures;
mod open_close;
mod reuse;

pub use common::{RunOptions, ScenarioError};

use tcpwave_trace::Trace;

/// A scenario: its name, what happens, and where the articles (or RFCs) describe it.
pub struct ScenarioInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub source: &'static str,
    run: fn(&RunOptions) -> Result<Trace, ScenarioError>,
}

impl ScenarioInfo {
    pub fn run(&self, opts: &RunOptions) -> Result<Trace, ScenarioError> {
        (self.run)(opts)
    }
}

const SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo { name: "three-way-handshake", summary: "client connect(), server listen()/accept(): SYN, SYN-ACK, ACK and the options negotiated", source: "004", run: open_close::three_way_handshake },
    ScenarioInfo { name: "four-way-close", summary: "client closes first after an exchange; server closes when it reads EOF; client holds TIME_WAIT for 60 s", source: "all", run: open_close::four_way_close },
    ScenarioInfo { name: "half-close", summary: "client shutdown(SHUT_WR); the server keeps sending from CLOSE_WAIT, then closes", source: "001, 002", run: open_close::half_close },
    ScenarioInfo { name: "simultaneous-close", summary: "both applications close at the same instant: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both sides", source: "002, 004", run: open_close::simultaneous_close },
    ScenarioInfo { name: "simultaneous-open", summary: "both sides connect() to each other at once: SYN_SENT -> SYN_RECEIVED -> ESTABLISHED", source: "RFC 9293", run: open_close::simultaneous_open },
    ScenarioInfo { name: "lost-final-ack", summary: "the client's last ACK is lost: the server retransmits FIN, TIME_WAIT re-ACKs and restarts 2MSL", source: "002, 003, 004", run: failures::lost_final_ack },
    ScenarioInfo { name: "time-wait-old-duplicate", summary: "a delayed segment of an old connection meets a new one on the same 4-tuple, with and without TIME_WAIT", source: "003, 004", run: reuse::time_wait_old_duplicate },
    ScenarioInfo { name: "no-time-wait-reconnect", summary: "without TIME_WAIT and with the final ACK lost, a reconnect hits the server's stale LAST_ACK", source: "003", run: reuse::no_time_wait_reconnect },
    ScenarioInfo { name: "close-wait-leak", summary: "a server reads EOF but never closes: CLOSE_WAIT piles up; clients' FIN_WAIT_2 expire", source: "001, 002", run: failures::close_wait_leak },
    ScenarioInfo { name: "fin-wait-2-timeout", summary: "the server never closes: an orphaned FIN_WAIT_2 ends after tcp_fin_timeout, a shutdown() one waits for ever", source: "002", run: failures::fin_wait_2_timeout },
    ScenarioInfo { name: "peer-process-killed", summary: "the server process is killed: its stack sends FIN (or RST when data was unread)", source: "004", run: failures::peer_process_killed },
    ScenarioInfo { name: "port-closed", summary: "SYN to a port nobody listens on gets RST (ECONNREFUSED); a listener closed under a pending connection resets it", source: "004", run: failures::port_closed },
];

/// Every scenario, in the order of shared/SCENARIOS.md.
pub fn list() -> &'static [ScenarioInfo] {
    SCENARIOS
}

/// The scenario with this name.
pub fn find(name: &str) -> Option<&'static ScenarioInfo> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Run a scenario by name.
pub fn run(name: &str, opts: &RunOptions) -> Result<Trace, ScenarioError> {
    let info = find(name).ok_or_else(|| ScenarioError::UnknownScenario {
        name: name.to_string(),
        valid: SCENARIOS
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    info.run(opts)
}
