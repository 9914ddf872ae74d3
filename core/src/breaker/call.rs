//! Calls the breaker runs itself: `call`, `call_classified`, `call_async`.

use super::*;

impl<C: Clock> Breaker<C> {
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
    ///
    /// With a `call_timeout`, a call that returns at or after it is recorded as a
    /// [`FailureKind::Timeout`] whatever its result (the result is still returned: a
    /// synchronous call cannot be cut short).
    pub fn call_classified<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        // ordering: Relaxed, an option (see `Options::load_from`).
        let timeout = self.options.call_timeout_nanos.load(Ordering::Relaxed);
        let start = (timeout != u64::MAX).then(|| self.clock.now_nanos());
        let result = f();
        let timed_out = start.is_some_and(|s| self.clock.now_nanos().saturating_sub(s) >= timeout);
        let outcome = if timed_out {
            Outcome::Failure(FailureKind::Timeout)
        } else {
            classify(&result)
        };
        finish(permit, outcome);
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
}

pub(super) fn finish<C: Clock>(permit: Permit<'_, C>, outcome: Outcome) {
    match outcome {
        Outcome::Success => permit.success(),
        Outcome::Failure(k) => permit.failure(k),
        Outcome::Ignored => permit.ignore(),
    }
}
