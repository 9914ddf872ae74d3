//! `tg_permit` and the three calls that issue and answer it: `tg_try_acquire`,
//! `tg_record`, `tg_release`.
//!
//! This is the only module that knows the core's `RawPermit`: C holds it as opaque
//! words, and [`to_c`] / [`from_c`] are the one translation, destructuring the core
//! type exhaustively so that a change to it fails to compile here rather than
//! silently. A change to how the core answers a raw permit (its `record_raw` and
//! `release_raw`) is adapted here alone.

use crate::breaker::tg_breaker;
use crate::status::*;
use crate::types::*;
use tg_core::RawPermit;

/// Proof of admission returned by `tg_try_acquire`: a small value, no allocation.
///
/// Treat it as opaque: do not read, write or forge its contents. Answer it exactly
/// once, to the breaker that issued it, by passing its address to `tg_record` or
/// `tg_release`, which mark it spent. The breaker checks what comes back: a spent
/// permit, a permit of another breaker, or altered bytes are refused with
/// `TG_ERR_INVALID_PERMIT` and change nothing. A byte copy answered besides its
/// original cannot always be told from it (see the README); answer through the one
/// variable. Its size is part of the ABI and changes only with the library's major
/// version (the SONAME).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct tg_permit {
    /// Opaque.
    pub _opaque: [u64; 3],
}

/// The core's permit as C holds it.
#[inline(always)]
fn to_c(p: RawPermit) -> tg_permit {
    tg_permit {
        _opaque: p.into_words(),
    }
}

/// Takes the permit out of the caller's variable, leaving the spent permit there.
#[inline(always)]
fn take(slot: &mut tg_permit) -> RawPermit {
    RawPermit::from_words(std::mem::take(slot)._opaque)
}

#[cold]
fn invalid_permit(func: &str, e: tg_core::PermitError) -> tg_status {
    fail(TG_ERR_INVALID_PERMIT, format!("{func}: {e}"))
}

/// Asks to make one call. Wait-free: no lock, no allocation, no retry loop.
///
/// - `TG_OK`: the call is admitted and `*out` holds its permit. Make the call, then
///   hand the permit back exactly once with `tg_record` (or `tg_release`).
/// - `TG_REJECTED`: not admitted (open, forced open, or half-open with every probe slot
///   taken). Do not make the call; `*out` is not written and there is nothing to hand
///   back. `tg_retry_after_ns` tells how long to wait.
/// - `TG_ERR_NULL`: `breaker` or `out` is NULL.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_try_acquire(breaker: *const tg_breaker, out: *mut tg_permit) -> tg_status {
    ffi_panic_boundary!("tg_try_acquire", {
        let b = try_ref!(breaker);
        let out = try_out!(out);
        match b.inner.acquire_raw() {
            Ok(permit) => {
                out.set(to_c(permit));
                TG_OK
            }
            Err(_) => TG_REJECTED,
        }
    })
}

/// Reports how an admitted call went, consuming `*permit` (it is marked spent).
/// `outcome` is `TG_SUCCESS`, a `TG_FAILURE_*` value or `TG_IGNORED`. `latency_ns` is
/// the call's latency as the caller measured it; 0 means "measure it from the acquire"
/// (when latency is tracked).
///
/// The failure that trips the breaker is reported normally; only later calls are
/// rejected. Returns `TG_OK`; `TG_ERR_INVALID_ARG` for an unknown outcome (the permit
/// is then not consumed: record or release it again); `TG_ERR_INVALID_PERMIT` for a
/// permit answered already, issued by another breaker, or altered (nothing is
/// recorded); `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once, each with its own
/// permit. Transition listeners run on the thread that delivers the event, outside
/// every lock.
#[no_mangle]
pub extern "C" fn tg_record(
    breaker: *const tg_breaker,
    permit: *mut tg_permit,
    outcome: tg_outcome,
    latency_ns: u64,
) -> tg_status {
    ffi_panic_boundary!("tg_record", {
        let b = try_ref!(breaker);
        let slot = try_mut!(permit);
        let Some(outcome) = outcome_from(outcome) else {
            return bad_outcome(outcome);
        };
        let latency = (latency_ns != 0).then_some(latency_ns);
        match b.inner.record_raw(take(slot), outcome, latency) {
            Ok(()) => TG_OK,
            Err(e) => invalid_permit("tg_record", e),
        }
    })
}

#[cold]
fn bad_outcome(outcome: tg_outcome) -> tg_status {
    fail(
        TG_ERR_INVALID_ARG,
        format!("tg_record: unknown outcome {outcome}: allowed TG_SUCCESS (0), TG_FAILURE_TIMEOUT (1) ..= TG_FAILURE_OTHER (5), TG_IGNORED (6)"),
    )
}

/// Hands a permit back without an outcome (the call was never made, or was abandoned),
/// consuming `*permit` (it is marked spent): counted as `abandoned`, neither success
/// nor failure; a half-open probe frees its slot.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_PERMIT` as for `tg_record` (nothing is released);
/// `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once, each with its own
/// permit.
#[no_mangle]
pub extern "C" fn tg_release(breaker: *const tg_breaker, permit: *mut tg_permit) -> tg_status {
    ffi_panic_boundary!("tg_release", {
        let b = try_ref!(breaker);
        let slot = try_mut!(permit);
        match b.inner.release_raw(take(slot)) {
            Ok(()) => TG_OK,
            Err(e) => invalid_permit("tg_release", e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permit_round_trips_and_a_taken_slot_is_spent() {
        let b = tg_core::Breaker::new(tg_core::Config::default()).unwrap();
        let mut slot = to_c(b.acquire_raw().unwrap());
        let raw = take(&mut slot);
        assert!(!raw.is_spent());
        assert_eq!(slot, tg_permit::default());
        assert!(take(&mut slot).is_spent());
        assert_eq!(b.record_raw(raw, tg_core::Outcome::Success, None), Ok(()));
    }
}
