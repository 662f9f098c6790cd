//! The whole-area matches [`super::parse_options_into`] tries before the general walk: the
//! option areas nearly every segment of a connection carries, recognised by their length
//! and a compare of their fixed words. `NOP NOP TS` is the aligned timestamps layout RFC 7323
//! Appendix A recommends (Linux's tcp_parse_aligned_timestamp); the SYN layout is Linux's
//! `tcp_options_write()` with every option on. Each gives exactly what the walk gives for the
//! same bytes (a proptest in `tests.rs` checks it).

use super::option_kind::*;
use super::{ALIGNED_TIMESTAMPS_LEN, LINUX_SYN_LEN};
use crate::wire::TcpOptions;

/// The first word of the aligned timestamps area ([`ALIGNED_TIMESTAMPS_LEN`]): `01 01 08 0a`.
const NOP_NOP_TIMESTAMPS: u32 = u32::from_be_bytes([NOP, NOP, TIMESTAMPS, TIMESTAMPS_LEN]);

/// (TSval, TSecr) when `area` is `NOP NOP TS`, the aligned timestamps layout.
#[inline(always)]
pub(super) fn aligned_timestamps(area: &[u8; ALIGNED_TIMESTAMPS_LEN]) -> Option<(u32, u32)> {
    let [k0, k1, k2, k3, v0, v1, v2, v3, e0, e1, e2, e3] = *area;
    (u32::from_be_bytes([k0, k1, k2, k3]) == NOP_NOP_TIMESTAMPS).then(|| {
        (
            u32::from_be_bytes([v0, v1, v2, v3]),
            u32::from_be_bytes([e0, e1, e2, e3]),
        )
    })
}

/// The fixed bytes of the first word of the Linux SYN layout ([`LINUX_SYN_LEN`]), `02 04`,
/// above the MSS value.
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
pub(super) fn linux_syn(area: &[u8; LINUX_SYN_LEN], out: &mut TcpOptions) -> bool {
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
