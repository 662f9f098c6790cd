//! The receive window we offer (RFC 9293 §3.8.6.2.2, RFC 7323 §2.3), as Linux offers it.
//!
//! RFC 9293 §3.8.6.2.2 leaves the receiver free to offer less than its free buffer space
//! and forbids only moving the right edge left. Linux offers less, on purpose: it caps the
//! window by `rcv_ssthresh`, which starts at the window of its SYN or SYN-ACK
//! (`tcp_select_initial_window`: 64240 with MSS 1460, 65160 with timestamps) and grows as
//! in-order data arrives (`tcp_grow_window`), so that a sender sees the window open as
//! fast as data flows and no faster than the receiver's memory can follow
//! (`__tcp_select_window`: "free_space = min(free_space, rcv_ssthresh)"). A Linux client
//! so answers the SYN-ACK with `win 502` (64256 = ALIGN(64240, 128), shift 7), not with
//! its whole free buffer.
//!
//! What is modelled and what is not:
//! - The engine's receive buffer holds payload only, so its capacity plays the part of
//!   Linux's `tcp_full_space()` (the window share of `sk_rcvbuf`) and its free room the
//!   part of `tcp_space()`; the clamp (`window_clamp`) is that capacity less one
//!   segment, as `tcp_init_buffer_space` leaves it. Linux's receive-buffer autotuning
//!   (`tcp_rcv_space_adjust`, which raises `sk_rcvbuf` and the clamp) is not modelled.
//! - The memory a received segment costs (`skb->truesize`) is modelled as its length
//!   plus a fixed overhead (`SKB_OVERHEAD`), and `scaling_ratio` stays at its initial
//!   50% (Linux 6.x re-measures it from real truesizes in `tcp_measure_rcv_mss`).
//! - Growth on out-of-order segments (`tcp_data_queue_ofo` calls `tcp_grow_window` when
//!   SACK is on) and the memory-pressure paths are not modelled.

use super::Conn;
use crate::config::Config;

/// Linux `tcp_event_data_recv`: "if (skb->len >= 128) tcp_grow_window(sk, skb, true)".
/// Shorter segments never open the window further.
const GROW_SEGMENT_MIN: usize = 128;

/// What a received segment costs beyond its payload in our model of `skb->truesize`:
/// Linux `SKB_TRUESIZE(X)` is X + SKB_DATA_ALIGN(sizeof(struct sk_buff)) +
/// SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), 256 + 320 bytes on x86_64. Real
/// truesizes also depend on the driver's allocation (a page fragment, a kmalloc bucket);
/// this keeps the property that matters: a full-sized segment is "good" (truesize at most
/// twice its length, so it grows the window by 2·advmss), and a small one is not.
const SKB_OVERHEAD: u32 = 576;

/// Linux `TCP_MSS_DEFAULT` and `TCP_MIN_MSS`: the bounds of the first `rcv_mss` estimate
/// (`tcp_initialize_rcv_mss`).
const RCV_MSS_DEFAULT: u16 = 536;
const RCV_MSS_MIN: u16 = 88;

/// Linux `tcp_win_from_space` with the default `scaling_ratio` (`TCP_DEFAULT_SCALING_RATIO`,
/// 128 of 256): half of a memory space is window.
fn win_from_space(space: u32) -> u32 {
    space >> 1
}

/// `value` rounded up to a multiple of `1 << shift` (Linux `ALIGN`).
fn align_up(value: u32, shift: u8) -> u32 {
    let unit = 1u32 << shift;
    value.saturating_add(unit - 1) & !(unit - 1)
}

impl Conn {
    /// The MSS we announced, less the timestamp option once negotiated: Linux
    /// `tp->advmss`. The connecting side subtracts TCPOLEN_TSTAMP_ALIGNED in
    /// `tcp_rcv_synsent_state_process`; the accepting side in `tcp_rcv_state_process`
    /// (SYN_RECV), before `tcp_init_transfer` since commit cd171461b90a (Linux 6.16,
    /// backported to stable: "tcp: tcp_rcv_state_process() must tweak tp->advmss for TS
    /// enabled flows before the call to tcp_init_transfer()"; earlier a server's
    /// window_clamp was computed with 1460). The interop test sees 1448 on a 6.18 kernel.
    fn advmss(&self, cfg: &Config) -> u32 {
        u32::from(self.less_timestamps(cfg.mss))
    }

    /// The largest window we will ever offer: Linux `tp->window_clamp` as
    /// `tcp_init_buffer_space` leaves it when the connection is established. It starts as
    /// what the window field can carry with our shift (`tcp_select_initial_window`:
    /// U16_MAX << rcv_wscale; 65535 unscaled, `tcp_rcv_synsent_state_process`), at most
    /// the buffer ("maxwin = tcp_full_space(sk)"), and then, with the default
    /// `tcp_app_win` (31), "Force reservation of one segment": if clamp > 2·advmss and
    /// clamp + advmss > maxwin, clamp = max(2·advmss, maxwin − advmss).
    fn window_clamp(&self, cfg: &Config) -> u32 {
        let maxwin = self.recv.capacity().min(u32::MAX as usize) as u32;
        let advmss = self.advmss(cfg);
        let clamp = maxwin.min(65535u32 << self.rcv_wscale);
        if clamp > 2 * advmss && clamp.saturating_add(advmss) > maxwin {
            (2 * advmss).max(maxwin - advmss)
        } else {
            clamp
        }
    }

    /// The connection is established: Linux `tcp_init_buffer_space`, "tp->rcv_ssthresh =
    /// min(tp->rcv_ssthresh, tp->window_clamp)". With the default 128 KiB buffer the SYN
    /// window is well under the clamp; with a 64 KiB one (Linux's own share of
    /// tcp_rmem[1] = 131072) both sides keep 65536 - 1448 = 64088 with timestamps.
    pub(super) fn init_buffer_space(&mut self, cfg: &Config) {
        self.rcv_ssthresh = self.rcv_ssthresh.min(self.window_clamp(cfg));
    }

    /// Linux `tcp_initialize_rcv_mss`, once the options are settled: a guess at the
    /// peer's segment size, min(advmss, our MSS, 536), at least 88, until segments
    /// arrive.
    pub(super) fn init_rcv_mss(&mut self, cfg: &Config) {
        let advmss = self.advmss(cfg).min(u32::from(u16::MAX)) as u16;
        self.rcv_mss = advmss.min(self.mss).clamp(RCV_MSS_MIN, RCV_MSS_DEFAULT);
    }

    /// In-order data of `len` bytes was queued: Linux `tcp_event_data_recv`, which
    /// updates the `rcv_mss` estimate (`tcp_measure_rcv_mss`, its first case only: a
    /// segment at least as long as the estimate raises it, up to advmss) and then opens
    /// `rcv_ssthresh` (`tcp_grow_window`).
    pub(super) fn grow_window(&mut self, cfg: &Config, len: usize) {
        let advmss = self.advmss(cfg);
        if len >= usize::from(self.rcv_mss) {
            self.rcv_mss = (len.min(advmss as usize)).min(usize::from(u16::MAX)) as u16;
        }
        if len < GROW_SEGMENT_MIN {
            return;
        }
        // "room = min(window_clamp, tcp_space(sk)) - rcv_ssthresh": never past the clamp,
        // nor past the space left once this segment is queued.
        let limit = self.window_clamp(cfg).min(self.recv.window() as u32);
        if limit <= self.rcv_ssthresh {
            return;
        }
        let room = limit - self.rcv_ssthresh;
        let len = len.min(u32::MAX as usize / 2) as u32;
        let truesize = len.saturating_add(SKB_OVERHEAD);
        // "Check #2. Increase window, if skb with such overhead will fit to rcvbuf in
        // future."
        let increment = if win_from_space(truesize) <= len {
            2 * advmss
        } else {
            self.grow_window_small_segment(cfg, truesize, len)
        };
        if increment == 0 {
            return;
        }
        self.rcv_ssthresh += increment.max(2 * len).min(room);
    }

    /// Linux `__tcp_grow_window`, for a segment whose overhead is more than its length:
    /// it may still open the window by 2·rcv_mss while `rcv_ssthresh` is small against
    /// `tcp_rmem[2]`; each halving of the truesize asks for a `rcv_ssthresh` half as
    /// large. 0 when the segment is too poor for the current `rcv_ssthresh`.
    fn grow_window_small_segment(&self, cfg: &Config, truesize: u32, len: u32) -> u32 {
        let mut truesize = win_from_space(truesize) >> 1;
        let mut window = win_from_space(cfg.tcp_rmem_max) >> 1;
        // Bounded: `window` halves on every turn and the loop ends once it is below
        // rcv_ssthresh, at most 32 turns.
        while self.rcv_ssthresh <= window {
            if truesize <= len {
                return 2 * u32::from(self.rcv_mss);
            }
            truesize >>= 1;
            window >>= 1;
        }
        0
    }

    /// The window field to send: free receive space capped by `rcv_ssthresh`, never
    /// shrinking the right edge we advertised before (RFC 9293 §3.8.6.2.2), scaled except
    /// on SYNs (RFC 7323 §2.2).
    pub(super) fn advertise_window(&mut self, syn: bool, our_mss: u16) -> u16 {
        if syn {
            return self.syn_window(our_mss);
        }
        let field = self.window_field();
        self.rcv_adv = self.rcv_nxt + (u32::from(field) << self.rcv_wscale);
        field
    }

    /// The window of our SYN or SYN-ACK, Linux `tcp_select_initial_window`, which also
    /// starts `rcv_ssthresh` (`tcp_connect_init`: "tp->rcv_ssthresh = tp->rcv_wnd";
    /// `tcp_create_openreq_child`: "newtp->rcv_ssthresh = req->rsk_rcv_wnd").
    fn syn_window(&mut self, our_mss: u16) -> u16 {
        let mut wnd = self.recv.window() as u32;
        let right = self.rcv_nxt + wnd;
        if right < self.rcv_adv {
            wnd = (self.rcv_adv - self.rcv_nxt) as u32;
        }
        // "Quantize space offering to a multiple of mss if possible" (64240 for MSS
        // 1460, 65160 with timestamps). The segments counted are the ones the peer sends
        // us, so the MSS is the one we announce, less the timestamp option; a space of
        // one MSS or less is offered whole.
        let mss = u32::from(self.less_timestamps(our_mss).max(1));
        let space = wnd.min(65535);
        let field = if space > mss {
            space / mss * mss
        } else {
            space
        };
        self.rcv_adv = self.rcv_nxt + field;
        if self.rcv_ssthresh == 0 {
            // The first SYN only: a SYN-ACK we send in a simultaneous open, or resend,
            // leaves it alone, as Linux's does.
            self.rcv_ssthresh = field;
        }
        field as u16
    }

    /// The window, in bytes, we would offer now if nothing were promised yet: Linux
    /// `__tcp_select_window` with window scaling, min(free space, rcv_ssthresh), the cap
    /// rounded up to the scale unit ("Advertise enough space so that it won't get scaled
    /// away": ALIGN(window, 1 << rcv_wscale)). The free space itself is not rounded up:
    /// our buffer has no slack beyond it.
    pub(crate) fn offered_window(&self) -> u32 {
        let free = self.recv.window() as u32;
        free.min(align_up(self.rcv_ssthresh, self.rcv_wscale))
    }

    /// What is left of the window we last advertised: RCV.NXT up to its right edge.
    pub(crate) fn promised_window(&self) -> u32 {
        if self.rcv_adv > self.rcv_nxt {
            (self.rcv_adv - self.rcv_nxt) as u32
        } else {
            0
        }
    }

    /// The window field for a segment other than a SYN, without recording it. With
    /// scaling the field is truncated: the offer is rounded down, but an edge already
    /// promised is rounded up, or truncation would move it left (RFC 9293 §3.8.6.2.2;
    /// Linux `tcp_select_window`: "new_win = ALIGN(cur_win, 1 << tp->rx_opt.rcv_wscale)").
    /// Without scaling Linux also rounds the offer down to a multiple of `rcv_mss` when it
    /// moves by more than one MSS; tcpwave does not.
    pub(crate) fn window_field(&self) -> u16 {
        let scale = self.rcv_wscale;
        let offer_field = self.offered_window() >> scale;
        let field = offer_field
            .max(self.promised_window().div_ceil(1u32 << scale))
            .min(65535);
        field as u16
    }
}

#[cfg(test)]
mod tests {
    use super::{align_up, win_from_space};

    #[test]
    fn align_rounds_up_to_the_scale_unit() {
        assert_eq!(align_up(64_240, 7), 64_256);
        assert_eq!(align_up(65_160, 7), 65_280);
        assert_eq!(align_up(65_280, 7), 65_280);
        assert_eq!(align_up(1_000, 0), 1_000);
        assert_eq!(
            align_up(u32::MAX, 7),
            0xFFFF_FF80,
            "saturates, then rounds down"
        );
    }

    #[test]
    fn half_of_a_space_is_window() {
        assert_eq!(win_from_space(131_072), 65_536);
        // A full-sized segment with timestamps is "good": truesize / 2 <= len.
        assert!(win_from_space(1_448 + super::SKB_OVERHEAD) <= 1_448);
        assert!(win_from_space(500 + super::SKB_OVERHEAD) > 500);
    }
}
