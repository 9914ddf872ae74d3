//! Raw permits at the engine's boundary: sealed when issued, checked when answered.
//! Why and how are in the `permit` module.

use super::*;

impl<C: Clock> Breaker<C> {
    /// `grant` sealed with this breaker's key.
    #[inline]
    pub(crate) fn seal(&self, grant: Grant) -> RawPermit {
        self.permit_key.seal(grant)
    }

    /// The grant inside `permit`, if this breaker issued it and an answer to it can
    /// still count. Refuses without changing anything.
    #[inline]
    pub(super) fn redeem(&self, permit: RawPermit) -> Result<Grant, PermitError> {
        let grant = self.permit_key.open(permit)?;
        if grant.flags & (P_PROBE | P_IN_FLIGHT) != 0 {
            self.check_counts(grant)?;
        }
        Ok(grant)
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
