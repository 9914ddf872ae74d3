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

/// Proof of admission returned by `tg_try_acquire`: a small value passed by value, no
/// allocation.
///
/// Treat it as opaque: do not read, write or forge its contents. Answer it exactly
/// once, to the breaker that issued it, with `tg_record` or `tg_release`; a permit
/// answered twice, or given to another breaker, miscounts that breaker. Its size is
/// part of the ABI and changes only with the library's major version (the SONAME).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct tg_permit {
    /// Opaque.
    pub _opaque: [u64; 2],
}

/// The core's permit as C holds it.
#[inline(always)]
fn to_c(p: RawPermit) -> tg_permit {
    let RawPermit {
        generation,
        flags,
        start_nanos,
    } = p;
    tg_permit {
        _opaque: [u64::from(generation) << 32 | u64::from(flags), start_nanos],
    }
}

/// The core's permit from what C handed back.
#[inline(always)]
fn from_c(p: tg_permit) -> RawPermit {
    let [word, start_nanos] = p._opaque;
    RawPermit {
        generation: (word >> 32) as u32,
        flags: word as u32,
        start_nanos,
    }
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

/// Reports how an admitted call went, consuming its permit. `outcome` is `TG_SUCCESS`,
/// a `TG_FAILURE_*` value or `TG_IGNORED`. `latency_ns` is the call's latency as the
/// caller measured it; 0 means "measure it from the acquire" (when latency is tracked).
///
/// The failure that trips the breaker is reported normally; only later calls are
/// rejected. Returns `TG_OK`; `TG_ERR_INVALID_ARG` for an unknown outcome (the permit
/// is then not consumed: record or release it again); `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once. A transition it
/// causes runs the listener on this thread, after the record, outside every lock.
#[no_mangle]
pub extern "C" fn tg_record(
    breaker: *const tg_breaker,
    permit: tg_permit,
    outcome: tg_outcome,
    latency_ns: u64,
) -> tg_status {
    ffi_panic_boundary!("tg_record", {
        let b = try_ref!(breaker);
        let Some(outcome) = outcome_from(outcome) else {
            return bad_outcome(outcome);
        };
        let latency = (latency_ns != 0).then_some(latency_ns);
        b.inner.record_raw(from_c(permit), outcome, latency);
        TG_OK
    })
}

#[cold]
fn bad_outcome(outcome: tg_outcome) -> tg_status {
    fail(
        TG_ERR_INVALID_ARG,
        format!("tg_record: unknown outcome {outcome}: allowed TG_SUCCESS (0), TG_FAILURE_TIMEOUT (1) ..= TG_FAILURE_OTHER (5), TG_IGNORED (6)"),
    )
}

/// Hands a permit back without an outcome (the call was never made, or was abandoned):
/// counted as `abandoned`, neither success nor failure; a half-open probe frees its
/// slot.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_release(breaker: *const tg_breaker, permit: tg_permit) -> tg_status {
    ffi_panic_boundary!("tg_release", {
        let b = try_ref!(breaker);
        b.inner.release_raw(from_c(permit));
        TG_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_translation_round_trips_every_field() {
        for raw in [
            RawPermit::default(),
            RawPermit {
                generation: u32::MAX,
                flags: 0x8000_0001,
                start_nanos: u64::MAX,
            },
            RawPermit {
                generation: 7,
                flags: 3,
                start_nanos: 123_456_789,
            },
        ] {
            assert_eq!(from_c(to_c(raw)), raw);
        }
    }
}
