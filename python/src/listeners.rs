//! Transition listeners: the engine's transition events handed to a Python callback.

use crate::clock::{epoch_secs, secs};
use crate::outcome::state_str;
use pyo3::prelude::*;
use tripgate::{AnyClock, Breaker};

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
