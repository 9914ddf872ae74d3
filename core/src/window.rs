//! The sliding window: a lock-free ring of epoch-tagged buckets with striped counters.
//!
//! # How it works
//!
//! Time (or, for a count-based window, the sequence number of a call) is cut into
//! *epochs* of one bucket's width. Epoch `e` lives in ring slot `e % buckets`. The window
//! at epoch `E` is the slots whose epoch lies in `(E - buckets, E]`.
//!
//! Each slot holds four counters (calls, weighted failures, slow calls, calls at or over
//! the percentile limit) for each of [`STRIPES`] stripes; a thread always writes its own
//! stripe, so two threads recording on one breaker touch different cache lines. A
//! counter is one `AtomicU64` holding both the epoch it counts for (a 28-bit tag) and
//! its value (36 bits):
//!
//! - current tag: `fetch_add` the value (one RMW, the common case);
//! - older tag: the slot is being reused for a new epoch, so compare-and-swap the whole
//!   word to `(new tag, delta)`. The one thread whose swap wins *folds* the old value
//!   into a lifetime accumulator; a loser retries and then adds. No lock, and no count
//!   is lost: each lands in exactly one epoch, or in the accumulator once its epoch has
//!   left the window;
//! - newer tag (this thread read the clock a moment before another): add to it.
//!
//! Readers sum the counters whose tag is inside the window and ignore the rest, so an
//! idle window empties by itself. Lifetime totals are `accumulator + every counter`.
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
//!
//! Tags wrap after 2^28 epochs; a slot left untouched for exactly a multiple of that
//! (74 hours at the smallest allowed bucket width of 1 ms, 8.5 years at 1 s) would be
//! read as current until its next write. Values wrap into the tag after 2^36 (68
//! billion) calls per bucket per stripe; weighted failures count in hundredths.
//!
//! # Geometry
//!
//! Bucket width, bucket count and the epoch origin change only on reconfiguration and
//! when the window restarts. They live in two slots; a writer (serialised by a mutex,
//! cold path) fills the slot readers are not using and then flips a version counter.
//! A reader that saw the version change while it read retries, so readers never block.
//! Restarting the window moves the epoch origin past every tag in use, which empties
//! the window without touching a counter.
//!
//! # Latency
//!
//! With latency tracking, a ring of histograms follows the same epochs, one histogram
//! per group of `ceil(buckets / 16)` buckets (so at most 17 histograms). A histogram
//! whose tag is stale is cleared by the thread that claims it; samples racing with that
//! clear may be dropped from the percentiles (never from the counts).

use crate::fastdiv::FastDiv;
use crate::histogram::{self, Bins, LatencySummary, Layout};
use crate::sync::{fence, stripe_index, AtomicU64, Ordering, STRIPES};
use crossbeam_utils::CachePadded;

const TAG_BITS: u32 = 28;
const VALUE_BITS: u32 = 64 - TAG_BITS;
const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// How far ahead (in epochs) a tag may be and still count as newer than the writer's
/// epoch rather than stale: clock reads of racing threads differ by far less.
const NEWER_BY: u64 = 1 << 12;

/// Counters per slot and stripe.
const CALLS: usize = 0;
const WEIGHTED_FAILURES: usize = 1;
const SLOW: usize = 2;
const OVER_LIMIT: usize = 3;
/// Counter kinds with latency tracking; without it only calls and weighted failures
/// exist (slow and over-limit need a latency).
const COUNTERS: usize = 4;
const COUNTERS_UNTIMED: usize = 2;
const CHUNK: usize = 16;

/// Most histograms in a window's ring (plus one when buckets are grouped).
const MAX_HISTOGRAM_GROUPS: u64 = 16;

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

/// One consistent reading of the geometry.
#[derive(Debug, Clone, Copy)]
struct Geo {
    time: bool,
    width: FastDiv,
    buckets: u64,
    origin: u64,
    base: u64,
    group: FastDiv,
    /// Histogram epoch of epoch `base`: histogram epochs are
    /// `hist_base + (epoch - base) / group`.
    hist_base: u64,
}

/// What the record path needs of the geometry.
#[derive(Debug, Clone, Copy)]
struct RecordGeo {
    time: bool,
    width: FastDiv,
    origin: u64,
    base: u64,
}

impl RecordGeo {
    #[inline]
    fn epoch_of(&self, x: u64) -> u64 {
        self.base + self.width.div(x.saturating_sub(self.origin))
    }

    /// A count window's first call number whose epoch is at least `capacity` past
    /// `epoch`: from that call on, `epoch` has left the window whatever its bucket
    /// count (at most `capacity`).
    #[inline]
    fn first_call_without(&self, epoch: u64, capacity: u32) -> u64 {
        let epochs = epoch
            .saturating_sub(self.base)
            .saturating_add(capacity as u64);
        self.origin
            .saturating_add(epochs.saturating_mul(self.width.divisor()))
    }
}

impl Geo {
    /// The part of the geometry the record path needs.
    fn record_part(&self) -> RecordGeo {
        RecordGeo {
            time: self.time,
            width: self.width,
            origin: self.origin,
            base: self.base,
        }
    }

    /// The histogram epoch of `epoch`.
    fn hist_epoch(&self, epoch: u64) -> u64 {
        self.hist_base + self.group.div(epoch.saturating_sub(self.base))
    }

    fn hist_span(&self) -> u64 {
        // Histogram epochs that cover the window's `buckets` epochs.
        let g = self.group.divisor();
        self.buckets.div_ceil(g) + u64::from(g > 1)
    }
}

/// Geometry slot: every field of `Geo`, as atomics.
#[derive(Default)]
struct GeoSlot {
    time: AtomicU64,
    width: [AtomicU64; 2],
    buckets: AtomicU64,
    origin: AtomicU64,
    base: AtomicU64,
    group: [AtomicU64; 2],
    hist_base: AtomicU64,
}

impl GeoSlot {
    fn store(&self, g: &Geo) {
        let put = |a: &[AtomicU64; 2], f: FastDiv| {
            let (d, m) = f.parts();
            a[0].store(d, Ordering::Relaxed);
            a[1].store(m, Ordering::Relaxed);
        };
        self.time.store(g.time as u64, Ordering::Relaxed);
        put(&self.width, g.width);
        self.buckets.store(g.buckets, Ordering::Relaxed);
        put(&self.group, g.group);
        self.hist_base.store(g.hist_base, Ordering::Relaxed);
        self.origin.store(g.origin, Ordering::Relaxed);
        self.base.store(g.base, Ordering::Relaxed);
    }

    fn load(&self) -> Geo {
        let r = self.load_record();
        Geo {
            time: r.time,
            width: r.width,
            buckets: self.buckets.load(Ordering::Relaxed),
            origin: r.origin,
            base: r.base,
            group: FastDiv::from_parts(
                self.group[0].load(Ordering::Relaxed),
                self.group[1].load(Ordering::Relaxed),
            ),
            hist_base: self.hist_base.load(Ordering::Relaxed),
        }
    }

    #[inline]
    fn load_record(&self) -> RecordGeo {
        RecordGeo {
            time: self.time.load(Ordering::Relaxed) != 0,
            width: FastDiv::from_parts(
                self.width[0].load(Ordering::Relaxed),
                self.width[1].load(Ordering::Relaxed),
            ),
            origin: self.origin.load(Ordering::Relaxed),
            base: self.base.load(Ordering::Relaxed),
        }
    }
}

/// Two geometry slots and the version that says which is current.
struct Geometry {
    version: AtomicU64,
    slots: [GeoSlot; 2],
    writer: parking_lot::Mutex<()>,
}

impl Geometry {
    fn new(g: Geo) -> Geometry {
        let geo = Geometry {
            version: AtomicU64::new(0),
            slots: Default::default(),
            writer: parking_lot::Mutex::new(()),
        };
        geo.slots[0].store(&g);
        geo
    }

    fn load(&self) -> Geo {
        self.read(GeoSlot::load)
    }

    #[inline]
    fn load_record(&self) -> RecordGeo {
        self.read(GeoSlot::load_record)
    }

    #[inline]
    fn read<T>(&self, f: impl Fn(&GeoSlot) -> T) -> T {
        loop {
            // ordering: Acquire pairs with the Release store in `update`, so the slot
            // it names is fully written.
            let v = self.version.load(Ordering::Acquire);
            let g = f(&self.slots[(v & 1) as usize]);
            // ordering: the fence keeps the slot reads before the re-check; if a writer
            // overwrote the slot we read (we held a stale version), its fence(Release)
            // before writing makes the new version visible here.
            fence(Ordering::Acquire);
            if self.version.load(Ordering::Relaxed) == v {
                return g;
            }
        }
    }

    /// Replaces the geometry with `f(current)`. Cold path.
    fn update(&self, f: impl FnOnce(Geo) -> Geo) {
        let _w = self.writer.lock();
        let v = self.version.load(Ordering::Relaxed);
        let next = f(self.slots[(v & 1) as usize].load());
        // ordering: Release fence before writing the spare slot: a reader that sees any
        // of these stores also sees every earlier version bump, so its re-check fails.
        fence(Ordering::Release);
        self.slots[((v + 1) & 1) as usize].store(&next);
        self.version.store(v + 1, Ordering::Release);
    }
}

/// A histogram and the histogram epoch it holds.
struct HistSlot {
    tag: AtomicU64,
    bins: Bins,
}

/// Tag of a histogram being cleared.
const CLEARING: u64 = u64::MAX;
/// Tag of a histogram never used.
const UNUSED: u64 = u64::MAX - 1;

struct Histograms {
    layout: Layout,
    slots: Box<[HistSlot]>,
    count: FastDiv,
}

/// The sliding window.
pub(crate) struct Window {
    capacity: u32,
    geometry: Geometry,
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
    /// Folded-in values of counters whose epoch left the window: calls, slow.
    folded: CachePadded<[AtomicU64; 2]>,
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
}

impl Recorded {
    /// A record after which the window holds nothing a rule could trip on.
    const HEALTHY: Recorded = Recorded {
        rotated: false,
        may_trip: false,
    };

    /// `last_unhealthy` as read around the record, `epoch` where the record fell.
    #[inline]
    fn new(rotated: bool, last_unhealthy: u64, capacity: u32, epoch: u64) -> Recorded {
        Recorded {
            rotated,
            may_trip: last_unhealthy != 0 && last_unhealthy - 1 + capacity as u64 > epoch,
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
        let hist_count = Self::hist_slots(capacity);
        let histograms = latency.map(|layout| Histograms {
            layout,
            slots: (0..hist_count)
                .map(|_| HistSlot {
                    tag: AtomicU64::new(UNUSED),
                    bins: Bins::new(layout),
                })
                .collect(),
            count: FastDiv::new(hist_count),
        });
        let geo = Self::geo_for(shape, if shape.time { now } else { 0 }, 0);
        Window {
            capacity,
            geometry: Geometry::new(geo),
            cursor: CachePadded::new(AtomicU64::new(0)),
            chunks,
            first: first as u8,
            end: kinds as u8,
            per_slot,
            slot_mask: slots - 1,
            slot_shift: slots.trailing_zeros() as u8,
            stripe_mask: stripes - 1,
            folded: CachePadded::new([AtomicU64::new(0), AtomicU64::new(0)]),
            last_unhealthy: AtomicU64::new(0),
            healthy_from: AtomicU64::new(0),
            histograms,
        }
    }

    fn hist_slots(buckets: u32) -> u64 {
        let g = (buckets as u64).div_ceil(MAX_HISTOGRAM_GROUPS);
        (buckets as u64).div_ceil(g) + u64::from(g > 1)
    }

    fn geo_for(shape: Shape, origin: u64, base: u64) -> Geo {
        Geo {
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

    /// Whether ring slots keep counter kind `which`.
    #[inline]
    fn keeps(&self, which: usize) -> bool {
        (self.first as usize..self.end as usize).contains(&which)
    }

    /// Bytes of heap and inline storage.
    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.chunks)
            + self.histograms.as_ref().map_or(0, |h| {
                std::mem::size_of_val(&*h.slots)
                    + h.slots.iter().map(|s| s.bins.memory()).sum::<usize>()
            })
    }

    /// Counter `which` (a kind the slots keep) of ring slot `epoch & slot_mask` in
    /// `stripe`.
    #[inline]
    fn counter(&self, stripe: usize, epoch: u64, which: usize) -> &AtomicU64 {
        debug_assert!(self.keeps(which));
        let i = (self.slot_index(stripe, epoch) * self.per_slot) + which - self.first as usize;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    /// The call counter of ring slot `epoch & slot_mask` in `stripe`: kept only by a
    /// window built time-based, where it comes first in the slot.
    #[inline]
    fn calls_counter(&self, stripe: usize, epoch: u64) -> &AtomicU64 {
        debug_assert!(self.keeps(CALLS) && CALLS == 0);
        let i = self.slot_index(stripe, epoch) * self.per_slot;
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    /// The counters of ring slot `epoch & slot_mask` in `stripe`, kind `first` first.
    #[inline]
    fn slot(&self, stripe: usize, epoch: u64) -> &[AtomicU64] {
        let i = self.slot_index(stripe, epoch) * self.per_slot;
        &self.chunks[i / CHUNK][i % CHUNK..][..self.per_slot]
    }

    #[inline]
    fn slot_index(&self, stripe: usize, epoch: u64) -> usize {
        (stripe << self.slot_shift) + (epoch & self.slot_mask) as usize
    }

    #[inline]
    fn my_stripe(&self) -> usize {
        stripe_index() & self.stripe_mask
    }

    fn stripes(&self) -> usize {
        self.stripe_mask + 1
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
    fn next_epoch(&self, geo: &RecordGeo, now: impl FnOnce() -> u64) -> (u64, bool) {
        if geo.time {
            (geo.epoch_of(now()), false)
        } else {
            self.next_call(geo)
        }
    }

    /// A count window's next call: its epoch, and whether it opened one that shrinks
    /// the window (see `next_epoch`).
    #[inline(always)]
    fn next_call(&self, geo: &RecordGeo) -> (u64, bool) {
        // ordering: Relaxed, the cursor only numbers calls.
        let seq = self.cursor.fetch_add(1, Ordering::Relaxed);
        Self::call_epoch(geo, seq)
    }

    /// The epoch of call `seq` of a count window, and whether that call opened it
    /// (see `next_epoch`).
    #[inline(always)]
    fn call_epoch(geo: &RecordGeo, seq: u64) -> (u64, bool) {
        let (q, r) = geo.width.div_rem(seq.saturating_sub(geo.origin));
        (geo.base + q, r == 0 && geo.width.divisor() > 1)
    }

    /// Calls in a count window: every sequence number taken since the origin that
    /// falls in the window's epochs (all of the older ones, the current one so far).
    fn count_window_calls(&self, geo: &Geo) -> u64 {
        let taken = self
            .cursor
            .load(Ordering::Relaxed)
            .saturating_sub(geo.origin);
        if taken == 0 {
            return 0;
        }
        let width = geo.width.divisor();
        let in_current = geo.width.div_rem(taken - 1).1 + 1;
        taken.min(in_current + (geo.buckets - 1) * width)
    }

    /// The epoch readers treat as current.
    fn current_epoch(&self, geo: &Geo, now: u64) -> u64 {
        let r = geo.record_part();
        if geo.time {
            r.epoch_of(now)
        } else {
            let c = self.cursor.load(Ordering::Relaxed);
            r.epoch_of(c.saturating_sub(1).max(geo.origin))
        }
    }

    /// Records one plain success (no latency) at `now`: the common case, one RMW. A
    /// count window numbers the call instead, and ignores `now`; a window
    /// [built count-based](Window::built_count_based) has
    /// [`record_count_success`](Window::record_count_success), which needs no clock.
    #[inline(always)]
    pub(crate) fn record_success(&self, now: u64) -> Recorded {
        let geo = self.geometry.load_record();
        let (epoch, opened) = self.next_epoch(&geo, || now);
        // A count window's calls are its sequence numbers: nothing more to count.
        let rotated = opened || geo.time && self.add_call(epoch, self.my_stripe());
        Recorded::new(rotated, self.last_unhealthy(), self.capacity, epoch)
    }

    /// Records one success at `now` that took `latency` ns and is neither slow nor over
    /// the percentile limit: [`record_success`](Window::record_success) plus the
    /// latency's bin, if latencies are kept. What [`record`](Window::record) does with
    /// nothing unhealthy to add, without its checks on what to add: calling `record`
    /// here costs 83 more instructions a call (it is not inlined whole).
    #[inline(always)]
    pub(crate) fn record_timed_success(&self, now: u64, latency: u64) -> Recorded {
        let Some(h) = &self.histograms else {
            return self.record_success(now);
        };
        // One consistent reading of the whole geometry: the histogram's epoch must
        // come from the same one as the counters'.
        let geo = self.geometry.load();
        let (epoch, opened) = self.next_epoch(&geo.record_part(), || now);
        let rotated = opened || geo.time && self.add_call(epoch, self.my_stripe());
        self.record_latency(h, &geo, epoch, latency);
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
        let geo = self.geometry.load_record();
        debug_assert!(!geo.time);
        let (epoch, opened) = Self::call_epoch(&geo, seq);
        Recorded::new(opened, self.last_unhealthy(), self.capacity, epoch)
    }

    /// Records one call (success or failure) at `now`, with its latency bin if
    /// latencies are kept.
    #[inline]
    pub(crate) fn record(&self, now: u64, delta: Delta, latency: Option<u64>) -> Recorded {
        let unhealthy = self.last_unhealthy();
        let (epoch, rotated) = match (&self.histograms, latency) {
            (Some(h), Some(ns)) => {
                // One consistent reading of the whole geometry: the histogram's epoch
                // must come from the same one as the counters'.
                let geo = self.geometry.load();
                let (epoch, opened) = self.next_epoch(&geo.record_part(), || now);
                let rotated = self.add_counts(&geo.record_part(), epoch, delta) || opened;
                self.record_latency(h, &geo, epoch, ns);
                (epoch, rotated)
            }
            _ => {
                let geo = self.geometry.load_record();
                let (epoch, opened) = self.next_epoch(&geo, || now);
                (epoch, self.add_counts(&geo, epoch, delta) || opened)
            }
        };
        Recorded::new(rotated, unhealthy, self.capacity, epoch)
    }

    /// The newest unhealthy epoch, plus one (0: none yet).
    #[inline]
    fn last_unhealthy(&self) -> u64 {
        // ordering: Relaxed, a hint (see `Recorded::may_trip` for the race it allows).
        self.last_unhealthy.load(Ordering::Relaxed)
    }

    /// Adds `delta`, and in a time window the call itself, to epoch `epoch` (of
    /// geometry `geo`) in the caller's stripe; returns whether that opened the epoch
    /// there.
    #[inline]
    fn add_counts(&self, geo: &RecordGeo, epoch: u64, delta: Delta) -> bool {
        let time = geo.time;
        if delta.weighted_failures > 0 || delta.slow || delta.over_limit {
            // ordering: Relaxed, hints (see `Recorded::may_trip`). Load first: within
            // one epoch only the first unhealthy record writes, so the line stays
            // shared.
            let mark = epoch.saturating_add(1);
            if self.last_unhealthy.load(Ordering::Relaxed) < mark {
                self.last_unhealthy.fetch_max(mark, Ordering::Relaxed);
            }
            if !time {
                let leaves = geo.first_call_without(epoch, self.capacity);
                if self.healthy_from.load(Ordering::Relaxed) < leaves {
                    self.healthy_from.fetch_max(leaves, Ordering::Relaxed);
                }
            }
        }
        let tag = epoch & TAG_MASK;
        let stripe = self.my_stripe();
        let rotated = time && self.add_call(epoch, stripe);
        if delta.weighted_failures > 0 {
            self.add(
                self.counter(stripe, epoch, WEIGHTED_FAILURES),
                tag,
                delta.weighted_failures,
                None,
            );
        }
        if delta.slow && self.keeps(SLOW) {
            self.add(self.counter(stripe, epoch, SLOW), tag, 1, Some(SLOW));
        }
        if delta.over_limit && self.keeps(OVER_LIMIT) {
            self.add(self.counter(stripe, epoch, OVER_LIMIT), tag, 1, None);
        }
        rotated
    }

    /// Counts one call in epoch `epoch` of a time window, in `stripe`; returns whether
    /// that opened the epoch there.
    #[inline(always)]
    fn add_call(&self, epoch: u64, stripe: usize) -> bool {
        self.add(
            self.calls_counter(stripe, epoch),
            epoch & TAG_MASK,
            1,
            Some(CALLS),
        )
    }

    /// Adds `delta` to `counter` for epoch `tag`; returns whether it rotated the counter.
    #[inline]
    fn add(&self, counter: &AtomicU64, tag: u64, delta: u64, fold: Option<usize>) -> bool {
        // ordering: Relaxed throughout. A counter publishes nothing but its own value,
        // and each word carries its epoch with it, so no other memory needs ordering.
        let mut word = counter.load(Ordering::Relaxed);
        loop {
            let have = word >> VALUE_BITS;
            let ahead = have.wrapping_sub(tag) & TAG_MASK;
            if ahead < NEWER_BY {
                // Current epoch (0), or a slightly newer one that a thread whose clock
                // read came a moment later already opened. Anything else is stale,
                // however far the wrapped tags say it is.
                counter.fetch_add(delta, Ordering::Relaxed);
                return false;
            }
            match counter.compare_exchange_weak(
                word,
                (tag << VALUE_BITS) | delta,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if let Some(f) = fold {
                        let old = word & VALUE_MASK;
                        if old > 0 {
                            self.folded[if f == CALLS { 0 } else { 1 }]
                                .fetch_add(old, Ordering::Relaxed);
                        }
                    }
                    return true;
                }
                Err(actual) => word = actual,
            }
        }
    }

    #[inline(always)]
    fn record_latency(&self, h: &Histograms, geo: &Geo, epoch: u64, ns: u64) {
        let he = geo.hist_epoch(epoch);
        let slot = &h.slots[h.count.div_rem(he).1 as usize];
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
        slot.bins.add(h.layout.index(ns));
    }

    /// Totals over the window at `now`: for each of the window's epochs, the counters
    /// of its ring slot that carry exactly that epoch's tag. `needed` says which
    /// counters to read beyond calls (failures, slow, over the limit).
    pub(crate) fn sums(&self, now: u64, needed: Needed) -> Sums {
        let geo = self.geometry.load();
        let current = self.current_epoch(&geo, now);
        let first = current.saturating_sub(geo.buckets - 1);
        let (slow, over_limit) = (
            needed.slow && self.keeps(SLOW),
            needed.over_limit && self.keeps(OVER_LIMIT),
        );
        let first_kind = self.first as usize;
        let mut s = Sums::default();
        for stripe in 0..self.stripes() {
            for epoch in first..=current {
                let tag = epoch & TAG_MASK;
                let slot = self.slot(stripe, epoch);
                let read = |which: usize| {
                    let w = slot[which - first_kind].load(Ordering::Relaxed);
                    if w >> VALUE_BITS == tag {
                        w & VALUE_MASK
                    } else {
                        0
                    }
                };
                if geo.time {
                    s.calls += read(CALLS);
                }
                if needed.failures {
                    s.weighted_failures += read(WEIGHTED_FAILURES);
                }
                if slow {
                    s.slow += read(SLOW);
                }
                if over_limit {
                    s.over_limit += read(OVER_LIMIT);
                }
            }
        }
        if !geo.time {
            s.calls = self.count_window_calls(&geo);
        }
        s
    }

    /// Lifetime calls and slow calls: folded values plus every counter, plus the
    /// calls numbered while the window was count-based.
    pub(crate) fn lifetime(&self) -> (u64, u64) {
        let mut calls =
            self.folded[0].load(Ordering::Relaxed) + self.cursor.load(Ordering::Relaxed);
        let mut slow = self.folded[1].load(Ordering::Relaxed);
        let (keeps_calls, keeps_slow) = (self.keeps(CALLS), self.keeps(SLOW));
        for stripe in 0..self.stripes() {
            for slot in 0..=self.slot_mask {
                if keeps_calls {
                    calls += self.calls_counter(stripe, slot).load(Ordering::Relaxed) & VALUE_MASK;
                }
                if keeps_slow {
                    slow += self.counter(stripe, slot, SLOW).load(Ordering::Relaxed) & VALUE_MASK;
                }
            }
        }
        (calls, slow)
    }

    /// Latency figures over the window at `now`, if latencies are kept.
    pub(crate) fn latency(&self, now: u64) -> Option<LatencySummary> {
        let h = self.histograms.as_ref()?;
        let geo = self.geometry.load();
        let current = geo.hist_epoch(self.current_epoch(&geo, now));
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
            let current = self.current_epoch(&old, now);
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
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn time_window(buckets: u32, latency: bool) -> Window {
        let shape = Shape {
            time: true,
            width: 10 * SEC / buckets as u64,
            buckets,
        };
        Window::new(shape, latency.then(|| Layout::new(5)), 0)
    }

    fn fail() -> Delta {
        Delta {
            weighted_failures: WEIGHT_SCALE,
            ..Delta::default()
        }
    }

    #[test]
    fn time_window_counts_and_forgets() {
        let w = time_window(10, false);
        for i in 0..10 {
            w.record(
                i * SEC,
                if i % 2 == 0 { fail() } else { Delta::default() },
                None,
            );
        }
        let s = w.sums(9 * SEC, Needed::ALL);
        assert_eq!((s.calls, s.weighted_failures), (10, 5 * WEIGHT_SCALE));
        assert_eq!(s.failure_rate(), 0.5);
        // One second later the first bucket (a failure) has left.
        let s = w.sums(10 * SEC, Needed::ALL);
        assert_eq!((s.calls, s.weighted_failures), (9, 4 * WEIGHT_SCALE));
        // Idle for a whole window: empty without any writer.
        assert_eq!(w.sums(20 * SEC, Needed::ALL), Sums::default());
        assert_eq!(w.lifetime(), (10, 0));
        // Reusing slots folds the old values into the lifetime totals.
        for i in 0..10 {
            w.record(30 * SEC + i * SEC, Delta::default(), None);
        }
        assert_eq!(w.lifetime(), (20, 0));
        assert_eq!(w.sums(39 * SEC, Needed::ALL).calls, 10);
    }

    #[test]
    fn count_window_holds_the_last_n_calls() {
        let shape = Shape {
            time: false,
            width: 1,
            buckets: 5,
        };
        let w = Window::new(shape, None, 0);
        for i in 0..12 {
            w.record(0, if i < 7 { fail() } else { Delta::default() }, None);
        }
        let s = w.sums(0, Needed::ALL);
        assert_eq!(s.calls, 5);
        assert_eq!(s.weighted_failures, 0);
        assert_eq!(w.lifetime().0, 12);
    }

    #[test]
    fn a_count_window_success_may_trip_exactly_while_a_failure_is_in_the_window() {
        // Built with 5 buckets of 2 calls. The failure is call 3 (epoch 1): it is in
        // the window until the window's epochs reach 1 + 5, at call 12. Every success
        // before that may trip and says whether it opened a bucket; from call 12 on
        // none may, without a geometry read; after a restart into 2 buckets of 1 the
        // failure has gone at once.
        let shape = Shape {
            time: false,
            width: 2,
            buckets: 5,
        };
        let w = Window::new(shape, None, 0);
        for _ in 0..3 {
            assert!(!w.record_count_success().may_trip, "nothing unhealthy yet");
        }
        w.record(0, fail(), None);
        for call in 4..12u64 {
            let r = w.record_count_success();
            assert!(r.may_trip, "call {call}");
            assert_eq!(r.rotated, call % 2 == 0, "call {call}");
        }
        for call in 12..20 {
            assert!(!w.record_count_success().may_trip, "call {call}");
        }
        w.record(0, fail(), None); // call 20, epoch 10: in the window up to call 30
        let shape = Shape {
            time: false,
            width: 1,
            buckets: 2,
        };
        w.restart(shape, 0);
        assert_eq!(w.sums(0, Needed::ALL), Sums::default());
        // Still under the old hint (call 21 < 30), so the geometry decides: the
        // restart moved the failure out of the window.
        assert!(!w.record_count_success().may_trip);
    }

    #[test]
    fn restart_empties_and_reshapes() {
        let w = time_window(10, true);
        for i in 0..5 {
            w.record(i * SEC, fail(), Some(1_000_000));
        }
        w.restart(
            Shape {
                time: true,
                width: SEC / 2,
                buckets: 4,
            },
            5 * SEC,
        );
        assert_eq!(w.sums(5 * SEC, Needed::ALL), Sums::default());
        assert_eq!(w.latency(5 * SEC).unwrap().count, 0);
        w.record(5 * SEC, fail(), Some(2_000_000));
        w.record(6 * SEC, Delta::default(), Some(2_000_000));
        assert_eq!(w.sums(6 * SEC, Needed::ALL).calls, 2);
        assert_eq!(w.latency(6 * SEC).unwrap().count, 2);
        // 2 s window now: at 7.5 s the record at 5 s has left.
        assert_eq!(w.sums(7 * SEC + SEC / 2, Needed::ALL).calls, 1);
        assert_eq!(w.lifetime().0, 7);
    }

    #[test]
    fn latency_follows_the_window() {
        let w = time_window(10, true);
        for i in 0..100u64 {
            w.record(SEC, Delta::default(), Some((i + 1) * 1_000_000));
        }
        let l = w.latency(SEC).unwrap();
        assert_eq!(l.count, 100);
        assert!((l.p50 as f64 - 50e6).abs() / 50e6 < 0.032, "{l:?}");
        assert!((l.p99 as f64 - 99e6).abs() / 99e6 < 0.032, "{l:?}");
        assert_eq!(w.latency(12 * SEC).unwrap().count, 0);
    }

    #[test]
    fn many_buckets_group_histograms() {
        let shape = Shape {
            time: false,
            width: 1,
            buckets: 100,
        };
        let w = Window::new(shape, Some(Layout::new(5)), 0);
        for _ in 0..1000 {
            w.record(0, Delta::default(), Some(1000));
        }
        assert_eq!(w.sums(0, Needed::ALL).calls, 100);
        let n = w.latency(0).unwrap().count;
        // Histograms cover the window rounded up to whole groups of 7 buckets.
        assert!((100..=100 + 2 * 7).contains(&n), "{n}");
    }
}
