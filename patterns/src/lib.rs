//! Resilience patterns built on [`tripgate`] breakers, each a small piece that composes
//! with the others.
//!
//! | module | pattern |
//! |---|---|
//! | [`chain`] | a fallback chain: try steps in order (primary, fallback, cache); the answer names the step that gave it and carries the others' errors. Sync and async |
//! | [`graduated`] | graduated fallback for cached data: live, then recent cache, then stale cache, then a default, then fail |
//! | [`hedge`] | request hedging: start a secondary when the primary is slow, first success wins, the loser is cancelled and recorded as ignored, hedges in flight are capped |
//! | [`bulkhead`] | a concurrency limit per dependency: wait-free `try_acquire`, optional bounded async wait, rejection counts |
//! | [`compose`] | a bulkhead and a breaker around one call, in either order |
//! | [`sleep`] | the timer the async pieces take as a parameter, so they run on any runtime |
//! | `tower` | (feature `tower`) a `tower::Layer` that fails `poll_ready` fast while the breaker is open, with a classifier and a default one for HTTP status codes |
//!
//! Every piece takes its breakers by reference or `Arc`: the breaker stays the single
//! owner of health, and the patterns only decide which breaker to ask and what to record.
//!
//! # Recording conventions
//!
//! - A call a pattern *starts and then cancels* (a hedge's loser, a call dropped while
//!   awaited through [`hedge`]) is recorded as [`Ignored`](tripgate::Outcome::Ignored):
//!   it says nothing about the dependency's health and frees a half-open slot.
//! - A call a pattern *never starts* because something else refused it (a full
//!   bulkhead after the breaker admitted) is recorded as ignored too.
//! - By default `Ok` is a success and `Err` a failure of kind
//!   [`Other`](tripgate::FailureKind::Other); every pattern accepts a classifier.
//!
//! # Examples
//!
//! ```
//! use tripgate::{Breaker, Config};
//! use tripgate_patterns::chain::Chain;
//!
//! let primary = Breaker::new(Config::default())?;
//! primary.force_open(); // the primary is down
//! let answer = Chain::new()
//!     .step("primary", &primary, || Ok::<_, &str>("fresh"))
//!     .unguarded("cache", || Ok("cached"))
//!     .run()
//!     .expect("the cache answers");
//! assert_eq!((answer.index, answer.name, answer.value), (1, "cache", "cached"));
//! assert!(answer.errors[0].is_rejected());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bulkhead;
pub mod chain;
pub mod classify;
pub mod compose;
mod gate;
pub mod graduated;
pub mod hedge;
pub mod sleep;
#[cfg(feature = "tower")]
pub mod tower;

pub use bulkhead::{Bulkhead, BulkheadFull, BulkheadGuard, BulkheadMetrics, OwnedBulkheadGuard};
pub use chain::{Answer, AsyncChain, Chain, ChainError, StepError};
pub use classify::{default_classify, record};
pub use compose::{call_breaker_first, call_bulkhead_first, call_guarded, GuardedError, Order};
pub use graduated::{Graduated, GraduatedError, Served, Tier};
pub use hedge::{Hedge, HedgeDelay, HedgeError, HedgeMetrics, Hedged, Leg, Percentile};
pub use sleep::Sleeper;
