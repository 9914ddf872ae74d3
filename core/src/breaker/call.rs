//! Calls the breaker runs itself: `call` and `call_classified`; `call_async` and
//! `call_async_classified`, and their `_with` forms that take a [`Timer`] to cut a
//! call short at its `call_timeout`.
//!
//! Every form records a call that ends at or after its permit's deadline as a
//! [`FailureKind::Timeout`], whatever its result. A synchronous call cannot be cut
//! short, nor can an async one without a timer: their result is still returned. With a
//! timer, an async call still running at the deadline is dropped there and answers
//! [`CallError::Timeout`].

use super::*;
use crate::clock::ManualClock;
use crate::timer::Timer;
use std::pin::pin;
use std::task::Poll;

/// The classification of `call` and `call_async`: `Ok` a success, `Err` a failure of
/// kind `Other`.
fn ok_or_other<T, E>(r: &Result<T, E>) -> Outcome {
    match r {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure(FailureKind::Other),
    }
}

impl<C: Clock> Breaker<C> {
    /// Runs `f` if admitted; `Ok` is a success, `Err` a failure of kind `Other`.
    ///
    /// A panic in `f` is recorded as a failure and then resumes.
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        self.call_classified(f, ok_or_other)
    }

    /// Runs `f` if admitted and records what `classify` makes of its result.
    ///
    /// With a `call_timeout`, a call that returns at or after its deadline is recorded
    /// as a [`FailureKind::Timeout`] whatever its result (the result is still returned:
    /// a synchronous call cannot be cut short).
    pub fn call_classified<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>> {
        let permit = self.admit_to_run().map_err(CallError::Rejected)?;
        let result = f();
        permit.conclude(classify(&result));
        result.map_err(CallError::Failed)
    }

    /// Awaits `fut` if admitted; `Ok` is a success, `Err` a failure of kind `Other`.
    /// Runtime-agnostic.
    ///
    /// If the returned future is dropped before it completes (its caller gave up), the
    /// call is answered as [`Permit::cancelled`]: a timeout if it had run past its
    /// deadline or for at least `slow_call_duration`, else the permit is released
    /// unrecorded (an early cancellation says nothing about the dependency). With a
    /// `call_timeout`, a call that completes at or after its deadline is recorded as a
    /// timeout (its result is still returned); to cut it short at the deadline, use
    /// [`call_async_with`](Breaker::call_async_with).
    ///
    /// ```
    /// use tripgate::{Breaker, CallError, Config};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #     }
    /// # }
    /// # struct Noop;
    /// # impl std::task::Wake for Noop { fn wake(self: std::sync::Arc<Self>) {} }
    /// let breaker = Breaker::new(Config::default())?;
    /// // Any runtime drives it (`block_on` stands for yours).
    /// let answer = block_on(breaker.call_async(async { Ok::<u32, String>(7) }));
    /// assert_eq!(answer, Ok(7));
    /// let answer = block_on(breaker.call_async(async { Err::<u32, _>("down".to_string()) }));
    /// assert_eq!(answer, Err(CallError::Failed("down".to_string())));
    /// let s = breaker.snapshot();
    /// assert_eq!((s.successes, s.failures), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn call_async<T, E, F>(&self, fut: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.run_async(None::<&ManualClock>, fut, ok_or_other).await
    }

    /// Awaits `fut` if admitted and records what `classify` makes of its result: the
    /// async twin of [`call_classified`](Breaker::call_classified), dropped and timed
    /// as [`call_async`](Breaker::call_async).
    ///
    /// ```
    /// use tripgate::{Breaker, CallError, Config, FailureKind, Outcome};
    ///
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #     }
    /// # }
    /// # struct Noop;
    /// # impl std::task::Wake for Noop { fn wake(self: std::sync::Arc<Self>) {} }
    /// let breaker = Breaker::new(Config::default())?;
    /// // A "not found" says nothing about the dependency's health: ignored.
    /// let answer = block_on(breaker.call_async_classified(
    ///     async { Err::<u32, u16>(404) },
    ///     |r| match r {
    ///         Err(404) => Outcome::Ignored,
    ///         Err(_) => Outcome::Failure(FailureKind::ServerError),
    ///         Ok(_) => Outcome::Success,
    ///     },
    /// ));
    /// assert_eq!(answer, Err(CallError::Failed(404)));
    /// assert_eq!(breaker.snapshot().ignored, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn call_async_classified<T, E, F>(
        &self,
        fut: F,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.run_async(None::<&ManualClock>, fut, classify).await
    }

    /// [`call_async`](Breaker::call_async) cut short at the `call_timeout`: `timer`
    /// sleeps until the permit's deadline while `fut` runs; if the sleep ends first,
    /// `fut` is dropped (cancelled), the call is recorded as a
    /// [`FailureKind::Timeout`] and the answer is [`CallError::Timeout`]. Without a
    /// `call_timeout` no sleep is armed and this is `call_async`.
    ///
    /// The timer is any [`Timer`]: `TokioTimer` with the `tokio` feature, a
    /// [`ManualClock`] in tests, or a few lines over another runtime's sleep. It is
    /// armed after admission: a timer that panics there (tokio's outside a runtime)
    /// panics the call, which is then recorded as a failure like any call that panics.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::task::{Context, Poll, Wake, Waker};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tripgate::{Breaker, CallError, Config, ManualClock};
    ///
    /// struct Noop;
    /// impl Wake for Noop {
    ///     fn wake(self: Arc<Self>) {}
    /// }
    /// let waker = Waker::from(Arc::new(Noop));
    /// let mut cx = Context::from_waker(&waker);
    ///
    /// // The breaker and the timer share a manual clock: time moves when the test says.
    /// let clock = ManualClock::new();
    /// let config = Config::builder().call_timeout(Duration::from_millis(100)).build()?;
    /// let breaker = Breaker::with_clock(config, clock.clone())?;
    ///
    /// // A call that never answers.
    /// let call = breaker.call_async_with(&clock, std::future::pending::<Result<(), ()>>());
    /// let mut call = std::pin::pin!(call);
    /// assert!(call.as_mut().poll(&mut cx).is_pending());
    /// clock.advance(Duration::from_millis(100)); // the deadline
    /// match call.as_mut().poll(&mut cx) {
    ///     Poll::Ready(Err(CallError::Timeout(d))) => assert_eq!(d, Duration::from_millis(100)),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(breaker.snapshot().failures_by_kind.timeout, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn call_async_with<Tm, T, E, F>(&self, timer: &Tm, fut: F) -> Result<T, CallError<E>>
    where
        Tm: Timer + ?Sized,
        F: Future<Output = Result<T, E>>,
    {
        self.run_async(Some(timer), fut, ok_or_other).await
    }

    /// [`call_async_classified`](Breaker::call_async_classified) cut short at the
    /// `call_timeout` by `timer`, as [`call_async_with`](Breaker::call_async_with). A
    /// call cut short is a timeout whatever `classify` would have said (it never sees
    /// a result).
    pub async fn call_async_classified_with<Tm, T, E, F>(
        &self,
        timer: &Tm,
        fut: F,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>>
    where
        Tm: Timer + ?Sized,
        F: Future<Output = Result<T, E>>,
    {
        self.run_async(Some(timer), fut, classify).await
    }

    /// Every async form: admission, the race against the deadline when a timer is
    /// given, the record.
    async fn run_async<Tm, T, E, F>(
        &self,
        timer: Option<&Tm>,
        fut: F,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>>
    where
        Tm: Timer + ?Sized,
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.admit_to_run().map_err(CallError::Rejected)?;
        let deadline = permit.deadline();
        let start = permit.grant_start();
        // Dropped with this future (its caller gave up), the permit is answered as
        // cancelled: a timeout past the deadline or the slow threshold, else released.
        let mut held = HeldAcrossAwait(Some(permit));
        // The sleep is armed only with both a timer and a deadline; the permit's start
        // is the admission time, so the sleep ends at the deadline, not later.
        let (sleep, timeout) = match (timer, deadline, start) {
            (Some(timer), Some(deadline), Some(start)) => {
                let left = deadline.saturating_sub(self.clock.now_nanos());
                (
                    Some(timer.sleep(Duration::from_nanos(left))),
                    Duration::from_nanos(deadline - start),
                )
            }
            _ => (None, Duration::ZERO),
        };
        let mut sleep = pin!(sleep);
        let mut fut = pin!(Some(fut));
        // The call first: one that is ready at the deadline answers (recorded as a
        // timeout, as a synchronous call would be).
        let result = std::future::poll_fn(|cx| {
            if let Some(f) = fut.as_mut().as_pin_mut() {
                if let Poll::Ready(r) = f.poll(cx) {
                    return Poll::Ready(Some(r));
                }
            }
            match sleep.as_mut().as_pin_mut().map(|s| s.poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(None),
                _ => Poll::Pending,
            }
        })
        .await;
        match result {
            Some(result) => {
                if let Some(permit) = held.0.take() {
                    permit.conclude(classify(&result));
                }
                result.map_err(CallError::Failed)
            }
            None => {
                // Cut short: the call's future is dropped before the outcome is counted.
                fut.set(None);
                if let Some(permit) = held.0.take() {
                    permit.failure(FailureKind::Timeout);
                }
                Err(CallError::Timeout(timeout))
            }
        }
    }
}

/// The permit of an async call while it runs. Taken out to answer the call; dropped
/// with the call's future (the caller gave up on it), it is answered as
/// [`Permit::cancelled`]; in a panic, as `Permit`'s own drop answers it.
struct HeldAcrossAwait<'a, C: Clock>(Option<Permit<'a, C>>);

impl<C: Clock> Drop for HeldAcrossAwait<'_, C> {
    fn drop(&mut self) {
        if let Some(permit) = self.0.take() {
            if !std::thread::panicking() {
                permit.cancelled();
            }
        }
    }
}
