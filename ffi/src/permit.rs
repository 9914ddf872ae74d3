//! `tg_permit` and the calls that issue, answer and read it: `tg_try_acquire`,
//! `tg_record`, `tg_release`, `tg_permit_deadline_ns`.
//!
//! This is the only module that knows the core's `RawPermit`: C holds it as opaque
//! words, and [`to_c`] / [`take`] / [`peek`] are the one translation, destructuring the core
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

/// The permit in the caller's variable, left there (to be read, not answered).
#[inline(always)]
fn peek(slot: &tg_permit) -> RawPermit {
    RawPermit::from_words(slot._opaque)
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

/// `tg_try_acquire` that also says who rejected the call and why.
///
/// - `TG_OK`: as `tg_try_acquire`; `*out` holds the permit and `*rejection` is not
///   written.
/// - `TG_REJECTED`: `*rejection` is filled (the state, the retry-after, the reason of
///   the last opening with its figures) and `*out` is not written. The rejection is
///   also kept as this thread's last: `tg_last_rejection_message` words it and
///   `tg_last_rejection_name` gives the breaker's name. The one out-parameter a status
///   other than `TG_OK` writes.
/// - `TG_ERR_NULL`: `breaker`, `out` or `rejection` is NULL.
///
/// Costs what `tg_try_acquire` costs when admitted; a rejection adds a copy of a few
/// words and no allocation (the words are formatted only when asked for).
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_try_acquire_ex(
    breaker: *const tg_breaker,
    out: *mut tg_permit,
    rejection: *mut crate::rejection::tg_rejection,
) -> tg_status {
    ffi_panic_boundary!("tg_try_acquire_ex", {
        let b = try_ref!(breaker);
        let out = try_out!(out);
        let rejection = try_out!(rejection);
        match b.inner.acquire_raw() {
            Ok(permit) => {
                out.set(to_c(permit));
                TG_OK
            }
            Err(r) => {
                rejection.set(crate::rejection::remember(r));
                TG_REJECTED
            }
        }
    })
}

/// Reports how an admitted call went, consuming `*permit` (it is marked spent).
/// `outcome` is `TG_SUCCESS`, a `TG_FAILURE_*` value or `TG_IGNORED`. `latency_ns` is
/// the call's latency as the caller measured it; 0 means "measure it from the acquire"
/// (when latency is tracked). Under a `call_timeout`, a call recorded at or after its
/// permit's deadline (`tg_permit_deadline_ns`) is counted as `TG_FAILURE_TIMEOUT`
/// whatever `outcome` says: the rule of Rust's `Breaker::call`.
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
        // The common answer, a success whose latency the library measures, with its
        // constants inlined into `complete_raw`: no outcome to translate, and fewer
        // tests (BENCHMARKS.md, "The permit's seal and the raw success path"). Two
        // calls, not one call with a chosen outcome: the constants must reach the
        // inlined code.
        if outcome == TG_SUCCESS && latency_ns == 0 {
            let success = Some(tg_core::Outcome::Success);
            return answered(b.inner.complete_raw(take(slot), success, None));
        }
        let Some(outcome) = outcome_from(outcome) else {
            return bad_outcome(outcome);
        };
        let latency = (latency_ns != 0).then_some(latency_ns);
        answered(b.inner.complete_raw(take(slot), Some(outcome), latency))
    })
}

/// `tg_record`'s status for the core's answer.
#[inline(always)]
fn answered(answer: Result<Option<tg_core::Outcome>, tg_core::PermitError>) -> tg_status {
    match answer {
        Ok(_) => TG_OK,
        Err(e) => invalid_permit("tg_record", e),
    }
}

#[cold]
fn bad_outcome(outcome: tg_outcome) -> tg_status {
    fail(
        TG_ERR_INVALID_ARG,
        format!("tg_record: unknown outcome {outcome}: {OUTCOMES_ALLOWED}"),
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

/// What `tg_permit_deadline_ns` writes for a permit without a deadline (no
/// `call_timeout` configured): a time that never comes.
pub const TG_NO_DEADLINE: u64 = u64::MAX;

/// Writes to `*out` when the call admitted with `*permit` must be over: its admission
/// time plus the breaker's `call_timeout`, in nanoseconds on the breaker's clock
/// (compare it with `tg_clock_now_ns`), or `TG_NO_DEADLINE` (`UINT64_MAX`) when no
/// `call_timeout` is configured. The permit is only read: answer it afterwards with
/// `tg_record` or `tg_release` as usual. The breaker cannot cut a C call short: pass
/// the time left to the call's own I/O. A call recorded at or after its deadline is
/// counted as `TG_FAILURE_TIMEOUT` by `tg_record`, whatever outcome it reports.
///
/// The deadline follows the `call_timeout` in force: a reconfiguration moves it, and
/// removing the timeout removes it; a permit admitted while no `call_timeout` was set
/// has none, whatever is set later.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_PERMIT` for the spent permit `tg_record` and
/// `tg_release` leave in the variable, a permit issued by another breaker, or altered
/// bytes (`*out` is not written); `TG_ERR_NULL`. Reads no clock and changes nothing.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_permit_deadline_ns(
    breaker: *const tg_breaker,
    permit: *const tg_permit,
    out: *mut u64,
) -> tg_status {
    ffi_panic_boundary!("tg_permit_deadline_ns", {
        let b = try_ref!(breaker);
        let permit = try_ref!(permit);
        let out = try_out!(out);
        match b.inner.deadline_raw(&peek(permit)) {
            Ok(deadline) => {
                out.set(deadline.unwrap_or(TG_NO_DEADLINE));
                TG_OK
            }
            Err(e) => invalid_permit("tg_permit_deadline_ns", e),
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
