//! The kernel's side of a namespace, read the operator's way: `ss -tani` run inside it.

use std::process::{Command, Stdio};

use tcpwave::State;

use crate::error::TunError;

/// One kernel TCP socket as `ss` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSocket {
    /// `ss`'s state name: ESTAB, FIN-WAIT-2, TIME-WAIT, CLOSE-WAIT, LAST-ACK, LISTEN, ...
    pub state: String,
    pub recv_q: u64,
    pub send_q: u64,
    pub local: String,
    pub peer: String,
    /// The `-i` line: `ts sack cubic wscale:7,7 rto:204 mss:1448 ...` (may be empty).
    pub info: String,
}

impl KernelSocket {
    /// The same state in the engine's names (TIME-WAIT -> TIME_WAIT, ESTAB -> ESTABLISHED).
    pub fn engine_state(&self) -> Option<State> {
        state_from_ss(&self.state)
    }

    /// True when `local` or `peer` ends with `:port`.
    pub fn has_port(&self, port: u16) -> bool {
        let suffix = format!(":{port}");
        self.local.ends_with(&suffix) || self.peer.ends_with(&suffix)
    }
}

/// Maps `ss` state names to RFC 9293 states.
pub fn state_from_ss(name: &str) -> Option<State> {
    Some(match name {
        "ESTAB" => State::Established,
        "SYN-SENT" => State::SynSent,
        "SYN-RECV" => State::SynReceived,
        "FIN-WAIT-1" => State::FinWait1,
        "FIN-WAIT-2" => State::FinWait2,
        "TIME-WAIT" => State::TimeWait,
        "CLOSE" | "UNCONN" => State::Closed,
        "CLOSE-WAIT" => State::CloseWait,
        "LAST-ACK" => State::LastAck,
        "LISTEN" => State::Listen,
        "CLOSING" => State::Closing,
        _ => return None,
    })
}

/// Every TCP socket of network namespace `netns` (`ip netns exec NETNS ss -taniH`).
pub fn ss(netns: &str) -> Result<Vec<KernelSocket>, TunError> {
    let command = format!("ip netns exec {netns} ss -taniH");
    let output = Command::new("ip")
        .args(["netns", "exec", netns, "ss", "-taniH"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TunError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(TunError::Command {
            command,
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(parse_ss(&String::from_utf8_lossy(&output.stdout)))
}

/// Parses `ss -taniH`: a socket line, optionally followed by an indented info line.
pub fn parse_ss(text: &str) -> Vec<KernelSocket> {
    let mut sockets: Vec<KernelSocket> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = sockets.last_mut() {
                if !last.info.is_empty() {
                    last.info.push(' ');
                }
                last.info.push_str(line.trim());
            }
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 {
            continue;
        }
        sockets.push(KernelSocket {
            state: fields[0].to_string(),
            recv_q: fields[1].parse().unwrap_or(0),
            send_q: fields[2].parse().unwrap_or(0),
            local: fields[3].to_string(),
            peer: fields[4].to_string(),
            info: fields[5..].join(" "),
        });
    }
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sockets_and_info_lines() {
        let text = "LISTEN 0 128 192.0.2.1:8080 0.0.0.0:*\n\
            \t cubic rto:1000 mss:536\n\
            TIME-WAIT 0 0 192.0.2.1:8080 192.0.2.2:40001\n\
            ESTAB 0 0 192.0.2.1:8080 192.0.2.2:40002\n\
            \t ts sack cubic wscale:7,7 rto:204 mss:1448\n";
        let s = parse_ss(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].engine_state(), Some(State::Listen));
        assert_eq!(s[1].state, "TIME-WAIT");
        assert!(s[1].has_port(40001));
        assert!(s[2].info.contains("wscale:7,7"), "{:?}", s[2]);
        assert_eq!(state_from_ss("CLOSE-WAIT"), Some(State::CloseWait));
    }
}
