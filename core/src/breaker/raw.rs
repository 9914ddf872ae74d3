//! Raw permits at the engine's boundary: sealed when issued, checked when answered.
//! Why and how are in the `permit` module.

use super::*;

/// Permit flags of a grant whose answer may be a copy answered after its original, and
/// is checked against the counts ([`Breaker::check_unspent`]): a probe, a permit counted
/// in flight. A grant with neither has nothing to check but its seal.
pub(super) const P_MAY_BE_COPY: u32 = P_PROBE | P_IN_FLIGHT;

impl<C: Clock> Breaker<C> {
    /// `grant` sealed with this breaker's key.
    #[inline]
    pub(crate) fn seal(&self, grant: Grant) -> RawPermit {
        self.permit_key.seal(grant)
    }

    /// When the call admitted with `permit` must be over: its admission time plus the
    /// `call_timeout` in force, in nanoseconds on this breaker's clock; `Ok(None)`
    /// without one, or for a permit admitted while none was set (see
    /// [`Permit::deadline`]). The permit is only read:
    /// answer it afterwards as usual. A permit this breaker did not issue, or the spent
    /// permit, is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tripgate::{Breaker, Config, ManualClock};
    ///
    /// let config = Config::builder().call_timeout(Duration::from_millis(40)).build()?;
    /// let breaker = Breaker::with_clock(config, ManualClock::new())?;
    /// let permit = breaker.acquire_raw()?;
    /// assert_eq!(breaker.deadline_raw(&permit), Ok(Some(40_000_000)));
    /// breaker.record_raw(permit, tripgate::Outcome::Success, None)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deadline_raw(&self, permit: &RawPermit) -> Result<Option<u64>, PermitError> {
        let grant = self.permit_key.check(permit)?;
        Ok(self.grant_deadline(grant))
    }

    /// The deadline of a call admitted with `grant`: its start plus the timeout in
    /// force, for a grant issued under a `call_timeout`. Reads one option and no clock.
    #[inline]
    pub(crate) fn grant_deadline(&self, grant: Grant) -> Option<u64> {
        // Only a grant issued under a timeout has a deadline. A timed grant carries its
        // start too, but whether calls are timed must not decide whether a call admitted
        // before a timeout was set gets one.
        if grant.flags & P_DEADLINE == 0 {
            return None;
        }
        // ordering: Relaxed, an option (see `Options::load_from`).
        let timeout = self.options.call_timeout_nanos.load(Ordering::Relaxed);
        (timeout != u64::MAX).then(|| grant.start_nanos.saturating_add(timeout))
    }

    /// The grant inside `permit`, if this breaker issued it and an answer to it can
    /// still count. Refuses without changing anything.
    #[inline]
    pub(super) fn redeem(&self, permit: RawPermit) -> Result<Grant, PermitError> {
        let grant = self.permit_key.open(permit)?;
        self.check_unspent(grant)?;
        Ok(grant)
    }

    /// The second half of [`redeem`](Breaker::redeem), for a grant whose seal is
    /// checked: a probe, or a permit counted in flight, may be a copy answered after
    /// its original. A plain grant (neither) has nothing more to check.
    #[inline]
    pub(super) fn check_unspent(&self, grant: Grant) -> Result<(), PermitError> {
        if grant.flags & P_MAY_BE_COPY != 0 {
            self.check_counts(grant)?;
        }
        Ok(())
    }

    /// A genuine permit whose answer would take a count below zero is a copy answered
    /// after its original: refused. A probe is checked again, race-free, inside the
    /// swap that settles it (`settle_probe`); the in-flight check is a best effort (two
    /// copies answered at the same instant may both pass it).
    #[inline(never)]
    fn check_counts(&self, grant: Grant) -> Result<(), PermitError> {
        if grant.is_probe() {
            let w = self.load_word();
            if w.state() == State::HalfOpen && w.generation() == grant.generation && w.probes() == 0
            {
                return Err(PermitError::Spent);
            }
        }
        if grant.flags & P_IN_FLIGHT != 0 && self.totals.sum(IN_FLIGHT) == 0 {
            return Err(PermitError::Spent);
        }
        Ok(())
    }
}
