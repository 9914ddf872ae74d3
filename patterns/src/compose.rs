//! A bulkhead and a breaker around one call, in either order.
//!
//! The order decides who sees a refusal:
//!
//! | order | bulkhead full | breaker open |
//! |---|---|---|
//! | [`BulkheadFirst`](Order::BulkheadFirst) | refused before the breaker is asked: the breaker counts nothing and no half-open probe slot is spent | the slot is taken and released at once |
//! | [`BreakerFirst`](Order::BreakerFirst) | the breaker's permit is recorded as *ignored* (a full bulkhead says nothing about the dependency) and frees its probe slot | refused before the bulkhead is asked: an open breaker takes no slot and inflates no bulkhead count |
//!
//! Bulkhead first is the usual choice: the cap protects this service, and the breaker
//! only counts calls that were actually made. Breaker first keeps the bulkhead's
//! rejection figures about load alone while the dependency is down.
//!
//! # Examples
//!
//! ```
//! use tripgate::{Breaker, Config};
//! use tripgate_patterns::{call_bulkhead_first, Bulkhead, GuardedError};
//!
//! let bulkhead = Bulkhead::new(1);
//! let breaker = Breaker::new(Config::default())?;
//! let _held = bulkhead.try_acquire().unwrap();
//! let r = call_bulkhead_first(&bulkhead, &breaker, || Ok::<_, ()>(1));
//! assert!(matches!(r, Err(GuardedError::Full(_))));
//! assert_eq!(breaker.snapshot().rejected, 0); // the breaker never saw it
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::bulkhead::{Bulkhead, BulkheadFull};
use crate::classify::{default_classify, record};
use std::fmt;
use tripgate::{Breaker, Clock, Outcome, Rejected};

/// Which guard is asked first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The bulkhead, then the breaker.
    BulkheadFirst,
    /// The breaker, then the bulkhead.
    BreakerFirst,
}

/// Why a guarded call did not return a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardedError<E> {
    /// The bulkhead was full; the call was not made.
    Full(BulkheadFull),
    /// The breaker rejected the call; it was not made.
    Rejected(Rejected),
    /// The call was made and failed.
    Failed(E),
}

impl<E: fmt::Display> fmt::Display for GuardedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardedError::Full(e) => e.fmt(f),
            GuardedError::Rejected(e) => e.fmt(f),
            GuardedError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GuardedError<E> {}

/// Runs `f` inside `bulkhead`, then `breaker`. `Ok` is a success, `Err` a failure of
/// kind `Other`.
pub fn call_bulkhead_first<C: Clock, T, E>(
    bulkhead: &Bulkhead,
    breaker: &Breaker<C>,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, GuardedError<E>> {
    call_guarded(Order::BulkheadFirst, bulkhead, breaker, f, default_classify)
}

/// Runs `f` inside `breaker`, then `bulkhead`. `Ok` is a success, `Err` a failure of
/// kind `Other`.
pub fn call_breaker_first<C: Clock, T, E>(
    bulkhead: &Bulkhead,
    breaker: &Breaker<C>,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, GuardedError<E>> {
    call_guarded(Order::BreakerFirst, bulkhead, breaker, f, default_classify)
}

/// Runs `f` inside both guards in `order`, recording what `classify` makes of its result.
pub fn call_guarded<C: Clock, T, E>(
    order: Order,
    bulkhead: &Bulkhead,
    breaker: &Breaker<C>,
    f: impl FnOnce() -> Result<T, E>,
    classify: impl FnOnce(&Result<T, E>) -> Outcome,
) -> Result<T, GuardedError<E>> {
    let (_slot, permit) = match order {
        Order::BulkheadFirst => {
            let slot = bulkhead.try_acquire().map_err(GuardedError::Full)?;
            let permit = breaker.try_acquire().map_err(GuardedError::Rejected)?;
            (slot, permit)
        }
        Order::BreakerFirst => {
            let permit = breaker.try_acquire().map_err(GuardedError::Rejected)?;
            match bulkhead.try_acquire() {
                Ok(slot) => (slot, permit),
                Err(full) => {
                    permit.ignore();
                    return Err(GuardedError::Full(full));
                }
            }
        }
    };
    let result = f();
    record(permit, classify(&result));
    result.map_err(GuardedError::Failed)
}
