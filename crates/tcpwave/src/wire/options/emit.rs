//! Writing a [`Layout`] into a segment's option area, in Linux's `tcp_options_write()`
//! order (see the module docs of [`super`]).

use super::layout::Layout;
use super::option_kind::*;
use super::{ALIGNED_TIMESTAMPS_LEN, LINUX_SYN_LEN, TCP_MAX_OPTIONS_LEN};
use crate::wire::{TcpOptions, WireError};

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
/// returns the number of bytes written, [`options_len`](super::options_len)`(options, syn)`.
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
    pub(in crate::wire) fn write(&self, options: &TcpOptions, buf: &mut [u8]) {
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
