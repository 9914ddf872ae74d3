//! The timer the async patterns take as a parameter.
//!
//! The library starts no runtime and links none: [`Hedge`](crate::Hedge) and the
//! bulkhead's bounded wait ask a [`Sleeper`] for a future that completes after a
//! duration. Any `Fn(Duration) -> impl Future<Output = ()>` is one, so on tokio pass
//! `tokio::time::sleep`, on async-std `async_std::task::sleep`, on smol
//! `|d| async move { smol::Timer::after(d).await; }`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tripgate_patterns::Sleeper;
//!
//! fn takes_a_sleeper(s: impl Sleeper) -> impl std::future::Future<Output = ()> {
//!     s.sleep(Duration::from_millis(1))
//! }
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
//! # rt.block_on(async {
//! takes_a_sleeper(tokio::time::sleep).await;
//! # });
//! ```

use std::future::Future;
use std::time::Duration;

/// Makes futures that complete after a duration.
pub trait Sleeper: Send + Sync {
    /// The future [`sleep`](Sleeper::sleep) returns.
    type Sleep: Future<Output = ()> + Send;

    /// A future that completes `duration` from now.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<F, S> Sleeper for F
where
    F: Fn(Duration) -> S + Send + Sync,
    S: Future<Output = ()> + Send,
{
    type Sleep = S;

    #[inline]
    fn sleep(&self, duration: Duration) -> S {
        self(duration)
    }
}
