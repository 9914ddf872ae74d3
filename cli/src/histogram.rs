//! A log-linear latency histogram for the caller's view of latency: 32 sub-buckets per
//! power of two (relative error under 3.2%), exact below 32 ns, plain `u64` counters
//! (each simulated candidate owns its own, so no atomics are needed).

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Octaves covered: values up to 2^45 ns (about 9.8 hours) are exact to 3.2%; larger
/// values land in the last bucket.
const OCTAVES: usize = 41;
const LEN: usize = (OCTAVES + 1) * SUB as usize;

/// Counts of latencies in nanoseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; LEN],
            total: 0,
            max: 0,
        }
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    let i = ((shift as u64 + 1) * SUB + ((v >> shift) - SUB)) as usize;
    i.min(LEN - 1)
}

/// The middle of bucket `i` (exact for the unit-wide buckets below 32 ns).
fn value_of(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = i / SUB - 1;
    let low = (SUB + i % SUB) << shift;
    low + ((1u64 << shift) >> 1)
}

impl Histogram {
    /// Bytes a histogram holds on the heap.
    pub const HEAP_BYTES: u64 = (LEN * std::mem::size_of::<u64>()) as u64;

    /// Counts one value.
    #[inline]
    pub fn record(&mut self, nanos: u64) {
        self.counts[index(nanos)] += 1;
        self.total += 1;
        if nanos > self.max {
            self.max = nanos;
        }
    }

    /// Largest value counted (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The `q` quantile (0 < q <= 1): the smallest bucket holding the `ceil(q * n)`th
    /// value, reported at its midpoint (clamped to the exact maximum). 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_error_bound() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let want = q * 100_000_000.0;
            let got = h.quantile(q) as f64;
            assert!(
                (got - want).abs() / want < 0.032,
                "q={q} got={got} want={want}"
            );
        }
        assert_eq!(h.max(), 100_000_000);
    }

    #[test]
    fn zeros_are_exact() {
        let mut h = Histogram::default();
        for _ in 0..99 {
            h.record(0);
        }
        h.record(5_000_000);
        assert_eq!(h.quantile(0.5), 0);
        assert_eq!(h.quantile(0.99), 0);
        assert!(h.quantile(1.0) > 4_800_000);
    }
}
