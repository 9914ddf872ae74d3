//! Permits: proof of admission, to be answered with an outcome.
//!
//! [`Permit`] is the guard Rust callers hold: `#[must_use]`, recorded by value, released
//! when dropped unrecorded (metric `abandoned`) and recorded as a failure when dropped
//! during a panic. [`RawPermit`] is the same thing as a plain `Copy` value for the C and
//! Python bindings: acquire returns it, record takes it back. Neither allocates.

use crate::breaker::Breaker;
use crate::clock::Clock;
use crate::outcome::{FailureKind, Outcome};
use std::fmt;
use std::time::Duration;

/// Permit flag: calls are timed; `start_nanos` is the admission time.
pub(crate) const P_TIMED: u32 = 1;
/// Permit flag: a half-open probe holding a slot.
pub(crate) const P_PROBE: u32 = 2;
/// Permit flag: counted in flight.
pub(crate) const P_IN_FLIGHT: u32 = 4;
/// Permit flag: issued while disabled; its outcome is not counted.
pub(crate) const P_UNCOUNTED: u32 = 8;

/// A permit as a plain value, for bindings. Treat the fields as opaque: hand the value
/// back to the breaker that issued it, exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct RawPermit {
    /// Generation of the state the permit was issued in.
    pub generation: u32,
    /// Internal flags.
    pub flags: u32,
    /// Admission time in the breaker clock's nanoseconds (0 when calls are not timed).
    pub start_nanos: u64,
}

impl RawPermit {
    /// Whether this permit holds a half-open probe slot.
    pub fn is_probe(&self) -> bool {
        self.flags & P_PROBE != 0
    }
}

/// Permission to make one call. Report how it went with [`success`](Permit::success),
/// [`failure`](Permit::failure), [`ignore`](Permit::ignore) or
/// [`record`](Permit::record).
#[must_use = "a permit must be answered with an outcome; dropping it releases it unrecorded"]
pub struct Permit<'a, C: Clock> {
    breaker: &'a Breaker<C>,
    raw: RawPermit,
}

impl<'a, C: Clock> Permit<'a, C> {
    pub(crate) fn new(breaker: &'a Breaker<C>, raw: RawPermit) -> Self {
        Permit { breaker, raw }
    }

    /// The permit as a raw value (it stays owned by this guard).
    pub fn raw(&self) -> RawPermit {
        self.raw
    }

    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.raw.is_probe()
    }

    /// Hands the permit over as a raw value; the caller must record or release it.
    pub fn into_raw(self) -> RawPermit {
        let raw = self.raw;
        // Answered elsewhere: skip the drop that would release it.
        std::mem::forget(self);
        raw
    }

    /// The call succeeded; latency is measured from admission.
    pub fn success(self) {
        self.finish(Outcome::Success, None);
    }

    /// The call failed with `kind`; latency is measured from admission.
    pub fn failure(self, kind: FailureKind) {
        self.finish(Outcome::Failure(kind), None);
    }

    /// The call says nothing about the dependency's health: counted neither way.
    pub fn ignore(self) {
        self.finish(Outcome::Ignored, None);
    }

    /// Records `outcome`; latency is measured from admission.
    pub fn complete(self, outcome: Outcome) {
        self.finish(outcome, None);
    }

    /// Records `outcome` with a latency the caller measured.
    pub fn record(self, outcome: Outcome, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.finish(outcome, Some(ns));
    }

    #[inline]
    fn finish(self, outcome: Outcome, latency: Option<u64>) {
        let (breaker, raw) = (self.breaker, self.raw);
        // Answered: skip the drop that would release it.
        std::mem::forget(self);
        breaker.record_raw(raw, outcome, latency);
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    fn drop(&mut self) {
        // Only reached for a permit never answered: `finish` and `into_raw` forget it.
        if std::thread::panicking() {
            self.breaker
                .record_raw(self.raw, Outcome::Failure(FailureKind::Other), None);
        } else {
            self.breaker.release_raw(self.raw);
        }
    }
}

impl<C: Clock> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("raw", &self.raw).finish()
    }
}
