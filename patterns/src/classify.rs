//! From a call's result to the [`Outcome`] a breaker records.
//!
//! Every pattern takes a classifier `Fn(&Result<T, E>) -> Outcome`; [`default_classify`]
//! is the one they use when given none: `Ok` is a success, `Err` a failure of kind
//! [`Other`](FailureKind::Other).

use tripgate::{Clock, FailureKind, Outcome, Permit};

/// `Ok` is a success, `Err` a failure of kind [`Other`](FailureKind::Other).
///
/// # Examples
///
/// ```
/// use tripgate::{FailureKind, Outcome};
/// use tripgate_patterns::default_classify;
///
/// assert_eq!(default_classify(&Ok::<u8, ()>(1)), Outcome::Success);
/// assert_eq!(default_classify(&Err::<u8, ()>(())), Outcome::Failure(FailureKind::Other));
/// ```
pub fn default_classify<T, E>(result: &Result<T, E>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure(FailureKind::Other),
    }
}

/// Answers `permit` with `outcome`; latency is measured by the breaker from admission.
pub fn record<C: Clock>(permit: Permit<'_, C>, outcome: Outcome) {
    match outcome {
        Outcome::Success => permit.success(),
        Outcome::Failure(kind) => permit.failure(kind),
        Outcome::Ignored => permit.ignore(),
    }
}

/// Holds a permit and records it as [`Ignored`](Outcome::Ignored) if dropped unanswered:
/// what a cancelled call (a hedge's loser, a dropped future) reports.
pub(crate) struct IgnoreOnDrop<'a, C: Clock>(Option<Permit<'a, C>>);

impl<'a, C: Clock> IgnoreOnDrop<'a, C> {
    pub(crate) fn new(permit: Permit<'a, C>) -> Self {
        IgnoreOnDrop(Some(permit))
    }

    /// Answers the permit with `outcome`.
    pub(crate) fn record(mut self, outcome: Outcome) {
        if let Some(p) = self.0.take() {
            record(p, outcome);
        }
    }
}

impl<C: Clock> Drop for IgnoreOnDrop<'_, C> {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if std::thread::panicking() {
                // The call panicked: let the permit's own drop record a failure.
                drop(p);
            } else {
                p.ignore();
            }
        }
    }
}
