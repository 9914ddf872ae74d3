//! An object-safe view of a breaker, so a chain can hold breakers on different clocks
//! side by side, and a guard that answers a raw permit exactly once.

use tripgate::{Breaker, Clock, FailureKind, Outcome, RawPermit, Rejected};

/// What a chain needs of a breaker: admission and recording through raw permits.
pub(crate) trait Gate: Sync {
    fn acquire(&self) -> Result<RawPermit, Rejected>;
    fn record(&self, permit: RawPermit, outcome: Outcome);
}

impl<C: Clock> Gate for Breaker<C> {
    #[inline]
    fn acquire(&self) -> Result<RawPermit, Rejected> {
        self.acquire_raw()
    }

    #[inline]
    fn record(&self, permit: RawPermit, outcome: Outcome) {
        // Only this breaker's own permits come back here, each once: never refused.
        let _ = self.record_raw(permit, outcome, None);
    }
}

/// A raw permit answered exactly once: by [`finish`](RawGuard::finish), or on drop as
/// ignored (a cancelled call), or as a failure when dropped during a panic (as core's
/// `Permit` does).
pub(crate) struct RawGuard<'a> {
    gate: &'a dyn Gate,
    permit: Option<RawPermit>,
}

impl<'a> RawGuard<'a> {
    pub(crate) fn acquire(gate: &'a dyn Gate) -> Result<Self, Rejected> {
        gate.acquire().map(|p| RawGuard {
            gate,
            permit: Some(p),
        })
    }

    pub(crate) fn finish(mut self, outcome: Outcome) {
        if let Some(p) = self.permit.take() {
            self.gate.record(p, outcome);
        }
    }
}

impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            let outcome = if std::thread::panicking() {
                Outcome::Failure(FailureKind::Other)
            } else {
                Outcome::Ignored
            };
            self.gate.record(p, outcome);
        }
    }
}
