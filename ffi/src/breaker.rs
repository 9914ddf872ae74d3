//! `tg_breaker`: the breaker handle and every call on it.

use crate::config::tg_config;
use crate::raw;
use crate::status::*;
use crate::types::*;
use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};
use tg_core::{AnyClock, Breaker, ListenerId, ManualClock, Reason, State};

/// A circuit breaker. Create it with `tg_breaker_new` (or
/// `tg_breaker_new_with_manual_clock` in tests), or get a handle to a named one with
/// `tg_registry_breaker`, and free it with `tg_breaker_free`.
///
/// Thread-safe: every function taking a `const tg_breaker *` may be called from any
/// number of threads at once on the same breaker. Only `tg_breaker_free` and
/// `tg_breaker_set_listener` (which take a `tg_breaker *`) need the caller to make sure
/// no other call is using the breaker.
pub struct tg_breaker {
    /// Shared with a `tg_registry` (and its other handles) when it came from one.
    pub(crate) inner: Arc<Breaker<AnyClock>>,
    listener: Mutex<Option<ListenerId>>,
    /// The call listener (`tg_breaker_set_call_listener`); removed when dropped.
    pub(crate) call_listener: crate::call_events::CallListenerSlot,
    /// A breaker of its own on the system clock: a share in the process's upkeep
    /// thread (a registry's breakers use the registry's).
    _upkeep: Option<tripgate_ops::upkeep::Lease>,
}

impl tg_breaker {
    /// A new handle to a breaker shared with a registry (which holds the upkeep lease).
    pub(crate) fn shared(inner: Arc<Breaker<AnyClock>>) -> Self {
        Self::with_upkeep(inner, None)
    }

    /// A handle to a breaker of its own, holding a share in the upkeep thread if its
    /// clock needs one.
    fn own(inner: Breaker<AnyClock>) -> Self {
        let upkeep = crate::upkeep::lease_for(inner.clock());
        Self::with_upkeep(Arc::new(inner), upkeep)
    }

    fn with_upkeep(
        inner: Arc<Breaker<AnyClock>>,
        upkeep: Option<tripgate_ops::upkeep::Lease>,
    ) -> Self {
        tg_breaker {
            call_listener: crate::call_events::CallListenerSlot::new(&inner),
            _upkeep: upkeep,
            inner,
            listener: Mutex::new(None),
        }
    }
}

impl Drop for tg_breaker {
    /// A shared breaker outlives this handle: take this handle's listener off it, so
    /// its callback (and userdata) is never called after `tg_breaker_free`.
    fn drop(&mut self) {
        let slot = self.listener.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = slot.take() {
            self.inner.remove_listener(id);
        }
    }
}

/// Builds a breaker from a copy of `config` on `clock` and hands it out in `out`.
fn new_breaker(
    func: &str,
    config: &tg_config,
    clock: AnyClock,
    out: raw::Out<*mut tg_breaker>,
) -> tg_status {
    match Breaker::with_clock(config.inner.clone(), clock) {
        Ok(inner) => {
            out.set(raw::into_handle(tg_breaker::own(inner)));
            TG_OK
        }
        Err(e) => invalid(func, e),
    }
}

/// Creates a breaker on the system's monotonic clock from a copy of `config` (which the
/// caller still owns and may free at once). Starts closed. Free it with
/// `tg_breaker_free`.
///
/// Returns `TG_OK` and writes `*out`, or `TG_ERR_NULL`.
///
/// Thread safety: may be called from any thread; `config` must not be modified
/// meanwhile.
#[no_mangle]
pub extern "C" fn tg_breaker_new(config: *const tg_config, out: *mut *mut tg_breaker) -> tg_status {
    ffi_panic_boundary!("tg_breaker_new", {
        let (config, out) = (try_ref!(config), try_out!(out));
        new_breaker(FUNC, config, AnyClock::default(), out)
    })
}

/// Creates a breaker on a manual clock that reads `start_ns` and moves only when
/// `tg_clock_advance_ns` moves it: for tests that drive time without sleeping.
/// Otherwise as `tg_breaker_new`.
///
/// Thread safety: as `tg_breaker_new`.
#[no_mangle]
pub extern "C" fn tg_breaker_new_with_manual_clock(
    config: *const tg_config,
    start_ns: u64,
    out: *mut *mut tg_breaker,
) -> tg_status {
    ffi_panic_boundary!("tg_breaker_new_with_manual_clock", {
        let (config, out) = (try_ref!(config), try_out!(out));
        let clock = ManualClock::new();
        clock.set_nanos(start_ns);
        new_breaker(FUNC, config, AnyClock::Manual(clock), out)
    })
}

/// Frees a breaker handle, with its listener. NULL is a no-op. Outstanding permits
/// become meaningless; the handle must not be used afterwards. A handle from
/// `tg_registry_breaker` frees only itself: the breaker lives on in the registry.
///
/// Thread safety: no other call may be using the breaker (nor may a listener callback
/// of it be running).
#[no_mangle]
pub extern "C" fn tg_breaker_free(breaker: *mut tg_breaker) {
    free_handle("tg_breaker_free", breaker);
}

/// The body of a reading: `*out = read(breaker)`.
macro_rules! read_breaker {
    ($func:literal, $breaker:ident, $out:ident, |$b:ident| $read:expr) => {
        ffi_panic_boundary!($func, {
            let $b: &tg_breaker = try_ref!($breaker);
            let out = try_out!($out);
            out.set($read);
            TG_OK
        })
    };
}

/// The body of an operator call: `call(breaker)`.
macro_rules! operate {
    ($func:literal, $breaker:ident, $call:expr) => {
        ffi_panic_boundary!($func, {
            let b: &tg_breaker = try_ref!($breaker);
            $call(&*b.inner);
            TG_OK
        })
    };
}

/// Writes the current state to `*out`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_state(breaker: *const tg_breaker, out: *mut tg_breaker_state) -> tg_status {
    read_breaker!("tg_state", breaker, out, |b| b.inner.state().into())
}

/// Writes to `*out` how long, in nanoseconds, until a call may be admitted: the time
/// left in an open state (0 once the probe is due), or until the half-open lease ends
/// when every probe slot is taken. Writes 0 when calls are being admitted (and in the
/// forced-open state, which has no end).
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_retry_after_ns(breaker: *const tg_breaker, out: *mut u64) -> tg_status {
    read_breaker!("tg_retry_after_ns", breaker, out, |b| {
        b.inner
            .retry_after()
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    })
}

/// Fills `*out` with a snapshot of every figure: state, totals, window rates, latency
/// percentiles and more (see `tg_metrics`). Takes a short lock inside the core (not the
/// one admission uses) and computes percentiles: meant for monitoring, not per call.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_snapshot(breaker: *const tg_breaker, out: *mut tg_metrics) -> tg_status {
    read_breaker!("tg_snapshot", breaker, out, |b| {
        (&b.inner.snapshot()).into()
    })
}

/// Holds the breaker open: every call is rejected until `tg_reset` (or another
/// operator call). Emits a transition with `TG_REASON_MANUAL` unless already there.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_force_open(breaker: *const tg_breaker) -> tg_status {
    operate!("tg_force_open", breaker, Breaker::force_open)
}

/// Holds the breaker closed: calls flow and are counted, nothing trips.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_force_closed(breaker: *const tg_breaker) -> tg_status {
    operate!("tg_force_closed", breaker, Breaker::force_closed)
}

/// Switches the breaker off: every call flows, nothing is counted.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_disable(breaker: *const tg_breaker) -> tg_status {
    operate!("tg_disable", breaker, Breaker::disable)
}

/// Every call flows and outcomes are counted, but the breaker never trips.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_metrics_only(breaker: *const tg_breaker) -> tg_status {
    operate!("tg_metrics_only", breaker, Breaker::metrics_only)
}

/// Back to closed from any state, with an empty window, no failure streak and the
/// backoff reset. Lifetime totals are kept.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_reset(breaker: *const tg_breaker) -> tg_status {
    operate!("tg_reset", breaker, Breaker::reset)
}

/// Swaps in a copy of `config` live. State and window contents survive when the
/// window's shape is unchanged. Returns `TG_OK`, or `TG_ERR_INVALID_ARG` (the breaker
/// keeps its config) when the running breaker cannot take this config: more window
/// buckets than it was built with, a time window on a breaker built with a count
/// window, latency tracking on a breaker built without it, or a different histogram
/// precision; or `TG_ERR_NULL`.
///
/// Thread safety: may be called from any number of threads at once; `config` must not
/// be modified meanwhile.
#[no_mangle]
pub extern "C" fn tg_reconfigure(
    breaker: *const tg_breaker,
    config: *const tg_config,
) -> tg_status {
    ffi_panic_boundary!("tg_reconfigure", {
        let (b, config) = (try_ref!(breaker), try_ref!(config));
        match b.inner.reconfigure(config.inner.clone()) {
            Ok(()) => TG_OK,
            Err(e) => invalid(FUNC, e),
        }
    })
}

/// Writes to `*out` a new `tg_config` holding a copy of the config in force (free it
/// with `tg_config_free`): the starting point for a `tg_reconfigure`.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_breaker_get_config(
    breaker: *const tg_breaker,
    out: *mut *mut tg_config,
) -> tg_status {
    read_breaker!("tg_breaker_get_config", breaker, out, |b| {
        raw::into_handle(tg_config {
            inner: (*b.inner.config()).clone(),
        })
    })
}

/// Moves the manual clock of a breaker made by `tg_breaker_new_with_manual_clock`
/// forward by `ns` nanoseconds. Returns `TG_ERR_UNSUPPORTED` for a breaker on the
/// system clock.
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_clock_advance_ns(breaker: *const tg_breaker, ns: u64) -> tg_status {
    ffi_panic_boundary!("tg_clock_advance_ns", {
        let b = try_ref!(breaker);
        match b.inner.clock() {
            AnyClock::Manual(clock) => {
                clock.advance_nanos(ns);
                TG_OK
            }
            AnyClock::System(_) => fail(
                TG_ERR_UNSUPPORTED,
                format!("{FUNC}: the breaker runs on the system clock; make it with tg_breaker_new_with_manual_clock"),
            ),
        }
    })
}

/// Writes the breaker clock's current reading, in monotonic nanoseconds, to `*out`
/// (either kind of clock).
///
/// Thread safety: may be called from any number of threads at once.
#[no_mangle]
pub extern "C" fn tg_clock_now_ns(breaker: *const tg_breaker, out: *mut u64) -> tg_status {
    use tg_core::Clock;
    read_breaker!("tg_clock_now_ns", breaker, out, |b| {
        b.inner.clock().now_nanos()
    })
}

/// A transition callback: `userdata` as given to `tg_breaker_set_listener`, and the
/// transition, valid only during the call.
pub type tg_listener =
    Option<extern "C" fn(userdata: *mut c_void, transition: *const tg_transition)>;

/// Sets the breaker's transition listener, replacing the previous one; a NULL `callback`
/// removes it.
///
/// The callback runs on the thread whose call caused the transition, once per
/// transition, after the new state is published and outside every lock, so it may call
/// back into the breaker. It may run on any thread that uses the breaker, several at
/// once: `callback` and `userdata` must be safe to use from any thread. It must not
/// unwind (no C++ exception, no longjmp out of it). A callback being replaced may still
/// be running on another thread when this returns.
///
/// Thread safety: NOT thread-safe with respect to other calls on this breaker; call it
/// before sharing the breaker, or while no other thread uses it.
#[no_mangle]
pub extern "C" fn tg_breaker_set_listener(
    breaker: *mut tg_breaker,
    callback: tg_listener,
    userdata: *mut c_void,
) -> tg_status {
    ffi_panic_boundary!("tg_breaker_set_listener", {
        let b = try_mut!(breaker);
        let mut slot = b.listener.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = slot.take() {
            b.inner.remove_listener(id);
        }
        if let Some(callback) = callback {
            let l = raw::CListener { callback, userdata };
            *slot = Some(b.inner.add_listener(move |t| {
                let t = tg_transition::from(t);
                let l = l;
                (l.callback)(l.userdata, &t);
            }));
        }
        TG_OK
    })
}

/// A static name for a state: `"closed"`, `"open"`, `"half_open"`, `"forced_open"`,
/// `"forced_closed"`, `"disabled"`, `"metrics_only"`, or `"unknown"`. Never NULL; must
/// not be freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tg_state_str(state: i32) -> *const c_char {
    u8::try_from(state)
        .ok()
        .and_then(State::from_code)
        .map_or(c"unknown", State::c_name)
        .as_ptr()
}

/// A static name for a transition reason: `"failure_rate"`, `"slow_call_rate"`,
/// `"consecutive_failures"`, `"latency_percentile"`, `"open_elapsed"`,
/// `"probes_succeeded"`, `"probe_failed"`, `"probe_lease_expired"`, `"manual"`,
/// `"manual_open"`, `"manual_half_open"`, `"manual_close"`, or `"unknown"`. Never NULL;
/// must not be freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tg_reason_str(reason: i32) -> *const c_char {
    u8::try_from(reason)
        .ok()
        .and_then(Reason::c_name_of)
        .unwrap_or(c"unknown")
        .as_ptr()
}
