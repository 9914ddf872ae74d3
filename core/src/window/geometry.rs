//! The window's geometry, and how readers get a consistent copy of it without a lock.
//!
//! The geometry says which epoch a time (or call number) falls in: bucket width,
//! bucket count, the epoch origin, and where histogram epochs start. It changes only
//! on reconfiguration and when the window restarts, while every record reads it; so
//! reads must be cheap and never block, and writes may be slow.
//!
//! # The algorithm: a two-slot sequence lock
//!
//! [`GeometryCell`] keeps two copies ([`AtomicGeometry`]) and a version counter whose
//! low bit names the current copy. A writer (serialised by a mutex: reconfiguration
//! and restarts are cold) reads the current copy, fills the *other* one, and then
//! bumps the version with `Release`. A reader loads the version (`Acquire`), reads the
//! copy it names field by field, issues an `Acquire` fence, and loads the version
//! again: if it did not move, no writer touched that copy while it was read (a writer
//! only ever writes the copy that is *not* current, and fences before it writes, so a
//! reader of a copy being overwritten sees the version move). Otherwise it retries.
//!
//! Readers never write, so many readers on many cores share the cache lines; a writer
//! makes at most the readers racing with it retry once per write. A restart moves the
//! epoch origin past every tag in use, which empties the window without touching a
//! counter.
//!
//! The record path needs only part of the geometry, the [`EpochMap`] (kind, width,
//! origin, base: enough to turn a time or a call number into an epoch); reading that
//! part alone saves loads on every record. [`GeometryCell`] is a whole consistent reading.

use crate::fastdiv::FastDiv;
use crate::sync::{fence, AtomicU64, Ordering};

/// One consistent reading of the geometry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    pub(super) time: bool,
    pub(super) width: FastDiv,
    pub(super) buckets: u64,
    pub(super) origin: u64,
    pub(super) base: u64,
    pub(super) group: FastDiv,
    /// Histogram epoch of epoch `base`: histogram epochs are
    /// `hist_base + (epoch - base) / group`.
    pub(super) hist_base: u64,
}

/// What the record path needs of the geometry.
#[derive(Debug, Clone, Copy)]
pub(super) struct EpochMap {
    pub(super) time: bool,
    pub(super) width: FastDiv,
    pub(super) origin: u64,
    pub(super) base: u64,
}

/// What a sum of the window needs of the geometry: the epoch map and the bucket count.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) map: EpochMap,
    pub(super) buckets: u64,
}

impl EpochMap {
    #[inline]
    pub(super) fn epoch_of(&self, x: u64) -> u64 {
        self.base + self.width.div(x.saturating_sub(self.origin))
    }

    /// A count window's first call number whose epoch is at least `capacity` past
    /// `epoch`: from that call on, `epoch` has left the window whatever its bucket
    /// count (at most `capacity`).
    #[inline]
    pub(super) fn first_call_without(&self, epoch: u64, capacity: u32) -> u64 {
        let epochs = epoch
            .saturating_sub(self.base)
            .saturating_add(capacity as u64);
        self.origin
            .saturating_add(epochs.saturating_mul(self.width.divisor()))
    }
}

impl Geometry {
    /// The part of the geometry the record path needs.
    pub(super) fn epoch_map(&self) -> EpochMap {
        EpochMap {
            time: self.time,
            width: self.width,
            origin: self.origin,
            base: self.base,
        }
    }

    /// The histogram epoch of `epoch`.
    #[inline]
    pub(super) fn hist_epoch(&self, epoch: u64) -> u64 {
        let since = epoch.saturating_sub(self.base);
        // A histogram per bucket (up to 16 buckets) needs no division, and the record
        // path waits on this one.
        self.hist_base
            + if self.group.divisor() == 1 {
                since
            } else {
                self.group.div(since)
            }
    }

    pub(super) fn hist_span(&self) -> u64 {
        // Histogram epochs that cover the window's `buckets` epochs.
        let g = self.group.divisor();
        self.buckets.div_ceil(g) + u64::from(g > 1)
    }
}

/// GeometryCell slot: every field of `Geometry`, as atomics.
#[derive(Default)]
pub(super) struct AtomicGeometry {
    pub(super) time: AtomicU64,
    pub(super) width: [AtomicU64; 2],
    pub(super) buckets: AtomicU64,
    pub(super) origin: AtomicU64,
    pub(super) base: AtomicU64,
    pub(super) group: [AtomicU64; 2],
    pub(super) hist_base: AtomicU64,
}

impl AtomicGeometry {
    pub(super) fn store(&self, g: &Geometry) {
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

    #[inline]
    pub(super) fn load(&self) -> Geometry {
        let r = self.load_epoch_map();
        Geometry {
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

    pub(super) fn load_span(&self) -> Span {
        Span {
            map: self.load_epoch_map(),
            buckets: self.buckets.load(Ordering::Relaxed),
        }
    }

    #[inline]
    pub(super) fn load_epoch_map(&self) -> EpochMap {
        EpochMap {
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
pub(super) struct GeometryCell {
    pub(super) version: AtomicU64,
    pub(super) slots: [AtomicGeometry; 2],
    pub(super) writer: parking_lot::Mutex<()>,
}

impl GeometryCell {
    pub(super) fn new(g: Geometry) -> GeometryCell {
        let geo = GeometryCell {
            version: AtomicU64::new(0),
            slots: Default::default(),
            writer: parking_lot::Mutex::new(()),
        };
        geo.slots[0].store(&g);
        geo
    }

    #[inline]
    pub(super) fn load(&self) -> Geometry {
        self.read(AtomicGeometry::load)
    }

    #[inline]
    pub(super) fn load_epoch_map(&self) -> EpochMap {
        self.read(AtomicGeometry::load_epoch_map)
    }

    /// The epoch map and the bucket count, consistent with each other.
    #[inline]
    pub(super) fn load_span(&self) -> Span {
        self.read(AtomicGeometry::load_span)
    }

    #[inline]
    pub(super) fn read<T>(&self, f: impl Fn(&AtomicGeometry) -> T) -> T {
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
    pub(super) fn update(&self, f: impl FnOnce(Geometry) -> Geometry) {
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
