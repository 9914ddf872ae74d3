//! [`Breaker`]: the public face of the engine, tying the state word, the window, the
//! backoff and the events together.
//!
//! # The hot path
//!
//! Admission in `Closed` is one `Acquire` load of the state word (which lives alone on
//! its cache line) and, only when calls are timed, one clock read. Recording a success
//! is one clock read, loads of read-mostly lines (the options; the streak and the calls
//! for attention, together on one line) and one `fetch_add` on the calling thread's own
//! window stripe. Rules are evaluated only when an outcome can
//! change the verdict: a failure, a slow call, a call over the percentile limit, the
//! first call of a new bucket (old buckets may have left the window), or a success
//! while a rule is waiting only for `minimum_calls`.
//!
//! # Transitions
//!
//! Every transition is one compare-and-swap on the state word. The winner alone then
//! writes what depends on it (open deadline, window restart, backoff) and emits the
//! event, outside every lock. Times it writes after the swap that admission reads (the
//! open deadline, the half-open lease's start, the slow-start ramp's start) are kept
//! with the generation they belong to, so a reader never mistakes the previous
//! opening's deadline for the current one.

mod admission;
mod call;
mod control;
mod errors;
mod evaluate;
mod names;
mod opened_by;
mod raw;
mod record;
mod snapshot;
mod storage;
mod transitions;

pub(crate) use errors::Rounded;
pub use errors::{CallError, Rejected};

use crate::adaptive::Signals;
use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, LiveLimits};
use crate::events::{
    CallEvent, Events, Listener, ListenerId, Listeners, Publishing, Reason, Transition,
    CALL_LISTENERS, EVENTS_WAITING,
};
use crate::histogram::Layout;
use crate::metrics::{CallDurations, FailureCounts, RuleReadings, Snapshot};
use crate::outcome::{FailureKind, Outcome};
use crate::permit::{
    Grant, OwnedPermit, Permit, PermitError, PermitKey, RawPermit, P_DEADLINE, P_IN_FLIGHT,
    P_PROBE, P_TIMED, P_UNCOUNTED,
};
use crate::state::{State, Word, FLAG_DEADLINE, FLAG_IN_FLIGHT, FLAG_RAMP, FLAG_TIMED, STATE_MASK};
use crate::sync::{
    totals_stripe, AtomicBool, AtomicU32, AtomicU64, Ordering, TotalsStripe, OWNED_STRIPES,
    TOTALS_STRIPES,
};
use crate::window::{Delta, Needed, Recorded, Shape, Sums, Window, WEIGHT_SCALE};
use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use names::NameSlot;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::rules::{verdict, RateRules};
use storage::*;
use transitions::ProbeResult;

/// A circuit breaker.
///
/// Shareable across threads (`&Breaker` is all a caller needs; wrap it in an `Arc` to
/// share ownership). See the [crate documentation](crate) for an example.
///
/// The type is aligned to 128 bytes (its hot words each sit on their own cache-line
/// pair), so a binding that places it in memory it allocates itself (a Python object,
/// a C struct) should box it: `Box`/`Arc` honour the alignment.
pub struct Breaker<C: Clock = SystemClock> {
    /// The state word, alone on its line: admission reads nothing else in Closed.
    word: CachePadded<AtomicU64>,
    options: CachePadded<Options>,
    attention: CachePadded<Attention>,
    /// Written on transitions and during half-open and slow start.
    timeline: CachePadded<Timeline>,
    window: Window,
    totals: Totals,
    config: ArcSwap<Config>,
    events: Events,
    call_listeners: Listeners<CallEvent>,
    /// Open durations: consecutive re-trips, decay, jitter. Taken once per opening.
    backoff: parking_lot::Mutex<Backoff>,
    /// The breaker's name, as rejections carry it (a handle; renamed by a
    /// reconfiguration).
    name: NameSlot,
    /// Serialises reconfigurations.
    reconfiguring: parking_lot::Mutex<()>,
    clock: C,
    /// Seals the raw permits this breaker issues (see [`RawPermit`]).
    permit_key: PermitKey,
}

impl Breaker<SystemClock> {
    /// A breaker on the system clock.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Breaker::with_clock(config, SystemClock::new())
    }
}

impl<C: Clock> Breaker<C> {
    /// A breaker on `clock`, in the config's `initial_state` (no event is published for
    /// it).
    pub fn with_clock(config: Config, clock: C) -> Result<Self, ConfigError> {
        config.validate()?;
        let now = clock.now_nanos();
        let layout = config
            .latency_tracked()
            .then(|| Layout::new(config.histogram_precision));
        let window = Window::new(Shape::of(&config.window), layout, now);
        // Where the window sits and when it was built: entropy for the backoff's jitter
        // (unless the config fixes it) and salt for the permit key.
        let salt = now ^ (&window as *const Window as u64).rotate_left(32);
        let seed = config.seed.unwrap_or(salt);
        let word = Word::new(config.initial_state, 0, Self::flags_for(&config));
        let name = NameSlot::new(&config.name);
        let breaker = Breaker {
            word: CachePadded::new(AtomicU64::new(word.0)),
            options: CachePadded::new(Options::new(&config)),
            attention: CachePadded::new(Attention::new()),
            timeline: CachePadded::new(Timeline::new(now)),
            window,
            totals: Totals::new(),
            config: ArcSwap::from_pointee(config),
            events: Events::new(word.generation()),
            call_listeners: Listeners::new(),
            backoff: parking_lot::Mutex::new(Backoff::new(seed)),
            name,
            reconfiguring: parking_lot::Mutex::new(()),
            clock,
            permit_key: PermitKey::random(salt),
        };
        // An initial state of Open or Half-Open starts as after a trip; the times that
        // state reads belong to generation 0.
        match word.state() {
            State::Open => {
                let config = breaker.config.load();
                let d = breaker.backoff.lock().next_open(&config.open, now, false);
                breaker.timeline.open_until.set(0, now.saturating_add(d));
            }
            State::HalfOpen => breaker.timeline.lease_start.set(0, now),
            _ => {}
        }
        Ok(breaker)
    }

    fn flags_for(config: &Config) -> u64 {
        let mut f = 0;
        if config.latency_tracked() {
            f |= FLAG_TIMED;
        }
        if config.track_in_flight {
            f |= FLAG_IN_FLIGHT;
        }
        if config.call_timeout.is_some() {
            f |= FLAG_DEADLINE;
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
}

#[cfg(all(test, not(loom)))]
mod tests;

impl<C: Clock> Breaker<C> {
    /// Remembers why the breaker opened, for the rejections that follow.
    fn set_opened_by(&self, reason: Reason) {
        self.timeline.opened_by.set(reason);
    }

    /// Renames the breaker in rejections, past and future.
    fn set_rejection_name(&self, name: &str) {
        self.name.rename(name);
    }
}
