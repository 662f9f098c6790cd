//! Parsing an option area into [`TcpOptions`]: the entry points, which try the whole-area
//! matches of [`super::fast_paths`] first, and the general walk over the options one by
//! one (RFC 9293 §3.2), which gives the same result for every area.

use super::fast_paths::{aligned_timestamps, linux_syn};
use super::option_kind::*;
use super::{ALIGNED_TIMESTAMPS_LEN, LINUX_SYN_LEN};
use crate::seq::SeqNumber;
use crate::wire::{SackBlock, TcpOptions, WireError};

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

/// The general option walk of [`parse_options`] (RFC 9293 §3.2), kept out of line so
/// that the whole-area matches inline into the caller.
#[inline(never)]
pub(super) fn parse_options_walk(area: &[u8]) -> Result<TcpOptions, WireError> {
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
