//! What [`super::emit_options`] writes for a set of options, and how many bytes that is:
//! MSS, window scale and SACK-permitted on SYN only, SACK blocks on other segments only, as
//! many as fit (RFC 9293 §3.7.1, RFC 7323 §2.2, RFC 2018 §2-3).

use super::option_kind::*;
use super::{ALIGNED_TIMESTAMPS_LEN, TCP_MAX_OPTIONS_LEN};
use crate::wire::TcpOptions;

/// The most SACK blocks the `sack_blocks` array holds (RFC 2018 §3: at most four fit).
const SACK_BLOCKS_MAX: usize = 4;

/// What [`emit_options`](super::emit_options) will write for a set of options: computed
/// once so that [`options_len`] and the emitted bytes can never disagree. The option values
/// themselves are read from the same [`TcpOptions`] when the layout is written.
#[derive(Clone, Copy, Debug)]
pub(in crate::wire) struct Layout {
    /// The segment carries SYN: MSS, window scale and SACK-permitted go out, SACK blocks
    /// do not.
    pub(super) syn: bool,
    /// SACK blocks that fit (none on SYN).
    pub(super) sack_blocks: usize,
    /// Bytes the layout takes, worked out once in [`Layout::new`].
    len: usize,
}

impl Layout {
    /// What goes on a segment that does (`syn`) or does not carry SYN.
    #[inline]
    pub(in crate::wire) fn new(options: &TcpOptions, syn: bool) -> Layout {
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
    pub(in crate::wire) fn len(&self) -> usize {
        self.len
    }
}

/// Number of option bytes [`emit_options`](super::emit_options) writes for `options` on a
/// segment that does (`syn == true`) or does not carry SYN. Always a multiple of 4 and at
/// most [`TCP_MAX_OPTIONS_LEN`].
pub fn options_len(options: &TcpOptions, syn: bool) -> usize {
    Layout::new(options, syn).len()
}
