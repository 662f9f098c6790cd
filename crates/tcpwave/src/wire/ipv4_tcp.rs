//! Whole IPv4 packets carrying TCP, in one pass: what the engine, the TUN runtime and the
//! simulator use.
//!
//! To receive: [`parse_ipv4_tcp`] takes a whole IPv4 packet (from a TUN device or a pcap
//! record), verifies both checksums and returns the headers plus the TCP payload borrowed
//! from the input. To send: [`ipv4_tcp_len`] says how many bytes a segment needs and
//! [`emit_ipv4_tcp`] (or [`emit_ipv4_tcp_in_place`], when the payload was copied into the
//! buffer already) writes it. The `_with` forms take a [`TcpChecksum`] for checksum
//! offload.
//!
//! These give exactly what the layered views give (`Ipv4Packet::new_checked`,
//! `Ipv4Repr::parse`, `TcpPacket::new_checked`, `TcpRepr::parse`, `Ipv4Repr::emit`,
//! `TcpRepr::emit_header`), errors and their order included, but read each header once at
//! its fixed offsets, sum each byte once and write each header as one value (a few wide
//! stores).

use super::checksum::{self, TcpChecksum};
use super::ipv4::{self, FLAG_MORE_FRAGMENTS, FRAGMENT_OFFSET_MASK, VERSION_4_IHL_5};
use super::options::{parse_options_into, Layout};
use super::tcp::{room, write_segment, SEGMENT_LEN_MAX, TCP_HEADER_LEN};
use super::{Ipv4Repr, TcpFlags, TcpRepr, WireError, IPV4_HEADER_LEN, IP_PROTO_TCP};
use crate::seq::SeqNumber;
use core::net::Ipv4Addr;

/// Parses a whole IPv4 packet carrying TCP, as read from a TUN device or a pcap record.
///
/// Verifies the IPv4 header checksum and the TCP checksum, rejects fragments and non-TCP
/// protocols ([`WireError::NotTcp`]), and returns both headers and the TCP payload,
/// borrowed from `buf`. Bytes after the IPv4 total length are ignored.
///
/// The same as [`parse_ipv4_tcp_with`]`(buf, TcpChecksum::Software)`.
pub fn parse_ipv4_tcp(buf: &[u8]) -> Result<(Ipv4Repr, TcpRepr, &[u8]), WireError> {
    parse_ipv4_tcp_with(buf, TcpChecksum::Software)
}

/// [`parse_ipv4_tcp`], with the TCP checksum verified (`Software`) or trusted
/// (`Offloaded`, Linux's CHECKSUM_UNNECESSARY). The IPv4 header checksum is always
/// verified (RFC 1122 §3.2.1.2: a datagram whose header checksum fails MUST be discarded).
///
/// Checks, in this order, each with its own error: at least 20 bytes, version 4, IHL
/// (5 words up to the buffer), total length (header up to the buffer), the header
/// checksum, no fragment, protocol TCP, a 20-byte TCP header, the data offset (5 words up
/// to the segment), the TCP checksum, then the options.
pub fn parse_ipv4_tcp_with(
    buf: &[u8],
    tcp_checksum: TcpChecksum,
) -> Result<(Ipv4Repr, TcpRepr, &[u8]), WireError> {
    let mut tcp = TcpRepr::default();
    let (ip, payload) = parse_ipv4_tcp_into(buf, tcp_checksum, &mut tcp)?;
    Ok((ip, tcp, payload))
}

/// [`parse_ipv4_tcp_with`], writing the TCP header into `tcp` (which must hold the default
/// options, as `TcpRepr::default()` does) instead of returning it: the engine's receive
/// path, where moving the ~100-byte result out through `Result` cost store-forwarding
/// stalls on every packet. On error `tcp` is unspecified.
#[inline]
pub fn parse_ipv4_tcp_into<'a>(
    buf: &'a [u8],
    tcp_checksum: TcpChecksum,
    tcp: &mut TcpRepr,
) -> Result<(Ipv4Repr, &'a [u8]), WireError> {
    let ip = parse_ipv4_header(buf)?;
    if ip.repr.protocol != IP_PROTO_TCP {
        return Err(WireError::NotTcp(ip.repr.protocol));
    }
    let payload = parse_tcp_into(ip.payload, &ip, tcp_checksum, tcp)?;
    Ok((ip.repr, payload))
}

/// What [`parse_ipv4_header`] found.
struct Ipv4Parsed<'a> {
    repr: Ipv4Repr,
    /// Source and destination address as they lie in the header, for the pseudo-header.
    src: [u8; 4],
    dst: [u8; 4],
    /// The IPv4 payload: from the end of the header to the total length.
    payload: &'a [u8],
}

/// The IPv4 header of `buf` (RFC 791 §3.1) and its payload.
#[inline(always)]
fn parse_ipv4_header(buf: &[u8]) -> Result<Ipv4Parsed<'_>, WireError> {
    let Some(fixed) = buf.first_chunk::<IPV4_HEADER_LEN>() else {
        return Err(WireError::Truncated {
            needed: IPV4_HEADER_LEN,
            got: buf.len(),
        });
    };
    // RFC 791 §3.1, field by field; the checksum is read as part of the sum.
    let [version_ihl, _dscp_ecn, length_high, length_low, ident_high, ident_low, flags_high, flags_low, ttl, protocol, _, _, addresses @ ..] =
        *fixed;
    // Version 4 without options (nearly every packet) is one compare: its 20 bytes are
    // in `fixed`.
    let header_len = if version_ihl == VERSION_4_IHL_5 {
        IPV4_HEADER_LEN
    } else {
        let version = version_ihl >> 4;
        if version != 4 {
            return Err(WireError::NotIpv4(version));
        }
        let ihl = version_ihl & 0x0f;
        let header_len = usize::from(ihl) * 4;
        if header_len < IPV4_HEADER_LEN || header_len > buf.len() {
            return Err(WireError::BadIpHeaderLength(ihl));
        }
        header_len
    };
    let total_len = u16::from_be_bytes([length_high, length_low]);
    let packet = match buf.get(..usize::from(total_len)) {
        Some(packet) if packet.len() >= header_len => packet,
        _ => return Err(WireError::BadIpTotalLength(total_len)),
    };
    // Without options the header is summed as three words.
    let sum = if header_len == IPV4_HEADER_LEN {
        checksum::sum_fixed_header(fixed)
    } else {
        checksum::sum_native(packet.get(..header_len).unwrap_or_default())
    };
    if !checksum::sum_verifies(sum) {
        return Err(WireError::BadIpChecksum);
    }
    let flags_fragment = u16::from_be_bytes([flags_high, flags_low]);
    if flags_fragment & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK) != 0 {
        // The field counts 8-octet units; 0x1fff * 8 still fits 16 bits.
        return Err(WireError::Fragmented {
            offset: (flags_fragment & FRAGMENT_OFFSET_MASK) * 8,
            more: flags_fragment & FLAG_MORE_FRAGMENTS != 0,
        });
    }
    let [src @ .., _, _, _, _] = addresses;
    let [_, _, _, _, dst @ ..] = addresses;
    let payload = packet.get(header_len..).unwrap_or_default();
    Ok(Ipv4Parsed {
        repr: Ipv4Repr {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            protocol,
            ttl,
            ident: u16::from_be_bytes([ident_high, ident_low]),
            payload_len: payload.len(),
        },
        src,
        dst,
        payload,
    })
}

/// The TCP header of `segment` (the whole IPv4 payload) sent as `ip` says (RFC 9293
/// §3.1), and its data.
#[inline(always)]
fn parse_tcp_into<'a>(
    segment: &'a [u8],
    ip: &Ipv4Parsed<'_>,
    mode: TcpChecksum,
    out: &mut TcpRepr,
) -> Result<&'a [u8], WireError> {
    let Some(fixed) = segment.first_chunk::<TCP_HEADER_LEN>() else {
        return Err(WireError::Truncated {
            needed: TCP_HEADER_LEN,
            got: segment.len(),
        });
    };
    let data_offset = fixed[12] >> 4;
    let header_len = usize::from(data_offset) * 4;
    let (header, payload) = match segment.split_at_checked(header_len) {
        Some(parts) if header_len >= TCP_HEADER_LEN => parts,
        _ => return Err(WireError::BadDataOffset(data_offset)),
    };
    if mode == TcpChecksum::Software {
        // An IPv4 packet is at most 65,535 bytes, so its payload length fits 16 bits.
        let length = u16::try_from(segment.len()).unwrap_or(u16::MAX);
        let pseudo = checksum::sum_tcp_pseudo_header(ip.src, ip.dst, length);
        if !checksum::sum_verifies(checksum::add(pseudo, checksum::sum_native(segment))) {
            return Err(WireError::BadTcpChecksum);
        }
    }
    parse_options_into(
        header.get(TCP_HEADER_LEN..).unwrap_or_default(),
        &mut out.options,
    )?;
    // The fields are read once everything is known to be valid; ports and sequence number
    // as the one big-endian word `tcp::fixed_header` writes them as.
    let [b0, b1, b2, b3, b4, b5, b6, b7, a0, a1, a2, a3, _, flags, w0, w1, _, _, u0, u1] = *fixed;
    let ports_seq = u64::from_be_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
    out.src_port = (ports_seq >> 48) as u16;
    out.dst_port = (ports_seq >> 32) as u16;
    out.seq = SeqNumber(ports_seq as u32);
    out.ack = SeqNumber(u32::from_be_bytes([a0, a1, a2, a3]));
    out.flags = TcpFlags(flags);
    out.window = u16::from_be_bytes([w0, w1]);
    out.urgent = u16::from_be_bytes([u0, u1]);
    Ok(payload)
}

/// Bytes [`emit_ipv4_tcp`] writes for `tcp` with `payload_len` bytes of data: 20 (IPv4)
/// plus `tcp.header_len()` plus `payload_len`. The payload starts at
/// `ipv4_tcp_len(tcp, 0)`.
pub fn ipv4_tcp_len(tcp: &TcpRepr, payload_len: usize) -> usize {
    IPV4_HEADER_LEN + tcp.header_len() + payload_len
}

/// Writes a whole IPv4 packet carrying `tcp` and `payload` into the start of `buf`: a
/// 20-byte IPv4 header with DF set, then the TCP header, options and data, both checksums
/// filled. Returns the bytes written, [`ipv4_tcp_len`]`(tcp, payload.len())`.
///
/// Fails with [`WireError::BufferTooSmall`] if `buf` is shorter, or
/// [`WireError::PacketTooLong`] past 65,535 bytes. Never allocates.
pub fn emit_ipv4_tcp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    tcp: &TcpRepr,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<usize, WireError> {
    let layout = Layout::new(&tcp.options, tcp.flags.syn());
    let headers_len = IPV4_HEADER_LEN + TCP_HEADER_LEN + layout.len();
    let packet = room(buf, headers_len, payload.len())?;
    if let Some(dst_payload) = packet.get_mut(headers_len..) {
        // `packet` is headers_len + payload.len() bytes: the lengths agree.
        dst_payload.copy_from_slice(payload);
    }
    let ip = Headers {
        src,
        dst,
        ttl,
        ident,
    };
    Ok(ip.write(tcp, &layout, packet, TcpChecksum::Software))
}

/// Like [`emit_ipv4_tcp`], for a payload of `payload_len` bytes that the caller has
/// already copied to `buf[ipv4_tcp_len(tcp, 0)..]`; writes both headers around it.
///
/// The same as [`emit_ipv4_tcp_in_place_with`]`(.., TcpChecksum::Software)`.
pub fn emit_ipv4_tcp_in_place(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    tcp: &TcpRepr,
    payload_len: usize,
    buf: &mut [u8],
) -> Result<usize, WireError> {
    emit_ipv4_tcp_in_place_with(
        src,
        dst,
        ttl,
        ident,
        tcp,
        payload_len,
        buf,
        TcpChecksum::Software,
    )
}

/// [`emit_ipv4_tcp_in_place`], with the TCP checksum computed (`Software`) or left for the
/// device to complete (`Offloaded`: the field holds the folded pseudo-header sum, Linux's
/// CHECKSUM_PARTIAL). The IPv4 header checksum is always computed.
#[allow(clippy::too_many_arguments)] // the fixed signature the engine calls
pub fn emit_ipv4_tcp_in_place_with(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    tcp: &TcpRepr,
    payload_len: usize,
    buf: &mut [u8],
    tcp_checksum: TcpChecksum,
) -> Result<usize, WireError> {
    let layout = Layout::new(&tcp.options, tcp.flags.syn());
    let headers_len = IPV4_HEADER_LEN + TCP_HEADER_LEN + layout.len();
    let packet = room(buf, headers_len, payload_len)?;
    let ip = Headers {
        src,
        dst,
        ttl,
        ident,
    };
    // One copy of the writing per mode, each with the mode a constant, so that the
    // offloaded path is not compiled around the registers of the software sum.
    Ok(match tcp_checksum {
        TcpChecksum::Software => ip.write(tcp, &layout, packet, TcpChecksum::Software),
        TcpChecksum::Offloaded => ip.write(tcp, &layout, packet, TcpChecksum::Offloaded),
    })
}

/// The IPv4 fields of a packet to emit.
struct Headers {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
}

impl Headers {
    /// Writes the IPv4 header and then the TCP header of `tcp` into `packet`, which is
    /// exactly the packet (at most 65,535 bytes) with the data already in place, and
    /// returns its length.
    #[inline(always)]
    fn write(&self, tcp: &TcpRepr, layout: &Layout, packet: &mut [u8], mode: TcpChecksum) -> usize {
        let total_len = packet.len();
        let Some((ip_header, segment)) = packet.split_first_chunk_mut::<IPV4_HEADER_LEN>() else {
            debug_assert!(false, "room() leaves room for both headers");
            return 0;
        };
        let repr = Ipv4Repr {
            src: self.src,
            dst: self.dst,
            protocol: IP_PROTO_TCP,
            ttl: self.ttl,
            ident: self.ident,
            payload_len: segment.len(),
        };
        debug_assert!(total_len <= SEGMENT_LEN_MAX);
        *ip_header = ipv4::header_bytes(&repr, total_len as u16);
        write_segment(tcp, layout, segment, self.src, self.dst, mode);
        total_len
    }
}
