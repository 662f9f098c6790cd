//! Sequence-number arithmetic, RFC 9293 §3.4: sequence numbers live in a 2^32 space and
//! are compared modulo 2^32 ("a < b" means b is ahead of a by less than 2^31).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number. Ordering is the modular one of RFC 9293 §3.4 and is only
/// meaningful for numbers less than 2^31 apart, which TCP's windows guarantee.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Distance from `earlier` to `self`, as a signed count of octets.
    pub fn diff(self, earlier: SeqNumber) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
    /// `self` in the half-open range [start, end).
    pub fn in_range(self, start: SeqNumber, end: SeqNumber) -> bool {
        start <= self && self < end
    }
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self >= other {
            self
        } else {
            other
        }
    }
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SeqNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        self.diff(*other).cmp(&0)
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        debug_assert!(rhs <= i32::MAX as usize, "sequence offset too large");
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

/// Number of octets from `rhs` up to `self`; `self` must not be before `rhs`.
impl Sub<SeqNumber> for SeqNumber {
    type Output = usize;
    fn sub(self, rhs: SeqNumber) -> usize {
        let d = self.diff(rhs);
        debug_assert!(
            d >= 0,
            "sequence subtraction went negative: {self:?} - {rhs:?}"
        );
        d.max(0) as usize
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_wrap() {
        let a = SeqNumber(u32::MAX - 10);
        let b = a + 20u32;
        assert_eq!(b.0, 9);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 20);
        assert_eq!(a.diff(b), -20);
    }

    #[test]
    fn range_is_half_open() {
        let s = SeqNumber(100);
        assert!(SeqNumber(100).in_range(s, s + 10u32));
        assert!(SeqNumber(109).in_range(s, s + 10u32));
        assert!(!SeqNumber(110).in_range(s, s + 10u32));
        assert!(!SeqNumber(99).in_range(s, s + 10u32));
    }
}
