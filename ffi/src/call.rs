//! `tg_call`: a C function run under the breaker, admitted, made and recorded in one
//! ABI call. The permit never leaves Rust, so there is nothing to seal, check or mark
//! spent; the rules are the core's `Breaker::call_classified`, unchanged.

use std::convert::Infallible;
use std::ffi::c_void;

use crate::breaker::tg_breaker;
use crate::status::*;
use crate::types::*;
use tg_core::{CallError, Outcome};

/// The call `tg_call` guards: makes it with `userdata` as given to `tg_call`, and returns
/// how it went: `TG_SUCCESS`, a `TG_FAILURE_*` value or `TG_IGNORED`. Results of the
/// call itself travel through `userdata`.
pub type tg_guarded_call = Option<extern "C" fn(userdata: *mut c_void) -> tg_outcome>;

/// Runs `call(userdata)` if the breaker admits it and records the outcome it returns,
/// with its latency measured around it (when latency is tracked): `tg_try_acquire`,
/// the call and `tg_record` in one function, without a permit to hold. The cheapest
/// way to guard a call from C.
///
/// - `TG_OK`: the call was made and its outcome recorded. Under a `call_timeout`, a
///   call that returns at or after its deadline is recorded as `TG_FAILURE_TIMEOUT`
///   whatever it returned (the rule of `tg_record`).
/// - `TG_REJECTED`: not admitted; `call` was not called. `tg_retry_after_ns` tells how
///   long to wait.
/// - `TG_ERR_INVALID_ARG`: `call` returned a value that is not a `tg_outcome`. The
///   call was made; it is recorded as `TG_IGNORED` (counted neither way), so that no
///   half-open probe slot stays taken.
/// - `TG_ERR_NULL`: `breaker` or `call` is NULL; nothing was called.
///
/// When the call is a half-open probe, the breaker's listeners hear of the move to
/// Half-Open before `call` runs (with `tg_try_acquire`, the next call that records
/// delivers it).
///
/// `call` must return normally: leaving it by `longjmp` or a C++ exception would lose
/// the call's permit (a half-open probe slot would stay taken). It may call any `tg_`
/// function, on this breaker too, except `tg_breaker_free` on it.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_call(
    breaker: *const tg_breaker,
    call: tg_guarded_call,
    userdata: *mut c_void,
) -> tg_status {
    ffi_panic_boundary!("tg_call", {
        let b = try_ref!(breaker);
        let Some(call) = call else {
            return null(FUNC, "call");
        };
        let mut unknown = None;
        let made = b.inner.call_classified(
            || Ok::<tg_outcome, Infallible>(call(userdata)),
            |returned| {
                let code = match *returned {
                    Ok(code) => code,
                    Err(never) => match never {},
                };
                outcome_from(code).unwrap_or_else(|| {
                    unknown = Some(code);
                    Outcome::Ignored
                })
            },
        );
        // A synchronous call that cannot fail (`Infallible`) ends only rejected or
        // made; its outcome is `call`'s return value.
        if let Err(CallError::Rejected(_)) = made {
            return TG_REJECTED;
        }
        match unknown {
            None => TG_OK,
            Some(code) => bad_outcome(code),
        }
    })
}

#[cold]
fn bad_outcome(code: tg_outcome) -> tg_status {
    fail(
        TG_ERR_INVALID_ARG,
        format!(
            "tg_call: the call returned {code}, not an outcome: {OUTCOMES_ALLOWED}; recorded as TG_IGNORED"
        ),
    )
}
