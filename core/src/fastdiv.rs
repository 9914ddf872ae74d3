//! Division by a run-time constant with one multiply, for the record path.
//!
//! `m = floor((2^64 - 1) / d)` underestimates `2^64 / d` by less than one part in
//! `2^64 / d`, so `floor(n * m / 2^64)` is the true quotient or one less; one compare
//! fixes it. A hardware 64-bit divide costs 10 to 40 cycles; this costs about 4.

/// A divisor with its precomputed reciprocal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FastDiv {
    d: u64,
    m: u64,
}

impl FastDiv {
    /// Precomputes division by `d` (`d >= 1`).
    pub(crate) fn new(d: u64) -> FastDiv {
        let d = d.max(1);
        FastDiv { d, m: u64::MAX / d }
    }

    /// The divisor.
    #[inline]
    pub(crate) fn divisor(self) -> u64 {
        self.d
    }

    /// The reciprocal, for storing in an atomic.
    #[inline]
    pub(crate) fn parts(self) -> (u64, u64) {
        (self.d, self.m)
    }

    /// Rebuilds from [`parts`](FastDiv::parts) (which never hold a zero divisor).
    #[inline]
    pub(crate) fn from_parts(d: u64, m: u64) -> FastDiv {
        FastDiv { d, m }
    }

    /// `(n / d, n % d)`.
    #[inline]
    pub(crate) fn div_rem(self, n: u64) -> (u64, u64) {
        let q = ((n as u128 * self.m as u128) >> 64) as u64;
        let r = n - q * self.d;
        if r >= self.d {
            (q + 1, r - self.d)
        } else {
            (q, r)
        }
    }

    /// `n / d`.
    #[inline]
    pub(crate) fn div(self, n: u64) -> u64 {
        self.div_rem(n).0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        for d in [
            1u64,
            2,
            3,
            7,
            10,
            1000,
            1_000_000_007,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let f = FastDiv::new(d);
            for n in [0u64, 1, d - 1, d, d.wrapping_add(1), u64::MAX - 1, u64::MAX] {
                assert_eq!(f.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn matches_hardware_division(n: u64, d in 1u64..) {
            prop_assert_eq!(FastDiv::new(d).div_rem(n), (n / d, n % d));
        }
    }
}
