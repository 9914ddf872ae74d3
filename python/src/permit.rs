//! `Permit`: a breaker's admission handed to Python, answered exactly once.
//!
//! [`PermitCell`] is the one place that owns a raw permit between admission and its
//! answer: taking it out is what makes an answer the only one.

use crate::breaker::Breaker;
use crate::duration::latency_nanos;
use crate::errors;
use crate::outcome::kind_from_name;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};
use std::sync::Mutex;
use tripgate::{Clock, Outcome, RawPermit};

/// A raw permit until it is answered; [`take`](PermitCell::take) hands it out once.
pub(crate) struct PermitCell(Mutex<Option<RawPermit>>);

impl PermitCell {
    pub(crate) fn new(raw: RawPermit) -> Self {
        PermitCell(Mutex::new(Some(raw)))
    }

    /// The permit, the first time; `None` once answered.
    pub(crate) fn take(&self) -> Option<RawPermit> {
        // Nothing can panic under this lock: a poisoned one still holds a valid value.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// `f` of the permit, if it has not been taken.
    pub(crate) fn peek<T>(&self, f: impl FnOnce(&RawPermit) -> T) -> Option<T> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(f)
    }

    /// Whether the permit has been taken.
    pub(crate) fn is_taken(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

/// A permit: proof of admission, answered exactly once with an outcome.
///
/// Dropped unanswered, it is released (metric `abandoned`). Usable as a context
/// manager: the outcome is then taken from how the block exits.
#[pyclass(module = "tripgate._core", frozen)]
pub(crate) struct Permit {
    breaker: Py<Breaker>,
    cell: PermitCell,
    is_probe: bool,
}

impl Permit {
    pub(crate) fn new(breaker: Py<Breaker>, raw: RawPermit) -> Self {
        Permit {
            breaker,
            is_probe: raw.is_probe(),
            cell: PermitCell::new(raw),
        }
    }

    fn take(&self) -> PyResult<RawPermit> {
        self.cell
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("permit already answered"))
    }

    fn record(&self, outcome: Outcome, latency: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let latency = latency.map(|l| latency_nanos("latency", l)).transpose()?;
        let raw = self.take()?;
        self.breaker
            .get()
            .inner
            .record_raw(raw, outcome, latency)
            .map_err(errors::refused)
    }
}

#[pymethods]
impl Permit {
    /// The call succeeded; `latency` (seconds) replaces the measured one.
    #[pyo3(signature = (latency=None))]
    fn success(&self, latency: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.record(Outcome::Success, latency)
    }

    /// The call failed with `kind`: `timeout`, `connection`, `server_error`,
    /// `rejected` or `other`.
    #[pyo3(signature = (kind="other", latency=None))]
    fn failure(&self, kind: &str, latency: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.record(Outcome::Failure(kind_from_name(kind)?), latency)
    }

    /// The call says nothing about the dependency's health: counted neither way.
    fn ignore(&self) -> PyResult<()> {
        self.record(Outcome::Ignored, None)
    }

    /// Gives the permit back unrecorded (metric `abandoned`).
    fn release(&self) -> PyResult<()> {
        let raw = self.take()?;
        self.breaker
            .get()
            .inner
            .release_raw(raw)
            .map_err(errors::refused)
    }

    /// Seconds left until the call's deadline (admission plus the breaker's
    /// `call_timeout`, on its clock; 0.0 once passed), or `None` without a deadline or
    /// once answered. A guarded call answered at or after it counts as a timeout.
    #[getter]
    fn time_left(&self) -> Option<f64> {
        let inner = &self.breaker.get().inner;
        let deadline = self
            .cell
            .peek(|raw| inner.deadline_raw(raw).ok().flatten())
            .flatten()?;
        let now = inner.clock().now_nanos();
        Some(deadline.saturating_sub(now) as f64 / 1e9)
    }

    /// Whether this permit is a half-open probe.
    #[getter]
    fn is_probe(&self) -> bool {
        self.is_probe
    }

    /// Whether the permit has been answered.
    #[getter]
    fn done(&self) -> bool {
        self.cell.is_taken()
    }

    /// Settles the permit after the call raised `exc`, as a guarded call would.
    fn _settle_error(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = self.take()?;
        Breaker::settle_error(self.breaker.bind(py), raw, exc);
        Ok(())
    }

    /// Settles the permit after the call returned `value`, as a guarded call would.
    fn _settle_value(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = self.take()?;
        Breaker::settle_value(self.breaker.bind(py), raw, value)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Records the block's outcome unless the permit was answered inside it.
    #[pyo3(signature = (exc_type, exc, tb, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) {
        let _ = (exc_type, tb);
        let Some(raw) = self.cell.take() else { return };
        if exc.is_none() {
            errors::answered(
                self.breaker
                    .get()
                    .inner
                    .record_raw(raw, Outcome::Success, None),
            );
        } else {
            Breaker::settle_error(self.breaker.bind(py), raw, exc);
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Permit(probe={}, done={})",
            self.is_probe,
            self.cell.is_taken()
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(raw) = self.cell.take() {
            errors::answered(self.breaker.get().inner.release_raw(raw));
        }
    }
}
