//! Synthetic socket tables: the netlink messages the kernel would send for a given set of
//! sockets, and a realistic busy host. For tests and the 100k-socket benchmark
//! (`examples/bench_doctor.rs`); the encoder mirrors [`crate::netlink::parse_dump`].

use crate::owners::{Owners, Process};
use crate::socket::{Socket, TcpInfo, TcpState, TimerKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Size of `struct tcp_info` on Linux 6.x.
const TCP_INFO_LEN: usize = 248;
/// The kernel fills each dump message up to about this many bytes.
pub const KERNEL_CHUNK_LEN: usize = 32 * 1024;

/// Appends one `SOCK_DIAG_BY_FAMILY` message describing `socket`.
pub fn encode_message(socket: &Socket, out: &mut Vec<u8>) {
    let with_info = socket.info.is_some();
    let length = 16 + 72 + if with_info { 4 + TCP_INFO_LEN } else { 0 };
    let start = out.len();
    out.resize(start + length, 0);
    let message = &mut out[start..];
    message[0..4].copy_from_slice(&(length as u32).to_ne_bytes());
    message[4..6].copy_from_slice(&20u16.to_ne_bytes());
    message[6..8].copy_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
    let body = &mut message[16..];
    let (family, local, remote) = match (socket.local.ip(), socket.remote.ip()) {
        (IpAddr::V4(l), IpAddr::V4(r)) => {
            (libc::AF_INET as u8, l.to_ipv6_mapped(), r.to_ipv6_mapped())
        }
        (l, r) => (libc::AF_INET6 as u8, as_v6(l), as_v6(r)),
    };
    body[0] = family;
    body[1] = socket.state as u8;
    body[2] = timer_number(socket.timer);
    body[3] = socket.retransmits;
    body[4..6].copy_from_slice(&socket.local.port().to_be_bytes());
    body[6..8].copy_from_slice(&socket.remote.port().to_be_bytes());
    if family == libc::AF_INET as u8 {
        body[8..12].copy_from_slice(&local.octets()[12..]);
        body[24..28].copy_from_slice(&remote.octets()[12..]);
    } else {
        body[8..24].copy_from_slice(&local.octets());
        body[24..40].copy_from_slice(&remote.octets());
    }
    body[52..56].copy_from_slice(&socket.timer_ms.to_ne_bytes());
    body[56..60].copy_from_slice(&socket.recv_q.to_ne_bytes());
    body[60..64].copy_from_slice(&socket.send_q.to_ne_bytes());
    body[64..68].copy_from_slice(&socket.uid.to_ne_bytes());
    body[68..72].copy_from_slice(&(socket.inode as u32).to_ne_bytes());
    if let Some(info) = socket.info {
        let attribute = &mut body[72..];
        attribute[0..2].copy_from_slice(&((4 + TCP_INFO_LEN) as u16).to_ne_bytes());
        attribute[2..4].copy_from_slice(&2u16.to_ne_bytes()); // INET_DIAG_INFO
        encode_tcp_info(&info, socket.state, &mut attribute[4..]);
    }
}

fn as_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn timer_number(timer: TimerKind) -> u8 {
    match timer {
        TimerKind::None => 0,
        TimerKind::Retransmit => 1,
        TimerKind::Keepalive => 2,
        TimerKind::TimeWait => 3,
        TimerKind::ZeroWindowProbe => 4,
    }
}

fn encode_tcp_info(info: &TcpInfo, state: TcpState, bytes: &mut [u8]) {
    let mut put = |offset: usize, value: u32| {
        bytes[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
    };
    put(8, info.rto_us);
    put(44, info.last_data_sent_ms);
    put(52, info.last_data_recv_ms);
    put(56, info.last_ack_recv_ms);
    put(68, info.rtt_us);
    put(100, info.total_retrans);
    bytes[0] = state as u8;
    bytes[3] = info.probes;
}

/// The messages of a whole dump, cut into kernel-sized chunks; the last ends with NLMSG_DONE.
pub fn encode_dump(sockets: &[Socket]) -> Vec<Vec<u8>> {
    let mut chunks = vec![Vec::with_capacity(KERNEL_CHUNK_LEN)];
    for socket in sockets {
        let chunk = chunks.last_mut().expect("never empty");
        if chunk.len() + 16 + 72 + 4 + TCP_INFO_LEN > KERNEL_CHUNK_LEN {
            chunks.push(Vec::with_capacity(KERNEL_CHUNK_LEN));
        }
        encode_message(socket, chunks.last_mut().expect("never empty"));
    }
    let done = chunks.last_mut().expect("never empty");
    let mut header = [0u8; 20];
    header[0..4].copy_from_slice(&20u32.to_ne_bytes());
    header[4..6].copy_from_slice(&3u16.to_ne_bytes()); // NLMSG_DONE
    done.extend_from_slice(&header);
    chunks
}

/// A socket with defaults, to be adjusted by the caller.
pub fn socket(state: TcpState, local: SocketAddr, remote: SocketAddr, inode: u64) -> Socket {
    let full = !matches!(state, TcpState::TimeWait) && inode != 0;
    Socket {
        state,
        local,
        remote,
        recv_q: 0,
        send_q: 0,
        timer: if state == TcpState::TimeWait {
            TimerKind::TimeWait
        } else {
            TimerKind::None
        },
        timer_ms: if state == TcpState::TimeWait {
            30_000
        } else {
            0
        },
        retransmits: 0,
        uid: 0,
        inode,
        info: full.then(|| TcpInfo {
            rtt_us: 200,
            rto_us: 204_000,
            ..Default::default()
        }),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

/// A busy host with `total` sockets: 60 % TIME_WAIT toward 20 destinations from 2 source
/// addresses, 25 % ESTABLISHED, 10 % CLOSE_WAIT leaked by one process toward
/// 192.0.2.3:6379 (with unread data), 5 % orphaned FIN_WAIT_2, and one listener.
pub fn busy_host(total: usize) -> (Vec<Socket>, Owners) {
    let mut sockets = Vec::with_capacity(total);
    let mut owners = Owners::default();
    let app = |pid: u32, command: &str| Process {
        pid,
        command: command.into(),
        cmdline: command.into(),
    };
    sockets.push(socket(
        TcpState::Listen,
        v4(0, 0, 0, 0, 80),
        v4(0, 0, 0, 0, 0),
        1,
    ));
    owners.insert(1, app(100, "nginx"));
    let mut inode = 2u64;
    for index in 1..total {
        let port = 32768 + (index % 28232) as u16;
        let source = v4(198, 51, 100, 1 + (index / 20 % 2) as u8, port);
        let share = index * 100 / total;
        let mut s = if share < 60 {
            let destination = v4(192, 0, 2, 10 + (index % 20) as u8, 443);
            let mut s = socket(TcpState::TimeWait, source, destination, 0);
            s.timer_ms = (index % 60_000) as u32;
            s
        } else if share < 85 {
            socket(
                TcpState::Established,
                v4(198, 51, 100, 1, 80),
                v4(203, 0, 113, 7, port),
                inode,
            )
        } else if share < 95 {
            let mut s = socket(TcpState::CloseWait, source, v4(192, 0, 2, 3, 6379), inode);
            s.recv_q = 17;
            if let Some(info) = s.info.as_mut() {
                info.last_ack_recv_ms = (index % 300_000) as u32;
            }
            s
        } else {
            socket(TcpState::FinWait2, source, v4(192, 0, 2, 4, 8080), 0)
        };
        if s.inode != 0 {
            s.inode = inode;
            let pid = if s.state == TcpState::CloseWait {
                4711
            } else {
                100
            };
            owners.insert(
                inode,
                if pid == 4711 {
                    app(pid, "worker")
                } else {
                    app(pid, "nginx")
                },
            );
            inode += 1;
        }
        if s.state == TcpState::FinWait2 {
            s.timer = TimerKind::TimeWait;
            s.timer_ms = 20_000;
        }
        sockets.push(s);
    }
    (sockets, owners)
}

/// A snapshot of `sockets` as a default Linux host would show them (default sysctls, zero
/// counters), for analysis tests and benchmarks.
pub fn snapshot(sockets: Vec<Socket>, owners: Owners) -> crate::collect::Snapshot {
    let sysctls = crate::kernel::Sysctls::linux_defaults();
    let tw = sockets
        .iter()
        .filter(|s| s.state == TcpState::TimeWait)
        .count() as u64;
    crate::collect::Snapshot {
        sockstat: crate::kernel::Sockstat {
            tw,
            ..Default::default()
        },
        sockets,
        owners,
        counters: Default::default(),
        sysctls,
        source: crate::collect::Source::Netlink,
        fallback_reason: None,
        netns: None,
        root: true,
        collect_ms: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{parse_dump, DumpProgress};

    #[test]
    fn encoded_dump_parses_back_to_the_same_sockets() {
        let (sockets, _) = busy_host(5000);
        let mut mixed = sockets.clone();
        let v6 = |text: &str| text.parse::<SocketAddr>().unwrap();
        let mut six = socket(
            TcpState::Established,
            v6("[2001:db8::1]:443"),
            v6("[2001:db8::2]:50000"),
            9,
        );
        six.recv_q = 3;
        mixed.push(six);
        let chunks = encode_dump(&mixed);
        assert!(chunks.len() > 1, "several recv() buffers");
        let mut parsed = Vec::new();
        for (index, chunk) in chunks.iter().enumerate() {
            let progress = parse_dump(chunk, &mut parsed).unwrap();
            let expected = if index + 1 == chunks.len() {
                DumpProgress::Done
            } else {
                DumpProgress::More
            };
            assert_eq!(progress, expected);
        }
        assert_eq!(parsed, mixed);
    }

    #[test]
    fn busy_host_has_the_advertised_mix() {
        let (sockets, owners) = busy_host(10_000);
        assert_eq!(sockets.len(), 10_000);
        let count = |state| sockets.iter().filter(|s| s.state == state).count();
        assert_eq!(count(TcpState::CloseWait), 1000);
        assert!(count(TcpState::TimeWait) >= 5999);
        let leaked = sockets
            .iter()
            .find(|s| s.state == TcpState::CloseWait)
            .unwrap();
        assert_eq!(owners.owner(leaked.inode).unwrap().pid, 4711);
    }
}
