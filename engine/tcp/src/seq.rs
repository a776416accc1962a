//! Sequence numbers and their modular comparison (RFC 9293 section 3.4:
//! "all arithmetic dealing with sequence numbers must be performed modulo
//! 2**32").

use std::ops::{Add, Sub};

/// A TCP sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seq(pub u32);

impl Seq {
    /// `self < o` in sequence space.
    #[inline]
    pub fn lt(self, o: Seq) -> bool {
        (self.0.wrapping_sub(o.0) as i32) < 0
    }
    /// `self <= o` in sequence space.
    #[inline]
    pub fn le(self, o: Seq) -> bool {
        (self.0.wrapping_sub(o.0) as i32) <= 0
    }
    /// `self > o` in sequence space.
    #[inline]
    pub fn gt(self, o: Seq) -> bool {
        o.lt(self)
    }
    /// `self >= o` in sequence space.
    #[inline]
    pub fn ge(self, o: Seq) -> bool {
        o.le(self)
    }
    /// The larger of two sequence numbers.
    #[inline]
    pub fn max(self, o: Seq) -> Seq {
        if self.lt(o) {
            o
        } else {
            self
        }
    }
    /// The smaller of two sequence numbers.
    #[inline]
    pub fn min(self, o: Seq) -> Seq {
        if self.lt(o) {
            self
        } else {
            o
        }
    }
}

impl Add<usize> for Seq {
    type Output = Seq;
    #[inline]
    fn add(self, n: usize) -> Seq {
        Seq(self.0.wrapping_add(n as u32))
    }
}

impl Sub<Seq> for Seq {
    type Output = usize;
    /// Distance from `o` forward to `self`; callers ensure `o <= self`.
    #[inline]
    fn sub(self, o: Seq) -> usize {
        self.0.wrapping_sub(o.0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap() {
        let a = Seq(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b, Seq(2));
        assert!(a.lt(b) && b.gt(a) && a.le(a) && b.ge(b));
        assert_eq!(b - a, 4);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
