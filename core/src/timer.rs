//! Timers: how the calls the breaker runs itself wait for a `call_timeout`, without
//! tying the engine to a runtime.
//!
//! The engine owns no thread and no event loop, so it cannot wake a task at a
//! deadline by itself. [`Breaker::call_async_with`](crate::Breaker::call_async_with)
//! borrows a [`Timer`] for that: a sleep future raced against the call, which is
//! dropped (cancelled) when the sleep ends first. Implementations:
//!
//! - `TokioTimer` (cargo feature `tokio`): `tokio::time::sleep`, so a test under
//!   `tokio::time::pause` runs on tokio's paused clock;
//! - [`ManualClock`](crate::ManualClock): sleeps on the manual clock and wakes when it
//!   is advanced past the sleep's end, for tests without a runtime;
//! - any other runtime: a few lines wrapping its sleep future.

use std::future::Future;
use std::time::Duration;

/// A source of sleeps: what a call the breaker runs with a `call_timeout` waits on.
///
/// `sleep(d)` returns a future that completes `d` from now on the timer's own time.
/// The breaker computes `d` from its clock (the permit's deadline minus now), so a
/// timer should run at the breaker clock's pace: a runtime's timer for a breaker on
/// the system clock, the [`ManualClock`](crate::ManualClock) for a breaker on that
/// clock.
pub trait Timer {
    /// The sleep future.
    type Sleep: Future<Output = ()>;

    /// A future that completes once `duration` has passed.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<T: Timer + ?Sized> Timer for &T {
    type Sleep = T::Sleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        (**self).sleep(duration)
    }
}

/// Tokio's timer (cargo feature `tokio`): [`tokio::time::sleep`]. Its futures must be
/// polled inside a tokio runtime with the time driver enabled (tokio panics
/// otherwise); under `tokio::time::pause` they follow tokio's paused clock.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # {
/// use std::time::Duration;
/// use tripgate::{Breaker, CallError, Config, TokioTimer};
///
/// let breaker = Breaker::new(Config::builder().call_timeout(Duration::from_millis(50)).build()?)?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?;
/// let answer = rt.block_on(breaker.call_async_with(&TokioTimer, async {
///     tokio::time::sleep(Duration::from_secs(10)).await; // never finishes in time
///     Ok::<u32, std::io::Error>(1)
/// }));
/// assert!(matches!(answer, Err(CallError::Timeout(d)) if d == Duration::from_millis(50)));
/// assert_eq!(breaker.snapshot().failures_by_kind.timeout, 1);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        tokio::time::sleep(duration)
    }
}
