//! TCP options: parsing the option area into [`TcpOptions`](super::TcpOptions) and emitting
//! it in Linux's layout.
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
//!
//! The parts: `parse` (the general option walk, RFC 9293 §3.2), `fast_paths` (the
//! whole-area matches parse tries first), `layout` (what emit will write, and how long it
//! is), `emit` (writing it), `display` (tcpdump's words).

mod display;
mod emit;
mod fast_paths;
mod layout;
mod parse;

pub use emit::emit_options;
pub use layout::options_len;
pub(super) use layout::Layout;
pub use parse::{parse_options, parse_options_into};

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

/// Length of the aligned timestamps area, `NOP NOP TS` (RFC 7323 Appendix A); on a SYN the
/// SACK-permitted option takes the place of the two NOPs.
const ALIGNED_TIMESTAMPS_LEN: usize = 12;

/// Length of the option area of a Linux SYN or SYN-ACK with every option on:
/// `MSS` · `SACK-permitted TS` · `NOP window-scale` (see the module docs).
const LINUX_SYN_LEN: usize = 20;

#[cfg(test)]
mod tests;
