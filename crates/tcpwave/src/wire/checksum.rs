//! The Internet checksum (RFC 1071) and the TCP checksum over the IPv4 pseudo-header
//! (RFC 9293 §3.1, "Checksum").
//!
//! RFC 1071 §2 lists the properties used here:
//! - (B) the sum is independent of byte order, so words are read in the machine's native
//!   order and the result is swapped once at the end;
//! - (C) it can be computed in parallel: 32-bit words are added into a 64-bit accumulator
//!   and the carries are folded back ("end-around carry") only once, at the end.
//!
//! Nothing here allocates or panics.

use super::IP_PROTO_TCP;
use core::net::Ipv4Addr;

/// Who computes and checks the TCP checksum. The IPv4 header checksum is always computed
/// and verified in software, as Linux's ip_send_check / ip_rcv do even on `lo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TcpChecksum {
    /// Computed on send, verified on receive (RFC 9293 §3.1).
    #[default]
    Software,
    /// Offloaded, like Linux's `lo` or a NIC with checksum offload: on send the field holds
    /// only the pseudo-header sum (Linux's CHECKSUM_PARTIAL, which the device completes); on
    /// receive it is trusted, not verified (CHECKSUM_UNNECESSARY).
    Offloaded,
}

/// Adds two wide one's-complement sums, carrying the bit that falls off the top back in
/// at the bottom (RFC 1071 §2 (C), "end-around carry", at 64 bits: 2^64 ≡ 1 modulo
/// 2^16 - 1, so the folded result is the same as with 16-bit words).
///
/// A nonzero input never yields 0, so "all zeros" and "all ones" stay apart exactly as in
/// 16-bit one's-complement arithmetic.
#[inline(always)]
pub(super) fn add(a: u64, b: u64) -> u64 {
    let (sum, carry) = a.overflowing_add(b);
    sum + u64::from(carry)
}

/// Folds a wide one's-complement sum to 16 bits by adding the carries back in
/// (RFC 1071 §2 (C), "end-around carry"), without a loop.
///
/// Each step adds the two halves of a word with end-around carry by adding the word to
/// itself rotated by half its width: the high half of that sum is `high + low` plus the
/// carry out of the low half, which is exactly the carry to bring around. As with [`add`],
/// a nonzero sum never folds to 0.
#[inline(always)]
pub(super) fn fold(sum: u64) -> u16 {
    let sum = (sum.wrapping_add(sum.rotate_right(32)) >> 32) as u32;
    (sum.wrapping_add(sum.rotate_right(16)) >> 16) as u16
}

/// True when a native-order wide sum over data that includes its own checksum field is all
/// ones, i.e. the checksum verifies (RFC 1071 §1). All ones reads the same in either
/// byte order, so no swap is needed.
#[inline(always)]
pub(super) fn sum_verifies(sum: u64) -> bool {
    fold(sum) == 0xffff
}

/// Folds a native-order wide sum and turns it into the host-order value of the big-endian
/// 16-bit sum (RFC 1071 §2 (B): a sum of byte-swapped words is the byte-swapped sum).
#[inline(always)]
pub(super) fn fold_to_host(sum: u64) -> u16 {
    u16::from_be_bytes(fold(sum).to_ne_bytes())
}

/// A big-endian 16-bit field given by its host-order `value`, as a term of a native-order
/// sum (the inverse of the swap in [`fold_to_host`]).
#[inline(always)]
pub(super) fn native_word(value: u16) -> u64 {
    u64::from(u16::from_ne_bytes(value.to_be_bytes()))
}

/// Eight bytes as one native-order term. Callers pass exactly eight bytes; anything else
/// would be a bug and adds nothing rather than panicking.
#[inline(always)]
fn word8(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<8>()
        .map_or(0, |word| u64::from_ne_bytes(*word))
}

/// One's-complement sum of `data` in the machine's native byte order, not yet folded.
///
/// 32 bytes per round in two independent 64-bit lanes (RFC 1071 §2 (C): the sum can be
/// computed in parallel), then 8, 4, 2 and 1 bytes. Every piece starts at an even offset
/// from the start of `data`, so each 16-bit word keeps its byte order, and in 64-bit
/// one's-complement arithmetic every 16-bit lane weighs the same (2^16 ≡ 1 modulo
/// 2^16 - 1). An odd final byte is padded on the right with a zero octet (RFC 1071 §4.1).
#[inline]
pub(super) fn sum_native(data: &[u8]) -> u64 {
    let (mut lane_a, mut lane_b) = (0u64, 0u64);
    let mut rest = data;
    while let Some((block, after)) = rest.split_first_chunk::<32>() {
        lane_a = add(lane_a, word8(&block[0..8]));
        lane_b = add(lane_b, word8(&block[8..16]));
        lane_a = add(lane_a, word8(&block[16..24]));
        lane_b = add(lane_b, word8(&block[24..32]));
        rest = after;
    }
    let mut sum = add(lane_a, lane_b);
    while let Some((word, after)) = rest.split_first_chunk::<8>() {
        sum = add(sum, u64::from_ne_bytes(*word));
        rest = after;
    }
    if let Some((word, after)) = rest.split_first_chunk::<4>() {
        sum = add(sum, u64::from(u32::from_ne_bytes(*word)));
        rest = after;
    }
    if let Some((word, after)) = rest.split_first_chunk::<2>() {
        sum = add(sum, u64::from(u16::from_ne_bytes(*word)));
        rest = after;
    }
    if let Some(&last) = rest.first() {
        sum = add(sum, u64::from(u16::from_ne_bytes([last, 0])));
    }
    sum
}

/// Native-order sum of a 20-byte header: an IPv4 header without options (RFC 791 §3.1) or
/// the fixed TCP header (RFC 9293 §3.1). Two 8-byte words and one 4-byte word, no loop.
#[inline(always)]
pub(super) fn sum_fixed_header(header: &[u8; 20]) -> u64 {
    let (head, tail) = header.split_at(16);
    let last = tail
        .first_chunk::<4>()
        .map_or(0, |word| u32::from_ne_bytes(*word));
    add(
        add(word8(&head[0..8]), word8(&head[8..16])),
        u64::from(last),
    )
}

/// The native-order sum of the IPv4 pseudo-header of RFC 9293 §3.1 for TCP, from the
/// source and destination addresses as they lie in the IPv4 header and the TCP length,
/// which fits 16 bits here. Each 32-bit term is two 16-bit words in native order.
#[inline(always)]
pub(super) fn sum_tcp_pseudo_header(src: [u8; 4], dst: [u8; 4], tcp_length: u16) -> u64 {
    let [high, low] = tcp_length.to_be_bytes();
    u64::from(u32::from_ne_bytes(src))
        + u64::from(u32::from_ne_bytes(dst))
        + u64::from(u32::from_ne_bytes([0, IP_PROTO_TCP, high, low]))
}

/// The same pseudo-header sum as a host-order sum: header fields added as numbers, which
/// is how an emitter that holds the fields (not the bytes) sums a header. A 32-bit field
/// can be added whole, since its value is high * 2^16 + low and 2^16 ≡ 1 modulo
/// 2^16 - 1. Fold it with [`fold`]; no byte swap is involved.
#[inline(always)]
pub(super) fn host_sum_tcp_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, tcp_length: u16) -> u64 {
    u64::from(u32::from(src))
        + u64::from(u32::from(dst))
        + u64::from(IP_PROTO_TCP)
        + u64::from(tcp_length)
}

/// One's-complement sum of `data` as a big-endian (network order) 16-bit value, folded
/// but not complemented: RFC 1071's "sum", which callers combine with [`combine`].
#[inline]
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    // RFC 1071 §2 (B): a sum of byte-swapped words is the byte-swapped sum.
    fold_to_host(sum_native(data))
}

/// Adds two one's-complement sums (RFC 1071 §2 (A), commutative and associative), so a
/// checksum can be built from pieces that each start at an even offset.
#[inline]
pub fn combine(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

/// The Internet checksum of `data` (RFC 1071 §1): the one's complement of the
/// one's-complement sum of its 16-bit words, in host order (write it with `to_be_bytes`).
///
/// Computing it over a header whose checksum field is already filled in returns 0 when
/// the header is intact, which is how [`verify`] works.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !ones_complement_sum(data)
}

/// True when `data` (which includes its own checksum field) sums to all ones, i.e. the
/// checksum verifies (RFC 1071 §1, "to check a checksum").
#[inline]
pub fn verify(data: &[u8]) -> bool {
    checksum(data) == 0
}

/// One's-complement sum of the IPv4 pseudo-header of RFC 9293 §3.1: source address,
/// destination address, zero, protocol, and the TCP length (header plus data).
#[inline]
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: usize) -> u16 {
    let [s0, s1, s2, s3] = src.octets();
    let [d0, d1, d2, d3] = dst.octets();
    let words = [
        u16::from_be_bytes([s0, s1]),
        u16::from_be_bytes([s2, s3]),
        u16::from_be_bytes([d0, d1]),
        u16::from_be_bytes([d2, d3]),
        u16::from(protocol),
    ];
    let mut sum: u64 = words.iter().map(|&word| u64::from(word)).sum();
    // The TCP length is a 16-bit field; an IPv4 packet cannot carry more. Adding the full
    // value keeps a nonsensical oversize length from aliasing a valid one.
    sum += length as u64;
    fold(sum)
}

/// The TCP checksum for `tcp_segment` (header, options and data) sent from `src` to `dst`
/// (RFC 9293 §3.1). The checksum field inside `tcp_segment` must be zero; the result is
/// the value to store there, in host order.
///
/// TCP, unlike UDP, has no special meaning for a zero checksum, so the result is stored as is.
#[inline]
pub fn tcp_checksum(src: Ipv4Addr, dst: Ipv4Addr, tcp_segment: &[u8]) -> u16 {
    let pseudo = match u16::try_from(tcp_segment.len()) {
        Ok(length) => sum_tcp_pseudo_header(src.octets(), dst.octets(), length),
        // Longer than any IPv4 packet: keep pseudo_header_sum's full-length addition.
        Err(_) => native_word(pseudo_header_sum(src, dst, IP_PROTO_TCP, tcp_segment.len())),
    };
    !fold_to_host(add(pseudo, sum_native(tcp_segment)))
}

/// True when the checksum field already inside `tcp_segment` is correct for a segment
/// sent from `src` to `dst` (RFC 9293 §3.1).
#[inline]
pub fn verify_tcp_checksum(src: Ipv4Addr, dst: Ipv4Addr, tcp_segment: &[u8]) -> bool {
    tcp_checksum(src, dst, tcp_segment) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-at-a-time reference implementation, written straight from RFC 1071 §4.1.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut index = 0;
        while index + 1 < data.len() {
            sum += u32::from(u16::from_be_bytes([data[index], data[index + 1]]));
            index += 2;
        }
        if index < data.len() {
            sum += u32::from(data[index]) << 8;
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn rfc1071_numerical_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_complement_sum(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn known_ipv4_header_checksum() {
        // A classic textbook header: 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&header), 0xb861);
        header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert!(verify(&header));
        header[15] ^= 1;
        assert!(!verify(&header));
    }

    #[test]
    fn empty_and_odd_lengths_match_reference() {
        assert_eq!(checksum(&[]), 0xffff);
        let data: Vec<u8> = (0..=255u8).map(|byte| byte.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            assert_eq!(
                checksum(&data[..len]),
                reference_checksum(&data[..len]),
                "len {len}"
            );
        }
    }

    /// Deterministic bytes (a 64-bit LCG), so a failure names its length and offset.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn every_length_and_alignment_matches_reference() {
        // All lengths 0..=2000 at every start offset 0..8 (odd ones included), over noise,
        // all-ones (every add carries) and 0xff00 patterns.
        let patterns = [
            noise(2008, 1),
            vec![0xff; 2008],
            (0..2008)
                .map(|i| if i % 2 == 0 { 0xff } else { 0 })
                .collect(),
        ];
        for data in &patterns {
            for offset in 0..8 {
                for len in 0..=2000 {
                    let slice = &data[offset..offset + len];
                    assert_eq!(
                        checksum(slice),
                        reference_checksum(slice),
                        "len {len} offset {offset}"
                    );
                }
            }
        }
    }

    #[test]
    fn ipv4_header_sum_matches_general_sum() {
        for seed in 0..200 {
            let bytes = noise(20, seed);
            let header: &[u8; 20] = bytes.as_slice().try_into().expect("20 bytes");
            assert_eq!(
                fold_to_host(sum_fixed_header(header)),
                ones_complement_sum(&bytes)
            );
        }
        let header = [0xffu8; 20];
        assert_eq!(fold_to_host(sum_fixed_header(&header)), 0xffff);
        assert_eq!(fold_to_host(sum_fixed_header(&[0; 20])), 0);
    }

    #[test]
    fn pseudo_header_terms_match_pseudo_header_sum() {
        for seed in 0..200u64 {
            let bytes = noise(10, seed);
            let src = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
            let dst = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            let length = u16::from_be_bytes([bytes[8], bytes[9]]);
            assert_eq!(
                fold_to_host(sum_tcp_pseudo_header(src.octets(), dst.octets(), length)),
                pseudo_header_sum(src, dst, IP_PROTO_TCP, usize::from(length)),
                "seed {seed}"
            );
            assert_eq!(
                fold(host_sum_tcp_pseudo_header(src, dst, length)),
                pseudo_header_sum(src, dst, IP_PROTO_TCP, usize::from(length)),
                "seed {seed}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_match_reference(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000), offset in 0usize..8) {
            let slice = data.get(offset..).unwrap_or(&[]);
            proptest::prop_assert_eq!(checksum(slice), reference_checksum(slice));
        }
    }

    /// The loop RFC 1071 §4.1 describes, on a wide sum.
    fn reference_fold(mut sum: u64) -> u16 {
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn fold_matches_the_carry_loop() {
        let mut cases = vec![
            0,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0xffff_ffff,
            0x1_0000_0000,
            0xffff_0000_ffff,
            u64::MAX,
            u64::MAX - 1,
        ];
        cases.extend(
            noise(8 * 1000, 7)
                .chunks_exact(8)
                .map(|word| u64::from_ne_bytes(word.try_into().expect("8 bytes"))),
        );
        for sum in cases {
            assert_eq!(fold(sum), reference_fold(sum), "{sum:#x}");
        }
    }

    #[test]
    fn all_ones_data_folds_carries() {
        let data = [0xffu8; 1500];
        assert_eq!(checksum(&data), reference_checksum(&data));
        assert_eq!(checksum(&data), 0);
    }

    #[test]
    fn combine_equals_sum_of_concatenation() {
        let data: Vec<u8> = (0..100u8).collect();
        let (head, tail) = data.split_at(40);
        assert_eq!(
            combine(ones_complement_sum(head), ones_complement_sum(tail)),
            ones_complement_sum(&data)
        );
    }

    #[test]
    fn tcp_checksum_round_trip_and_pseudo_header() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        // A bare 20-byte header: ports 1234 -> 80, seq 1, SYN, window 65535.
        let mut segment = [
            0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let value = tcp_checksum(src, dst, &segment);
        // The pseudo-header is just 12 more bytes summed in front of the segment.
        let mut with_pseudo = Vec::new();
        with_pseudo.extend_from_slice(&src.octets());
        with_pseudo.extend_from_slice(&dst.octets());
        with_pseudo.extend_from_slice(&[0, 6, 0, 20]);
        with_pseudo.extend_from_slice(&segment);
        assert_eq!(value, reference_checksum(&with_pseudo));
        segment[16..18].copy_from_slice(&value.to_be_bytes());
        assert!(verify_tcp_checksum(src, dst, &segment));
        assert!(!verify_tcp_checksum(
            src,
            Ipv4Addr::new(10, 0, 0, 3),
            &segment
        ));
    }
}
