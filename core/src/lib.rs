//! A lock-free circuit breaker.
//!
//! A breaker stops a service from hammering a failing dependency: **Closed** (calls
//! flow, outcomes counted) → **Open** (calls rejected at once) → **Half-Open** (a few
//! probes decide) → Closed, or Open again.
//!
//! - Admission is wait-free in every state (in Closed one atomic load), takes no lock
//!   and never runs a listener: a transition it wins only queues its event (see
//!   [`Breaker::dispatch_events`]).
//! - Count- and time-based sliding windows with striped counters; trips on weighted
//!   failure rate, slow-call rate, consecutive failures or a latency percentile.
//! - Bounded half-open probing with leases, exponential backoff with jitter and decay,
//!   slow start, transition events, snapshots with latency percentiles, live
//!   reconfiguration.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tripgate::{Breaker, Config, FailureKind, ManualClock, State};
//!
//! let clock = ManualClock::new();
//! let config = Config::builder()
//!     .count_window(10)
//!     .minimum_calls(4)
//!     .failure_rate_threshold(0.5)
//!     .open_duration(Duration::from_secs(30))
//!     .build()?;
//! let breaker = Breaker::with_clock(config, clock.clone())?;
//!
//! // Two successes and two failures: 50% of 4 calls trips the breaker.
//! for ok in [true, true, false, false] {
//!     let permit = breaker.try_acquire().expect("closed");
//!     if ok { permit.success() } else { permit.failure(FailureKind::Timeout) }
//! }
//! assert_eq!(breaker.state(), State::Open);
//! let rejected = breaker.try_acquire().unwrap_err();
//! assert_eq!(rejected.retry_after, Some(Duration::from_secs(30)));
//!
//! // After the open duration one probe is let through; its success closes the breaker.
//! clock.advance(Duration::from_secs(30));
//! let probe = breaker.try_acquire().expect("probe");
//! assert_eq!(breaker.state(), State::HalfOpen);
//! probe.success();
//! assert_eq!(breaker.state(), State::Closed);
//!
//! // Or let the breaker run the call.
//! let answer: Result<u32, tripgate::CallError<&str>> = breaker.call(|| Ok(42));
//! assert_eq!(answer.unwrap(), 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Conventions
//!
//! Where the well-known breakers disagree, tripgate picks one rule and keeps it:
//! - every threshold comparison is `>=`: a rate exactly at its threshold trips, and `N`
//!   consecutive failures with a limit of `N` trip; a call at least
//!   `slow_call_duration` long is slow whatever its outcome (a slow failure counts
//!   as a failure and as a slow call);
//! - an open breaker admits its first probe when `now >= opened_at + open_duration`;
//! - the call whose failure trips the breaker gets its own error; later calls are
//!   rejected;
//! - ignored outcomes count neither way, reset no streak and free a half-open slot;
//! - `minimum_calls` above a count window's size is refused (`1..=size`), not capped,
//!   while a rule it gates (failure rate, slow-call rate, percentile) is configured;
//! - lifetime counters survive transitions; the window restarts when the breaker
//!   closes;
//! - the failure streak counts the outcomes of calls admitted in the current
//!   generation only (each transition starts one): a call admitted before a trip and
//!   recorded after it neither lengthens nor ends the streak. The streak itself is
//!   carried across the transition, so a tripped breaker still reads the failures
//!   that tripped it (`consecutive_failures`) until a newer outcome starts the next;
//! - a call that ends at or after its deadline (admission plus `call_timeout`) is
//!   recorded once, as a [`FailureKind::Timeout`], whatever its result (the clock's
//!   precise reading decides); only an async call given a [`Timer`] is cut short
//!   there (see [`Breaker::call_async_with`]);
//! - a call its caller gives up on (an async call dropped, a binding's cancellation) is
//!   a timeout once it has run past its deadline or for at least `slow_call_duration`,
//!   and is released unrecorded before that ([`Permit::cancelled`],
//!   [`Breaker::complete_raw`]);
//! - deadlines use the clock's coarse reading (on [`SystemClock`] the same precise
//!   reading; a custom [`Clock`] may make it cheaper and a few milliseconds late).
//!
//! # Cargo features
//!
//! - `tokio` (off by default): `TokioTimer`, tokio's sleep as the [`Timer`] of
//!   [`Breaker::call_async_with`]. Without it the crate depends on no runtime; any
//!   other runtime's sleep is a [`Timer`] in a few lines.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod backoff;
mod breaker;
mod clock;
pub mod codes;
pub mod config;
mod events;
mod fastdiv;
mod histogram;
mod metrics;
mod outcome;
mod permit;
mod rules;
mod state;
mod sync;
mod timer;
mod window;

// The adaptive threshold is one of the trip rules; config refers to it by this path.
use rules::adaptive;

pub use breaker::{Breaker, CallError, Rejected};
pub use clock::{AnyClock, Clock, ManualClock, ManualSleep, SystemClock, UpkeepHandle};
pub use config::{
    AdaptiveThreshold, AntiThrash, Config, ConfigBuilder, ConfigError, FailureWeights,
    HalfOpenConfig, OpenConfig, PercentileRule, Quantile, SlowStart, Tier, WindowConfig,
    MAX_BUCKETS, MAX_DURATION, MAX_FAILURE_WEIGHT, MAX_HALF_OPEN_PERMITS, MAX_NAME_LEN,
    MAX_WINDOW_SIZE,
};
pub use events::{CallEvent, Listener, ListenerId, Reason, Transition};
pub use histogram::{LatencySummary, MAX_TRACKABLE};
pub use metrics::{CallDurations, FailureCounts, RuleReadings, Snapshot};
pub use outcome::{FailureKind, Outcome};
pub use permit::{OwnedPermit, Permit, PermitError, RawPermit};
pub use state::State;
pub use timer::Timer;
#[cfg(feature = "tokio")]
pub use timer::TokioTimer;
