//! Who rejected a call and why: `tg_rejection`, filled by `tg_try_acquire_ex`, and
//! this thread's last rejection in words (`tg_last_rejection_message`, the core's
//! `Rejected` Display) and its breaker's name (`tg_last_rejection_name`).

use crate::status::*;
use crate::types::*;
use std::cell::RefCell;
use std::ffi::c_char;
use std::time::UNIX_EPOCH;
use tg_core::{Rejected, State, Transition};

/// Why a call was not admitted, filled by `tg_try_acquire_ex` when it returns
/// `TG_REJECTED`: the state that rejected it, when to come back, and why the breaker
/// last opened. The `opened_by` detail fields that do not apply to `opened_by` are 0,
/// as in `tg_transition`. `tg_last_rejection_message` gives the same in words, and
/// `tg_last_rejection_name` the breaker's name.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct tg_rejection {
    /// The state that rejected the call: `TG_STATE_OPEN`, `TG_STATE_HALF_OPEN` (every
    /// probe slot taken), `TG_STATE_FORCED_OPEN`, or `TG_STATE_CLOSED` (slow start
    /// turned the call away).
    pub state: tg_breaker_state,
    /// Whether the wait is known (not in the forced-open state, which has no end).
    pub has_retry_after: bool,
    /// How long until a call may be admitted, in nanoseconds.
    pub retry_after_ns: u64,
    /// Whether `opened_by` applies (the state is one of the open ones).
    pub has_opened_by: bool,
    /// Why the breaker last opened (was held open, for `TG_STATE_FORCED_OPEN`).
    /// `TG_REASON_MANUAL_OPEN` after `tg_open*`, `TG_REASON_MANUAL` after `tg_force_open`.
    pub opened_by: tg_reason,
    /// `TG_REASON_FAILURE_RATE`, `TG_REASON_SLOW_CALL_RATE`: the rate over the window.
    pub rate: f64,
    /// `TG_REASON_FAILURE_RATE`, `TG_REASON_SLOW_CALL_RATE`: the configured threshold.
    pub threshold: f64,
    /// `TG_REASON_CONSECUTIVE_FAILURES`: failures in a row.
    pub count: u32,
    /// `TG_REASON_CONSECUTIVE_FAILURES`: the configured limit.
    pub limit: u32,
    /// `TG_REASON_LATENCY_PERCENTILE`: the quantile (0.99 for p99).
    pub quantile: f64,
    /// `TG_REASON_LATENCY_PERCENTILE`: the configured latency limit, in nanoseconds.
    pub latency_limit_ns: u64,
}

impl From<&Rejected> for tg_rejection {
    fn from(r: &Rejected) -> Self {
        // The reason and its details through the one `Reason` translation there is,
        // `tg_transition`'s.
        let reason = r.opened_by.map(|reason| {
            tg_transition::from(&Transition {
                from: State::Closed,
                to: State::Open,
                reason,
                generation: 0,
                at_nanos: 0,
                at: UNIX_EPOCH,
                open_for: None,
            })
        });
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        tg_rejection {
            state: r.state.into(),
            has_retry_after: r.retry_after.is_some(),
            retry_after_ns: r.retry_after.map_or(0, nanos),
            has_opened_by: reason.is_some(),
            opened_by: reason.map_or(tg_reason::TG_REASON_MANUAL, |t| t.reason),
            rate: reason.map_or(0.0, |t| t.rate),
            threshold: reason.map_or(0.0, |t| t.threshold),
            count: reason.map_or(0, |t| t.count),
            limit: reason.map_or(0, |t| t.limit),
            quantile: reason.map_or(0.0, |t| t.quantile),
            latency_limit_ns: reason.map_or(0, |t| t.latency_limit_ns),
        }
    }
}

thread_local! {
    /// The last rejection `tg_try_acquire_ex` returned on this thread. Holding it costs
    /// no allocation: the name is shared with the breaker and the reason is a copy.
    static LAST_REJECTION: RefCell<Option<Rejected>> = const { RefCell::new(None) };
}

/// Keeps `r` as this thread's last rejection and returns it for C.
pub(crate) fn remember(r: Rejected) -> tg_rejection {
    let c = tg_rejection::from(&r);
    // `try_with`: during thread teardown the slot may be gone; the rejection stands.
    let _ = LAST_REJECTION.try_with(|slot| *slot.borrow_mut() = Some(r));
    c
}

/// `text(last rejection)` into the caller's buffer, `""` when there is none.
fn fill_last(
    func: &str,
    text: impl FnOnce(&Rejected) -> String,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    let text = LAST_REJECTION
        .try_with(|slot| slot.borrow().as_ref().map(text))
        .ok()
        .flatten()
        .unwrap_or_default();
    fill_text(func, &text, buf, len, needed)
}

/// Writes this thread's last rejection by `tg_try_acquire_ex`, in words, as a
/// NUL-terminated string into `buf`: the Rust `Rejected` message, with durations
/// rounded as it rounds them (`circuit breaker 'inventory' is open (failure rate
/// 55.0% >= 50.0%): call rejected, retry after 853ms`). `""` if `tg_try_acquire_ex`
/// has rejected nothing on this thread. The reason of a manual opening is worded
/// `opened manually` (`manual` for the `tg_force_*` calls).
///
/// `*needed` (may be NULL) receives the size needed, NUL included; it is written on
/// `TG_OK` and on `TG_ERR_BUFFER_TOO_SMALL`. With `buf == NULL` and `len == 0` the call
/// only reports the size and returns `TG_OK`.
///
/// Thread safety: may be called from any thread; each thread sees its own last
/// rejection (as `tg_last_error_message`).
#[no_mangle]
pub extern "C" fn tg_last_rejection_message(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    ffi_panic_boundary!("tg_last_rejection_message", {
        fill_last(FUNC, Rejected::to_string, buf, len, needed)
    })
}

/// Writes the name of the breaker of this thread's last rejection by
/// `tg_try_acquire_ex` (the config's `name`, as a reconfiguration may have renamed it;
/// `""` when unnamed, when there was no rejection, or once that breaker is freed) into
/// `buf`, as `tg_last_rejection_message` does.
///
/// Thread safety: may be called from any thread; each thread sees its own last
/// rejection.
#[no_mangle]
pub extern "C" fn tg_last_rejection_name(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    ffi_panic_boundary!("tg_last_rejection_name", {
        fill_last(FUNC, |r| r.name().to_string(), buf, len, needed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tg_core::Reason;

    #[test]
    fn a_rejection_translates_with_its_reason_and_details() {
        let r = Rejected::new(
            State::Open,
            Some(Duration::from_millis(853)),
            Some(Reason::ConsecutiveFailures { count: 5, limit: 5 }),
        );
        let c = remember(r);
        assert_eq!(c.state, tg_breaker_state::TG_STATE_OPEN);
        assert_eq!((c.has_retry_after, c.retry_after_ns), (true, 853_000_000));
        assert!(c.has_opened_by);
        assert_eq!(c.opened_by, tg_reason::TG_REASON_CONSECUTIVE_FAILURES);
        assert_eq!((c.count, c.limit, c.rate), (5, 5, 0.0));
        let mut buf = [0 as c_char; 128];
        let mut needed = 0;
        assert_eq!(
            tg_last_rejection_message(buf.as_mut_ptr(), buf.len(), &mut needed),
            TG_OK
        );
        assert_eq!(needed, r.to_string().len() + 1);
        let c = tg_rejection::from(&Rejected::new(
            State::ForcedOpen,
            None,
            Some(Reason::ManualOpen),
        ));
        assert_eq!(c.opened_by, tg_reason::TG_REASON_MANUAL_OPEN);
        assert_eq!((c.has_retry_after, c.retry_after_ns), (false, 0));
    }
}
