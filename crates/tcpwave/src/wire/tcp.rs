//! TCP header (RFC 9293 §3.1): a zero-copy view [`TcpPacket`], parsing and emitting
//! [`TcpRepr`], and the IPv4+TCP helpers the engine, the TUN runtime and the simulator use.
//!
//! Read RFC 9293 §3.1 (header format, checksum) and §3.2 (options) first; the options
//! themselves live in `options.rs`.
//!
//! The whole-packet helpers the engine uses ([`super::parse_ipv4_tcp`],
//! [`super::emit_ipv4_tcp`]) live in `ipv4_tcp.rs` and share [`write_segment`] with
//! [`TcpRepr::emit`].

use super::checksum::{self, TcpChecksum};
use super::options::{options_len, parse_options, Layout};
use super::{TcpFlags, TcpRepr, WireError};
use crate::seq::SeqNumber;
use core::net::Ipv4Addr;

/// Length of a TCP header without options (data offset 5).
pub const TCP_HEADER_LEN: usize = 20;

/// The largest TCP segment the 16-bit length of the pseudo-header (and of an IPv4 packet)
/// allows.
pub(super) const SEGMENT_LEN_MAX: usize = u16::MAX as usize;

/// Byte offsets of the TCP header fields (RFC 9293 §3.1).
mod field {
    pub type Field = core::ops::Range<usize>;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset in 32-bit words (high nibble); the low nibble is reserved.
    pub const DATA_OFFSET: usize = 12;
    /// Control bits CWR ECE URG ACK PSH RST SYN FIN.
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// A read/write view of a TCP segment (header, options, payload) in a caller's buffer.
///
/// The buffer must be exactly the segment, i.e. the IPv4 payload, since the checksum covers
/// all of it. Made with [`TcpPacket::new_checked`], no accessor panics; with
/// [`TcpPacket::new_unchecked`] the caller promises the buffer is long enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn read_u16(bytes: &[u8], range: field::Field) -> u16 {
    let word = &bytes[range];
    u16::from_be_bytes([word[0], word[1]])
}

fn read_u32(bytes: &[u8], range: field::Field) -> u32 {
    let word = &bytes[range];
    u32::from_be_bytes([word[0], word[1], word[2], word[3]])
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` without checking anything; see the type's docs for the contract.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` after [`TcpPacket::check_len`] so that no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>, WireError> {
        let packet = TcpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header ([`WireError::Truncated`]) and that the
    /// data offset is at least 5 words and within the buffer ([`WireError::BadDataOffset`]).
    pub fn check_len(&self) -> Result<(), WireError> {
        let got = self.buffer.as_ref().len();
        if got < TCP_HEADER_LEN {
            return Err(WireError::Truncated {
                needed: TCP_HEADER_LEN,
                got,
            });
        }
        let header_len = self.header_len();
        if header_len < TCP_HEADER_LEN || header_len > got {
            return Err(WireError::BadDataOffset(self.data_offset()));
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(read_u32(self.buffer.as_ref(), field::SEQ_NUM))
    }

    /// Acknowledgment number (meaningful only with ACK set).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(read_u32(self.buffer.as_ref(), field::ACK_NUM))
    }

    /// Data offset: header length in 32-bit words.
    pub fn data_offset(&self) -> u8 {
        self.buffer.as_ref()[field::DATA_OFFSET] >> 4
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The eight control bits of byte 13 (the reserved bits of byte 12 are ignored).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Window field, unscaled.
    pub fn window_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field as stored.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer (meaningful only with URG set).
    pub fn urgent_at(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The raw option area, between the fixed header and the data offset.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[TCP_HEADER_LEN..self.header_len()]
    }

    /// True when the checksum over the pseudo-header and the whole buffer verifies
    /// (RFC 9293 §3.1).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        checksum::verify_tcp_checksum(src, dst, self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The segment's data, after the options, borrowed for as long as the buffer.
    pub fn payload(&self) -> &'a [u8] {
        let buffer: &'a [u8] = self.buffer.as_ref();
        &buffer[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn write_field(&mut self, range: field::Field, bytes: &[u8]) {
        self.buffer.as_mut()[range].copy_from_slice(bytes);
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.write_field(field::SRC_PORT, &value.to_be_bytes());
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.write_field(field::DST_PORT, &value.to_be_bytes());
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        self.write_field(field::SEQ_NUM, &value.0.to_be_bytes());
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        self.write_field(field::ACK_NUM, &value.0.to_be_bytes());
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4, 20..=60) and
    /// clears the reserved bits.
    pub fn set_header_len(&mut self, header_len: usize) {
        debug_assert!(header_len & 3 == 0 && (TCP_HEADER_LEN..=60).contains(&header_len));
        self.buffer.as_mut()[field::DATA_OFFSET] = ((header_len / 4) as u8) << 4;
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the window field (already scaled down by the caller).
    pub fn set_window_len(&mut self, value: u16) {
        self.write_field(field::WINDOW, &value.to_be_bytes());
    }

    /// Sets the checksum field to `value` as is.
    pub fn set_checksum(&mut self, value: u16) {
        self.write_field(field::CHECKSUM, &value.to_be_bytes());
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        self.write_field(field::URGENT, &value.to_be_bytes());
    }

    /// The option area, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let range = TCP_HEADER_LEN..self.header_len();
        &mut self.buffer.as_mut()[range]
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes and stores the checksum over the pseudo-header and the whole buffer
    /// (RFC 9293 §3.1: the checksum field is taken as zero while computing).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let value = checksum::tcp_checksum(src, dst, self.buffer.as_ref());
        self.set_checksum(value);
    }
}

impl TcpRepr {
    /// Parses a TCP header sent from `src` to `dst` (RFC 9293 §3.1).
    ///
    /// Checks lengths again ([`TcpPacket::check_len`]), then, if `verify_checksum`, the
    /// checksum ([`WireError::BadTcpChecksum`]), then the options
    /// ([`WireError::BadOptionLength`]). The payload is [`TcpPacket::payload`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        verify_checksum: bool,
    ) -> Result<TcpRepr, WireError> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum(src, dst) {
            return Err(WireError::BadTcpChecksum);
        }
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            options: parse_options(packet.options())?,
        })
    }

    /// Bytes of header [`TcpRepr::emit`] writes: 20 plus the options in Linux's layout
    /// (`options_len(&self.options, self.flags.syn())`), at most 60.
    pub fn header_len(&self) -> usize {
        TCP_HEADER_LEN + options_len(&self.options, self.flags.syn())
    }

    /// Sequence space the segment occupies, SEG.LEN of RFC 9293 §3.4: the data plus one
    /// for SYN and one for FIN.
    pub fn seq_len(&self, payload_len: usize) -> usize {
        payload_len + usize::from(self.flags.syn()) + usize::from(self.flags.fin())
    }

    /// Writes header, options and `payload` into the start of `buf` with the checksum for
    /// `src` -> `dst`, and returns the bytes written (`header_len() + payload.len()`).
    ///
    /// Options are written for SYN or non-SYN according to `self.flags` (see `options.rs`).
    /// Fails with [`WireError::BufferTooSmall`] or [`WireError::PacketTooLong`].
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload: &[u8],
    ) -> Result<usize, WireError> {
        let layout = Layout::new(&self.options, self.flags.syn());
        let header_len = TCP_HEADER_LEN + layout.len();
        let segment = room(buf, header_len, payload.len())?;
        if let Some(dst_payload) = segment.get_mut(header_len..) {
            // `segment` is header_len + payload.len() bytes: the lengths agree.
            dst_payload.copy_from_slice(payload);
        }
        Ok(write_segment(
            self,
            &layout,
            segment,
            src,
            dst,
            TcpChecksum::Software,
        ))
    }

    /// Like [`TcpRepr::emit`], for a payload of `payload_len` bytes that the caller has
    /// already copied to `buf[self.header_len()..]`: writes the header and options in front
    /// of it and the checksum over all of it. Saves a copy when the data comes from a ring
    /// buffer in two pieces.
    pub fn emit_header(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
    ) -> Result<usize, WireError> {
        let layout = Layout::new(&self.options, self.flags.syn());
        let segment = room(buf, TCP_HEADER_LEN + layout.len(), payload_len)?;
        Ok(write_segment(
            self,
            &layout,
            segment,
            src,
            dst,
            TcpChecksum::Software,
        ))
    }
}

/// The first `header_len + payload_len` bytes of `buf`, or why a segment or packet that
/// long cannot be written there: [`WireError::PacketTooLong`] past 65,535 bytes (the
/// pseudo-header's TCP length and the IPv4 total length are 16 bits, RFC 9293 §3.1,
/// RFC 791 §3.1), else [`WireError::BufferTooSmall`].
pub(super) fn room(
    buf: &mut [u8],
    header_len: usize,
    payload_len: usize,
) -> Result<&mut [u8], WireError> {
    let segment_len = header_len.saturating_add(payload_len);
    if segment_len > SEGMENT_LEN_MAX {
        return Err(WireError::PacketTooLong {
            len: segment_len,
            max: SEGMENT_LEN_MAX,
        });
    }
    let got = buf.len();
    buf.get_mut(..segment_len).ok_or(WireError::BufferTooSmall {
        needed: segment_len,
        got,
    })
}

/// The fixed 20-byte header of `repr` (RFC 9293 §3.1) with `data_offset` as byte 12 and
/// `checksum` in its field, as one value made of three big-endian words (so it is stored
/// with three writes):
///
/// | bytes  | fields                                             |
/// |--------|----------------------------------------------------|
/// | 0..8   | source port, destination port, sequence number     |
/// | 8..16  | acknowledgment number, data offset, flags, window  |
/// | 16..20 | checksum, urgent pointer                           |
#[inline]
fn fixed_header(repr: &TcpRepr, data_offset: u8, checksum: u16) -> [u8; TCP_HEADER_LEN] {
    let ports = u64::from(repr.src_port) << 48 | u64::from(repr.dst_port) << 32;
    let first = ports | u64::from(repr.seq.0);
    let control = u64::from(data_offset) << 24 | u64::from(repr.flags.0) << 16;
    let second = u64::from(repr.ack.0) << 32 | control | u64::from(repr.window);
    let third = u32::from(checksum) << 16 | u32::from(repr.urgent);
    let [b0, b1, b2, b3, b4, b5, b6, b7] = first.to_be_bytes();
    let [b8, b9, b10, b11, b12, b13, b14, b15] = second.to_be_bytes();
    let [b16, b17, b18, b19] = third.to_be_bytes();
    [
        b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19,
    ]
}

/// Writes the header and options of `repr`, laid out as `layout`, at the start of
/// `segment` (exactly the segment: header, options, then the data, already in place) and
/// the checksum for `src` -> `dst`. Returns `segment.len()`.
///
/// The options go first so that the checksum is one pass over them and the data plus the
/// fixed header summed from its fields, which is then stored whole, checksum included
/// ([`fixed_header`]).
///
/// With [`TcpChecksum::Offloaded`] the field holds the folded pseudo-header sum, not
/// complemented, and nothing else is summed: Linux's `__tcp_v4_send_check()` stores
/// `~tcp_v4_check(skb->len, saddr, daddr, 0)` for CHECKSUM_PARTIAL, and `tcp_v4_check()`
/// (`csum_tcpudp_magic()`) returns the complemented fold, so the field is the plain fold.
/// The device then sums from the TCP header to the end with that field in place and stores
/// the complement (`csum_start`/`csum_offset`), which gives the software checksum exactly.
/// (Checked against the kernel's net/ipv4/tcp_ipv4.c and include/asm-generic/checksum.h.)
///
/// Always inlined, so that a caller passing a constant `mode` gets only that path.
#[inline(always)]
pub(super) fn write_segment(
    repr: &TcpRepr,
    layout: &Layout,
    segment: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    mode: TcpChecksum,
) -> usize {
    let segment_len = segment.len();
    let options_len = layout.len();
    let Some((fixed, rest)) = segment.split_first_chunk_mut::<TCP_HEADER_LEN>() else {
        debug_assert!(false, "a segment is at least its fixed header");
        return 0;
    };
    if let Some(area) = rest.get_mut(..options_len) {
        layout.write(&repr.options, area);
    }
    let header_len = TCP_HEADER_LEN + options_len;
    // Data offset in words, reserved bits clear.
    let data_offset = ((header_len / 4) as u8) << 4;
    // The caller checked segment_len <= SEGMENT_LEN_MAX, so the cast is exact.
    debug_assert!(segment_len <= SEGMENT_LEN_MAX);
    let pseudo = checksum::host_sum_tcp_pseudo_header(src, dst, segment_len as u16);
    let value = match mode {
        TcpChecksum::Software => {
            // The fixed header is summed from the fields (host order, as the pseudo-header)
            // with the checksum field taken as zero (RFC 9293 §3.1), the options and data
            // from the bytes; the two meet as folded 16-bit sums.
            let fields = u64::from(repr.src_port)
                + u64::from(repr.dst_port)
                + u64::from(repr.seq.0)
                + u64::from(repr.ack.0)
                + u64::from(u16::from_be_bytes([data_offset, repr.flags.0]))
                + u64::from(repr.window)
                + u64::from(repr.urgent);
            let rest_sum = checksum::fold_to_host(checksum::sum_native(rest));
            !checksum::fold(pseudo + fields + u64::from(rest_sum))
        }
        TcpChecksum::Offloaded => checksum::fold(pseudo),
    };
    *fixed = fixed_header(repr, data_offset, value);
    segment_len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TcpOptions;
    use crate::wire::{emit_ipv4_tcp, emit_ipv4_tcp_in_place, ipv4_tcp_len, parse_ipv4_tcp};

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn linux_syn() -> TcpRepr {
        TcpRepr {
            src_port: 40_000,
            dst_port: 80,
            seq: SeqNumber(0x1234_5678),
            flags: TcpFlags::SYN,
            window: 64_240,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some((1_000, 0)),
                ..TcpOptions::default()
            },
            ..TcpRepr::default()
        }
    }

    #[test]
    fn linux_syn_is_a_60_byte_packet_and_round_trips() {
        let syn = linux_syn();
        assert_eq!(syn.header_len(), 40);
        assert_eq!(ipv4_tcp_len(&syn, 0), 60);
        let mut buf = [0u8; 80];
        let written = emit_ipv4_tcp(SRC, DST, 64, 7, &syn, &[], &mut buf).expect("fits");
        assert_eq!(written, 60);
        assert_eq!(buf[32], 0xa0, "data offset 10 words");
        assert_eq!(buf[33], 0x02, "SYN only");
        let (ip, tcp, payload) = parse_ipv4_tcp(&buf).expect("own output parses");
        assert_eq!(
            (ip.src, ip.dst, ip.ttl, ip.ident, ip.payload_len),
            (SRC, DST, 64, 7, 40)
        );
        assert_eq!(tcp, syn);
        assert!(payload.is_empty());
        assert_eq!(syn.seq_len(0), 1);
    }

    #[test]
    fn data_segment_payload_is_borrowed_from_the_input() {
        let data = TcpRepr {
            src_port: 80,
            dst_port: 40_000,
            seq: SeqNumber(7),
            ack: SeqNumber(0x1234_5679),
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 502,
            options: TcpOptions {
                timestamps: Some((2_000, 1_000)),
                ..TcpOptions::default()
            },
            ..TcpRepr::default()
        };
        let mut buf = [0u8; 100];
        let written = emit_ipv4_tcp(DST, SRC, 64, 0, &data, b"hello", &mut buf).expect("fits");
        assert_eq!(written, 20 + 32 + 5);
        let (_, tcp, payload) = parse_ipv4_tcp(&buf).expect("valid");
        assert_eq!(tcp, data);
        assert_eq!(payload, b"hello");
        assert_eq!(payload.as_ptr(), buf[52..].as_ptr());
    }

    #[test]
    fn in_place_emit_matches_copying_emit() {
        let syn = linux_syn();
        let mut copied = [0u8; 70];
        let mut in_place = [0u8; 70];
        emit_ipv4_tcp(SRC, DST, 64, 1, &syn, b"0123456789", &mut copied).expect("fits");
        in_place[60..70].copy_from_slice(b"0123456789");
        emit_ipv4_tcp_in_place(SRC, DST, 64, 1, &syn, 10, &mut in_place).expect("fits");
        assert_eq!(copied, in_place);
    }

    #[test]
    fn tcp_emit_writes_only_the_segment_and_checksum_verifies() {
        let syn = linux_syn();
        let mut buf = [0xeeu8; 45];
        assert_eq!(syn.emit(&mut buf, SRC, DST, b"abc"), Ok(43));
        assert_eq!(&buf[43..], &[0xee, 0xee]);
        let packet = TcpPacket::new_checked(&buf[..43]).expect("valid");
        assert!(packet.verify_checksum(SRC, DST));
        assert_eq!(packet.payload(), b"abc");
        assert_eq!(TcpRepr::parse(&packet, SRC, DST, true), Ok(syn));
        assert_eq!(
            TcpRepr::parse(&packet, DST, DST, true),
            Err(WireError::BadTcpChecksum)
        );
        assert_eq!(TcpRepr::parse(&packet, DST, DST, false), Ok(syn));
    }

    #[test]
    fn short_output_buffers_are_reported() {
        let syn = linux_syn();
        let mut buf = [0u8; 59];
        assert_eq!(
            emit_ipv4_tcp(SRC, DST, 64, 0, &syn, &[], &mut buf),
            Err(WireError::BufferTooSmall {
                needed: 60,
                got: 59
            })
        );
        assert_eq!(
            syn.emit(&mut buf[..39], SRC, DST, &[]),
            Err(WireError::BufferTooSmall {
                needed: 40,
                got: 39
            })
        );
    }

    #[test]
    fn oversize_payload_is_reported() {
        let data = TcpRepr {
            flags: TcpFlags::ACK,
            ..TcpRepr::default()
        };
        let payload = vec![0u8; 65_516];
        let mut buf = vec![0u8; 70_000];
        assert_eq!(
            emit_ipv4_tcp(SRC, DST, 64, 0, &data, &payload, &mut buf),
            Err(WireError::PacketTooLong {
                len: 65_556,
                max: 65_535
            })
        );
        assert_eq!(
            emit_ipv4_tcp(SRC, DST, 64, 0, &data, &payload[..65_495], &mut buf),
            Ok(65_535)
        );
    }
}
