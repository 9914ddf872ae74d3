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

mod admission;
mod call;
mod control;
mod errors;
mod evaluate;
mod raw;
mod record;
mod snapshot;
mod storage;
mod transitions;

pub use errors::{CallError, Rejected};

use crate::adaptive::Signals;
use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, LiveLimits};
use crate::events::{Listener, ListenerId, Listeners, Reason, Transition};
use crate::histogram::Layout;
use crate::metrics::{FailureCounts, Snapshot};
use crate::outcome::{FailureKind, Outcome};
use crate::permit::{
    Grant, Permit, PermitError, PermitKey, RawPermit, P_IN_FLIGHT, P_PROBE, P_TIMED, P_UNCOUNTED,
};
use crate::state::{State, Word, FLAG_IN_FLIGHT, FLAG_RAMP, FLAG_TIMED, STATE_MASK};
use crate::sync::{stripe_index, AtomicBool, AtomicU32, AtomicU64, Ordering, STRIPES};
use crate::window::{Delta, Needed, Recorded, Shape, Sums, Window, WEIGHT_SCALE};
use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::rules::verdict;
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
    /// A breaker on `clock`.
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
            permit_key: PermitKey::random(salt),
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
}

#[cfg(all(test, not(loom)))]
mod tests;
