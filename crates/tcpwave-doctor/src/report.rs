//! The diagnosis, as data. Serialised as the stable `--json` schema `tcpwave-doctor/1`
//! (documented field by field in docs/doctor.md): fields may be added in later versions of
//! schema 1, never renamed or removed.

use crate::collect::Source;
use crate::kernel::Sockstat;
use serde::Serialize;
use std::collections::BTreeMap;

/// Identifier of the JSON schema, the first field of every report.
pub const SCHEMA: &str = "tcpwave-doctor/1";

/// How bad a finding is. Exit status 1 when one at `Warning` or above exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARN",
            Severity::Critical => "CRIT",
        }
    }
}

/// One conclusion: what is wrong, why we think so, what to do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable machine-readable identifier (`close-wait-leak`, `port-headroom`, ...).
    pub code: &'static str,
    pub title: String,
    pub evidence: Vec<String>,
    pub action: String,
}

/// The whole diagnosis.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// Namespace diagnosed (`--netns`), null for the doctor's own.
    pub netns: Option<String>,
    pub source: Source,
    pub fallback_reason: Option<String>,
    pub collect_ms: f64,
    pub attribution: Attribution,
    pub filters: FilterSummary,
    pub totals: Totals,
    pub close_wait: CloseWaitSection,
    pub time_wait: TimeWaitSection,
    pub ports: PortsSection,
    pub fin_wait_2: FinWait2Section,
    pub listeners: ListenSection,
    pub counters: BTreeMap<String, u64>,
    pub sockstat: Sockstat,
    pub sysctls: Vec<SysctlReview>,
    /// Most severe first.
    pub findings: Vec<Finding>,
    /// `healthy`, `warning` or `critical`: the most severe finding.
    pub status: &'static str,
    /// 0 healthy, 1 a finding at warning level or above.
    pub exit_code: u8,
}

/// How far sockets could be mapped to processes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Attribution {
    pub root: bool,
    /// Sockets that have an inode (a process holds them) and were mapped to a pid.
    pub attributed_sockets: u64,
    /// Sockets that have an inode but whose process could not be seen.
    pub unattributed_sockets: u64,
    /// Processes whose /proc/PID/fd was unreadable.
    pub unreadable_pids: u32,
    /// Set when attribution is incomplete: says why and what to do.
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FilterSummary {
    pub states: Vec<&'static str>,
    pub process: Option<String>,
    pub dst: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Sockets matching the filters (LISTEN included).
    pub sockets: u64,
    /// Every state, zeros included, keyed by name (`CLOSE_WAIT`, ...).
    pub by_state: BTreeMap<&'static str, u64>,
}

/// Who holds a group of sockets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// A process holds them.
    Process { pid: u32, command: String },
    /// A process of this uid holds them, but its /proc/PID/fd was unreadable (not root).
    Uid { uid: u32 },
    /// No process: TIME_WAIT, orphaned, or waiting in a listener's accept queue.
    None,
}

/// Direction of a connection seen from this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Accepted by a local listener: `local` is the service, `remote` the client's address.
    Inbound,
    /// Opened by connect(): `remote` is the service (ip:port), `local` the source address.
    Outbound,
}

/// Aggregates for a group of sockets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GroupStats {
    pub count: u64,
    /// Sum of Recv-Q as `ss` shows it (after the peer's FIN it includes 1 for the FIN).
    pub recv_q_bytes: u64,
    /// Sockets with received data not yet read by the application.
    pub with_unread_data: u64,
    /// Bytes of that data (Recv-Q without the FIN).
    pub unread_data_bytes: u64,
    /// CLOSE_WAIT/LAST_ACK/CLOSING sockets whose application has not read the end of file
    /// (Recv-Q ≥ 1): it is not reading them at all. The others read EOF and did not close.
    pub eof_not_read: u64,
    /// Longest time since the last segment from the peer (tcp_info last_ack_recv); on a
    /// CLOSE_WAIT socket, how long it has been in CLOSE_WAIT at least. Null without tcp_info.
    pub in_state_ms_max: Option<u64>,
    pub in_state_ms_min: Option<u64>,
    /// Longest time without data in either direction (min of last data sent / received).
    pub idle_ms_max: Option<u64>,
    /// TIME_WAIT / orphaned FIN_WAIT_2: time left on the timer.
    pub remaining_ms_min: Option<u64>,
    pub remaining_ms_max: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CloseWaitByProcess {
    pub owner: Owner,
    pub cmdline: Option<String>,
    #[serde(flatten)]
    pub stats: GroupStats,
    /// The busiest remote endpoints of this group (at most 3), as `direction local→remote`.
    pub top_remotes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ByEndpoint {
    pub direction: Direction,
    /// Outbound: the source ip. Inbound: the local service ip:port.
    pub local: String,
    /// Outbound: the destination ip:port. Inbound: the client ip.
    pub remote: String,
    #[serde(flatten)]
    pub stats: GroupStats,
    /// Pids holding sockets of this group (at most 5).
    pub pids: Vec<u32>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CloseWaitSection {
    pub total: u64,
    pub with_unread_data: u64,
    /// Sockets whose application has not even read the end of file.
    pub eof_not_read: u64,
    pub by_process: Vec<CloseWaitByProcess>,
    /// Number of process groups before the list was cut to `--top`.
    pub process_groups: usize,
    pub by_remote: Vec<ByEndpoint>,
    pub remote_groups: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
    /// Ports per (source ip, destination ip:port) pool.
    pub size: u32,
}

/// TIME_WAIT toward one destination from one source address: one ephemeral-port pool.
#[derive(Clone, Debug, Serialize)]
pub struct TimeWaitPool {
    pub source: String,
    pub destination: String,
    #[serde(flatten)]
    pub stats: GroupStats,
    /// Ports of this pool in use by sockets in any state (TIME_WAIT included).
    pub ports_in_use: u64,
    /// Ports left for new connections: range size − ports in use.
    pub headroom: Option<i64>,
    pub usage_percent: Option<f64>,
    /// TIME_WAIT lasts 60 s, so count / 60 ≈ new connections per second over the last minute.
    pub rate_estimate_per_s: f64,
    /// Range size / 60 s: the sustained connection rate this pool can carry.
    pub max_sustainable_rate_per_s: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TimeWaitSection {
    pub total: u64,
    /// TIME_WAIT entries are never owned by a process.
    pub owner_note: &'static str,
    pub tcp_max_tw_buckets: Option<u64>,
    pub port_range: Option<PortRange>,
    /// This host connected and closed first: ports of its own pools are held.
    pub outbound_pools: Vec<TimeWaitPool>,
    pub outbound_pool_groups: usize,
    /// This host accepted and closed first: the clients' ports are held, not ours.
    pub inbound: Vec<ByEndpoint>,
    pub inbound_groups: usize,
}

/// Ephemeral-port use of one outbound pool, all states together.
#[derive(Clone, Debug, Serialize)]
pub struct PortPool {
    pub source: String,
    pub destination: String,
    pub ports_in_use: u64,
    pub time_wait: u64,
    pub headroom: Option<i64>,
    pub usage_percent: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PortsSection {
    pub port_range: Option<PortRange>,
    /// Busiest pools first.
    pub pools: Vec<PortPool>,
    pub pool_groups: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FinWait2Section {
    pub total: u64,
    /// Closed by the application; the kernel drops them after tcp_fin_timeout.
    pub orphaned: u64,
    /// Still held by a process (half-closed with shutdown()): they wait for the peer forever.
    pub owned: u64,
    pub tcp_fin_timeout_s: Option<u64>,
    pub orphaned_by_remote: Vec<ByEndpoint>,
    pub orphaned_remote_groups: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ListenQueue {
    pub local: String,
    /// Connections waiting to be accepted.
    pub accept_queue: u64,
    pub backlog: u64,
    pub owner: Owner,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ListenSection {
    pub total: u64,
    /// Listeners with connections waiting in the accept queue, fullest first.
    pub queued: Vec<ListenQueue>,
}

/// One sysctl, its value and what it means here.
#[derive(Clone, Debug, Serialize)]
pub struct SysctlReview {
    pub name: &'static str,
    /// Null when this kernel does not have it.
    pub value: Option<String>,
    pub default: &'static str,
    pub note: String,
}
