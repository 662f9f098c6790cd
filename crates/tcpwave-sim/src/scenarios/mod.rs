//! The named scenarios of shared/SCENARIOS.md, one file per family:
//! `open_close` (handshakes and closes), `failures` (lost ACKs, leaks, timeouts,
//! killed peers, closed ports), `reuse` (what TIME_WAIT protects against),
//! `keepalive` (dead, rebooted and unreachable peers), `attacks` (abortive close,
//! unread data, blind injection, TIME_WAIT assassination), `tw_reuse` (RFC 6191 and
//! tcp_tw_reuse), `capacity` and `load_balancer` (ports and TIME_WAIT at scale) and
//! `http` (a minimal HTTP/1.0 and 1.1, keep-alive).

mod attacks;
pub mod capacity;
mod common;
mod failures;
mod http;
mod keepalive;
pub mod load_balancer;
mod open_close;
mod reuse;
mod tw_reuse;

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
    ScenarioInfo { name: "four-way-close", summary: "client closes first after an exchange; the server app closes 100 ms after it reads EOF, its ACK of the FIN goes first (delayed 40 ms); client holds TIME_WAIT for 60 s", source: "all", run: open_close::four_way_close },
    ScenarioInfo { name: "three-segment-close", summary: "the server app closes as soon as it reads EOF: Linux delays the ACK of a FIN in CLOSE_WAIT, so the server's FIN carries it (FIN, FIN+ACK, ACK)", source: "004", run: open_close::three_segment_close },
    ScenarioInfo { name: "half-close", summary: "client shutdown(SHUT_WR); the server keeps sending from CLOSE_WAIT, then closes", source: "001, 002", run: open_close::half_close },
    ScenarioInfo { name: "simultaneous-close", summary: "both applications close at the same instant: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both sides", source: "002, 004", run: open_close::simultaneous_close },
    ScenarioInfo { name: "simultaneous-open", summary: "both sides connect() to each other at once: SYN_SENT -> SYN_RECEIVED -> ESTABLISHED", source: "RFC 9293", run: open_close::simultaneous_open },
    ScenarioInfo { name: "lost-final-ack", summary: "the client's last ACK is lost: the server retransmits FIN, TIME_WAIT re-ACKs and restarts 2MSL", source: "002, 003, 004", run: failures::lost_final_ack },
    ScenarioInfo { name: "time-wait-old-duplicate", summary: "an old connection's delayed segment meets a new one on the same 4-tuple, with and without TIME_WAIT", source: "003, 004", run: reuse::time_wait_old_duplicate },
    ScenarioInfo { name: "no-time-wait-reconnect", summary: "without TIME_WAIT and with the final ACK lost, a reconnect hits the server's stale LAST_ACK", source: "003", run: reuse::no_time_wait_reconnect },
    ScenarioInfo { name: "close-wait-leak", summary: "a server reads EOF but never closes: CLOSE_WAIT piles up; clients' FIN_WAIT_2 expire", source: "001, 002", run: failures::close_wait_leak },
    ScenarioInfo { name: "fin-wait-2-timeout", summary: "the server never closes: an orphaned FIN_WAIT_2 ends after tcp_fin_timeout, a shutdown() one waits for ever", source: "002", run: failures::fin_wait_2_timeout },
    ScenarioInfo { name: "keepalive-dead-peer", summary: "idle connections with SO_KEEPALIVE whose peer vanished: probes every intvl after keepalive_time, then RST and ETIMEDOUT (sysctls, per-socket options, TCP_USER_TIMEOUT)", source: "004", run: keepalive::keepalive_dead_peer },
    ScenarioInfo { name: "keepalive-alive-peer", summary: "an idle connection with SO_KEEPALIVE to a live peer: each probe is ACKed and the idle timer starts over", source: "004", run: keepalive::keepalive_alive_peer },
    ScenarioInfo { name: "peer-crash", summary: "the peer host dies while we send: backoff until tcp_retries2 (ETIMEDOUT), orphans until tcp_orphan_retries, SYNs until tcp_syn_retries", source: "004", run: keepalive::peer_crash },
    ScenarioInfo { name: "peer-crash-reboot", summary: "the peer host reboots with no memory of the connection: our next segment (data or keepalive probe) draws RST, ECONNRESET", source: "004", run: keepalive::peer_crash_reboot },
    ScenarioInfo { name: "network-outage-recovery", summary: "the path is cut: an idle connection survives, a sending one survives if healed before retransmissions run out, else ETIMEDOUT", source: "004", run: keepalive::network_outage_recovery },
    ScenarioInfo { name: "peer-process-killed", summary: "the server process is killed: its stack sends FIN (or RST when data was unread)", source: "004", run: failures::peer_process_killed },
    ScenarioInfo { name: "port-closed", summary: "SYN to a port nobody listens on gets RST (ECONNREFUSED); a listener closed under a pending connection resets it", source: "004", run: failures::port_closed },
    ScenarioInfo { name: "abortive-close", summary: "SO_LINGER {on, 0} then close(): RST instead of FIN, no TIME_WAIT on either side, the peer sees ECONNRESET", source: "001", run: attacks::abortive_close },
    ScenarioInfo { name: "close-with-unread-data", summary: "close() with unread received data sends RST instead of FIN (RFC 2525 §2.17); after reading, the same close sends FIN", source: "RFC 2525", run: attacks::close_with_unread_data },
    ScenarioInfo { name: "time-wait-reuse", summary: "a SYN reaching TIME_WAIT opens a new connection when its sequence number or timestamp is newer (RFC 6191), else it is ACKed; tcp_tw_reuse lets connect() take over a TIME_WAIT tuple after 1 s, with timestamps", source: "001, 004", run: tw_reuse::time_wait_reuse },
    ScenarioInfo { name: "time-wait-assassination", summary: "an old duplicate makes TIME_WAIT ACK, the closed peer answers RST: rfc1337=0 the entry dies early, rfc1337=1 it is ignored", source: "RFC 1337", run: attacks::time_wait_assassination },
    ScenarioInfo { name: "blind-reset-attack", summary: "forged RSTs, SYNs and data with wrong sequence numbers draw challenge ACKs (rate-limited) and the connection lives; only an exact-sequence RST resets it", source: "RFC 5961", run: attacks::blind_reset_attack },
    ScenarioInfo { name: "port-exhaustion", summary: "500 short connections per second to one server ip:port, client closing first: TIME_WAIT fills the 28232 ports, EADDRNOTAVAIL, ~470/s sustained; tw_reuse, a second source address, keep-alive and server-closes-first compared", source: "000, 001", run: capacity::port_exhaustion },
    ScenarioInfo { name: "load-balancer-time-wait", summary: "clients -> load balancer -> two backends: TIME_WAIT lands on whoever closes first; balancer closes first, backend closes first, pooled keep-alive upstream compared", source: "000", run: load_balancer::load_balancer_time_wait },
    ScenarioInfo { name: "http-keep-alive", summary: "1000 HTTP/1.0 requests (a connection each, TIME_WAIT on the server) vs 1000 HTTP/1.1 requests over one keep-alive connection", source: "004", run: http::http_keep_alive },
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
    let mut trace = info.run(opts)?;
    record_settings(&mut trace, opts);
    Ok(trace)
}

/// The trace records the `--set` settings, so that scenario, seed and settings reproduce
/// it; the diagrams show them next to the description (which states the linux
/// profile's values, "TIME_WAIT for 60 s").
fn record_settings(trace: &mut Trace, opts: &RunOptions) {
    trace.settings = opts.settings.clone();
}
