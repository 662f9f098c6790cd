//! Initial sequence numbers (RFC 6528) and per-address-pair timestamp offsets, the way Linux
//! computes them in `net/core/secure_seq.c`.
//!
//! RFC 6528 §3: `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where `M` is
//! a timer and `F` a keyed pseudo-random function. Here `F` is SipHash-2-4 keyed by the
//! endpoint's 128-bit secret over (local address, remote address, local port, remote port), as
//! in Linux's `secure_tcp_seq`. Linux's `M` is the wall clock in 64 ns units (`ns >> 6`); our
//! clock has 1 µs resolution, so `M = micros * 16` (wrapping), a 62.5 ns tick: 2.4% faster than
//! Linux, wrapping the 32-bit space every 268 s instead of 275 s. Both are far faster than the
//! RFC 9293 §3.4.1 4 µs clock, which is what matters: a new incarnation of a 4-tuple starts
//! ahead of the old one's sequence numbers.
//!
//! The timestamp offset follows Linux's `secure_tcp_ts_off`: SipHash-2-4 of (local address,
//! remote address) under a second key, so that TSval does not leak uptime and is monotonic per
//! address pair (RFC 7323 §5.4, §7.1). Linux draws that key separately; we derive it from the
//! secret (keyed SipHash of a label), which keeps one secret in the configuration.
//!
//! Cost: one SipHash of 12 (ISN) or 8 (timestamp) bytes per call, no allocation, no state.

use core::net::Ipv4Addr;

use siphasher::sip128::SipHasher24 as SipHasher128;

use crate::seq::SeqNumber;
use crate::sip::SipKey;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// ISN clock ticks per microsecond (62.5 ns per tick; Linux uses 64 ns).
const ISN_TICKS_PER_MICRO: u32 = 16;

/// Derives an independent 128-bit key from `secret` for the purpose named by `label`
/// (SipHash-2-4 with 128-bit output, keyed by the secret). Used so that one configured secret
/// can key the ISN, the timestamp offsets and the ephemeral-port offsets separately.
pub(crate) fn derive_key(secret: u128, label: &[u8]) -> u128 {
    let (k0, k1) = SipKey::new(secret).halves();
    SipHasher128::new_with_keys(k0, k1).hash(label).into()
}

/// Computes ISNs and timestamp offsets from one secret. Cheap to copy; holds no state besides
/// the keys, so two generators built from the same secret agree forever.
#[derive(Clone)]
pub struct IsnGenerator {
    isn_key: SipKey,
    ts_key: SipKey,
}

impl IsnGenerator {
    /// A generator keyed by `secret` (`Config::isn_secret`; the simulator derives it from its
    /// seed, a real host should draw it at random once).
    pub fn new(secret: u128) -> Self {
        IsnGenerator {
            isn_key: SipKey::new(secret),
            ts_key: SipKey::new(derive_key(secret, b"tcpwave tcp timestamp offset")),
        }
    }

    /// The initial sequence number for a connection on `tuple` (from this endpoint's point of
    /// view, for active and passive opens alike) at time `now`. RFC 6528 §3.
    pub fn isn(&self, tuple: &FourTuple, now: Instant) -> SeqNumber {
        let mut message = [0u8; 12];
        message[0..4].copy_from_slice(&tuple.local_addr.octets());
        message[4..8].copy_from_slice(&tuple.remote_addr.octets());
        message[8..10].copy_from_slice(&tuple.local_port.to_be_bytes());
        message[10..12].copy_from_slice(&tuple.remote_port.to_be_bytes());
        let offset = self.isn_key.hash24(&message) as u32;
        // Truncating the µs count to 32 bits first is exact: only the product's low 32 bits stay.
        let clock = (now.total_micros() as u32).wrapping_mul(ISN_TICKS_PER_MICRO);
        SeqNumber(offset.wrapping_add(clock))
    }

    /// The offset added to this endpoint's TSval clock for connections between `local` and
    /// `remote` (Linux `secure_tcp_ts_off`). Whether to use it at all is the caller's choice
    /// (Linux applies it only when `tcp_timestamps` is 1).
    pub fn ts_offset(&self, local: Ipv4Addr, remote: Ipv4Addr) -> u32 {
        let mut message = [0u8; 8];
        message[0..4].copy_from_slice(&local.octets());
        message[4..8].copy_from_slice(&remote.octets());
        self.ts_key.hash24(&message) as u32
    }
}

impl core::fmt::Debug for IsnGenerator {
    /// Never prints the keys.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IsnGenerator { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(local_port: u16, remote_port: u16) -> FourTuple {
        FourTuple {
            local_addr: Ipv4Addr::new(10, 0, 0, 1),
            remote_addr: Ipv4Addr::new(10, 0, 0, 2),
            local_port,
            remote_port,
        }
    }

    const SECRET: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;

    #[test]
    fn deterministic_for_a_secret() {
        let a = IsnGenerator::new(SECRET);
        let b = IsnGenerator::new(SECRET);
        let now = Instant::from_secs(42);
        assert_eq!(a.isn(&tuple(40000, 80), now), b.isn(&tuple(40000, 80), now));
        let local = Ipv4Addr::new(192, 0, 2, 1);
        let remote = Ipv4Addr::new(198, 51, 100, 7);
        assert_eq!(a.ts_offset(local, remote), b.ts_offset(local, remote));
        assert_eq!(
            a.clone().ts_offset(local, remote),
            a.ts_offset(local, remote)
        );
    }

    #[test]
    fn differs_by_tuple_and_by_secret() {
        let generator = IsnGenerator::new(SECRET);
        let now = Instant::from_secs(1);
        let base = generator.isn(&tuple(40000, 80), now);
        assert_ne!(base, generator.isn(&tuple(40001, 80), now));
        assert_ne!(base, generator.isn(&tuple(40000, 81), now));
        let swapped = FourTuple {
            local_port: 80,
            remote_port: 40000,
            ..tuple(0, 0)
        };
        assert_ne!(base, generator.isn(&swapped, now), "direction matters");
        let mut other_addr = tuple(40000, 80);
        other_addr.remote_addr = Ipv4Addr::new(10, 0, 0, 3);
        assert_ne!(base, generator.isn(&other_addr, now));
        let other_secret = IsnGenerator::new(SECRET ^ 1);
        assert_ne!(base, other_secret.isn(&tuple(40000, 80), now));
    }

    #[test]
    fn advances_sixteen_per_microsecond_and_wraps() {
        let generator = IsnGenerator::new(SECRET);
        let t = tuple(40000, 80);
        let start = Instant::from_secs(1000);
        let isn0 = generator.isn(&t, start);
        let isn1 = generator.isn(&t, Instant::from_micros(start.total_micros() + 1));
        assert_eq!(isn1.0.wrapping_sub(isn0.0), 16);
        let one_second_later = generator.isn(&t, Instant::from_secs(1001));
        assert_eq!(one_second_later.0.wrapping_sub(isn0.0), 16_000_000);
        assert!(one_second_later > isn0, "a later incarnation starts ahead");
        // 2^32 / 16 µs later the clock has wrapped exactly once.
        let wrapped = Instant::from_micros(start.total_micros() + (1u64 << 28));
        assert_eq!(generator.isn(&t, wrapped), isn0);
    }

    #[test]
    fn ts_offset_depends_on_addresses_only_and_secret() {
        let generator = IsnGenerator::new(SECRET);
        let a = Ipv4Addr::new(10, 1, 1, 1);
        let b = Ipv4Addr::new(10, 1, 1, 2);
        let c = Ipv4Addr::new(10, 1, 1, 3);
        assert_ne!(generator.ts_offset(a, b), generator.ts_offset(a, c));
        assert_ne!(generator.ts_offset(a, b), generator.ts_offset(b, a));
        assert_ne!(
            generator.ts_offset(a, b),
            IsnGenerator::new(SECRET + 1).ts_offset(a, b)
        );
    }

    #[test]
    fn derived_keys_are_independent() {
        assert_ne!(derive_key(SECRET, b"one"), derive_key(SECRET, b"two"));
        assert_ne!(derive_key(SECRET, b"one"), derive_key(SECRET ^ 1, b"one"));
        assert_ne!(derive_key(SECRET, b"one"), SECRET);
        assert_eq!(derive_key(7, b"x"), derive_key(7, b"x"));
        assert_eq!(
            format!("{:?}", IsnGenerator::new(SECRET)),
            "IsnGenerator { .. }"
        );
    }
}
