//! A log-linear latency histogram with atomic bins.
//!
//! Values below `2^(p+1)` nanoseconds get a bin each; above that every power of two is
//! split into `2^p` equal bins, so a bin is never wider than `2^-p` of its lower edge.
//! Reporting a bin by its midpoint therefore errs by at most `2^-(p+1)` (1.6% at the
//! default `p = 5`, well inside the 3.2% budget). Values are clamped to
//! [`MAX_TRACKABLE`] (about 9 minutes).
//!
//! A window keeps a ring of these (see `window::latency`), one per group of buckets,
//! as [`Bins`]; a time window also keeps a lane of [`OwnerBins`] for each thread that
//! owns a stripe.

use crate::sync::{AtomicU32, AtomicU64, Ordering, OwnerAdd};

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

/// A histogram's bins that any thread may add to, by RMW, and a bitmap of the bins in
/// use.
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
///
/// A time window's threads that own a stripe add to [`OwnerBins`] instead, and move
/// their counts here once per histogram epoch.
pub(crate) struct Bins {
    bins: Box<[AtomicU32]>,
    touched: Box<[AtomicU64]>,
}

impl Bins {
    /// `len` zeroed bins (a layout's [`bins`](Layout::bins)).
    pub(crate) fn new(len: usize) -> Bins {
        Bins {
            bins: (0..len).map(|_| AtomicU32::new(0)).collect(),
            touched: (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Adds one to bin `index`.
    #[inline]
    pub(crate) fn add(&self, index: usize) {
        self.add_n(index, 1);
    }

    /// Adds `n` to bin `index`.
    #[inline]
    pub(crate) fn add_n(&self, index: usize, n: u32) {
        // ordering: SeqCst, the add before the look at the mark (see the type's doc).
        self.bins[index].fetch_add(n, Ordering::SeqCst);
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
                self.bins[i].swap(0, Ordering::SeqCst);
                bits &= bits - 1;
            }
        }
    }

    /// Adds this histogram's counts into `into`.
    pub(crate) fn merge_into(&self, into: &mut [u64]) {
        merge(&self.bins, into);
    }

    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of_val(&*self.bins) + std::mem::size_of_val(&*self.touched)
    }
}

/// A histogram's bins that one thread alone writes, adds and clears alike: it adds
/// with a plain load and store, where [`Bins`] pays a locked add (9 ns on an Intel
/// guest, a fifth of a latency-tracked call; BENCHMARKS.md, "Owners' lanes").
/// Readers only load, and see each bin whole.
///
/// Who the one writer is, and how a reader tells a clear or a move apart from counts,
/// is the window's business (`window::latency`).
pub(crate) struct OwnerBins {
    bins: Box<[AtomicU32]>,
}

impl OwnerBins {
    /// `len` zeroed bins (a layout's [`bins`](Layout::bins)).
    pub(crate) fn new(len: usize) -> OwnerBins {
        OwnerBins {
            bins: (0..len).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Adds one to bin `index`. Only the bins' one writer may call it.
    #[inline]
    pub(crate) fn add(&self, index: usize) {
        self.bins[index].owner_add(1);
    }

    /// Zeroes every bin. Only the bins' one writer may call it. Every bin, with no
    /// marks to keep on the add's path: a lane is emptied once per histogram epoch (a
    /// group of buckets, tens of milliseconds at least), and a thousand stores cost
    /// well under a microsecond.
    pub(crate) fn clear(&self) {
        for bin in self.bins.iter() {
            // ordering: Relaxed, as `add`; a reader tells a clear from counts by the
            // lane's tag (`window::latency`).
            bin.store(0, Ordering::Relaxed);
        }
    }

    /// Moves every count into `into` (the same layout's bins), leaving these empty:
    /// a thousand loads, and a locked add for each bin in use. Only the bins' one
    /// writer may call it.
    pub(crate) fn move_into(&self, into: &Bins) {
        for (i, bin) in self.bins.iter().enumerate() {
            // ordering: Relaxed, as `clear`.
            let n = bin.load(Ordering::Relaxed);
            if n != 0 {
                into.add_n(i, n);
                bin.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Adds these bins' counts into `into`.
    pub(crate) fn merge_into(&self, into: &mut [u64]) {
        merge(&self.bins, into);
    }

    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of_val(&*self.bins)
    }
}

/// Adds `bins`' counts into `into`.
fn merge(bins: &[AtomicU32], into: &mut [u64]) {
    for (acc, b) in into.iter_mut().zip(bins) {
        // ordering: Relaxed, a statistic: each bin is read whole, and a sample
        // racing with the read may or may not be in it.
        *acc += b.load(Ordering::Relaxed) as u64;
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
    use proptest::prelude::*;

    #[test]
    fn a_clear_empties_every_bin_used_and_the_bins_count_again_after_it() {
        let layout = Layout::new(5);
        let bins = Bins::new(layout.bins());
        let used = [0, 63, 64, 65, 700, layout.bins() - 1];
        for (n, &i) in used.iter().enumerate() {
            (0..=n).for_each(|_| bins.add(i));
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
        bins.add(700);
        bins.add(3);
        assert_eq!(merged(&bins)[700], 1);
        bins.clear();
        assert!(merged(&bins).iter().all(|&c| c == 0));
    }

    #[test]
    fn owner_bins_count_every_add_and_a_clear_empties_them_all() {
        let layout = Layout::new(5);
        let bins = OwnerBins::new(layout.bins());
        let merged = |b: &OwnerBins| {
            let mut c = vec![0u64; layout.bins()];
            b.merge_into(&mut c);
            c
        };
        for (n, i) in [0, 40, 700, layout.bins() - 1].into_iter().enumerate() {
            (0..=n).for_each(|_| bins.add(i));
        }
        let counts = merged(&bins);
        assert_eq!((counts[0], counts[40], counts[700]), (1, 2, 3));
        assert_eq!(counts.iter().sum::<u64>(), 10);
        bins.clear();
        assert!(merged(&bins).iter().all(|&c| c == 0));
        bins.add(41);
        assert_eq!(merged(&bins)[41], 1);
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
    #[test]
    fn a_clear_racing_with_an_add_never_leaves_an_unmarked_bin() {
        loom::model(|| {
            let bins = Arc::new(Bins::new(Layout::new(1).bins()));
            bins.add(5);
            let b = bins.clone();
            let t = thread::spawn(move || b.add(5));
            bins.clear();
            t.join().unwrap();
            let count = bins.bins[5].load(Ordering::SeqCst);
            let marked = bins.touched[0].load(Ordering::SeqCst) & (1 << 5) != 0;
            assert!(count <= 1, "{count}");
            assert!(
                count == 0 || marked,
                "bin 5 counts {count} without its mark"
            );
        });
    }
}
