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

/// Folds a wide one's-complement sum to 16 bits by adding the carries back in
/// (RFC 1071 §2 (C), "end-around carry").
#[inline]
fn fold(mut sum: u64) -> u16 {
    // Each round at least halves the width of the carry; four rounds take any u64 to 16 bits.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// One's-complement sum of `data` in the machine's native byte order, not yet folded.
///
/// An odd final byte is padded on the right with a zero octet (RFC 1071 §4.1).
#[inline]
fn sum_native(data: &[u8]) -> u64 {
    let mut sum: u64 = 0;
    let mut words = data.chunks_exact(4);
    // Summing u32 into u64 cannot overflow below 2^32 words (16 GiB), far above any packet.
    for word in &mut words {
        sum += u64::from(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    // `rest` has at most 3 bytes; `zip` stops at the shorter side, so nothing can panic.
    for (slot, byte) in tail.iter_mut().zip(rest) {
        *slot = *byte;
    }
    sum + u64::from(u32::from_ne_bytes(tail))
}

/// One's-complement sum of `data` as a big-endian (network order) 16-bit value, folded
/// but not complemented: RFC 1071's "sum", which callers combine with [`combine`].
#[inline]
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    // RFC 1071 §2 (B): a sum of byte-swapped words is the byte-swapped sum.
    u16::from_be_bytes(fold(sum_native(data)).to_ne_bytes())
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
    let pseudo = pseudo_header_sum(src, dst, IP_PROTO_TCP, tcp_segment.len());
    !combine(pseudo, ones_complement_sum(tcp_segment))
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
