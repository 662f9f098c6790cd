//! SipHash (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012) over the short
//! messages the engine hashes: 4-tuples for ISNs and the TIME_WAIT index (12 bytes), address
//! pairs for timestamp offsets (8), destinations for ephemeral-port offsets (10), counters (4
//! or 8).
//!
//! One small out-of-line copy per variant, shared by every caller, for messages of at most 15
//! bytes (one or two compressions, no tail loop). The `siphasher` crate's generic byte-stream
//! hasher, partly inlined into its callers, was 1.5 KiB of the ~35 KiB of code a short
//! connection runs (more than the 32 KiB L1 instruction cache: see docs/benchmarks.md) and
//! ~250 instructions a lifecycle more. The results are the standard SipHash-1-3 /
//! SipHash-2-4 values (checked against the crate in the tests below).

/// A 128-bit SipHash key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SipKey {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for SipKey {
    /// Never prints the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SipKey { .. }")
    }
}

impl SipKey {
    /// The key whose halves (k0, k1) are the low and high 64 bits of `key`.
    pub(crate) const fn new(key: u128) -> SipKey {
        SipKey {
            k0: key as u64,
            k1: (key >> 64) as u64,
        }
    }

    /// (k0, k1), for other SipHash implementations keyed alike.
    pub(crate) fn halves(&self) -> (u64, u64) {
        (self.k0, self.k1)
    }

    /// SipHash-2-4 of `message`, at most 15 bytes (the conservative variant: ISNs and port
    /// offsets, as Linux's `secure_tcp_seq` and `secure_ipv4_port_ephemeral`).
    #[inline(always)]
    pub(crate) fn hash24(&self, message: &[u8]) -> u64 {
        let (words, len) = short_message(message);
        self.hash24_short(words, len)
    }

    /// SipHash-1-3 of `message`, at most 15 bytes (hash-table indexes and draws that need
    /// no more than unpredictability).
    #[inline(always)]
    pub(crate) fn hash13(&self, message: &[u8]) -> u64 {
        let (words, len) = short_message(message);
        self.hash13_short(words, len)
    }

    #[inline(never)]
    fn hash24_short(&self, words: u128, len: u8) -> u64 {
        self.hash_short::<2, 4>(words, len)
    }

    #[inline(never)]
    fn hash13_short(&self, words: u128, len: u8) -> u64 {
        self.hash_short::<1, 3>(words, len)
    }

    /// SipHash-c-d of a message of `len` < 16 bytes held little-endian in `words`: one full
    /// 8-byte word when `len` ≥ 8, then the last word, which carries the length in its top
    /// byte.
    #[inline(always)]
    fn hash_short<const C: usize, const D: usize>(&self, words: u128, len: u8) -> u64 {
        debug_assert!(len < 16 && words >> (8 * u32::from(len)) == 0);
        let mut s = State {
            v0: self.k0 ^ 0x736f_6d65_7073_6575,
            v1: self.k1 ^ 0x646f_7261_6e64_6f6d,
            v2: self.k0 ^ 0x6c79_6765_6e65_7261,
            v3: self.k1 ^ 0x7465_6462_7974_6573,
        };
        let mut last = words as u64;
        if len >= 8 {
            s.compress::<C>(last);
            last = (words >> 64) as u64;
        }
        s.compress::<C>(last | u64::from(len) << 56);
        s.v2 ^= 0xff;
        for _ in 0..D {
            s.round();
        }
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }
}

/// A message of at most 15 bytes as one little-endian number and its length.
#[inline(always)]
fn short_message(message: &[u8]) -> (u128, u8) {
    assert!(
        message.len() < 16,
        "SipKey hashes messages of up to 15 bytes"
    );
    let mut bytes = [0u8; 16];
    bytes[..message.len()].copy_from_slice(message);
    (u128::from_le_bytes(bytes), message.len() as u8)
}

struct State {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl State {
    #[inline(always)]
    fn compress<const C: usize>(&mut self, m: u64) {
        self.v3 ^= m;
        for _ in 0..C {
            self.round();
        }
        self.v0 ^= m;
    }

    /// SipRound.
    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }
}

#[cfg(test)]
mod tests {
    use super::SipKey;
    use core::hash::Hasher;
    use proptest::prelude::*;
    use siphasher::sip::{SipHasher13, SipHasher24};

    /// The reference implementation's test vector (key 00..0f, message 00..0e, 15 bytes).
    #[test]
    fn reference_vector() {
        let key = SipKey::new(u128::from_le_bytes(core::array::from_fn(|i| i as u8)));
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(key.hash24(&message), 0xa129_ca61_49be_45e5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn matches_the_siphasher_crate(key: u128, message in proptest::collection::vec(any::<u8>(), 0..16)) {
            let (k0, k1) = (key as u64, (key >> 64) as u64);
            let ours = SipKey::new(key);
            let mut reference24 = SipHasher24::new_with_keys(k0, k1);
            reference24.write(&message);
            prop_assert_eq!(ours.hash24(&message), reference24.finish());
            let mut reference13 = SipHasher13::new_with_keys(k0, k1);
            reference13.write(&message);
            prop_assert_eq!(ours.hash13(&message), reference13.finish());
        }
    }
}
