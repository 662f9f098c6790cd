//! A `netstat` of the engine: its listeners, connections and TIME_WAIT entries, laid out
//! like `ss -tan` with the running timer.

use std::fmt::Write as _;

use tcpwave::{Instant, SocketInfo, State};

use crate::runtime::Stack;

/// The table for a stack now.
pub fn render(stack: &Stack) -> String {
    let (rows, now) = stack.with_endpoint(|ep, now| (ep.snapshot(), now));
    render_rows(&rows, now)
}

/// The table for a stack now, or nothing when it has no sockets (no bare header).
pub fn render_if_any(stack: &Stack) -> String {
    let (rows, now) = stack.with_endpoint(|ep, now| (ep.snapshot(), now));
    if rows.is_empty() {
        return String::new();
    }
    render_rows(&rows, now)
}

/// The table for rows taken at `now`.
pub fn render_rows(rows: &[SocketInfo], now: Instant) -> String {
    let mut out = format!(
        "{:<12} {:>7} {:>7} {:<22} {:<22} {}\n",
        "State", "Recv-Q", "Send-Q", "Local", "Peer", "Timer"
    );
    for row in rows {
        let peer = if row.state == State::Listen {
            format!("{}:*", row.remote.ip())
        } else {
            row.remote.to_string()
        };
        let timer = row.timer.map_or(String::from("-"), |at| {
            let left = at.saturating_since(now);
            format!(
                "in {}.{:03}s",
                left.total_secs(),
                left.total_millis() % 1000
            )
        });
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>7} {:<22} {:<22} {timer}",
            row.state.name(),
            row.recv_queue,
            row.send_queue,
            row.local.to_string(),
            peer
        );
    }
    out
}

/// How many rows are in each state, e.g. `ESTABLISHED 2, TIME_WAIT 1`.
pub fn state_counts(rows: &[SocketInfo]) -> String {
    let mut parts = Vec::new();
    for state in State::ALL {
        let n = rows.iter().filter(|r| r.state == state).count();
        if n > 0 {
            parts.push(format!("{} {n}", state.name()));
        }
    }
    if parts.is_empty() {
        "no sockets".to_string()
    } else {
        parts.join(", ")
    }
}
