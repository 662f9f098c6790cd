//! Fallback socket source: `/proc/net/tcp` and `/proc/net/tcp6` (used when netlink
//! sock_diag is unavailable, e.g. filtered by a seccomp profile). No `tcp_info` here: idle
//! times and in-state ages are then unknown.

use crate::error::{DoctorError, Result};
use crate::socket::{canonical, Socket, TcpState, TimerKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The `tm->when` column counts clock ticks (USER_HZ), which is 100 on every Linux ABI.
const USER_HZ: u64 = 100;

/// Reads `<net_dir>/tcp` and `<net_dir>/tcp6` (the latter is optional) and keeps the sockets
/// whose state is in `states_mask` (the sock_diag bitmask).
pub fn read(net_dir: &Path, states_mask: u32) -> Result<Vec<Socket>> {
    let mut sockets = Vec::new();
    for (file, required) in [("tcp", true), ("tcp6", false)] {
        let path = net_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_table(&text, states_mask, &mut sockets)
                .map_err(|detail| DoctorError::ProcFormat { path, detail })?,
            Err(_) if !required => {}
            Err(err) => return Err(DoctorError::proc(path, err)),
        }
    }
    Ok(sockets)
}

/// Parses one `/proc/net/tcp{,6}` table (header line first).
pub fn parse_table(
    text: &str,
    states_mask: u32,
    out: &mut Vec<Socket>,
) -> std::result::Result<(), String> {
    for (index, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let socket = parse_line(line).ok_or_else(|| format!("line {}: {line:?}", index + 1))?;
        if states_mask & socket.state.mask_bit() != 0 {
            out.push(socket);
        }
    }
    Ok(())
}

fn parse_line(line: &str) -> Option<Socket> {
    let mut fields = line.split_whitespace();
    let _slot = fields.next()?;
    let local = parse_endpoint(fields.next()?)?;
    let remote = parse_endpoint(fields.next()?)?;
    let state = TcpState::from_kernel(u8::from_str_radix(fields.next()?, 16).ok()?)?;
    let (send_q, recv_q) = split_hex_pair(fields.next()?)?;
    let (timer, when_ticks) = split_hex_pair(fields.next()?)?;
    let retransmits = u32::from_str_radix(fields.next()?, 16).ok()?;
    let uid = fields.next()?.parse().ok()?;
    let _timeout = fields.next()?;
    let inode = fields.next()?.parse().ok()?;
    Some(Socket {
        state,
        local: canonical(local),
        remote: canonical(remote),
        recv_q,
        send_q,
        timer: TimerKind::from_kernel(timer as u8),
        timer_ms: (u64::from(when_ticks) * 1000 / USER_HZ).min(u64::from(u32::MAX)) as u32,
        retransmits: retransmits.min(255) as u8,
        uid,
        inode,
        info: None,
    })
}

fn split_hex_pair(field: &str) -> Option<(u32, u32)> {
    let (first, second) = field.split_once(':')?;
    Some((
        u32::from_str_radix(first, 16).ok()?,
        u32::from_str_radix(second, 16).ok()?,
    ))
}

/// `0100007F:1F90` → 127.0.0.1:8080. The kernel prints each 32-bit word of the address as
/// stored in memory (network order) with `%08X`, so a word's native-endian bytes are the
/// address bytes.
fn parse_endpoint(field: &str) -> Option<SocketAddr> {
    let (address, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word_bytes(address)?)),
        32 => {
            let mut octets = [0u8; 16];
            for (index, chunk) in octets.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word_bytes(&address[index * 8..index * 8 + 8])?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn word_bytes(hex: &str) -> Option<[u8; 4]> {
    Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::ALL_STATES_MASK;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    fn word(ip: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip))
    }

    #[test]
    fn parses_a_close_wait_and_a_time_wait_line() {
        let text = format!(
            "{HEADER}   0: {}:1B58 {}:C350 08 00000000:00000005 00:00000000 00000000     0        0 4242 1 0 20 4 30 10 -1\n   1: {}:D431 {}:2382 06 00000000:00000000 03:00000F9F 00000000     0        0 0 3 0\n",
            word([192, 0, 2, 1]),
            word([192, 0, 2, 2]),
            word([192, 0, 2, 1]),
            word([192, 0, 2, 2]),
        );
        let mut sockets = Vec::new();
        parse_table(&text, ALL_STATES_MASK, &mut sockets).unwrap();
        assert_eq!(sockets.len(), 2);
        let close_wait = &sockets[0];
        assert_eq!(close_wait.state, TcpState::CloseWait);
        assert_eq!(close_wait.local, "192.0.2.1:7000".parse().unwrap());
        assert_eq!(close_wait.remote, "192.0.2.2:50000".parse().unwrap());
        assert_eq!(close_wait.recv_q, 5);
        assert_eq!(close_wait.inode, 4242);
        let time_wait = &sockets[1];
        assert_eq!(time_wait.state, TcpState::TimeWait);
        assert_eq!(time_wait.timer, TimerKind::TimeWait);
        assert_eq!(time_wait.timer_ms, 0xF9F * 10);
        assert_eq!(time_wait.remote.port(), 9090);
        assert!(time_wait.is_orphan());
    }

    #[test]
    fn parses_ipv6_and_maps_v4_mapped_addresses_to_v4() {
        let mapped: Ipv6Addr = "::ffff:192.0.2.9".parse().unwrap();
        let doc: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let hex = |ip: Ipv6Addr| -> String {
            ip.octets()
                .chunks(4)
                .map(|c| word([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let text = format!(
            "{HEADER}   0: {}:0050 {}:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 77 1 0\n",
            hex(mapped),
            hex(doc),
        );
        let mut sockets = Vec::new();
        parse_table(&text, ALL_STATES_MASK, &mut sockets).unwrap();
        assert_eq!(sockets[0].local, "192.0.2.9:80".parse().unwrap());
        assert_eq!(sockets[0].remote, "[2001:db8::1]:8080".parse().unwrap());
        assert_eq!(sockets[0].uid, 1000);
    }

    #[test]
    fn state_mask_filters_and_garbage_is_an_error() {
        let text = format!(
            "{HEADER}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1 0\n"
        );
        let mut sockets = Vec::new();
        parse_table(&text, TcpState::CloseWait.mask_bit(), &mut sockets).unwrap();
        assert!(sockets.is_empty());
        let error = parse_table(&format!("{HEADER}garbage\n"), ALL_STATES_MASK, &mut sockets);
        assert!(error.unwrap_err().contains("line 2"));
    }
}
