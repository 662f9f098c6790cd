//! `tcpwave plan`: capacity arithmetic for short connections.
//!
//! A client connection holds its ephemeral port for its lifetime L, and — when the client
//! closes first — for the TIME_WAIT length T after it (60 s on Linux). One pool of ports
//! serves one (source ip, destination ip, destination port) triple, so in steady state a pool
//! holds `rate_per_pool × (L + T)` ports, and `connect()` starts failing with EADDRNOTAVAIL
//! once that exceeds the pool: at `ports / (L + T)` new connections per second
//! (28232 / 60 s ≈ 470/s with the default range). [`compute`] is pure so that `tcpwave plan`
//! and the simulator's port-exhaustion scenario use the same numbers.

use serde::Serialize;

pub mod render;

/// TIME_WAIT length on Linux (`TCP_TIMEWAIT_LEN`), seconds.
pub const LINUX_TIME_WAIT_S: f64 = 60.0;
/// With `tcp_tw_reuse`, connect() may reuse a TIME_WAIT tuple whose last timestamp is more
/// than this old (Linux `tcp_twsk_unique`), seconds.
pub const TW_REUSE_AFTER_S: f64 = 1.0;
/// Netfilter conntrack keeps a closed connection this long (`nf_conntrack_tcp_timeout_time_wait`).
pub const CONNTRACK_TIME_WAIT_S: f64 = 120.0;
/// Size of one kernel TIME_WAIT entry (`tw_sock_TCP` slab object), bytes.
pub const TIME_WAIT_ENTRY_BYTES: u64 = 256;
/// Default `ip_local_port_range`.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (32768, 60999);
/// Default `tcp_max_tw_buckets` on a 24 GiB host.
pub const DEFAULT_MAX_TW_BUCKETS: f64 = 131072.0;
/// The highest request rate plan accepts: far beyond any one host, and small enough that
/// every figure stays a finite number (1e308 would print `inf` and JSON `null`).
pub const RATE_MAX_PER_S: f64 = 1e9;
/// The longest lifetime or TIME_WAIT plan accepts, seconds (about 115 days).
pub const DURATION_MAX_S: f64 = 1e7;
/// The widest sensible port range, for the "widen the range" remedy.
pub const WIDE_PORT_RANGE: (u16, u16) = (1024, 65535);

/// Which side calls close() first (and so keeps TIME_WAIT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Closer {
    /// The client (active opener) closes first: TIME_WAIT holds the client's port.
    #[default]
    Client,
    /// The server closes first: TIME_WAIT is on the server; client ports free at once.
    Server,
}

/// The workload to plan for. See [`PlanInput::default`] for the defaults.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanInput {
    /// Requests per second, all pools together (> 0).
    pub rate_per_s: f64,
    /// How long one connection stays open, seconds (≥ 0).
    pub lifetime_s: f64,
    /// TIME_WAIT length, seconds (≥ 0; Linux: 60, not tunable).
    pub time_wait_s: f64,
    /// Ephemeral port range, inclusive (`ip_local_port_range`).
    pub port_low: u16,
    pub port_high: u16,
    /// Source addresses the client spreads over (≥ 1).
    pub sources: u32,
    /// Distinct destinations (ip:port) the client spreads over (≥ 1).
    pub destinations: u32,
    /// Requests carried by one connection (keep-alive; ≥ 1).
    pub requests_per_conn: u32,
    /// `net.ipv4.tcp_tw_reuse=1` on the client (with timestamps).
    pub tw_reuse: bool,
    pub closer: Closer,
}

impl Default for PlanInput {
    fn default() -> Self {
        PlanInput {
            rate_per_s: 1.0,
            lifetime_s: 0.0,
            time_wait_s: LINUX_TIME_WAIT_S,
            port_low: DEFAULT_PORT_RANGE.0,
            port_high: DEFAULT_PORT_RANGE.1,
            sources: 1,
            destinations: 1,
            requests_per_conn: 1,
            tw_reuse: false,
            closer: Closer::Client,
        }
    }
}

/// Inputs that cannot be planned for. Each message says what to give instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The rate is zero, negative, not a number, or beyond [`RATE_MAX_PER_S`].
    #[error("--rate must be a positive number of requests per second, at most {RATE_MAX_PER_S:e} (got {})", shown(*.0))]
    RateNotPositive(f64),
    /// A duration is negative, not a number, or beyond [`DURATION_MAX_S`].
    #[error("{option} must be zero or a positive number of seconds, at most {DURATION_MAX_S:e} (got {})", shown(*value))]
    BadDuration { option: &'static str, value: f64 },
    /// The port range is empty: its low end is above its high end.
    #[error("--port-range {low}-{high} is empty: LOW must not exceed HIGH; give LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. 32768-60999")]
    EmptyPortRange { low: u32, high: u32 },
    /// A port of the range is 0 or above 65535.
    #[error("--port-range {low}-{high} is out of range: ports must be 1..=65535; give LOW-HIGH like 32768-60999 (the widest is 1024-65535 for client ports)")]
    PortOutOfRange { low: u64, high: u64 },
    /// The port range could not be read.
    #[error("--port-range {0:?} is not LOW-HIGH: write it like 32768-60999")]
    PortRangeSyntax(String),
    /// A count (sources, destinations, requests per connection) is zero.
    #[error("{option} must be at least 1 (got 0)")]
    ZeroCount { option: &'static str },
}

/// A number as the user could have typed it: 1e308, not 309 digits.
fn shown(value: f64) -> String {
    if value.abs() >= 1e9 {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// One way to raise the sustainable rate, with its computed effect.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Remedy {
    /// 1 = try first.
    pub rank: u32,
    /// Stable identifier: keep-alive, source-addresses, port-range, tw-reuse, so-linger-zero.
    pub code: &'static str,
    /// The change, with the numbers for this workload.
    pub change: String,
    /// Highest request rate per second after the change; null = no longer limited by ports.
    pub max_request_rate_per_s: Option<f64>,
    /// Whether the change alone carries the requested rate.
    pub sufficient: bool,
    pub caveat: String,
}

/// The plan. Rates are per second, durations in seconds, "per pool" means per (source ip,
/// destination ip:port).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    pub schema: &'static str,
    pub input: PlanInput,
    /// New connections per second: rate / requests per connection.
    pub connection_rate_per_s: f64,
    /// sources × destinations.
    pub pools: u64,
    /// New connections per second per pool (load spread evenly).
    pub connection_rate_per_pool_per_s: f64,
    /// Ports per pool: high − low + 1.
    pub ports_per_pool: u32,
    /// Which side keeps TIME_WAIT.
    pub time_wait_holder: Closer,
    /// TIME_WAIT that holds a client port: T, 1 s with tw_reuse, 0 when the server closes.
    pub effective_time_wait_s: f64,
    /// How long one connection holds its client port: lifetime + effective TIME_WAIT.
    pub port_hold_s: f64,
    /// Steady-state ports in use per pool: rate per pool × port hold (R·(L+T)).
    pub ports_in_use_per_pool: f64,
    /// Ports per pool − ports in use; negative means connect() fails.
    pub headroom_per_pool: f64,
    pub usage_percent: f64,
    /// Predicted onset of EADDRNOTAVAIL for one pool: ports / port hold, new connections per
    /// second. Null when connections hold no port beyond an instant (nothing to exhaust).
    pub eaddrnotavail_onset_rate_per_pool_per_s: Option<f64>,
    /// The highest request rate the whole setup sustains: onset × pools × requests per conn.
    pub max_request_rate_per_s: Option<f64>,
    pub sustainable: bool,
    /// From a cold start at the requested rate, seconds until a pool runs out (null if never).
    pub time_to_exhaustion_s: Option<f64>,
    /// TIME_WAIT entries on the closing side: connection rate × T, capped by the tuples,
    /// rounded to a whole number of entries.
    pub time_wait_entries: u64,
    /// Kernel memory of those entries: 256 B each.
    pub time_wait_memory_bytes: u64,
    /// Netfilter conntrack entries if the host tracks connections: rate × (L + 120 s),
    /// capped by the tuples, rounded to a whole number.
    pub conntrack_entries: u64,
    pub remedies: Vec<Remedy>,
    /// Things to know about this workload.
    pub notes: Vec<String>,
}

/// What the plan says when `--tw-reuse` is given but the server closes first.
pub const TW_REUSE_NO_EFFECT: &str = "tcp_tw_reuse=1 has no effect here: the server closes first, so TIME_WAIT is on the server and holds no client port, and tcp_tw_reuse never helps the accepting side (the figures are the same without it)";

/// Schema identifier of `tcpwave plan --json`.
pub const PLAN_SCHEMA: &str = "tcpwave-plan/1";

/// Parses `LOW-HIGH` (also `LOW:HIGH` or `LOW HIGH`, as the sysctl prints it). Each side
/// is a plain decimal number: `-5-10` is refused, not read as `5-10`.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), PlanError> {
    let syntax = || PlanError::PortRangeSyntax(text.to_string());
    let trimmed = text.trim();
    let (low, high) = match trimmed.split_once(['-', ':']) {
        Some(pair) => pair,
        None => {
            let parts: Vec<&str> = trimmed.split_whitespace().collect();
            let [low, high] = parts.as_slice() else {
                return Err(syntax());
            };
            (*low, *high)
        }
    };
    // All digits: too many of them is a port out of range, not a syntax error.
    let number = |side: &str| -> Result<u64, PlanError> {
        let side = side.trim();
        if side.is_empty() || !side.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        Ok(side.parse().unwrap_or(u64::MAX))
    };
    let (low, high) = (number(low)?, number(high)?);
    check_port_range(low, high)?;
    Ok((low as u16, high as u16))
}

/// Ports are 1..=65535 and LOW ≤ HIGH: out-of-range ports are reported as such before an
/// empty range, so that `0-100` and `1024-70000` say what is wrong with them.
fn check_port_range(low: u64, high: u64) -> Result<(), PlanError> {
    let port = 1..=u64::from(u16::MAX);
    if !port.contains(&low) || !port.contains(&high) {
        return Err(PlanError::PortOutOfRange { low, high });
    }
    if low > high {
        return Err(PlanError::EmptyPortRange {
            low: low as u32,
            high: high as u32,
        });
    }
    Ok(())
}

fn validate(input: &PlanInput) -> Result<(), PlanError> {
    if !(input.rate_per_s > 0.0 && input.rate_per_s <= RATE_MAX_PER_S) {
        return Err(PlanError::RateNotPositive(input.rate_per_s));
    }
    for (option, value) in [
        ("--lifetime", input.lifetime_s),
        ("--time-wait", input.time_wait_s),
    ] {
        if !((0.0..=DURATION_MAX_S).contains(&value)) {
            return Err(PlanError::BadDuration { option, value });
        }
    }
    check_port_range(u64::from(input.port_low), u64::from(input.port_high))?;
    for (option, value) in [
        ("--sources", input.sources),
        ("--destinations", input.destinations),
        ("--requests-per-conn", input.requests_per_conn),
    ] {
        if value == 0 {
            return Err(PlanError::ZeroCount { option });
        }
    }
    Ok(())
}

/// Seconds a connection holds its client port, and the TIME_WAIT part of it.
fn port_hold(input: &PlanInput, tw_reuse: bool) -> (f64, f64) {
    let time_wait = match input.closer {
        Closer::Server => 0.0,
        Closer::Client if tw_reuse => input.time_wait_s.min(TW_REUSE_AFTER_S),
        Closer::Client => input.time_wait_s,
    };
    (input.lifetime_s + time_wait, time_wait)
}

/// Highest request rate for a variant of the input: ports / hold × pools × K.
fn max_request_rate(ports: f64, hold_s: f64, pools: f64, requests_per_conn: f64) -> Option<f64> {
    (hold_s > 0.0).then(|| ports / hold_s * pools * requests_per_conn)
}

/// Steady-state kernel entries of one pool: TIME_WAIT on the closing side and conntrack.
struct PoolEntries {
    time_wait: f64,
    conntrack: f64,
    /// The client ports the pool's connections cycle through (see [`tuple_entries`]).
    tuples: f64,
}

/// Each TIME_WAIT (or conntrack) entry belongs to one 4-tuple, and one pool has one tuple
/// per client port, so rate × duration is capped by the ports (R·T alone would count 30000
/// entries at 500/s for 28232 ports). Connections beyond the onset fail (EADDRNOTAVAIL)
/// and leave no entry: the rate that counts is the one the pool carries.
///
/// When a port can be taken again while its tuple is still in TIME_WAIT — the client's
/// with tcp_tw_reuse (after 1 s), the server's when it closes first (RFC 6191) — the new
/// connection replaces the old entry, and Linux's connect() (`__inet_hash_connect`) tries
/// the ports of the range's low parity first, so while that half can carry the load the
/// connections cycle through half the range only, and so do the entries.
fn tuple_entries(
    input: &PlanInput,
    ports: f64,
    rate_per_pool: f64,
    onset: Option<f64>,
) -> PoolEntries {
    let carried = onset.map_or(rate_per_pool, |onset| rate_per_pool.min(onset));
    let open = carried * input.lifetime_s;
    let (hold, _) = port_hold(input, input.tw_reuse);
    let recycles = input.closer == Closer::Server || input.tw_reuse;
    let low_parity = (ports / 2.0).ceil();
    let tuples = if recycles && carried * hold <= low_parity {
        low_parity
    } else {
        ports
    };
    let free = (tuples - open).max(0.0);
    PoolEntries {
        time_wait: (carried * input.time_wait_s).min(free),
        conntrack: (carried * (input.lifetime_s + CONNTRACK_TIME_WAIT_S)).min(tuples),
        tuples,
    }
}

/// A count of entries: the nearest whole number (the inputs are bounded, so it fits).
fn whole(count: f64) -> u64 {
    count.round().max(0.0) as u64
}

/// Computes the plan. Pure: same input, same output.
pub fn compute(input: &PlanInput) -> Result<PlanReport, PlanError> {
    validate(input)?;
    let ports = f64::from(u32::from(input.port_high) - u32::from(input.port_low) + 1);
    let pools = u64::from(input.sources) * u64::from(input.destinations);
    let connection_rate = input.rate_per_s / f64::from(input.requests_per_conn);
    let rate_per_pool = connection_rate / pools as f64;
    let (hold, effective_time_wait) = port_hold(input, input.tw_reuse);
    let in_use = rate_per_pool * hold;
    let onset = (hold > 0.0).then(|| ports / hold);
    let max_rate = max_request_rate(
        ports,
        hold,
        pools as f64,
        f64::from(input.requests_per_conn),
    );
    let sustainable = in_use <= ports;
    let entries = tuple_entries(input, ports, rate_per_pool, onset);
    let mut report = PlanReport {
        schema: PLAN_SCHEMA,
        input: input.clone(),
        connection_rate_per_s: connection_rate,
        pools,
        connection_rate_per_pool_per_s: rate_per_pool,
        ports_per_pool: ports as u32,
        time_wait_holder: input.closer,
        effective_time_wait_s: effective_time_wait,
        port_hold_s: hold,
        ports_in_use_per_pool: in_use,
        headroom_per_pool: ports - in_use,
        usage_percent: in_use * 100.0 / ports,
        eaddrnotavail_onset_rate_per_pool_per_s: onset,
        max_request_rate_per_s: max_rate,
        sustainable,
        time_to_exhaustion_s: (!sustainable).then(|| ports / rate_per_pool),
        time_wait_entries: whole(entries.time_wait * pools as f64),
        time_wait_memory_bytes: whole(entries.time_wait * pools as f64) * TIME_WAIT_ENTRY_BYTES,
        conntrack_entries: whole(entries.conntrack * pools as f64),
        remedies: Vec::new(),
        notes: Vec::new(),
    };
    report.remedies = remedies(input, &report);
    report.notes = notes(input, &report, &entries);
    Ok(report)
}

fn remedies(input: &PlanInput, report: &PlanReport) -> Vec<Remedy> {
    // Connections that hold no port beyond an instant cannot exhaust a pool: no change to
    // the ports would raise a limit that does not exist, so there is nothing to advise.
    if report.max_request_rate_per_s.is_none() {
        return Vec::new();
    }
    let ports = f64::from(report.ports_per_pool);
    let pools = report.pools as f64;
    let k = f64::from(input.requests_per_conn);
    let (hold, _) = port_hold(input, input.tw_reuse);
    let fits = |rate: Option<f64>| rate.map_or(true, |r| r >= input.rate_per_s);
    let mut list = Vec::new();

    // 1. Keep-alive: fewer connections for the same requests.
    let needed_k = match report.max_request_rate_per_s {
        Some(max) if max < input.rate_per_s => (k * input.rate_per_s / max).ceil().max(k + 1.0),
        _ => k.max(10.0),
    };
    let rate = max_request_rate(ports, hold, pools, needed_k);
    list.push(Remedy {
        rank: 1,
        code: "keep-alive",
        change: format!("reuse connections: {needed_k:.0} requests per connection (HTTP keep-alive, a connection pool)"),
        max_request_rate_per_s: rate,
        sufficient: fits(rate),
        caveat: "pooled connections must be health-checked and evicted when the server closes them (or they turn into CLOSE_WAIT)".into(),
    });

    // 2. More source addresses: more pools per destination.
    let per_destination = report.connection_rate_per_s / f64::from(input.destinations);
    let needed_sources = match hold > 0.0 {
        true => (per_destination * hold / ports)
            .ceil()
            .max(f64::from(input.sources) + 1.0),
        false => f64::from(input.sources),
    };
    let rate = max_request_rate(
        ports,
        hold,
        needed_sources * f64::from(input.destinations),
        k,
    );
    list.push(Remedy {
        rank: 2,
        code: "source-addresses",
        change: format!(
            "spread over {needed_sources:.0} source address{} (or more destination ip:ports)",
            if needed_sources == 1.0 { "" } else { "es" }
        ),
        max_request_rate_per_s: rate,
        sufficient: fits(rate),
        caveat: "bind() each socket to its source address with IP_BIND_ADDRESS_NO_PORT set first; otherwise bind() picks a port that is then reserved for every destination".into(),
    });

    // 3. A wider port range.
    let wide = f64::from(WIDE_PORT_RANGE.1 - WIDE_PORT_RANGE.0 + 1);
    let rate = max_request_rate(wide.max(ports), hold, pools, k);
    list.push(Remedy {
        rank: 3,
        code: "port-range",
        change: format!(
            "net.ipv4.ip_local_port_range = \"{} {}\" ({wide:.0} ports per pool)",
            WIDE_PORT_RANGE.0, WIDE_PORT_RANGE.1
        ),
        max_request_rate_per_s: rate,
        sufficient: fits(rate),
        caveat: "keep the ports of local services out of it with net.ipv4.ip_local_reserved_ports"
            .into(),
    });

    list.extend(late_remedies(input, ports, pools, k));
    list
}

fn late_remedies(input: &PlanInput, ports: f64, pools: f64, k: f64) -> Vec<Remedy> {
    let fits = |rate: Option<f64>| rate.map_or(true, |r| r >= input.rate_per_s);
    // 4. tcp_tw_reuse: a TIME_WAIT port is reusable after 1 s.
    let (hold, _) = port_hold(input, true);
    let rate = max_request_rate(ports, hold, pools, k);
    let reuse_caveat = match input.closer {
        Closer::Client if input.tw_reuse => "already on in this plan (--tw-reuse): the figures above include it, nothing more to gain",
        Closer::Client => "helps only the connecting side; needs net.ipv4.tcp_timestamps=1; the default 2 applies to loopback only, so set 1",
        Closer::Server => "no effect here: the server closes first, TIME_WAIT is on the server, and tcp_tw_reuse never helps the accepting side",
    };
    let tw_reuse = Remedy {
        rank: 4,
        code: "tw-reuse",
        change: "net.ipv4.tcp_tw_reuse = 1 on the client".into(),
        max_request_rate_per_s: rate,
        sufficient: fits(rate),
        caveat: reuse_caveat.into(),
    };
    // 5. SO_LINGER {on, 0}: no TIME_WAIT at all (last resort).
    let rate = max_request_rate(ports, input.lifetime_s, pools, k);
    let linger = Remedy {
        rank: 5,
        code: "so-linger-zero",
        change: "SO_LINGER {l_onoff=1, l_linger=0} before close(): abortive close, no TIME_WAIT".into(),
        max_request_rate_per_s: rate,
        sufficient: fits(rate),
        caveat: "LAST RESORT: close() sends RST instead of FIN — unsent and in-flight data is lost, the peer gets ECONNRESET, and the protection TIME_WAIT gives against old duplicate segments is gone".into(),
    };
    vec![tw_reuse, linger]
}

fn notes(input: &PlanInput, report: &PlanReport, entries: &PoolEntries) -> Vec<String> {
    let mut notes = Vec::new();
    let ports = f64::from(report.ports_per_pool);
    let uncapped = report.connection_rate_per_pool_per_s * input.time_wait_s;
    if entries.tuples < ports && entries.time_wait < uncapped {
        notes.push(format!(
            "TIME_WAIT entries stay within {:.0} tuples per pool: a new connection takes over a tuple still in TIME_WAIT ({}), and Linux's connect() tries every other port of the range first; expect somewhat fewer, as the random step between the ports it tries leaves some unused",
            entries.tuples,
            if input.closer == Closer::Server { "the server's, RFC 6191" } else { "tcp_tw_reuse, after 1 s" }
        ));
    } else if entries.time_wait < uncapped {
        notes.push(format!(
            "TIME_WAIT entries are capped by the 4-tuples: one per client port, {ports:.0} per pool ({uncapped:.0} = rate × TIME_WAIT would need more ports than the range has)"
        ));
    }
    if input.closer == Closer::Server {
        notes.push(format!(
            "the server closes first: its TIME_WAIT ({} entries) does not hold client ports; a client SYN reusing a tuple in the server's TIME_WAIT is accepted when its sequence number or timestamp is newer (RFC 6191)",
            report.time_wait_entries
        ));
    }
    if report.time_wait_entries as f64 > DEFAULT_MAX_TW_BUCKETS {
        notes.push(format!(
            "{} TIME_WAIT entries exceed the default tcp_max_tw_buckets ({DEFAULT_MAX_TW_BUCKETS:.0}): beyond it connections skip TIME_WAIT (TCPTimeWaitOverflow)",
            report.time_wait_entries
        ));
    }
    if input.time_wait_s != LINUX_TIME_WAIT_S {
        notes.push(
            "Linux's TIME_WAIT is 60 s and cannot be tuned (tcp_fin_timeout does not change it)"
                .into(),
        );
    }
    if input.tw_reuse && input.closer == Closer::Server {
        notes.push(TW_REUSE_NO_EFFECT.into());
    }
    if report.max_request_rate_per_s.is_none() {
        notes.push("no connection holds a port beyond an instant (no lifetime, no TIME_WAIT on the client): the ports cannot run out, so there are no remedies".into());
    }
    if input.tw_reuse && input.closer == Closer::Client {
        notes.push("with tcp_tw_reuse the port hold uses 1 s of TIME_WAIT: reuse needs timestamps on both ends".into());
    }
    notes
}

#[cfg(test)]
mod tests;
