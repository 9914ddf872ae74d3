//! [`Breaker`]: the public face of the engine, tying the state word, the window, the
//! backoff and the events together.
//!
//! # The hot path
//!
//! Admission in `Closed` is one `Acquire` load of the state word (which lives alone on
//! its cache line) and, only when calls are timed, one clock read. Recording a success
//! is one clock read, a handful of loads of read-mostly lines and one `fetch_add` on the
//! calling thread's own window stripe. Rules are evaluated only when an outcome can
//! change the verdict: a failure, a slow call, a call over the percentile limit, the
//! first call of a new bucket (old buckets may have left the window), or a success
//! while a rule is waiting only for `minimum_calls`.
//!
//! # Transitions
//!
//! Every transition is one compare-and-swap on the state word. The winner alone then
//! writes what depends on it (open deadline, window restart, backoff) and emits the
//! event, outside every lock. Words it writes after the swap that admission reads (the
//! open deadline) carry the generation they belong to, so a reader never mistakes the
//! previous opening's deadline for the current one.

use crate::adaptive::Signals;
use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, LiveLimits};
use crate::events::{Listener, ListenerId, Listeners, Reason, Transition};
use crate::histogram::Layout;
use crate::metrics::{FailureCounts, Snapshot};
use crate::outcome::{FailureKind, Outcome};
use crate::permit::{Permit, RawPermit, P_IN_FLIGHT, P_PROBE, P_TIMED, P_UNCOUNTED};
use crate::state::{State, Word, FLAG_IN_FLIGHT, FLAG_RAMP, FLAG_TIMED, STATE_MASK};
use crate::sync::{stripe_index, AtomicBool, AtomicU32, AtomicU64, Ordering, STRIPES};
use crate::window::{Delta, Needed, Recorded, Shape, Sums, Window, WEIGHT_SCALE};
use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The state that rejected the call.
    pub state: State,
    /// How long until a call may be admitted, when known.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is {}: call rejected", self.state)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {d:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// The error of a guarded call: rejected by the breaker, or failed on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError<E> {
    /// The breaker did not admit the call; it was never made.
    Rejected(Rejected),
    /// The call was made and failed.
    Failed(E),
}

impl<E> CallError<E> {
    /// Whether the breaker rejected the call (it was never made).
    pub fn is_rejected(&self) -> bool {
        matches!(self, CallError::Rejected(_))
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CallError<E> {}

/// Lifetime counters, striped by thread: rejected, ignored, abandoned, in flight.
const REJECTED: usize = 0;
const IGNORED: usize = 1;
const ABANDONED: usize = 2;
const IN_FLIGHT: usize = 3;

/// A deadline tagged with the generation it belongs to: 16 bits of generation, 48 bits
/// of microseconds (8.9 years of clock).
fn stamp(generation: u32, nanos: u64) -> u64 {
    ((generation as u64 & 0xFFFF) << 48) | (nanos.div_ceil(1000) & ((1 << 48) - 1))
}

fn unstamp(word: u64, generation: u32) -> Option<u64> {
    ((word >> 48) == (generation as u64 & 0xFFFF)).then_some((word & ((1 << 48) - 1)) * 1000)
}

/// Read-mostly copies of the options the record path needs, so it never loads the
/// config. Written on reconfiguration.
struct Hot {
    open_until: AtomicU64,
    /// When the breaker last recovered (half-open to closed), plus one; 0: never.
    closed_at: AtomicU64,
    ramp_start: AtomicU64,
    needs_eval: AtomicBool,
    slow_nanos: AtomicU64,
    limit_nanos: AtomicU64,
    weights: [AtomicU32; 5],
    permits: AtomicU32,
    success_threshold: AtomicU32,
    lease_nanos: AtomicU64,
    base_open_nanos: AtomicU64,
    ramp_nanos: AtomicU64,
    ramp_initial: AtomicU64,
}

impl Hot {
    fn new(c: &Config) -> Hot {
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

    fn load_from(&self, c: &Config) {
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

struct Totals {
    failures: [AtomicU64; 5],
    striped: [CachePadded<[AtomicU64; 4]>; STRIPES],
    transitions: AtomicU64,
    state_since: AtomicU64,
    /// Monotonic time of the last failure, plus one (0: none yet).
    last_failure: AtomicU64,
    /// Lifetime calls at the last evaluated failure (adaptive threshold's streaks).
    streak_base: AtomicU64,
}

impl Totals {
    fn new(now: u64) -> Totals {
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
    fn bump(&self, which: usize, delta: u64) {
        // ordering: Relaxed, a statistic.
        self.striped[stripe_index()][which].fetch_add(delta, Ordering::Relaxed);
    }

    fn sum(&self, which: usize) -> u64 {
        self.striped.iter().fold(0u64, |a, s| {
            a.wrapping_add(s[which].load(Ordering::Relaxed))
        })
    }
}

/// Words written only while half-open or ramping up.
struct Rare {
    lease_until: AtomicU64,
    ramp_ticket: AtomicU64,
}

/// Cold state behind one lock: backoff memory, and reconfiguration.
struct Cold {
    backoff: Backoff,
    /// Times of the most recent transitions, oldest first, for the flapping figure.
    recent_transitions: std::collections::VecDeque<u64>,
}

/// Transitions remembered for the flapping figure.
const RECENT_TRANSITIONS: usize = 128;

/// A circuit breaker.
///
/// Shareable across threads (`&Breaker` is all a caller needs; wrap it in an `Arc` to
/// share ownership). See the [crate documentation](crate) for an example.
///
/// The type is aligned to 128 bytes (its hot words each sit on their own cache-line
/// pair), so a binding that places it in memory it allocates itself (a Python object,
/// a C struct) should box it: `Box`/`Arc` honour the alignment.
pub struct Breaker<C: Clock = SystemClock> {
    word: CachePadded<AtomicU64>,
    hot: CachePadded<Hot>,
    consecutive: CachePadded<AtomicU32>,
    /// Half-open lease and slow-start tickets: written only in those states.
    rare: CachePadded<Rare>,
    window: Window,
    totals: Totals,
    config: ArcSwap<Config>,
    listeners: Listeners,
    cold: parking_lot::Mutex<Cold>,
    clock: C,
}

impl Breaker<SystemClock> {
    /// A breaker on the system clock.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Breaker::with_clock(config, SystemClock::new())
    }
}

impl<C: Clock> Breaker<C> {
    /// A breaker on `clock`.
    pub fn with_clock(config: Config, clock: C) -> Result<Self, ConfigError> {
        config.validate()?;
        let now = clock.now_nanos();
        let layout = config
            .latency_tracked()
            .then(|| Layout::new(config.histogram_precision));
        let window = Window::new(Shape::of(&config.window), layout, now);
        let seed = config
            .seed
            .unwrap_or_else(|| now ^ (&window as *const Window as u64).rotate_left(32));
        let word = Word::new(State::Closed, 0, Self::flags_for(&config));
        Ok(Breaker {
            word: CachePadded::new(AtomicU64::new(word.0)),
            hot: CachePadded::new(Hot::new(&config)),
            consecutive: CachePadded::new(AtomicU32::new(0)),
            rare: CachePadded::new(Rare {
                lease_until: AtomicU64::new(0),
                ramp_ticket: AtomicU64::new(0),
            }),
            window,
            totals: Totals::new(now),
            config: ArcSwap::from_pointee(config),
            listeners: Listeners::new(),
            cold: parking_lot::Mutex::new(Cold {
                backoff: Backoff::new(seed),
                recent_transitions: std::collections::VecDeque::new(),
            }),
            clock,
        })
    }

    fn flags_for(config: &Config) -> u64 {
        let mut f = 0;
        if config.latency_tracked() {
            f |= FLAG_TIMED;
        }
        if config.track_in_flight {
            f |= FLAG_IN_FLIGHT;
        }
        f
    }

    /// The clock this breaker reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    #[inline]
    fn load_word(&self) -> Word {
        // ordering: Acquire, so a thread that sees a new state also sees what the
        // transition's winner wrote before publishing it.
        Word(self.word.load(Ordering::Acquire))
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.load_word().state()
    }

    // ----------------------------------------------------------------- admission

    /// Asks to make one call. Wait-free in every state.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C>, Rejected> {
        // The fast path builds its permit here rather than through `acquire_raw`'s
        // result: merged with the slow path's (returned through memory), the permit
        // would be stored field by field and reloaded whole, which stalls x86's
        // store-to-load forwarding (several ns a call).
        let w = self.load_word();
        if let Some(raw) = self.admit_closed(w) {
            return Ok(Permit::new(self, raw));
        }
        match self.acquire_slow(w) {
            Ok(raw) => Ok(Permit::new(self, raw)),
            Err(rejected) => Err(rejected),
        }
    }

    /// [`try_acquire`](Breaker::try_acquire) for bindings: the permit as a plain value,
    /// to be handed back to [`record_raw`](Breaker::record_raw) or
    /// [`release_raw`](Breaker::release_raw) exactly once.
    #[inline]
    pub fn acquire_raw(&self) -> Result<RawPermit, Rejected> {
        let w = self.load_word();
        match self.admit_closed(w) {
            Some(raw) => Ok(raw),
            None => self.acquire_slow(w),
        }
    }

    /// The common case of admission: Closed, no slow start, not counting calls in
    /// flight. One load (the caller's), no RMW, a clock read only when calls are timed.
    #[inline]
    fn admit_closed(&self, w: Word) -> Option<RawPermit> {
        if w.0 & (STATE_MASK | FLAG_RAMP | FLAG_IN_FLIGHT) != State::Closed as u64 {
            return None;
        }
        let (flags, start_nanos) = if w.0 & FLAG_TIMED != 0 {
            (P_TIMED, self.clock.now_nanos())
        } else {
            (0, 0)
        };
        Some(RawPermit {
            generation: w.generation(),
            flags,
            start_nanos,
        })
    }

    #[inline(never)]
    fn acquire_slow(&self, w: Word) -> Result<RawPermit, Rejected> {
        match w.state() {
            State::Closed => {
                if w.0 & FLAG_RAMP != 0 && !self.ramp_admits(w) {
                    return Err(self.reject(State::Closed, Some(Duration::ZERO)));
                }
                Ok(self.issue(w, false))
            }
            State::ForcedClosed | State::MetricsOnly | State::Disabled => Ok(self.issue(w, false)),
            State::Open => self.acquire_open(w),
            State::HalfOpen => self.acquire_half_open(w),
            State::ForcedOpen => Err(self.reject(State::ForcedOpen, None)),
        }
    }

    fn issue(&self, w: Word, probe: bool) -> RawPermit {
        let mut flags = 0;
        let mut start_nanos = 0;
        if w.0 & FLAG_TIMED != 0 {
            flags |= P_TIMED;
            start_nanos = self.clock.now_nanos();
        }
        if w.0 & FLAG_IN_FLIGHT != 0 {
            flags |= P_IN_FLIGHT;
            self.totals.bump(IN_FLIGHT, 1);
        }
        if probe {
            flags |= P_PROBE;
        }
        if w.state() == State::Disabled {
            flags |= P_UNCOUNTED;
        }
        RawPermit {
            generation: w.generation(),
            flags,
            start_nanos,
        }
    }

    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.totals.bump(REJECTED, 1);
        Rejected { state, retry_after }
    }

    fn acquire_open(&self, w: Word) -> Result<RawPermit, Rejected> {
        let now = self.clock.coarse_nanos();
        // ordering: Acquire pairs with the winner's Release store of the deadline.
        let until = self.hot.open_until.load(Ordering::Acquire);
        match unstamp(until, w.generation()) {
            // The opening's winner has not written its deadline yet: just opened.
            None => {
                let base = self.hot.base_open_nanos.load(Ordering::Relaxed);
                return Err(self.reject(State::Open, Some(Duration::from_nanos(base))));
            }
            Some(deadline) if now < deadline => {
                return Err(self.reject(State::Open, Some(Duration::from_nanos(deadline - now))));
            }
            Some(_) => {}
        }
        // The deadline has passed: whoever moves the breaker to half-open takes the
        // first probe slot in the same swap.
        let next = w.next(State::HalfOpen).with_probes(1);
        match self.cas(w, next) {
            Ok(()) => {
                self.start_lease(next, now);
                self.published(w, next, Reason::OpenElapsed, now, None);
                Ok(self.issue(next, true))
            }
            Err(actual) => match actual.state() {
                State::HalfOpen => self.acquire_half_open(actual),
                s if s.admits_all() => Ok(self.issue(actual, false)),
                s => Err(self.reject(s, Some(Duration::ZERO))),
            },
        }
    }

    /// Takes a probe slot: at most two compare-and-swap attempts, so admission stays
    /// wait-free; losing both to other probes is a rejection.
    fn acquire_half_open(&self, mut w: Word) -> Result<RawPermit, Rejected> {
        let now = self.clock.coarse_nanos();
        let permits = self.hot.permits.load(Ordering::Relaxed);
        for _ in 0..2 {
            if w.state() != State::HalfOpen {
                break;
            }
            let (next, reclaim) = if w.probes() < permits {
                (w.with_probes(w.probes() + 1), false)
            } else {
                let until = self.lease_deadline(w, now);
                if now < until {
                    return Err(
                        self.reject(State::HalfOpen, Some(Duration::from_nanos(until - now)))
                    );
                }
                // Every slot is held past its lease: write the probes off and start a
                // new half-open generation with this call as its only probe.
                (w.next(State::HalfOpen).with_probes(1), true)
            };
            match self.cas(w, next) {
                Ok(()) => {
                    self.start_lease(next, now);
                    if reclaim {
                        self.published(w, next, Reason::ProbeLeaseExpired, now, None);
                    }
                    return Ok(self.issue(next, true));
                }
                Err(actual) => w = actual,
            }
        }
        // Lost both attempts to other threads' transitions; answer from the state they
        // left (one more look, no loop).
        match w.state() {
            State::Closed if w.0 & FLAG_RAMP != 0 && !self.ramp_admits(w) => {
                Err(self.reject(State::Closed, Some(Duration::ZERO)))
            }
            s if s.admits_all() => Ok(self.issue(w, false)),
            s => Err(self.reject(s, Some(Duration::ZERO))),
        }
    }

    /// The newest probe of generation `w` was admitted at `now`: its lease runs from here.
    fn start_lease(&self, w: Word, now: u64) {
        let lease = self.hot.lease_nanos.load(Ordering::Relaxed);
        // ordering: Release pairs with the Acquire load in `lease_deadline`.
        self.rare.lease_until.store(
            stamp(w.generation(), now.saturating_add(lease)),
            Ordering::Release,
        );
    }

    /// When the probe slots of `w`'s generation may be reclaimed. A lease stamped with
    /// another generation is one this generation's first probe has not written yet: it
    /// is fresh, not expired.
    fn lease_deadline(&self, w: Word, now: u64) -> u64 {
        let lease = self.hot.lease_nanos.load(Ordering::Relaxed);
        unstamp(
            self.rare.lease_until.load(Ordering::Acquire),
            w.generation(),
        )
        .unwrap_or(now.saturating_add(lease))
    }

    fn ramp_admits(&self, w: Word) -> bool {
        let now = self.clock.coarse_nanos();
        let ramp = self.hot.ramp_nanos.load(Ordering::Relaxed);
        let start =
            unstamp(self.hot.ramp_start.load(Ordering::Acquire), w.generation()).unwrap_or(now);
        let elapsed = now.saturating_sub(start);
        if ramp == 0 || elapsed >= ramp {
            // Ramp over: clear the flag (one attempt; a later call retries).
            let _ = self.cas(w, w.with_flags(w.flags() & !FLAG_RAMP));
            return true;
        }
        let initial = f64::from_bits(self.hot.ramp_initial.load(Ordering::Relaxed));
        let fraction = initial + (1.0 - initial) * elapsed as f64 / ramp as f64;
        // A Weyl sequence spreads admissions evenly: over any run of calls the share
        // admitted is the fraction, without a random generator on the hot path.
        // ordering: Relaxed, the ticket only needs to be distinct.
        let ticket = self.rare.ramp_ticket.fetch_add(1, Ordering::Relaxed);
        let u = (ticket.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
        u < fraction
    }

    fn cas(&self, from: Word, to: Word) -> Result<(), Word> {
        // ordering: AcqRel; Release publishes the transition, Acquire on failure lets
        // the caller act on the word it lost to.
        self.word
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
    }

    // -------------------------------------------------------------------- record

    /// Records the outcome of a call admitted with `permit`. `latency_nanos` overrides
    /// the latency measured from admission. Never panics, whatever the permit holds.
    #[inline]
    pub fn record_raw(&self, permit: RawPermit, outcome: Outcome, latency_nanos: Option<u64>) {
        if permit.flags == 0 && latency_nanos.is_none() && outcome == Outcome::Success {
            // The common case. The permit's one needed field goes by register: a
            // permit passed by reference is stored field by field and reloaded whole,
            // which stalls store-to-load forwarding (several ns a call on x86).
            self.record_plain_success(permit.generation);
        } else {
            self.record_other(permit, outcome, latency_nanos);
        }
    }

    /// Every record but a plain success: a timed success takes its own short path
    /// (kept out of the inlined `record_raw`, which stays small), the rest the general
    /// one.
    #[inline(never)]
    fn record_other(&self, permit: RawPermit, outcome: Outcome, latency_nanos: Option<u64>) {
        if permit.flags == P_TIMED && latency_nanos.is_none() && outcome == Outcome::Success {
            self.record_timed_success(permit.generation, permit.start_nanos);
        } else {
            self.record_general(permit, outcome, latency_nanos);
        }
    }

    /// An untimed success in Closed, of a permit of generation `generation`: one
    /// counter, a look at the streak, and a clock read only where a time window needs
    /// one.
    #[inline(never)]
    fn record_plain_success(&self, generation: u32) {
        // Two functions, reached by tail calls: were they one, the time path's clock
        // reads would make every count-window success save and restore registers too.
        if self.window.built_count_based() {
            self.record_plain_count_success(generation)
        } else {
            self.record_plain_time_success(generation)
        }
    }

    /// [`record_plain_success`](Breaker::record_plain_success) on a window built
    /// time-based (which may be count-based now).
    #[inline(never)]
    fn record_plain_time_success(&self, generation: u32) {
        // The clock first: read before the window's geometry, it keeps few values alive
        // across a clock that may be a call (fewer registers to save). A time-built
        // window that is count-based now reads it for nothing; that is rare.
        let recorded = self.window.record_success(self.clock.coarse_nanos());
        self.after_plain_success(recorded, generation);
    }

    /// [`record_plain_success`](Breaker::record_plain_success) on a window built
    /// count-based: no clock read.
    #[inline(never)]
    fn record_plain_count_success(&self, generation: u32) {
        let recorded = self.window.record_count_success();
        self.after_plain_success(recorded, generation);
    }

    /// What follows the count of a plain success: the streak ends, and the rules run
    /// if the window may trip.
    #[inline(always)]
    fn after_plain_success(&self, recorded: Recorded, generation: u32) {
        // ordering: Relaxed, a streak; load first so a healthy breaker's line stays
        // shared.
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Relaxed);
        }
        if must_look(recorded, self.hot.needs_eval.load(Ordering::Relaxed)) {
            self.recheck_after_success(generation);
        }
    }

    /// A success timed from `start_nanos`, of a permit of generation `generation` that
    /// is neither a probe nor counted in flight: the latency decides. A call that is
    /// neither slow nor over the percentile limit is counted and binned like a plain
    /// success (no failure, no streak, the rules only if the window may trip); any
    /// other goes the general way, with the time already read.
    #[inline(never)]
    fn record_timed_success(&self, generation: u32, start_nanos: u64) {
        let now = self.clock.now_nanos();
        let latency = now.saturating_sub(start_nanos);
        // ordering: Relaxed, options (see `Hot::load_from`).
        let slow = self.hot.slow_nanos.load(Ordering::Relaxed);
        let limit = self.hot.limit_nanos.load(Ordering::Relaxed);
        if latency >= slow.min(limit) {
            let permit = RawPermit {
                generation,
                flags: P_TIMED,
                start_nanos,
            };
            return self.record_measured(permit, Outcome::Success, now, Some(latency));
        }
        let recorded = self.window.record_timed_success(now, latency);
        self.after_plain_success(recorded, generation);
    }

    #[inline(never)]
    fn recheck_after_success(&self, generation: u32) {
        let permit = RawPermit {
            generation,
            ..RawPermit::default()
        };
        self.recheck(permit, self.clock.coarse_nanos(), 0);
    }

    #[inline(never)]
    fn record_general(&self, permit: RawPermit, outcome: Outcome, latency_nanos: Option<u64>) {
        if permit.flags & P_IN_FLIGHT != 0 {
            self.totals.bump(IN_FLIGHT, u64::MAX); // wrapping -1
        }
        if permit.flags & P_UNCOUNTED != 0 {
            return;
        }
        let (now, latency) = match latency_nanos {
            Some(l) => (self.clock.coarse_nanos(), Some(l)),
            None if permit.flags & P_TIMED != 0 => {
                let now = self.clock.now_nanos();
                (now, Some(now.saturating_sub(permit.start_nanos)))
            }
            None => (self.clock.coarse_nanos(), None),
        };
        self.record_measured(permit, outcome, now, latency);
    }

    /// [`record_general`](Breaker::record_general) once the time is read and the
    /// latency known, for a permit whose outcome counts.
    fn record_measured(&self, permit: RawPermit, outcome: Outcome, now: u64, latency: Option<u64>) {
        let kind = match outcome {
            Outcome::Ignored => {
                self.totals.bump(IGNORED, 1);
                if permit.is_probe() {
                    self.settle_probe(permit, ProbeResult::Released, now);
                }
                return;
            }
            Outcome::Success => None,
            Outcome::Failure(k) => Some(k),
        };
        let lat = latency.unwrap_or(0);
        let delta = Delta {
            weighted_failures: kind.map_or(0, |k| {
                self.hot.weights[k as usize].load(Ordering::Relaxed) as u64
            }),
            slow: kind.is_none()
                && latency.is_some()
                && lat >= self.hot.slow_nanos.load(Ordering::Relaxed),
            over_limit: latency.is_some() && lat >= self.hot.limit_nanos.load(Ordering::Relaxed),
        };
        let look_again = self.hot.needs_eval.load(Ordering::Relaxed);
        let recorded = self.window.record(now, delta, latency);
        let consecutive = match kind {
            Some(k) => {
                // ordering: Relaxed, statistics and a streak; no memory is published.
                self.totals.failures[k as usize].fetch_add(1, Ordering::Relaxed);
                self.totals
                    .last_failure
                    .store(now.saturating_add(1), Ordering::Relaxed);
                self.consecutive
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1)
            }
            None => {
                // Load first: a success in a healthy breaker leaves the line shared.
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Relaxed);
                }
                0
            }
        };
        if permit.is_probe() {
            let result = if kind.is_some() {
                ProbeResult::Failed
            } else {
                ProbeResult::Succeeded
            };
            if self.settle_probe(permit, result, now) {
                return;
            }
            // A probe of an earlier generation is a late outcome like any other.
        }
        if kind.is_some() || delta.slow || delta.over_limit || must_look(recorded, look_again) {
            self.recheck(permit, now, consecutive);
        }
    }

    /// The outcome just recorded may change the verdict: evaluate the rules if it may
    /// drive a transition.
    #[inline(never)]
    fn recheck(&self, permit: RawPermit, now: u64, consecutive: u32) {
        let w = self.load_word();
        if w.state() == State::Closed {
            if w.generation() == permit.generation {
                self.evaluate(w, now, consecutive);
            } else {
                // A late outcome may not trip the breaker itself, but it changed the
                // window: the next current outcome must look.
                self.hot.needs_eval.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Gives a permit back unrecorded (metric `abandoned`): frees a probe slot.
    pub fn release_raw(&self, permit: RawPermit) {
        if permit.flags & P_IN_FLIGHT != 0 {
            self.totals.bump(IN_FLIGHT, u64::MAX);
        }
        self.totals.bump(ABANDONED, 1);
        if permit.is_probe() {
            self.settle_probe(permit, ProbeResult::Released, self.clock.coarse_nanos());
        }
    }

    /// Checks the trip rules against the window; trips if one holds.
    fn evaluate(&self, w: Word, now: u64, consecutive: u32) {
        let config = self.config.load();
        if let Some(limit) = config.consecutive_failures {
            if consecutive >= limit {
                let reason = Reason::ConsecutiveFailures {
                    count: consecutive,
                    limit,
                };
                self.trip_unless_damped(&config, w, reason, now);
                return;
            }
        }
        let needed = Needed {
            failures: config.failure_rate_threshold.is_some(),
            slow: config.slow_call_rate_threshold.is_some(),
            over_limit: config.latency_percentile.is_some(),
        };
        let sums = self.window.sums(now, needed);
        let threshold = self.failure_threshold(&config, &sums, consecutive, true);
        let verdict = verdict(&config, threshold, &sums);
        let waiting = verdict.waiting_for_minimum;
        if self.hot.needs_eval.load(Ordering::Relaxed) != waiting {
            self.hot.needs_eval.store(waiting, Ordering::Relaxed);
        }
        if let Some(reason) = verdict.trip {
            self.trip_unless_damped(&config, w, reason, now);
        }
    }

    /// The failure-rate threshold in force: the configured one, adapted to volume and
    /// streaks when `adaptive_threshold` is set. `at_outcome` is true when an outcome
    /// is being evaluated (a failure ends the success streak it is measured against).
    fn failure_threshold(
        &self,
        config: &Config,
        sums: &Sums,
        consecutive: u32,
        at_outcome: bool,
    ) -> Option<f64> {
        let base = config.failure_rate_threshold?;
        let Some(adaptive) = &config.adaptive_threshold else {
            return Some(base);
        };
        // Successes in a row = calls since the last failure, from lifetime totals.
        let total = self.window.lifetime().0;
        let since = self.totals.streak_base.load(Ordering::Relaxed);
        let success_streak = if consecutive > 0 {
            if at_outcome {
                self.totals.streak_base.store(total, Ordering::Relaxed);
            }
            total.saturating_sub(since).saturating_sub(1)
        } else {
            total.saturating_sub(since)
        };
        let signals = Signals {
            volume: sums.calls,
            success_streak,
            failure_streak: consecutive,
        };
        Some(adaptive.effective(base, signals))
    }

    /// Trips, unless anti-thrash holds the breaker closed after a recent recovery; then
    /// the next outcome looks again.
    fn trip_unless_damped(&self, config: &Config, w: Word, reason: Reason, now: u64) {
        if let Some(damping) = config.anti_thrash {
            let closed = self.hot.closed_at.load(Ordering::Relaxed);
            let min = u64::try_from(damping.min_closed.as_nanos()).unwrap_or(u64::MAX);
            if closed != 0 && now < (closed - 1).saturating_add(min) {
                self.hot.needs_eval.store(true, Ordering::Relaxed);
                return;
            }
        }
        self.trip(w, reason, now);
    }

    fn trip(&self, mut w: Word, reason: Reason, now: u64) {
        loop {
            let next = w.next(State::Open).with_flags(w.flags() & !FLAG_RAMP);
            match self.cas(w, next) {
                Ok(()) => return self.opened(w, next, reason, now, false),
                // Only a flag changed (the ramp ended, a reconfiguration): same state,
                // same generation, so the verdict still stands.
                Err(actual)
                    if actual.state() == State::Closed && actual.generation() == w.generation() =>
                {
                    w = actual
                }
                // Another thread moved the breaker on: its transition stands.
                Err(_) => return,
            }
        }
    }

    /// After winning a transition to Open: deadline, then event.
    fn opened(&self, from: Word, to: Word, reason: Reason, now: u64, retrip: bool) {
        let config = self.config.load();
        let min_open = config.anti_thrash.map_or(0, |a| {
            u64::try_from(a.min_open.as_nanos()).unwrap_or(u64::MAX)
        });
        let duration =
            self.cold
                .lock()
                .backoff
                .next_open_at_least(&config.open, now, retrip, min_open);
        // ordering: Release pairs with the Acquire load in `acquire_open`.
        self.hot.open_until.store(
            stamp(to.generation(), now.saturating_add(duration)),
            Ordering::Release,
        );
        self.hot.needs_eval.store(false, Ordering::Relaxed);
        self.published(from, to, reason, now, Some(Duration::from_nanos(duration)));
    }

    /// Applies a probe's result to the half-open state. Returns false for a probe of an
    /// earlier generation, which decides nothing.
    fn settle_probe(&self, permit: RawPermit, result: ProbeResult, now: u64) -> bool {
        let mut w = self.load_word();
        loop {
            if w.state() != State::HalfOpen || w.generation() != permit.generation {
                return false;
            }
            let probes = w.probes().saturating_sub(1);
            let next = match result {
                ProbeResult::Released => w.with_probes(probes),
                ProbeResult::Failed => w.next(State::Open).with_flags(w.flags() & !FLAG_RAMP),
                ProbeResult::Succeeded => {
                    let ok = w.probe_successes() + 1;
                    if ok >= self.hot.success_threshold.load(Ordering::Relaxed) {
                        self.close_word(w)
                    } else {
                        w.with_probes(probes).with_probe_successes(ok)
                    }
                }
            };
            match self.cas(w, next) {
                Ok(()) => {
                    match next.state() {
                        State::Open => self.opened(w, next, Reason::ProbeFailed, now, true),
                        State::Closed => {
                            let successes = w.probe_successes() + 1;
                            self.closed(w, next, Reason::ProbesSucceeded { successes }, now)
                        }
                        _ => {}
                    }
                    return true;
                }
                Err(actual) => w = actual,
            }
        }
    }

    /// The Closed word that follows `w`, with the slow-start ramp flag when configured.
    fn close_word(&self, w: Word) -> Word {
        let ramp = self.hot.ramp_nanos.load(Ordering::Relaxed) > 0;
        let flags = (w.flags() & !FLAG_RAMP) | if ramp { FLAG_RAMP } else { 0 };
        w.next(State::Closed).with_flags(flags)
    }

    /// After winning a transition to Closed: fresh window, backoff clock, ramp start.
    fn closed(&self, from: Word, to: Word, reason: Reason, now: u64) {
        self.hot
            .closed_at
            .store(now.saturating_add(1), Ordering::Relaxed);
        self.hot
            .ramp_start
            .store(stamp(to.generation(), now), Ordering::Release);
        let shape = Shape::of(&self.config.load().window);
        self.window.restart(shape, now);
        self.hot.needs_eval.store(false, Ordering::Relaxed);
        self.cold.lock().backoff.closed(now);
        self.published(from, to, reason, now, None);
    }

    /// Bookkeeping and event for a transition this thread won.
    fn published(
        &self,
        from: Word,
        to: Word,
        reason: Reason,
        now: u64,
        open_for: Option<Duration>,
    ) {
        self.totals.state_since.store(now, Ordering::Relaxed);
        self.totals.transitions.fetch_add(1, Ordering::Relaxed);
        {
            let mut cold = self.cold.lock();
            if cold.recent_transitions.len() == RECENT_TRANSITIONS {
                cold.recent_transitions.pop_front();
            }
            cold.recent_transitions.push_back(now);
        }
        self.listeners.emit(&Transition {
            from: from.state(),
            to: to.state(),
            reason,
            generation: to.generation(),
            at_nanos: now,
            at: self.clock.wall_time(now),
            open_for,
        });
    }

    // --------------------------------------------------------------- call helpers

    /// Runs `f` if admitted; `Ok` is a success, `Err` a failure of kind `Other`.
    ///
    /// A panic in `f` is recorded as a failure and then resumes.
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        self.call_classified(f, |r| match r {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure(FailureKind::Other),
        })
    }

    /// Runs `f` if admitted and records what `classify` makes of its result.
    pub fn call_classified<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f();
        finish(permit, classify(&result));
        result.map_err(CallError::Failed)
    }

    /// Awaits `fut` if admitted; `Ok` is a success, `Err` a failure of kind `Other`.
    /// Runtime-agnostic. If the returned future is dropped before it completes, the
    /// permit is released unrecorded (a cancellation says nothing about the
    /// dependency).
    pub async fn call_async<T, E, F>(&self, fut: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = fut.await;
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure(FailureKind::Other),
        };
        finish(permit, outcome);
        result.map_err(CallError::Failed)
    }

    // ----------------------------------------------------------- manual control

    /// Holds the breaker open: every call is rejected until another manual call.
    pub fn force_open(&self) {
        self.set_manual(State::ForcedOpen);
    }

    /// Holds the breaker closed: every call flows and is counted; nothing trips.
    pub fn force_closed(&self) {
        self.set_manual(State::ForcedClosed);
    }

    /// Switches the breaker off: every call flows and nothing is counted.
    pub fn disable(&self) {
        self.set_manual(State::Disabled);
    }

    /// Counts every call but never trips.
    pub fn metrics_only(&self) {
        self.set_manual(State::MetricsOnly);
    }

    /// Back to Closed with an empty window, no failure streak and no backoff; lifetime
    /// totals are kept.
    pub fn reset(&self) {
        let now = self.clock.coarse_nanos();
        let mut w = self.load_word();
        loop {
            let next = w.next(State::Closed).with_flags(w.flags() & !FLAG_RAMP);
            match self.cas(w, next) {
                Ok(()) => {
                    self.consecutive.store(0, Ordering::Relaxed);
                    self.cold.lock().backoff.reset(now);
                    self.window
                        .restart(Shape::of(&self.config.load().window), now);
                    self.hot.needs_eval.store(false, Ordering::Relaxed);
                    self.published(w, next, Reason::Manual, now, None);
                    return;
                }
                Err(actual) => w = actual,
            }
        }
    }

    fn set_manual(&self, to: State) {
        let now = self.clock.coarse_nanos();
        let mut w = self.load_word();
        loop {
            if w.state() == to {
                return;
            }
            let next = w.next(to).with_flags(w.flags() & !FLAG_RAMP);
            match self.cas(w, next) {
                Ok(()) => {
                    self.published(w, next, Reason::Manual, now, None);
                    return;
                }
                Err(actual) => w = actual,
            }
        }
    }

    // ---------------------------------------------------------- reconfiguration

    /// Replaces the config while the breaker runs. An invalid config is refused and
    /// the old one keeps running.
    ///
    /// State, backoff and counters always survive. The window's contents survive when
    /// its shape (kind, size or duration, buckets) is unchanged; otherwise the window
    /// restarts empty in the new shape. A window can never grow past the buckets it
    /// was built with, a window built count-based cannot become time-based (it keeps
    /// no call counters per bucket), and latency tracking or histogram precision
    /// cannot be switched on or changed live: all need memory the breaker does not
    /// have (build a new breaker instead).
    pub fn reconfigure(&self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        let old = self.config.load_full();
        LiveLimits {
            buckets: self.window.capacity(),
            time_based: !self.window.built_count_based(),
            histogram_precision: self
                .window
                .has_histograms()
                .then_some(old.histogram_precision),
        }
        .check(&config)?;
        let shape = Shape::of(&config.window);
        let now = self.clock.coarse_nanos();
        let _cold = self.cold.lock();
        let reshaped = Shape::of(&old.window) != shape;
        self.config.store(Arc::new(config.clone()));
        self.hot.load_from(&config);
        let mut w = self.load_word();
        loop {
            let mut flags = Self::flags_for(&config) | (w.flags() & FLAG_RAMP);
            if config.slow_start.is_none() {
                flags &= !FLAG_RAMP;
            }
            if flags == w.flags() {
                break;
            }
            match self.cas(w, w.with_flags(flags)) {
                Ok(()) => break,
                Err(actual) => w = actual,
            }
        }
        if reshaped {
            self.window.restart(shape, now);
        }
        self.hot.needs_eval.store(true, Ordering::Relaxed);
        Ok(())
    }

    // --------------------------------------------------------------- listeners

    /// Registers a transition listener. It runs on the thread that won the transition,
    /// after the new state is published and outside every lock.
    pub fn add_listener(&self, f: impl Fn(&Transition) + Send + Sync + 'static) -> ListenerId {
        self.listeners.add(Arc::new(f) as Listener)
    }

    /// Removes a listener; returns whether it was registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    // -------------------------------------------------------------------- reads

    /// How long until a call may be admitted; `None` while calls are admitted, or
    /// when held open by an operator.
    pub fn retry_after(&self) -> Option<Duration> {
        let w = self.load_word();
        let now = self.clock.coarse_nanos();
        match w.state() {
            State::Open => Some(Duration::from_nanos(
                unstamp(self.hot.open_until.load(Ordering::Acquire), w.generation())
                    .map_or(self.hot.base_open_nanos.load(Ordering::Relaxed), |d| {
                        d.saturating_sub(now)
                    }),
            )),
            State::HalfOpen if w.probes() >= self.hot.permits.load(Ordering::Relaxed) => Some(
                Duration::from_nanos(self.lease_deadline(w, now).saturating_sub(now)),
            ),
            _ => None,
        }
    }

    /// Latency figures over the window, when latency is tracked: the percentiles of
    /// [`snapshot`](Breaker::snapshot) without the rest (one pass over the histograms).
    pub fn latency(&self) -> Option<crate::LatencySummary> {
        self.window.latency(self.clock.now_nanos())
    }

    /// A reading of every figure. Costs O(window); takes no lock writers need.
    pub fn snapshot(&self) -> Snapshot {
        let w = self.load_word();
        let now = self.clock.now_nanos();
        let sums = self.window.sums(now, Needed::ALL);
        let (calls, slow_calls) = self.window.lifetime();
        let config = self.config.load();
        let f = |k: FailureKind| self.totals.failures[k as usize].load(Ordering::Relaxed);
        let failures_by_kind = FailureCounts {
            timeout: f(FailureKind::Timeout),
            connection: f(FailureKind::Connection),
            server_error: f(FailureKind::ServerError),
            rejected: f(FailureKind::Rejected),
            other: f(FailureKind::Other),
        };
        let failures = failures_by_kind.total();
        let last_failure = match self.totals.last_failure.load(Ordering::Relaxed) {
            0 => None,
            t => Some(self.clock.wall_time(t - 1)),
        };
        let cold = self.cold.lock();
        let snapshot = Snapshot {
            state: w.state(),
            generation: w.generation(),
            time_in_state: Duration::from_nanos(
                now.saturating_sub(self.totals.state_since.load(Ordering::Relaxed)),
            ),
            transitions: self.totals.transitions.load(Ordering::Relaxed),
            calls,
            successes: calls.saturating_sub(failures),
            failures,
            failures_by_kind,
            ignored: self.totals.sum(IGNORED),
            slow_calls,
            rejected: self.totals.sum(REJECTED),
            abandoned: self.totals.sum(ABANDONED),
            in_flight: (w.0 & FLAG_IN_FLIGHT != 0).then(|| self.totals.sum(IN_FLIGHT)),
            half_open_probes: if w.state() == State::HalfOpen {
                w.probes()
            } else {
                0
            },
            window_calls: sums.calls,
            failure_rate: sums.failure_rate(),
            slow_call_rate: sums.slow_rate(),
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            last_failure,
            retry_after: self.retry_after(),
            backoff_level: cold.backoff.level(),
            transitions_last_minute: cold
                .recent_transitions
                .iter()
                .filter(|&&t| now.saturating_sub(t) < 60_000_000_000)
                .count() as u32,
            effective_failure_rate_threshold: self.failure_threshold(
                &config,
                &sums,
                self.consecutive.load(Ordering::Relaxed),
                false,
            ),
            latency: self.window.latency(now),
            listener_panics: self.listeners.panics(),
        };
        drop(cold);
        snapshot
    }

    /// Bytes this breaker occupies, heap included.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() - std::mem::size_of::<Window>()
            + self.window.memory()
            + std::mem::size_of::<Config>()
    }
}

fn finish<C: Clock>(permit: Permit<'_, C>, outcome: Outcome) {
    match outcome {
        Outcome::Success => permit.success(),
        Outcome::Failure(k) => permit.failure(k),
        Outcome::Ignored => permit.ignore(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeResult {
    Succeeded,
    Failed,
    Released,
}

/// What the rate and percentile rules make of a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) trip: Option<Reason>,
    /// A rule holds but the window has fewer than `minimum_calls` calls: the next
    /// success must re-check (it may bring the window to the minimum).
    pub(crate) waiting_for_minimum: bool,
}

/// The rate and percentile rules, in one place: `>=` everywhere, each gated by
/// `minimum_calls`.
pub(crate) fn verdict(config: &Config, failure_threshold: Option<f64>, s: &Sums) -> Verdict {
    let mut reason = None;
    if let Some(t) = failure_threshold {
        let rate = s.failure_rate();
        // No failure, no failure-rate trip, whatever the threshold (an adaptive one
        // can shrink towards zero); `Window::may_trip` relies on it.
        if s.weighted_failures > 0
            && reaches(
                s.weighted_failures as f64,
                t * (s.calls * WEIGHT_SCALE) as f64,
            )
        {
            reason = Some(Reason::FailureRate { rate, threshold: t });
        }
    }
    if reason.is_none() {
        if let Some(t) = config.slow_call_rate_threshold {
            if reaches(s.slow as f64, t * s.calls as f64) {
                reason = Some(Reason::SlowCallRate {
                    rate: s.slow_rate(),
                    threshold: t,
                });
            }
        }
    }
    if reason.is_none() {
        if let Some(p) = config.latency_percentile {
            // quantile q >= limit  <=>  fewer than ceil(q * n) calls are under the limit.
            let rank = (p.quantile.0 * s.calls as f64).ceil() as u64;
            if s.calls > 0 && s.calls - s.over_limit < rank.max(1) {
                reason = Some(Reason::LatencyPercentile {
                    quantile: p.quantile.0,
                    limit: p.limit,
                });
            }
        }
    }
    let gated = s.calls < config.minimum_calls as u64;
    Verdict {
        trip: if gated { None } else { reason },
        waiting_for_minimum: gated && reason.is_some(),
    }
}

/// Whether a healthy record must run the rules: it opened a new epoch (old buckets left
/// the window, which can raise a rate) or an earlier look asked for another
/// (`look_again`), and the window may hold something that can trip a rule at all. A
/// window with no failure, slow call or call over the limit cannot trip, so a healthy
/// breaker with a bucket per call skips the rules on every call.
#[inline]
fn must_look(recorded: Recorded, look_again: bool) -> bool {
    (recorded.rotated || look_again) && recorded.may_trip
}

/// `value >= target`, forgiving the last bits of floating-point rounding so that a
/// rate exactly at its threshold trips.
fn reaches(value: f64, target: f64) -> bool {
    value >= target - target.abs() * 1e-12
}

#[cfg(all(test, not(loom)))]
mod tests;
