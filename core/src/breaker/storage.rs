//! The breaker's storage besides the state word, the window and the backoff memory,
//! grouped by meaning: copies of the options, what every record looks at (the
//! streak and the calls for attention), the timeline (deadlines, lease, ramp,
//! transition history) and the lifetime totals.

use super::opened_by::OpenedBy;
use super::*;
use crate::sync::{unmodelled, OwnerAdd};

/// Lifetime counters, striped by thread (see [`totals_stripe`]): rejected, ignored,
/// abandoned, in flight, and the measured durations (nanoseconds, wrapping) of
/// successful, failed and ignored calls.
pub(super) const REJECTED: usize = 0;
pub(super) const IGNORED: usize = 1;
pub(super) const ABANDONED: usize = 2;
pub(super) const IN_FLIGHT: usize = 3;
pub(super) const SUCCESSFUL_NANOS: usize = 4;
pub(super) const FAILED_NANOS: usize = 5;
pub(super) const IGNORED_NANOS: usize = 6;
const STRIPED_COUNTERS: usize = 7;

/// A time (a deadline, a start) that belongs to one generation of the state word,
/// exact to the nanosecond over the clock's whole range.
///
/// Only the winner of a generation's transition writes that generation's time, once;
/// a reader asks for the time of the generation it loaded from the state word and gets
/// `None` until that winner has written it. The value is split into two halves, each
/// word tagged with the generation it belongs to: a reader that sees both halves tagged
/// with its generation has both halves of that generation's one value, so a read never
/// tears. A write never replaces a newer generation's half (a winner delayed past later
/// transitions leaves their times alone); generations are compared with wrap-around,
/// which is exact while fewer than 2^31 transitions separate them.
pub(super) struct GenerationTime {
    high: AtomicU64,
    low: AtomicU64,
}

impl GenerationTime {
    /// Tagged "generation -1": older than generation 0, so every generation reads `None`.
    pub(super) fn new() -> GenerationTime {
        let none = (u32::MAX as u64) << 32;
        GenerationTime {
            high: AtomicU64::new(none),
            low: AtomicU64::new(none),
        }
    }

    /// The time of `generation`, once its winner has written it.
    #[inline]
    pub(super) fn get(&self, generation: u32) -> Option<u64> {
        // ordering: Acquire pairs with `set`'s Release: a reader that sees the value
        // also sees what its writer did before (the transition it belongs to).
        let high = self.high.load(Ordering::Acquire);
        let low = self.low.load(Ordering::Acquire);
        let tag = generation as u64;
        ((high >> 32) == tag && (low >> 32) == tag).then_some((high << 32) | (low & 0xFFFF_FFFF))
    }

    /// Writes the time of `generation`, unless a newer generation has written its own.
    pub(super) fn set(&self, generation: u32, nanos: u64) {
        let tag = (generation as u64) << 32;
        for (word, half) in [(&self.high, nanos >> 32), (&self.low, nanos & 0xFFFF_FFFF)] {
            let mut current = word.load(Ordering::Relaxed);
            // Lock-free: a retry means another generation's writer moved this word on.
            while generation_is_older((current >> 32) as u32, generation) {
                // ordering: Release pairs with `get`'s Acquire loads.
                match word.compare_exchange_weak(
                    current,
                    tag | half,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(actual) => current = actual,
                }
            }
        }
    }
}

/// The failure streak of one generation: the generation (high 32 bits) and its failures
/// in a row (low 32 bits) in one word. A record of an older generation leaves it alone;
/// the first record of a newer one starts the newer one's streak, so no transition has
/// to reset it, and a reader of another generation than the word's sees no streak.
pub(super) struct Streak(AtomicU64);

impl Streak {
    pub(super) fn new() -> Streak {
        Streak(AtomicU64::new(0))
    }

    /// Failures in a row among the outcomes of `generation` so far.
    #[inline]
    pub(super) fn get(&self, generation: u32) -> u32 {
        // ordering: Relaxed, a count; no memory is published through it.
        let word = self.0.load(Ordering::Relaxed);
        if (word >> 32) as u32 == generation {
            word as u32
        } else {
            0
        }
    }

    /// The newest streak recorded, whatever its generation: what a reader is shown. A
    /// streak survives the transition it caused (a tripped breaker still shows the
    /// failures that tripped it) until an outcome of a newer generation starts the next.
    pub(super) fn latest(&self) -> u32 {
        // ordering: Relaxed, as in `get`.
        self.0.load(Ordering::Relaxed) as u32
    }

    /// Moves the streak into `generation`, the one a transition started, keeping its
    /// count: outcomes of the generations before (calls admitted before a trip and
    /// answered after it) no longer touch it, and a reader still sees the failures
    /// that tripped the breaker.
    pub(super) fn carry_into(&self, generation: u32) {
        let mut word = self.0.load(Ordering::Relaxed);
        // Lock-free: a retry means a record changed the streak; a newer generation's
        // streak is left alone.
        while generation_is_older((word >> 32) as u32, generation) {
            let next = ((generation as u64) << 32) | (word & 0xFFFF_FFFF);
            // ordering: Relaxed, as in `get`.
            match self
                .0
                .compare_exchange_weak(word, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// A failure of `generation`; returns the streak it makes (0 for an outcome of an
    /// older generation, which counts in no current streak).
    pub(super) fn failure(&self, generation: u32) -> u32 {
        self.update(generation, |n| n.saturating_add(1))
    }

    /// A success of `generation`: its streak ends. One load when there is none.
    #[inline]
    pub(super) fn success(&self, generation: u32) {
        // Any streak shown (`latest`), of this generation or an older one that a
        // success of a newer generation ends; an older generation's success leaves a
        // newer streak alone (`update`).
        if self.latest() != 0 {
            self.update(generation, |_| 0);
        }
    }

    /// Ends the streak of `generation` whatever the outcome (a reset in place).
    pub(super) fn clear(&self, generation: u32) {
        self.update(generation, |_| 0);
    }

    /// Applies `f` to the streak of `generation`, if that generation is not older than
    /// the word's; returns the new streak (0 when left alone).
    fn update(&self, generation: u32, f: impl Fn(u32) -> u32) -> u32 {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            let tag = (word >> 32) as u32;
            let count = if tag == generation {
                f(word as u32)
            } else if generation_is_older(tag, generation) {
                f(0)
            } else {
                return 0;
            };
            let next = ((generation as u64) << 32) | count as u64;
            // ordering: Relaxed, as in `get`. Lock-free: a retry means another record
            // changed the streak.
            match self
                .0
                .compare_exchange_weak(word, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return count,
                Err(actual) => word = actual,
            }
        }
    }
}

/// Whether generation `tag` came before `than` (or is `than`), counting with
/// wrap-around. Equal generations count as older so that a writer may rewrite its own.
fn generation_is_older(tag: u32, than: u32) -> bool {
    (than.wrapping_sub(tag) as i32) >= 0
}

/// Copies of the options the record and admission paths need, so that they never load
/// the config. Read-mostly: written only on reconfiguration. Each is read on its own
/// and any mix of old and new values is valid, so loom does not model them
/// ([`crate::sync::unmodelled`]).
pub(super) struct Options {
    pub(super) slow_nanos: unmodelled::AtomicU64,
    pub(super) limit_nanos: unmodelled::AtomicU64,
    pub(super) weights: [unmodelled::AtomicU32; 5],
    pub(super) permits: unmodelled::AtomicU32,
    pub(super) success_threshold: unmodelled::AtomicU32,
    pub(super) lease_nanos: unmodelled::AtomicU64,
    pub(super) base_open_nanos: unmodelled::AtomicU64,
    pub(super) ramp_nanos: unmodelled::AtomicU64,
    pub(super) ramp_initial: unmodelled::AtomicU64,
    /// `call_timeout`, in ns; `u64::MAX` without one.
    pub(super) call_timeout_nanos: unmodelled::AtomicU64,
    /// The trip rules an evaluation reads, so that it loads no config (BENCHMARKS.md,
    /// "Where the time goes": "every evaluation loaded the config"):
    /// `consecutive_failures` (0: none), the failure-rate and slow-call thresholds and
    /// the percentile's quantile as `f64` bits (NaN: none; the limit is `limit_nanos`),
    /// `minimum_calls`, and which rules read the config itself ([`RULE_ADAPTIVE`],
    /// [`RULE_ANTI_THRASH`]).
    pub(super) consecutive_limit: unmodelled::AtomicU32,
    pub(super) failure_threshold: unmodelled::AtomicU64,
    pub(super) slow_threshold: unmodelled::AtomicU64,
    pub(super) quantile: unmodelled::AtomicU64,
    pub(super) minimum_calls: unmodelled::AtomicU32,
    pub(super) config_rules: unmodelled::AtomicU32,
}

/// [`Options::config_rules`]: the failure-rate threshold adapts (read from the config).
pub(super) const RULE_ADAPTIVE: u32 = 1;
/// [`Options::config_rules`]: anti-thrash may hold a trip (read from the config).
pub(super) const RULE_ANTI_THRASH: u32 = 2;

/// The trip rules as an evaluation reads them from the options.
#[derive(Debug, Clone, Copy)]
pub(super) struct EvaluatedRules {
    pub(super) consecutive_limit: Option<u32>,
    /// The configured failure-rate threshold (adapted by the config's rule when
    /// `config_rules` has [`RULE_ADAPTIVE`]).
    pub(super) failure_threshold: Option<f64>,
    pub(super) rate: RateRules,
    pub(super) config_rules: u32,
}

impl Options {
    pub(super) fn new(c: &Config) -> Options {
        let o = Options {
            slow_nanos: unmodelled::AtomicU64::new(0),
            limit_nanos: unmodelled::AtomicU64::new(0),
            weights: std::array::from_fn(|_| unmodelled::AtomicU32::new(0)),
            permits: unmodelled::AtomicU32::new(0),
            success_threshold: unmodelled::AtomicU32::new(0),
            lease_nanos: unmodelled::AtomicU64::new(0),
            base_open_nanos: unmodelled::AtomicU64::new(0),
            ramp_nanos: unmodelled::AtomicU64::new(0),
            ramp_initial: unmodelled::AtomicU64::new(0),
            call_timeout_nanos: unmodelled::AtomicU64::new(u64::MAX),
            consecutive_limit: unmodelled::AtomicU32::new(0),
            failure_threshold: unmodelled::AtomicU64::new(f64::NAN.to_bits()),
            slow_threshold: unmodelled::AtomicU64::new(f64::NAN.to_bits()),
            quantile: unmodelled::AtomicU64::new(f64::NAN.to_bits()),
            minimum_calls: unmodelled::AtomicU32::new(0),
            config_rules: unmodelled::AtomicU32::new(0),
        };
        o.load_from(c);
        o
    }

    pub(super) fn load_from(&self, c: &Config) {
        // ordering: Relaxed, each option is read on its own; a record racing with a
        // reconfiguration may use a mix of old and new values, which are all valid.
        let o = Ordering::Relaxed;
        self.slow_nanos.store(nanos(c.slow_call_duration), o);
        self.limit_nanos
            .store(c.latency_percentile.map_or(u64::MAX, |p| nanos(p.limit)), o);
        for kind in FailureKind::ALL {
            let w = (c.failure_weights.get(kind) * WEIGHT_SCALE as f64).round() as u32;
            self.weights[kind as usize].store(w, o);
        }
        self.permits.store(c.half_open.permits, o);
        self.success_threshold
            .store(c.half_open.success_threshold, o);
        self.lease_nanos.store(nanos(c.half_open.max_wait), o);
        self.base_open_nanos.store(nanos(c.open.duration), o);
        let (ramp, initial) = c
            .slow_start
            .map_or((0, 1.0), |s| (nanos(s.duration), s.initial_fraction));
        self.ramp_nanos.store(ramp, o);
        self.ramp_initial.store(initial.to_bits(), o);
        self.call_timeout_nanos
            .store(c.call_timeout.map_or(u64::MAX, nanos), o);
        let bits = |x: Option<f64>| x.unwrap_or(f64::NAN).to_bits();
        self.consecutive_limit
            .store(c.consecutive_failures.unwrap_or(0), o);
        self.failure_threshold
            .store(bits(c.failure_rate_threshold), o);
        self.slow_threshold
            .store(bits(c.slow_call_rate_threshold), o);
        self.quantile
            .store(bits(c.latency_percentile.map(|p| p.quantile.0)), o);
        self.minimum_calls.store(c.minimum_calls, o);
        let mut rules = 0;
        if c.adaptive_threshold.is_some() {
            rules |= RULE_ADAPTIVE;
        }
        if c.anti_thrash.is_some() {
            rules |= RULE_ANTI_THRASH;
        }
        self.config_rules.store(rules, o);
    }

    /// The trip rules in force (each option read on its own, as in `load_from`).
    pub(super) fn rules(&self) -> EvaluatedRules {
        let o = Ordering::Relaxed;
        let value =
            |a: &unmodelled::AtomicU64| Some(f64::from_bits(a.load(o))).filter(|x| !x.is_nan());
        let limit = self.consecutive_limit.load(o);
        EvaluatedRules {
            consecutive_limit: (limit != 0).then_some(limit),
            failure_threshold: value(&self.failure_threshold),
            rate: RateRules {
                slow_call_rate_threshold: value(&self.slow_threshold),
                latency_percentile: value(&self.quantile)
                    .map(|q| (q, Duration::from_nanos(self.limit_nanos.load(o)))),
                minimum_calls: self.minimum_calls.load(o),
            },
            config_rules: self.config_rules.load(o),
        }
    }
}

/// A duration in nanoseconds, saturating.
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What every record looks at, together on one line: the failure streak, and whether
/// the rules or the event queue want the next record's attention. A healthy breaker
/// only reads it.
pub(super) struct Attention {
    pub(super) streak: Streak,
    /// The rules must look at the next outcome (a late outcome raced a transition, a
    /// rule waits for `minimum_calls`, anti-thrash held a trip, a reconfiguration).
    pub(super) look_again: AtomicBool,
    /// Calls for the next record's attention: [`EVENTS_WAITING`] (a transition won on
    /// admission queued its event; the next record delivers it) and
    /// [`CALL_LISTENERS`] (call listeners are registered). Zero in a quiet breaker.
    pub(super) flags: AtomicU32,
}

impl Attention {
    pub(super) fn new() -> Attention {
        Attention {
            streak: Streak::new(),
            look_again: AtomicBool::new(false),
            flags: AtomicU32::new(0),
        }
    }
}

/// When things happened and when they end: the times transitions write and admission
/// reads (deadlines, lease, ramp), and the transition history.
pub(super) struct Timeline {
    /// When the current opening ends.
    pub(super) open_until: GenerationTime,
    /// When the first probe of the current half-open generation was admitted.
    pub(super) lease_start: GenerationTime,
    /// When the latest probe was admitted, whatever its generation.
    pub(super) last_probe: AtomicU64,
    /// When the slow-start ramp of the current closed generation began.
    pub(super) ramp_start: GenerationTime,
    /// Admissions during the ramp so far (spreads them evenly).
    pub(super) ramp_ticket: AtomicU64,
    /// When the breaker last recovered (half-open to closed), plus one; 0: never.
    pub(super) closed_at: AtomicU64,
    /// When the current state began.
    pub(super) state_since: AtomicU64,
    /// Transitions so far.
    pub(super) transitions: AtomicU64,
    pub(super) recent: RecentTransitions,
    /// Why the breaker last opened, for rejections (written on openings).
    pub(super) opened_by: OpenedBy,
}

impl Timeline {
    pub(super) fn new(now: u64) -> Timeline {
        Timeline {
            open_until: GenerationTime::new(),
            lease_start: GenerationTime::new(),
            last_probe: AtomicU64::new(0),
            ramp_start: GenerationTime::new(),
            ramp_ticket: AtomicU64::new(0),
            closed_at: AtomicU64::new(0),
            state_since: AtomicU64::new(now),
            transitions: AtomicU64::new(0),
            recent: RecentTransitions::new(),
            opened_by: OpenedBy::new(),
        }
    }
}

/// Failure kinds, counted by kind for life.
const FAILURE_KINDS: usize = FailureKind::ALL.len();

/// A stripe of the lifetime counters that any number of threads add to by RMW, on a
/// cache line of its own. 64 bytes, not `CachePadded`'s 128, within the 4 KiB per
/// breaker of docs/ARCHITECTURE.md §3.
#[repr(align(64))]
pub(super) struct SharedLine([AtomicU64; STRIPED_COUNTERS]);

/// A stripe of the lifetime counters that one thread owns: the striped counters and the
/// failures by kind, on two cache lines of their own (a failure then costs no RMW
/// either).
#[repr(align(64))]
pub(super) struct OwnedLine {
    counters: [AtomicU64; STRIPED_COUNTERS],
    failures: [AtomicU64; FAILURE_KINDS],
}

/// Lifetime counters: the striped counters, failures by kind, the last failure.
pub(super) struct Totals {
    /// Stripes `0..OWNED_STRIPES` of [`totals_stripe`], each written by one thread.
    owned: [OwnedLine; OWNED_STRIPES],
    /// The other stripes, shared by the threads that own none.
    shared: [SharedLine; TOTALS_STRIPES - OWNED_STRIPES],
    /// Failures by kind of the threads that own no stripe.
    failures: [AtomicU64; FAILURE_KINDS],
    /// Monotonic time of the last failure, plus one (0: none yet).
    pub(super) last_failure: AtomicU64,
    /// Lifetime calls at the last evaluated failure (adaptive threshold's streaks).
    pub(super) streak_base: AtomicU64,
}

/// Adds `delta` to `counter`: with a plain load and store when the calling thread is
/// its only writer (`owned`, see [`totals_stripe`]): nothing is lost, and a reader sees
/// the old value or the new. Else by RMW.
#[inline]
fn add(counter: &AtomicU64, delta: u64, owned: bool) {
    if owned {
        counter.owner_add(delta);
    } else {
        // ordering: Relaxed, a statistic: a counter publishes nothing but its value.
        counter.fetch_add(delta, Ordering::Relaxed);
    }
}

impl Totals {
    pub(super) fn new() -> Totals {
        fn zeros<const N: usize>() -> [AtomicU64; N] {
            std::array::from_fn(|_| AtomicU64::new(0))
        }
        Totals {
            owned: std::array::from_fn(|_| OwnedLine {
                counters: zeros(),
                failures: zeros(),
            }),
            shared: std::array::from_fn(|_| SharedLine(zeros())),
            failures: zeros(),
            last_failure: AtomicU64::new(0),
            streak_base: AtomicU64::new(0),
        }
    }

    /// The counters of `stripe`, and where its failures by kind are counted: the
    /// owner's own line, or the lines the other threads share.
    #[inline]
    fn stripe(
        &self,
        stripe: TotalsStripe,
    ) -> (&[AtomicU64; STRIPED_COUNTERS], &[AtomicU64; FAILURE_KINDS]) {
        match self.owned.get(stripe.index) {
            Some(line) => (&line.counters, &line.failures),
            None => (&self.shared[stripe.index - OWNED_STRIPES].0, &self.failures),
        }
    }

    /// Adds `delta` to striped counter `which`, in the calling thread's stripe.
    #[inline]
    pub(super) fn bump(&self, which: usize, delta: u64) {
        self.bump_in(totals_stripe(), which, delta);
    }

    /// Adds `delta` to striped counter `which`, in `stripe`: the calling thread's,
    /// read once by a record that counts several things.
    #[inline]
    pub(super) fn bump_in(&self, stripe: TotalsStripe, which: usize, delta: u64) {
        add(&self.stripe(stripe).0[which], delta, stripe.owned);
    }

    /// Counts a failure of `kind`, in `stripe` (the calling thread's).
    #[inline]
    pub(super) fn count_failure_in(&self, stripe: TotalsStripe, kind: FailureKind) {
        add(&self.stripe(stripe).1[kind as usize], 1, stripe.owned);
    }

    /// Striped counter `which`, summed over the stripes (wrapping).
    pub(super) fn sum(&self, which: usize) -> u64 {
        let owned = self.owned.iter().map(|l| &l.counters[which]);
        let shared = self.shared.iter().map(|l| &l.0[which]);
        owned
            .chain(shared)
            .fold(0u64, |a, c| a.wrapping_add(c.load(Ordering::Relaxed)))
    }

    /// Failures of `kind` so far.
    pub(super) fn failures(&self, kind: FailureKind) -> u64 {
        let owned = self.owned.iter().map(|l| &l.failures[kind as usize]);
        owned
            .chain([&self.failures[kind as usize]])
            .fold(0u64, |a, c| a.wrapping_add(c.load(Ordering::Relaxed)))
    }
}

/// Transitions remembered for the flapping figure (which therefore reads at most this).
pub(super) const RECENT_TRANSITIONS: usize = 32;
// The ring follows the generation across its wrap from u32::MAX to 0.
const _: () = assert!(RECENT_TRANSITIONS.is_power_of_two());

/// Times of the most recent transitions, for the flapping figure: a ring of atomics,
/// indexed by generation (every generation is one transition), so that a transition
/// records its time with one plain store.
pub(super) struct RecentTransitions {
    /// Each a transition's time plus one; 0: empty.
    times: [AtomicU64; RECENT_TRANSITIONS],
}

impl RecentTransitions {
    pub(super) fn new() -> RecentTransitions {
        RecentTransitions {
            times: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Records the transition that started `generation`, at `now`.
    pub(super) fn push(&self, generation: u32, now: u64) {
        let i = generation as usize % RECENT_TRANSITIONS;
        // ordering: Relaxed, a statistic.
        self.times[i].store(now.saturating_add(1), Ordering::Relaxed);
    }

    /// Transitions less than `window` before `now`.
    pub(super) fn within(&self, now: u64, window: u64) -> u32 {
        self.times
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .filter(|&t| t != 0 && now.saturating_sub(t - 1) < window)
            .count() as u32
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::GenerationTime;

    /// A winner delayed past a later transition writes its time while the later
    /// generation's winner writes its own and a reader of the later generation looks:
    /// the reader sees nothing or exactly the later time, never a mix, and the later
    /// time stays.
    #[test]
    fn a_late_winner_never_tears_or_replaces_a_newer_time() {
        loom::model(|| {
            let cell = loom::sync::Arc::new(GenerationTime::new());
            let (late, newer) = (0x1111_1111_2222_2222u64, 0x3333_3333_4444_4444u64);
            let c = cell.clone();
            let t = loom::thread::spawn(move || c.set(1, late));
            let c = cell.clone();
            let r = loom::thread::spawn(move || {
                let seen = c.get(2);
                assert!(seen.is_none() || seen == Some(newer), "{seen:x?}");
            });
            cell.set(2, newer);
            t.join().unwrap();
            r.join().unwrap();
            assert_eq!(cell.get(2), Some(newer));
            assert_eq!(cell.get(1), None);
        });
    }
}
