//! Listeners: the engine's transition and call events handed to Python callbacks.

use crate::clock::{epoch_secs, secs};
use crate::outcome::state_str;
use pyo3::prelude::*;
use tripgate::{AnyClock, Breaker, CallEvent, ListenerId};

/// Registers `callback(from, to, reason, reason_text, generation, open_for,
/// at_epoch_seconds)` for every transition of `breaker`. It runs on the thread that won
/// the transition, after it is published and outside every lock; an exception it raises
/// is reported as unraisable.
pub(crate) fn subscribe(breaker: &Breaker<AnyClock>, callback: Py<PyAny>) {
    breaker.add_listener(move |t| {
        Python::attach(|py| {
            let args = (
                state_str(py, t.from),
                state_str(py, t.to),
                t.reason.name(),
                t.reason.to_string(),
                t.generation,
                t.open_for.map(secs),
                epoch_secs(t.at),
            );
            if let Err(e) = callback.call1(py, args) {
                e.write_unraisable(py, None);
            }
        });
    });
}

/// Registers `callback(event, failure_kind, latency, state)` for every call the engine
/// counts or rejects: `event` is `success`, `failure`, `ignored` or `rejected`;
/// `failure_kind` names a failure's kind, `latency` is in seconds when measured, `state`
/// is the state that rejected. It runs inline on the thread that records or is
/// rejected; an exception it raises is reported as unraisable.
pub(crate) fn subscribe_calls(breaker: &Breaker<AnyClock>, callback: Py<PyAny>) -> ListenerId {
    breaker.add_call_listener(move |e| {
        Python::attach(|py| {
            let (kind, latency, state) = match *e {
                CallEvent::Success { latency } => (None, latency, None),
                CallEvent::Failure { kind, latency } => (Some(kind.name()), latency, None),
                CallEvent::Ignored => (None, None, None),
                CallEvent::Rejected { state } => (None, None, Some(state_str(py, state))),
            };
            let args = (e.name(), kind, latency.map(secs), state);
            if let Err(err) = callback.call1(py, args) {
                err.write_unraisable(py, None);
            }
        });
    })
}
