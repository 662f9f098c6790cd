//! Kernel counters (`/proc/net/snmp`, `/proc/net/netstat`), `/proc/net/sockstat`, and the
//! sysctls that decide how connections end. All of them are per network namespace: they are
//! read through `/proc/thread-self/net` and `/proc/sys/net` from the collecting thread.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The counters that matter for connection lifecycles: (file, group, name, meaning).
pub const COUNTERS: [(&str, &str, &str, &str); 17] = [
    (
        "snmp",
        "Tcp",
        "ActiveOpens",
        "connect()s started (SYN sent)",
    ),
    (
        "snmp",
        "Tcp",
        "PassiveOpens",
        "handshakes completed on a listener (the child socket is created on the final ACK)",
    ),
    (
        "snmp",
        "Tcp",
        "AttemptFails",
        "handshakes that failed: SYN_SENT or SYN_RECV closed (refused, reset, timed out)",
    ),
    (
        "snmp",
        "Tcp",
        "EstabResets",
        "ESTABLISHED/CLOSE_WAIT straight to CLOSED: a reset sent or received, or a timeout",
    ),
    (
        "snmp",
        "Tcp",
        "CurrEstab",
        "connections now in ESTABLISHED (Linux stops counting one at CLOSE_WAIT)",
    ),
    ("snmp", "Tcp", "OutRsts", "resets sent"),
    ("snmp", "Tcp", "RetransSegs", "segments retransmitted"),
    (
        "netstat",
        "TcpExt",
        "TCPAbortOnClose",
        "close() with unread received data: RST sent, the data is lost",
    ),
    (
        "netstat",
        "TcpExt",
        "TCPAbortOnData",
        "RST sent by close() with SO_LINGER {on, 0}, or data arrived after close()/SHUT_RD",
    ),
    (
        "netstat",
        "TcpExt",
        "TCPAbortOnTimeout",
        "given up when retransmissions, zero-window or keepalive probes ran out (ETIMEDOUT)",
    ),
    (
        "netstat",
        "TcpExt",
        "TCPAbortOnLinger",
        "orphaned FIN_WAIT_2 reset at once: TCP_LINGER2 set negative",
    ),
    (
        "netstat",
        "TcpExt",
        "TCPAbortOnMemory",
        "orphans reset: over tcp_max_orphans or TCP memory (tcp_mem)",
    ),
    (
        "netstat",
        "TcpExt",
        "TCPTimeWaitOverflow",
        "TIME_WAIT skipped: tcp_max_tw_buckets full (or no memory)",
    ),
    (
        "netstat",
        "TcpExt",
        "TW",
        "sockets put into TIME_WAIT, or orphaned FIN_WAIT_2 ones handed to the timewait table (counted on entry)",
    ),
    (
        "netstat",
        "TcpExt",
        "TWRecycled",
        "TIME_WAIT tuples reused by connect() (tcp_tw_reuse)",
    ),
    (
        "netstat",
        "TcpExt",
        "ListenOverflows",
        "SYNs/ACKs dropped: accept queue full",
    ),
    (
        "netstat",
        "TcpExt",
        "ListenDrops",
        "SYNs dropped at a listener, any reason",
    ),
];

/// Parses the `Group: names...` / `Group: values...` line pairs of /proc/net/snmp and
/// /proc/net/netstat into (group, name) → value.
pub fn parse_counter_table(text: &str) -> HashMap<(String, String), i64> {
    let mut values = HashMap::new();
    let mut lines = text.lines();
    while let (Some(names), Some(numbers)) = (lines.next(), lines.next()) {
        let (Some((group, names)), Some((group2, numbers))) =
            (names.split_once(':'), numbers.split_once(':'))
        else {
            break;
        };
        if group != group2 {
            break;
        }
        for (name, number) in names.split_whitespace().zip(numbers.split_whitespace()) {
            if let Ok(number) = number.parse::<i64>() {
                values.insert((group.to_string(), name.to_string()), number);
            }
        }
    }
    values
}

/// Reads the [`COUNTERS`] from `<net_dir>/snmp` and `<net_dir>/netstat`. Missing ones are
/// absent from the map (older kernels lack a few).
pub fn read_counters(net_dir: &Path) -> BTreeMap<String, u64> {
    let mut tables = HashMap::new();
    for file in ["snmp", "netstat"] {
        let text = std::fs::read_to_string(net_dir.join(file)).unwrap_or_default();
        tables.insert(file, parse_counter_table(&text));
    }
    let mut counters = BTreeMap::new();
    for (file, group, name, _) in COUNTERS {
        let key = (group.to_string(), name.to_string());
        if let Some(value) = tables.get(file).and_then(|table| table.get(&key)) {
            counters.insert(name.to_string(), (*value).max(0) as u64);
        }
    }
    counters
}

/// The meaning of a counter from [`COUNTERS`].
pub fn counter_meaning(name: &str) -> &'static str {
    COUNTERS.iter().find(|c| c.2 == name).map_or("", |c| c.3)
}

/// The `TCP:` line of /proc/net/sockstat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sockstat {
    /// TCP sockets in use (not counting TIME_WAIT).
    pub inuse: u64,
    /// Orphaned sockets: closed by the application, still finishing (FIN_WAIT, LAST_ACK...).
    pub orphan: u64,
    /// TIME_WAIT entries.
    pub tw: u64,
    /// Allocated TCP sockets.
    pub alloc: u64,
    /// TCP buffer memory, in pages.
    pub mem_pages: u64,
}

pub fn parse_sockstat(text: &str) -> Sockstat {
    let mut stat = Sockstat::default();
    let Some(line) = text.lines().find_map(|l| l.strip_prefix("TCP:")) else {
        return stat;
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    for pair in fields.chunks(2) {
        let [name, value] = pair else { continue };
        let value = value.parse().unwrap_or(0);
        match *name {
            "inuse" => stat.inuse = value,
            "orphan" => stat.orphan = value,
            "tw" => stat.tw = value,
            "alloc" => stat.alloc = value,
            "mem" => stat.mem_pages = value,
            _ => {}
        }
    }
    stat
}

/// The sysctls the review covers. `None`: not present on this kernel (or unreadable).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sysctls {
    pub ip_local_port_range: Option<(u16, u16)>,
    pub tcp_tw_reuse: Option<u64>,
    pub tcp_timestamps: Option<u64>,
    pub tcp_fin_timeout: Option<u64>,
    pub tcp_max_tw_buckets: Option<u64>,
    pub tcp_keepalive_time: Option<u64>,
    pub tcp_keepalive_intvl: Option<u64>,
    pub tcp_keepalive_probes: Option<u64>,
    pub tcp_rfc1337: Option<u64>,
    /// Removed in Linux 4.12: present only on old kernels.
    pub tcp_tw_recycle: Option<u64>,
    pub tcp_max_orphans: Option<u64>,
    pub somaxconn: Option<u64>,
}

impl Sysctls {
    /// What a current Linux kernel has by default (no tcp_tw_recycle: removed in 4.12).
    pub fn linux_defaults() -> Sysctls {
        Sysctls {
            ip_local_port_range: Some((32768, 60999)),
            tcp_tw_reuse: Some(2),
            tcp_timestamps: Some(1),
            tcp_fin_timeout: Some(60),
            tcp_max_tw_buckets: Some(131072),
            tcp_keepalive_time: Some(7200),
            tcp_keepalive_intvl: Some(75),
            tcp_keepalive_probes: Some(9),
            tcp_rfc1337: Some(0),
            tcp_tw_recycle: None,
            tcp_max_orphans: Some(131072),
            somaxconn: Some(4096),
        }
    }

    /// Reads from `<sys_dir>` (normally `/proc/sys`).
    pub fn read(sys_dir: &Path) -> Sysctls {
        let number = |name: &str| -> Option<u64> {
            let path = sys_dir.join(name.replace('.', "/"));
            std::fs::read_to_string(path).ok()?.trim().parse().ok()
        };
        let range = std::fs::read_to_string(sys_dir.join("net/ipv4/ip_local_port_range"))
            .ok()
            .and_then(|text| parse_port_range_sysctl(&text));
        Sysctls {
            ip_local_port_range: range,
            tcp_tw_reuse: number("net.ipv4.tcp_tw_reuse"),
            tcp_timestamps: number("net.ipv4.tcp_timestamps"),
            tcp_fin_timeout: number("net.ipv4.tcp_fin_timeout"),
            tcp_max_tw_buckets: number("net.ipv4.tcp_max_tw_buckets"),
            tcp_keepalive_time: number("net.ipv4.tcp_keepalive_time"),
            tcp_keepalive_intvl: number("net.ipv4.tcp_keepalive_intvl"),
            tcp_keepalive_probes: number("net.ipv4.tcp_keepalive_probes"),
            tcp_rfc1337: number("net.ipv4.tcp_rfc1337"),
            tcp_tw_recycle: number("net.ipv4.tcp_tw_recycle"),
            tcp_max_orphans: number("net.ipv4.tcp_max_orphans"),
            somaxconn: number("net.core.somaxconn"),
        }
    }

    /// Ephemeral ports per (source ip, destination ip:port): 28232 for the default range.
    pub fn port_range_size(&self) -> Option<u32> {
        let (low, high) = self.ip_local_port_range?;
        Some(u32::from(high.saturating_sub(low)) + 1)
    }
}

/// `"32768\t60999\n"` → (32768, 60999).
pub fn parse_port_range_sysctl(text: &str) -> Option<(u16, u16)> {
    let mut parts = text.split_whitespace();
    let low = parts.next()?.parse().ok()?;
    let high = parts.next()?.parse().ok()?;
    (low <= high).then_some((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_tables_pair_names_with_values() {
        let text = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm ActiveOpens MaxConn\nTcp: 1 42 -1\n";
        let table = parse_counter_table(text);
        assert_eq!(table[&("Tcp".into(), "ActiveOpens".into())], 42);
        assert_eq!(table[&("Tcp".into(), "MaxConn".into())], -1);
        assert_eq!(table[&("Ip".into(), "DefaultTTL".into())], 64);
    }

    #[test]
    fn sockstat_tcp_line() {
        let text =
            "sockets: used 120\nTCP: inuse 5 orphan 2 tw 500 alloc 7 mem 3\nUDP: inuse 0 mem 0\n";
        let stat = parse_sockstat(text);
        assert_eq!(
            stat,
            Sockstat {
                inuse: 5,
                orphan: 2,
                tw: 500,
                alloc: 7,
                mem_pages: 3
            }
        );
    }

    #[test]
    fn abort_counters_are_explained_as_linux_counts_them() {
        // __tcp_close: unread data -> TCPAbortOnClose; SO_LINGER {on, 0} -> tcp_disconnect
        // and TCPAbortOnData; an orphaned FIN_WAIT_2 with linger2 < 0 -> TCPAbortOnLinger.
        // tcp_rcv_state_process: data after the receive side is shut -> TCPAbortOnData.
        let close = counter_meaning("TCPAbortOnClose");
        assert!(close.contains("unread"), "{close}");
        let data = counter_meaning("TCPAbortOnData");
        assert!(data.contains("SO_LINGER {on, 0}"), "{data}");
        assert!(data.contains("data arrived after close()"), "{data}");
        let linger = counter_meaning("TCPAbortOnLinger");
        assert!(linger.contains("FIN_WAIT_2"), "{linger}");
        assert!(linger.contains("TCP_LINGER2"), "{linger}");
        assert!(!linger.contains("SO_LINGER"), "{linger}");
        // tcp_set_state decrements CurrEstab on leaving ESTABLISHED, CLOSE_WAIT included.
        let current = counter_meaning("CurrEstab");
        assert!(!current.contains("ESTABLISHED or CLOSE_WAIT"), "{current}");
        for (_, _, name, meaning) in COUNTERS {
            assert!(!meaning.is_empty(), "{name}");
        }
    }

    #[test]
    fn port_range_sysctl() {
        assert_eq!(
            parse_port_range_sysctl("32768\t60999\n"),
            Some((32768, 60999))
        );
        assert_eq!(parse_port_range_sysctl("60999 32768"), None);
        let sysctls = Sysctls {
            ip_local_port_range: Some((32768, 60999)),
            ..Default::default()
        };
        assert_eq!(sysctls.port_range_size(), Some(28232));
    }

    #[test]
    fn reads_this_hosts_counters_and_sysctls() {
        let counters = read_counters(Path::new("/proc/thread-self/net"));
        assert!(counters.contains_key("ActiveOpens"), "{counters:?}");
        let sysctls = Sysctls::read(Path::new("/proc/sys"));
        assert!(sysctls.port_range_size().is_some());
        assert!(sysctls.tcp_fin_timeout.is_some());
    }
}
