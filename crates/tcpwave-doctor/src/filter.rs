//! `--state`, `--process` and `--dst`: which sockets the report looks at.

use crate::error::{DoctorError, Result};
use crate::netlink::ALL_STATES_MASK;
use crate::owners::Owners;
use crate::socket::{Socket, TcpState};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// Which process: a pid, or a command name (substring of `/proc/PID/comm`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessFilter {
    Pid(u32),
    Command(String),
}

/// A remote endpoint: an address, a port (`:6379`), or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DstFilter {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
}

/// All filters together. The default keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// Empty: every state.
    pub states: Vec<TcpState>,
    pub process: Option<ProcessFilter>,
    pub dst: Option<DstFilter>,
}

impl Filters {
    /// The sock_diag mask for the states asked for (the kernel does the filtering).
    pub fn states_mask(&self) -> u32 {
        if self.states.is_empty() {
            return ALL_STATES_MASK;
        }
        self.states.iter().fold(0, |mask, s| mask | s.mask_bit())
    }

    /// Whether a socket passes every filter.
    pub fn matches(&self, socket: &Socket, owners: &Owners) -> bool {
        if !self.states.is_empty() && !self.states.contains(&socket.state) {
            return false;
        }
        if let Some(dst) = &self.dst {
            if !dst.matches(socket.remote) {
                return false;
            }
        }
        match &self.process {
            None => true,
            Some(filter) => match owners.owner(socket.inode) {
                None => false,
                Some(process) => match filter {
                    ProcessFilter::Pid(pid) => process.pid == *pid,
                    ProcessFilter::Command(name) => process.command.contains(name.as_str()),
                },
            },
        }
    }
}

/// Parses `--state` values: comma-separated, repeatable (`close-wait,time-wait`). An empty
/// value is refused: it would silently mean every state.
pub fn parse_states(values: &[String]) -> Result<Vec<TcpState>> {
    let invalid = |value: &str| DoctorError::InvalidOption {
        option: "--state",
        value: value.to_string(),
        hint: "use one of established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
               time-wait, close, close-wait, last-ack, listen, closing \
               (comma-separated for several); leave --state out for every state"
            .into(),
    };
    let mut states = Vec::new();
    for value in values {
        if value.split(',').all(|part| part.trim().is_empty()) {
            return Err(invalid(value));
        }
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let state = TcpState::parse(part).ok_or_else(|| invalid(part))?;
            if !states.contains(&state) {
                states.push(state);
            }
        }
    }
    Ok(states)
}

/// Parses `--process`: all digits is a pid, anything else a command name.
pub fn parse_process(value: &str) -> Result<ProcessFilter> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DoctorError::InvalidOption {
            option: "--process",
            value: value.into(),
            hint: "give a pid (4711) or a command name as shown by `ps -o comm` (redis-server)"
                .into(),
        });
    }
    match value.parse::<u32>() {
        Ok(pid) => Ok(ProcessFilter::Pid(pid)),
        Err(_) => Ok(ProcessFilter::Command(value.to_string())),
    }
}

/// Checks that a process `--process` names is running now (pids and command names as in
/// `proc_root`, normally /proc): a filter on a process that is not there would give an
/// empty report that looks healthy, and a monitoring script would take it for good news.
pub fn check_process_running(filter: &ProcessFilter, proc_root: &Path) -> Result<()> {
    let (value, running, hint) = match filter {
        ProcessFilter::Pid(pid) => (
            pid.to_string(),
            proc_root.join(pid.to_string()).is_dir(),
            format!("no process has pid {pid} (has it exited? check with `ps -p {pid}`)"),
        ),
        ProcessFilter::Command(name) => (
            name.clone(),
            any_command_contains(proc_root, name),
            format!(
                "no running command name contains {name:?} (check with `pgrep -l {name}`; \
                 the kernel keeps the first 15 bytes of a name)"
            ),
        ),
    };
    if running {
        return Ok(());
    }
    Err(DoctorError::NoSuchProcess { value, hint })
}

/// Whether any `proc_root/PID/comm` contains `name`.
fn any_command_contains(proc_root: &Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        is_pid
            && std::fs::read_to_string(entry.path().join("comm"))
                .is_ok_and(|command| command.trim_end().contains(name))
    })
}

/// Parses `--dst`: `192.0.2.3`, `192.0.2.3:6379`, `:6379`, `2001:db8::1`, `[2001:db8::1]:443`.
pub fn parse_dst(value: &str) -> Result<DstFilter> {
    let value = value.trim();
    let invalid = || DoctorError::InvalidOption {
        option: "--dst",
        value: value.to_string(),
        hint: "give an address (192.0.2.3), an address and port (192.0.2.3:6379, \
               [2001:db8::1]:443) or a port alone (:6379)"
            .into(),
    };
    if let Some(port) = value.strip_prefix(':').filter(|rest| !rest.contains(':')) {
        let port = port.parse().map_err(|_| invalid())?;
        return Ok(DstFilter {
            ip: None,
            port: Some(port),
        });
    }
    if let Ok(address) = value.parse::<SocketAddr>() {
        let ip = crate::socket::canonical_ip(address.ip());
        return Ok(DstFilter {
            ip: Some(ip),
            port: Some(address.port()),
        });
    }
    match value
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => Ok(DstFilter {
            ip: Some(crate::socket::canonical_ip(ip)),
            port: None,
        }),
        Err(_) => Err(invalid()),
    }
}

impl DstFilter {
    pub fn matches(&self, remote: SocketAddr) -> bool {
        self.ip.map_or(true, |ip| ip == remote.ip())
            && self.port.map_or(true, |p| p == remote.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_in_every_spelling() {
        let values = vec!["close-wait,TIME_WAIT".to_string(), "estab".to_string()];
        let states = parse_states(&values).unwrap();
        assert_eq!(
            states,
            [
                TcpState::CloseWait,
                TcpState::TimeWait,
                TcpState::Established
            ]
        );
        let mask = Filters {
            states,
            ..Default::default()
        }
        .states_mask();
        assert_eq!(mask, 1 << 8 | 1 << 6 | 1 << 1);
        assert_eq!(Filters::default().states_mask(), ALL_STATES_MASK);
    }

    #[test]
    fn unknown_state_says_what_is_valid() {
        let error = parse_states(&["close-wiat".to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("close-wiat") && error.contains("close-wait"),
            "{error}"
        );
    }

    #[test]
    fn dst_forms() {
        let dst = parse_dst("192.0.2.3:6379").unwrap();
        assert!(dst.matches("192.0.2.3:6379".parse().unwrap()));
        assert!(!dst.matches("192.0.2.3:6380".parse().unwrap()));
        let port_only = parse_dst(":6379").unwrap();
        assert!(port_only.matches("198.51.100.7:6379".parse().unwrap()));
        let ip_only = parse_dst("192.0.2.3").unwrap();
        assert!(ip_only.matches("192.0.2.3:1".parse().unwrap()));
        let v6 = parse_dst("[2001:db8::1]:443").unwrap();
        assert!(v6.matches("[2001:db8::1]:443".parse().unwrap()));
        assert!(parse_dst("2001:db8::1").unwrap().port.is_none());
        assert!(parse_dst("::ffff:192.0.2.3")
            .unwrap()
            .matches("192.0.2.3:5".parse().unwrap()));
        for bad in ["", "host.example", ":99999", "1.2.3.4:x"] {
            assert!(parse_dst(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn process_forms() {
        assert_eq!(parse_process("4711").unwrap(), ProcessFilter::Pid(4711));
        assert_eq!(
            parse_process("redis").unwrap(),
            ProcessFilter::Command("redis".into())
        );
        assert!(parse_process(" ").is_err());
    }
}
