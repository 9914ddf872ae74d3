//! Manual control of a breaker's own cycle: `tg_open`, `tg_open_for_ns`,
//! `tg_open_until_ns`, `tg_half_open`, `tg_close` (the core's `Breaker::open`,
//! `open_for`, `open_until`, `half_open`, `close`).

use crate::breaker::tg_breaker;
use crate::status::*;
use std::time::Duration;
use tg_core::{Clock, MAX_DURATION};

/// The longest manual opening, in nanoseconds: 30 days (the longest open duration a
/// config allows). Hold a breaker open for longer with `tg_force_open`.
pub const TG_OPEN_MAX_NS: u64 = 2_592_000_000_000_000;

// The constant is the core's bound, spelled out for cbindgen.
const _: () = assert!(MAX_DURATION.as_secs() * 1_000_000_000 == TG_OPEN_MAX_NS);

#[cold]
fn too_long(func: &str, arg: &str, ns: u64, what: &str) -> tg_status {
    fail(
        TG_ERR_INVALID_ARG,
        format!("{func}: invalid {arg} = {ns}: allowed {what} (TG_OPEN_MAX_NS, 30 days); use tg_force_open to hold the breaker open without an end"),
    )
}

/// Opens the breaker as a trip would: for the configured open duration (with backoff
/// and jitter), then half-open probes decide. Does nothing if it is already open.
/// The transition's reason is `TG_REASON_MANUAL_OPEN`, and rejections name it as the
/// reason of the opening.
///
/// Returns `TG_OK` or `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_open(breaker: *const tg_breaker) -> tg_status {
    ffi_panic_boundary!("tg_open", {
        try_ref!(breaker).inner.open();
        TG_OK
    })
}

/// Opens the breaker for exactly `ns` nanoseconds (no backoff, no jitter), then
/// half-open probes decide; 0 admits the next call as a probe. An open breaker starts
/// a new opening. The transition's reason is `TG_REASON_MANUAL_OPEN`.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_ARG` when `ns` is above `TG_OPEN_MAX_NS` (30 days,
/// so also for a saturated `tg_secs(...)`); `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_open_for_ns(breaker: *const tg_breaker, ns: u64) -> tg_status {
    ffi_panic_boundary!("tg_open_for_ns", {
        let b = try_ref!(breaker);
        if ns > TG_OPEN_MAX_NS {
            return too_long(FUNC, "ns", ns, "0..=2592000000000000");
        }
        b.inner.open_for(Duration::from_nanos(ns));
        TG_OK
    })
}

/// Opens the breaker until the instant `clock_ns` on the breaker's own monotonic
/// clock, the one `tg_clock_now_ns` reads (not wall time, not another clock's
/// reading): `tg_clock_now_ns(b, &now); tg_open_until_ns(b, now + tg_secs(30));`.
/// Then half-open probes decide; an instant already past admits the next call as a
/// probe. An open breaker starts a new opening. The transition's reason is
/// `TG_REASON_MANUAL_OPEN`.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_ARG` when `clock_ns` is more than
/// `TG_OPEN_MAX_NS` (30 days) after the clock's current reading; `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_open_until_ns(breaker: *const tg_breaker, clock_ns: u64) -> tg_status {
    ffi_panic_boundary!("tg_open_until_ns", {
        let b = try_ref!(breaker);
        let now = b.inner.clock().now_nanos();
        if clock_ns.saturating_sub(now) > TG_OPEN_MAX_NS {
            let allowed = format!(
                "at most {} (the breaker's clock now plus TG_OPEN_MAX_NS)",
                now.saturating_add(TG_OPEN_MAX_NS)
            );
            return too_long(FUNC, "clock_ns", clock_ns, &allowed);
        }
        b.inner.open_until(clock_ns);
        TG_OK
    })
}

/// Moves the breaker to half-open from any state: the next calls are probes, and
/// their outcomes close or reopen it. Does nothing if it is already half-open. The
/// transition's reason is `TG_REASON_MANUAL_HALF_OPEN`.
///
/// Returns `TG_OK` or `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_half_open(breaker: *const tg_breaker) -> tg_status {
    ffi_panic_boundary!("tg_half_open", {
        try_ref!(breaker).inner.half_open();
        TG_OK
    })
}

/// Closes the breaker as recovering probes would: a fresh window, slow start if
/// configured, the backoff treated as after a recovery (`tg_reset` clears it). Does
/// nothing if it is already closed. The transition's reason is `TG_REASON_MANUAL_CLOSE`.
///
/// Returns `TG_OK` or `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_close(breaker: *const tg_breaker) -> tg_status {
    ffi_panic_boundary!("tg_close", {
        try_ref!(breaker).inner.close();
        TG_OK
    })
}
