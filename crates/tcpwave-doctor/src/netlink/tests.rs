use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

#[test]
fn request_layout_matches_inet_diag_req_v2() {
    let request = encode_request(libc::AF_INET6 as u8, 1 << 8, 7);
    assert_eq!(u32::from_ne_bytes(request[0..4].try_into().unwrap()), 72);
    assert_eq!(u16::from_ne_bytes([request[4], request[5]]), 20);
    assert_eq!(u16::from_ne_bytes([request[6], request[7]]), 0x301);
    assert_eq!(u32::from_ne_bytes(request[8..12].try_into().unwrap()), 7);
    assert_eq!(request[16], libc::AF_INET6 as u8);
    assert_eq!(request[17], 6, "IPPROTO_TCP");
    assert_eq!(request[18], 2, "INET_DIAG_INFO requested");
    assert_eq!(
        u32::from_ne_bytes(request[20..24].try_into().unwrap()),
        1 << 8
    );
    assert_eq!(&request[64..72], &[0xff; 8], "no cookie");
}

#[test]
fn kernel_error_is_reported_with_its_errno() {
    let mut message = vec![0u8; 36];
    message[0..4].copy_from_slice(&36u32.to_ne_bytes());
    message[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
    message[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
    let error = parse_dump(&message, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(error.contains("not permitted"), "{error}");
}

#[test]
fn malformed_length_is_an_error_not_a_panic() {
    let mut message = vec![0u8; 20];
    message[0..4].copy_from_slice(&4000u32.to_ne_bytes());
    assert!(parse_dump(&message, &mut Vec::new()).is_err());
    // A short trailing fragment is ignored, a too-short diag message is skipped.
    let mut short = vec![0u8; 24];
    short[0..4].copy_from_slice(&24u32.to_ne_bytes());
    short[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let mut out = Vec::new();
    assert_eq!(parse_dump(&short, &mut out).unwrap(), DumpProgress::More);
    assert!(out.is_empty());
}

fn inode_of(fd: &impl std::os::fd::AsRawFd) -> u64 {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .unwrap()
        .ino()
}

#[test]
fn live_dump_sees_our_own_loopback_sockets_with_tcp_info() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(address).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    client.write_all(b"hello").unwrap();
    let mut buffer = [0u8; 5];
    server.read_exact(&mut buffer).unwrap();
    client.write_all(b"unread").unwrap();
    std::thread::sleep(Duration::from_millis(50));

    let sockets = dump(ALL_STATES_MASK).unwrap();
    let find = |inode: u64| sockets.iter().find(|s| s.inode == inode).cloned();
    let listen = find(inode_of(&listener)).expect("listener in the dump");
    assert_eq!(listen.state, TcpState::Listen);
    assert_eq!(listen.local, address);
    let accepted = find(inode_of(&server)).expect("accepted socket in the dump");
    assert_eq!(accepted.state, TcpState::Established);
    assert_eq!(accepted.recv_q, 6, "6 unread bytes");
    assert_eq!(accepted.remote, client.local_addr().unwrap());
    let info = accepted.info.expect("tcp_info for a full socket");
    assert!(info.rto_us >= 200_000, "{info:?}");

    // The kernel filters by state: a CLOSE_WAIT-only dump has neither socket.
    let close_wait_only = dump(TcpState::CloseWait.mask_bit()).unwrap();
    assert!(close_wait_only
        .iter()
        .all(|s| s.state == TcpState::CloseWait));
    assert!(!close_wait_only.iter().any(|s| s.inode == accepted.inode));

    // Client closes first: the accepted side goes to CLOSE_WAIT with its unread bytes.
    drop(client);
    std::thread::sleep(Duration::from_millis(50));
    let after = dump(TcpState::CloseWait.mask_bit()).unwrap();
    let close_wait = after
        .iter()
        .find(|s| s.inode == accepted.inode)
        .expect("CLOSE_WAIT");
    // Recv-Q = rcv_nxt − copied_seq: 6 bytes and the FIN's sequence number.
    assert_eq!(close_wait.recv_q, 7);
    assert_eq!(close_wait.unread_data_bytes(), 6);
    assert!(close_wait.eof_not_read());
}
