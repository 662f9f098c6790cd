//! IPv4 header (RFC 791 §3.1): a zero-copy view [`Ipv4Packet`] and the parsed
//! [`Ipv4Repr`].
//!
//! tcpwave does not fragment or reassemble (RFC 1122 §3.3.2 makes reassembly a host
//! duty, but the engine sits behind a TUN device whose kernel side already reassembled,
//! and it always sends with DF set, as Linux does for TCP with path-MTU discovery). A
//! fragment is therefore reported as [`WireError::Fragmented`] and dropped by the caller.

use super::checksum;
use super::{Ipv4Repr, WireError};
use core::net::Ipv4Addr;

/// Length of an IPv4 header without options (IHL 5), the only size tcpwave emits.
pub const IPV4_HEADER_LEN: usize = 20;

/// Byte offsets of the IPv4 header fields (RFC 791 §3.1).
mod field {
    pub type Field = core::ops::Range<usize>;
    /// Version (high nibble) and IHL in 32-bit words (low nibble).
    pub const VERSION_IHL: usize = 0;
    /// DSCP (6 bits) and ECN (2 bits), formerly Type of Service.
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    /// Flags (3 bits: reserved, DF, MF) and fragment offset (13 bits, 8-octet units).
    pub const FLAGS_FRAGMENT: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Don't Fragment flag in the flags/fragment-offset word (RFC 791 §3.1).
const FLAG_DONT_FRAGMENT: u16 = 0x4000;
/// The first byte of a header without options: version 4, IHL 5 words. tcpwave sends no
/// IP options, and nearly every packet it receives has none.
pub(super) const VERSION_4_IHL_5: u8 = 0x40 | (IPV4_HEADER_LEN / 4) as u8;
/// More Fragments flag in the flags/fragment-offset word (RFC 791 §3.1).
pub(super) const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
/// Fragment offset bits, in units of 8 octets (RFC 791 §3.1).
pub(super) const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;
/// The largest total length the 16-bit field can state.
const TOTAL_LENGTH_MAX: usize = u16::MAX as usize;

/// A read/write view of an IPv4 packet in a caller's buffer (RFC 791 §3.1).
///
/// Made with [`Ipv4Packet::new_checked`], no accessor panics. With
/// [`Ipv4Packet::new_unchecked`] the caller promises the buffer is long enough for every
/// field it reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn read_u16(bytes: &[u8], range: field::Field) -> u16 {
    let word = &bytes[range];
    u16::from_be_bytes([word[0], word[1]])
}

fn read_addr(bytes: &[u8], range: field::Field) -> Ipv4Addr {
    let addr = &bytes[range];
    Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking anything; see the type's docs for the contract.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after [`Ipv4Packet::check_len`] so that no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>, WireError> {
        let packet = Ipv4Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds a whole IPv4 packet as its header describes it:
    /// at least 20 bytes ([`WireError::Truncated`]), version 4 ([`WireError::NotIpv4`]),
    /// 5 <= IHL and IHL * 4 <= buffer ([`WireError::BadIpHeaderLength`]), and
    /// header <= total length <= buffer ([`WireError::BadIpTotalLength`]).
    ///
    /// Bytes beyond the total length (link-layer padding) are allowed and ignored.
    pub fn check_len(&self) -> Result<(), WireError> {
        let got = self.buffer.as_ref().len();
        if got < IPV4_HEADER_LEN {
            return Err(WireError::Truncated {
                needed: IPV4_HEADER_LEN,
                got,
            });
        }
        if self.version() != 4 {
            return Err(WireError::NotIpv4(self.version()));
        }
        let header_len = self.header_len();
        if header_len < IPV4_HEADER_LEN || header_len > got {
            return Err(WireError::BadIpHeaderLength(self.ihl()));
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len || total_len > got {
            return Err(WireError::BadIpTotalLength(self.total_len()));
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_IHL] >> 4
    }

    /// Internet Header Length in 32-bit words (RFC 791: at least 5).
    pub fn ihl(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_IHL] & 0x0f
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// DSCP and ECN bits (RFC 2474, RFC 3168), the old Type of Service byte.
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Total length of the packet in bytes: header plus payload.
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LENGTH)
    }

    /// Identification, used to group fragments.
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't Fragment flag.
    pub fn dont_fragment(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAGMENT) & FLAG_DONT_FRAGMENT != 0
    }

    /// More Fragments flag.
    pub fn more_fragments(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAGMENT) & FLAG_MORE_FRAGMENTS != 0
    }

    /// Fragment offset in bytes (the field counts 8-octet units).
    pub fn fragment_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLAGS_FRAGMENT) & FRAGMENT_OFFSET_MASK) * 8
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload (6 for TCP, [`super::IP_PROTO_TCP`]).
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum field as stored.
    pub fn header_checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        read_addr(self.buffer.as_ref(), field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        read_addr(self.buffer.as_ref(), field::DST_ADDR)
    }

    /// The IP options between the fixed header and the payload (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[IPV4_HEADER_LEN..self.header_len()]
    }

    /// True when the header checksum verifies over the whole header, options included
    /// (RFC 791 §3.1, "Header Checksum").
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.buffer.as_ref()[..self.header_len()])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The payload, borrowed for as long as the buffer: from the end of the header to the
    /// total length, so link-layer padding after the packet is not included.
    pub fn payload(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer.as_ref();
        &buffer[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4, 20..=60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        debug_assert!(header_len & 3 == 0 && (IPV4_HEADER_LEN..=60).contains(&header_len));
        self.buffer.as_mut()[field::VERSION_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP and ECN byte.
    pub fn set_dscp_ecn(&mut self, value: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = value;
    }

    /// Sets the total length (header plus payload, bytes).
    pub fn set_total_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::TOTAL_LENGTH].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the identification field.
    pub fn set_ident(&mut self, value: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the flags and fragment offset word: DF, MF, and an offset in bytes (rounded
    /// down to the 8-octet units the field holds).
    pub fn set_fragment(&mut self, dont_fragment: bool, more_fragments: bool, offset: u16) {
        let mut word = (offset / 8) & FRAGMENT_OFFSET_MASK;
        if dont_fragment {
            word |= FLAG_DONT_FRAGMENT;
        }
        if more_fragments {
            word |= FLAG_MORE_FRAGMENTS;
        }
        self.buffer.as_mut()[field::FLAGS_FRAGMENT].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the payload protocol.
    pub fn set_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = value;
    }

    /// Sets the header checksum field to `value` as is.
    pub fn set_header_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Computes and stores the header checksum over the header as currently written
    /// (RFC 791 §3.1: the checksum field is taken as zero while computing).
    pub fn fill_checksum(&mut self) {
        self.set_header_checksum(0);
        let header_len = self.header_len();
        let value = checksum::checksum(&self.buffer.as_ref()[..header_len]);
        self.set_header_checksum(value);
    }

    /// The payload, mutable: from the end of the header to the total length.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

impl Ipv4Repr {
    /// Parses and validates an IPv4 header (RFC 791 §3.1).
    ///
    /// Checks the lengths again ([`Ipv4Packet::check_len`]), then the header checksum
    /// ([`WireError::BadIpChecksum`]), then rejects fragments ([`WireError::Fragmented`]).
    /// Any protocol is accepted; IP options are skipped.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv4Packet<&T>) -> Result<Ipv4Repr, WireError> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(WireError::BadIpChecksum);
        }
        if packet.more_fragments() || packet.fragment_offset() != 0 {
            return Err(WireError::Fragmented {
                offset: packet.fragment_offset(),
                more: packet.more_fragments(),
            });
        }
        Ok(Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            ident: packet.ident(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
        })
    }

    /// Bytes [`Ipv4Repr::emit`] writes: always 20, tcpwave sends no IP options.
    pub const fn buffer_len(&self) -> usize {
        IPV4_HEADER_LEN
    }

    /// Total length of the packet this header describes: header plus `payload_len`.
    pub const fn total_len(&self) -> usize {
        IPV4_HEADER_LEN + self.payload_len
    }

    /// Writes the 20-byte header into the start of `buf`: version 4, IHL 5, DSCP/ECN 0,
    /// DF set (RFC 1191 path-MTU discovery, as Linux sends TCP), no fragment offset, and a
    /// correct header checksum. The payload itself is the caller's to write after it.
    ///
    /// Fails with [`WireError::BufferTooSmall`] if `buf` is shorter than 20 bytes and with
    /// [`WireError::PacketTooLong`] if the total length does not fit in 16 bits.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        if buf.len() < IPV4_HEADER_LEN {
            return Err(WireError::BufferTooSmall {
                needed: IPV4_HEADER_LEN,
                got: buf.len(),
            });
        }
        let total_len = self.payload_len.saturating_add(IPV4_HEADER_LEN);
        if total_len > TOTAL_LENGTH_MAX {
            return Err(WireError::PacketTooLong {
                len: total_len,
                max: TOTAL_LENGTH_MAX,
            });
        }
        let Some(header) = buf.first_chunk_mut::<IPV4_HEADER_LEN>() else {
            return Err(WireError::BufferTooSmall {
                needed: IPV4_HEADER_LEN,
                got: buf.len(),
            });
        };
        *header = header_bytes(self, total_len as u16);
        Ok(())
    }
}

/// The 20-byte header [`Ipv4Repr::emit`] writes for `repr` and `total_len`, checksum
/// included, built as one value so that it is stored at once (RFC 791 §3.1).
#[inline]
pub(super) fn header_bytes(repr: &Ipv4Repr, total_len: u16) -> [u8; IPV4_HEADER_LEN] {
    let [length_high, length_low] = total_len.to_be_bytes();
    let [ident_high, ident_low] = repr.ident.to_be_bytes();
    // DF set, no fragment offset (RFC 1191 path-MTU discovery, as Linux sends TCP).
    let [flags_high, flags_low] = FLAG_DONT_FRAGMENT.to_be_bytes();
    let [s0, s1, s2, s3] = repr.src.octets();
    let [d0, d1, d2, d3] = repr.dst.octets();
    // RFC 1071 summed from the fields (16-bit fields as numbers, the addresses as 32-bit
    // numbers: see checksum::host_sum_tcp_pseudo_header), not from the bytes.
    let sum = u64::from(u16::from_be_bytes([VERSION_4_IHL_5, 0]))
        + u64::from(total_len)
        + u64::from(repr.ident)
        + u64::from(FLAG_DONT_FRAGMENT)
        + u64::from(u16::from_be_bytes([repr.ttl, repr.protocol]))
        + u64::from(u32::from(repr.src))
        + u64::from(u32::from(repr.dst));
    let [check_high, check_low] = (!checksum::fold(sum)).to_be_bytes();
    [
        VERSION_4_IHL_5,
        0, // DSCP and ECN
        length_high,
        length_low,
        ident_high,
        ident_low,
        flags_high,
        flags_low,
        repr.ttl,
        repr.protocol,
        check_high,
        check_low,
        s0,
        s1,
        s2,
        s3,
        d0,
        d1,
        d2,
        d3,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 0, 1),
            dst: Ipv4Addr::new(192, 168, 0, 199),
            protocol: 17,
            ttl: 64,
            ident: 0,
            payload_len: 95,
        }
    }

    #[test]
    fn emits_the_textbook_header_byte_for_byte() {
        let mut buf = [0u8; 115];
        repr().emit(&mut buf).expect("buffer is large enough");
        let expected = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(&buf[..20], &expected);
        let packet = Ipv4Packet::new_checked(&buf[..]).expect("own output is valid");
        assert_eq!(Ipv4Repr::parse(&packet), Ok(repr()));
        assert_eq!(packet.payload().len(), 95);
        assert!(packet.dont_fragment());
    }

    #[test]
    fn options_are_skipped_and_trailing_padding_ignored() {
        let mut buf = [0u8; 64];
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.set_version_and_header_len(24);
        packet.set_total_len(30);
        packet.set_ttl(5);
        packet.set_protocol(6);
        packet.set_src_addr(Ipv4Addr::new(1, 2, 3, 4));
        packet.set_dst_addr(Ipv4Addr::new(5, 6, 7, 8));
        packet.into_inner()[20..24].copy_from_slice(&[1, 1, 1, 0]);
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.payload_mut().copy_from_slice(&[9; 6]);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&buf[..]).expect("valid");
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload(), &[9; 6]);
        let repr = Ipv4Repr::parse(&packet).expect("valid");
        assert_eq!(repr.payload_len, 6);
        assert_eq!(repr.protocol, 6);
    }

    #[test]
    fn fragments_report_offset_in_bytes() {
        let mut buf = [0u8; 40];
        Ipv4Repr {
            payload_len: 20,
            ..repr()
        }
        .emit(&mut buf)
        .expect("fits");
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.set_fragment(false, true, 1480);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&buf[..]).expect("lengths are fine");
        assert_eq!(
            Ipv4Repr::parse(&packet),
            Err(WireError::Fragmented {
                offset: 1480,
                more: true
            })
        );
    }

    #[test]
    fn emit_rejects_short_buffer_and_oversize_payload() {
        let mut buf = [0u8; 19];
        assert_eq!(
            repr().emit(&mut buf),
            Err(WireError::BufferTooSmall {
                needed: 20,
                got: 19
            })
        );
        let mut buf = [0u8; 20];
        let huge = Ipv4Repr {
            payload_len: 65_516,
            ..repr()
        };
        assert_eq!(
            huge.emit(&mut buf),
            Err(WireError::PacketTooLong {
                len: 65_536,
                max: 65_535
            })
        );
    }
}
