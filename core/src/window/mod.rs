//! The sliding window: a lock-free ring of epoch-tagged buckets with striped counters.
//!
//! # How it works
//!
//! Time (or, for a count-based window, the sequence number of a call) is cut into
//! *epochs* of one bucket's width. Epoch `e` lives in ring slot `e % buckets`. The window
//! at epoch `E` is the slots whose epoch lies in `(E - buckets, E]`.
//!
//! Each slot holds up to four counters (calls, weighted failures, slow calls, calls at
//! or over the percentile limit) for each of [`STRIPES`] stripes: the first three
//! threads to count each own one and add to it without a locked instruction, the
//! others share the last by RMW (`crate::sync::TotalsStripe::window`), so two threads
//! recording on one breaker touch different cache lines. Each counter carries the
//! epoch it counts for ([`counters`]), so readers sum the counters whose tag is inside
//! the window and ignore the rest, and an idle window empties by itself. Lifetime
//! totals are the folded-in values plus every counter.
//!
//! Which epoch a time or a call number falls in is the window's *geometry* (bucket
//! width, bucket count, epoch origin), read without a lock ([`geometry`]). Latencies,
//! when tracked, go to a ring of histograms that follows the same epochs ([`latency`]).
//!
//! A count window keeps no call counters: a call's sequence number (one `fetch_add`
//! on the cursor) is its place in the window, so the calls in the window follow from
//! the cursor, and a success costs that one RMW. Only failures (and slow calls, calls
//! over the limit) have counters there. A window built count-based has no room for
//! call counters at all, so it stays count-based for life (a time window can become a
//! count window, and back).
//!
//! A healthy record (no failure, slow call or call over the limit) that opens a new
//! epoch runs the trip rules only if the window may still hold an unhealthy record
//! (`last_unhealthy`): no rule can trip without one. In a count window with a bucket
//! per call, where every call opens an epoch, a healthy call never runs them on that
//! account: one call in and one out can raise no rate. A window built count-based
//! keeps the same hint in call numbers too (`healthy_from`: the first call from which
//! no unhealthy record is left in the window), so that its plain success is the
//! cursor's `fetch_add` and one compare, without reading the geometry, whenever the
//! window holds nothing unhealthy.

mod counters;
mod geometry;
mod latency;

use crate::fastdiv::FastDiv;
use crate::histogram::Layout;
use crate::sync::{AtomicU64, Ordering, TotalsStripe, STRIPES};

// `Window::stripes_used` keeps one bit per stripe.
const _: () = assert!(STRIPES < 64);
use counters::{CALLS, CHUNK, COUNTERS, COUNTERS_UNTIMED, OVER_LIMIT, SLOW, WEIGHTED_FAILURES};
use crossbeam_utils::CachePadded;
use geometry::{EpochMap, Geometry, GeometryCell};
use latency::{Histograms, MAX_HISTOGRAM_GROUPS};

/// Units of weighted failure per unit of weight.
pub(crate) const WEIGHT_SCALE: u64 = 100;

/// What one record adds to its bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Delta {
    pub(crate) weighted_failures: u64,
    pub(crate) slow: bool,
    pub(crate) over_limit: bool,
}

/// Which counters a reading of the window needs besides calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needed {
    pub(crate) failures: bool,
    pub(crate) slow: bool,
    pub(crate) over_limit: bool,
}

impl Needed {
    /// Every counter.
    pub(crate) const ALL: Needed = Needed {
        failures: true,
        slow: true,
        over_limit: true,
    };
}

/// Window totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub(crate) calls: u64,
    /// In hundredths of a failure.
    pub(crate) weighted_failures: u64,
    pub(crate) slow: u64,
    pub(crate) over_limit: u64,
}

impl Sums {
    pub(crate) fn failure_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.weighted_failures as f64 / WEIGHT_SCALE as f64 / self.calls as f64
        }
    }

    pub(crate) fn slow_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.slow as f64 / self.calls as f64
        }
    }
}

/// Shape of the window, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Time-based (width in ns) or count-based (width in calls).
    pub(crate) time: bool,
    /// Width of one bucket.
    pub(crate) width: u64,
    pub(crate) buckets: u32,
}

impl Shape {
    pub(crate) fn of(config: &crate::WindowConfig) -> Shape {
        let buckets = config.buckets();
        match *config {
            crate::WindowConfig::Count { size, .. } => Shape {
                time: false,
                width: (size / buckets.max(1)) as u64,
                buckets,
            },
            crate::WindowConfig::Time { duration, .. } => Shape {
                time: true,
                width: (duration.as_nanos() / buckets.max(1) as u128) as u64,
                buckets,
            },
        }
    }
}

/// The sliding window.
pub(crate) struct Window {
    capacity: u32,
    geometry: GeometryCell,
    /// Next call sequence number (count-based windows).
    cursor: CachePadded<AtomicU64>,
    chunks: Box<[CachePadded<[AtomicU64; CHUNK]>]>,
    /// Ring slots per stripe: a power of two, at least the capacity, so a slot is
    /// `epoch & slot_mask` and any `capacity` consecutive epochs have distinct slots.
    slot_mask: u64,
    slot_shift: u8,
    /// The counter kinds a slot keeps, `first..end`: from `CALLS`, or from
    /// `WEIGHTED_FAILURES` in a window built count-based (which numbers its calls
    /// instead); up to `COUNTERS`, or to `COUNTERS_UNTIMED` without latency tracking.
    first: u8,
    end: u8,
    /// Counters per slot: the kinds kept, rounded up to a power of two so that a slot
    /// never straddles a cache line.
    per_slot: usize,
    /// Stripes in use minus one (time windows stripe; count windows share a cursor
    /// anyway and use one stripe).
    stripe_mask: usize,
    /// Folded-in values of counters whose epoch left the window: calls, slow. Not on a
    /// line of its own: it is written only when a count opens an epoch in a stripe (at
    /// most once per bucket and stripe), as `stripes_used` beside it is.
    folded: [AtomicU64; 2],
    /// The newest epoch holding a failure, a slow call or a call over the latency
    /// limit, plus one (0: none yet). Written only by such records; read when a
    /// healthy record opens a new epoch, to skip the rules when none can hold.
    last_unhealthy: AtomicU64,
    /// A window built count-based: the first call number from which no failure, slow
    /// call or call over the limit is left in the window (0: none yet), the same hint
    /// as `last_unhealthy` in call numbers, so that a plain success can take it
    /// without reading the geometry. Only raised: a restart moves every older call out
    /// of the window, so an old value only errs on the safe side.
    healthy_from: AtomicU64,
    /// Bit `s` set: stripe `s` has held a count. Set when a count opens an epoch in a
    /// stripe (off the hot path: once per bucket and stripe at most), so that a sum
    /// reads only the stripes in use: one, on a breaker only one thread records on.
    stripes_used: AtomicU64,
    histograms: Option<Histograms>,
}

/// What one record did to the window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded {
    /// Whether it opened a new epoch that may have pushed old calls out of the window
    /// faster than it let new ones in, which can raise a rate.
    pub(crate) rotated: bool,
    /// Whether the window may hold a failure, a slow call or a call over the latency
    /// limit. Every trip rule needs one (a rate rule with no failure, no slow call and
    /// no call over the limit is at zero, under any threshold), so when this is false
    /// a healthy record need not run the rules, however the window moved.
    ///
    /// Conservative: it compares with the capacity, not the current bucket count.
    /// Under concurrency an unhealthy record racing with this one may not be seen;
    /// that record runs the rules itself once it has counted (though, the reads being
    /// relaxed, it may miss this one's count in turn: a trip can then wait for the
    /// next record, as it could before this check existed; loom model
    /// `a_racing_success_and_failure_lose_no_count_and_a_delayed_trip_comes_next`).
    pub(crate) may_trip: bool,
    /// At least as many calls as a sum of the window at the record's time would count
    /// (`u64::MAX`: not known). Known, from one counter, for a record of the general
    /// path in a time window whose span since its last restart is a single epoch and
    /// whose only stripe in use is the caller's: the state right after every trip and
    /// recovery, where the rate rules wait for `minimum_calls` and the rules need not
    /// read the window. Counts other threads add after this one are theirs to
    /// evaluate, as in [`Window::sums`].
    pub(crate) calls_at_most: u64,
}

impl Recorded {
    /// A record after which the window holds nothing a rule could trip on.
    const HEALTHY: Recorded = Recorded {
        rotated: false,
        may_trip: false,
        calls_at_most: u64::MAX,
    };

    /// `last_unhealthy` as read around the record, `epoch` where the record fell.
    #[inline]
    fn new(rotated: bool, last_unhealthy: u64, capacity: u32, epoch: u64) -> Recorded {
        Recorded {
            rotated,
            may_trip: last_unhealthy != 0 && last_unhealthy - 1 + capacity as u64 > epoch,
            calls_at_most: u64::MAX,
        }
    }
}

impl Window {
    /// A window of `shape`, with room for up to `shape.buckets` buckets for life.
    pub(crate) fn new(shape: Shape, latency: Option<Layout>, now: u64) -> Window {
        let capacity = shape.buckets.max(1);
        let first = if shape.time { CALLS } else { WEIGHTED_FAILURES };
        let kinds = if latency.is_some() {
            COUNTERS
        } else {
            COUNTERS_UNTIMED
        };
        let per_slot = (kinds - first).next_power_of_two();
        // At least CHUNK / per_slot slots, so each stripe fills whole cache lines.
        let slots = (capacity as u64)
            .max((CHUNK / per_slot) as u64)
            .next_power_of_two();
        let stripes = if shape.time { STRIPES } else { 1 };
        let chunks = (0..slots as usize * per_slot * stripes / CHUNK)
            .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        // A time window's histograms keep a lane for each stripe a thread can own, as
        // its counters keep stripes (see `latency`).
        let histograms = latency.map(|layout| Histograms::new(layout, capacity, shape.time));
        // Epochs start at 1: every counter starts as 0, whose tag (0) is then stale, so
        // a stripe's first count always opens its epoch (and marks the stripe in
        // `stripes_used`).
        let geo = Self::geo_for(shape, if shape.time { now } else { 0 }, 1);
        Window {
            capacity,
            geometry: GeometryCell::new(geo),
            cursor: CachePadded::new(AtomicU64::new(0)),
            chunks,
            first: first as u8,
            end: kinds as u8,
            per_slot,
            slot_mask: slots - 1,
            slot_shift: slots.trailing_zeros() as u8,
            stripe_mask: stripes - 1,
            folded: [AtomicU64::new(0), AtomicU64::new(0)],
            last_unhealthy: AtomicU64::new(0),
            healthy_from: AtomicU64::new(0),
            stripes_used: AtomicU64::new(0),
            histograms,
        }
    }

    fn geo_for(shape: Shape, origin: u64, base: u64) -> Geometry {
        Geometry {
            time: shape.time,
            width: FastDiv::new(shape.width.max(1)),
            buckets: shape.buckets.max(1) as u64,
            origin,
            base,
            group: FastDiv::new((shape.buckets as u64).div_ceil(MAX_HISTOGRAM_GROUPS)),
            hist_base: 0,
        }
    }

    /// Buckets this window was built with: the most it can ever hold.
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether latencies are kept.
    pub(crate) fn has_histograms(&self) -> bool {
        self.histograms.is_some()
    }

    /// Whether the window was built count-based. Such a window numbers its calls
    /// instead of counting them per bucket, so it is count-based for life (a time
    /// window needs call counters) and its records never need the clock.
    #[inline]
    pub(crate) fn built_count_based(&self) -> bool {
        self.first as usize != CALLS
    }

    /// Bytes of heap and inline storage.
    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.chunks)
            + self.histograms.as_ref().map_or(0, Histograms::memory)
    }

    /// The epoch a record falls in: at time `now()` in a time window; a count window
    /// takes the next call sequence number instead (and never calls `now`).
    ///
    /// The flag (count windows only: a time window learns it from its counter) says
    /// whether the record opened an epoch that shrinks the window: the first call of
    /// a bucket of several calls, which pushes out a whole bucket and so can raise a
    /// rate. With a bucket per call the window only slides, one call in and one out,
    /// and a healthy call can raise no rate: it never needs the rules on that account.
    #[inline]
    fn next_epoch(&self, geo: &EpochMap, now: impl FnOnce() -> u64) -> (u64, bool) {
        if geo.time {
            (geo.epoch_of(now()), false)
        } else {
            self.next_call(geo)
        }
    }

    /// A count window's next call: its epoch, and whether it opened one that shrinks
    /// the window (see `next_epoch`).
    #[inline(always)]
    fn next_call(&self, geo: &EpochMap) -> (u64, bool) {
        // ordering: Relaxed, the cursor only numbers calls.
        let seq = self.cursor.fetch_add(1, Ordering::Relaxed);
        Self::call_epoch(geo, seq)
    }

    /// The epoch of call `seq` of a count window, and whether that call opened it
    /// (see `next_epoch`).
    #[inline(always)]
    fn call_epoch(geo: &EpochMap, seq: u64) -> (u64, bool) {
        let (q, r) = geo.width.div_rem(seq.saturating_sub(geo.origin));
        (geo.base + q, r == 0 && geo.width.divisor() > 1)
    }

    /// Calls in a count window: every sequence number taken since the origin that
    /// falls in the window's epochs (all of the older ones, the current one so far).
    fn count_window_calls(&self, geo: &EpochMap, buckets: u64) -> u64 {
        let taken = self
            .cursor
            .load(Ordering::Relaxed)
            .saturating_sub(geo.origin);
        if taken == 0 {
            return 0;
        }
        let width = geo.width.divisor();
        let in_current = geo.width.div_rem(taken - 1).1 + 1;
        taken.min(in_current + (buckets - 1) * width)
    }

    /// The epoch readers treat as current.
    fn current_epoch(&self, geo: &EpochMap, now: u64) -> u64 {
        if geo.time {
            geo.epoch_of(now)
        } else {
            let c = self.cursor.load(Ordering::Relaxed);
            geo.epoch_of(c.saturating_sub(1).max(geo.origin))
        }
    }

    /// Counts a call in the lifetime totals only, not in the window: a late outcome
    /// (of a call admitted before the window's last restart), which must not weigh on
    /// the rules of the generation that restarted it. `slow`: the call was slow.
    #[cold]
    pub(crate) fn count_outside(&self, slow: bool) -> Recorded {
        // ordering: Relaxed, as every lifetime counter (see `Window::lifetime`).
        self.folded[0].fetch_add(1, Ordering::Relaxed);
        if slow && self.keeps(SLOW) {
            self.folded[1].fetch_add(1, Ordering::Relaxed);
        }
        Recorded::HEALTHY
    }

    /// Records one plain success (no latency) at `now`, by the thread whose
    /// lifetime-counter stripe is `thread` (its window stripe follows:
    /// [`TotalsStripe::window`]): the common case, one add. A count window numbers the
    /// call instead, and ignores `now`; a window
    /// [built count-based](Window::built_count_based) has
    /// [`record_count_success`](Window::record_count_success), which needs no clock.
    #[inline(always)]
    pub(crate) fn record_success(&self, now: u64, thread: TotalsStripe) -> Recorded {
        let geo = self.geometry.load_epoch_map();
        let (epoch, opened) = self.next_epoch(&geo, || now);
        // A count window's calls are its sequence numbers: nothing more to count.
        let rotated = opened || geo.time && self.add_call(epoch, self.my_stripe(thread));
        Recorded::new(rotated, self.last_unhealthy(), self.capacity, epoch)
    }

    /// Records one success at `now` that took `latency` ns and is neither slow nor over
    /// the percentile limit: [`record_success`](Window::record_success) plus the
    /// latency's bin, if latencies are kept. What [`record`](Window::record) does with
    /// nothing unhealthy to add, without its checks on what to add: calling `record`
    /// here costs 83 more instructions a call (it is not inlined whole).
    #[inline(always)]
    pub(crate) fn record_timed_success(
        &self,
        now: u64,
        latency: u64,
        thread: TotalsStripe,
    ) -> Recorded {
        let Some(h) = &self.histograms else {
            return self.record_success(now, thread);
        };
        // One consistent reading of the whole geometry: the histogram's epoch must
        // come from the same one as the counters'.
        let geo = self.geometry.load();
        let (epoch, opened) = self.next_epoch(&geo.epoch_map(), || now);
        let stripe = self.my_stripe(thread);
        let rotated = opened || geo.time && self.add_call(epoch, stripe);
        self.record_latency(h, &geo, epoch, latency, stripe);
        Recorded::new(rotated, self.last_unhealthy(), self.capacity, epoch)
    }

    /// [`record_success`](Window::record_success) on a window
    /// [built count-based](Window::built_count_based): one RMW, no clock, and no
    /// geometry read while the window holds nothing unhealthy.
    #[inline(always)]
    pub(crate) fn record_count_success(&self) -> Recorded {
        // ordering: Relaxed, a hint (see `Recorded::may_trip` for the race it allows).
        let healthy_from = self.healthy_from.load(Ordering::Relaxed);
        // ordering: Relaxed, the cursor only numbers calls.
        let seq = self.cursor.fetch_add(1, Ordering::Relaxed);
        if seq >= healthy_from {
            // Nothing unhealthy left in the window: no rule can trip, and the geometry
            // (a versioned read of several words, the dearest part of this path) need
            // not be read.
            return Recorded::HEALTHY;
        }
        let geo = self.geometry.load_epoch_map();
        debug_assert!(!geo.time);
        let (epoch, opened) = Self::call_epoch(&geo, seq);
        Recorded::new(opened, self.last_unhealthy(), self.capacity, epoch)
    }

    /// Records one call (success or failure) at `now`, with its latency bin if
    /// latencies are kept, by the thread whose lifetime-counter stripe is `thread`.
    #[inline(always)]
    pub(crate) fn record(
        &self,
        now: u64,
        delta: Delta,
        latency: Option<u64>,
        thread: TotalsStripe,
    ) -> Recorded {
        let unhealthy = self.last_unhealthy();
        let stripe = self.my_stripe(thread);
        let (map, epoch, rotated) = match (&self.histograms, latency) {
            (Some(h), Some(ns)) => {
                // One consistent reading of the whole geometry: the histogram's epoch
                // must come from the same one as the counters'.
                let geo = self.geometry.load();
                let map = geo.epoch_map();
                let (epoch, opened) = self.next_epoch(&map, || now);
                let rotated = self.add_counts(&map, epoch, delta, stripe) || opened;
                self.record_latency(h, &geo, epoch, ns, stripe);
                (map, epoch, rotated)
            }
            _ => {
                let map = self.geometry.load_epoch_map();
                let (epoch, opened) = self.next_epoch(&map, || now);
                let rotated = self.add_counts(&map, epoch, delta, stripe);
                (map, epoch, rotated || opened)
            }
        };
        let mut recorded = Recorded::new(rotated, unhealthy, self.capacity, epoch);
        if map.time && epoch == map.base {
            recorded.calls_at_most = self.calls_in_only_epoch(epoch, stripe.index);
        }
        recorded
    }

    /// The calls of `epoch` in the caller's `stripe`, once the caller has counted one
    /// there, if no other stripe is in use; else `u64::MAX`. For a time window whose
    /// epochs since its last restart are just `epoch`, that is every call a sum would
    /// count now (see `Recorded::calls_at_most`).
    #[inline]
    fn calls_in_only_epoch(&self, epoch: u64, stripe: usize) -> u64 {
        // ordering: Relaxed, as the counters' (see `Window::sums`): a stripe marked,
        // or a count added, after these loads belongs to a record that evaluates the
        // rules itself once counted.
        if self.stripes_used.load(Ordering::Relaxed) & !(1u64 << stripe) != 0 {
            return u64::MAX;
        }
        let word = self.calls_counter(stripe, epoch).load(Ordering::Relaxed);
        counters::value_in(word, epoch).unwrap_or(u64::MAX)
    }

    /// The newest unhealthy epoch, plus one (0: none yet).
    #[inline]
    fn last_unhealthy(&self) -> u64 {
        // ordering: Relaxed, a hint (see `Recorded::may_trip` for the race it allows).
        self.last_unhealthy.load(Ordering::Relaxed)
    }

    /// Totals over the window at `now`: for each of the window's epochs, the counters
    /// of its ring slot that carry exactly that epoch's tag. `needed` says which
    /// counters to read beyond calls (failures, slow, over the limit).
    #[inline]
    pub(crate) fn sums(&self, now: u64, needed: Needed) -> Sums {
        let geo = self.geometry.load_span();
        let current = self.current_epoch(&geo.map, now);
        // No epoch before the geometry's base holds a count of it: right after a
        // restart (every trip) the window is one epoch wide, not `buckets`, and a sum
        // reads only that (BENCHMARKS.md, "Where the time goes": "every evaluation
        // after a trip read the whole emptied window").
        let first = current.saturating_sub(geo.buckets - 1).max(geo.map.base);
        // Where each needed kind sits in a slot (None: not read). A window built
        // count-based keeps no call counter; one without latency tracking keeps no slow
        // or over-limit counter.
        let first_kind = self.first as usize;
        let at =
            |kind: usize, wanted: bool| (wanted && self.keeps(kind)).then(|| kind - first_kind);
        let calls = at(CALLS, geo.map.time);
        let failures = at(WEIGHTED_FAILURES, needed.failures);
        let slow = at(SLOW, needed.slow);
        let over_limit = at(OVER_LIMIT, needed.over_limit);
        // Counter `i` (a flat index into the chunks) if it counts `epoch`, else 0.
        let read = |i: usize, epoch: u64| {
            // ordering: Relaxed, each word carries its epoch; a sum is a snapshot that
            // may miss a racing record (see `Recorded::may_trip`).
            let w = self.chunks[i / CHUNK][i % CHUNK].load(Ordering::Relaxed);
            counters::value_in(w, epoch).unwrap_or(0)
        };
        // Only stripes that have held a count: a stripe marked after this load is read
        // as empty, as if read before its first record (a racing record, which runs the
        // rules itself once counted).
        // ordering: Relaxed, as the counters' (see `Recorded::may_trip`).
        let used = self.stripes_used.load(Ordering::Relaxed);
        let stripe_stride = self.per_slot << self.slot_shift;
        let mut s = Sums::default();
        let mut epoch = first;
        while epoch <= current {
            let slot0 = self.slot_index(0, epoch) * self.per_slot;
            let mut stripes = used;
            while stripes != 0 {
                let i = slot0 + stripe_stride * stripes.trailing_zeros() as usize;
                stripes &= stripes - 1;
                if let Some(k) = calls {
                    s.calls += read(i + k, epoch);
                }
                if let Some(k) = failures {
                    s.weighted_failures += read(i + k, epoch);
                }
                if let Some(k) = slow {
                    s.slow += read(i + k, epoch);
                }
                if let Some(k) = over_limit {
                    s.over_limit += read(i + k, epoch);
                }
            }
            epoch += 1;
        }
        if !geo.map.time {
            s.calls = self.count_window_calls(&geo.map, geo.buckets);
        }
        s
    }

    /// Empties the window and gives it `shape` (same or fewer buckets than it was
    /// built with; time-based only if built so). Counts already recorded stay in the
    /// lifetime totals.
    pub(crate) fn restart(&self, shape: Shape, now: u64) {
        debug_assert!(shape.buckets <= self.capacity);
        debug_assert!(!shape.time || !self.built_count_based());
        self.geometry.update(|old| {
            // Move the epoch origin past every tag in use: the largest epoch any thread
            // can have written is the current one, plus one for a clock read a moment
            // later. Histogram epochs move past theirs the same way.
            let current = self.current_epoch(&old.epoch_map(), now);
            let mut next = Self::geo_for(shape, 0, 0);
            next.base = current + self.capacity as u64 + 2;
            next.hist_base = old.hist_epoch(current) + old.hist_span() + 2;
            next.origin = if shape.time {
                now
            } else {
                self.cursor.load(Ordering::Relaxed)
            };
            next
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
