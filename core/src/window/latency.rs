//! Latency over the window: a ring of histograms that follows the window's epochs.
//!
//! With latency tracking, one histogram covers a group of `ceil(buckets / 16)` buckets
//! (so there are at most 17 histograms). A histogram whose tag is stale is cleared by
//! the thread that claims it; samples racing with that clear may be dropped from the
//! percentiles (never from the counts).
//!
//! A time window also keeps an owner's lane ([`OwnerLane`]) for each stripe a thread
//! can own (`sync::OWNED_STRIPES`): the bins of the histogram epoch its owner is
//! recording in. The owner adds there with plain stores instead of a locked add (9 ns
//! on an Intel guest, a fifth of a latency-tracked call), and when its records reach a
//! later epoch it moves the lane's counts into the ring and empties it. Threads that
//! own no stripe add to the ring directly. Two threads recording the same latency (the
//! common case: calls to one dependency take about as long) so add to different cache
//! lines, whichever threads they are.

use super::{Geometry, Window};
use crate::fastdiv::FastDiv;
use crate::histogram::{self, Bins, LatencySummary, Layout, OwnerBins};
use crate::sync::{fence, AtomicU64, Ordering, WindowStripe, OWNED_STRIPES};

/// Most histograms in a window's ring (plus one when buckets are grouped).
pub(super) const MAX_HISTOGRAM_GROUPS: u64 = 16;
// `Histograms::last` keeps a ring slot in 8 bits.
const _: () = assert!(MAX_HISTOGRAM_GROUPS < 255);

/// A histogram and the histogram epoch it holds.
struct HistSlot {
    tag: AtomicU64,
    bins: Bins,
}

/// Tag of a histogram or lane being cleared.
const CLEARING: u64 = u64::MAX;
/// Tag of a histogram or lane never used.
const UNUSED: u64 = u64::MAX - 1;

/// The bins of one histogram epoch that the owner of one stripe alone writes, and
/// that epoch (its tag). The owner adds with plain stores; when its records reach a
/// later epoch, it moves the counts into the ring's histogram of the epoch they belong
/// to ([`Histograms::turn`]) and empties the lane. The writer changes hands only with
/// the stripe's claim (`sync::StripeClaims`), whose `Release` and `Acquire` carry the
/// lane over too.
///
/// Readers and the writer meet as in a sequence lock: the writer marks the tag
/// [`CLEARING`] before its first change to the bins other than an add, and tags the lane
/// with the new epoch after its last; a reader keeps what it read of the lane only if
/// the tag was the same before and after, and reads the ring before the lanes, so that
/// counts on their way from a lane to the ring are read once at most.
struct OwnerLane {
    tag: AtomicU64,
    bins: OwnerBins,
}

impl OwnerLane {
    /// An unused lane of `bins` bins (a layout's [`bins`](Layout::bins)).
    fn new(bins: usize) -> OwnerLane {
        OwnerLane {
            tag: AtomicU64::new(UNUSED),
            bins: OwnerBins::new(bins),
        }
    }

    /// Moves the lane to histogram epoch `he`: the counts of the epoch it held go to
    /// `ring` (that epoch's histogram in the ring, if the ring still holds it; else
    /// they are dropped, having left the window), and the lane empties. Only the lane's
    /// writer may call it.
    fn turn(&self, he: u64, ring: Option<&Bins>) {
        // ordering: the sequence lock's writer (see the type's doc). The mark first;
        // the Release fence orders it before every later store, so that a reader that
        // sees one of them (a count moved to the ring, a bin emptied) sees the mark
        // when it next looks at the tag.
        self.tag.store(CLEARING, Ordering::Relaxed);
        fence(Ordering::Release);
        match ring {
            Some(ring) => self.bins.move_into(ring),
            None => self.bins.clear(),
        }
        // ordering: Release, so that a reader that sees the new tag (Acquire) sees the
        // emptied bins.
        self.tag.store(he, Ordering::Release);
    }

    /// Adds the lane's counts into `into` if its tag, read before and after, is the
    /// same and `keep` accepts it. `scratch` is a zeroed buffer of the layout's bins,
    /// left zeroed.
    fn merge_into(&self, keep: impl Fn(u64) -> bool, into: &mut [u64], scratch: &mut [u64]) {
        // ordering: the sequence lock's reader (see the type's doc). Acquire pairs
        // with the Release store that ends a turn.
        let before = self.tag.load(Ordering::Acquire);
        if before == CLEARING || before == UNUSED || !keep(before) {
            return;
        }
        self.bins.merge_into(scratch);
        // ordering: Acquire fence, so that if a load above saw a store of a turn, the
        // load below sees the mark the writer made before it. Above means the caller's
        // loads too: read before the lane, the ring's counts cannot include counts
        // moved from the lane by a turn that this read missed.
        fence(Ordering::Acquire);
        let kept = self.tag.load(Ordering::Relaxed) == before;
        for (acc, s) in into.iter_mut().zip(scratch.iter_mut()) {
            if kept {
                *acc += *s;
            }
            *s = 0;
        }
    }
}

/// The ring of histograms of one window, and its owners' lanes.
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
    /// Lane `i` belongs to the owner of window stripe `i`; none in a window built
    /// count-based, which has no owned stripes.
    lanes: Box<[OwnerLane]>,
}

/// Histogram epochs below this fit in `Histograms::last` beside an 8-bit slot.
const LAST_EPOCHS: u64 = (1 << 56) - 1;

impl Histograms {
    /// The ring for a window of up to `buckets` buckets, every histogram unused, with
    /// owners' lanes if `owner_lanes` (a time window).
    pub(super) fn new(layout: Layout, buckets: u32, owner_lanes: bool) -> Histograms {
        let g = (buckets as u64).div_ceil(MAX_HISTOGRAM_GROUPS);
        let count = (buckets as u64).div_ceil(g) + u64::from(g > 1);
        let lanes = if owner_lanes { OWNED_STRIPES } else { 0 };
        Histograms {
            layout,
            slots: (0..count)
                .map(|_| HistSlot {
                    tag: AtomicU64::new(UNUSED),
                    bins: Bins::new(layout.bins()),
                })
                .collect(),
            count: FastDiv::new(count),
            last: AtomicU64::new(0),
            lanes: (0..lanes).map(|_| OwnerLane::new(layout.bins())).collect(),
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

    /// The ring's histogram for epoch `he`, claimed for it (and cleared) if it held an
    /// older one. It may hold a newer one, or be being cleared by another thread: a
    /// late sample counts there, or is dropped by the clear.
    #[inline(always)]
    fn histogram_for(&self, he: u64) -> &HistSlot {
        let slot = &self.slots[self.slot_of(he)];
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
        slot
    }

    /// Adds one to bin `index` of histogram epoch `he` in `lane`, turning the lane to
    /// `he` first if it holds an older epoch. Only the lane's writer may call it.
    #[inline(always)]
    fn add_to_lane(&self, lane: &OwnerLane, he: u64, index: usize) {
        // ordering: Relaxed, the writer reads its own last store (or, after a
        // hand-over, the last owner's, through the claim).
        let held = lane.tag.load(Ordering::Relaxed);
        // A newer tag: this sample's clock read came before one of the writer's
        // earlier ones; it counts there, as a late sample does in the ring.
        if held == UNUSED || held < he {
            self.turn(lane, held, he);
        }
        lane.bins.add(index);
    }

    /// Turns `lane`, which holds epoch `held`, to epoch `he`: its counts go to the
    /// ring's histogram of `held` if the ring still holds that epoch.
    #[cold]
    #[inline(never)]
    fn turn(&self, lane: &OwnerLane, held: u64, he: u64) {
        let ring = (held != UNUSED)
            .then(|| self.histogram_for(held))
            // ordering: Relaxed, a guess: a claim racing with the counts' move may
            // drop some, as it may any sample.
            .filter(|slot| slot.tag.load(Ordering::Relaxed) == held)
            .map(|slot| &slot.bins);
        lane.turn(he, ring);
    }

    /// Bytes of heap the histograms hold.
    pub(super) fn memory(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
            + std::mem::size_of_val(&*self.lanes)
            + self.slots.iter().map(|s| s.bins.memory()).sum::<usize>()
            + self.lanes.iter().map(|l| l.bins.memory()).sum::<usize>()
    }
}

impl Window {
    #[inline(always)]
    /// Adds a latency of `ns` to the histogram of `epoch`: to the lane of the caller's
    /// `stripe` if the caller owns one, else to the ring.
    pub(super) fn record_latency(
        &self,
        h: &Histograms,
        geo: &Geometry,
        epoch: u64,
        ns: u64,
        stripe: WindowStripe,
    ) {
        let he = geo.hist_epoch(epoch);
        let index = h.layout.index(ns);
        match h.lanes.get(stripe.index).filter(|_| stripe.owned) {
            Some(lane) => h.add_to_lane(lane, he, index),
            None => h.histogram_for(he).bins.add(index),
        }
    }

    /// Latency figures over the window at `now`, if latencies are kept.
    pub(crate) fn latency(&self, now: u64) -> Option<LatencySummary> {
        let h = self.histograms.as_ref()?;
        let geo = self.geometry.load();
        let current = geo.hist_epoch(self.current_epoch(&geo.epoch_map(), now));
        let span = geo.hist_span();
        let in_span = |tag: u64| tag <= current && current - tag < span;
        let mut counts = vec![0u64; h.layout.bins()];
        for slot in h.slots.iter() {
            let tag = slot.tag.load(Ordering::Acquire);
            if in_span(tag) {
                slot.bins.merge_into(&mut counts);
            }
        }
        // The ring first, then the lanes (see `OwnerLane::merge_into`).
        let mut scratch = vec![0u64; h.layout.bins()];
        for lane in h.lanes.iter() {
            lane.merge_into(in_span, &mut counts, &mut scratch);
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
            let h = Histograms::new(Layout::new(5), buckets, false);
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

/// loom model of an owner's lane's sequence lock (`RUSTFLAGS="--cfg loom" cargo test
/// -p tripgate --release --lib`).
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::sync::Arc;
    use loom::thread;

    /// The writer turns its lane from epoch 1 (a sample in bin 1), moving that sample
    /// to the ring, to epoch 2 (a sample in bin 3), while a reader reads the ring and
    /// then the lane. Whatever the interleaving, the reader counts the first sample
    /// once at most, and keeps of the lane one epoch's counts or none. Without either
    /// fence or the second look at the lane's tag, the model finds a read that broke
    /// one or the other.
    #[test]
    fn a_reader_counts_a_sample_moving_from_a_lane_to_the_ring_once_at_most() {
        loom::model(|| {
            let ring = Arc::new(Bins::new(4));
            let lane = Arc::new(OwnerLane::new(4));
            lane.turn(1, None);
            lane.bins.add(1);
            let writer = {
                let (ring, lane) = (ring.clone(), lane.clone());
                thread::spawn(move || {
                    lane.turn(2, Some(&ring));
                    lane.bins.add(3);
                })
            };
            let (mut counts, mut from_lane, mut scratch) = (vec![0; 4], vec![0; 4], vec![0; 4]);
            ring.merge_into(&mut counts);
            lane.merge_into(|_| true, &mut from_lane, &mut scratch);
            writer.join().unwrap();
            assert!(
                from_lane[1] + from_lane[3] <= 1,
                "a mix of epochs: {from_lane:?}"
            );
            assert!(
                counts[1] + from_lane[1] <= 1,
                "counted twice: {counts:?} {from_lane:?}"
            );
            assert!(scratch.iter().all(|&s| s == 0));
        });
    }
}
