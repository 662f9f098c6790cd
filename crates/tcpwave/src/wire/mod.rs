//! Wire formats: IPv4 and TCP headers, TCP options, the Internet checksum.
//!
//! Read RFC 9293 §3.1 (header format), §3.2 (options), RFC 7323 (window scale,
//! timestamps), RFC 2018 (SACK) and RFC 791 (IPv4) first.
//!
//! Two layers, as in smoltcp: zero-copy views over a caller's buffer, checked once
//! (`new_checked`) so no accessor panics afterwards, and `Repr` structs that are the
//! parsed, validated meaning of a header. `emit` never panics on a buffer of
//! `buffer_len()` bytes. Nothing here allocates.

mod checksum;
mod ipv4;
mod ipv4_tcp;
mod options;
mod tcp;

pub use checksum::*;
pub use ipv4::*;
pub use ipv4_tcp::*;
pub use options::*;
pub use tcp::*;

use crate::seq::SeqNumber;
use core::net::Ipv4Addr;

/// Why a packet could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer is shorter than the header (or than the header says it is).
    #[error("packet truncated: need {needed} bytes, have {got}")]
    Truncated { needed: usize, got: usize },
    /// IPv4 version field is not 4.
    #[error("not an IPv4 packet (version {0})")]
    NotIpv4(u8),
    /// IPv4 IHL below 5 or beyond the packet.
    #[error("bad IPv4 header length {0} words")]
    BadIpHeaderLength(u8),
    /// IPv4 total length smaller than the header or larger than the buffer.
    #[error("bad IPv4 total length {0}")]
    BadIpTotalLength(u16),
    /// IPv4 header checksum does not verify.
    #[error("bad IPv4 header checksum")]
    BadIpChecksum,
    /// The IPv4 packet is a fragment; the engine does not reassemble.
    #[error("IPv4 fragment (offset {offset}, more fragments {more})")]
    Fragmented { offset: u16, more: bool },
    /// IPv4 protocol is not TCP (6).
    #[error("not TCP (IP protocol {0})")]
    NotTcp(u8),
    /// TCP data offset below 5 words or beyond the segment.
    #[error("bad TCP data offset {0} words")]
    BadDataOffset(u8),
    /// TCP checksum over the pseudo-header does not verify.
    #[error("bad TCP checksum")]
    BadTcpChecksum,
    /// A TCP option's length byte is inconsistent (0/1 for a multi-byte option,
    /// beyond the option area, or wrong for a fixed-size kind).
    #[error("bad TCP option: kind {kind}, length {length}")]
    BadOptionLength { kind: u8, length: u8 },
    /// The output buffer is too small for what was asked.
    #[error("output buffer too small: need {needed} bytes, have {got}")]
    BufferTooSmall { needed: usize, got: usize },
    /// The packet to emit would be longer than its length field can state (IPv4 total
    /// length is 16 bits, RFC 791 §3.1); send less data per segment.
    #[error("packet too long: {len} bytes, the most an IPv4 packet can be is {max}")]
    PacketTooLong { len: usize, max: usize },
}

/// TCP control bits, RFC 9293 §3.1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    pub const NONE: TcpFlags = TcpFlags(0);

    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    /// The flags as letters in the order S, F, R, P, A, U (e.g. "SA", "FA", "R").
    /// Writes into a fixed array so no allocation is needed.
    pub fn letters(self) -> FlagLetters {
        let mut out = FlagLetters {
            buf: [0; 8],
            len: 0,
        };
        for (flag, letter) in [
            (Self::SYN, b'S'),
            (Self::FIN, b'F'),
            (Self::RST, b'R'),
            (Self::PSH, b'P'),
            (Self::ACK, b'A'),
            (Self::URG, b'U'),
            (Self::ECE, b'E'),
            (Self::CWR, b'C'),
        ] {
            if self.contains(flag) {
                out.buf[out.len] = letter;
                out.len += 1;
            }
        }
        out
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

/// The letters of a set of flags, without allocating.
#[derive(Clone, Copy)]
pub struct FlagLetters {
    buf: [u8; 8],
    len: usize,
}

impl FlagLetters {
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever written.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Display for FlagLetters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "[{}]", self.letters())
    }
}

/// A SACK block (RFC 2018 §3): the left edge and the sequence number after the right edge.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SackBlock {
    pub left: SeqNumber,
    pub right: SeqNumber,
}

/// The TCP options tcpwave understands (RFC 9293 §3.2, RFC 7323, RFC 2018).
/// Unknown options are skipped on parse and never emitted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), only meaningful on SYN.
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3), only meaningful on SYN.
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4), only meaningful on SYN.
    pub sack_permitted: bool,
    /// Up to four SACK blocks (kind 5); `sack_count` of them are valid.
    pub sack_blocks: [SackBlock; 4],
    pub sack_count: u8,
    /// Timestamps (kind 8): (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    pub fn sacks(&self) -> &[SackBlock] {
        &self.sack_blocks[..self.sack_count as usize]
    }
}

/// A parsed TCP header (RFC 9293 §3.1). The payload is kept separately, borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    /// Acknowledgment number; meaningful only when `flags` has ACK.
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    /// The raw 16-bit window field (unscaled).
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
}

/// A parsed IPv4 header (RFC 791), without options on emit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub ident: u16,
    /// Length of the IPv4 payload (TCP header + data) in bytes.
    pub payload_len: usize,
}

pub const IP_PROTO_TCP: u8 = 6;
