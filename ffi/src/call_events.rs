//! Per-call events: `tg_call_event` and `tg_breaker_set_call_listener`, the C face of
//! the core's `CallEvent` and `Breaker::add_call_listener`.

use crate::breaker::tg_breaker;
use crate::raw;
use crate::status::*;
use crate::types::*;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};
use tg_core::{AnyClock, Breaker, CallEvent, ListenerId};

/// What happened to one call, in a `tg_call_event`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tg_call_kind {
    /// The call was admitted and recorded as a success.
    TG_CALL_SUCCESS = 0,
    /// The call was admitted and recorded as a failure (`failure_kind` says which).
    TG_CALL_FAILURE = 1,
    /// The call was admitted and its outcome recorded as ignored.
    TG_CALL_IGNORED = 2,
    /// The breaker rejected the call (`rejected_in` says in which state).
    TG_CALL_REJECTED = 3,
}

/// One call's fate, as a call listener sees it. The fields that do not apply to
/// `kind` are 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct tg_call_event {
    /// Success, failure, ignored or rejected.
    pub kind: tg_call_kind,
    /// `TG_CALL_FAILURE`: the kind of failure, a `TG_KIND_*` value.
    pub failure_kind: tg_failure_kind,
    /// `TG_CALL_SUCCESS`, `TG_CALL_FAILURE`: whether the latency is known (measured
    /// from the acquire when latency is tracked, or reported to `tg_record`).
    pub has_latency: bool,
    /// The call's latency, in nanoseconds.
    pub latency_ns: u64,
    /// `TG_CALL_REJECTED`: the state that rejected the call.
    pub rejected_in: tg_breaker_state,
}

impl From<&CallEvent> for tg_call_event {
    fn from(e: &CallEvent) -> Self {
        use tg_call_kind::*;
        let mut out = tg_call_event {
            kind: TG_CALL_IGNORED,
            failure_kind: 0,
            has_latency: false,
            latency_ns: 0,
            rejected_in: tg_breaker_state::TG_STATE_CLOSED,
        };
        let latency = match *e {
            CallEvent::Success { latency } => {
                out.kind = TG_CALL_SUCCESS;
                latency
            }
            CallEvent::Failure { kind, latency } => {
                out.kind = TG_CALL_FAILURE;
                // The TG_KIND_* codes are the core's own `FailureKind` numbers.
                out.failure_kind = kind as tg_failure_kind;
                latency
            }
            CallEvent::Ignored => None,
            CallEvent::Rejected { state } => {
                out.kind = TG_CALL_REJECTED;
                out.rejected_in = state.into();
                None
            }
        };
        out.has_latency = latency.is_some();
        out.latency_ns = latency.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        out
    }
}

/// A `tg_breaker`'s call listener, if it has one: removed from the breaker when the
/// handle is freed (the breaker of a registry outlives the handle).
pub(crate) struct CallListenerSlot {
    breaker: Arc<Breaker<AnyClock>>,
    id: Mutex<Option<ListenerId>>,
}

impl CallListenerSlot {
    pub(crate) fn new(breaker: &Arc<Breaker<AnyClock>>) -> Self {
        CallListenerSlot {
            breaker: Arc::clone(breaker),
            id: Mutex::new(None),
        }
    }

    /// Replaces the listener (removes it with `None`).
    fn set(&self, listener: Option<raw::CListener<tg_call_event>>) {
        let mut slot = self.id.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = slot.take() {
            self.breaker.remove_call_listener(id);
        }
        if let Some(l) = listener {
            *slot = Some(self.breaker.add_call_listener(move |e| {
                l.call(&tg_call_event::from(e));
            }));
        }
    }
}

impl Drop for CallListenerSlot {
    fn drop(&mut self) {
        let slot = self.id.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = slot.take() {
            self.breaker.remove_call_listener(id);
        }
    }
}

/// A call callback: `userdata` as given to `tg_breaker_set_call_listener`, and the
/// event, valid only during the call.
pub type tg_call_listener =
    Option<extern "C" fn(userdata: *mut c_void, event: *const tg_call_event)>;

/// Sets the breaker's call listener, replacing the previous one; a NULL `callback`
/// removes it. It sees every counted outcome and every rejection:
///
/// - `TG_CALL_SUCCESS`, `TG_CALL_FAILURE`, `TG_CALL_IGNORED`: inside `tg_record`, on the
///   thread that records, once the outcome is counted and before any transition it
///   causes is published (so before that transition's listener);
/// - `TG_CALL_REJECTED`: inside `tg_try_acquire` (or `tg_try_acquire_ex`), on the
///   rejected thread, before the call returns `TG_REJECTED`.
///
/// `tg_release` and the outcomes of a disabled breaker (which counts nothing) are not
/// reported. The callback runs inline on the caller's hot path, on any thread that
/// uses the breaker and on several at once: keep it quick, never block in it, and make
/// `callback` and `userdata` safe to use from any thread. It runs outside every lock
/// of the breaker and may read it (`tg_state`, `tg_snapshot`). It must not unwind (no
/// C++ exception, no longjmp out of it). Rust code around it never unwinds into C: a
/// panic there is caught and counted in `listener_panics`. A callback being replaced
/// may still be running on another thread when this returns.
///
/// Returns `TG_OK` or `TG_ERR_NULL`.
///
/// Thread safety: NOT thread-safe with respect to other calls on this breaker; call it
/// before sharing the breaker, or while no other thread uses it.
#[no_mangle]
pub extern "C" fn tg_breaker_set_call_listener(
    breaker: *mut tg_breaker,
    callback: tg_call_listener,
    userdata: *mut c_void,
) -> tg_status {
    ffi_panic_boundary!("tg_breaker_set_call_listener", {
        let b = try_mut!(breaker);
        b.call_listener
            .set(callback.map(|callback| raw::CListener { callback, userdata }));
        TG_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tg_core::{FailureKind, State};

    #[test]
    fn every_call_event_translates_with_its_payload() {
        let ms = |n| Some(Duration::from_millis(n));
        let e = tg_call_event::from(&CallEvent::Failure {
            kind: FailureKind::ServerError,
            latency: ms(3),
        });
        assert_eq!(e.kind, tg_call_kind::TG_CALL_FAILURE);
        assert_eq!(e.failure_kind, TG_KIND_SERVER_ERROR);
        assert_eq!((e.has_latency, e.latency_ns), (true, 3_000_000));
        let e = tg_call_event::from(&CallEvent::Success { latency: None });
        assert_eq!(e.kind, tg_call_kind::TG_CALL_SUCCESS);
        assert_eq!((e.has_latency, e.latency_ns), (false, 0));
        let e = tg_call_event::from(&CallEvent::Rejected {
            state: State::ForcedOpen,
        });
        assert_eq!(e.kind, tg_call_kind::TG_CALL_REJECTED);
        assert_eq!(e.rejected_in, tg_breaker_state::TG_STATE_FORCED_OPEN);
        let e = tg_call_event::from(&CallEvent::Ignored);
        assert_eq!(e.kind, tg_call_kind::TG_CALL_IGNORED);
        for kind in 0..5u8 {
            let k = FailureKind::from_u8(kind).unwrap();
            let e = tg_call_event::from(&CallEvent::Failure {
                kind: k,
                latency: None,
            });
            assert_eq!(kind_from(e.failure_kind), Some(k));
        }
    }
}
