//! The breaker's storage besides the state word and the window: copies of the options
//! the record path reads, lifetime totals, half-open and slow-start words, and the
//! backoff memory.

use super::*;

/// Lifetime counters, striped by thread: rejected, ignored, abandoned, in flight.
pub(super) const REJECTED: usize = 0;
pub(super) const IGNORED: usize = 1;
pub(super) const ABANDONED: usize = 2;
pub(super) const IN_FLIGHT: usize = 3;

/// A deadline tagged with the generation it belongs to: 16 bits of generation, 48 bits
/// of microseconds (8.9 years of clock).
pub(super) fn stamp(generation: u32, nanos: u64) -> u64 {
    ((generation as u64 & 0xFFFF) << 48) | (nanos.div_ceil(1000) & ((1 << 48) - 1))
}

pub(super) fn unstamp(word: u64, generation: u32) -> Option<u64> {
    ((word >> 48) == (generation as u64 & 0xFFFF)).then_some((word & ((1 << 48) - 1)) * 1000)
}

/// Read-mostly copies of the options the record path needs, so it never loads the
/// config. Written on reconfiguration.
pub(super) struct Hot {
    pub(super) open_until: AtomicU64,
    /// When the breaker last recovered (half-open to closed), plus one; 0: never.
    pub(super) closed_at: AtomicU64,
    pub(super) ramp_start: AtomicU64,
    pub(super) needs_eval: AtomicBool,
    pub(super) slow_nanos: AtomicU64,
    pub(super) limit_nanos: AtomicU64,
    pub(super) weights: [AtomicU32; 5],
    pub(super) permits: AtomicU32,
    pub(super) success_threshold: AtomicU32,
    pub(super) lease_nanos: AtomicU64,
    pub(super) base_open_nanos: AtomicU64,
    pub(super) ramp_nanos: AtomicU64,
    pub(super) ramp_initial: AtomicU64,
}

impl Hot {
    pub(super) fn new(c: &Config) -> Hot {
        let h = Hot {
            open_until: AtomicU64::new(0),
            closed_at: AtomicU64::new(0),
            ramp_start: AtomicU64::new(0),
            needs_eval: AtomicBool::new(false),
            slow_nanos: AtomicU64::new(0),
            limit_nanos: AtomicU64::new(0),
            weights: std::array::from_fn(|_| AtomicU32::new(0)),
            permits: AtomicU32::new(0),
            success_threshold: AtomicU32::new(0),
            lease_nanos: AtomicU64::new(0),
            base_open_nanos: AtomicU64::new(0),
            ramp_nanos: AtomicU64::new(0),
            ramp_initial: AtomicU64::new(0),
        };
        h.load_from(c);
        h
    }

    pub(super) fn load_from(&self, c: &Config) {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // ordering: Relaxed, each option is read on its own; a record racing with a
        // reconfiguration may use a mix of old and new values, which are all valid.
        let o = Ordering::Relaxed;
        self.slow_nanos.store(ns(c.slow_call_duration), o);
        self.limit_nanos
            .store(c.latency_percentile.map_or(u64::MAX, |p| ns(p.limit)), o);
        for kind in FailureKind::ALL {
            let w = (c.failure_weights.get(kind) * WEIGHT_SCALE as f64).round() as u32;
            self.weights[kind as usize].store(w, o);
        }
        self.permits.store(c.half_open.permits, o);
        self.success_threshold
            .store(c.half_open.success_threshold, o);
        self.lease_nanos.store(ns(c.half_open.max_wait), o);
        self.base_open_nanos.store(ns(c.open.duration), o);
        let (ramp, initial) = c
            .slow_start
            .map_or((0, 1.0), |s| (ns(s.duration), s.initial_fraction));
        self.ramp_nanos.store(ramp, o);
        self.ramp_initial.store(initial.to_bits(), o);
    }
}

pub(super) struct Totals {
    pub(super) failures: [AtomicU64; 5],
    pub(super) striped: [CachePadded<[AtomicU64; 4]>; STRIPES],
    pub(super) transitions: AtomicU64,
    pub(super) state_since: AtomicU64,
    /// Monotonic time of the last failure, plus one (0: none yet).
    pub(super) last_failure: AtomicU64,
    /// Lifetime calls at the last evaluated failure (adaptive threshold's streaks).
    pub(super) streak_base: AtomicU64,
}

impl Totals {
    pub(super) fn new(now: u64) -> Totals {
        Totals {
            failures: std::array::from_fn(|_| AtomicU64::new(0)),
            striped: std::array::from_fn(|_| {
                CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0)))
            }),
            transitions: AtomicU64::new(0),
            state_since: AtomicU64::new(now),
            last_failure: AtomicU64::new(0),
            streak_base: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(super) fn bump(&self, which: usize, delta: u64) {
        // ordering: Relaxed, a statistic.
        self.striped[stripe_index()][which].fetch_add(delta, Ordering::Relaxed);
    }

    pub(super) fn sum(&self, which: usize) -> u64 {
        self.striped.iter().fold(0u64, |a, s| {
            a.wrapping_add(s[which].load(Ordering::Relaxed))
        })
    }
}

/// Words written only while half-open or ramping up.
pub(super) struct Rare {
    pub(super) lease_until: AtomicU64,
    pub(super) ramp_ticket: AtomicU64,
}

/// Cold state behind one lock: backoff memory, and reconfiguration.
pub(super) struct Cold {
    pub(super) backoff: Backoff,
    /// Times of the most recent transitions, oldest first, for the flapping figure.
    pub(super) recent_transitions: std::collections::VecDeque<u64>,
}

/// Transitions remembered for the flapping figure.
pub(super) const RECENT_TRANSITIONS: usize = 128;
