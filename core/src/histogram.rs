//! A log-linear latency histogram with atomic bins.
//!
//! Values below `2^(p+1)` nanoseconds get a bin each; above that every power of two is
//! split into `2^p` equal bins, so a bin is never wider than `2^-p` of its lower edge.
//! Reporting a bin by its midpoint therefore errs by at most `2^-(p+1)` (1.6% at the
//! default `p = 5`, well inside the 3.2% budget). Values are clamped to
//! [`MAX_TRACKABLE`] (about 9 minutes).
//!
//! A window keeps a ring of these (see `window`), one per group of buckets.

#[cfg(doc)]
use crate::sync::TotalsStripe;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// Largest latency the histogram distinguishes, in nanoseconds (2^39 - 1, ~9 min).
pub const MAX_TRACKABLE: u64 = (1 << 39) - 1;
const MAX_EXP: u32 = 38;

/// Bin layout for a given precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    p: u32,
}

impl Layout {
    pub(crate) fn new(precision_bits: u8) -> Layout {
        Layout {
            p: precision_bits.clamp(1, 10) as u32,
        }
    }

    /// Number of bins.
    pub(crate) fn bins(self) -> usize {
        (1usize << self.p) * (2 + (MAX_EXP - self.p) as usize)
    }

    /// The bin of `v` nanoseconds.
    #[inline]
    pub(crate) fn index(self, v: u64) -> usize {
        let v = v.min(MAX_TRACKABLE);
        let sub = 1u64 << self.p;
        if v < 2 * sub {
            return v as usize;
        }
        let e = 63 - v.leading_zeros();
        let shift = e - self.p;
        let m = (v >> shift) - sub;
        (2 * sub + (e - self.p - 1) as u64 * sub + m) as usize
    }

    /// `[lower, upper)` of bin `i`.
    pub(crate) fn range(self, i: usize) -> (u64, u64) {
        let sub = 1u64 << self.p;
        let i = i as u64;
        if i < 2 * sub {
            return (i, i + 1);
        }
        let k = i - 2 * sub;
        let e = self.p as u64 + 1 + k / sub;
        let m = k % sub;
        let shift = e - self.p as u64;
        let lower = (sub + m) << shift;
        (lower, lower + (1 << shift))
    }

    /// The value reported for bin `i`: its midpoint.
    pub(crate) fn value(self, i: usize) -> u64 {
        let (lo, hi) = self.range(i);
        lo + (hi - lo - 1) / 2
    }

    /// Worst relative error of a reported value.
    #[cfg_attr(any(not(test), loom), allow(dead_code))]
    pub(crate) fn relative_error(self) -> f64 {
        1.0 / (1u64 << (self.p + 1)) as f64
    }
}

/// Copies of every bin a time window's histogram keeps: a thread adds to the lane of
/// its window stripe (see [`TotalsStripe::window`]), and readers sum the lanes. Two
/// threads that record the same latency (the common case: calls to one dependency
/// take about as long) would otherwise add to one counter, and its cache line would
/// move between their cores on every call: 118 ns a call for two threads on one
/// breaker against 46 ns for one, on an Intel guest (BENCHMARKS.md). Two lanes keep
/// two threads apart at twice the bins' memory (a breaker with latency tracking stays
/// within 96 KiB). A count window keeps one: its calls share one counter (its cursor)
/// anyway.
pub(crate) const LANES: usize = 2;

/// One histogram's bins, in lanes (see [`LANES`]) laid one after the other, and a
/// bitmap of the bins in use (in any lane).
///
/// A window reuses its histograms as its epochs move on, clearing each one before it
/// counts for a new epoch. Clearing every bin (about a thousand) cost a count window
/// with a bucket per call some 250 instructions a call, so a histogram marks the bins
/// it has used, and a clear zeroes only those.
///
/// The marks must never miss a non-zero bin, or a sample would outlive its epoch: an
/// add bumps its bin and then looks at the mark, a clear takes the marks and then
/// zeroes their bins, all `SeqCst`. Either the add's look comes after the clear took
/// the marks (it sets the mark again, and its bin stays marked), or before (the clear
/// took that mark and zeroes the bin after the add: the sample is dropped, which a
/// sample racing with a clear may be).
pub(crate) struct Bins {
    bins: Box<[AtomicU32]>,
    touched: Box<[AtomicU64]>,
    /// Bins in one lane: the layout's.
    per_lane: u32,
    /// Lanes - 1 (a power of two): a thread's lane is its stripe masked by this.
    lane_mask: u32,
}

impl Bins {
    /// Zeroed bins of `layout`, in `lanes` lanes (1 or [`LANES`]).
    pub(crate) fn new(layout: Layout, lanes: usize) -> Bins {
        debug_assert!(lanes.is_power_of_two());
        Bins {
            bins: (0..lanes * layout.bins())
                .map(|_| AtomicU32::new(0))
                .collect(),
            touched: (0..layout.bins().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            per_lane: layout.bins() as u32,
            lane_mask: lanes as u32 - 1,
        }
    }

    /// The lanes, one slice of bins each.
    fn lanes(&self) -> impl Iterator<Item = &[AtomicU32]> {
        self.bins.chunks(self.per_lane as usize)
    }

    /// Adds one to bin `index`, in the lane of the caller's `stripe` (its
    /// [`TotalsStripe::window`]'s index).
    #[inline]
    pub(crate) fn add(&self, index: usize, stripe: usize) {
        let lane = stripe & self.lane_mask as usize;
        // ordering: SeqCst, the add before the look at the mark (see the type's doc).
        self.bins[lane * self.per_lane as usize + index].fetch_add(1, Ordering::SeqCst);
        let (word, bit) = (&self.touched[index / 64], 1u64 << (index % 64));
        // Look first: a bin in use is already marked, and the word stays shared.
        if word.load(Ordering::SeqCst) & bit == 0 {
            word.fetch_or(bit, Ordering::SeqCst);
        }
    }

    /// Zeroes every bin in use.
    pub(crate) fn clear(&self) {
        for (w, word) in self.touched.iter().enumerate() {
            // ordering: SeqCst, the marks taken before their bins are zeroed (see the
            // type's doc). Look first: most words mark no bin, and a swap is an RMW
            // (about as dear as the add itself). A word read as empty marks no bin
            // that is not zero, but for an add still on its way to set its mark, which
            // it then does: as if it came after the swap.
            if word.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::SeqCst);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                // A swap rather than a store: an RMW, so that in the order of this
                // bin's writes it lands after any add that came before it.
                for lane in self.lanes() {
                    lane[i].swap(0, Ordering::SeqCst);
                }
                bits &= bits - 1;
            }
        }
    }

    /// Adds this histogram's counts into `into`.
    pub(crate) fn merge_into(&self, into: &mut [u64]) {
        for lane in self.lanes() {
            for (acc, b) in into.iter_mut().zip(lane) {
                *acc += b.load(Ordering::Relaxed) as u64;
            }
        }
    }

    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of_val(&*self.bins) + std::mem::size_of_val(&*self.touched)
    }
}

/// Latency figures over a window, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct LatencySummary {
    /// Calls the figures are drawn from.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Mean (of bin midpoints).
    pub mean: u64,
    /// Largest (midpoint of the highest non-empty bin).
    pub max: u64,
}

/// The value at quantile `q` of merged `counts`: the smallest bin whose cumulative count
/// reaches `ceil(q * total)`.
pub(crate) fn quantile(layout: Layout, counts: &[u64], total: u64, q: f64) -> u64 {
    if total == 0 {
        return 0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return layout.value(i);
        }
    }
    layout.value(counts.len() - 1)
}

/// Summarises merged `counts`.
pub(crate) fn summarize(layout: Layout, counts: &[u64]) -> LatencySummary {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return LatencySummary::default();
    }
    let mut sum = 0u128;
    let mut max = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 {
            let v = layout.value(i);
            sum += v as u128 * c as u128;
            max = v;
        }
    }
    LatencySummary {
        count: total,
        p50: quantile(layout, counts, total, 0.5),
        p90: quantile(layout, counts, total, 0.9),
        p95: quantile(layout, counts, total, 0.95),
        p99: quantile(layout, counts, total, 0.99),
        p999: quantile(layout, counts, total, 0.999),
        mean: (sum / total as u128) as u64,
        max,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::stripe_index;
    use proptest::prelude::*;

    #[test]
    fn a_clear_empties_every_bin_used_and_the_bins_count_again_after_it() {
        let layout = Layout::new(5);
        let bins = Bins::new(layout, 1);
        let used = [0, 63, 64, 65, 700, layout.bins() - 1];
        for (n, &i) in used.iter().enumerate() {
            (0..=n).for_each(|_| bins.add(i, 0));
        }
        let merged = |b: &Bins| {
            let mut c = vec![0u64; layout.bins()];
            b.merge_into(&mut c);
            c
        };
        assert_eq!(merged(&bins).iter().sum::<u64>(), 21);
        bins.clear();
        assert!(merged(&bins).iter().all(|&c| c == 0));
        // The marks went with the clear: bins used again are marked again, so a
        // second clear empties them too.
        bins.add(700, 0);
        bins.add(3, 0);
        assert_eq!(merged(&bins)[700], 1);
        bins.clear();
        assert!(merged(&bins).iter().all(|&c| c == 0));
    }

    #[test]
    fn threads_on_different_lanes_are_all_counted_and_all_cleared() {
        let layout = Layout::new(5);
        let bins = Bins::new(layout, LANES);
        let merged = |b: &Bins| {
            let mut c = vec![0u64; layout.bins()];
            b.merge_into(&mut c);
            c
        };
        // Threads take stripes in the order they first ask: new threads until both
        // lanes have been used, each adding to bin 40 and to a bin of its lane's own.
        let mut lanes_seen = [false; LANES];
        let mut threads = 0;
        while lanes_seen.contains(&false) {
            assert!(threads < 64, "no thread came to lane {lanes_seen:?}");
            let lane = std::thread::scope(|s| {
                s.spawn(|| {
                    let stripe = stripe_index();
                    let lane = stripe & (LANES - 1);
                    bins.add(40, stripe);
                    bins.add(500 + lane, stripe);
                    lane
                })
                .join()
                .unwrap()
            });
            lanes_seen[lane] = true;
            threads += 1;
        }
        let counts = merged(&bins);
        assert_eq!(counts[40], threads as u64, "the lanes are summed");
        assert_eq!(counts.iter().sum::<u64>(), 2 * threads as u64);
        assert!(counts[500] > 0 && counts[501] > 0);
        // A bin used in one lane only is cleared too.
        bins.clear();
        assert!(merged(&bins).iter().all(|&c| c == 0));
    }

    #[test]
    fn default_layout_has_1120_bins_and_1_6_percent_error() {
        let l = Layout::new(5);
        assert_eq!(l.bins(), 1120);
        assert_eq!(l.index(MAX_TRACKABLE), l.bins() - 1);
        assert!(l.relative_error() <= 0.032);
        // Bins tile the line with no gap.
        for i in 1..l.bins() {
            assert_eq!(l.range(i - 1).1, l.range(i).0);
        }
    }

    proptest! {
        #[test]
        fn every_value_lands_in_its_bin_within_the_error(v in 0u64..MAX_TRACKABLE, p in 2u8..=7) {
            let l = Layout::new(p);
            let i = l.index(v);
            let (lo, hi) = l.range(i);
            prop_assert!(lo <= v && v < hi);
            let err = (l.value(i) as f64 - v as f64).abs() / (v.max(1) as f64);
            prop_assert!(err <= l.relative_error() + 1e-12, "v={} err={}", v, err);
        }

        #[test]
        fn quantiles_are_within_error_of_exact(mut vs in proptest::collection::vec(1u64..10_000_000_000, 1..400)) {
            let l = Layout::new(5);
            let mut counts = vec![0u64; l.bins()];
            for &v in &vs { counts[l.index(v)] += 1; }
            vs.sort_unstable();
            for q in [0.5, 0.9, 0.99, 0.999] {
                let rank = ((q * vs.len() as f64).ceil() as usize).clamp(1, vs.len());
                let exact = vs[rank - 1] as f64;
                let got = quantile(l, &counts, vs.len() as u64, q) as f64;
                prop_assert!((got - exact).abs() / exact <= 0.032);
            }
        }
    }
}

/// loom model of a clear racing with an add (`RUSTFLAGS="--cfg loom" cargo test -p
/// tripgate --release --lib`).
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Whatever the interleaving, no bin is left counting without its mark (which would
    /// let a sample outlive its epoch), and the racing sample is counted at most once.
    /// The racing add is in the other lane than the first: one mark serves both.
    #[test]
    fn a_clear_racing_with_an_add_never_leaves_an_unmarked_bin() {
        loom::model(|| {
            let bins = Arc::new(Bins::new(Layout::new(1), LANES));
            bins.add(5, 0);
            let b = bins.clone();
            let t = thread::spawn(move || b.add(5, 1));
            bins.clear();
            t.join().unwrap();
            let count: u32 = bins.lanes().map(|l| l[5].load(Ordering::SeqCst)).sum();
            let marked = bins.touched[0].load(Ordering::SeqCst) & (1 << 5) != 0;
            assert!(count <= 1, "{count}");
            assert!(
                count == 0 || marked,
                "bin 5 counts {count} without its mark"
            );
        });
    }
}
