//! Latency over the window: a ring of histograms that follows the window's epochs.
//!
//! With latency tracking, one histogram covers a group of `ceil(buckets / 16)` buckets
//! (so there are at most 17 histograms). A histogram whose tag is stale is cleared by
//! the thread that claims it; samples racing with that clear may be dropped from the
//! percentiles (never from the counts).

use super::{Geometry, Window};
use crate::fastdiv::FastDiv;
use crate::histogram::{self, Bins, LatencySummary, Layout};
use crate::sync::{AtomicU64, Ordering};

/// Most histograms in a window's ring (plus one when buckets are grouped).
pub(super) const MAX_HISTOGRAM_GROUPS: u64 = 16;
// `Histograms::last` keeps a ring slot in 8 bits.
const _: () = assert!(MAX_HISTOGRAM_GROUPS < 255);

/// A histogram and the histogram epoch it holds.
struct HistSlot {
    tag: AtomicU64,
    bins: Bins,
}

/// Tag of a histogram being cleared.
const CLEARING: u64 = u64::MAX;
/// Tag of a histogram never used.
const UNUSED: u64 = u64::MAX - 1;

/// The ring of histograms of one window.
pub(super) struct Histograms {
    layout: Layout,
    slots: Box<[HistSlot]>,
    count: FastDiv,
    /// The last histogram epoch a record placed and its ring slot, `(epoch + 1) << 8 |
    /// slot` (0: none yet): a record in the same histogram epoch reads its slot here
    /// rather than dividing by the ring's length. The slot is a function of the epoch
    /// alone (the ring's length is fixed for life), so any value read is right for the
    /// epoch it names; written once per histogram epoch.
    last: AtomicU64,
}

/// Histogram epochs below this fit in `Histograms::last` beside an 8-bit slot.
const LAST_EPOCHS: u64 = (1 << 56) - 1;

impl Histograms {
    /// The ring for a window of up to `buckets` buckets, every histogram unused, its
    /// bins in `lanes` lanes (see [`histogram::LANES`]).
    pub(super) fn new(layout: Layout, buckets: u32, lanes: usize) -> Histograms {
        let g = (buckets as u64).div_ceil(MAX_HISTOGRAM_GROUPS);
        let count = (buckets as u64).div_ceil(g) + u64::from(g > 1);
        Histograms {
            layout,
            slots: (0..count)
                .map(|_| HistSlot {
                    tag: AtomicU64::new(UNUSED),
                    bins: Bins::new(layout, lanes),
                })
                .collect(),
            count: FastDiv::new(count),
            last: AtomicU64::new(0),
        }
    }

    /// The ring slot of histogram epoch `he`.
    #[inline(always)]
    fn slot_of(&self, he: u64) -> usize {
        if he >= LAST_EPOCHS {
            return self.count.div_rem(he).1 as usize;
        }
        // ordering: Relaxed, the word carries its own epoch with the slot it names.
        let last = self.last.load(Ordering::Relaxed);
        if last >> 8 == he + 1 {
            return (last & 0xff) as usize;
        }
        let slot = self.count.div_rem(he).1;
        self.last.store((he + 1) << 8 | slot, Ordering::Relaxed);
        slot as usize
    }

    /// Bytes of heap the histograms hold.
    pub(super) fn memory(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
            + self.slots.iter().map(|s| s.bins.memory()).sum::<usize>()
    }
}

impl Window {
    #[inline(always)]
    /// Adds a latency of `ns` to the histogram of `epoch`, in the lane of the caller's
    /// stripe `stripe` (a window built count-based keeps one lane).
    pub(super) fn record_latency(
        &self,
        h: &Histograms,
        geo: &Geometry,
        epoch: u64,
        ns: u64,
        stripe: usize,
    ) {
        let he = geo.hist_epoch(epoch);
        let slot = &h.slots[h.slot_of(he)];
        // ordering: Acquire pairs with the Release store that ends a clear, so a writer
        // that sees the new tag adds to cleared bins.
        let tag = slot.tag.load(Ordering::Acquire);
        if tag == UNUSED {
            // Never used: the bins are already zero, so claim it without a clear (no
            // sample racing with the claim can be wiped).
            let _ = slot
                .tag
                .compare_exchange(UNUSED, he, Ordering::AcqRel, Ordering::Relaxed);
        } else if tag != CLEARING && tag < he {
            // ordering: Acquire on success so the clear happens after the tag is taken.
            if slot
                .tag
                .compare_exchange(tag, CLEARING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                slot.bins.clear();
                slot.tag.store(he, Ordering::Release);
            }
        }
        slot.bins.add(h.layout.index(ns), stripe);
    }

    /// Latency figures over the window at `now`, if latencies are kept.
    pub(crate) fn latency(&self, now: u64) -> Option<LatencySummary> {
        let h = self.histograms.as_ref()?;
        let geo = self.geometry.load();
        let current = geo.hist_epoch(self.current_epoch(&geo.epoch_map(), now));
        let span = geo.hist_span();
        let mut counts = vec![0u64; h.layout.bins()];
        for slot in h.slots.iter() {
            let tag = slot.tag.load(Ordering::Acquire);
            if tag <= current && current - tag < span {
                slot.bins.merge_into(&mut counts);
            }
        }
        Some(histogram::summarize(h.layout, &counts))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_epochs_slot_is_its_place_in_the_ring_whether_remembered_or_not() {
        // 10 buckets: a histogram each; 40: groups of 3, 14 + 1 histograms.
        for buckets in [10, 40] {
            let h = Histograms::new(Layout::new(5), buckets, 1);
            let count = h.slots.len() as u64;
            // The largest epochs first, on a ring that remembers none yet.
            let epochs = [u64::MAX, LAST_EPOCHS, 0, 0, 1, 1, 2, 1, count, count + 1, 0];
            for he in epochs
                .into_iter()
                .chain([LAST_EPOCHS - 1, LAST_EPOCHS - 1, 5])
            {
                assert_eq!(
                    h.slot_of(he) as u64,
                    he % count,
                    "epoch {he}, {buckets} buckets"
                );
            }
        }
    }
}
