//! From a [`Snapshot`] to a [`Report`]: counts, groups, headroom. One pass per section over
//! the sockets, hash maps keyed by small copyable keys (no per-socket allocation), so that
//! 100,000 sockets take milliseconds.

use crate::collect::Snapshot;
use crate::filter::Filters;
use crate::findings;
use crate::owners::Owners;
use crate::report::*;
use crate::review;
use crate::socket::{Socket, TcpState, TimerKind};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};

/// Seconds a TIME_WAIT entry lives on Linux (`TCP_TIMEWAIT_LEN`, not a sysctl).
pub const TIME_WAIT_SECONDS: f64 = 60.0;

/// Builds the report for the sockets that pass `filters`, listing at most `top` groups per
/// table.
pub fn analyze(snapshot: &Snapshot, filters: &Filters, top: usize) -> Report {
    let context = Context::new(snapshot, filters);
    let port_range = port_range(snapshot);
    let usage = pool_usage(&context, port_range.as_ref());
    let mut report = Report {
        schema: SCHEMA,
        netns: snapshot.netns.clone(),
        source: snapshot.source,
        fallback_reason: snapshot.fallback_reason.clone(),
        collect_ms: snapshot.collect_ms,
        attribution: attribution(&context),
        filters: filter_summary(filters),
        totals: totals(&context),
        close_wait: close_wait(&context, top),
        time_wait: time_wait(&context, &usage, port_range.clone(), top),
        ports: ports(usage, port_range, top),
        fin_wait_2: fin_wait_2(&context, top),
        listeners: listeners(&context, top),
        counters: snapshot.counters.clone(),
        sockstat: snapshot.sockstat.clone(),
        sysctls: review::review(&snapshot.sysctls, snapshot.sockstat.tw),
        findings: Vec::new(),
        status: "healthy",
        exit_code: 0,
    };
    report.findings = findings::evaluate(&report, snapshot);
    report.finish();
    report
}

impl Report {
    /// Sorts the findings (most severe first) and sets `status` and `exit_code` from them.
    pub fn finish(&mut self) {
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let worst = self.findings.iter().map(|f| f.severity).max();
        (self.status, self.exit_code) = match worst {
            Some(Severity::Critical) => ("critical", 1),
            Some(Severity::Warning) => ("warning", 1),
            _ => ("healthy", 0),
        };
    }
}

/// The sockets a report looks at, and what is needed to classify them.
struct Context<'a> {
    snapshot: &'a Snapshot,
    selected: Vec<&'a Socket>,
    listen_ports_any: HashSet<u16>,
    listen_exact: HashSet<SocketAddr>,
}

impl<'a> Context<'a> {
    fn new(snapshot: &'a Snapshot, filters: &Filters) -> Context<'a> {
        let mut listen_ports_any = HashSet::default();
        let mut listen_exact = HashSet::default();
        for socket in snapshot
            .sockets
            .iter()
            .filter(|s| s.state == TcpState::Listen)
        {
            if socket.local.ip().is_unspecified() {
                listen_ports_any.insert(socket.local.port());
            } else {
                listen_exact.insert(socket.local);
            }
        }
        let mut selected: Vec<&Socket> = Vec::with_capacity(snapshot.sockets.len());
        for socket in &snapshot.sockets {
            if filters.matches(socket, &snapshot.owners) {
                selected.push(socket);
            }
        }
        Context {
            snapshot,
            selected,
            listen_ports_any,
            listen_exact,
        }
    }

    fn owners(&self) -> &Owners {
        &self.snapshot.owners
    }

    fn with_state(&self, state: TcpState) -> impl Iterator<Item = &'a Socket> + '_ {
        self.selected
            .iter()
            .copied()
            .filter(move |s| s.state == state)
    }

    /// Inbound when the local address is a listener's (the peer connected to us).
    fn direction(&self, socket: &Socket) -> Direction {
        let port = socket.local.port();
        if self.listen_ports_any.contains(&port) || self.listen_exact.contains(&socket.local) {
            Direction::Inbound
        } else {
            Direction::Outbound
        }
    }

    /// The endpoint a socket is grouped under: the service side keeps its port.
    fn endpoint(&self, socket: &Socket) -> EndpointKey {
        match self.direction(socket) {
            Direction::Inbound => EndpointKey {
                direction: Direction::Inbound,
                local: socket.local,
                remote: SocketAddr::new(socket.remote.ip(), 0),
            },
            Direction::Outbound => EndpointKey {
                direction: Direction::Outbound,
                local: SocketAddr::new(socket.local.ip(), 0),
                remote: socket.remote,
            },
        }
    }

    fn owner_id(&self, socket: &Socket) -> OwnerId {
        if socket.inode == 0 {
            return OwnerId::None;
        }
        match self.owners().owner(socket.inode) {
            Some(process) => OwnerId::Pid(process.pid),
            None => OwnerId::Uid(socket.uid),
        }
    }

    fn owner(&self, id: OwnerId) -> (Owner, Option<String>) {
        match id {
            OwnerId::None => (Owner::None, None),
            OwnerId::Uid(uid) => (Owner::Uid { uid }, None),
            OwnerId::Pid(pid) => {
                let process = self.owners().process(pid);
                let command = process.map(|p| p.command.clone()).unwrap_or_default();
                (
                    Owner::Process { pid, command },
                    process.map(|p| p.cmdline.clone()),
                )
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum OwnerId {
    Pid(u32),
    Uid(u32),
    None,
}

/// Grouping key for "by remote endpoint" tables. Port 0 means "any port".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct EndpointKey {
    pub direction: Direction,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl EndpointKey {
    pub(crate) fn local_text(&self) -> String {
        match self.direction {
            Direction::Inbound => self.local.to_string(),
            Direction::Outbound => self.local.ip().to_string(),
        }
    }

    pub(crate) fn remote_text(&self) -> String {
        match self.direction {
            Direction::Inbound => self.remote.ip().to_string(),
            Direction::Outbound => self.remote.to_string(),
        }
    }

    /// `→ 192.0.2.3:6379` (we connected) or `← 192.0.2.2 on 192.0.2.1:7000` (they did).
    pub(crate) fn describe(&self) -> String {
        match self.direction {
            Direction::Outbound => format!("→ {}", self.remote_text()),
            Direction::Inbound => format!("← {} on {}", self.remote_text(), self.local_text()),
        }
    }
}

/// Adds one socket to a group's aggregates.
pub(crate) fn accumulate(stats: &mut GroupStats, socket: &Socket) {
    stats.count += 1;
    if socket.state != TcpState::Listen {
        stats.recv_q_bytes += u64::from(socket.recv_q);
        let data = socket.unread_data_bytes();
        stats.with_unread_data += u64::from(data > 0);
        stats.unread_data_bytes += u64::from(data);
        stats.eof_not_read += u64::from(socket.eof_not_read());
    }
    if let Some(info) = socket.info {
        let in_state = u64::from(info.last_ack_recv_ms);
        let idle = u64::from(info.last_data_sent_ms.min(info.last_data_recv_ms));
        stats.in_state_ms_max = Some(stats.in_state_ms_max.map_or(in_state, |m| m.max(in_state)));
        stats.in_state_ms_min = Some(stats.in_state_ms_min.map_or(in_state, |m| m.min(in_state)));
        stats.idle_ms_max = Some(stats.idle_ms_max.map_or(idle, |m| m.max(idle)));
    }
    if socket.timer == TimerKind::TimeWait {
        let left = u64::from(socket.timer_ms);
        stats.remaining_ms_min = Some(stats.remaining_ms_min.map_or(left, |m| m.min(left)));
        stats.remaining_ms_max = Some(stats.remaining_ms_max.map_or(left, |m| m.max(left)));
    }
}

/// Sorts groups by count (then key, for stable output), keeps `top`; returns the total.
fn top_groups<K: Ord + Clone, V>(
    groups: HashMap<K, V>,
    count: impl Fn(&V) -> u64,
    top: usize,
) -> (Vec<(K, V)>, usize) {
    let total = groups.len();
    let mut rows: Vec<(K, V)> = groups.into_iter().collect();
    rows.sort_by(|a, b| count(&b.1).cmp(&count(&a.1)).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(top);
    (rows, total)
}

fn totals(context: &Context) -> Totals {
    let mut by_state: BTreeMap<&'static str, u64> =
        TcpState::ALL.iter().map(|s| (s.name(), 0)).collect();
    for socket in &context.selected {
        *by_state.entry(socket.state.name()).or_default() += 1;
    }
    Totals {
        sockets: context.selected.len() as u64,
        by_state,
    }
}

fn close_wait(context: &Context, top: usize) -> CloseWaitSection {
    #[derive(Default)]
    struct ProcessGroup {
        stats: GroupStats,
        remotes: HashMap<EndpointKey, u64>,
    }
    let mut by_process: HashMap<OwnerId, ProcessGroup> = HashMap::default();
    let mut by_remote: HashMap<EndpointKey, (GroupStats, Vec<u32>)> = HashMap::default();
    let mut section = CloseWaitSection::default();
    for socket in context.with_state(TcpState::CloseWait) {
        section.total += 1;
        section.with_unread_data += u64::from(socket.unread_data_bytes() > 0);
        section.eof_not_read += u64::from(socket.eof_not_read());
        let owner = context.owner_id(socket);
        let endpoint = context.endpoint(socket);
        let group = by_process.entry(owner).or_default();
        accumulate(&mut group.stats, socket);
        *group.remotes.entry(endpoint).or_default() += 1;
        let (stats, pids) = by_remote.entry(endpoint).or_default();
        accumulate(stats, socket);
        if let OwnerId::Pid(pid) = owner {
            if pids.len() < 5 && !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    let (rows, groups) = top_groups(by_process, |g| g.stats.count, top);
    section.process_groups = groups;
    for (owner_id, group) in rows {
        let (owner, cmdline) = context.owner(owner_id);
        let (remotes, _) = top_groups(group.remotes, |c| *c, 3);
        let top_remotes = remotes
            .iter()
            .map(|(k, n)| format!("{} ({n})", k.describe()))
            .collect();
        section.by_process.push(CloseWaitByProcess {
            owner,
            cmdline,
            stats: group.stats,
            top_remotes,
        });
    }
    (section.by_remote, section.remote_groups) = endpoint_rows(by_remote, top);
    section
}

fn endpoint_rows(
    groups: HashMap<EndpointKey, (GroupStats, Vec<u32>)>,
    top: usize,
) -> (Vec<ByEndpoint>, usize) {
    let (rows, total) = top_groups(groups, |g| g.0.count, top);
    let rows = rows
        .into_iter()
        .map(|(key, (stats, pids))| ByEndpoint {
            direction: key.direction,
            local: key.local_text(),
            remote: key.remote_text(),
            stats,
            pids,
        })
        .collect();
    (rows, total)
}

fn port_range(snapshot: &Snapshot) -> Option<PortRange> {
    let (low, high) = snapshot.sysctls.ip_local_port_range?;
    Some(PortRange {
        low,
        high,
        size: snapshot.sysctls.port_range_size()?,
    })
}

type PoolKey = (IpAddr, SocketAddr);

/// Ports in use per outbound (source ip, destination) pool, over every socket of the
/// snapshot (filters do not hide the sockets that hold ports). Value: (in use, TIME_WAIT).
fn pool_usage(context: &Context, range: Option<&PortRange>) -> HashMap<PoolKey, (u64, u64)> {
    let mut usage: HashMap<PoolKey, (u64, u64)> = HashMap::default();
    for socket in &context.snapshot.sockets {
        if matches!(socket.state, TcpState::Listen | TcpState::Close) {
            continue;
        }
        let port = socket.local.port();
        if range.is_some_and(|r| port < r.low || port > r.high) {
            continue;
        }
        if context.direction(socket) == Direction::Outbound {
            let entry = usage.entry((socket.local.ip(), socket.remote)).or_default();
            entry.0 += 1;
            entry.1 += u64::from(socket.state == TcpState::TimeWait);
        }
    }
    usage
}

fn headroom(range: Option<&PortRange>, in_use: u64) -> (Option<i64>, Option<f64>) {
    match range {
        Some(r) => {
            let left = i64::from(r.size) - in_use as i64;
            (Some(left), Some(in_use as f64 * 100.0 / f64::from(r.size)))
        }
        None => (None, None),
    }
}

fn time_wait(
    context: &Context,
    usage: &HashMap<PoolKey, (u64, u64)>,
    range: Option<PortRange>,
    top: usize,
) -> TimeWaitSection {
    let mut pools: HashMap<PoolKey, GroupStats> = HashMap::default();
    let mut inbound: HashMap<EndpointKey, (GroupStats, Vec<u32>)> = HashMap::default();
    let mut total = 0;
    for socket in context.with_state(TcpState::TimeWait) {
        total += 1;
        let key = context.endpoint(socket);
        match key.direction {
            Direction::Outbound => accumulate(
                pools.entry((socket.local.ip(), socket.remote)).or_default(),
                socket,
            ),
            Direction::Inbound => accumulate(&mut inbound.entry(key).or_default().0, socket),
        }
    }
    let (rows, outbound_pool_groups) = top_groups(pools, |s| s.count, top);
    let outbound_pools = rows
        .into_iter()
        .map(|((source, destination), stats)| {
            let in_use = usage
                .get(&(source, destination))
                .map_or(stats.count, |u| u.0);
            let (headroom, usage_percent) = headroom(range.as_ref(), in_use);
            TimeWaitPool {
                source: source.to_string(),
                destination: destination.to_string(),
                rate_estimate_per_s: stats.count as f64 / TIME_WAIT_SECONDS,
                max_sustainable_rate_per_s: range
                    .as_ref()
                    .map(|r| f64::from(r.size) / TIME_WAIT_SECONDS),
                stats,
                ports_in_use: in_use,
                headroom,
                usage_percent,
            }
        })
        .collect();
    let (inbound, inbound_groups) = endpoint_rows(inbound, top);
    TimeWaitSection {
        total,
        owner_note: "TIME_WAIT sockets belong to no process (the application has closed them); \
                     they are grouped by destination instead",
        tcp_max_tw_buckets: context.snapshot.sysctls.tcp_max_tw_buckets,
        port_range: range,
        outbound_pools,
        outbound_pool_groups,
        inbound,
        inbound_groups,
    }
}

fn ports(
    usage: HashMap<PoolKey, (u64, u64)>,
    range: Option<PortRange>,
    top: usize,
) -> PortsSection {
    let (rows, pool_groups) = top_groups(usage, |u| u.0, top);
    let pools = rows
        .into_iter()
        .map(|((source, destination), (in_use, time_wait))| {
            let (headroom, usage_percent) = headroom(range.as_ref(), in_use);
            PortPool {
                source: source.to_string(),
                destination: destination.to_string(),
                ports_in_use: in_use,
                time_wait,
                headroom,
                usage_percent,
            }
        })
        .collect();
    PortsSection {
        port_range: range,
        pools,
        pool_groups,
    }
}

fn fin_wait_2(context: &Context, top: usize) -> FinWait2Section {
    let mut section = FinWait2Section {
        tcp_fin_timeout_s: context.snapshot.sysctls.tcp_fin_timeout,
        ..Default::default()
    };
    let mut orphaned: HashMap<EndpointKey, (GroupStats, Vec<u32>)> = HashMap::default();
    for socket in context.with_state(TcpState::FinWait2) {
        section.total += 1;
        if socket.is_orphan() {
            section.orphaned += 1;
            accumulate(
                &mut orphaned.entry(context.endpoint(socket)).or_default().0,
                socket,
            );
        } else {
            section.owned += 1;
        }
    }
    (section.orphaned_by_remote, section.orphaned_remote_groups) = endpoint_rows(orphaned, top);
    section
}

fn listeners(context: &Context, top: usize) -> ListenSection {
    let mut section = ListenSection::default();
    let mut queued = Vec::new();
    for socket in context.with_state(TcpState::Listen) {
        section.total += 1;
        if socket.recv_q > 0 {
            queued.push(socket);
        }
    }
    queued.sort_by(|a, b| b.recv_q.cmp(&a.recv_q).then_with(|| a.local.cmp(&b.local)));
    section.queued = queued
        .into_iter()
        .take(top)
        .map(|socket| ListenQueue {
            local: socket.local.to_string(),
            accept_queue: u64::from(socket.recv_q),
            backlog: u64::from(socket.send_q),
            owner: context.owner(context.owner_id(socket)).0,
        })
        .collect();
    section
}

fn attribution(context: &Context) -> Attribution {
    let owners = context.owners();
    let mut result = Attribution {
        root: context.snapshot.root,
        unreadable_pids: owners.unreadable_pids,
        ..Default::default()
    };
    for socket in context.selected.iter().filter(|s| s.inode != 0) {
        if owners.owner(socket.inode).is_some() {
            result.attributed_sockets += 1;
        } else {
            result.unattributed_sockets += 1;
        }
    }
    if result.unattributed_sockets > 0 {
        result.note = Some(if result.root {
            let n = result.unattributed_sockets;
            format!(
                "{} {} not found in any /proc/PID/fd: closed while the doctor ran, or held by a \
                 process in another pid namespace",
                crate::findings::sockets(n),
                if n == 1 { "was" } else { "were" }
            )
        } else {
            format!(
                "process attribution needs root: {} could not be mapped to a process ({} \
                 processes' /proc/PID/fd unreadable); they are grouped by uid instead. Run \
                 `sudo tcpwave doctor` to see pids and commands",
                crate::findings::sockets(result.unattributed_sockets),
                result.unreadable_pids
            )
        });
    }
    result
}

fn filter_summary(filters: &Filters) -> FilterSummary {
    use crate::filter::ProcessFilter;
    FilterSummary {
        states: filters.states.iter().map(|s| s.name()).collect(),
        process: filters.process.as_ref().map(|p| match p {
            ProcessFilter::Pid(pid) => pid.to_string(),
            ProcessFilter::Command(name) => name.clone(),
        }),
        dst: filters.dst.as_ref().map(|d| match (d.ip, d.port) {
            (Some(ip), Some(port)) => SocketAddr::new(ip, port).to_string(),
            (Some(ip), None) => ip.to_string(),
            (None, Some(port)) => format!(":{port}"),
            (None, None) => String::new(),
        }),
    }
}

mod growth;
pub use growth::{growth_counts, GrowthKey};

#[cfg(test)]
mod tests;
