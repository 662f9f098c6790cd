//! TCP options: parsing the option area into [`TcpOptions`] and emitting it in Linux's
//! layout.
//!
//! Read RFC 9293 §3.2 (option format, MSS), RFC 7323 §2 (window scale) and §3 (timestamps),
//! and RFC 2018 §2-3 (SACK-permitted, SACK) first.
//!
//! Emit follows Linux `tcp_options_write()` (net/ipv4/tcp_output.c) word for word, so a
//! capture of tcpwave looks like a capture of Linux:
//!
//! | segment | layout (each group is one 32-bit word or more)                        |
//! |---------|-----------------------------------------------------------------------|
//! | SYN     | `02 04 MSS` · `04 02 08 0a TSval TSecr` (SACK-permitted packed with TS)|
//! |         | or `01 01 08 0a TSval TSecr` (TS without SACK-permitted)              |
//! |         | or `01 01 04 02` (SACK-permitted without TS) · `01 03 03 shift`       |
//! | other   | `01 01 08 0a TSval TSecr` · `01 01 05 len` + 8 bytes per SACK block   |
//!
//! MSS, window scale and SACK-permitted are only sent on SYN segments (RFC 9293 §3.7.1,
//! RFC 7323 §2.2, RFC 2018 §2); SACK blocks only on non-SYN segments, as Linux does.
//! Every layout is a whole number of words, so no padding is needed, and SACK blocks that
//! do not fit in the 40-byte option area are dropped (at most 3 with timestamps, 4 without:
//! RFC 2018 §3).

use super::{SackBlock, TcpOptions, WireError};
use crate::seq::SeqNumber;

/// The largest option area a TCP header can carry: data offset 15 words minus the 5-word
/// fixed header (RFC 9293 §3.1).
pub const TCP_MAX_OPTIONS_LEN: usize = 40;

/// Option kinds (RFC 9293 §3.2, RFC 7323, RFC 2018) and the fixed lengths of the ones
/// tcpwave understands.
pub mod option_kind {
    /// End of option list (RFC 9293 §3.2): parsing stops here.
    pub const END: u8 = 0;
    /// No-operation, one byte, used for alignment (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.7.1), length 4.
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2.2), length 3.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (RFC 2018 §2), length 2.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018 §3), length 2 + 8 per block.
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3.2), length 10.
    pub const TIMESTAMPS: u8 = 8;

    /// Length byte of the MSS option.
    pub const MSS_LEN: u8 = 4;
    /// Length byte of the window-scale option.
    pub const WINDOW_SCALE_LEN: u8 = 3;
    /// Length byte of the SACK-permitted option.
    pub const SACK_PERMITTED_LEN: u8 = 2;
    /// Length of the SACK option before its blocks.
    pub const SACK_BASE_LEN: u8 = 2;
    /// Length of one SACK block: two sequence numbers.
    pub const SACK_BLOCK_LEN: u8 = 8;
    /// Length byte of the timestamps option.
    pub const TIMESTAMPS_LEN: u8 = 10;
}

use option_kind::*;

/// The options in tcpdump's words, comma separated:
/// `mss 1460,sackOK,TS val 1 ecr 0,wscale 7` (or `...,sack 1 {1449:2897}`).
impl core::fmt::Display for TcpOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut sep = "";
        let mut part = |f: &mut core::fmt::Formatter<'_>, args: core::fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = ",";
            r
        };
        if let Some(mss) = self.mss {
            part(f, format_args!("mss {mss}"))?;
        }
        if self.sack_permitted {
            part(f, format_args!("sackOK"))?;
        }
        if let Some((val, ecr)) = self.timestamps {
            part(f, format_args!("TS val {val} ecr {ecr}"))?;
        }
        if let Some(ws) = self.window_scale {
            part(f, format_args!("wscale {ws}"))?;
        }
        if self.sack_count > 0 {
            part(f, format_args!("sack {} ", self.sacks().len()))?;
            for b in self.sacks() {
                write!(f, "{{{}:{}}}", b.left, b.right)?;
            }
        }
        Ok(())
    }
}

/// The most SACK blocks the `sack_blocks` array holds (RFC 2018 §3: at most four fit).
const SACK_BLOCKS_MAX: usize = 4;

/// Parses a TCP option area (the bytes between the fixed 20-byte header and the data
/// offset) into [`TcpOptions`] (RFC 9293 §3.2).
///
/// - NOP is skipped; END stops parsing and whatever follows it is padding.
/// - Unknown kinds with a plausible length are skipped (RFC 9293 §3.2: "a TCP
///   implementation MUST be able to receive a TCP option in any segment" and ignore what
///   it does not implement).
/// - A length below 2, an option running past the area (a kind with no length byte is
///   reported with length 0), a fixed-size kind (MSS, window scale, SACK-permitted,
///   timestamps) with the wrong length, or a SACK option that is not 2 + 8n bytes with
///   n >= 1 is rejected with [`WireError::BadOptionLength`].
///
/// Linux instead silently stops at or ignores such an option and keeps the segment; this
/// parser is stricter so the caller can decide.
///
/// The window-scale shift is returned raw; RFC 7323 §2.3 says the receiver clamps it to 14.
/// A repeated option overwrites the earlier one.
#[inline]
pub fn parse_options(area: &[u8]) -> Result<TcpOptions, WireError> {
    let mut options = TcpOptions::default();
    parse_options_into(area, &mut options)?;
    Ok(options)
}

/// [`parse_options`] into `out` (which the caller reset, e.g. to the default): no copy of
/// the ~60-byte result on the receive path. On error `out` holds whatever was parsed.
#[inline]
pub fn parse_options_into(area: &[u8], out: &mut TcpOptions) -> Result<(), WireError> {
    // The areas nearly every segment of a connection carries are recognised whole, by
    // their length and a compare of their fixed words, before the general walk: none,
    // `NOP NOP TS` alone (the aligned layout RFC 7323 Appendix A recommends and Linux sends
    // after the handshake, and recognises first, in tcp_parse_aligned_timestamp), and the
    // SYN layout of Linux (and of tcpwave). Each gives exactly what the walk gives for the
    // same bytes.
    if area.is_empty() {
        return Ok(());
    }
    if let Ok(area) = <&[u8; ALIGNED_TIMESTAMPS_LEN]>::try_from(area) {
        if let Some(timestamps) = aligned_timestamps(area) {
            out.timestamps = Some(timestamps);
            return Ok(());
        }
    } else if let Ok(area) = <&[u8; LINUX_SYN_LEN]>::try_from(area) {
        if linux_syn(area, out) {
            return Ok(());
        }
    }
    *out = parse_options_walk(area)?;
    Ok(())
}

/// Length of the aligned timestamps area, `NOP NOP TS` (RFC 7323 Appendix A); on a SYN the
/// SACK-permitted option takes the place of the two NOPs.
const ALIGNED_TIMESTAMPS_LEN: usize = 12;
/// Its first word: `01 01 08 0a`.
const NOP_NOP_TIMESTAMPS: u32 = u32::from_be_bytes([NOP, NOP, TIMESTAMPS, TIMESTAMPS_LEN]);

/// (TSval, TSecr) when `area` is `NOP NOP TS`, the aligned timestamps layout.
#[inline(always)]
fn aligned_timestamps(area: &[u8; ALIGNED_TIMESTAMPS_LEN]) -> Option<(u32, u32)> {
    let [k0, k1, k2, k3, v0, v1, v2, v3, e0, e1, e2, e3] = *area;
    (u32::from_be_bytes([k0, k1, k2, k3]) == NOP_NOP_TIMESTAMPS).then(|| {
        (
            u32::from_be_bytes([v0, v1, v2, v3]),
            u32::from_be_bytes([e0, e1, e2, e3]),
        )
    })
}

/// Length of the option area of a Linux SYN or SYN-ACK with every option on:
/// `MSS` · `SACK-permitted TS` · `NOP window-scale` (see the module docs).
const LINUX_SYN_LEN: usize = 20;
/// The fixed bytes of its first word, `02 04`, above the MSS value.
const MSS_KIND_LEN: u16 = u16::from_be_bytes([MSS, MSS_LEN]);
/// Its second word, `04 02 08 0a`: SACK-permitted packed with the timestamps kind and length.
const SACK_PERMITTED_TIMESTAMPS: u32 = u32::from_be_bytes([
    SACK_PERMITTED,
    SACK_PERMITTED_LEN,
    TIMESTAMPS,
    TIMESTAMPS_LEN,
]);
/// The fixed bytes of its last word, `01 03 03`, before the shift count.
const NOP_WINDOW_SCALE: u32 = u32::from_be_bytes([0, NOP, WINDOW_SCALE, WINDOW_SCALE_LEN]);

/// Stores the options of `area` into `out` and returns true when `area` is the Linux SYN
/// layout ([`LINUX_SYN_LEN`]); leaves `out` alone otherwise.
#[inline(always)]
fn linux_syn(area: &[u8; LINUX_SYN_LEN], out: &mut TcpOptions) -> bool {
    let [m0, m1, m2, m3, p0, p1, p2, p3, v0, v1, v2, v3, e0, e1, e2, e3, w0, w1, w2, w3] = *area;
    let mss = u32::from_be_bytes([m0, m1, m2, m3]);
    let window_scale = u32::from_be_bytes([w0, w1, w2, w3]);
    if (mss >> 16) as u16 != MSS_KIND_LEN
        || u32::from_be_bytes([p0, p1, p2, p3]) != SACK_PERMITTED_TIMESTAMPS
        || window_scale >> 8 != NOP_WINDOW_SCALE
    {
        return false;
    }
    out.mss = Some(mss as u16);
    out.sack_permitted = true;
    out.timestamps = Some((
        u32::from_be_bytes([v0, v1, v2, v3]),
        u32::from_be_bytes([e0, e1, e2, e3]),
    ));
    out.window_scale = Some(window_scale as u8);
    true
}

/// The general option walk of [`parse_options`] (RFC 9293 §3.2), kept out of line so
/// that the whole-area matches inline into the caller.
#[inline(never)]
fn parse_options_walk(area: &[u8]) -> Result<TcpOptions, WireError> {
    let mut options = TcpOptions::default();
    let mut rest = area;
    while let Some((&kind, after_kind)) = rest.split_first() {
        match kind {
            END => break,
            NOP => {
                rest = after_kind;
                continue;
            }
            _ => {}
        }
        let length = after_kind.first().copied().unwrap_or(0);
        let bad_length = WireError::BadOptionLength { kind, length };
        let option_len = usize::from(length);
        if option_len < 2 || option_len > rest.len() {
            return Err(bad_length);
        }
        let (option, next) = rest.split_at(option_len);
        parse_one(&mut options, kind, option.get(2..).unwrap_or(&[])).ok_or(bad_length)?;
        rest = next;
    }
    Ok(options)
}

/// Stores one option's `data` (the bytes after kind and length) into `options`.
/// Returns `None` when the length is wrong for the kind.
fn parse_one(options: &mut TcpOptions, kind: u8, data: &[u8]) -> Option<()> {
    match (kind, data) {
        (MSS, &[high, low]) => options.mss = Some(u16::from_be_bytes([high, low])),
        (WINDOW_SCALE, &[shift]) => options.window_scale = Some(shift),
        (SACK_PERMITTED, &[]) => options.sack_permitted = true,
        (TIMESTAMPS, &[a, b, c, d, e, f, g, h]) => {
            let tsval = u32::from_be_bytes([a, b, c, d]);
            let tsecr = u32::from_be_bytes([e, f, g, h]);
            options.timestamps = Some((tsval, tsecr));
        }
        (SACK, blocks) => parse_sack_blocks(options, blocks)?,
        (MSS | WINDOW_SCALE | SACK_PERMITTED | TIMESTAMPS, _) => return None,
        // RFC 9293 §3.2: unknown options are skipped by their length.
        _ => {}
    }
    Some(())
}

/// Parses the blocks of a SACK option (RFC 2018 §3): n >= 1 pairs of 32-bit edges.
fn parse_sack_blocks(options: &mut TcpOptions, blocks: &[u8]) -> Option<()> {
    let block_len = usize::from(SACK_BLOCK_LEN);
    if blocks.is_empty() || !blocks.chunks_exact(block_len).remainder().is_empty() {
        return None;
    }
    let mut count = 0;
    // A 40-byte area holds at most four blocks, so `zip` never drops one in practice.
    for (slot, block) in options
        .sack_blocks
        .iter_mut()
        .zip(blocks.chunks_exact(block_len))
    {
        let &[a, b, c, d, e, f, g, h] = block else {
            return None;
        };
        *slot = SackBlock {
            left: SeqNumber(u32::from_be_bytes([a, b, c, d])),
            right: SeqNumber(u32::from_be_bytes([e, f, g, h])),
        };
        count += 1;
    }
    for slot in options.sack_blocks.iter_mut().skip(count) {
        *slot = SackBlock::default();
    }
    options.sack_count = count as u8;
    Some(())
}

/// What [`emit_options`] will write for a set of options: computed once so that
/// [`options_len`] and the emitted bytes can never disagree. The option values themselves
/// are read from the same [`TcpOptions`] when the layout is written.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    /// The segment carries SYN: MSS, window scale and SACK-permitted go out, SACK blocks
    /// do not.
    syn: bool,
    /// SACK blocks that fit (none on SYN).
    sack_blocks: usize,
    /// Bytes the layout takes, worked out once in [`Layout::new`].
    len: usize,
}

impl Layout {
    /// What goes on a segment that does (`syn`) or does not carry SYN.
    #[inline]
    pub(super) fn new(options: &TcpOptions, syn: bool) -> Layout {
        let timestamps_len = if options.timestamps.is_some() {
            ALIGNED_TIMESTAMPS_LEN
        } else {
            0
        };
        if syn {
            let mut len = timestamps_len;
            if options.mss.is_some() {
                len += 4;
            }
            // Without timestamps, SACK-permitted takes a word of its own.
            if timestamps_len == 0 && options.sack_permitted {
                len += 4;
            }
            if options.window_scale.is_some() {
                len += 4;
            }
            Layout {
                syn,
                sack_blocks: 0,
                len,
            }
        } else if options.sack_count == 0 {
            // Nearly every segment: timestamps at most.
            Layout {
                syn,
                sack_blocks: 0,
                len: timestamps_len,
            }
        } else {
            // RFC 2018 §3: as many blocks as fit; the NOP NOP kind length word costs 4 bytes.
            let wanted = usize::from(options.sack_count).min(SACK_BLOCKS_MAX);
            let room = (TCP_MAX_OPTIONS_LEN - timestamps_len - 4) / usize::from(SACK_BLOCK_LEN);
            let sack_blocks = wanted.min(room);
            let sack_len = if sack_blocks > 0 {
                4 + sack_blocks * usize::from(SACK_BLOCK_LEN)
            } else {
                0
            };
            Layout {
                syn,
                sack_blocks,
                len: timestamps_len + sack_len,
            }
        }
    }

    /// Bytes the layout takes: a multiple of 4, at most [`TCP_MAX_OPTIONS_LEN`].
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

/// Number of option bytes [`emit_options`] writes for `options` on a segment that does
/// (`syn == true`) or does not carry SYN. Always a multiple of 4 and at most
/// [`TCP_MAX_OPTIONS_LEN`].
pub fn options_len(options: &TcpOptions, syn: bool) -> usize {
    Layout::new(options, syn).len()
}

/// A cursor over the option area that writes whole 32-bit words.
struct WordWriter<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl WordWriter<'_> {
    /// Writes `bytes` at the cursor. The caller checked the length up front, so a short
    /// buffer here is a bug: it is caught in debug builds and never panics in release.
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        debug_assert!(end <= self.buf.len(), "option layout overran its buffer");
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }
}

/// Writes `options` into the start of `buf` in Linux's layout (see the module docs) and
/// returns the number of bytes written, [`options_len`]`(options, syn)`.
///
/// Fails with [`WireError::BufferTooSmall`] if `buf` is shorter than that.
pub fn emit_options(options: &TcpOptions, syn: bool, buf: &mut [u8]) -> Result<usize, WireError> {
    let layout = Layout::new(options, syn);
    let needed = layout.len();
    if buf.len() < needed {
        return Err(WireError::BufferTooSmall {
            needed,
            got: buf.len(),
        });
    }
    layout.write(options, buf);
    Ok(needed)
}

impl Layout {
    /// Writes the layout of `options` (the options [`Layout::new`] was given) into the
    /// start of `buf`, which the caller made at least [`Layout::len`] bytes long. A shorter
    /// buffer is a bug: caught in debug builds, and in release the options are cut short
    /// rather than panicking.
    #[inline(always)]
    pub(super) fn write(&self, options: &TcpOptions, buf: &mut [u8]) {
        debug_assert!(buf.len() >= self.len(), "option layout overran its buffer");
        // Every segment after the handshake carries no option or timestamps alone
        // (RFC 7323 §3.2: once negotiated, on every segment), so those two are written
        // whole, without the word-by-word cursor.
        // SYN options or SACK blocks go word by word; otherwise timestamps alone or nothing.
        if self.syn || self.sack_blocks > 0 {
            self.write_words(options, buf);
        } else if let Some((tsval, tsecr)) = options.timestamps {
            let [v0, v1, v2, v3] = tsval.to_be_bytes();
            let [e0, e1, e2, e3] = tsecr.to_be_bytes();
            let area = [
                NOP,
                NOP,
                TIMESTAMPS,
                TIMESTAMPS_LEN,
                v0,
                v1,
                v2,
                v3,
                e0,
                e1,
                e2,
                e3,
            ];
            if let Some(slot) = buf.first_chunk_mut::<ALIGNED_TIMESTAMPS_LEN>() {
                *slot = area;
            }
        }
    }

    /// The general case of [`Layout::write`]: one 32-bit word at a time, in Linux's
    /// `tcp_options_write()` order (see the module docs), or Linux's SYN layout whole.
    /// Out of line, so that the two whole-area cases of `write` inline into the emitters.
    #[inline(never)]
    fn write_words(&self, options: &TcpOptions, buf: &mut [u8]) {
        let needed = self.len();
        let mut out = WordWriter { buf, at: 0 };
        // MSS, SACK-permitted and window scale only on SYN (RFC 9293 §3.7.1, RFC 2018 §2,
        // RFC 7323 §2.2).
        let (mss, sack_permitted, window_scale) = if self.syn {
            (options.mss, options.sack_permitted, options.window_scale)
        } else {
            (None, false, None)
        };
        // The SYN or SYN-ACK of Linux (and of tcpwave) with every option on, written
        // whole, as one value: what the words below give for it.
        if let (Some(mss), true, Some((tsval, tsecr)), Some(shift)) =
            (mss, sack_permitted, options.timestamps, window_scale)
        {
            let [m0, m1] = mss.to_be_bytes();
            let [v0, v1, v2, v3] = tsval.to_be_bytes();
            let [e0, e1, e2, e3] = tsecr.to_be_bytes();
            #[rustfmt::skip]
            let area = [
                MSS, MSS_LEN, m0, m1,
                SACK_PERMITTED, SACK_PERMITTED_LEN, TIMESTAMPS, TIMESTAMPS_LEN,
                v0, v1, v2, v3,
                e0, e1, e2, e3,
                NOP, WINDOW_SCALE, WINDOW_SCALE_LEN, shift,
            ];
            debug_assert_eq!(needed, LINUX_SYN_LEN);
            if let Some(slot) = out.buf.first_chunk_mut::<LINUX_SYN_LEN>() {
                *slot = area;
            }
            return;
        }
        if let Some(mss) = mss {
            let [high, low] = mss.to_be_bytes();
            out.put(&[MSS, MSS_LEN, high, low]);
        }
        if let Some((tsval, tsecr)) = options.timestamps {
            // Linux packs SACK-permitted into the two bytes a NOP NOP would otherwise fill.
            if sack_permitted {
                out.put(&[
                    SACK_PERMITTED,
                    SACK_PERMITTED_LEN,
                    TIMESTAMPS,
                    TIMESTAMPS_LEN,
                ]);
            } else {
                out.put(&[NOP, NOP, TIMESTAMPS, TIMESTAMPS_LEN]);
            }
            out.put(&tsval.to_be_bytes());
            out.put(&tsecr.to_be_bytes());
        } else if sack_permitted {
            out.put(&[NOP, NOP, SACK_PERMITTED, SACK_PERMITTED_LEN]);
        }
        if let Some(shift) = window_scale {
            out.put(&[NOP, WINDOW_SCALE, WINDOW_SCALE_LEN, shift]);
        }
        if self.sack_blocks > 0 {
            let sack_len = SACK_BASE_LEN + SACK_BLOCK_LEN * self.sack_blocks as u8;
            out.put(&[NOP, NOP, SACK, sack_len]);
            for block in options.sack_blocks.iter().take(self.sack_blocks) {
                out.put(&block.left.0.to_be_bytes());
                out.put(&block.right.0.to_be_bytes());
            }
        }
        debug_assert_eq!(
            out.at, needed,
            "options_len disagrees with the emitted layout"
        );
        debug_assert_eq!(needed % 4, 0);
        debug_assert!(needed <= TCP_MAX_OPTIONS_LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_tcpdumps_words() {
        let syn = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            ..TcpOptions::default()
        };
        assert_eq!(syn.to_string(), "mss 1460,sackOK,TS val 1 ecr 0,wscale 7");
        let mut data = TcpOptions {
            timestamps: Some((5, 4)),
            ..TcpOptions::default()
        };
        data.sack_blocks[0] = SackBlock {
            left: SeqNumber(1449),
            right: SeqNumber(2897),
        };
        data.sack_count = 1;
        assert_eq!(data.to_string(), "TS val 5 ecr 4,sack 1 {1449:2897}");
        assert_eq!(TcpOptions::default().to_string(), "");
    }

    fn sack(left: u32, right: u32) -> SackBlock {
        SackBlock {
            left: SeqNumber(left),
            right: SeqNumber(right),
        }
    }

    fn emit(options: &TcpOptions, syn: bool) -> Vec<u8> {
        let mut buf = [0u8; TCP_MAX_OPTIONS_LEN];
        let len = emit_options(options, syn, &mut buf).expect("40 bytes always suffice");
        assert_eq!(len, options_len(options, syn));
        buf[..len].to_vec()
    }

    fn linux_syn_options() -> TcpOptions {
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((0x0102_0304, 0)),
            ..TcpOptions::default()
        }
    }

    #[test]
    fn linux_syn_layout_is_byte_exact() {
        // tcpdump: [mss 1460,sackOK,TS val 16909060 ecr 0,nop,wscale 7]
        let expected = [
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
            0x04, 0x02, 0x08, 0x0a, // SACK-permitted packed with the TS kind and length
            0x01, 0x02, 0x03, 0x04, // TSval
            0x00, 0x00, 0x00, 0x00, // TSecr
            0x01, 0x03, 0x03, 0x07, // NOP, window scale 7
        ];
        assert_eq!(emit(&linux_syn_options(), true), expected);
        assert_eq!(parse_options(&expected), Ok(linux_syn_options()));
    }

    #[test]
    fn syn_without_timestamps_uses_nop_nop_sack_permitted() {
        let options = TcpOptions {
            timestamps: None,
            ..linux_syn_options()
        };
        let expected = [0x02, 0x04, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7];
        assert_eq!(emit(&options, true), expected);
        assert_eq!(parse_options(&expected), Ok(options));
    }

    #[test]
    fn syn_with_timestamps_without_sack_permitted() {
        let options = TcpOptions {
            sack_permitted: false,
            window_scale: None,
            ..linux_syn_options()
        };
        assert_eq!(
            emit(&options, true),
            [2, 4, 5, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]
        );
    }

    #[test]
    fn data_segment_with_timestamps_is_byte_exact() {
        let options = TcpOptions {
            timestamps: Some((100, 0xdead_beef)),
            ..TcpOptions::default()
        };
        let expected = [1, 1, 8, 10, 0, 0, 0, 100, 0xde, 0xad, 0xbe, 0xef];
        assert_eq!(emit(&options, false), expected);
        assert_eq!(parse_options(&expected), Ok(options));
    }

    #[test]
    fn syn_only_options_are_not_sent_on_other_segments() {
        let options = TcpOptions {
            timestamps: None,
            ..linux_syn_options()
        };
        assert_eq!(options_len(&options, false), 0);
        assert!(emit(&options, false).is_empty());
    }

    #[test]
    fn sack_blocks_follow_timestamps_and_are_capped_at_three() {
        let mut options = TcpOptions {
            timestamps: Some((1, 2)),
            ..TcpOptions::default()
        };
        options.sack_blocks = [sack(10, 20), sack(30, 40), sack(50, 60), sack(70, 80)];
        options.sack_count = 4;
        let bytes = emit(&options, false);
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[12..16], &[1, 1, 5, 2 + 3 * 8]);
        assert_eq!(&bytes[16..24], &[0, 0, 0, 10, 0, 0, 0, 20]);
        let parsed = parse_options(&bytes).expect("own output parses");
        assert_eq!(parsed.sacks(), &options.sack_blocks[..3]);
        assert_eq!(parsed.timestamps, Some((1, 2)));
    }

    #[test]
    fn four_sack_blocks_fit_without_timestamps() {
        let options = TcpOptions {
            sack_blocks: [sack(1, 2), sack(3, 4), sack(5, 6), sack(7, 8)],
            sack_count: 4,
            ..TcpOptions::default()
        };
        let bytes = emit(&options, false);
        assert_eq!(bytes.len(), 36);
        assert_eq!(parse_options(&bytes), Ok(options));
    }

    #[test]
    fn sack_blocks_are_never_sent_on_syn_and_bad_counts_are_clamped() {
        let options = TcpOptions {
            sack_blocks: [sack(1, 2); 4],
            sack_count: 200,
            ..TcpOptions::default()
        };
        assert_eq!(options_len(&options, true), 0);
        assert_eq!(options_len(&options, false), 36);
    }

    #[test]
    fn end_of_list_stops_parsing_and_unknown_kinds_are_skipped() {
        // Unknown kind 30 (MPTCP) of length 4, NOP, MSS, END, then garbage.
        let area = [30, 4, 0xaa, 0xbb, 1, 2, 4, 0x05, 0xb4, 0, 2, 0];
        let parsed = parse_options(&area).expect("valid area");
        assert_eq!(
            parsed,
            TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            }
        );
    }

    #[test]
    fn malformed_lengths_are_rejected_with_kind_and_length() {
        let bad = |kind, length| Err(WireError::BadOptionLength { kind, length });
        assert_eq!(parse_options(&[2, 0, 0, 0]), bad(2, 0));
        assert_eq!(parse_options(&[30, 1, 0, 0]), bad(30, 1));
        assert_eq!(
            parse_options(&[1, 1, 1, 8]),
            bad(8, 0),
            "kind with no length byte"
        );
        assert_eq!(
            parse_options(&[8, 10, 0, 0]),
            bad(8, 10),
            "runs past the area"
        );
        assert_eq!(parse_options(&[2, 3, 5, 1]), bad(2, 3));
        assert_eq!(parse_options(&[3, 4, 7, 0]), bad(3, 4));
        assert_eq!(parse_options(&[4, 3, 0, 1]), bad(4, 3));
        assert_eq!(
            parse_options(&[1, 1, 5, 2]),
            bad(5, 2),
            "SACK with no block"
        );
        assert_eq!(
            parse_options(&[5, 6, 0, 0, 0, 0]),
            bad(5, 6),
            "SACK half a block"
        );
    }

    proptest::proptest! {
        /// The whole-area matches of `parse_options_into` give what the walk gives, for
        /// the layouts they recognise and for those layouts with a few bytes changed.
        #[test]
        fn whole_area_matches_are_the_walk(
            syn in proptest::prelude::any::<bool>(),
            changes in proptest::collection::vec((0..20usize, proptest::prelude::any::<u8>()), 0..3),
        ) {
            let mut area = if syn {
                emit(&linux_syn_options(), true)
            } else {
                emit(&TcpOptions { timestamps: Some((7, 9)), ..TcpOptions::default() }, false)
            };
            for (at, byte) in changes {
                let len = area.len();
                area[at % len] = byte;
            }
            let mut fast = TcpOptions::default();
            let fast = parse_options_into(&area, &mut fast).map(|()| fast);
            proptest::prop_assert_eq!(fast, parse_options_walk(&area));
        }
    }

    #[test]
    fn emit_reports_short_buffer() {
        let mut buf = [0u8; 19];
        assert_eq!(
            emit_options(&linux_syn_options(), true, &mut buf),
            Err(WireError::BufferTooSmall {
                needed: 20,
                got: 19
            })
        );
    }
}
