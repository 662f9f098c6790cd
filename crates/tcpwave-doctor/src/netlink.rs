//! The socket table over netlink `sock_diag` (what `ss` uses): one dump per address family,
//! the kernel filtering by state, with timers, queues and `tcp_info` (`INET_DIAG_INFO`).
//!
//! Wire formats are from `linux/netlink.h`, `linux/sock_diag.h` and `linux/inet_diag.h`.
//! Parsing ([`parse_dump`]) is pure and allocation-free per socket, so it can be tested and
//! benchmarked on synthetic dumps; [`dump`] adds the four system calls.

use crate::error::{DoctorError, Result};
use crate::socket::{canonical, Socket, TcpInfo, TcpState, TimerKind};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDR_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300; // NLM_F_ROOT | NLM_F_MATCH
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const INET_DIAG_REQ_V2_LEN: usize = 56;
/// `struct inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue,
/// wqueue, uid, inode.
const INET_DIAG_MSG_LEN: usize = 72;
const INET_DIAG_INFO: u16 = 2;
/// Ask for `tcp_info` (`1 << (INET_DIAG_INFO - 1)`).
const EXT_INFO: u8 = 1 << (INET_DIAG_INFO - 1);
/// The kernel fills a dump message up to 32 KiB; a larger buffer never truncates one.
const RECV_BUFFER_LEN: usize = 64 * 1024;
/// Bound on recv() calls for one dump: 32 KiB each holds at least ~90 sockets, so this is far
/// beyond any real table (and stops a confused kernel conversation from looping forever).
const RECV_CALLS_MAX: usize = 4_000_000;

/// Bitmask of every TCP state for `idiag_states` (bits 1..=12, 12 = request sockets).
pub const ALL_STATES_MASK: u32 = 0x1ffe;

/// Where a parse of one recv() buffer left the dump.
#[derive(Debug, PartialEq, Eq)]
pub enum DumpProgress {
    /// More messages follow in the next recv().
    More,
    /// NLMSG_DONE seen: the dump is complete.
    Done,
}

/// The 72-byte request: a netlink header and `struct inet_diag_req_v2` asking for every TCP
/// socket of `family` whose state is in `states_mask`, with `tcp_info`.
pub fn encode_request(family: u8, states_mask: u32, sequence: u32) -> [u8; 72] {
    let mut request = [0u8; NLMSG_HDR_LEN + INET_DIAG_REQ_V2_LEN];
    let length = request.len() as u32;
    request[0..4].copy_from_slice(&length.to_ne_bytes());
    request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request[8..12].copy_from_slice(&sequence.to_ne_bytes());
    // port id 0: the kernel. The request body follows the header.
    let body = &mut request[NLMSG_HDR_LEN..];
    body[0] = family;
    body[1] = libc::IPPROTO_TCP as u8;
    body[2] = EXT_INFO;
    body[4..8].copy_from_slice(&states_mask.to_ne_bytes());
    // inet_diag_sockid: all zero (no address filter); cookie "none" is ~0.
    body[8 + 40..8 + 48].copy_from_slice(&[0xff; 8]);
    request
}

/// Parses the netlink messages in one recv() buffer, appending each socket to `out`.
pub fn parse_dump(buffer: &[u8], out: &mut Vec<Socket>) -> Result<DumpProgress> {
    let mut offset = 0;
    while offset + NLMSG_HDR_LEN <= buffer.len() {
        let length = read_u32(buffer, offset) as usize;
        let kind = u16::from_ne_bytes([buffer[offset + 4], buffer[offset + 5]]);
        if length < NLMSG_HDR_LEN || offset + length > buffer.len() {
            return Err(DoctorError::Netlink(format!(
                "malformed message: length {length} at offset {offset} of {}",
                buffer.len()
            )));
        }
        let payload = &buffer[offset + NLMSG_HDR_LEN..offset + length];
        match kind {
            NLMSG_DONE => return Ok(DumpProgress::Done),
            NLMSG_ERROR => return Err(netlink_error(payload)),
            SOCK_DIAG_BY_FAMILY => {
                if let Some(socket) = parse_socket(payload) {
                    out.push(socket);
                }
            }
            _ => {}
        }
        offset += align4(length);
    }
    Ok(DumpProgress::More)
}

fn netlink_error(payload: &[u8]) -> DoctorError {
    if payload.len() < 4 {
        return DoctorError::Netlink("truncated error message".into());
    }
    let errno = -(read_u32(payload, 0) as i32);
    let error = io::Error::from_raw_os_error(errno);
    DoctorError::Netlink(format!("the kernel refused the dump: {error}"))
}

/// One `inet_diag_msg` and its attributes. Returns None for a message too short to hold one.
fn parse_socket(payload: &[u8]) -> Option<Socket> {
    if payload.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let family = payload[0];
    let state = TcpState::from_kernel(payload[1])?;
    let local_port = u16::from_be_bytes([payload[4], payload[5]]);
    let remote_port = u16::from_be_bytes([payload[6], payload[7]]);
    let local_ip = parse_ip(family, &payload[8..24])?;
    let remote_ip = parse_ip(family, &payload[24..40])?;
    let mut socket = Socket {
        state,
        local: canonical(SocketAddr::new(local_ip, local_port)),
        remote: canonical(SocketAddr::new(remote_ip, remote_port)),
        timer: TimerKind::from_kernel(payload[2]),
        retransmits: payload[3],
        timer_ms: read_u32(payload, 52),
        recv_q: read_u32(payload, 56),
        send_q: read_u32(payload, 60),
        uid: read_u32(payload, 64),
        inode: u64::from(read_u32(payload, 68)),
        info: None,
    };
    let mut offset = INET_DIAG_MSG_LEN;
    while offset + 4 <= payload.len() {
        let length = u16::from_ne_bytes([payload[offset], payload[offset + 1]]) as usize;
        let kind = u16::from_ne_bytes([payload[offset + 2], payload[offset + 3]]) & 0x3fff;
        if length < 4 || offset + length > payload.len() {
            break;
        }
        if kind == INET_DIAG_INFO {
            socket.info = parse_tcp_info(&payload[offset + 4..offset + length]);
        }
        offset += align4(length);
    }
    Some(socket)
}

fn parse_ip(family: u8, bytes: &[u8]) -> Option<IpAddr> {
    match i32::from(family) {
        libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        libc::AF_INET6 => {
            let octets: [u8; 16] = bytes[..16].try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// `struct tcp_info` (linux/tcp.h). Older kernels send a shorter struct: every field used
/// here has been there since 2.6, at the offsets below.
fn parse_tcp_info(bytes: &[u8]) -> Option<TcpInfo> {
    if bytes.len() < 104 {
        return None;
    }
    Some(TcpInfo {
        probes: bytes[3],
        rto_us: read_u32(bytes, 8),
        last_data_sent_ms: read_u32(bytes, 44),
        last_data_recv_ms: read_u32(bytes, 52),
        last_ack_recv_ms: read_u32(bytes, 56),
        rtt_us: read_u32(bytes, 68),
        total_retrans: read_u32(bytes, 100),
    })
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

fn align4(length: usize) -> usize {
    (length + 3) & !3
}

/// Reads every TCP socket whose state is in `states_mask`: one dump for IPv4, one for IPv6
/// (skipped when the kernel has no IPv6).
pub fn dump(states_mask: u32) -> Result<Vec<Socket>> {
    let socket = open_socket().map_err(|e| DoctorError::Netlink(format!("cannot open: {e}")))?;
    let mut sockets = Vec::new();
    let mut buffer = vec![0u8; RECV_BUFFER_LEN];
    dump_family(
        &socket,
        libc::AF_INET as u8,
        states_mask,
        1,
        &mut buffer,
        &mut sockets,
    )?;
    if let Err(err) = dump_family(
        &socket,
        libc::AF_INET6 as u8,
        states_mask,
        2,
        &mut buffer,
        &mut sockets,
    ) {
        if std::path::Path::new("/proc/net/if_inet6").exists() {
            return Err(err);
        }
    }
    Ok(sockets)
}

fn dump_family(
    socket: &OwnedFd,
    family: u8,
    states_mask: u32,
    sequence: u32,
    buffer: &mut [u8],
    out: &mut Vec<Socket>,
) -> Result<()> {
    let request = encode_request(family, states_mask, sequence);
    send_to_kernel(socket, &request).map_err(|e| DoctorError::Netlink(format!("send: {e}")))?;
    for _ in 0..RECV_CALLS_MAX {
        let received =
            receive(socket, buffer).map_err(|e| DoctorError::Netlink(format!("recv: {e}")))?;
        if received == 0 {
            return Err(DoctorError::Netlink(
                "the kernel closed the dump early".into(),
            ));
        }
        if parse_dump(&buffer[..received], out)? == DumpProgress::Done {
            return Ok(());
        }
    }
    Err(DoctorError::Netlink(format!(
        "dump did not end after {RECV_CALLS_MAX} reads"
    )))
}

fn open_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the returned descriptor is owned by the OwnedFd below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn send_to_kernel(socket: &OwnedFd, request: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value (port id 0 = kernel).
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    let address_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: request and kernel are valid for the lengths passed.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            address_len,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn receive(socket: &OwnedFd, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buffer is valid for writes of buffer.len() bytes.
        let received = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                0,
            )
        };
        if received >= 0 {
            return Ok(received as usize);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests;
